/*
 * lang.c - which language a message is in (for verdict.lang, metrics and
 * the crisis resources a gateway picks; matching itself runs every lexicon).
 *
 * 1. A script that belongs to one language decides (Hangul -> ko, kana ->
 *    ja, Han without kana -> zh, Thai, Devanagari -> hi, Bengali, Arabic,
 *    Cyrillic -> ru, Greek, Hebrew).
 * 2. Latin script: votes from a short list of very common function words
 *    per language (below), from letters only one language uses (ß, ñ, ğ,
 *    ą, Vietnamese tone letters...), and from lexicon entries and cues that
 *    matched (2 votes each; for the romanized languages only their risk
 *    entries vote: their Latin cues are mostly English loanwords, "story",
 *    "news", "she"). The same words matched by several lexicons ("suicide")
 *    vote for each and cancel out. Most votes wins; no votes: "und".
 * The stop-word lists are small on purpose (20-60 words): they only need to
 * tell the Latin-script languages of the lexicons apart on chat messages,
 * including Hindi, Bengali and Arabic typed in Latin letters. Ties go to the
 * earlier list (English first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "risk/risk_int.h"
#include "common/mhg_utf8.h"

typedef struct sw_lang {
    const char *code;
    const char *words; /* space separated, ordinary spelling */
    int romanized;     /* a language written in another script: the Latin cues of its
                          lexicon are English loanwords as often as not ("story",
                          "news", "she"), so only its risk entries vote */
} sw_lang;

static const sw_lang stopwords[] = {
    {"en", "i you the and is are to of my me it that this what with have dont im not just "
           "feel want can how do be was so but because about would they he she like know", 0},
    {"es", "yo el la los las que de y en un una es no me mi por para pero con muy estoy quiero "
           "tengo como todo nada porque ya mas lo se", 0},
    {"fr", "je tu il elle le la les de des et est un une pas ne que qui pour avec mais suis moi "
           "mon ma tout dans sur jai cest plus", 0},
    {"de", "ich du er sie das der die und ist nicht ein eine mit auf mich mir mein meine zu es "
           "auch aber wie was bin habe noch nur schon kann will", 0},
    {"pt", "eu voce o a os as que de e em um uma nao me meu minha com para mas muito estou "
           "quero tenho tudo nada porque ja isso mais ele ela", 0},
    {"it", "io tu il lo la che di e non un una sono mi mio mia con per ma molto voglio ho tutto "
           "niente perche gia piu questo anche come sto", 0},
    {"nl", "ik jij je het de een en is niet dat mijn met voor maar wil ben heb zo ook wat hoe "
           "geen nog al te van naar er dit", 0},
    {"pl", "ja ty nie sie jest to i w z na ze mnie moj moja tak ale juz chce jestem co jak "
           "tylko bardzo mam po dla czy tego mi", 0},
    {"tr", "ben sen bir ve bu da de ne cok icin ama gibi artik istiyorum degil yok var beni "
           "bana benim kendimi mi mu hic her daha sey", 0},
    {"vi", "toi ban khong la va cua co nhung duoc minh muon nay mot cho voi nguoi rat da se "
           "thi roi gi nua lam", 0},
    {"id", "aku saya kamu yang dan di ini itu tidak gak nggak ada mau ingin dengan untuk sudah "
           "udah juga karena tapi aja banget lagi bisa", 0},
    {"sw", "mimi wewe na ya wa ni kwa sana sijui nataka siwezi lakini hii hiyo kama tu pia "
           "yangu wangu sina nina hapa sasa", 0},
    /* Romanized Hindi (Hinglish), Bengali (Banglish) and Arabic (Arabizi):
     * chat users type these in Latin letters. Words another list or English
     * also uses are left out (mein: de, mai/ho: it, se/ya/el: es, na: pl,
     * tu: fr, hoy: es, sob, la, eh, law, fi, ab, ye, wo: English "woo" collapses
     * to "wo"); "bas" (Hindi "enough", Arabizi "but") counts for Hindi only.
     * Only their risk entries vote (see sw_lang.romanized). */
    {"hi", "hai hain hu hoon nahi nahin nhi kya kyu kyun kyunki mujhe mujhko mera meri mere "
           "tum tumhe aap aapko hum aur bhi bahut bohot kuch koi yaar raha rahi rahe tha thi "
           "kar karna karta karti kiya hota hoti hoga sab bas ki ka ke ko main apna apne "
           "kaise lekin yeh woh jab toh kabhi pata accha acha theek thik lagta chahta "
           "chahti gaya gayi diya liya", 1},
    {"bn", "ami amar amake amra tumi tomar tomake apni apnar ki keno kichu kono valo bhalo "
           "lage lagche ache achi achhe hobe hoye korbo kori korchi korte kore eta ota ekhon "
           "kintu shob jani chai khub nai nei theke diye jabo jete mone onek amr tmr koro "
           "kokhono keu hocche parchi parbo bolchi sotti abar", 1},
    {"ar", "ana enta enti inta inti howa heya ehna e7na mesh mish msh mafi mafish leh "
           "lesh keda kida kda ezay izzay 3ashan aywa bdi badi beddi 3ayez 3ayza 3awez "
           "ktir kteer awi khalas yalla wallah habibi shu shou ya3ni ma3lesh", 1},
};
#define N_SW (sizeof stopwords / sizeof stopwords[0])
_Static_assert(N_SW <= 32, "stop-word languages must fit a 32-bit mask");

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* Build the stop-word table: each word normalized like message text
 * (text mode: case folding, letter runs collapsed: "will" -> "wil"; leet
 * digits folded the way the text's are: Arabizi "3ayez" -> "eayez"). */
mhg_status mhgi_lang_init(mhg_engine *e) {
    size_t total = 0;
    for (size_t l = 0; l < N_SW; l++)
        for (const char *p = stopwords[l].words; *p; p++) total += *p == ' ';
    total += N_SW;
    size_t cap = 64;
    while (cap < total * 2) cap *= 2;
    e->sw_hash = calloc(cap, sizeof *e->sw_hash);
    e->sw_mask = calloc(cap, sizeof *e->sw_mask);
    if (!e->sw_hash || !e->sw_mask) return MHG_ERR_NOMEM;
    e->sw_cap = cap;
    mhg_normalized n;
    mhg_normalized_init(&n);
    for (size_t l = 0; l < N_SW; l++) {
        const char *p = stopwords[l].words;
        while (*p) {
            const char *q = strchr(p, ' ');
            size_t len = q ? (size_t)(q - p) : strlen(p);
            if (mhg_normalize(p, len, MHG_NORM_TEXT, &n) == MHG_OK && n.len) {
                uint64_t h = fnv(n.text, n.len);
                size_t i = (size_t)h & (cap - 1);
                while (e->sw_hash[i] && e->sw_hash[i] != h) i = (i + 1) & (cap - 1);
                e->sw_hash[i] = h;
                e->sw_mask[i] |= 1u << l;
            }
            p += len;
            while (*p == ' ') p++;
        }
    }
    mhg_normalized_free(&n);
    return MHG_OK;
}

static uint32_t sw_lookup(const mhg_engine *e, const char *w, size_t n) {
    uint64_t h = fnv(w, n);
    size_t mask = e->sw_cap - 1;
    for (size_t i = (size_t)h & mask; e->sw_hash[i]; i = (i + 1) & mask)
        if (e->sw_hash[i] == h) return e->sw_mask[i];
    return 0;
}

int mhgi_lang_hint_valid(const char *lang) {
    if (!lang) return 0;
    size_t n = strlen(lang), i = 0;
    if (n < 2 || n > 7) return 0;
    while (i < n && lang[i] >= 'a' && lang[i] <= 'z') i++;
    if (i < 2 || i > 3) return 0;
    if (i == n) return 1;
    if (lang[i] != '-' || n - i < 2) return 0;
    for (i++; i < n; i++)
        if (!((lang[i] >= 'a' && lang[i] <= 'z') || (lang[i] >= 'A' && lang[i] <= 'Z') ||
              (lang[i] >= '0' && lang[i] <= '9')))
            return 0;
    return 1;
}

enum { SC_LATIN, SC_HANGUL, SC_KANA, SC_HAN, SC_THAI, SC_DEVA, SC_BENG, SC_ARAB, SC_CYRL,
       SC_GREK, SC_HEBR, SC_COUNT };
static const char *const script_lang[SC_COUNT] = {NULL, "ko", "ja", "zh", "th", "hi",
                                                  "bn", "ar", "ru", "el", "he"};

static int script_of(uint32_t cp) {
    if (cp < 0x80) return ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') ? SC_LATIN : -1;
    if (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) return SC_LATIN;
    if (cp >= 0x1E00 && cp <= 0x1EFF) return SC_LATIN;
    if ((cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0x1100 && cp <= 0x11FF) ||
        (cp >= 0x3130 && cp <= 0x318F))
        return SC_HANGUL;
    if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF) ||
        (cp >= 0xFF66 && cp <= 0xFF9F))
        return SC_KANA;
    if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
        (cp >= 0xF900 && cp <= 0xFAFF))
        return SC_HAN;
    if (cp >= 0x0E00 && cp <= 0x0E7F) return SC_THAI;
    if (cp >= 0x0900 && cp <= 0x097F) return SC_DEVA;
    if (cp >= 0x0980 && cp <= 0x09FF) return SC_BENG;
    if ((cp >= 0x0600 && cp <= 0x06FF) || (cp >= 0x0750 && cp <= 0x077F) ||
        (cp >= 0xFB50 && cp <= 0xFDFF) || (cp >= 0xFE70 && cp <= 0xFEFF))
        return SC_ARAB;
    if (cp >= 0x0400 && cp <= 0x04FF) return SC_CYRL;
    if (cp >= 0x0370 && cp <= 0x03FF) return SC_GREK;
    if (cp >= 0x0590 && cp <= 0x05FF) return SC_HEBR;
    return -1;
}

/* Letters that point to one Latin-script language (checked on the original
 * text, before marks are stripped). Returns a stop-word table index or -1. */
static int letter_hint(uint32_t cp) {
    static const struct {
        uint32_t cp;
        const char *lang;
    } hints[] = {
        {0xDF, "de"},   {0xF1, "es"},   {0xD1, "es"},   {0xBF, "es"},   {0xA1, "es"},
        {0x11F, "tr"},  {0x11E, "tr"},  {0x131, "tr"},  {0x130, "tr"},  {0x15F, "tr"},
        {0x15E, "tr"},  {0x105, "pl"},  {0x119, "pl"},  {0x142, "pl"},  {0x141, "pl"},
        {0x144, "pl"},  {0x15B, "pl"},  {0x17A, "pl"},  {0x17C, "pl"},  {0x107, "pl"},
        {0xE3, "pt"},   {0xF5, "pt"},   {0x153, "fr"},  {0xEA, "fr"},   {0xE8, "fr"},
        {0x111, "vi"},  {0x110, "vi"},  {0x1A1, "vi"},  {0x1A0, "vi"},  {0x1B0, "vi"},
        {0x1AF, "vi"},  {0x103, "vi"},  {0x102, "vi"},
    };
    if (cp >= 0x1EA0 && cp <= 0x1EF9) cp = 0x111; /* Vietnamese tone letters */
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (hints[i].cp == cp)
            for (size_t l = 0; l < N_SW; l++)
                if (!strcmp(stopwords[l].code, hints[i].lang)) return (int)l;
    return -1;
}

void mhgi_detect_lang(const mhg_engine *e, const mhg_scratch *s, const char *orig, size_t olen,
                      char out[8]) {
    unsigned sc[SC_COUNT] = {0};
    const unsigned char *t = (const unsigned char *)s->norm.text;
    size_t len = s->norm.len;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t cp = mhgi_utf8_decode(t, len, i, &n);
        int k = script_of(cp);
        if (k >= 0) sc[k]++;
        i += n;
    }
    int best = SC_LATIN;
    for (int k = 1; k < SC_COUNT; k++)
        if (sc[k] > sc[best]) best = k;
    if (best == SC_HAN && sc[SC_KANA] > 0) best = SC_KANA;
    if (best != SC_LATIN && sc[best] > 0) {
        snprintf(out, 8, "%s", script_lang[best]);
        return;
    }
    unsigned votes[N_SW] = {0};
    /* function words */
    for (size_t i = 0; i < len;) {
        while (i < len && !(t[i] >= 0x80 || (t[i] >= 'a' && t[i] <= 'z'))) i++;
        size_t a = i;
        while (i < len && (t[i] >= 0x80 || (t[i] >= 'a' && t[i] <= 'z'))) i++;
        if (i > a && i - a <= 12) {
            uint32_t m = sw_lookup(e, (const char *)t + a, i - a);
            for (size_t l = 0; m; l++, m >>= 1)
                if (m & 1) votes[l]++;
        }
    }
    /* distinctive letters in the original text */
    const unsigned char *o = (const unsigned char *)orig;
    for (size_t i = 0; o && i < olen;) {
        size_t n;
        uint32_t cp = mhgi_utf8_decode(o, olen, i, &n);
        if (cp >= 0xA0) {
            int l = letter_hint(cp);
            if (l >= 0) votes[l] += 2;
        }
        i += n;
    }
    /* lexicon matches of Latin-script languages */
    for (size_t i = 0; i < s->n_matches; i++) {
        const mhgi_entry_info *x = &e->info[s->matches[i].entry];
        /* pronouns and subordinators are function words: the stop-word
         * lists count those */
        if (x->kind == MHG_LEX_CUE_FIRST_PERSON || x->kind == MHG_LEX_CUE_SUBORDINATOR) continue;
        const char *code = e->langs[x->lang].code;
        for (size_t l = 0; l < N_SW; l++)
            if (!strcmp(stopwords[l].code, code)) {
                if (!stopwords[l].romanized || x->kind == MHG_LEX_ENTRY) votes[l] += 2;
                break;
            }
    }
    size_t win = 0;
    for (size_t l = 1; l < N_SW; l++)
        if (votes[l] > votes[win]) win = l;
    snprintf(out, 8, "%s", votes[win] ? stopwords[win].code : "und");
}
