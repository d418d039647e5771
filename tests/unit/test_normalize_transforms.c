/*
 * test_normalize_transforms.c - every transformation of mhg_normalize() in
 * several scripts, and the offset map after each of them: a match found in
 * the normalized text must map back to exactly the caller's original bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mhguard/normalize.h"

typedef struct tcase {
    const char *in;
    const char *out;
} tcase;

static void expect(mhg_norm_mode mode, const tcase *cases, size_t count) {
    mhg_normalized n;
    mhg_normalized_init(&n);
    for (size_t i = 0; i < count; i++) {
        mhg_status st = mhg_normalize(cases[i].in, strlen(cases[i].in), mode, &n);
        if (st != MHG_OK) fail_msg("[%s]: status %d", cases[i].in, (int)st);
        if (strcmp(n.text, cases[i].out) != 0)
            fail_msg("%s mode: [%s] -> [%s], expected [%s]", mode ? "pattern" : "text",
                     cases[i].in, n.text, cases[i].out);
    }
    mhg_normalized_free(&n);
}
#define EXPECT_TEXT(c) expect(MHG_NORM_TEXT, c, sizeof c / sizeof c[0])
#define EXPECT_PATTERN(c) expect(MHG_NORM_PATTERN, c, sizeof c / sizeof c[0])
#define EXPECT_BOTH(c) (EXPECT_TEXT(c), EXPECT_PATTERN(c))

/* Normalize in, find needle in the output (it must be there), and check that
 * it maps back to exactly the original bytes orig. */
static void expect_span(const char *in, const char *needle, const char *orig) {
    mhg_normalized n;
    mhg_normalized_init(&n);
    assert_int_equal(mhg_normalize(in, strlen(in), MHG_NORM_TEXT, &n), MHG_OK);
    const char *hit = strstr(n.text, needle);
    if (!hit) fail_msg("[%s] -> [%s] lacks [%s]", in, n.text, needle);
    size_t ns = (size_t)(hit - n.text), ne = ns + strlen(needle), a, b;
    mhg_normalized_span(&n, ns, ne, &a, &b);
    if (b - a != strlen(orig) || memcmp(in + a, orig, b - a) != 0)
        fail_msg("[%s]: [%s] maps to [%.*s] (%zu..%zu), expected [%s]", in, needle, (int)(b - a),
                 in + a, a, b, orig);
    mhg_normalized_free(&n);
}

/* ---- folding ------------------------------------------------------------ */

static void test_case_and_whitespace(void **state) {
    (void)state;
    static const tcase c[] = {
        {"Hello World", "helo world"},
        {"  I   am\tSAD \n\n today \r\n", "i am sad today"},
        {"no\xc2\xa0" "break\xe2\x80\x83" "em\xe3\x80\x80" "ideo", "no break em ideo"},
        {"line\xe2\x80\xa8sep\xc2\x85nel", "line sep nel"},
        {"STRASSE Stra\xc3\x9f" "e", "strase strase"},            /* ß -> ss */
        {"\xce\xa3\xce\x99\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",   /* ΣΙΣΥΦΟΣ */
         "\xcf\x83\xce\xb9\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x83"}, /* σισυφοσ */
        {"\xc4\xb0stanbul", "istanbul"},                               /* İ */
        {"\xd0\xaf \xd0\xa5\xd0\x9e\xd0\xa7\xd0\xa3",                 /* Я ХОЧУ */
         "\xd1\x8f \xd1\x85\xd0\xbe\xd1\x87\xd1\x83"},                 /* я хочу */
    };
    EXPECT_BOTH(c);
}

static void test_nfkc_and_fullwidth(void **state) {
    (void)state;
    static const tcase c[] = {
        {"\xef\xbd\x8b\xef\xbd\x89\xef\xbd\x8c\xef\xbd\x8c \xef\xbd\x8d\xef\xbd\x85", "kil me"},
        {"\xef\xbc\xab\xef\xbc\xa9\xef\xbc\xac\xef\xbc\xac", "kil"},           /* ＫＩＬＬ */
        {"\xef\xac\x81ne", "fine"},                                            /* ﬁ */
        {"\xf0\x9d\x90\xa4\xf0\x9d\x90\xa2\xf0\x9d\x90\xa5\xf0\x9d\x90\xa5", "kil"}, /* 𝐤𝐢𝐥𝐥 */
        {"\xe2\x93\x9a\xe2\x93\x98\xe2\x93\x9b\xe2\x93\x9b", "kil"},           /* ⓚⓘⓛⓛ */
        {"x\xc2\xb2", "x2"},                                                   /* x² */
        {"\xef\xbd\xb6\xef\xbe\x9e", "\xe3\x82\xac"},                          /* ｶﾞ -> ガ */
        {"\xe3\x8d\xbf", "\xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe"}, /* ㍿ -> 株式会社 */
    };
    EXPECT_BOTH(c);
}

static void test_invisible_characters(void **state) {
    (void)state;
    static const tcase c[] = {
        {"ki\xe2\x80\x8bll", "kil"},          /* U+200B */
        {"ki\xe2\x80\x8cll", "kil"},          /* U+200C */
        {"ki\xe2\x80\x8dll", "kil"},          /* U+200D */
        {"ki\xe2\x80\x8ell", "kil"},          /* U+200E */
        {"ki\xe2\x80\x8fll", "kil"},          /* U+200F */
        {"ki\xe2\x81\xa0ll", "kil"},          /* U+2060 */
        {"ki\xe2\x81\xa4ll", "kil"},          /* U+2064 */
        {"\xef\xbb\xbfkill", "kil"},          /* BOM */
        {"ki\xc2\xadll", "kil"},              /* soft hyphen */
        {"ki\xef\xb8\x8fll", "kil"},          /* VS16 */
        {"ki\xf3\xa0\x84\x80ll", "kil"},      /* VS17 */
        {"ki\xe2\x80\xaell", "kil"},          /* RLO */
        {"ki\xe3\x85\xa4ll", "kil"},          /* Hangul filler */
        {"kill\xe2\xa0\x80me", "kil me"},     /* braille blank is a space */
        {"ki\x01ll\x7f", "kil"},              /* controls */
    };
    EXPECT_BOTH(c);
}

static void test_quotes_and_dashes(void **state) {
    (void)state;
    static const tcase c[] = {
        {"don\xe2\x80\x99t", "dont"},                            /* ’ */
        {"don't", "dont"},
        {"don`t", "dont"},
        {"don\xc2\xb4t", "dont"},                                /* ´ */
        {"\xe2\x80\x9cquoted\xe2\x80\x9d", "\"quoted\""},        /* “ ” */
        {"\xc2\xabguillemets\xc2\xbb", "\"guilemets\""},         /* « » */
        {"\xe2\x80\x98single\xe2\x80\x99", "'single'"},          /* ‘ ’ at word edges stay */
        {"wait \xe2\x80\x93 no \xe2\x80\x94 yes", "wait no yes"}, /* – — */
        {"self-harm", "self harm"},
        {"self\xe2\x80\x91harm", "self harm"},                   /* non-breaking hyphen */
        {"kill_myself", "kil myself"},
        {"j'ai envie", "jai envie"},
        {"l\xe2\x80\x99" "envie", "lenvie"},
    };
    EXPECT_BOTH(c);
}

/* ---- marks -------------------------------------------------------------- */

static void test_marks_latin_greek_cyrillic(void **state) {
    (void)state;
    static const tcase c[] = {
        {"caf\xc3\xa9", "cafe"},                                   /* precomposed é */
        {"cafe\xcc\x81", "cafe"},                                  /* e + U+0301 */
        {"Ch\xe1\xba\xbft r\xe1\xbb\x93i", "chet roi"},             /* Vietnamese */
        {"zabij\xc4\x99 si\xc4\x99 \xc5\x82\xc3\xb3" "d\xc5\xba", "zabije sie lodz"},
        {"\xc3\xb6l\xc3\xbc" "m \xc4\xb1\xc5\x9f\xc4\xb1k", "olum isik"}, /* Turkish */
        {"c\xc5\x93ur", "coeur"},                                  /* œ */
        {"\xce\xb8\xce\xad\xce\xbb\xcf\x89", "\xce\xb8\xce\xb5\xce\xbb\xcf\x89"}, /* θέλω */
        {"\xd1\x91\xd0\xb6 \xd0\xb9", "\xd0\xb5\xd0\xb6 \xd0\xb8"}, /* ёж й -> еж и */
        /* Zalgo: stacks of generic marks, also on non-Latin bases */
        {"k\xcc\xb7\xcc\xa2i\xcc\xb8l\xcc\xb7l\xcc\xb5 me", "kil me"},
        {"\xe6\xad\xbb\xcc\xb7\xcc\xb8", "\xe6\xad\xbb"},
        {"\xcc\x81\xcc\x82" "abc", "abc"}, /* orphan marks at the start */
    };
    EXPECT_BOTH(c);
}

static void test_marks_kept_and_composed(void **state) {
    (void)state;
    static const tcase c[] = {
        /* Devanagari: matras and anusvara/candrabindu are spelling */
        {"\xe0\xa4\xae\xe0\xa5\x88\xe0\xa4\x82 \xe0\xa4\xae\xe0\xa4\xb0\xe0\xa4\xa8\xe0\xa4\xbe "
         "\xe0\xa4\x9a\xe0\xa4\xbe\xe0\xa4\xb9\xe0\xa4\xa4\xe0\xa4\xbe \xe0\xa4\xb9\xe0\xa5\x82"
         "\xe0\xa4\x81",
         "\xe0\xa4\xae\xe0\xa5\x88\xe0\xa4\x82 \xe0\xa4\xae\xe0\xa4\xb0\xe0\xa4\xa8\xe0\xa4\xbe "
         "\xe0\xa4\x9a\xe0\xa4\xbe\xe0\xa4\xb9\xe0\xa4\xa4\xe0\xa4\xbe \xe0\xa4\xb9\xe0\xa5\x82"
         "\xe0\xa4\x81"},
        /* क़ U+0958 is a composition exclusion: NFKC keeps क + nukta */
        {"\xe0\xa5\x98", "\xe0\xa4\x95\xe0\xa4\xbc"},
        /* Bengali ো typed as two parts composes to U+09CB */
        {"\xe0\xa6\x95\xe0\xa7\x87\xe0\xa6\xbe", "\xe0\xa6\x95\xe0\xa7\x8b"},
        {"\xe0\xa6\x95\xe0\xa7\x8b", "\xe0\xa6\x95\xe0\xa7\x8b"},
        /* Thai tone marks and vowels stay; a repeated final letter collapses */
        {"\xe0\xb8\xad\xe0\xb8\xa2\xe0\xb8\xb2\xe0\xb8\x81\xe0\xb8\x95\xe0\xb8\xb2\xe0\xb8\xa2",
         "\xe0\xb8\xad\xe0\xb8\xa2\xe0\xb8\xb2\xe0\xb8\x81\xe0\xb8\x95\xe0\xb8\xb2\xe0\xb8\xa2"},
        {"\xe0\xb9\x84\xe0\xb8\xa1\xe0\xb9\x88", "\xe0\xb9\x84\xe0\xb8\xa1\xe0\xb9\x88"}, /* ไม่ */
        /* kana: か + combining dakuten composes to が; precomposed stays */
        {"\xe3\x81\x8b\xe3\x82\x99", "\xe3\x81\x8c"},
        {"\xe3\x81\x8c", "\xe3\x81\x8c"},
        {"\xe3\x81\xaf\xe3\x82\x9a", "\xe3\x81\xb1"}, /* は + handakuten = ぱ */
        /* Hangul syllables stay composed; jamo typed apart compose */
        {"\xec\x9e\x90\xec\x82\xb4", "\xec\x9e\x90\xec\x82\xb4"}, /* 자살 */
        {"\xe1\x84\x8c\xe1\x85\xa1", "\xec\x9e\x90"},             /* ᄌ + ᅡ = 자 */
        /* Arabic: harakat and tatweel removed, hamza kept (composes) */
        {"\xd8\xa3\xd9\x8f\xd8\xb1\xd9\x90\xd9\x8a\xd8\xaf\xd9\x8f", "\xd8\xa3\xd8\xb1\xd9\x8a\xd8\xaf"},
        {"\xd9\x85\xd9\x80\xd9\x80\xd9\x80\xd9\x88\xd8\xaa", "\xd9\x85\xd9\x88\xd8\xaa"}, /* مـــوت */
        {"\xd8\xa7\xd9\x94", "\xd8\xa3"}, /* ا + hamza above = أ */
        /* Chinese: nothing to do */
        {"\xe6\x88\x91\xe6\x83\xb3\xe6\xad\xbb", "\xe6\x88\x91\xe6\x83\xb3\xe6\xad\xbb"},
    };
    EXPECT_BOTH(c);
}

/* ---- homoglyphs --------------------------------------------------------- */

static void test_homoglyphs(void **state) {
    (void)state;
    static const tcase c[] = {
        {"k\xd1\x96ll", "kil"},                                     /* Cyrillic і */
        {"m\xd1\x83\xd1\x95\xd0\xb5lf", "myself"},                  /* у ѕ е */
        {"d\xd1\x96\xd0\xb5", "die"},                                /* 1 of 3 Latin */
        {"\xd0\x9a\xd0\x86LL", "kil"},                               /* КІLL upper case */
        {"\xcf\x81lease", "please"},                                 /* Greek ρ */
        {"k\xce\xb9ll m\xce\xb5", "kil me"},                        /* Greek ι ε */
        /* a word made only of look-alikes follows its Latin neighbours */
        {"i want to \xd0\xb0\xd1\x81\xd0\xb5 it", "i want to ace it"},
        /* Russian stays Russian, even words of look-alike letters only */
        {"\xd0\xb0 \xd0\xbe\xd0\xbd \xd0\xbd\xd0\xb5 \xd1\x85\xd0\xbe\xd1\x87\xd0\xb5\xd1\x82 "
         "\xd0\xb6\xd0\xb8\xd1\x82\xd1\x8c",                          /* а он не хочет жить */
         "\xd0\xb0 \xd0\xbe\xd0\xbd \xd0\xbd\xd0\xb5 \xd1\x85\xd0\xbe\xd1\x87\xd0\xb5\xd1\x82 "
         "\xd0\xb6\xd0\xb8\xd1\x82\xd1\x8c"},
        {"\xd1\x82\xd0\xb0\xd0\xba", "\xd1\x82\xd0\xb0\xd0\xba"},     /* так, alone */
        /* Latin slipped into a Russian word goes the other way */
        {"c\xd0\xbc\xd0\xb5p\xd1\x82\xd1\x8c", "\xd1\x81\xd0\xbc\xd0\xb5\xd1\x80\xd1\x82\xd1\x8c"},
        {"y\xd0\xb1\xd0\xb8\xd1\x82\xd1\x8c", "\xd1\x83\xd0\xb1\xd0\xb8\xd1\x82\xd1\x8c"},
        /* Greek stays Greek */
        {"\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1",
         "\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xb5\xcf\x81\xce\xb1"},
        /* English next to Russian is not touched */
        {"\xd0\xbe\xd0\xbd \xd1\x81\xd0\xba\xd0\xb0\xd0\xb7\xd0\xb0\xd0\xbb that",
         "\xd0\xbe\xd0\xbd \xd1\x81\xd0\xba\xd0\xb0\xd0\xb7\xd0\xb0\xd0\xbb that"},
    };
    EXPECT_BOTH(c);
}

/* ---- leetspeak (text mode only) ----------------------------------------- */

static void test_leetspeak(void **state) {
    (void)state;
    static const tcase c[] = {
        {"k1ll mys3lf", "kil myself"},
        {"su1c1d3", "suicide"},
        {"d1e", "die"},
        {"$uicide", "suicide"},
        {"h@ng mys3lf", "hang myself"},
        {"k!ll", "kil"},
        {"ki||", "kil"},
        {"5u1c1d4l", "suicidal"},
        {"0v3rd0s3", "overdose"},
        {"I want to die!!", "i want to die!!"},
        {"die!1!", "die!1!"},
        {"d1e!!1", "die!!1"},
        {"v0gl10 amm4zz4rm1", "voglio amazarmi"}, /* trailing 1 alone is a letter */
        {"k1ll m1", "kil mi"},
        {"help!", "help!"},
        {"!help", "!help"},
        {"I'm 2 tired", "im 2 tired"},
        {"since 2024 I've", "since 2024 ive"},
        {"took 500mg at 10pm, 3am", "tok 500mg at 10pm, 3am"},
        {"the 1st time", "the 1st time"},
        {"covid19 and b12", "covid19 and b12"},
        {"$100 is 10$", "$100 is 10$"},
        {"mail me@example.com", "mail me@example.com"},
        {"see https://k1ll.example", "se htps://k1l.example"},
        {"k1ll-mys3lf", "kil myself"},
        {"wow!!!really", "wow!!!realy"},
        /* Russian digits-as-letters */
        {"y6\xd0\xb8\xd1\x82\xd1\x8c", "\xd1\x83\xd0\xb1\xd0\xb8\xd1\x82\xd1\x8c"}, /* y6ить */
        /* digits among other scripts are not leetspeak */
        {"\xe6\xad\xbb\xe3\x81\xab\xe3\x81\x9f\xe3\x81\x84" "3", "\xe6\xad\xbb\xe3\x81\xab\xe3\x81\x9f\xe3\x81\x84" "3"},
    };
    EXPECT_TEXT(c);
}

/* Pattern mode folds leetspeak like text mode (a lexicon word written with
 * digits must compile to what the same word becomes in a message: Arabizi),
 * keeps numbers, and never joins letters. */
static void test_pattern_mode_leet_numbers_and_spacing(void **state) {
    (void)state;
    static const tcase c[] = {
        {"k1ll", "kil"},
        {"24/7", "24/7"},
        {"500mg", "500mg"},
        {"b12", "b12"},
        {"k i l l", "k i l l"},
        {"k.i.l.l", "k.i.l.l"},
        {"$uicide", "suicide"},
        {"KILL MYSELF", "kil myself"},
        {"3ayez", "eayez"},
        {"sa7bi", "satbi"},
        {"2al", "2al"},
    };
    EXPECT_PATTERN(c);
    /* Arabizi as a lexicon writes it and as a user types it agree */
    static const char *words[] = {"3ayez amot", "ana mesh 3ayez a3ish", "sa7bi 2al", "ent7ar",
                                  "ya3ni", "B3D", "ma3lesh"};
    mhg_normalized t, p;
    mhg_normalized_init(&t);
    mhg_normalized_init(&p);
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        assert_int_equal(mhg_normalize(words[i], strlen(words[i]), MHG_NORM_TEXT, &t), MHG_OK);
        assert_int_equal(mhg_normalize(words[i], strlen(words[i]), MHG_NORM_PATTERN, &p), MHG_OK);
        if (strcmp(t.text, p.text) != 0)
            fail_msg("[%s]: text [%s] != pattern [%s]", words[i], t.text, p.text);
    }
    mhg_normalized_free(&t);
    mhg_normalized_free(&p);
}

/* ---- joining spaced letters (text mode only) ---------------------------- */

static void test_joining(void **state) {
    (void)state;
    static const tcase c[] = {
        {"k i l l", "kil"},
        {"i want to k i l l myself", "i want to kil myself"},
        {"k.i.l.l", "kil"},
        {"k-i-l-l m y s e l f", "kil myself"},
        {"k_i_l_l", "kil"},
        {"k*i*l*l", "kil"},
        {"K I L L!", "kil!"},
        {"k 1 l l", "kil"},        /* joined, then leetspeak */
        {"d i e.", "die."},
        {"a b", "a b"},            /* two letters: ordinary */
        {"i a o", "i a o"},        /* all one-letter words */
        {"k.i l.l", "k.i l.l"},    /* mixed separators: not one run */
        {"k  i  l  l", "k i l l"}, /* double spaces: not one run */
        {"U.S.A. trip", "usa. trip"},
        {"1 2 3", "1 2 3"},        /* no letters */
        /* Russian one-letter words stay apart: а я в шоке */
        {"\xd0\xb0 \xd1\x8f \xd0\xb2 \xd1\x88\xd0\xbe\xd0\xba\xd0\xb5",
         "\xd0\xb0 \xd1\x8f \xd0\xb2 \xd1\x88\xd0\xbe\xd0\xba\xd0\xb5"},
        /* spelled-out Russian: у б и т ь */
        {"\xd1\x83 \xd0\xb1 \xd0\xb8 \xd1\x82 \xd1\x8c", "\xd1\x83\xd0\xb1\xd0\xb8\xd1\x82\xd1\x8c"},
        /* CJK spaced out: 我 想 死 */
        {"\xe6\x88\x91 \xe6\x83\xb3 \xe6\xad\xbb", "\xe6\x88\x91\xe6\x83\xb3\xe6\xad\xbb"},
        /* kana spaced out: 死 に た い */
        {"\xe6\xad\xbb \xe3\x81\xab \xe3\x81\x9f \xe3\x81\x84",
         "\xe6\xad\xbb\xe3\x81\xab\xe3\x81\x9f\xe3\x81\x84"},
        /* Greek spelled out: π ε θ α ν ω */
        {"\xcf\x80 \xce\xb5 \xce\xb8 \xce\xb1 \xce\xbd \xcf\x89",
         "\xcf\x80\xce\xb5\xce\xb8\xce\xb1\xce\xbd\xcf\x89"},
        /* Scripts whose ordinary words are one letter or syllable with its
         * marks are never joined. Hindi: मुझे लगता है कि वो मर जाएगा */
        {"\xe0\xa4\xb2\xe0\xa4\x97\xe0\xa4\xa4\xe0\xa4\xbe \xe0\xa4\xb9\xe0\xa5\x88 "
         "\xe0\xa4\x95\xe0\xa4\xbf \xe0\xa4\xb5\xe0\xa5\x8b \xe0\xa4\xae\xe0\xa4\xb0",
         "\xe0\xa4\xb2\xe0\xa4\x97\xe0\xa4\xa4\xe0\xa4\xbe \xe0\xa4\xb9\xe0\xa5\x88 "
         "\xe0\xa4\x95\xe0\xa4\xbf \xe0\xa4\xb5\xe0\xa5\x8b \xe0\xa4\xae\xe0\xa4\xb0"},
        /* Devanagari letters: म र ना stays */
        {"\xe0\xa4\xae \xe0\xa4\xb0 \xe0\xa4\xa8\xe0\xa4\xbe",
         "\xe0\xa4\xae \xe0\xa4\xb0 \xe0\xa4\xa8\xe0\xa4\xbe"},
        /* Korean: 나 안 죽 어 (one-syllable words) */
        {"\xeb\x82\x98 \xec\x95\x88 \xec\xa3\xbd \xec\x96\xb4",
         "\xeb\x82\x98 \xec\x95\x88 \xec\xa3\xbd \xec\x96\xb4"},
        /* Bengali: আমি যে না খে (one-letter words with their vowel signs) */
        {"\xe0\xa6\xaf\xe0\xa7\x87 \xe0\xa6\xa8\xe0\xa6\xbe \xe0\xa6\x96\xe0\xa7\x87",
         "\xe0\xa6\xaf\xe0\xa7\x87 \xe0\xa6\xa8\xe0\xa6\xbe \xe0\xa6\x96\xe0\xa7\x87"},
        /* Thai: ก ข ค */
        {"\xe0\xb8\x81 \xe0\xb8\x82 \xe0\xb8\x84", "\xe0\xb8\x81 \xe0\xb8\x82 \xe0\xb8\x84"},
        /* Arabic: و ل ا */
        {"\xd9\x88 \xd9\x84 \xd8\xa7", "\xd9\x88 \xd9\x84 \xd8\xa7"},
        /* a Devanagari letter ends a Latin run: k i l l stays joined */
        {"k i l l \xe0\xa4\xb9\xe0\xa5\x88", "kil \xe0\xa4\xb9\xe0\xa5\x88"},
    };
    EXPECT_TEXT(c);
}

/* ---- letter runs -------------------------------------------------------- */

static void test_letter_runs(void **state) {
    (void)state;
    static const tcase c[] = {
        {"diiiiie", "die"},
        {"kill", "kil"},
        {"soooo saaad", "so sad"},
        {"DIIIE", "die"},
        {"!!!???", "!!!???"},
        {"100 pills", "100 pils"},
        {"\xd0\xbe\xd1\x87\xd0\xb5\xd0\xbd\xd1\x8c\xd1\x8c\xd1\x8c", /* оченььь */
         "\xd0\xbe\xd1\x87\xd0\xb5\xd0\xbd\xd1\x8c"},
        {"\xe0\xb8\xa1\xe0\xb8\xb2\xe0\xb8\x81\xe0\xb8\x81\xe0\xb8\x81", /* มากกก */
         "\xe0\xb8\xa1\xe0\xb8\xb2\xe0\xb8\x81"},
    };
    EXPECT_BOTH(c);
}

/* Ordinary text normalizes the same in both modes: the lexicon compiler's
 * patterns and the scanned text agree. */
static void test_modes_agree_on_ordinary_words(void **state) {
    (void)state;
    static const char *words[] = {
        "I want to kill myself tonight",
        "Quiero morirme, ya no aguanto más",
        "Je veux mourir, j'en peux plus",
        "Ich will nicht mehr leben",
        "\xd0\xaf \xd1\x85\xd0\xbe\xd1\x87\xd1\x83 \xd1\x83\xd0\xbc\xd0\xb5\xd1\x80\xd0\xb5\xd1\x82\xd1\x8c",
        "\xce\x98\xce\xad\xce\xbb\xcf\x89 \xce\xbd\xce\xb1 \xcf\x80\xce\xb5\xce\xb8\xce\xac\xce\xbd\xcf\x89",
        "\xe0\xa4\xae\xe0\xa5\x88\xe0\xa4\x82 \xe0\xa4\xae\xe0\xa4\xb0\xe0\xa4\xa8\xe0\xa4\xbe",
        "\xe0\xa6\x86\xe0\xa6\xae\xe0\xa6\xbf \xe0\xa6\xae\xe0\xa6\xb0\xe0\xa6\xa4\xe0\xa7\x87",
        "\xe6\xad\xbb\xe3\x81\xab\xe3\x81\x9f\xe3\x81\x84",
        "\xec\xa3\xbd\xea\xb3\xa0 \xec\x8b\xb6\xec\x96\xb4",
        "\xd8\xa3\xd8\xb1\xd9\x8a\xd8\xaf \xd8\xa3\xd9\x86 \xd8\xa3\xd9\x85\xd9\x88\xd8\xaa",
        "\xe0\xb8\x89\xe0\xb8\xb1\xe0\xb8\x99\xe0\xb8\xad\xe0\xb8\xa2\xe0\xb8\xb2\xe0\xb8\x81\xe0\xb8\x95\xe0\xb8\xb2\xe0\xb8\xa2",
        "T\xc3\xb4i mu\xe1\xbb\x91n ch\xe1\xba\xbft",
        "Nataka kufa",
        "Chc\xc4\x99 umrze\xc4\x87",
    };
    mhg_normalized t, p;
    mhg_normalized_init(&t);
    mhg_normalized_init(&p);
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        assert_int_equal(mhg_normalize(words[i], strlen(words[i]), MHG_NORM_TEXT, &t), MHG_OK);
        assert_int_equal(mhg_normalize(words[i], strlen(words[i]), MHG_NORM_PATTERN, &p), MHG_OK);
        if (strcmp(t.text, p.text) != 0)
            fail_msg("[%s]: text [%s] != pattern [%s]", words[i], t.text, p.text);
        assert_true(t.len > 0);
    }
    mhg_normalized_free(&t);
    mhg_normalized_free(&p);
}

/* ---- offset map --------------------------------------------------------- */

static void test_offsets(void **state) {
    (void)state;
    expect_span("So... I want to K1LL mys3lf!!", "kil myself", "K1LL mys3lf");
    expect_span("ok k i l l m e", "kil", "k i l l");
    expect_span("ok k.i.l.l now", "kil", "k.i.l.l");
    expect_span("gonna diiiiiie now", "die", "diiiiiie");
    expect_span("kill", "kil", "kill");
    expect_span("k\xd1\x96ll him", "kil", "k\xd1\x96ll");
    expect_span("\xef\xbd\x8b\xef\xbd\x89\xef\xbd\x8c\xef\xbd\x8c!", "kil",
                "\xef\xbd\x8b\xef\xbd\x89\xef\xbd\x8c\xef\xbd\x8c");
    expect_span("a cafe\xcc\x81 here", "cafe", "cafe\xcc\x81");
    expect_span("a caf\xc3\xa9 here", "cafe", "caf\xc3\xa9");
    expect_span("the \xef\xac\x81ne print", "fine", "\xef\xac\x81ne");
    expect_span("the \xef\xac\x81ne print", "f", "\xef\xac\x81");
    expect_span("Gro\xc3\x9f" "e Stra\xc3\x9f" "e", "strase", "Stra\xc3\x9f" "e");
    expect_span("I don\xe2\x80\x99t know", "dont", "don\xe2\x80\x99t");
    expect_span("ki\xe2\x80\x8bll me", "kil me", "ki\xe2\x80\x8bll me");
    expect_span("$uicide is on my mind", "suicide", "$uicide");
    expect_span("want  \n\t to", "want to", "want  \n\t to");
    expect_span("k\xcc\xb7\xcc\xa2i\xcc\xb8l\xcc\xb7l\xcc\xb5 me", "kil",
                "k\xcc\xb7\xcc\xa2i\xcc\xb8l\xcc\xb7l\xcc\xb5");
    expect_span("\xe3\x81\x8b\xe3\x82\x99\xe3\x81\x8b", "\xe3\x81\x8c", "\xe3\x81\x8b\xe3\x82\x99");
    expect_span("\xd0\xaf \xd1\x85\xd0\xbe\xd1\x87\xd1\x83 \xd1\x83\xd0\xbc\xd0\xb5\xd1\x80\xd0\xb5\xd1\x82\xd1\x8c",
                "\xd1\x83\xd0\xbc\xd0\xb5\xd1\x80\xd0\xb5\xd1\x82\xd1\x8c",
                "\xd1\x83\xd0\xbc\xd0\xb5\xd1\x80\xd0\xb5\xd1\x82\xd1\x8c");
    expect_span("\xd9\x85\xd9\x80\xd9\x80\xd9\x88\xd8\xaa", "\xd9\x85\xd9\x88\xd8\xaa",
                "\xd9\x85\xd9\x80\xd9\x80\xd9\x88\xd8\xaa");
    expect_span("self-harm again", "self harm", "self-harm");
    expect_span("\xe6\x88\x91\xe6\x83\xb3\xe6\xad\xbb\xe4\xba\x86", "\xe6\x83\xb3\xe6\xad\xbb",
                "\xe6\x83\xb3\xe6\xad\xbb");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_and_whitespace),
        cmocka_unit_test(test_nfkc_and_fullwidth),
        cmocka_unit_test(test_invisible_characters),
        cmocka_unit_test(test_quotes_and_dashes),
        cmocka_unit_test(test_marks_latin_greek_cyrillic),
        cmocka_unit_test(test_marks_kept_and_composed),
        cmocka_unit_test(test_homoglyphs),
        cmocka_unit_test(test_leetspeak),
        cmocka_unit_test(test_pattern_mode_leet_numbers_and_spacing),
        cmocka_unit_test(test_joining),
        cmocka_unit_test(test_letter_runs),
        cmocka_unit_test(test_modes_agree_on_ordinary_words),
        cmocka_unit_test(test_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
