/* A chunk of a v2 DataTable's "Rows" array -> per column the values' kinds and texts, as buffers
 * Arrow and numpy read without a Python object per value (kfx_notebook/v2_columns.py).
 *
 * columns(buffer, start, width, modes) reads whole rows from buffer[start:] (start at or before
 * the first row's `[`): each an array of exactly `width` values, each row followed by `,` or `]`.
 * It returns (end, count, [(seen, nulls, kinds, offsets, data) per column]) for the rows that are
 * whole: end is the index just after the last one's `]`; seen has bit 1 << kind for every kind
 * in the column; kinds one byte per value (json_lex.h's jl_kind); offsets int32 (count + 1; None
 * in JSON mode).
 * modes[i] says what data holds: 0 TEXT, each value's text (a string's content unescaped to
 * UTF-8, a number's token, a container minified, nothing for null/true/false) at offsets;
 * 1 JSON, the column as one JSON array text (values as they are spelled, minified; no offsets).
 * It stops at the first row it cannot take. A row cut by the buffer's end (or malformed) ends
 * the chunk there; a whole row it does not take (not such an array, a number whose value it is
 * unsure of: more than 40 characters or an exponent beyond +-250, some of which msgspec refuses
 * for their value) makes it return None, and so does a first row it cannot take: the caller then
 * hands the chunk msgspec would have decoded to msgspec, which decides and words any error. So
 * the chunks are cut where msgspec's path cuts them (after the last whole row in the buffer).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "json_lex.h"

enum { MODE_TEXT = 0, MODE_JSON = 1 };
#define CONTAINER_DEPTH 256  /* deeper dynamic values take the caller's path */
#define SURE_NUMBER_LENGTH 40
#define SURE_EXPONENT 250

typedef struct {
    char *data;
    size_t length, capacity;
} growing;

/* Room for `extra` more bytes; -1 (MemoryError set) when it cannot be had. */
static int reserve(growing *g, size_t extra) {
    if (extra > (size_t)PY_SSIZE_T_MAX - g->length) {
        PyErr_NoMemory();
        return -1;
    }
    size_t needed = g->length + extra;
    if (needed <= g->capacity) return 0;
    size_t capacity = g->capacity ? g->capacity : 1024;
    while (capacity < needed) {
        if (capacity > (size_t)PY_SSIZE_T_MAX / 2) {
            capacity = needed;
            break;
        }
        capacity *= 2;
    }
    char *data = PyMem_Realloc(g->data, capacity);
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    g->data = data;
    g->capacity = capacity;
    return 0;
}

typedef struct {
    growing kinds, offsets, data;
    int mode;
} column;

/* Whether a number token [p, q) has a value msgspec surely takes (no "Number out of range" nor an
 * integer too long for it): short, and an exponent of at most three digits within +-250. */
static int sure_number(const char *p, const char *q) {
    if (q - p > SURE_NUMBER_LENGTH) return 0;
    for (const char *e = p; e < q; e++) {
        if (*e != 'e' && *e != 'E') continue;
        e++;
        if (*e == '+' || *e == '-') e++;
        int exponent = 0;
        for (; e < q; e++) {
            exponent = exponent * 10 + (*e - '0');
            if (exponent > SURE_EXPONENT) return 0;
        }
        return 1;
    }
    return 1;
}

/* Append one value at p (its first byte) to c; the pointer after it, or NULL when the value is
 * not one this handles (*failed set when the failure is memory: an exception is set). */
static const char *append_value(column *c, const char *p, const char *end, int first, int *failed) {
    int kind = JL_NULL, flags = 0;
    const char *q;
    if (*p == '"') {
        const char *close = jl_string_end(p + 1, end, &flags);
        if (!close) return NULL;
        q = close + 1;
        kind = JL_STRING;
    } else {
        q = jl_value_end(p, end, CONTAINER_DEPTH, &kind);
        if (!q) return NULL;
        if ((kind == JL_INTEGER || kind == JL_NUMBER) && !sure_number(p, q)) return NULL;
    }
    size_t length = (size_t)(q - p);
    if (reserve(&c->kinds, 1) < 0 || reserve(&c->data, length + 1) < 0) goto memory;
    c->kinds.data[c->kinds.length++] = (char)kind;
    char *out = c->data.data + c->data.length;
    if (c->mode == MODE_JSON) {
        if (!first) *out++ = ',';
        if (kind == JL_CONTAINER) out += jl_copy_minified(p, q, out);
        else {
            memcpy(out, p, length);
            out += length;
        }
    } else if (kind == JL_STRING) {
        if (flags & JL_ESCAPED) out += jl_unescape(p + 1, q - 1, out);
        else {
            memcpy(out, p + 1, length - 2);
            out += length - 2;
        }
    } else if (kind == JL_CONTAINER) {
        out += jl_copy_minified(p, q, out);
    } else if (kind == JL_INTEGER || kind == JL_NUMBER) {
        memcpy(out, p, length);
        out += length;
    }
    c->data.length = (size_t)(out - c->data.data);
    if (c->mode == MODE_TEXT) {
        if (c->data.length > INT32_MAX) return NULL; /* beyond int32 offsets: not taken (the row rolls back) */
        if (reserve(&c->offsets, sizeof(int32_t)) < 0) goto memory;
        int32_t offset = (int32_t)c->data.length;
        memcpy(c->offsets.data + c->offsets.length, &offset, sizeof offset);
        c->offsets.length += sizeof offset;
    }
    return q;
memory:
    *failed = 1;
    return NULL;
}

/* One row at p (its `[`): the pointer after its `]`, or NULL. */
static const char *append_row(column *columns, Py_ssize_t width, const char *p, const char *end, int first,
                              int *failed) {
    if (p >= end || *p != '[') return NULL;
    p++;
    for (Py_ssize_t i = 0; i < width; i++) {
        p = jl_skip_ws(p, end);
        if (i > 0) {
            if (p >= end || *p != ',') return NULL;
            p = jl_skip_ws(p + 1, end);
        }
        if (p >= end) return NULL;
        p = append_value(&columns[i], p, end, first, failed);
        if (!p) return NULL;
    }
    p = jl_skip_ws(p, end);
    if (p >= end || *p != ']') return NULL;
    return p + 1;
}

static PyObject *column_result(column *c, Py_ssize_t count) {
    unsigned long seen = 0;
    Py_ssize_t nulls = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        unsigned char kind = (unsigned char)c->kinds.data[i];
        seen |= 1UL << kind;
        nulls += kind == JL_NULL;
    }
    if (c->mode == MODE_JSON) {
        if (reserve(&c->data, 1) < 0) return NULL;
        c->data.data[c->data.length++] = ']';
    }
    return Py_BuildValue("(kny#y#y#)", seen, nulls, c->kinds.data, (Py_ssize_t)count, c->offsets.data,
                         (Py_ssize_t)c->offsets.length, c->data.data, (Py_ssize_t)c->data.length);
}

static PyObject *v2_columns(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view, modes;
    Py_ssize_t start, width;
    if (!PyArg_ParseTuple(args, "y*nny*", &view, &start, &width, &modes)) return NULL;
    PyObject *result = NULL, *list = NULL;
    column *columns = NULL;
    size_t *marks = NULL; /* per column: kinds, offsets and data lengths at the row's start */
    if (width <= 0 || modes.len != width || start < 0 || start > view.len) {
        PyErr_SetString(PyExc_ValueError, "columns(): width must be positive, len(modes) == width, 0 <= start <= len");
        goto done;
    }
    columns = PyMem_Calloc((size_t)width, sizeof *columns);
    marks = PyMem_Calloc((size_t)width * 3, sizeof *marks);
    if (!columns || !marks) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < width; i++) {
        char mode = ((const char *)modes.buf)[i];
        if (mode != MODE_TEXT && mode != MODE_JSON) {
            PyErr_SetString(PyExc_ValueError, "columns(): a mode is 0 (text) or 1 (json)");
            goto done;
        }
        columns[i].mode = mode;
        growing *opening = mode == MODE_JSON ? &columns[i].data : &columns[i].offsets;
        if (reserve(opening, sizeof(int32_t)) < 0) goto done;
        if (mode == MODE_JSON) opening->data[opening->length++] = '[';
        else {
            memset(opening->data, 0, sizeof(int32_t));
            opening->length = sizeof(int32_t);
        }
    }
    const char *base = view.buf, *end = base + view.len;
    const char *p = jl_skip_ws(base + start, end), *last = NULL;
    Py_ssize_t count = 0;
    for (;;) {
        for (Py_ssize_t i = 0; i < width; i++) {
            marks[3 * i] = columns[i].kinds.length;
            marks[3 * i + 1] = columns[i].offsets.length;
            marks[3 * i + 2] = columns[i].data.length;
        }
        int failed = 0;
        const char *after = append_row(columns, width, p, end, count == 0, &failed);
        if (failed) goto done;
        const char *next = after ? jl_skip_ws(after, end) : NULL;
        if (!next || next >= end || (*next != ',' && *next != ']')) { /* not whole, or not followed as a row is */
            if (!after && jl_value_end(p, end, JL_MAX_DEPTH, NULL)) {
                /* a whole value it does not take (another width, not an array, a number it is
                 * unsure of): the chunk msgspec would decode holds it, so msgspec takes all of it */
                count = 0;
                break;
            }
            for (Py_ssize_t i = 0; i < width; i++) {
                columns[i].kinds.length = marks[3 * i];
                columns[i].offsets.length = marks[3 * i + 1];
                columns[i].data.length = marks[3 * i + 2];
            }
            break;
        }
        count++;
        last = after;
        if (*next == ']') break;
        p = jl_skip_ws(next + 1, end);
    }
    if (count == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    list = PyList_New(width);
    if (!list) goto done;
    for (Py_ssize_t i = 0; i < width; i++) {
        PyObject *one = column_result(&columns[i], count);
        if (!one) goto done;
        PyList_SET_ITEM(list, i, one);
    }
    result = Py_BuildValue("(nnO)", (Py_ssize_t)(last - base), count, list);
done:
    Py_XDECREF(list);
    if (columns) {
        for (Py_ssize_t i = 0; i < width; i++) {
            PyMem_Free(columns[i].kinds.data);
            PyMem_Free(columns[i].offsets.data);
            PyMem_Free(columns[i].data.data);
        }
        PyMem_Free(columns);
    }
    PyMem_Free(marks);
    PyBuffer_Release(&view);
    PyBuffer_Release(&modes);
    return result;
}

static PyMethodDef methods[] = {
    {"columns", v2_columns, METH_VARARGS,
     "columns(buffer, start, width, modes) -> (end, count, [(seen, nulls, kinds, offsets, data)]) | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "v2_rows", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_v2_rows(void) { return PyModule_Create(&module); }
