/* The smallest speedup: proves the build works (tests/test_speedups_build.py). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *built(PyObject *self, PyObject *unused) { Py_RETURN_TRUE; }

static PyMethodDef methods[] = {
    {"built", built, METH_NOARGS, "True: the C speedups were compiled in this install."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "probe", NULL, -1, methods};

PyMODINIT_FUNC PyInit_probe(void) { return PyModule_Create(&module); }
