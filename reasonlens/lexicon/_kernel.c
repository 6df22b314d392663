/* The compiled counting kernel of reasonlens' fast path (see kernel.py, which builds the
 * tables, loads this library with ctypes and documents the matching rules).
 *
 * One pass over the UTF-8 bytes of each text splits it into runs of word characters (ASCII
 * letters, digits, '_', letters and digits of any script) and the separators between them;
 * it counts the words and LaTeX terms on the way, and the one-word terms of tokens that stand
 * alone (most hits), then matches the other word terms over the runs with the leftmost-first
 * semantics of the fast path's regex. On x86-64 the bytes are classified 16 at a time (SSE2),
 * and where a 64-byte block is ASCII its runs are read off its masks (block_runs); elsewhere
 * 8 at a time (tests/test_kernel.py builds both). Plain C, no Python API: the
 * module init below exists only so that setuptools builds this file as an extension module.
 */
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORD 1
#define SPACE 2
#define APOS 4
#define HYPHEN 8
#define NEED 16          /* a character beyond U+FFFF, and no table for those yet */
#define SEP_SPACE 0
#define SEP_APOS 1
#define SEP_HYPHEN 2
#define SEP_OTHER 3
#define ASTRAL_END 0x40000

typedef struct {
    const uint64_t *tkeys;    /* token table: per slot the token's bytes as 3 words */
    const uint8_t *tlen;      /* ... its length (0: an empty slot) */
    const int32_t *tid;       /* ... its id */
    int64_t tmask;            /* slots - 1 */
    const uint64_t *tfilter;  /* 2^fbits bits: set at the filter_bit of every token */
    int64_t fshift;           /* 32 - fbits */
    const int64_t *ekeys;     /* term trie edges, hashed: key state * 3 * n_tok + sep * n_tok
                                 + token (-1: an empty slot) */
    const int32_t *evals;     /* ... the state it leads to */
    int64_t emask;            /* slots - 1 */
    const int32_t *term;      /* term id at a state or -1 */
    const int32_t *root;      /* per token: the state after the root's edge to it, or -1 */
    const uint8_t *kids;      /* per state: 1 when an edge leaves it */
    const int32_t *aterm;     /* per token: the term that is the token alone, or -1 */
    const uint8_t *akids;     /* per token: 1 when a longer term starts with it */
    int64_t n_tok;
    const int32_t *ltrans;    /* LaTeX names: ltrans[state * 52 + letter] */
    const int32_t *lterm;
    int64_t latex;            /* any LaTeX term */
    int64_t match_words;      /* match the word terms here */
    const uint8_t *bmp;       /* letter or digit, U+0000 .. U+FFFF */
    const uint8_t *astral;    /* ... U+10000 .. ASTRAL_END, or NULL */
    const uint64_t *skeys;    /* tokens of up to 8 bytes, a cuckoo table: the token's bytes as
                                 one word (0: an empty slot) at slot(bytes, sm1) or
                                 slot(bytes, sm2) */
    const int32_t *sids;      /* ... its id (-1: an empty slot) */
    uint64_t sm1, sm2;
    int64_t sshift;           /* 64 - log2(slots) */
} tables_t;

typedef struct {
    int32_t *tok;             /* per run: token id or -1 (32 bits: 1.06-1.08x over 64) */
    uint8_t *sep;             /* the separator before it */
    uint8_t *bsl;             /* a backslash just before it */
    int32_t *from;            /* the runs a match may start at (a token, or hyphen-joined to
                                 the run after it), in order */
    int64_t n_from;
    int64_t cap;
} runs_t;

/* ASCII: -1 not a word character, 0 '_', else the byte lower-cased */
static int16_t ALNUM[128];
/* ASCII non-word characters: the separator kind each makes alone */
static uint8_t SEPS[128];


static int ready = 0;

static void init_tables(void) {
    if (ready)
        return;
    for (int b = 0; b < 128; b++) {
        int alnum = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
        ALNUM[b] = b == '_' ? 0 : !alnum ? -1 : (b >= 'A' && b <= 'Z') ? b + 32 : b;
        SEPS[b] = (b == ' ' || (b >= 9 && b <= 13)) ? SEP_SPACE : b == '\'' ? SEP_APOS
                  : b == '-' ? SEP_HYPHEN : SEP_OTHER;
    }
    ready = 1;
}

#if defined(__GNUC__)
#define RL_INLINE inline __attribute__((always_inline))   /* per run: no call */
#else
#define RL_INLINE inline
#endif

#define TOKEN_BYTES 24
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Eight ASCII bytes (no high bit set): the high bit of each word byte (a letter, digit or
 * '_'), by byte-wise range checks that cannot carry from byte to byte. */
static inline uint64_t word_bytes(uint64_t v) {
    uint64_t lower = v | (0x20 * ONES);
    uint64_t alpha = (lower + 0x1F * ONES) & ~(lower + 0x05 * ONES);   /* 0x61 .. 0x7A */
    uint64_t digit = (v + 0x50 * ONES) & ~(v + 0x46 * ONES);           /* 0x30 .. 0x39 */
    uint64_t t = v ^ (0x5F * ONES);                                     /* '_' */
    uint64_t under = ~(((t & 0x7F * ONES) + 0x7F * ONES) | t | 0x7F * ONES);
    return (alpha | digit | under) & HIGHS;
}

/* The end of the ASCII word bytes from raw[x]: the first byte that is not one (or >= 0x80);
 * eight bytes at a time, so that the loop's exit is one branch per word. */
static inline int64_t ascii_run_end(const uint8_t *raw, int64_t x, int64_t end) {
    while (x + 8 <= end) {
        uint64_t v;
        memcpy(&v, raw + x, 8);
        if (v & HIGHS)
            break;
        uint64_t stop = ~word_bytes(v) & HIGHS;
        if (stop)
            return x + (__builtin_ctzll(stop) >> 3);
        x += 8;
    }
    while (x < end && raw[x] < 0x80 && ALNUM[raw[x]] >= 0)
        x++;
    return x;
}

#if defined(__SSE2__) && !defined(RL_NO_SIMD)   /* -DRL_NO_SIMD: the 8-byte code everywhere */
#define RL_SIMD 1
#include <emmintrin.h>
/* 16 bytes: bit k set when byte k is an ASCII word byte (bytes >= 0x80 compare below zero) */
static inline uint64_t word16(const uint8_t *p) {
    __m128i v = _mm_loadu_si128((const __m128i *)p), low = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(low, _mm_set1_epi8('a' - 1)),
                                  _mm_cmplt_epi8(low, _mm_set1_epi8('z' + 1)));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
    return (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), under));
}
#else
#define RL_SIMD 0
#endif

/* The 64-byte block of a text whose stops (the bytes that are no ASCII word byte) were
 * classified last: most runs end in the block the run before them ended in */
typedef struct {
    int64_t at;               /* its first byte, or -1 */
    uint64_t stop;            /* bit k: raw[at + k] is a stop */
    uint64_t blank;           /* ... ASCII whitespace (' ', '\t' .. '\r') */
    uint64_t high;            /* ... a byte >= 0x80 */
} block_t;

#if RL_SIMD
/* 16 bytes: bit k set when byte k is ASCII whitespace (' ', '\t' .. '\r') */
static inline uint64_t blank16(const uint8_t *p) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i ctl = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(8)),
                                _mm_cmplt_epi8(v, _mm_set1_epi8(14)));
    return (uint64_t)(uint32_t)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), ctl));
}

/* 16 bytes: bit k set when byte k is >= 0x80 */
static inline uint64_t high16(const uint8_t *p) {
    return (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)p));
}

static inline void load_block(const uint8_t *raw, int64_t at, block_t *bk) {
    const uint8_t *p = raw + at;
    bk->at = at;
    bk->stop = ~(word16(p) | word16(p + 16) << 16 | word16(p + 32) << 32 | word16(p + 48) << 48);
    bk->blank = blank16(p) | blank16(p + 16) << 16 | blank16(p + 32) << 32 | blank16(p + 48) << 48;
    bk->high = high16(p) | high16(p + 16) << 16 | high16(p + 32) << 32 | high16(p + 48) << 48;
}
#endif

/* The separator from raw[i] (a stop) when the block holds all of it and the ASCII word byte
 * after it, and it is all ASCII: its end (the next run's first byte), its kind and whether
 * its last byte is a backslash; else 0 (the byte loop reads it) */
static inline int64_t block_separator(const uint8_t *raw, int64_t i, int64_t end, block_t *bk,
                                      int *kind, int *bs) {
#if RL_SIMD
    int64_t at = i & ~(int64_t)63;
    if (at + 64 > end)
        return 0;
    if (at != bk->at)
        load_block(raw, at, bk);
    uint64_t word = ~bk->stop >> (i - at);
    if (!word)
        return 0;
    int len = __builtin_ctzll(word);            /* < 64: the word byte is in the block */
    uint64_t in = ((1ULL << len) - 1) << (i - at);
    if (len == 0 || (bk->high & in))
        return 0;
    *kind = len == 1 ? SEPS[raw[i]] : (in & ~bk->blank) ? SEP_OTHER : SEP_SPACE;
    *bs = raw[i + len - 1] == '\\';
    return i + len;
#else
    (void)raw, (void)i, (void)end, (void)bk, (void)kind, (void)bs;
    return 0;
#endif
}

/* ascii_run_end, from the stops of whole 64-byte blocks classified 16 bytes at a time (SSE2)
 * where the text has them, else 8 bytes at a time */
static inline int64_t run_end(const uint8_t *raw, int64_t x, int64_t end, block_t *bk) {
#if RL_SIMD
    for (;;) {
        int64_t at = x & ~(int64_t)63;
        if (at + 64 > end)
            break;
        if (at != bk->at)
            load_block(raw, at, bk);
        uint64_t s = bk->stop >> (x - at);
        if (s)
            return x + __builtin_ctzll(s);
        x = at + 64;
    }
#else
    (void)bk;
#endif
    return ascii_run_end(raw, x, end);
}

/* class bits of the multi-byte character at raw[i] (end: the text's end); *n its length */
static int wide(const tables_t *tb, const uint8_t *raw, int64_t i, int64_t end, int *n) {
    uint32_t b = raw[i], cp;
    int len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    if (i + len > end || b < 0xC0) {  /* not valid UTF-8 (Arrow strings are): not a word */
        *n = 1;
        return 0;
    }
    if (len == 2)
        cp = ((b & 0x1F) << 6) | (raw[i + 1] & 0x3F);
    else if (len == 3)
        cp = ((b & 0x0F) << 12) | ((raw[i + 1] & 0x3F) << 6) | (raw[i + 2] & 0x3F);
    else
        cp = ((b & 0x07) << 18) | ((raw[i + 1] & 0x3F) << 12) | ((raw[i + 2] & 0x3F) << 6)
             | (raw[i + 3] & 0x3F);
    *n = len;
    if (cp < 0x10000) {
        if (tb->bmp[cp])
            return WORD;
    } else if (cp < ASTRAL_END) {
        if (!tb->astral)
            return NEED;
        if (tb->astral[cp - 0x10000])
            return WORD;
    }
    if (cp == 0x2019)
        return APOS;
    if (cp == 0x2010 || cp == 0x2011)
        return HYPHEN;
    if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A)
        || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)
        return SPACE;
    return 0;
}

/* A run's bit in the token filter: from its length and its first and last bytes lower-cased
 * (kernel.py computes the same); most runs that are no token miss it. */
static inline uint32_t filter_bit(uint32_t first, uint32_t last, uint32_t len, int64_t shift) {
    return (((first | 0x20) << 16 | (last | 0x20) << 8 | len) * 0x9E3779B1u) >> shift;
}

/* The term trie: the state after the edge (separator, token) from a state, or -1 (the root's
 * edges have separator 0) */
static inline int64_t next_state(const tables_t *tb, int64_t state, int64_t sep, int64_t tok) {
    int64_t key = (state * 3 + sep) * tb->n_tok + tok;
    uint64_t at = ((uint64_t)key * 0x9E3779B97F4A7C15ULL >> 32) & (uint64_t)tb->emask;
    while (tb->ekeys[at] >= 0) {
        if (tb->ekeys[at] == key)
            return tb->evals[at];
        at = (at + 1) & (uint64_t)tb->emask;
    }
    return -1;
}

/* The token hash of a run's bytes as three little-endian words (kernel.py computes the same) */
static inline uint64_t token_hash(const uint64_t *w, int64_t len) {
    uint64_t h = (w[0] * 0x9E3779B97F4A7C15ULL) ^ ((w[1] + (uint64_t)len) * 0xC2B2AE3D27D4EB4FULL)
                 ^ (w[2] * 0x165667B19E3779F9ULL);
    return h ^ (h >> 29);
}

/* The token id of the ASCII run raw[i .. i + len) (len <= TOKEN_BYTES; the bytes up to limit
 * may be read), or -1: its bytes lower-cased (| 0x20 changes no digit; '_' becomes a byte no
 * token holds) and looked up in the token table. */
static int64_t token_of(const tables_t *tb, const uint8_t *raw, int64_t i, int64_t len,
                        int64_t limit) {
    uint64_t w[3] = {0, 0, 0};
    memcpy(w, raw + i, i + TOKEN_BYTES <= limit ? TOKEN_BYTES : (size_t)len);
    for (int k = 0; k < 3; k++) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w[k] = __builtin_bswap64(w[k]);
#endif
        int64_t nb = len - 8 * k;
        uint64_t m = nb >= 8 ? ~0ULL : nb <= 0 ? 0 : (1ULL << (8 * nb)) - 1;
        w[k] = (w[k] | (0x20 * ONES)) & m;
    }
    uint64_t at = token_hash(w, len) & (uint64_t)tb->tmask;
    while (tb->tlen[at]) {
        const uint64_t *key = tb->tkeys + 3 * at;
        if (tb->tlen[at] == len && key[0] == w[0] && key[1] == w[1] && key[2] == w[2])
            return tb->tid[at];
        at = (at + 1) & (uint64_t)tb->tmask;
    }
    return -1;
}

/* The token id of the ASCII run of len <= 8 bytes at p (8 bytes may be read), or -1: two
 * slots of the cuckoo table read, no branch. */
static inline int64_t short_token(const tables_t *tb, const uint8_t *p, int64_t len) {
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    w = (w | (0x20 * ONES)) & (len == 8 ? ~0ULL : (1ULL << (8 * len)) - 1);
    uint64_t a = (w * tb->sm1) >> tb->sshift, b = (w * tb->sm2) >> tb->sshift;
    int64_t ta = tb->skeys[a] == w ? tb->sids[a] : -1, tb2 = tb->skeys[b] == w ? tb->sids[b] : -1;
    return ta > tb2 ? ta : tb2;
}

static int64_t tally(int64_t tid, int64_t *counts, int64_t *touched, int64_t nt) {
    if (counts[tid] == 0)
        touched[nt++] = tid;
    counts[tid]++;
    return nt;
}

/* The LaTeX command name from raw[x]: its term id or -1; *after: the byte after its letters */
static int64_t latex_name(const tables_t *tb, const uint8_t *raw, int64_t x, int64_t end,
                          int64_t *after) {
    int64_t state = 0;
    for (; x < end; x++) {
        uint8_t b = raw[x];
        int sym = (b >= 'A' && b <= 'Z') ? b - 'A' : (b >= 'a' && b <= 'z') ? b - 'a' + 26 : -1;
        if (sym < 0)
            break;
        if (state >= 0)
            state = tb->ltrans[state * 52 + sym];
    }
    *after = x;
    return state > 0 ? tb->lterm[state] : -1;
}

/* Twice the room for runs; -1 when out of memory (or past 2^31 runs, which the 32-bit run
 * numbers cannot hold: a text of over 4 GB, more than one Arrow string holds) */
static int grow(runs_t *rs) {
    int64_t cap = rs->cap * 2;
    if (cap > ((int64_t)1 << 31))   /* run numbers up to 2^31 - 1 fit in 32 bits */
        return -1;
    int32_t *tok = realloc(rs->tok, cap * sizeof(int32_t)), *from;
    if (!tok)
        return -1;
    rs->tok = tok;
    if (!(from = realloc(rs->from, cap * sizeof(int32_t))))
        return -1;
    rs->from = from;
    uint8_t *sep = realloc(rs->sep, cap), *bsl;
    if (!sep)
        return -1;
    rs->sep = sep;
    if (!(bsl = realloc(rs->bsl, cap)))
        return -1;
    rs->bsl = bsl;
    rs->cap = cap;
    return 0;
}

/* Tally the term of run r, a token that stands alone: no term can reach it from the runs
 * before it (it is the first run, or the run before it is no token, or a separator other
 * than spaces, an apostrophe or a hyphen comes before it), no term longer than it starts at
 * it, and no hyphen or backslash joins it to what is around it. match_runs would find
 * exactly its one-word term (if any) there, so it is counted here and the run is left as no
 * token, which match_runs skips: most hits never reach match_runs. */
static int64_t tally_alone(const tables_t *tb, runs_t *rs, int64_t r, int64_t *counts,
                           int64_t *touched, int64_t nt) {
    int64_t tid = tb->aterm[rs->tok[r]];
    if (tid >= 0)
        nt = tally(tid, counts, touched, nt);
    rs->tok[r] = -1;
    return nt;
}

/* What split_runs keeps from run to run */
typedef struct {
    int64_t nr;             /* runs so far */
    int64_t nw;             /* words so far */
    int64_t alone;          /* the last run, when it may stand alone (see tally_alone), or -1 */
    int64_t nt;             /* terms touched so far */
    int prev_end_word;      /* the last run ends in a word character */
} split_t;

/* The token id of the ASCII run raw[i .. x) (-1: none), through the cuckoo table for runs of
 * up to 8 bytes, else behind the filter. */
static RL_INLINE int64_t run_token(const tables_t *tb, const uint8_t *raw, int64_t i, int64_t x,
                                   int64_t end) {
    if (x - i <= 8 && i + 8 <= end)
        return short_token(tb, raw + i, x - i);
    if (x - i > TOKEN_BYTES)
        return -1;
    uint32_t bit = filter_bit(raw[i], raw[x - 1], (uint32_t)(x - i), tb->fshift);
    return tb->tfilter[bit >> 6] >> (bit & 63) & 1 ? token_of(tb, raw, i, x - i, end) : -1;
}

/* Add the run raw[i .. x) after a separator of the given kind (bs: its last byte is a
 * backslash; plain: the run is ASCII only): count its word and its LaTeX term, look its token
 * up, tally the run before it when that one stood alone. 0, or -1 when out of memory. */
static RL_INLINE int add_run(const tables_t *tb, const uint8_t *raw, int64_t i, int64_t x,
                             int64_t end, int kind, int bs, int plain, runs_t *rs, split_t *st,
                             int64_t *counts, int64_t *touched) {
    int64_t nr = st->nr;
    if (nr == rs->cap && grow(rs) < 0)
        return -1;
    int64_t word_from = i;                      /* a LaTeX command's letters are not words */
    if (bs) {
        int64_t tid = latex_name(tb, raw, i, end, &word_from);
        if (tb->latex && tid >= 0)
            st->nt = tally(tid, counts, touched, st->nt);
    }
    if (nr == 0)
        kind = SEP_OTHER;
    int has_word = word_from < x;
    int joined = word_from == i && st->prev_end_word && (kind == SEP_APOS || kind == SEP_HYPHEN);
    st->nw += has_word && !joined;
    st->prev_end_word = has_word;
    int64_t t = plain && tb->match_words ? run_token(tb, raw, i, x, end) : -1;
    if (st->alone >= 0 && kind != SEP_HYPHEN)   /* the run before stands alone */
        st->nt = tally_alone(tb, rs, st->alone, counts, touched, st->nt);
    st->alone = -1;
    if (nr > 0 && (rs->tok[nr - 1] >= 0 || kind == SEP_HYPHEN))
        rs->from[rs->n_from++] = (int32_t)(nr - 1);
    if (t >= 0 && !bs && kind != SEP_HYPHEN && (nr == 0 || kind == SEP_OTHER
                                                || rs->tok[nr - 1] < 0) && !tb->akids[t])
        st->alone = nr;
    rs->tok[nr] = (int32_t)t;
    rs->sep[nr] = (uint8_t)kind;
    rs->bsl[nr] = (uint8_t)bs;
    st->nr = nr + 1;
    return 0;
}

#if RL_SIMD
/* The runs from raw[*at_i] (a separator's first byte, or the text's) that end in the 64-byte
 * block holding it, read from the block's masks, with no byte >= 0x80 up to their end: added
 * one by one with their separators (the bits give where each starts and ends, so no byte is
 * looked at twice). *at_i moves past them; what is left (a run or a separator that reaches the
 * next block, or a byte >= 0x80) is the byte loop's. 0, or -1 when out of memory. */
static RL_INLINE int block_runs(const tables_t *tb, const uint8_t *raw, int64_t *at_i,
                             int64_t end, block_t *bk, runs_t *rs, split_t *st,
                             int64_t *counts, int64_t *touched) {
    int64_t i = *at_i, at = i & ~(int64_t)63;
    if (at + 64 > end)
        return 0;
    if (at != bk->at)
        load_block(raw, at, bk);
    uint64_t from = ~0ULL << (i - at), high = bk->high & from;
    int64_t hpos = high ? at + __builtin_ctzll(high) : at + 64;
    uint64_t word = ~bk->stop & from, starts = word & ~(word << 1);
    while (starts) {
        int64_t s = at + __builtin_ctzll(starts);
        uint64_t rest = bk->stop >> (s - at);
        if (!rest)
            break;                              /* the run reaches the next block */
        int64_t x = s + __builtin_ctzll(rest);
        if (x >= hpos)
            break;                              /* a byte >= 0x80 up to the run's end */
        int64_t len = s - i;
        int kind = SEP_OTHER, bs = 0;
        if (len == 1) {
            kind = SEPS[raw[i]];
            bs = raw[i] == '\\';
        } else if (len > 1) {
            uint64_t in = ((1ULL << len) - 1) << (i - at);
            kind = (in & ~bk->blank) ? SEP_OTHER : SEP_SPACE;
            bs = raw[s - 1] == '\\';
        }
        if (add_run(tb, raw, s, x, end, kind, bs, 1, rs, st, counts, touched) < 0)
            return -1;
        i = x;
        starts &= starts - 1;
    }
    *at_i = i;
    return 0;
}
#endif

/* Split one text [i, end) into runs (no byte past end is read); count its words, tally its
 * LaTeX terms. Returns the runs, -1 when out of memory, or -2 at a character beyond U+FFFF
 * while the table of those is not loaded. */
static int64_t split_runs(const tables_t *tb, const uint8_t *raw, int64_t i, int64_t end,
                          runs_t *rs, int64_t *words, int64_t *counts, int64_t *touched,
                          int64_t *nt) {
    split_t st = {0, 0, -1, *nt, 0};
    rs->n_from = 0;
    block_t bk = {-1, 0};
    while (i < end) {
#if RL_SIMD
        if (block_runs(tb, raw, &i, end, &bk, rs, &st, counts, touched) < 0)
            return *nt = st.nt, -1;
        if (i >= end)
            break;
#endif
        int kind = SEP_OTHER, s_len = 0, bs = 0, more = 1;
        if (raw[i] == ' ' && i + 1 < end && raw[i + 1] < 0x80 && ALNUM[raw[i + 1]] >= 0) {
            kind = SEP_SPACE;                   /* the most common separator: one space */
            s_len = 1;
            more = 0;
            i++;
        } else {
            int64_t j = block_separator(raw, i, end, &bk, &kind, &bs);
            if (j) {
                s_len = (int)(j - i);
                more = 0;
                i = j;
            }
        }
        while (more && i < end) {               /* the separator */
            uint8_t b = raw[i];
            int k, n = 1;
            if (b < 0x80) {
                if (ALNUM[b] >= 0)
                    break;
                k = SEPS[b];
            } else {
                int c = wide(tb, raw, i, end, &n);
                if (c & NEED)
                    return *nt = st.nt, -2;
                if (c & WORD)
                    break;
                k = (c & SPACE) ? SEP_SPACE : (c & APOS) ? SEP_APOS
                    : (c & HYPHEN) ? SEP_HYPHEN : SEP_OTHER;
            }
            kind = s_len == 0 ? k : (kind == SEP_SPACE && k == SEP_SPACE) ? SEP_SPACE : SEP_OTHER;
            s_len++;
            bs = b == '\\';
            i += n;
        }
        if (i >= end)
            break;
        int64_t x = run_end(raw, i, end, &bk);
        int plain = 1;                          /* ASCII only */
        while (x < end && raw[x] >= 0x80) {     /* letters or digits of other scripts */
            int n, c = wide(tb, raw, x, end, &n);
            if (c & NEED)
                return *nt = st.nt, -2;
            if (!(c & WORD))
                break;
            plain = 0;
            x = run_end(raw, x + n, end, &bk);
        }
        if (add_run(tb, raw, i, x, end, kind, bs, plain, rs, &st, counts, touched) < 0)
            return *nt = st.nt, -1;
        i = x;
    }
    if (st.alone >= 0)
        st.nt = tally_alone(tb, rs, st.alone, counts, touched, st.nt);
    if (st.nr > 0 && rs->tok[st.nr - 1] >= 0)
        rs->from[rs->n_from++] = (int32_t)(st.nr - 1);
    *words = st.nw;
    *nt = st.nt;
    return st.nr;
}

/* The longest term made of the runs from r: its id (or -1); *last its last run */
static int64_t longest(const tables_t *tb, const runs_t *rs, int64_t r, int64_t nr,
                       int64_t *last) {
    if (rs->tok[r] < 0)
        return -1;
    int64_t state = tb->root[rs->tok[r]], best = -1;
    for (int64_t x = r; state >= 0;) {
        if (tb->term[state] >= 0) {
            best = tb->term[state];
            *last = x;
        }
        if (!tb->kids[state])                  /* most terms are one word: no probe */
            break;
        x++;
        if (x >= nr || rs->tok[x] < 0 || rs->sep[x] == SEP_OTHER)
            break;
        state = next_state(tb, state, rs->sep[x], rs->tok[x]);
    }
    return best;
}

/* The term made of exactly the runs r .. y, or -1 */
static int64_t exact(const tables_t *tb, const runs_t *rs, int64_t r, int64_t y) {
    int64_t state = 0;
    for (int64_t x = r; x <= y; x++) {
        if (rs->tok[x] < 0 || (x > r && rs->sep[x] == SEP_OTHER))
            return -1;
        state = x > r ? next_state(tb, state, rs->sep[x], rs->tok[x]) : tb->root[rs->tok[x]];
        if (state < 0)
            return -1;
    }
    return tb->term[state];
}

/* Tally the word terms of one text's runs, compound (runs joined by hyphens) by compound, as
 * the regex finds them: the term starting at the compound's last possible run first, the
 * longest term; hyphen-joined runs before or after it, or a backslash before the compound,
 * make the match count only when all of it is a term; matching goes on after the match. */
static int64_t match_runs(const tables_t *tb, const runs_t *rs, int64_t nr, int64_t *counts,
                          int64_t *touched, int64_t nt) {
    int64_t next = 0;
    for (int64_t f = 0; f < rs->n_from; f++) {
        /* most runs are no token and on their own: no match starts there (nor at a token
           that stood alone, already counted) */
        int64_t r0 = rs->from[f];
        if (r0 < next)
            continue;
        int64_t rk = r0;
        while (rk + 1 < nr && rs->sep[rk + 1] == SEP_HYPHEN)
            rk++;
        next = rk + 1;
        for (int64_t g = rk; g >= r0; g--) {
            int64_t last = -1, tid = longest(tb, rs, g, nr, &last);
            if (tid < 0)
                continue;
            int64_t y = last;
            while (y + 1 < nr && rs->sep[y + 1] == SEP_HYPHEN)
                y++;
            if (!rs->bsl[r0]) {
                if (g != r0 || y != last)
                    tid = exact(tb, rs, r0, y);
                if (tid >= 0)
                    nt = tally(tid, counts, touched, nt);
            }
            next = y + 1;
            break;
        }
    }
    return nt;
}

/* Texts first .. last - 1 (text t: the len[t] bytes at ptr[t]): words into words[], hits (row,
 * term id, count; per text by term id) into out_* from *n_out on, at most cap in all. Returns
 * the next text to scan: < last when the output would overflow, or (with *need_astral set)
 * when that text holds a character beyond U+FFFF and the table of those is not loaded (the
 * caller loads it and scans again from there); -1 when out of memory. counts (zeros) and
 * touched have one slot per term id. */
int64_t rl_scan(const tables_t *tb, const uint8_t *const *ptr, const int64_t *len,
                int64_t first, int64_t last, int64_t n_terms, int64_t *words, int64_t *out_row,
                int64_t *out_tid, int64_t *out_count, int64_t cap, int64_t *n_out,
                int64_t *counts, int64_t *touched, int64_t *need_astral) {
    runs_t rs;
    init_tables();        /* done at import already; the same values if two threads race */
    rs.cap = 1024;
    rs.tok = malloc(rs.cap * sizeof(int32_t));
    rs.sep = malloc(rs.cap);
    rs.bsl = malloc(rs.cap);
    rs.from = malloc(rs.cap * sizeof(int32_t));
    uint64_t *seen = calloc((size_t)(n_terms + 63) / 64, sizeof(uint64_t));
    int64_t t = first, status = 0;
    if (!rs.tok || !rs.sep || !rs.bsl || !rs.from || !seen)
        status = -1;
    for (; status == 0 && t < last; t++) {
        if (*n_out + n_terms > cap)
            break;
        int64_t nt = 0;
        int64_t nr = split_runs(tb, ptr[t], 0, len[t], &rs, &words[t], counts, touched, &nt);
        if (nr == -2) {                         /* this text again, with the table */
            for (int64_t j = 0; j < nt; j++)
                counts[touched[j]] = 0;
            *need_astral = 1;
            break;
        }
        if (nr < 0) {
            status = -1;
            break;
        }
        if (tb->match_words)
            nt = match_runs(tb, &rs, nr, counts, touched, nt);
        int64_t lo = n_terms, hi = -1;          /* the text's terms in id order: bits */
        for (int64_t j = 0; j < nt; j++) {
            int64_t w = touched[j] >> 6;
            seen[w] |= 1ULL << (touched[j] & 63);
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
        }
        for (int64_t w = lo; w <= hi; w++) {
            for (uint64_t bits = seen[w]; bits; bits &= bits - 1) {
                int64_t tid = w * 64 + __builtin_ctzll(bits);
                out_row[*n_out] = t;
                out_tid[*n_out] = tid;
                out_count[*n_out] = counts[tid];
                counts[tid] = 0;
                (*n_out)++;
            }
            seen[w] = 0;
        }
    }
    free(seen);
    free(rs.tok);
    free(rs.sep);
    free(rs.bsl);
    free(rs.from);
    return status < 0 ? -1 : t;
}

/* The version of the tables and of rl_scan's arguments (kernel.py's ABI); whether it was built
 * with the SSE2 code */
int64_t rl_abi(void) {
    return 3;
}
int64_t rl_simd(void) {
    return RL_SIMD;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel",
                                    "reasonlens' counting kernel (called through ctypes)", -1,
                                    NULL};

PyMODINIT_FUNC PyInit__kernel(void) {
    init_tables();
    return PyModule_Create(&module);
}
