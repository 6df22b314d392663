/* The loader's key count (reasonlens/traces/jsonkeys.py): how many object keys a chunk of JSON
 * lines holds, at every depth, and how many of them have the value null.
 *
 * Outside a string a quote can only open one, and inside it the first quote after an even run
 * of backslashes closes it, so the scan jumps from quote to quote with memchr. A closed string
 * followed by a colon (after optional whitespace) is a key; the literal null right after that
 * colon is its value. Only meaningful for valid JSON: the caller counts chunks that polars has
 * already parsed.
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

/* out[0]: keys, out[1]: keys whose value is null. Returns 0, or -1 for a string left open. */
int64_t rl_json_keys(const unsigned char *p, int64_t n, int64_t *out) {
    const unsigned char *end = p + n, *q = p;
    int64_t keys = 0, nulls = 0;
    while (q < end && (q = memchr(q, '"', (size_t)(end - q))) != NULL) {
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
        q = skip_space(c + 1, end);
        if (q < end && *q == ':') {
            keys++;
            q = skip_space(q + 1, end);
            if (end - q >= 4 && memcmp(q, "null", 4) == 0)
                nulls++;
        }
    }
    out[0] = keys;
    out[1] = nulls;
    return 0;
}

/* The version of rl_json_keys' arguments (jsonkeys.py's ABI) */
int64_t rl_json_keys_abi(void) {
    return 1;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsonkeys",
                                    "reasonlens' JSON key count (called through ctypes)", -1,
                                    NULL};

PyMODINIT_FUNC PyInit__jsonkeys(void) {
    return PyModule_Create(&module);
}
