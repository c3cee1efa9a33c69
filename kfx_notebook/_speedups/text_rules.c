/* Kusto's datetime and timespan texts -> microseconds, in one pass: ingest_columns' vectorized rules.

   datetimes(validity, offsets, data, offset, length) and timespans(...) read an Arrow string array's
   buffers (validity may be None; offset and length as the array's) and return (covered, micros):
   covered a bitmap of the texts the rule covers, micros their int64 values (0 elsewhere), the
   buffers of Arrow arrays. The rules are exactly ingest_columns' patterns:
     datetime  ^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]
               (\.[0-9]{1,9})?[Zz]?$ with the day in the month, the fraction cut to 6 digits (UTC);
     timespan  ^-?([0-9]{1,8}\.)?[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{7})?$, the fraction cut to 6 digits.
   kinds(texts..., strings..., length) reads a JSON reader's column (json_inference.kinds_of_texts: each
   value's text and, where it is a string, its content; each array as validity, offsets, data, offset)
   and returns the bits of the kinds json_inference's patterns give its values (KIND_* below):
     a string   ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$
                datetime, else ^-?([0-9]+\.)?[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?$ timespan, else string;
                one with a byte >= 0x80 or a line feed sets NOT_PLAIN instead (Python's \d and $ decide those);
     another    [ or { first: dynamic; true or false: bool; ^-?(0|[1-9][0-9]*)$ long; a JSON number with a
                fraction or exponent: real; anything else sets UNKNOWN.
   numbers(validity, offsets, data, offset, length, I, F, E) returns the covered bitmap of
   ^-?[0-9]{1,I}(\.[0-9]{1,F})?([eE][-+]?[0-9]{1,E})?$ (F = 0: no fraction, E = 0: no exponent): the texts
   ingest_columns' number rules hand to Arrow's cast.
   Every offset is checked against the data before it is read; a malformed array is a ValueError. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef const unsigned char *cur;

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* The number the n digits at p spell, or -1 when one is not a digit. */
static int64_t number(cur p, int n) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int64_t m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

/* First `n` fraction digits at p (up to `have` there), right-padded with zeros: microseconds when n = 6. */
static int64_t fraction(cur p, int have, int n) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (i < have ? p[i] - '0' : 0);
    return v;
}

static int datetime(cur s, Py_ssize_t n, int64_t *out, const Py_ssize_t *limits) {
    (void)limits;
    if (n < 19 || n > 30) return 0;
    int64_t y = number(s, 4), mo = number(s + 5, 2), d = number(s + 8, 2);
    int64_t h = number(s + 11, 2), mi = number(s + 14, 2), sec = number(s + 17, 2);
    if (y < 1000 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return 0;
    Py_ssize_t i = 19;
    int digits = 0;
    if (i < n && s[i] == '.') {
        i++;
        while (i + digits < n && is_digit(s[i + digits])) digits++;
        if (digits < 1 || digits > 9) return 0;
    }
    cur frac = s + i;
    i += digits;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) i++;
    if (i != n || d > days_in_month(y, mo)) return 0;
    *out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000) + fraction(frac, digits, 6);
    return 1;
}

static int timespan(cur s, Py_ssize_t n, int64_t *out, const Py_ssize_t *limits) {
    (void)limits;
    Py_ssize_t i = 0;
    int negative = n > 0 && s[0] == '-';
    i += negative;
    Py_ssize_t run = 0;
    while (i + run < n && is_digit(s[i + run])) run++;
    int64_t days = 0;
    if (i + run < n && s[i + run] == '.') {  /* days. */
        if (run < 1 || run > 8) return 0;
        days = number(s + i, (int)run);
        i += run + 1;
    }
    if (n - i != 8 && n - i != 16) return 0;
    int64_t h = number(s + i, 2), m = number(s + i + 3, 2), sec = number(s + i + 6, 2);
    if (h < 0 || m < 0 || sec < 0 || s[i + 2] != ':' || s[i + 5] != ':') return 0;
    int64_t micros = 0;
    if (n - i == 16) {
        if (s[i + 8] != '.' || number(s + i + 9, 7) < 0) return 0;
        micros = fraction(s + i + 9, 7, 6);
    }
    int64_t total = (days * 86400 + h * 3600 + m * 60 + sec) * 1000000 + micros;
    *out = negative ? -total : total;
    return 1;
}

/* An Arrow string array's buffers, held for a call. */
typedef struct {
    Py_buffer validity, offsets, data;
    int have_validity;
    Py_ssize_t offset;
} strings_t;

static void strings_release(strings_t *a) {
    if (a->validity.obj) PyBuffer_Release(&a->validity);
    if (a->offsets.obj) PyBuffer_Release(&a->offsets);
    if (a->data.obj) PyBuffer_Release(&a->data);
}

/* Holds the buffers of `length` strings from `offset`; -1 with an exception (nothing held). */
static int strings_get(PyObject *validity, PyObject *offsets, PyObject *data, Py_ssize_t offset,
                       Py_ssize_t length, strings_t *a) {
    memset(a, 0, sizeof *a);
    a->offset = offset;
    a->have_validity = validity != Py_None;
    if ((a->have_validity && PyObject_GetBuffer(validity, &a->validity, PyBUF_SIMPLE) < 0)
        || PyObject_GetBuffer(offsets, &a->offsets, PyBUF_SIMPLE) < 0
        || PyObject_GetBuffer(data, &a->data, PyBUF_SIMPLE) < 0) {
        strings_release(a);
        return -1;
    }
    if (offset < 0 || length < 0 || offset > PY_SSIZE_T_MAX / 8 - length
        || a->offsets.len / 4 < offset + length + 1 || (a->have_validity && a->validity.len < (offset + length + 7) / 8)) {
        PyErr_SetString(PyExc_ValueError, "the buffers do not hold that many strings");
        strings_release(a);
        return -1;
    }
    return 0;
}

/* String k's bytes into *text, *n: 1; 0 when it is null; -1 when its offsets point outside the data. */
static int string_at(const strings_t *a, Py_ssize_t k, cur *text, Py_ssize_t *n) {
    Py_ssize_t row = a->offset + k;
    const unsigned char *valid = a->validity.buf;
    if (a->have_validity && !(valid[row / 8] >> (row % 8) & 1)) return 0;
    int32_t start, stop;
    memcpy(&start, (const char *)a->offsets.buf + 4 * row, 4);
    memcpy(&stop, (const char *)a->offsets.buf + 4 * (row + 1), 4);
    if (start < 0 || stop < start || stop > a->data.len) return -1;
    *text = (cur)a->data.buf + start;
    *n = stop - start;
    return 1;
}

/* A rule: a text's bytes -> whether it covers them, its value into *out (only then); `limits` are the
   rule's own parameters, or NULL. */
typedef int (*rule_fn)(cur, Py_ssize_t, int64_t *, const Py_ssize_t *limits);

/* The rule over every text, the GIL released: the covered bitmap into bits, and each value (0 where not
   covered) into values unless it is NULL; -1 with a ValueError when an offset points outside the data. */
static int cover(const strings_t *texts, Py_ssize_t length, rule_fn rule, const Py_ssize_t *limits,
                 unsigned char *bits, int64_t *values) {
    memset(bits, 0, (size_t)((length + 7) / 8));
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < length; k++) {
        cur text;
        Py_ssize_t n;
        int64_t value = 0;
        int found = string_at(texts, k, &text, &n);
        if (found < 0) { bad = 1; break; }
        if (found && rule(text, n, &value, limits)) bits[k / 8] |= (unsigned char)(1 << (k % 8));
        if (values) values[k] = value;
    }
    Py_END_ALLOW_THREADS
    if (bad) PyErr_SetString(PyExc_ValueError, "an offset points outside the data");
    return bad ? -1 : 0;
}

static PyObject *apply(PyObject *args, rule_fn rule) {
    PyObject *validity_obj, *offsets_obj, *data_obj;
    Py_ssize_t offset, length;
    if (!PyArg_ParseTuple(args, "OOOnn", &validity_obj, &offsets_obj, &data_obj, &offset, &length)) return NULL;
    strings_t texts;
    if (strings_get(validity_obj, offsets_obj, data_obj, offset, length, &texts) < 0) return NULL;
    PyObject *covered = PyBytes_FromStringAndSize(NULL, (length + 7) / 8);
    PyObject *micros = PyBytes_FromStringAndSize(NULL, length * 8), *out = NULL;
    if (covered && micros && cover(&texts, length, rule, NULL, (unsigned char *)PyBytes_AS_STRING(covered),
                                   (int64_t *)PyBytes_AS_STRING(micros)) == 0)
        out = PyTuple_Pack(2, covered, micros);
    Py_XDECREF(covered);
    Py_XDECREF(micros);
    strings_release(&texts);
    return out;
}

/* -- kinds: json_inference's patterns ---------------------------------------------------------- */
enum { KIND_DATETIME = 1, KIND_TIMESPAN = 2, KIND_STRING = 4, KIND_DYNAMIC = 8, KIND_BOOL = 16, KIND_LONG = 32,
       KIND_REAL = 64, NOT_PLAIN = 128, UNKNOWN = 256 };

/* n digits at p, all before e. */
static int digits_at(cur p, cur e, Py_ssize_t n) {
    if (e - p < n) return 0;
    for (Py_ssize_t i = 0; i < n; i++) if (!is_digit(p[i])) return 0;
    return 1;
}

/* Two digits at p, then `sep`. */
static int pair_then(cur p, cur e, char sep) { return digits_at(p, e, 2) && e - p > 2 && p[2] == sep; }

static int inferred_datetime(cur p, cur e) {
    if (!digits_at(p, e, 4) || e - p < 5 || p[4] != '-') return 0;
    p += 5;
    if (!pair_then(p, e, '-')) return 0;
    p += 3;
    if (!pair_then(p, e, 'T')) return 0;
    p += 3;
    if (!pair_then(p, e, ':')) return 0;
    p += 3;
    if (!digits_at(p, e, 2)) return 0;
    p += 2;
    if (p < e && *p == ':') {   /* taken whenever it is there: what may follow the group never starts with ':' */
        if (!digits_at(++p, e, 2)) return 0;
        p += 2;
        if (p < e && *p == '.') {
            cur digits = ++p;
            while (p < e && is_digit(*p)) p++;
            if (p == digits) return 0;
        }
    }
    if (p < e && *p == 'Z') return p + 1 == e;
    if (p < e && (*p == '+' || *p == '-')) return pair_then(p + 1, e, ':') && digits_at(p + 4, e, 2) && p + 6 == e;
    return 0;
}

static int inferred_timespan(cur p, cur e) {
    if (p < e && *p == '-') p++;
    cur run = p;
    while (run < e && is_digit(*run)) run++;
    if (run > p && run < e && *run == '.') p = run + 1;   /* days: hh: cannot follow digits and a '.' */
    if (!pair_then(p, e, ':') || !pair_then(p + 3, e, ':') || !digits_at(p + 6, e, 2)) return 0;
    p += 8;
    if (p == e) return 1;
    if (*p != '.') return 0;
    cur digits = ++p;
    while (p < e && is_digit(*p)) p++;
    return p == e && p - digits >= 1 && p - digits <= 7;
}

/* KIND_LONG or KIND_REAL for a JSON number token spanning [p, e), else 0. */
static int number_kind(cur p, cur e) {
    if (p < e && *p == '-') p++;
    if (p >= e) return 0;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < e && is_digit(*p)) p++;
    else return 0;
    if (p == e) return KIND_LONG;
    if (*p == '.') {
        cur digits = ++p;
        while (p < e && is_digit(*p)) p++;
        if (p == digits) return 0;
        if (p == e) return KIND_REAL;
    }
    if (*p != 'e' && *p != 'E') return 0;
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    cur digits = p;
    while (p < e && is_digit(*p)) p++;
    return p > digits && p == e ? KIND_REAL : 0;
}

static int string_kind(cur p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) if (p[i] >= 0x80 || p[i] == '\n') return NOT_PLAIN;
    return inferred_datetime(p, p + n) ? KIND_DATETIME : inferred_timespan(p, p + n) ? KIND_TIMESPAN : KIND_STRING;
}

static int native_kind(cur p, Py_ssize_t n) {
    if (n && (p[0] == '[' || p[0] == '{')) return KIND_DYNAMIC;
    if ((n == 4 && !memcmp(p, "true", 4)) || (n == 5 && !memcmp(p, "false", 5))) return KIND_BOOL;
    int kind = number_kind(p, p + n);
    return kind ? kind : UNKNOWN;
}

/* The number pattern of `numbers` with its digit limits. */
static int number_text(cur p, Py_ssize_t n, Py_ssize_t ints, Py_ssize_t fracs, Py_ssize_t exps) {
    cur e = p + n, digits;
    if (p < e && *p == '-') p++;
    for (digits = p; p < e && is_digit(*p); p++) {}
    if (p == digits || p - digits > ints) return 0;
    if (fracs && p < e && *p == '.') {
        for (digits = ++p; p < e && is_digit(*p); p++) {}
        if (p == digits || p - digits > fracs) return 0;
    }
    if (exps && p < e && (*p == 'e' || *p == 'E')) {
        if (++p < e && (*p == '+' || *p == '-')) p++;
        for (digits = p; p < e && is_digit(*p); p++) {}
        if (p == digits || p - digits > exps) return 0;
    }
    return p == e;
}

/* number_text as a rule: limits are its (ints, fracs, exps); no value. */
static int number_rule(cur p, Py_ssize_t n, int64_t *out, const Py_ssize_t *limits) {
    (void)out;
    return number_text(p, n, limits[0], limits[1], limits[2]);
}

static PyObject *numbers(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *validity, *offsets, *data;
    Py_ssize_t offset, length, limits[3];
    if (!PyArg_ParseTuple(args, "OOOnnnnn", &validity, &offsets, &data, &offset, &length, &limits[0], &limits[1],
                          &limits[2]))
        return NULL;
    strings_t texts;
    if (strings_get(validity, offsets, data, offset, length, &texts) < 0) return NULL;
    PyObject *covered = PyBytes_FromStringAndSize(NULL, (length + 7) / 8);
    if (covered && cover(&texts, length, number_rule, limits, (unsigned char *)PyBytes_AS_STRING(covered), NULL) < 0)
        Py_CLEAR(covered);
    strings_release(&texts);
    return covered;
}

static PyObject *kinds(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *tv, *to, *td, *sv, *so, *sd;
    Py_ssize_t text_offset, string_offset, length;
    if (!PyArg_ParseTuple(args, "OOOnOOOnn", &tv, &to, &td, &text_offset, &sv, &so, &sd, &string_offset, &length))
        return NULL;
    strings_t texts, strings;
    if (strings_get(tv, to, td, text_offset, length, &texts) < 0) return NULL;
    if (strings_get(sv, so, sd, string_offset, length, &strings) < 0) { strings_release(&texts); return NULL; }
    int found = 0, bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < length && !(found & (NOT_PLAIN | UNKNOWN)); k++) {
        cur text;
        Py_ssize_t n;
        int is_string = string_at(&strings, k, &text, &n);   /* a string: its content's kind */
        int is_text = is_string ? 0 : string_at(&texts, k, &text, &n);   /* else its text's, unless null */
        if (is_string < 0 || is_text < 0) { bad = 1; break; }
        if (is_string) found |= string_kind(text, n);
        else if (is_text) found |= native_kind(text, n);
    }
    Py_END_ALLOW_THREADS
    strings_release(&texts);
    strings_release(&strings);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "an offset points outside the data");
        return NULL;
    }
    return PyLong_FromLong(found);
}

static PyObject *datetimes(PyObject *self, PyObject *args) {
    (void)self;
    return apply(args, datetime);
}

static PyObject *timespans(PyObject *self, PyObject *args) {
    (void)self;
    return apply(args, timespan);
}

static PyMethodDef methods[] = {
    {"datetimes", datetimes, METH_VARARGS,
     "datetimes(validity, offsets, data, offset, length) -> (covered bitmap, int64 microseconds) of ISO texts."},
    {"timespans", timespans, METH_VARARGS,
     "timespans(validity, offsets, data, offset, length) -> (covered bitmap, int64 microseconds) of Kusto texts."},
    {"numbers", numbers, METH_VARARGS,
     "numbers(validity, offsets, data, offset, length, ints, fracs, exps) -> covered bitmap of number texts."},
    {"kinds", kinds, METH_VARARGS,
     "kinds(text validity, offsets, data, offset, string validity, offsets, data, offset, length) -> kind bits."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "text_rules", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_text_rules(void) { return PyModule_Create(&module); }
