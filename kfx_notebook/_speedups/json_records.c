/* JSON records body -> per key, each record's value as minified JSON text and the strings unescaped.

   read(body, keys) reads one array of objects, or objects one after another (whitespace and commas
   between them, as payload.iter_json_values skips), and returns (rows, keys, columns): per key six
   bytearrays, the Arrow buffers of two string arrays (validity, int32 offsets, data): the value's
   text (null when missing or null) and, where the value is a string, its content unescaped. keys is
   a list of str (matched case-sensitively against the decoded key) or None: every key, in
   first-seen order. read(body, keys, verbatim): per key, True keeps a top-level number's token as
   written (for a column whose rule reads its value: Arrow's casts and json.loads read both alike);
   with keys None, verbatim is one bool for every key.

   Every text is JSON whose value is json.loads' value of the payload's, in json.dumps' form where
   that is cheap to be sure of: no whitespace, strings inside containers escaped as json.dumps
   (ensure_ascii=False) escapes them, numbers as repr writes them (integers as written, -0 as 0;
   a non-finite or long token as written). A top-level string's text is the payload's own.

   It returns None for anything it is not sure of, and the caller reads the body another way:
   malformed JSON, a non-object record, a record holding none of the requested keys, a key twice in
   one record, a lone surrogate, invalid UTF-8, nesting deeper than MAX_DEPTH, no records, a
   column's data over 2 GiB. The GIL is held throughout (repr's float formatting is Python's). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "json_lex.h"

#define MAX_DEPTH 256       /* deeper values are json.loads' business (its recursion limit) */
#define MAX_KEYS 65536      /* more distinct keys than a table can have columns: not handled */
#define MAX_FLOAT_TOKEN 400 /* a longer non-integer number: not handled */
#define MAX_INT_DIGITS 640  /* json.loads refuses integers over sys.get_int_max_str_digits() (640 at least) */

typedef const unsigned char *cur;

/* -- growable bytearray ----------------------------------------------------------------------- */
typedef struct {
    PyObject *obj;  /* bytearray; its size is the capacity until finished */
    char *p;
    Py_ssize_t len, cap;
} Buf;

static int buf_init(Buf *b, Py_ssize_t cap) {
    b->obj = PyByteArray_FromStringAndSize(NULL, cap);
    if (!b->obj) return -1;
    b->p = PyByteArray_AS_STRING(b->obj);
    b->len = 0;
    b->cap = cap;
    return 0;
}

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (extra > PY_SSIZE_T_MAX / 2 - b->len) return -1;
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap * 2 > b->len + extra ? b->cap * 2 : b->len + extra;
    if (PyByteArray_Resize(b->obj, cap) < 0) return -1;
    b->p = PyByteArray_AS_STRING(b->obj);
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *s, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

static int buf_byte(Buf *b, char c) {
    if (b->len == b->cap && buf_reserve(b, 1) < 0) return -1;
    b->p[b->len++] = c;
    return 0;
}

static int buf_finish(Buf *b) { return PyByteArray_Resize(b->obj, b->len); }

/* The capacity raised to `cap` at once (never lowered). */
static int buf_grow_to(Buf *b, Py_ssize_t cap) {
    if (cap <= b->cap) return 0;
    if (PyByteArray_Resize(b->obj, cap) < 0) return -1;
    b->p = PyByteArray_AS_STRING(b->obj);
    b->cap = cap;
    return 0;
}

/* -- lexical rules: json_lex.h (shared with the other JSON readers), plus what json.loads adds ---- */
static cur skip_ws(cur p, cur end) { return (cur)jl_skip_ws((const char *)p, (const char *)end); }

/* A string from after its opening quote: validated (json_lex), its content unescaped onto *out when
   out is not NULL; the position after the closing quote, or NULL (invalid, or out of memory with an
   exception set). *escaped tells whether it held a backslash. */
static cur read_string(cur p, cur end, Buf *out, int *escaped) {
    int flags = 0;
    cur close = (cur)jl_string_end((const char *)p, (const char *)end, &flags);
    if (!close) return NULL;
    *escaped = flags & JL_ESCAPED;
    if (out) {
        if (buf_reserve(out, close - p) < 0) return NULL;  /* jl_unescape writes at most close - p bytes */
        out->len += (Py_ssize_t)jl_unescape((const char *)p, (const char *)close, out->p + out->len);
    }
    return close + 1;
}

/* A number token from p: its end, or NULL (not JSON, or an integer too long for json.loads).
   *integer: no fraction, no exponent. */
static cur read_number(cur p, cur end, int *integer) {
    cur e = (cur)jl_number_end((const char *)p, (const char *)end, integer);
    if (e && *integer && e - p > MAX_INT_DIGITS) return NULL;
    return e;
}

/* A value skipped whole (json_lex), or NULL; refused too when it may hold an integer json.loads
   refuses (a run of more than MAX_INT_DIGITS digits, in a string or not: then json decides). */
static cur skip_value(cur p, cur end, int depth) {
    int kind;
    cur e = (cur)jl_value_end((const char *)p, (const char *)end, MAX_DEPTH - depth, &kind);
    if (!e || e - p <= MAX_INT_DIGITS || kind == JL_STRING || kind == JL_NUMBER) return e;
    Py_ssize_t run = 0;
    for (cur q = p; q < e; q++) {
        run = *q >= '0' && *q <= '9' ? run + 1 : 0;
        if (run > MAX_INT_DIGITS) return NULL;
    }
    return e;
}

/* Unescaped string content -> json.dumps' (ensure_ascii=False) quoted text of it. */
static int put_dumps_string(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_byte(b, '"') < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                static const char hex[] = "0123456789abcdef";
                u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0'; u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = 0;
                esc = u;
            }
        }
        if (esc ? buf_put(b, esc, (Py_ssize_t)strlen(esc)) < 0 : buf_byte(b, (char)c) < 0) return -1;
    }
    return buf_byte(b, '"');
}

/* A token [-]int.frac (no exponent) that repr writes as it stands: at most 15 significant digits
   (so it is the shortest text of its double), no trailing zero after the point but in "x.0",
   and in repr's fixed-notation range (1e-4 <= |x| < 1e16). */
static int is_repr_decimal(cur s, cur e) {
    if (*s == '-') s++;
    cur dot = memchr(s, '.', (size_t)(e - s));
    if (!dot) return 0;
    for (cur q = dot + 1; q < e; q++) if (*q == 'e' || *q == 'E') return 0;
    Py_ssize_t ints = dot - s, fracs = e - dot - 1;
    if (fracs == 1 && dot[1] == '0') return ints <= 15;
    if (e[-1] == '0') return 0;
    if (ints == 1 && *s == '0') {
        Py_ssize_t zeros = 0;
        while (zeros < fracs && dot[1 + zeros] == '0') zeros++;
        return zeros <= 3 && fracs - zeros <= 15;
    }
    return ints + fracs <= 15;
}

/* A validated number token -> its text as json.dumps writes json.loads' value of it, where sure. */
static int put_number(Buf *b, cur s, cur e, int integer) {
    if (integer) {
        if (e - s == 2 && s[0] == '-' && s[1] == '0') return buf_byte(b, '0');  /* json.loads: int 0 */
        return buf_put(b, s, e - s);
    }
    if (is_repr_decimal(s, e)) return buf_put(b, s, e - s);
    if (e - s > MAX_FLOAT_TOKEN) return -2;
    char token[MAX_FLOAT_TOKEN + 1];
    memcpy(token, s, (size_t)(e - s));
    token[e - s] = 0;
    char *stop = NULL;
    double x = PyOS_string_to_double(token, &stop, NULL);
    if (PyErr_Occurred() || stop != token + (e - s)) {
        PyErr_Clear();
        return -2;
    }
    if (!Py_IS_FINITE(x)) return buf_put(b, s, e - s);  /* 1e400: json.loads' inf; json_values decides */
    char *text = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!text) return -1;
    int rc = buf_put(b, text, (Py_ssize_t)strlen(text));
    PyMem_Free(text);
    return rc;
}

/* -- values ------------------------------------------------------------------------------------- */
typedef struct {
    Buf scratch;  /* a string's unescaped content on its way to its dumps form */
    int failed;   /* 1: not handled (None); -1: an exception is set */
} Reader;

static cur fail(Reader *r, int how) {
    if (!r->failed) r->failed = how;
    return NULL;
}

/* A string (from after its quote) written to out in json.dumps' form. */
static cur copy_string(Reader *r, cur p, cur end, Buf *out) {
    int escaped;
    cur start = p;
    r->scratch.len = 0;
    cur q = read_string(p, end, &r->scratch, &escaped);
    if (!q) return fail(r, PyErr_Occurred() ? -1 : 1);
    if (!escaped)  /* no escape: the content holds no '"', '\' or control character, already dumps' form */
        return buf_put(out, start - 1, q - start + 1) < 0 ? fail(r, -1) : q;
    return put_dumps_string(out, r->scratch.p, r->scratch.len) < 0 ? fail(r, -1) : q;
}

/* One JSON value at p (no leading whitespace): validated, its dumps-form text appended to out;
   the position after it, or NULL with r->failed set. */
static cur copy_value(Reader *r, cur p, cur end, Buf *out, int depth) {
    if (p >= end) return fail(r, 1);
    switch (*p) {
    case '"': return copy_string(r, p + 1, end, out);
    case '{':
    case '[': {
        unsigned char close = *p == '{' ? '}' : ']';
        int object = *p == '{';
        if (depth >= MAX_DEPTH) return fail(r, 1);
        if (buf_byte(out, (char)*p) < 0) return fail(r, -1);
        p = skip_ws(p + 1, end);
        if (p < end && *p == close) goto closed;
        for (;;) {
            if (object) {
                if (p >= end || *p != '"') return fail(r, 1);
                if (!(p = copy_string(r, p + 1, end, out))) return NULL;
                p = skip_ws(p, end);
                if (p >= end || *p != ':') return fail(r, 1);
                if (buf_byte(out, ':') < 0) return fail(r, -1);
                p = skip_ws(p + 1, end);
            }
            if (!(p = copy_value(r, p, end, out, depth + 1))) return NULL;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                if (buf_byte(out, ',') < 0) return fail(r, -1);
                p = skip_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == close) break;
            return fail(r, 1);
        }
    closed:
        if (buf_byte(out, (char)close) < 0) return fail(r, -1);
        return p + 1;
    }
    case 't':
        if (end - p >= 4 && !memcmp(p, "true", 4)) return buf_put(out, "true", 4) < 0 ? fail(r, -1) : p + 4;
        return fail(r, 1);
    case 'f':
        if (end - p >= 5 && !memcmp(p, "false", 5)) return buf_put(out, "false", 5) < 0 ? fail(r, -1) : p + 5;
        return fail(r, 1);
    case 'n':
        if (end - p >= 4 && !memcmp(p, "null", 4)) return buf_put(out, "null", 4) < 0 ? fail(r, -1) : p + 4;
        return fail(r, 1);
    default: {
        int integer;
        cur e = read_number(p, end, &integer);
        if (!e) return fail(r, 1);
        int rc = put_number(out, p, e, integer);
        return rc < 0 ? fail(r, rc == -2 ? 1 : -1) : e;
    }
    }
}

/* -- columns ------------------------------------------------------------------------------------ */
typedef struct {
    char *key;          /* the decoded key (owned) */
    Py_ssize_t keylen;
    uint64_t hash;
    Py_ssize_t last_row; /* the row it was last seen in: a second time in one record is refused */
    Buf text[3], string[3];  /* validity, offsets, data of each array */
    Py_ssize_t text_rows, string_rows;  /* rows written so far (the rest are null until written) */
    int verbatim;       /* a top-level number's text as written (its value is what counts, not its form) */
} Column;

typedef struct {
    Column *cols;
    Py_ssize_t n, cap;
    Py_ssize_t *slots;  /* open addressing on hash: column index + 1, 0 empty */
    Py_ssize_t nslots;
    int open;           /* 1: every key is a column, added as first seen */
    int open_verbatim;  /* open: each key's column keeps top-level numbers as written (read's verbatim=True) */
} Columns;

static uint64_t fnv1a(const char *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int column_init(Column *c, const char *key, Py_ssize_t keylen) {
    memset(c, 0, sizeof *c);
    c->last_row = -1;
    if (!(c->key = PyMem_Malloc(keylen ? (size_t)keylen : 1))) { PyErr_NoMemory(); return -1; }
    memcpy(c->key, key, (size_t)keylen);
    c->keylen = keylen;
    c->hash = fnv1a(key, keylen);
    for (int i = 0; i < 3; i++) {
        Py_ssize_t cap = i == 2 ? 4096 : 256;
        if (buf_init(&c->text[i], cap) < 0 || buf_init(&c->string[i], cap) < 0) return -1;
    }
    int32_t zero = 0;  /* offsets[0] */
    if (buf_put(&c->text[1], &zero, 4) < 0 || buf_put(&c->string[1], &zero, 4) < 0) return -1;
    return 0;
}

static void column_free(Column *c) {
    PyMem_Free(c->key);
    for (int i = 0; i < 3; i++) {
        Py_XDECREF(c->text[i].obj);
        Py_XDECREF(c->string[i].obj);
    }
}

static int rehash(Columns *cs, Py_ssize_t nslots) {
    Py_ssize_t *slots = PyMem_Calloc((size_t)nslots, sizeof *slots);
    if (!slots) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < cs->n; i++) {
        Py_ssize_t s = (Py_ssize_t)(cs->cols[i].hash & (uint64_t)(nslots - 1));
        while (slots[s]) s = (s + 1) & (nslots - 1);
        slots[s] = i + 1;
    }
    PyMem_Free(cs->slots);
    cs->slots = slots;
    cs->nslots = nslots;
    return 0;
}

static int add_column(Columns *cs, const char *key, Py_ssize_t keylen) {
    if (cs->n >= MAX_KEYS) return 1;
    if (cs->n == cs->cap) {
        Py_ssize_t cap = cs->cap ? cs->cap * 2 : 16;
        Column *cols = PyMem_Realloc(cs->cols, (size_t)cap * sizeof *cols);
        if (!cols) { PyErr_NoMemory(); return -1; }
        cs->cols = cols;
        cs->cap = cap;
    }
    if (column_init(&cs->cols[cs->n], key, keylen) < 0) {
        column_free(&cs->cols[cs->n]);
        return -1;
    }
    cs->n++;
    if (cs->n * 2 > cs->nslots) return rehash(cs, cs->nslots ? cs->nslots * 2 : 64);
    Column *c = &cs->cols[cs->n - 1];
    Py_ssize_t s = (Py_ssize_t)(c->hash & (uint64_t)(cs->nslots - 1));
    while (cs->slots[s]) s = (s + 1) & (cs->nslots - 1);
    cs->slots[s] = cs->n;
    return 0;
}

static Column *find_column(Columns *cs, const char *key, Py_ssize_t keylen) {
    if (!cs->nslots) return NULL;
    uint64_t h = fnv1a(key, keylen);
    Py_ssize_t s = (Py_ssize_t)(h & (uint64_t)(cs->nslots - 1));
    while (cs->slots[s]) {
        Column *c = &cs->cols[cs->slots[s] - 1];
        if (c->hash == h && c->keylen == keylen && !memcmp(c->key, key, (size_t)keylen)) return c;
        s = (s + 1) & (cs->nslots - 1);
    }
    return NULL;
}

/* Null rows up to *row* (exclusive) in one array: offsets repeat, validity bits stay 0. */
static int pad(Buf *a, Py_ssize_t *rows, Py_ssize_t row) {
    int32_t at = (int32_t)a[2].len;
    if (buf_reserve(&a[1], (row - *rows) * 4) < 0) return -1;
    for (; *rows < row; (*rows)++) {
        memcpy(a[1].p + a[1].len, &at, 4);
        a[1].len += 4;
    }
    Py_ssize_t bytes = (row + 7) / 8 + 1;
    if (bytes > a[0].len) {
        if (buf_reserve(&a[0], bytes - a[0].len) < 0) return -1;
        memset(a[0].p + a[0].len, 0, (size_t)(bytes - a[0].len));
        a[0].len = bytes;
    }
    return 0;
}

/* The value of *row* just appended to a[2]: its end offset and validity bit. 1: over 2 GiB. */
static int close_value(Buf *a, Py_ssize_t *rows, Py_ssize_t row) {
    if (a[2].len > INT32_MAX) return 1;
    int32_t at = (int32_t)a[2].len;
    if (buf_put(&a[1], &at, 4) < 0) return -1;
    a[0].p[row / 8] |= (char)(1 << (row % 8));
    *rows = row + 1;
    return 0;
}

/* -- records ------------------------------------------------------------------------------------ */
/* One object at p (after its '{') as record *row*: its values into the columns; the position after it. */
static cur read_record(Reader *r, Columns *cs, cur p, cur end, Py_ssize_t row) {
    Py_ssize_t found = 0;
    p = skip_ws(p, end);
    if (p < end && *p == '}') return fail(r, 1);  /* none of the keys */
    for (;;) {
        if (p >= end || *p != '"') return fail(r, 1);
        int escaped;
        cur start = p + 1;
        int flags = 0;
        cur q = (cur)jl_string_end((const char *)start, (const char *)end, &flags);
        if (!q) return fail(r, 1);
        const char *key = (const char *)start;  /* the key as decoded: its bytes, unescaped where escaped */
        Py_ssize_t keylen = q++ - start;
        if (flags & JL_ESCAPED) {
            r->scratch.len = 0;
            if (!read_string(start, end, &r->scratch, &escaped)) return fail(r, PyErr_Occurred() ? -1 : 1);
            key = r->scratch.p;
            keylen = r->scratch.len;
        }
        Column *c = find_column(cs, key, keylen);
        if (!c && cs->open) {
            int rc = add_column(cs, key, keylen);
            if (rc) return fail(r, rc);
            c = &cs->cols[cs->n - 1];
            c->verbatim = cs->open_verbatim;
        }
        p = skip_ws(q, end);
        if (p >= end || *p != ':') return fail(r, 1);
        p = skip_ws(p + 1, end);
        if (!c) {
            if (!(p = skip_value(p, end, 1))) return fail(r, 1);
        } else {
            if (c->last_row == row) return fail(r, 1);  /* a key twice: json keeps the last */
            c->last_row = row;
            found++;
            if (p < end && *p == 'n') {  /* null: null in both arrays */
                if (!(p = (cur)jl_literal_end((const char *)p, (const char *)end, "null", 4))) return fail(r, 1);
            } else {
                if (pad(c->text, &c->text_rows, row) < 0) return fail(r, -1);
                if (p < end && *p == '"') {
                    if (pad(c->string, &c->string_rows, row) < 0) return fail(r, -1);
                    q = read_string(p + 1, end, &c->string[2], &escaped);
                    if (!q) return fail(r, PyErr_Occurred() ? -1 : 1);
                    if (buf_put(&c->text[2], p, q - p) < 0) return fail(r, -1);
                    int rc = close_value(c->string, &c->string_rows, row);
                    if (rc) return fail(r, rc);
                    p = q;
                } else if (c->verbatim && p < end && (*p == '-' || (*p >= '0' && *p <= '9'))) {
                    int integer;
                    cur e = read_number(p, end, &integer);
                    if (!e) return fail(r, 1);
                    int minus_zero = integer && e - p == 2 && p[0] == '-' && p[1] == '0';  /* json.loads: int 0 */
                    if (buf_put(&c->text[2], minus_zero ? p + 1 : p, minus_zero ? 1 : e - p) < 0) return fail(r, -1);
                    p = e;
                } else if (!(p = copy_value(r, p, end, &c->text[2], 1))) {
                    return NULL;
                }
                int rc = close_value(c->text, &c->text_rows, row);
                if (rc) return fail(r, rc);
            }
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
        if (p < end && *p == '}') break;
        return fail(r, 1);
    }
    if (!found) return fail(r, 1);  /* a record with none of the keys */
    return p + 1;
}

static Py_ssize_t refused(Reader *r) {
    fail(r, 1);
    return -1;
}

/* After the first PRESIZE_ROWS records: each column's buffers grown at once to what the whole body
   likely needs (their lengths scaled by the body's bytes over those read, and a little more), instead
   of doubling a dozen times, each doubling a copy and fresh pages; finished() shrinks them. */
#define PRESIZE_ROWS 1024

static int presize(Columns *cs, Py_ssize_t consumed, Py_ssize_t total) {
    if (consumed <= 0 || total <= consumed) return 0;
    double scale = (double)total / (double)consumed * 1.05;
    for (Py_ssize_t k = 0; k < cs->n; k++) {
        Column *c = &cs->cols[k];
        Buf *bufs[] = {&c->text[0], &c->text[1], &c->text[2], &c->string[0], &c->string[1], &c->string[2]};
        for (int i = 0; i < 6; i++) {
            double want = (double)bufs[i]->len * scale + 64;
            if (want < (double)(PY_SSIZE_T_MAX / 4) && buf_grow_to(bufs[i], (Py_ssize_t)want) < 0) return -1;
        }
    }
    return 0;
}

static cur skip_separators(cur p, cur end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')) p++;
    return p;
}

/* Every record of the body; the number of rows, or -1 (r->failed says why). */
static Py_ssize_t read_body(Reader *r, Columns *cs, cur p, cur end) {
    Py_ssize_t rows = 0;
    cur start = p;
    if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) p += 3;
    p = skip_ws(p, end);
    if (p < end && *p == '[') {
        p = skip_ws(p + 1, end);
        for (;;) {
            if (p >= end || *p != '{') return refused(r);
            if (!(p = read_record(r, cs, p + 1, end, rows++))) return -1;
            if (rows == PRESIZE_ROWS && presize(cs, p - start, end - start) < 0) { r->failed = -1; return -1; }
            p = skip_ws(p, end);
            if (p < end && *p == ',') { p = skip_ws(p + 1, end); continue; }
            if (p < end && *p == ']') break;
            return refused(r);
        }
        p = skip_separators(p + 1, end);
        if (p != end) return refused(r);  /* more after the array: the reference's reading */
        return rows;
    }
    if (p >= end || *p != '{') return refused(r);
    while (p < end) {
        if (*p != '{') return refused(r);
        if (!(p = read_record(r, cs, p + 1, end, rows++))) return -1;
        if (rows == PRESIZE_ROWS && presize(cs, p - start, end - start) < 0) { r->failed = -1; return -1; }
        p = skip_separators(p, end);
    }
    return rows;
}

static PyObject *finished(Buf *a, Py_ssize_t *rows, Py_ssize_t total) {
    if (pad(a, rows, total) < 0) return NULL;
    for (int i = 0; i < 3; i++) if (buf_finish(&a[i]) < 0) return NULL;
    return PyTuple_Pack(3, a[0].obj, a[1].obj, a[2].obj);
}

static PyObject *result(Columns *cs, Py_ssize_t rows) {
    PyObject *keys = PyList_New(cs->n), *columns = PyList_New(cs->n), *out = NULL;
    if (!keys || !columns) goto done;
    for (Py_ssize_t i = 0; i < cs->n; i++) {
        Column *c = &cs->cols[i];
        PyObject *key = PyUnicode_DecodeUTF8(c->key, c->keylen, "strict");
        if (!key) goto done;
        PyList_SET_ITEM(keys, i, key);
        PyObject *text = finished(c->text, &c->text_rows, rows);
        PyObject *string = text ? finished(c->string, &c->string_rows, rows) : NULL;
        PyObject *pair = string ? PyTuple_Pack(2, text, string) : NULL;
        Py_XDECREF(text);
        Py_XDECREF(string);
        if (!pair) goto done;
        PyList_SET_ITEM(columns, i, pair);
    }
    out = Py_BuildValue("nOO", rows, keys, columns);
done:
    Py_XDECREF(keys);
    Py_XDECREF(columns);
    return out;
}

static PyObject *read_records(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *body, *keys, *verbatim = Py_None;
    if (!PyArg_ParseTuple(args, "OO|O:read", &body, &keys, &verbatim)) return NULL;
    if (keys != Py_None && !PyList_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "keys must be a list of str or None");
        return NULL;
    }
    if (keys == Py_None ? verbatim != Py_None && !PyBool_Check(verbatim)
                        : verbatim != Py_None && (!PyList_Check(verbatim)
                                                  || PyList_GET_SIZE(verbatim) != PyList_GET_SIZE(keys))) {
        PyErr_SetString(PyExc_TypeError, "verbatim must be a list of bools, one per key (a bool for every key)");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) < 0) return NULL;
    Columns cs = {0};
    Reader r = {0};
    PyObject *out = NULL;
    cs.open = keys == Py_None;
    cs.open_verbatim = cs.open && verbatim == Py_True;
    if (buf_init(&r.scratch, 256) < 0) goto done;
    if (!cs.open) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
            Py_ssize_t n;
            if (!PyUnicode_Check(PyList_GET_ITEM(keys, i))) {
                PyErr_SetString(PyExc_TypeError, "keys must be a list of str or None");
                goto done;
            }
            const char *key = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(keys, i), &n);
            if (!key) {  /* a key no UTF-8 text can match (a lone surrogate) */
                if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) goto done;
                PyErr_Clear();
                out = Py_NewRef(Py_None);
                goto done;
            }
            if (find_column(&cs, key, n)) {
                PyErr_SetString(PyExc_ValueError, "keys must be distinct");
                goto done;
            }
            int rc = add_column(&cs, key, n);
            if (rc < 0) goto done;
            if (rc) { out = Py_NewRef(Py_None); goto done; }
            if (verbatim != Py_None) {
                int flag = PyObject_IsTrue(PyList_GET_ITEM(verbatim, i));
                if (flag < 0) goto done;
                cs.cols[cs.n - 1].verbatim = flag;
            }
        }
        if (!cs.n) { out = Py_NewRef(Py_None); goto done; }
    }
    cur p = view.buf, end = p + view.len;
    Py_ssize_t rows = read_body(&r, &cs, p, end);
    if (rows < 0 && r.failed < 0) goto done;
    if (rows <= 0 || !cs.n) {
        PyErr_Clear();
        out = Py_NewRef(Py_None);
        goto done;
    }
    out = result(&cs, rows);
done:
    for (Py_ssize_t i = 0; i < cs.n; i++) column_free(&cs.cols[i]);
    PyMem_Free(cs.cols);
    PyMem_Free(cs.slots);
    Py_XDECREF(r.scratch.obj);
    PyBuffer_Release(&view);
    return out;
}

/* valid_utf8(body): True when every byte sequence is UTF-8 as Python's strict decoder reads it (the
   rule read_string applies to a string's bytes, here over a whole body: ingest's check of text formats). */
static PyObject *valid_utf8(PyObject *self, PyObject *body) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) < 0) return NULL;
    cur p = view.buf, end = p + view.len;
    int valid = 1;
    Py_BEGIN_ALLOW_THREADS
    while (p < end) {
        if (end - p >= 8) {  /* eight ASCII bytes at a time */
            uint64_t word;
            memcpy(&word, p, 8);
            if (!(word & 0x8080808080808080ULL)) { p += 8; continue; }
        }
        if (*p < 0x80) { p++; continue; }
        int n = jl_utf8_length(p, end);
        if (!n) { valid = 0; break; }
        p += n;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyBool_FromLong(valid);
}

static PyMethodDef methods[] = {
    {"valid_utf8", valid_utf8, METH_O, "valid_utf8(body) -> True when the bytes are UTF-8 (Python's strict rule)."},
    {"read", read_records, METH_VARARGS,
     "read(body, keys, verbatim=None) -> (rows, keys, [((validity, offsets, data) of the texts, (...) of the strings)] "
     "per key), or None when the body is not handled. keys: list of str, or None for every key."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "json_records", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_json_records(void) { return PyModule_Create(&module); }
