"""The optional C speedups (kfx_notebook/_speedups/*.c), one extension module per file.

`optional=True`: without a C compiler (or Python's headers) the build warns and the package
installs without them; every caller then takes its pure-Python path (kfx_notebook/_speedups).
"""

from pathlib import Path

from setuptools import Extension, setup

SOURCES = sorted(Path("kfx_notebook/_speedups").glob("*.c"))
# Shared headers: a change to one rebuilds every module (setuptools compares their mtimes).
HEADERS = [h.as_posix() for h in sorted(Path("kfx_notebook/_speedups").glob("*.h"))]

setup(
    ext_modules=[
        Extension(f"kfx_notebook._speedups.{source.stem}", [source.as_posix()], optional=True, depends=HEADERS,
                  extra_compile_args=["-O2", "-std=c11"])
        for source in SOURCES
    ]
)
