/*
 * test_privacy_redact.c - PII redaction: each kind in several national and
 * international formats, things that must be left alone (doses, dates,
 * times, amounts), UTF-8 around matches, and bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/mhg_limits.h"
#include "mhguard/privacy.h"

typedef struct rcase {
    const char *in;
    const char *want;
    unsigned kinds;
} rcase;

static void run_cases(const rcase *cases, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char *out = NULL;
        size_t out_len = 0;
        unsigned found = 0xffff;
        mhg_status st =
            mhg_privacy_redact(cases[i].in, strlen(cases[i].in), &out, &out_len, &found);
        if (st != MHG_OK || strcmp(out, cases[i].want) != 0 || found != cases[i].kinds ||
            out_len != strlen(out)) {
            fprintf(stderr, "case %zu: in  <%s>\n          want <%s> kinds %#x\n          got  <%s> "
                            "kinds %#x (status %d)\n",
                    i, cases[i].in, cases[i].want, cases[i].kinds, out ? out : "(null)", found,
                    (int)st);
            bad++;
        }
        free(out);
    }
    assert_int_equal(bad, 0);
}

static void test_email(void **state) {
    (void)state;
    static const rcase c[] = {
        {"mail me at jane.doe+mh@example.co.uk please", "mail me at [email] please", MHG_PII_EMAIL},
        {"JOHN_SMITH@Mail.Example.ORG.", "[email].", MHG_PII_EMAIL},
        {"<a.b-c@sub-domain.example.de>", "<[email]>", MHG_PII_EMAIL},
        {"mailto:x@y.io", "mailto:[email]", MHG_PII_EMAIL},
        {"user@localhost is not routable", "user@localhost is not routable", 0},
        {"a@b.c", "a@b.c", 0}, /* one-letter TLD: not an address */
        {"我的邮箱是wang.li@163.com谢谢", "我的邮箱是[email]谢谢", MHG_PII_EMAIL},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_phone(void **state) {
    (void)state;
    static const rcase c[] = {
        {"call +44 20 7946 0958 now", "call [phone] now", MHG_PII_PHONE},
        {"+1 (555) 123-4567", "[phone]", MHG_PII_PHONE},
        {"(555) 123-4567", "[phone]", MHG_PII_PHONE},
        {"555-123-4567.", "[phone].", MHG_PII_PHONE},
        {"555.123.4567", "[phone]", MHG_PII_PHONE},
        {"my mobile is 07700 900123", "my mobile is [phone]", MHG_PII_PHONE},
        {"06 12 34 56 78", "[phone]", MHG_PII_PHONE},
        {"+33 6 12 34 56 78", "[phone]", MHG_PII_PHONE},
        {"+49 30 1234567", "[phone]", MHG_PII_PHONE},
        {"+7 (999) 123-45-67", "[phone]", MHG_PII_PHONE},
        {"+44(0)20 7946 0958", "[phone]", MHG_PII_PHONE},
        {"0044 20 7946 0958", "[phone]", MHG_PII_PHONE},
        {"+919876543210", "[phone]", MHG_PII_PHONE},
        {"5551234567", "[phone]", MHG_PII_PHONE},
        {"ring 555-1234 later", "ring [phone] later", MHG_PII_PHONE},
        {"9123 4567", "[phone]", MHG_PII_PHONE},
        {"我的电话13812345678", "我的电话[phone]", MHG_PII_PHONE},
        {"電話:090-1234-5678", "電話:[phone]", MHG_PII_PHONE},
        {"número: 612 345 678", "número: [phone]", MHG_PII_PHONE},
        {"555-123-4567, +1 555 987 6543", "[phone], [phone]", MHG_PII_PHONE},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* Numbers with clinical or everyday meaning stay. */
static void test_numbers_left_alone(void **state) {
    (void)state;
    static const rcase c[] = {
        {"I took 20 pills of 500 mg", "I took 20 pills of 500 mg", 0},
        {"call 911 or 988", "call 911 or 988", 0},
        {"on 2024-01-15 at 10:30", "on 2024-01-15 at 10:30", 0},
        {"born 15.01.2004", "born 15.01.2004", 0},
        {"from 1999-2004", "from 1999-2004", 0},
        {"I owe 1,000,000 dollars", "I owe 1,000,000 dollars", 0},
        {"about 3.14159265", "about 3.14159265", 0},
        {"12/05/2023", "12/05/2023", 0},
        {"version 2.1.3", "version 2.1.3", 0},
        {"I am 17, nearly 18", "I am 17, nearly 18", 0},
        {"1 000 000 euros", "1 000 000 euros", 0},
        {"room 12 floor 3", "room 12 floor 3", 0},
        {"ID abc123456789xyz", "ID abc123456789xyz", 0},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_cards_and_long_numbers(void **state) {
    (void)state;
    static const rcase c[] = {
        {"card 4111 1111 1111 1111 exp", "card [card] exp", MHG_PII_CARD},
        {"4111-1111-1111-1111", "[card]", MHG_PII_CARD},
        {"5500005555555559", "[card]", MHG_PII_CARD},
        {"378282246310005", "[card]", MHG_PII_CARD}, /* 15-digit Amex */
        {"4111 1111 1111 1112", "[number]", MHG_PII_NUMBER}, /* fails Luhn */
        {"account 12345678901234567890", "account [number]", MHG_PII_NUMBER},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_urls(void **state) {
    (void)state;
    static const rcase c[] = {
        {"see https://example.com/u/jane?id=42.", "see [url].", MHG_PII_URL},
        {"(http://en.wikipedia.org/wiki/Foo_(bar))", "([url])", MHG_PII_URL},
        {"WWW.Example.com/me, ok", "[url], ok", MHG_PII_URL},
        {"ftp://files.example.net/x", "[url]", MHG_PII_URL},
        {"https://a.b/?mail=x@y.com", "[url]", MHG_PII_URL},
        {"http:// nothing", "http:// nothing", 0},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_ips(void **state) {
    (void)state;
    static const rcase c[] = {
        {"from 192.168.1.20 today", "from [ip] today", MHG_PII_IP},
        {"10.0.0.1:8080", "[ip]", MHG_PII_IP},
        {"256.1.1.1", "256.1.1.1", 0},
        {"2001:db8:85a3::8a2e:370:7334", "[ip]", MHG_PII_IP},
        {"fe80::1", "[ip]", MHG_PII_IP},
        {"host ::1.", "host [ip].", MHG_PII_IP},
        {"::ffff:192.0.2.128", "[ip]", MHG_PII_IP},
        {"2001:0db8:0000:0000:0000:ff00:0042:8329", "[ip]", MHG_PII_IP},
        {"at 10:30:45", "at 10:30:45", 0},
        {"std::vector", "std::vector", 0},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_handles(void **state) {
    (void)state;
    static const rcase c[] = {
        {"dm me @jane_doe99!", "dm me [handle]!", MHG_PII_HANDLE},
        {"@someone.else.", "[handle].", MHG_PII_HANDLE},
        {"follow @alice@mastodon.social", "follow [handle]", MHG_PII_HANDLE},
        {"meet @ 5pm", "meet @ 5pm", 0},
        {"@a", "@a", 0},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_mixed_and_utf8(void **state) {
    (void)state;
    static const rcase c[] = {
        {"", "", 0},
        {"nothing to see here", "nothing to see here", 0},
        {"Ich heiße Jürgen, Tel. +49 151 23456789, jürgen@example.de",
         /* non-ASCII local part: only the ASCII tail is matched, the address
          * is still unusable */
         "Ich heiße Jürgen, Tel. [phone], jü[email]", MHG_PII_PHONE | MHG_PII_EMAIL},
        {"écris à marie@exemple.fr ou appelle le 06 12 34 56 78 🙏",
         "écris à [email] ou appelle le [phone] 🙏", MHG_PII_EMAIL | MHG_PII_PHONE},
        {"I want to die. my insta is @sadgirl_2009 and ip 8.8.8.8",
         "I want to die. my insta is [handle] and ip [ip]", MHG_PII_HANDLE | MHG_PII_IP},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_length_is_honoured(void **state) {
    (void)state;
    const char text[] = "call 555-123-4567 XYZ";
    char *out;
    size_t n;
    /* Only the first 12 bytes: "call 555-123" -> too short for a phone. */
    assert_int_equal(mhg_privacy_redact(text, 12, &out, &n, NULL), MHG_OK);
    assert_string_equal(out, "call 555-123");
    free(out);
    assert_int_equal(mhg_privacy_redact(text, 17, &out, &n, NULL), MHG_OK);
    assert_string_equal(out, "call [phone]");
    assert_int_equal(n, 12);
    free(out);
}

static void test_bad_input(void **state) {
    (void)state;
    char *out = (char *)"x";
    assert_int_equal(mhg_privacy_redact("\xff\xfe", 2, &out, NULL, NULL), MHG_ERR_UTF8);
    assert_null(out);
    assert_int_equal(mhg_privacy_redact(NULL, 3, &out, NULL, NULL), MHG_ERR_INVALID);
    assert_int_equal(mhg_privacy_redact("x", 1, NULL, NULL, NULL), MHG_ERR_INVALID);
    size_t big = MHG_MAX_MESSAGE_BYTES + 1;
    char *t = malloc(big);
    memset(t, 'a', big);
    assert_int_equal(mhg_privacy_redact(t, big, &out, NULL, NULL), MHG_ERR_TOO_BIG);
    /* The largest allowed message, dense with numbers, works and grows. */
    memset(t, ' ', big);
    for (size_t i = 0; i + 14 < big - 1; i += 14) memcpy(t + i, "555-123-4567, ", 14);
    size_t n;
    unsigned found;
    assert_int_equal(mhg_privacy_redact(t, big - 1, &out, &n, &found), MHG_OK);
    assert_true(found & MHG_PII_PHONE);
    assert_null(strstr(out, "4567"));
    free(out);
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email),          cmocka_unit_test(test_phone),
        cmocka_unit_test(test_numbers_left_alone), cmocka_unit_test(test_cards_and_long_numbers),
        cmocka_unit_test(test_urls),           cmocka_unit_test(test_ips),
        cmocka_unit_test(test_handles),        cmocka_unit_test(test_mixed_and_utf8),
        cmocka_unit_test(test_length_is_honoured), cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
