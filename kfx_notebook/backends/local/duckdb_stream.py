"""A translated query run straight to an Arrow stream, with its Kusto column types, in one parse and bind.

DuckDB's public route, `cursor.sql(sql)` then `relation.to_arrow_reader()`, parses and binds the
statement twice (once to describe the relation, once to run it) and tokenizes it in Python for
parameter markers in between: about 1.5 ms per query, as much as a summarize over 100,000 rows
(bench/bench_local.py). The one statement a KQL query becomes needs none of that: it is a single
SELECT whose markers are exactly its bound values. So `stream` hands it to the seam the relation
layer itself runs terminals through (`duckdb._seam.submit`, the "stream" format of
`to_arrow_reader`), whose result describes its columns as the relation would.

The seam is an internal of this DuckDB's Python layer: it is used only under the exact version
this was written and tested for (SEAM_VERSION); any other DuckDB, and any SQL that is not one
statement, takes the public route. tests/test_duckdb_stream.py fails if the two routes answer
differently (column names, types, rows, errors), or if the seam changes under this version.
"""

from __future__ import annotations

import functools

#: The DuckDB release whose `_seam.submit` and result (`description`, `arrow_reader`) this uses.
SEAM_VERSION = "2.0.1"

#: Rows per Arrow batch: DuckDB's own default for `to_arrow_reader`.
BATCH_ROWS = 131_072


def stream(cursor, sql: str, bound: dict):
    """([(column, Kusto type)], an Arrow RecordBatchReader) of *sql* run on *cursor* with *bound* values.

    The reader streams: stopping early (the record limit) leaves the rest of the query unrun."""
    from ...kusto_types import from_duckdb

    submit = _seam_submit()
    if submit is None or ";" in sql:   # a `;` may end a statement: the public route splits a script
        return public_stream(cursor, sql, bound)
    result = submit(cursor, sql, bound or None, "stream", BATCH_ROWS)
    return [(name, from_duckdb(str(kind))) for name, kind, *_ in result.description], result.arrow_reader()


def public_stream(cursor, sql: str, bound: dict):
    """`stream` by DuckDB's public relation API (any DuckDB version)."""
    from .results import column_types

    relation = cursor.sql(sql, params=bound) if bound else cursor.sql(sql)
    return column_types(relation), relation.to_arrow_reader(BATCH_ROWS)


@functools.cache
def _seam_submit():
    """`duckdb._seam.submit` under SEAM_VERSION, else None (the public route)."""
    import duckdb

    if duckdb.__version__ != SEAM_VERSION:
        return None
    try:
        from duckdb import _seam
    except ImportError:
        return None
    return getattr(_seam, "submit", None)
