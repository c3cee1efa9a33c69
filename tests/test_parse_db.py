"""The parse-only DuckDB (backends/local/parse_db.py) reads its own files and nothing else, and leaves none behind."""

from __future__ import annotations

import os
import threading

import pytest

from kfx_notebook.backends.local import parse_db


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text({beside})",
    "SET enable_external_access=true", "SET allowed_directories=['/']", "INSTALL httpfs", "LOAD httpfs",
    "ATTACH '/tmp/kfx-parse-probe.duckdb'", "COPY (SELECT 1) TO '/tmp/kfx-parse-probe.csv'",
])
def test_it_refuses_every_other_file_and_setting(sql):
    with pytest.raises(parse_db.errors()):
        parse_db.query_file(b"{}", lambda path: sql.replace("{beside}", path[:-1] + "/../../../../etc/hostname'"))
    assert not os.path.exists("/tmp/kfx-parse-probe.csv") and not os.path.exists("/tmp/kfx-parse-probe.duckdb")


def test_it_reads_its_own_file_then_removes_it():
    seen = []

    def sql(path):
        seen.append(path.strip("'"))
        assert os.path.exists(seen[0])
        return f"SELECT a FROM read_json({path}, format='unstructured', columns={{'a': 'BIGINT', 'b': 'JSON'}})"

    table = parse_db.query_file(b'{"a": 1}\n{"a": 2}', sql)
    assert table.column(0).to_pylist() == [1, 2]
    assert not os.path.exists(seen[0]) and os.stat(os.path.dirname(seen[0])).st_mode & 0o077 == 0


def test_concurrent_parses_keep_their_own_rows():
    results, errors = {}, []

    def parse(n):
        try:
            body = b"\n".join(b'{"a": %d}' % n for _ in range(1000))
            table = parse_db.query_file(body, lambda path: f"SELECT a FROM read_json({path}, format='unstructured', "
                                                           "columns={'a': 'BIGINT', 'b': 'JSON'})")
            results[n] = set(table.column(0).to_pylist())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=parse, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results == {n: {n} for n in range(8)}
