"""`import kfx_notebook` and `%load_ext kfx_notebook` load nothing heavy."""

import subprocess
import sys

HEAVY = ("pandas", "duckdb", "duckdb_kql", "azure", "numpy", "pyarrow")


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(','.join(sorted({m.split('.')[0] "
                          "for m in sys.modules})))"], capture_output=True, text=True, check=True)
    return set(out.stdout.strip().splitlines()[-1].split(","))


def test_import_loads_no_heavy_module():
    loaded = _loaded_after("import kfx_notebook")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_cli_help_loads_no_heavy_module():
    loaded = _loaded_after("import kfx_notebook.cli as c; c.build_parser()")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
