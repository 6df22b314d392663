/* The loader's key count (reasonlens/traces/jsonkeys.py): how many object keys a chunk of JSON
 * lines holds, at every depth, how many of them have the value null, and how many repeat a key
 * of their own object (polars keeps a repeated key's first value, orjson its last).
 *
 * Outside a string a quote can only open one, and inside it the first quote after an even run
 * of backslashes closes it, so the scan jumps from quote to quote with memchr. A closed string
 * followed by a colon (after optional whitespace) is a key; the literal null right after that
 * colon is its value. The bytes between strings (structure, numbers: short in texts) are read
 * for the braces that open and close objects, so each key is compared with the keys before it
 * in its object (as written: the same key spelt with other escapes is not seen; objects of
 * more than MAX_KEYS keys, or deeper than MAX_DEPTH, are compared in part). Only meaningful
 * for valid JSON: what it says of other text does not matter, as polars refuses that text and
 * the loader then reads it record by record either way.
 *
 * Plain C, built at install time as an optional extension and called through ctypes (which
 * releases the GIL); without it the loader infers each chunk's schema in full instead. */

#include <Python.h>
#include <stdint.h>
#include <string.h>

static const unsigned char *skip_space(const unsigned char *p, const unsigned char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

#define MAX_DEPTH 32
#define MAX_KEYS 64

typedef struct {
    const unsigned char *at[MAX_KEYS];   /* each key's first byte and length, as written */
    int64_t len[MAX_KEYS];
    int n;
} object_t;

/* The key at [k, k + len) of the innermost open object: 1 when that object already has it
 * (then it is not kept again), else kept; 0 outside any object's kept depth. */
static int repeated(object_t *stack, int depth, const unsigned char *k, int64_t len) {
    if (depth < 1 || depth > MAX_DEPTH)
        return 0;
    object_t *o = &stack[depth - 1];
    for (int i = 0; i < o->n; i++)
        if (o->len[i] == len && memcmp(o->at[i], k, (size_t)len) == 0)
            return 1;
    if (o->n < MAX_KEYS) {
        o->at[o->n] = k;
        o->len[o->n++] = len;
    }
    return 0;
}

/* The braces in [p, end), outside strings: an object opened (its keys none yet) or closed */
static int braces(const unsigned char *p, const unsigned char *end, object_t *stack,
                  int depth) {
    for (; p < end; p++) {
        if (*p == '{') {
            if (depth < MAX_DEPTH)
                stack[depth].n = 0;
            depth++;
        } else if (*p == '}' && depth > 0) {
            depth--;
        }
    }
    return depth;
}

/* out[0]: keys, out[1]: keys whose value is null, out[2]: keys that repeat one before them in
 * their object. Returns 0, or -1 for a string left open. */
int64_t rl_json_keys(const unsigned char *p, int64_t n, int64_t *out) {
    const unsigned char *end = p + n, *q = p, *from = p;
    int64_t keys = 0, nulls = 0, again = 0;
    object_t stack[MAX_DEPTH];
    int depth = 0;
    while (q < end && (q = memchr(q, '"', (size_t)(end - q))) != NULL) {
        depth = braces(from, q, stack, depth);
        const unsigned char *c = q + 1;
        for (;;) {  /* the closing quote: the first one not escaped */
            c = memchr(c, '"', (size_t)(end - c));
            if (c == NULL)
                return -1;
            const unsigned char *b = c;
            while (b > q + 1 && b[-1] == '\\')
                b--;
            if (((c - b) & 1) == 0)
                break;
            c++;
        }
        const unsigned char *open = q;
        q = skip_space(c + 1, end);
        if (q < end && *q == ':') {
            keys++;
            again += repeated(stack, depth, open + 1, c - open - 1);
            q = skip_space(q + 1, end);
            if (end - q >= 4 && memcmp(q, "null", 4) == 0)
                nulls++;
        }
        from = q;
    }
    out[0] = keys;
    out[1] = nulls;
    out[2] = again;
    return 0;
}

/* The bytes equal to c in [p, p + n): the loader's line count per chunk (records.py). memchr
 * jumps from one to the next: 0.6 ms of CPU per 16 MB chunk of R1 traces (lines of a few KB)
 * against 3.4 ms for numpy's compare-and-count, with the GIL released meanwhile. */
int64_t rl_count_byte(const unsigned char *p, int64_t n, int64_t c) {
    const unsigned char *end = p + n;
    int64_t count = 0;
    while (p < end && (p = memchr(p, (int)c, (size_t)(end - p))) != NULL) {
        count++;
        p++;
    }
    return count;
}

/* The version of the exported functions' arguments (jsonkeys.py's ABI) */
int64_t rl_json_keys_abi(void) {
    return 3;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsonkeys",
                                    "reasonlens' JSON key count (called through ctypes)", -1,
                                    NULL};

PyMODINIT_FUNC PyInit__jsonkeys(void) {
    return PyModule_Create(&module);
}
