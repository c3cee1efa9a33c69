"""A `range` streams its rows: DuckDB's generate_series *table* function, not UNNEST of one list.

duckdb-kql renders `range x from a to b step s` as `SELECT UNNEST(generate_series(a, b, s))`:
the scalar generate_series builds the whole list in one call before the first row, so
`range x from 1 to 3000000000 step 1 | summarize sum(x)` asked for 24 GB (the kernel killed the
server) and servertimeout could not interrupt it (DuckDB checks for an interrupt between
vectors, not inside one function call). The table function yields the same values a vector at a
time: 300M rows summed in 0.8 s and 66 MB, against 21 s and 18 GB (DuckDB 2.0.1, this machine).

The same rows: the bounds are rendered as duckdb-kql renders them (BIGINT casts unless a bound is
visibly temporal), both endpoints inclusive, a backwards range or a null bound no rows; a zero
step, which the table function refuses ("interval cannot be 0") where the list form gave no rows,
is made null (`NULLIF`), so it still gives none. A bound may be a subquery (`toscalar`): DuckDB
takes one in a table function's arguments.

Internals of duckdb-kql (`translate.render_range` and the helpers it uses), replaced only under
the exact version `kql.install` checks; tests/test_range_source.py pins the original's source and
compares both renderings' rows.
"""

from __future__ import annotations

#: The originals this replaces: name -> function (set by install).
ORIGINALS: dict = {}
_MARK = "_kfx_range_source"


def owner(name: str = ""):
    """Where `render_range` lives: duckdb-kql's translate module."""
    from duckdb_kql import translate

    return translate


def render_range(source) -> str:
    """`range name from start to stop step step` as rows of the generate_series table function."""
    translate = owner()
    bounds = [source.start, source.stop, source.step]
    temporal = any(translate._is_datetime_expr(e) or translate._is_timespan_expr(e) for e in bounds)
    start, stop, step = (translate.render_expr(e) if temporal else f"CAST({translate.render_expr(e)} AS BIGINT)"
                         for e in bounds)
    zero = "INTERVAL 0 SECOND" if temporal else "0"
    name = translate.quote_ident(source.name)
    return f"SELECT generate_series AS {name} FROM generate_series({start}, {stop}, NULLIF({step}, {zero}))"


def install() -> None:
    """Replace `render_range` (idempotent)."""
    translate = owner()
    if getattr(translate.render_range, _MARK, False):
        return
    ORIGINALS["render_range"] = translate.render_range
    setattr(render_range, _MARK, True)
    translate.render_range = render_range
