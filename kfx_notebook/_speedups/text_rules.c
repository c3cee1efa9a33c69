/* Kusto's datetime and timespan texts -> microseconds, in one pass: ingest_columns' vectorized rules.

   datetimes(validity, offsets, data, offset, length) and timespans(...) read an Arrow string array's
   buffers (validity may be None; offset and length as the array's) and return (covered, micros):
   covered a bitmap of the texts the rule covers, micros their int64 values (0 elsewhere), the
   buffers of Arrow arrays. The rules are exactly ingest_columns' patterns:
     datetime  ^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]
               (\.[0-9]{1,9})?[Zz]?$ with the day in the month, the fraction cut to 6 digits (UTC);
     timespan  ^-?([0-9]{1,8}\.)?[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{7})?$, the fraction cut to 6 digits.
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

static int datetime(cur s, Py_ssize_t n, int64_t *out) {
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

static int timespan(cur s, Py_ssize_t n, int64_t *out) {
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

typedef int (*rule_fn)(cur, Py_ssize_t, int64_t *);

static PyObject *apply(PyObject *args, rule_fn rule) {
    PyObject *validity_obj, *offsets_obj, *data_obj;
    Py_ssize_t offset, length;
    if (!PyArg_ParseTuple(args, "OOOnn", &validity_obj, &offsets_obj, &data_obj, &offset, &length)) return NULL;
    Py_buffer validity = {0}, offsets = {0}, data = {0};
    PyObject *covered = NULL, *micros = NULL, *out = NULL;
    int have_validity = validity_obj != Py_None;
    if (have_validity && PyObject_GetBuffer(validity_obj, &validity, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(offsets_obj, &offsets, PyBUF_SIMPLE) < 0) goto done;
    if (PyObject_GetBuffer(data_obj, &data, PyBUF_SIMPLE) < 0) goto done;
    if (offset < 0 || length < 0 || offset > PY_SSIZE_T_MAX / 8 - length
        || offsets.len / 4 < offset + length + 1 || (have_validity && validity.len < (offset + length + 7) / 8)) {
        PyErr_SetString(PyExc_ValueError, "the buffers do not hold that many strings");
        goto done;
    }
    covered = PyBytes_FromStringAndSize(NULL, (length + 7) / 8);
    micros = PyBytes_FromStringAndSize(NULL, length * 8);
    if (!covered || !micros) goto done;
    unsigned char *bits = (unsigned char *)PyBytes_AS_STRING(covered);
    int64_t *values = (int64_t *)PyBytes_AS_STRING(micros);
    memset(bits, 0, (size_t)((length + 7) / 8));
    const unsigned char *valid = validity.buf;
    const char *offs = offsets.buf;
    cur text = data.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < length; k++) {
        Py_ssize_t row = offset + k;
        int32_t start, stop;
        memcpy(&start, offs + 4 * row, 4);
        memcpy(&stop, offs + 4 * (row + 1), 4);
        values[k] = 0;
        if (have_validity && !(valid[row / 8] >> (row % 8) & 1)) continue;
        if (start < 0 || stop < start || stop > data.len) { bad = 1; break; }
        if (rule(text + start, stop - start, &values[k])) bits[k / 8] |= (unsigned char)(1 << (k % 8));
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "an offset points outside the data");
        goto done;
    }
    out = PyTuple_Pack(2, covered, micros);
done:
    Py_XDECREF(covered);
    Py_XDECREF(micros);
    if (have_validity) PyBuffer_Release(&validity);
    if (offsets.obj) PyBuffer_Release(&offsets);
    if (data.obj) PyBuffer_Release(&data);
    return out;
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
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "text_rules", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_text_rules(void) { return PyModule_Create(&module); }
