/*
 * redact.c - replace personal identifiers in text with placeholders before
 * anything derived from a message is stored or logged.
 *
 * A single left-to-right pass; at each position the recognisers are tried
 * in a fixed order (URL, e-mail, IPv4, IPv6, digit runs, @handle) and the
 * first match is replaced. Only ASCII bytes are ever matched, so a UTF-8
 * sequence is never split. Non-ASCII bytes count as a boundary, because
 * scripts without spaces (Chinese, Japanese) put digits right next to
 * letters: "我的电话13812345678" must still lose the number.
 *
 * The rules lean towards redacting: a long digit run of unknown meaning is
 * replaced too. What they deliberately leave alone: short numbers (doses,
 * ages, "911"), dates, times, decimals and thousands-formatted amounts,
 * because those carry clinical meaning and are not identifying on their own.
 * Known gaps (docs/internals/privacy.md): names and street addresses,
 * obfuscated forms ("john at gmail dot com"), non-ASCII digits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mhg_buf.h"
#include "common/mhg_limits.h"
#include "mhguard/privacy.h"

typedef const unsigned char *bytes;

static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }
static int is_alpha(unsigned c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_alnum(unsigned c) { return is_digit(c) || is_alpha(c); }
static int is_hex(unsigned c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
/* ASCII word character; non-ASCII is a boundary (see above). */
static int is_word(unsigned c) { return is_alnum(c) || c == '_'; }

/* ---- output buffer ----------------------------------------------------- */

typedef struct obuf {
    char *p;
    size_t n, cap;
} obuf;

static int put(obuf *b, const void *s, size_t n) {
    if (mhgi_buf_reserve(&b->p, &b->cap, b->n, b->n + n + 1, 64, SIZE_MAX) != MHG_OK) return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

/* ---- recognisers: each returns the match length at s[i], or 0 ---------- */

/* A domain name: two or more labels, alphabetic TLD of 2+ letters. */
static size_t match_domain(bytes s, size_t len, size_t i) {
    size_t k = i, end = 0, last = i;
    int labels = 0;
    for (;;) {
        size_t ls = k;
        while (k < len && (is_alnum(s[k]) || s[k] == '-') && k - ls < 63) k++;
        if (k == ls) break;
        labels++;
        last = ls;
        end = k;
        if (k + 1 < len && s[k] == '.' && is_alnum(s[k + 1])) {
            k++;
            continue;
        }
        break;
    }
    if (labels < 2 || end - last < 2) return 0;
    for (size_t t = last; t < end; t++)
        if (!is_alpha(s[t])) return 0;
    return end - i;
}

static int ci_prefix(bytes s, size_t len, size_t i, const char *p) {
    size_t n = strlen(p);
    if (len - i < n) return 0;
    for (size_t k = 0; k < n; k++) {
        unsigned c = s[i + k];
        if (c >= 'A' && c <= 'Z') c += 32;
        if (c != (unsigned char)p[k]) return 0;
    }
    return 1;
}

static size_t match_url(bytes s, size_t len, size_t i) {
    static const char *const starts[] = {"https://", "http://", "ftp://", "www."};
    if (i > 0 && is_word(s[i - 1])) return 0;
    size_t k = 0;
    for (size_t n = 0; n < sizeof starts / sizeof starts[0]; n++)
        if (ci_prefix(s, len, i, starts[n])) {
            k = strlen(starts[n]);
            break;
        }
    if (!k) return 0;
    size_t body = i + k, j = body;
    /* Up to whitespace, quotes, angle brackets or non-ASCII (IRIs with
     * non-ASCII paths lose their tail's redaction; documented gap). */
    while (j < len && s[j] > 0x20 && s[j] < 0x7f && s[j] != '<' && s[j] != '>' && s[j] != '"')
        j++;
    /* Sentence punctuation after a URL is not part of it; a closing bracket
     * is, if the URL opened one (Wikipedia-style links). */
    while (j > body) {
        unsigned c = s[j - 1];
        if (strchr(".,;:!?'*", (int)c)) {
            j--;
        } else if (c == ')' || c == ']') {
            unsigned open = c == ')' ? '(' : '[';
            int depth = 0;
            for (size_t t = body; t < j; t++) depth += (s[t] == open) - (s[t] == c);
            if (depth < 0) j--;
            else break;
        } else {
            break;
        }
    }
    if (j == body || !is_alnum(s[body])) return 0;
    return j - i;
}

static int is_local(unsigned c) { return is_alnum(c) || (c && strchr("._%+-", (int)c)); }

static size_t match_email(bytes s, size_t len, size_t i) {
    if (!is_alnum(s[i]) && s[i] != '_') return 0;
    if (i > 0 && is_local(s[i - 1])) return 0; /* only at the start of a run */
    size_t j = i;
    while (j < len && is_local(s[j]) && j - i < 64) j++;
    if (j >= len || s[j] != '@') return 0;
    size_t d = match_domain(s, len, j + 1);
    return d ? j + 1 + d - i : 0;
}

static size_t match_ipv4_at(bytes s, size_t len, size_t i) {
    size_t j = i;
    for (int part = 0; part < 4; part++) {
        size_t st = j;
        unsigned v = 0;
        while (j < len && is_digit(s[j]) && j - st < 3) v = v * 10 + (s[j++] - '0');
        if (j == st || v > 255 || (j < len && is_digit(s[j]))) return 0;
        if (part < 3) {
            if (j >= len || s[j] != '.') return 0;
            j++;
        }
    }
    if (j < len && (is_word(s[j]) || (s[j] == '.' && j + 1 < len && is_digit(s[j + 1]))))
        return 0;
    /* host:port */
    if (j + 1 < len && s[j] == ':' && is_digit(s[j + 1])) {
        size_t p = j + 1;
        while (p < len && is_digit(s[p]) && p - j <= 5) p++;
        if (p >= len || !is_word(s[p])) j = p;
    }
    return j - i;
}

static size_t match_ipv4(bytes s, size_t len, size_t i) {
    if (!is_digit(s[i])) return 0;
    if (i > 0 && (is_word(s[i - 1]) || s[i - 1] == '.')) return 0;
    return match_ipv4_at(s, len, i);
}

static size_t match_ipv6(bytes s, size_t len, size_t i) {
    if (!is_hex(s[i]) && s[i] != ':') return 0;
    if (i > 0 && (is_word(s[i - 1]) || s[i - 1] == ':' || s[i - 1] == '.')) return 0;
    size_t j = i, group_start = i;
    int colons = 0, dbl = 0, hexdigits = 0, group = 0;
    while (j < len) {
        unsigned c = s[j];
        if (is_hex(c)) {
            if (++group > 4) return 0;
            hexdigits++;
            j++;
        } else if (c == ':') {
            if (j + 1 < len && s[j + 1] == ':') {
                if (dbl) return 0;
                dbl = 1;
                colons += 2;
                j += 2;
            } else {
                colons++;
                j++;
            }
            group = 0;
            group_start = j;
        } else {
            break;
        }
    }
    /* A single trailing colon is punctuation ("address fe80::1: done"). */
    if (j > i && s[j - 1] == ':' && !(j - i >= 2 && s[j - 2] == ':')) {
        j--;
        colons--;
    }
    /* Embedded IPv4 tail (::ffff:192.0.2.1). */
    if (j < len && s[j] == '.' && group_start < j) {
        size_t v4 = match_ipv4_at(s, len, group_start);
        if (v4) j = group_start + v4;
    }
    if (j < len && is_word(s[j])) return 0;
    if (hexdigits == 0 || colons > 7 || !(dbl || colons == 7)) return 0;
    return j - i;
}

static int luhn(const unsigned char *d, size_t n) {
    unsigned sum = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned v = d[n - 1 - k];
        if (k & 1) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static int is_year(const unsigned char *d) {
    return (d[0] == 1 && d[1] == 9) || (d[0] == 2 && d[1] == 0);
}

/* Phone numbers, card numbers and long ID-like numbers: a run of digit
 * groups joined by single spaces, dashes or dots, with an optional leading
 * '+' and one parenthesised group. */
static size_t match_digits(bytes s, size_t len, size_t i, unsigned *kind) {
    unsigned c = s[i];
    if (!(is_digit(c) || c == '+' || c == '(')) return 0;
    if (i > 0) {
        unsigned p = s[i - 1];
        if (is_word(p) || p == '+') return 0;
        /* continuing a number we chose not to redact: 1,000,000 / 3.14 */
        if ((p == '.' || p == ',' || p == '-' || p == '/' || p == ':') && i > 1 &&
            is_digit(s[i - 2]))
            return 0;
    }
    size_t j = i;
    int plus = 0;
    if (s[j] == '+') {
        plus = 1;
        j++;
    }
    unsigned char dig[32];
    size_t nd = 0, end = 0;
    int groups = 0, paren = 0, dots = 0, dashes = 0, spaces = 0;
    int gsize[16];
    while (j < len) {
        size_t gs;
        if (is_digit(s[j])) {
            gs = j;
            while (j < len && is_digit(s[j])) {
                if (nd < sizeof dig) dig[nd] = (unsigned char)(s[j] - '0');
                nd++;
                j++;
            }
        } else if (s[j] == '(' && !paren && j + 1 < len && is_digit(s[j + 1])) {
            gs = j + 1;
            size_t k = j + 1;
            while (k < len && is_digit(s[k]) && k - gs < 4) k++;
            if (k >= len || s[k] != ')' || k == gs) break;
            for (size_t t = gs; t < k; t++) {
                if (nd < sizeof dig) dig[nd] = (unsigned char)(s[t] - '0');
                nd++;
            }
            paren = 1;
            j = k + 1;
            if (groups < 16) gsize[groups] = (int)(k - gs);
            groups++;
            end = j;
            gs = 0;
            goto separator;
        } else {
            break;
        }
        if (groups < 16) gsize[groups] = (int)(j - gs);
        groups++;
        end = j;
    separator:
        if (j + 1 < len && (s[j] == ' ' || s[j] == '-' || s[j] == '.') &&
            (is_digit(s[j + 1]) || s[j + 1] == '(')) {
            dots += s[j] == '.';
            dashes += s[j] == '-';
            spaces += s[j] == ' ';
            j++;
            continue;
        }
        if (j < len && s[j] == '(') continue;
        if (j < len && is_digit(s[j]) && s[j - 1] == ')') continue; /* +44(0)20 */
        break;
    }
    if (nd == 0 || end == 0) return 0;
    if (end < len && is_word(s[end])) return 0;
    if (end + 1 < len && (s[end] == '.' || s[end] == ',') && is_digit(s[end + 1])) return 0;
    size_t n = end - i;
    size_t dn = nd < sizeof dig ? nd : sizeof dig;

    if (!plus && !dots && !paren && nd >= 13 && nd <= 19 && luhn(dig, dn)) {
        *kind = MHG_PII_CARD;
        return n;
    }
    if (nd >= 16) {
        *kind = MHG_PII_NUMBER;
        return n;
    }
    if (plus) {
        if (nd >= 7 && nd <= 15) {
            *kind = MHG_PII_PHONE;
            return n;
        }
        return 0;
    }
    if (nd >= 9 && dn >= 2 && dig[0] == 0 && dig[1] == 0) { /* 00 international prefix */
        *kind = MHG_PII_PHONE;
        return n;
    }
    if (dots == 1 && groups == 2) return 0; /* a decimal: 3.14159265 */
    if (groups == 3 && nd <= 8) return 0;   /* a date: 2024-01-15, 15.01.2024 */
    if (nd >= 9 && nd <= 15) {
        *kind = MHG_PII_PHONE;
        return n;
    }
    if ((nd == 7 || nd == 8) && groups == 2 && groups <= 16) {
        if (gsize[0] == 3 && gsize[1] == 4) { /* 555-1234 */
            *kind = MHG_PII_PHONE;
            return n;
        }
        /* 9123 4567 (Singapore, Hong Kong), but not a year range. */
        if (gsize[0] == 4 && gsize[1] == 4 && spaces == 1 && !(is_year(dig) && is_year(dig + 4))) {
            *kind = MHG_PII_PHONE;
            return n;
        }
    }
    (void)dashes;
    return 0;
}

static size_t match_handle(bytes s, size_t len, size_t i) {
    if (s[i] != '@') return 0;
    if (i > 0 && (is_word(s[i - 1]) || s[i - 1] == '.')) return 0;
    size_t ns = i + 1, j = ns;
    if (j >= len || !is_word(s[j])) return 0;
    while (j < len && (is_word(s[j]) || s[j] == '.') && j - ns < 64) j++;
    while (j > ns && s[j - 1] == '.') j--;
    if (j - ns < 2) return 0;
    /* Fediverse form @user@instance.social */
    if (j + 1 < len && s[j] == '@') {
        size_t d = match_domain(s, len, j + 1);
        if (d) j += 1 + d;
    }
    if (j < len && is_word(s[j])) return 0;
    return j - i;
}

/* ---- driver ------------------------------------------------------------ */

static const char *placeholder(unsigned kind) {
    switch (kind) {
    case MHG_PII_EMAIL: return "[email]";
    case MHG_PII_PHONE: return "[phone]";
    case MHG_PII_URL: return "[url]";
    case MHG_PII_IP: return "[ip]";
    case MHG_PII_CARD: return "[card]";
    case MHG_PII_HANDLE: return "[handle]";
    default: return "[number]";
    }
}

mhg_status mhg_privacy_redact(const char *text, size_t len, char **out, size_t *out_len,
                              unsigned *found_out) {
    if (out_len) *out_len = 0;
    if (found_out) *found_out = 0;
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!text && len) return MHG_ERR_INVALID;
    if (len > MHG_MAX_MESSAGE_BYTES) return MHG_ERR_TOO_BIG;
    if (len && !mhg_utf8_valid(text, len)) return MHG_ERR_UTF8;
    bytes s = (bytes)text;
    obuf b = {0};
    if (put(&b, "", 0) != 0) return MHG_ERR_NOMEM; /* "" for empty input */
    unsigned found = 0;
    size_t i = 0, lit = 0; /* [lit, i) is pending literal text */
    while (i < len) {
        unsigned kind = MHG_PII_URL;
        size_t m = match_url(s, len, i);
        if (!m) {
            kind = MHG_PII_EMAIL;
            m = match_email(s, len, i);
        }
        if (!m) {
            kind = MHG_PII_IP;
            m = match_ipv4(s, len, i);
        }
        if (!m) m = match_ipv6(s, len, i);
        if (!m) m = match_digits(s, len, i, &kind); /* sets kind when it matches */
        if (!m) {
            kind = MHG_PII_HANDLE;
            m = match_handle(s, len, i);
        }
        if (!m) {
            i++;
            continue;
        }
        const char *ph = placeholder(kind);
        if (put(&b, s + lit, i - lit) != 0 || put(&b, ph, strlen(ph)) != 0) goto nomem;
        found |= kind;
        i += m;
        lit = i;
    }
    if (put(&b, s + lit, len - lit) != 0) goto nomem;
    *out = b.p;
    if (out_len) *out_len = b.n;
    if (found_out) *found_out = found;
    return MHG_OK;
nomem:
    if (b.p) mhg_memzero(b.p, b.cap);
    free(b.p);
    return MHG_ERR_NOMEM;
}
