"""Optional C loops for the hot paths the Python libraries cannot do without a Python object
per value (see bench/README.md). Each module here is built from its `.c` file by setup.py when
a C compiler is there; every caller keeps its pure-Python path and uses that when the module is
missing, so an install without a compiler loses speed, never behaviour.

`load(name)` is the one place that decides: the module, or None when it was not built.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_LOADED: dict[str, ModuleType | None] = {}


def load(name: str) -> ModuleType | None:
    """The built module `kfx_notebook._speedups.<name>`, or None when it was not built."""
    if name not in _LOADED:
        try:
            _LOADED[name] = importlib.import_module(f"{__name__}.{name}")
        except ImportError:
            _LOADED[name] = None
    return _LOADED[name]
