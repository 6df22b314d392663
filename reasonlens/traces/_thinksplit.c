/* The loader's think split (reasonlens/traces/thinksplit.py): each response of a column cut
 * into its reasoning and its answer, as reasonlens.traces.model.split_reasoning cuts one
 * response without a separate reasoning field, written as Arrow string views into the
 * response's own bytes, so no text is copied.
 *
 * Per response: the reasoning is what lies before the first "</think>" (after a "<think>"
 * before it, if any) and the answer what follows it; with only a "<think>", the reasoning is
 * what follows it and the answer is empty; with neither, the answer is the whole response.
 * Both are stripped of Python's whitespace (str.strip(): the ASCII whitespace, U+001C..U+001F
 * and the Unicode spaces). The tags are ASCII, so every cut lies at a character boundary.
 *
 * Plain C, built at install time as an optional extension and called through ctypes (which
 * releases the GIL); without it the loader cuts with polars expressions. */

#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Arrow's string view: the length, then up to 12 bytes inline, else a prefix of 4 bytes, the
 * data buffer's index and the offset in it */
typedef struct {
    int32_t len;
    union {
        uint8_t inline_bytes[12];
        struct {
            uint8_t prefix[4];
            int32_t buf;
            int32_t off;
        } ref;
    } u;
} view_t;

/* U+001C..U+001F and the ASCII whitespace */
static int ascii_space(uint8_t b) {
    return b == ' ' || (b >= 9 && b <= 13) || (b >= 0x1C && b <= 0x1F);
}

/* The length of the whitespace character that starts at p (n bytes left), or 0 */
static int space_at(const uint8_t *p, int64_t n) {
    if (p[0] < 0x80)
        return ascii_space(p[0]);
    if (n >= 2 && p[0] == 0xC2 && (p[1] == 0x85 || p[1] == 0xA0))
        return 2;
    if (n < 3)
        return 0;
    if (p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80)                  /* U+1680 */
        return 3;
    /* U+2000..200A, U+2028, U+2029, U+202F */
    if (p[0] == 0xE2 && p[1] == 0x80 && (p[2] <= 0x8A || p[2] == 0xA8 || p[2] == 0xA9
                                         || p[2] == 0xAF))
        return p[2] >= 0x80 ? 3 : 0;
    if (p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F)                  /* U+205F */
        return 3;
    if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)                  /* U+3000 */
        return 3;
    return 0;
}

/* [*from, *to) of p without Python's whitespace at either end */
static void strip(const uint8_t *p, int64_t *from, int64_t *to) {
    int64_t a = *from, b = *to, k;
    while (a < b && (k = space_at(p + a, b - a)) > 0)
        a += k;
    while (b > a) {
        int64_t s = b - 1;                   /* the last character's first byte */
        while (s > a && b - s < 4 && (p[s] & 0xC0) == 0x80)
            s--;
        if (space_at(p + s, b - s) != b - s)
            break;
        b = s;
    }
    *from = a;
    *to = b;
}

/* The view of bytes [from, to) of the text whose view is src (its bytes at p) */
static void cut(const view_t *src, const uint8_t *p, int64_t from, int64_t to, view_t *out) {
    int32_t len = (int32_t)(to - from);
    memset(out, 0, sizeof(view_t));
    out->len = len;
    if (len <= 12) {
        memcpy(out->u.inline_bytes, p + from, (size_t)len);
        return;
    }
    memcpy(out->u.ref.prefix, p + from, 4);
    out->u.ref.buf = src->u.ref.buf;         /* (a text of > 12 bytes is not inline) */
    out->u.ref.off = src->u.ref.off + (int32_t)from;
}

/* The first tag in p[0 .. n): its offset or -1 (memchr to each '<', rare in text) */
static int64_t find(const uint8_t *p, int64_t n, const char *tag, int64_t k) {
    const uint8_t *q = p, *end = p + n;
    while (end - q >= k && (q = memchr(q, '<', (size_t)(end - q - k + 1))) != NULL) {
        if (memcmp(q, tag, (size_t)k) == 0)
            return q - p;
        q++;
    }
    return -1;
}

/* Texts 0 .. n-1 (views, their data buffers at bufs; no nulls): the reasoning and the answer
 * of each into out_r and out_a (views into the same buffers), and closed[t]: 1 a closing tag,
 * 0 only an opening one, -1 neither. */
void rl_think_split(const view_t *views, const uint8_t *const *bufs, int64_t n, view_t *out_r,
                    view_t *out_a, int8_t *closed) {
    for (int64_t t = 0; t < n; t++) {
        const view_t *v = views + t;
        const uint8_t *p = v->len <= 12 ? v->u.inline_bytes : bufs[v->u.ref.buf] + v->u.ref.off;
        int64_t len = v->len, close = find(p, len, "</think>", 8);
        int64_t r0 = 0, r1 = 0, a0 = 0, a1 = len;
        if (close >= 0) {
            int64_t open = find(p, close, "<think>", 7);
            r0 = open >= 0 ? open + 7 : 0;
            r1 = close;
            a0 = close + 8;
            closed[t] = 1;
        } else {
            int64_t open = find(p, len, "<think>", 7);
            if (open >= 0) {
                r0 = open + 7;
                r1 = len;
                a0 = len;
            }
            closed[t] = open >= 0 ? 0 : -1;
        }
        strip(p, &r0, &r1);
        strip(p, &a0, &a1);
        cut(v, p, r0, r1, out_r + t);
        cut(v, p, a0, a1, out_a + t);
    }
}

/* The version of rl_think_split's arguments (thinksplit.py's ABI) */
int64_t rl_think_split_abi(void) {
    return 1;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_thinksplit",
                                    "reasonlens' think split (called through ctypes)", -1, NULL};

PyMODINIT_FUNC PyInit__thinksplit(void) {
    return PyModule_Create(&module);
}
