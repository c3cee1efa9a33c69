/* value_types: the exact types of a column's values at every level, the rule of codec._json_value_types.

json_value_types(cells, limit) -> (set of exact types, levels), None, or NotImplemented.
`cells` is a list (a column's values); the answer is codec._json_value_types' own:
  None       a cell's exact type is not one of JSON's (str, int, float, bool, NoneType, dict, list,
             tuple), a dict key at any level is not exactly a str, or a container sits more than
             `limit` levels below the cells (a cycle does: Python's recursion limit is `limit`);
  the set    every value's exact type at every level (a cell, a dict's value, a list's or tuple's
             item; a dict's keys are not counted), and `levels` how many levels the rule walks:
             the cells, then each level below them that holds a container.
  NotImplemented  nesting deeper than MAX_LEVELS (more than this C stack is kept for) within the
             limit: the caller runs its Python rule.
No Python code runs during the walk (exact type checks only; a type outside the eight is noted on
a list and put in the set after the walk), so nothing can change the values under it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MAX_LEVELS 2000

enum { T_STR = 1, T_INT = 2, T_FLOAT = 4, T_BOOL = 8, T_NONE = 16, T_DICT = 32, T_LIST = 64, T_TUPLE = 128 };
enum { WALKED = 1, REFUSED = 0, FAILED = -1, TOO_DEEP = 2 };

typedef struct {
    unsigned seen;       /* the T_ bits of the eight types met */
    PyObject *others;    /* a list of the other types met (may repeat) */
    Py_ssize_t levels;   /* 1 + the deepest level a value was met at */
    Py_ssize_t limit;
} walk_t;

static unsigned type_bit(PyObject *v) {
    if (PyUnicode_CheckExact(v)) return T_STR;
    if (PyBool_Check(v)) return T_BOOL;   /* bool has no subclasses */
    if (PyLong_CheckExact(v)) return T_INT;
    if (PyFloat_CheckExact(v)) return T_FLOAT;
    if (v == Py_None) return T_NONE;
    if (PyDict_CheckExact(v)) return T_DICT;
    if (PyList_CheckExact(v)) return T_LIST;
    if (PyTuple_CheckExact(v)) return T_TUPLE;
    return 0;
}

/* v's type noted; -1 when memory runs out. */
static int note(walk_t *w, PyObject *v, unsigned bit) {
    if (bit) { w->seen |= bit; return 0; }
    if (!w->others && !(w->others = PyList_New(0))) return -1;
    return PyList_Append(w->others, (PyObject *)Py_TYPE(v));
}

static int walk(walk_t *w, PyObject *container, unsigned bit, Py_ssize_t level);

/* A value met at `level`: its type noted, and walked into when it is a container. */
static int visit(walk_t *w, PyObject *v, Py_ssize_t level) {
    unsigned bit = type_bit(v);
    if (note(w, v, bit) < 0) return FAILED;
    int container = (bit & (T_DICT | T_LIST | T_TUPLE)) != 0;
    if ((container || !level) && level + 1 > w->levels) w->levels = level + 1;   /* a level: the cells, or containers */
    return container ? walk(w, v, bit, level) : WALKED;
}

/* The values inside a container at `level`, at level + 1. */
static int walk(walk_t *w, PyObject *container, unsigned bit, Py_ssize_t level) {
    if (level > w->limit) return REFUSED;     /* as deep as the Python rule's recursion-limit check */
    if (level >= MAX_LEVELS) return TOO_DEEP;
    if (bit == T_DICT) {
        Py_ssize_t at = 0;
        PyObject *key, *value;
        while (PyDict_Next(container, &at, &key, &value)) {
            if (!PyUnicode_CheckExact(key)) return REFUSED;
        }
        at = 0;
        while (PyDict_Next(container, &at, &key, &value)) {
            int rc = visit(w, value, level + 1);
            if (rc != WALKED) return rc;
        }
        return WALKED;
    }
    Py_ssize_t n = bit == T_LIST ? PyList_GET_SIZE(container) : PyTuple_GET_SIZE(container);
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = visit(w, bit == T_LIST ? PyList_GET_ITEM(container, i) : PyTuple_GET_ITEM(container, i), level + 1);
        if (rc != WALKED) return rc;
    }
    return WALKED;
}

static PyObject *json_value_types(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cells;
    walk_t w = {0};
    if (!PyArg_ParseTuple(args, "O!n", &PyList_Type, &cells, &w.limit)) return NULL;
    int rc = WALKED;
    for (Py_ssize_t i = 0; rc == WALKED && i < PyList_GET_SIZE(cells); i++) {
        PyObject *cell = PyList_GET_ITEM(cells, i);
        rc = type_bit(cell) ? visit(&w, cell, 0) : REFUSED;   /* a cell must be of JSON's own types */
    }
    PyObject *out = NULL, *seen = NULL;
    if (rc == FAILED) goto done;
    if (rc == REFUSED) { out = Py_NewRef(Py_None); goto done; }
    if (rc == TOO_DEEP) { out = Py_NewRef(Py_NotImplemented); goto done; }
    static PyTypeObject *const types[] = {&PyUnicode_Type, &PyLong_Type, &PyFloat_Type, &PyBool_Type,
                                          NULL /* NoneType */, &PyDict_Type, &PyList_Type, &PyTuple_Type};
    if (!(seen = PySet_New(w.others))) goto done;
    for (int k = 0; k < 8; k++) {
        if (!(w.seen >> k & 1)) continue;
        PyObject *type = types[k] ? (PyObject *)types[k] : (PyObject *)Py_TYPE(Py_None);
        if (PySet_Add(seen, type) < 0) goto done;
    }
    out = Py_BuildValue("(On)", seen, w.levels);
done:
    Py_XDECREF(seen);
    Py_XDECREF(w.others);
    return out;
}

static PyMethodDef methods[] = {
    {"json_value_types", json_value_types, METH_VARARGS,
     "json_value_types(cells, limit) -> (exact types at every level, levels), None or NotImplemented."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "value_types", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_value_types(void) { return PyModule_Create(&module); }
