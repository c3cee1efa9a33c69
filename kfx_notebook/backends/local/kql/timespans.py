"""A timespan divided or multiplied by a number: exact to the microsecond, or refused.

duckdb-kql reads `1h / 2` as the division of two timespans (`epoch(...) / epoch(...)`, which
fails to bind) and `1s * 0.3333333` as DuckDB's INTERVAL * DOUBLE, which rounds to the
microsecond without a word. Kusto scales the 100 ns ticks. So the scaled value is computed in
ticks here and kept only when it is a whole number of microseconds; anything finer (it needs
Kusto's seventh digit) and a division by zero are refused, never rounded. Rule: a binary `/` or
`*` with a timespan on one side and a number on the other goes through `scaled_sql`; an integer
literal factor of `*` stays DuckDB's exact INTERVAL * BIGINT.
"""

from __future__ import annotations

_FINER = ("error('unsupported: a timespan scaled below a microsecond (Kusto keeps 100 ns ticks, "
          "the local database microseconds)')")
_BY_ZERO = "error('unsupported: a timespan divided by zero')"


def scaled_sql(timespan_sql: str, number_sql: str, divide: bool) -> str:
    """SQL: the timespan times (or divided by) the number, as an INTERVAL, exact or an error."""
    ticks = "_kfx_us * 10.0 " + ("/" if divide else "*") + " _kfx_f"
    zero = f"WHEN _kfx_f = 0 THEN {_BY_ZERO} " if divide else ""
    return (f"(SELECT CASE WHEN _kfx_us IS NULL OR _kfx_f IS NULL THEN NULL {zero}"
            f"WHEN abs(({ticks}) - round({ticks})) > 0.001 OR CAST(round({ticks}) AS HUGEINT) % 10 <> 0 "
            f"THEN {_FINER} ELSE to_microseconds(CAST(round({ticks}) / 10 AS BIGINT)) END "
            f"FROM (SELECT CAST(round(epoch({timespan_sql}) * 1000000) AS BIGINT) AS _kfx_us, "
            f"CAST({number_sql} AS DOUBLE) AS _kfx_f))")


def install() -> None:
    """Route duckdb-kql's rendering of timespan-by-number `/` and `*` through `scaled_sql`."""
    from duckdb_kql import translate
    from duckdb_kql.translate import ir

    original = translate.render_expr
    is_timespan = translate._is_timespan_expr

    def integer_literal(node) -> bool:
        return isinstance(node, ir.Literal) and node.kind in ("long", "int") and not isinstance(node.value, bool)

    def render_expr(node):
        if isinstance(node, ir.BinaryOp) and node.op in ("/", "*"):
            left, right = is_timespan(node.left), is_timespan(node.right)
            if node.op == "/" and left and not right:
                return scaled_sql(original(node.left), original(node.right), divide=True)
            if node.op == "*" and left != right:
                span, factor = (node.left, node.right) if left else (node.right, node.left)
                if not integer_literal(factor):
                    return scaled_sql(original(span), original(factor), divide=False)
        return original(node)

    translate.render_expr = render_expr
