/* json_lex.h's rules as Python functions, so tests hold them against msgspec (tests/test_json_lex.py).
 * Each takes one whole JSON text (any bytes-like object) and returns None where json_lex.h
 * refuses it. No library code calls this module; the speedups include the header itself. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "json_lex.h"

/* The bytes write(p, q, out) writes into a buffer of q - p bytes (all it may write). */
static PyObject *written(size_t (*write)(const char *, const char *, char *), const char *p, const char *q) {
    char *out = PyMem_Malloc((size_t)(q - p)); /* PyMem_Malloc(0) is a valid pointer too */
    if (!out) return PyErr_NoMemory();
    size_t length = write(p, q, out);
    PyObject *bytes = PyBytes_FromStringAndSize(out, (Py_ssize_t)length);
    PyMem_Free(out);
    return bytes;
}

/* string(data) -> (content: bytes, flags: int) | None: data is exactly one JSON string. */
static PyObject *lex_string(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = view.buf, *end = p + view.len;
    PyObject *result = NULL;
    int flags = 0;
    const char *close = (view.len > 0 && *p == '"') ? jl_string_end(p + 1, end, &flags) : NULL;
    if (!close || close + 1 != end) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *content = written(jl_unescape, p + 1, close);
    result = content ? Py_BuildValue("(Ni)", content, flags) : NULL;
done:
    PyBuffer_Release(&view);
    return result;
}

/* number(data) -> is_integer: bool | None: data is exactly one JSON number. */
static PyObject *lex_number(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = view.buf, *end = p + view.len;
    int integer = 0;
    const char *after = jl_number_end(p, end, &integer);
    PyBuffer_Release(&view);
    if (after != end) Py_RETURN_NONE;
    return PyBool_FromLong(integer);
}

/* value(data, max_depth) -> (kind: int, minified: bytes) | None: data is one JSON value with
 * whitespace around it allowed. */
static PyObject *lex_value(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    int max_depth;
    if (!PyArg_ParseTuple(args, "y*i", &view, &max_depth)) return NULL;
    const char *end = (const char *)view.buf + view.len;
    const char *p = jl_skip_ws(view.buf, end);
    PyObject *result = NULL;
    int kind = -1;
    const char *after = jl_value_end(p, end, max_depth, &kind);
    if (!after || jl_skip_ws(after, end) != end) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *text = written(jl_copy_minified, p, after);
    result = text ? Py_BuildValue("(iN)", kind, text) : NULL;
done:
    PyBuffer_Release(&view);
    return result;
}

/* skip_ws(data) -> the offset of the first byte that is not JSON whitespace. */
static PyObject *lex_skip_ws(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = view.buf;
    Py_ssize_t offset = jl_skip_ws(p, p + view.len) - p;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(offset);
}

static PyMethodDef methods[] = {
    {"string", lex_string, METH_O, "(content, flags) of one whole JSON string, or None."},
    {"number", lex_number, METH_O, "Whether one whole JSON number is an integer, or None."},
    {"value", lex_value, METH_VARARGS, "(kind, minified) of one whole JSON value, or None."},
    {"skip_ws", lex_skip_ws, METH_O, "The offset of the first byte that is not JSON whitespace."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "json_lex", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_json_lex(void) {
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    /* the kinds jl_value_end reports */
    if (PyModule_AddIntConstant(m, "NULL", JL_NULL) < 0 || PyModule_AddIntConstant(m, "FALSE", JL_FALSE) < 0 ||
        PyModule_AddIntConstant(m, "TRUE", JL_TRUE) < 0 || PyModule_AddIntConstant(m, "INTEGER", JL_INTEGER) < 0 ||
        PyModule_AddIntConstant(m, "NUMBER", JL_NUMBER) < 0 || PyModule_AddIntConstant(m, "STRING", JL_STRING) < 0 ||
        PyModule_AddIntConstant(m, "CONTAINER", JL_CONTAINER) < 0 ||
        PyModule_AddIntConstant(m, "ESCAPED", JL_ESCAPED) < 0 || PyModule_AddIntConstant(m, "NON_ASCII", JL_NON_ASCII) < 0 ||
        PyModule_AddIntConstant(m, "MAX_DEPTH", JL_MAX_DEPTH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
