"""A `range` is DuckDB's generate_series table function (kql/range_source.py): the same rows, in constant memory.

duckdb-kql's rendering (UNNEST of one generate_series list) is the reference for the rows; the
layer's must give the same ones for every form of bounds, and must not build the range first:
a range far beyond memory is summed, and servertimeout interrupts a long one.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import subprocess
import sys

import pytest

from kfx_notebook.backends.local import engine
from kfx_notebook.backends.local import kql as layer
from kfx_notebook.backends.local.kql import range_source
from kfx_notebook.errors import KfxError

DB = "RangeDB"

#: sha256 of the source of duckdb-kql 1.1.2's render_range, which the layer's replaces.
ORIGINAL_SOURCE = "8fcae3c739fc46b5ba880d1f42006f3a77f2e949ea9a5d0abc5d763c45210a9d"

QUERIES = [
    "range x from 1 to 5 step 1",
    "range x from 10 to 1 step -3",
    "range x from 1 to 10 step -1",            # backwards: no rows
    "range x from 1 to 10 step 0",             # a zero step: no rows (the table function would refuse it)
    "range x from 1 to long(null) step 1",     # a null bound: no rows
    "range x from -3 to 3 step 2 | extend y = x * x",
    "range x from 1 to 3 step 1 | join kind=inner (range y from 2 to 4 step 1) on $left.x == $right.y",
    "range d from datetime(2020-01-01) to datetime(2020-01-02) step 6h",
    "range d from datetime(2020-01-01) to datetime(2020-01-01) step 0s",
    "let n = toscalar(T | summarize max(a)); range x from 1 to n step 1",
    "range x from 1 to toscalar(T | count) step 1 | summarize sum(x)",
    "range x from 1 to 1000 step 7 | summarize count(), min(x), max(x)",
]


@pytest.fixture(scope="module")
def backend(kql_engine):
    kql_engine.query(DB, ".create table T (a:long)")
    kql_engine.ingest(DB, "T", b'{"a": 3}\n{"a": 4}', data_format="multijson")
    return kql_engine


def test_the_replaced_function_is_the_one_it_was_written_for():
    layer.install()
    original = range_source.ORIGINALS["render_range"]
    assert hashlib.sha256(inspect.getsource(original).encode()).hexdigest() == ORIGINAL_SOURCE
    assert range_source.owner().render_range is range_source.render_range


@pytest.mark.parametrize("kql", QUERIES)
def test_a_range_gives_the_rows_duckdb_kqls_rendering_gives(backend, kql):
    def rows():
        engine._CACHE.clear()
        return sorted(backend.query(DB, kql).frame.astype(str).itertuples(index=False, name=None))

    ours = rows()
    with layer.as_released(range_source):
        theirs = rows()
    assert ours == theirs
    engine._CACHE.clear()
    assert "FROM generate_series(" in backend._translate(DB, kql, None, {})[0]


_MEMORY = r"""
import json, pathlib, resource
from kfx_notebook.backends.local import LocalBackend
backend = LocalBackend(None)
backend.catalog.ensure_database("RangeDB")
frame = backend.query("RangeDB", "range x from 1 to 200000000 step 1 | summarize total = sum(x), n = count()").frame
# this process's own peak: VmHWM (ru_maxrss keeps the forking parent's peak across exec on Linux)
status = pathlib.Path("/proc/self/status")
peak = (int(next(l.split()[1] for l in status.read_text().splitlines() if l.startswith("VmHWM:")))
        if status.exists() else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print(json.dumps([int(frame["total"][0]), int(frame["n"][0]), peak]))
"""


def test_a_range_is_summed_without_building_it_first():
    # 200M longs are 1.6 GB as one list (and several times that unnested); streamed, a few vectors
    done = subprocess.run([sys.executable, "-c", _MEMORY], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    total, count, peak_kib = json.loads(done.stdout)
    assert (total, count) == (200_000_000 * 200_000_001 // 2, 200_000_000)
    assert peak_kib < 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MB"


def test_servertimeout_interrupts_a_long_range(backend):
    # 30 billion rows would take minutes; the interrupt comes between vectors
    with pytest.raises(KfxError, match="servertimeout|timed out|time"):
        backend.query(DB, "range x from 1 to 30000000000 step 1 | summarize sum(x)",
                      options={"servertimeout": "00:00:01"})
