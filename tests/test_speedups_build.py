"""The optional C speedups are built wherever they can be: a missing module is allowed only on
a machine without a C compiler or Python's headers (setup.py builds them with optional=True,
which would otherwise hide a broken build and lose the speed silently)."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest

from kfx_notebook import _speedups

SOURCES = sorted(Path(_speedups.__file__).parent.glob("*.c"))


def _can_build() -> bool:
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    return headers.exists() and any(shutil.which(cc) for cc in ("cc", "gcc", "clang"))


def test_there_are_speedups_to_build():
    assert SOURCES, "kfx_notebook/_speedups has no .c files"


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_each_speedup_is_built_where_a_compiler_is_there(source):
    module = _speedups.load(source.stem)
    if module is None:
        assert not _can_build(), (
            f"{source.name} was not built although a C compiler and Python.h are here: "
            "run `pip install -e .` again and read the compiler's error")


def test_a_missing_speedup_is_none_not_an_error():
    assert _speedups.load("no_such_speedup") is None
