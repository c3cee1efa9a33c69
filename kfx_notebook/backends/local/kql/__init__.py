"""The project's KQL layer over duckdb-kql: functions it lacks, literals it misreads.

`install()` adds the rows of `functions.py` to duckdb-kql's function tables (once, and only
for the exact version they were written against: the tables are its internals);
`register(con)` puts the UDFs they call on a DuckDB connection when the engine opens it;
`prepare(text)` rewrites what duckdb-kql would read wrong before it parses the text. Rule:
anything this layer adds answers as Kusto does or refuses ("unsupported: X").
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from . import antlr_runtime, function_names, range_source, timespans, tree_walks, where_truth
from .literals import rewrite_literals

#: The duckdb-kql version whose internals (function tables, FunctionSpec) this layer extends.
DUCKDB_KQL_VERSION = "1.1.2"

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Add this project's function rows to duckdb-kql's tables (idempotent)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        import duckdb_kql
        from duckdb_kql.translate import functions as tables

        if duckdb_kql.__version__ != DUCKDB_KQL_VERSION:
            raise RuntimeError(f"kfx_notebook's KQL layer extends duckdb-kql {DUCKDB_KQL_VERSION} exactly; "
                               f"{duckdb_kql.__version__} is installed. Install duckdb-kql=={DUCKDB_KQL_VERSION}.")
        from .functions import FUNCTIONS

        for row in FUNCTIONS.values():
            if row.aggregate:
                tables.AGGREGATE_FUNCTIONS[row.name] = _through_row(tables.AggregateSpec, row)(
                    row.name, row.sql, row.arities, name_prefix=row.name_prefix)
            else:
                tables.SCALAR_FUNCTIONS[row.name] = _spec(tables.FunctionSpec, row)
        _name_several_arguments(FUNCTIONS)
        _make_datetime_to_the_minute()
        _count_sunday_weeks()
        _bin_at_on_time_buckets()
        timespans.install()
        function_names.install()
        tree_walks.install()
        antlr_runtime.install()
        where_truth.install()
        range_source.install()
        _installed = True


def _name_several_arguments(rows) -> None:
    """`covariance(x, y)` is named `covariance_x_y`: duckdb-kql names an aggregate after its first
    argument only, so its naming rule is wrapped for the rows that join several."""
    from duckdb_kql.errors import KqlUnsupportedError
    from duckdb_kql.translate import naming

    original = naming._aggregate_name

    def aggregate_name(spec, expr):
        row = rows.get(spec.name)
        if row is None or row.name_args < 2:
            return original(spec, expr)
        names = [naming.expression_name(arg) for arg in expr.args[:row.name_args]]
        if not all(names):
            raise KqlUnsupportedError(f"aggregate:{row.name}",
                                      hint="name this column: its default name over expressions is not documented")
        return "_".join([row.name_prefix or row.name, *names])

    naming._aggregate_name = aggregate_name


def _make_datetime_to_the_minute() -> None:
    """`make_datetime(y, m, d, h, mi)` (documented, seconds zero): duckdb-kql's special form
    takes 3 or 6 arguments, so a 5-argument call is given its zero seconds before it."""
    from duckdb_kql.translate import _SPECIAL_FORMS, ir

    original = _SPECIAL_FORMS["make_datetime"]

    def make_datetime(node):
        if len(node.args) == 5:
            node = ir.FunctionCall(node.name, (*node.args, ir.Literal(0, "long")))
        return original(node)

    _SPECIAL_FORMS["make_datetime"] = make_datetime


def _count_sunday_weeks() -> None:
    """`datetime_diff('week', a, b)` counts the week boundaries (Sunday 00:00, Kusto's
    startofweek) from b to a: `(startofweek(a) - startofweek(b)) / 7d`, negative when a < b.
    duckdb-kql renders it as DuckDB's `date_diff('week', b, a)`, whose weeks start on Monday:
    the documented `datetime_diff('week', datetime(2017-10-29 00:00), datetime(2017-09-30 23:59))`
    is 5, not 4. Its special form is wrapped for the week part only; every other part (and every
    refusal) stays its own. A Monday is the Sunday a day later, so each Sunday week is truncated
    as DuckDB's Monday week of the instant one day on, and the two Mondays' days divided by 7."""
    from duckdb_kql import translate
    from duckdb_kql.translate import _SPECIAL_FORMS, ir

    original = _SPECIAL_FORMS["datetime_diff"]
    if getattr(original, _SUNDAY_WEEKS, False):
        return

    def datetime_diff(node):
        part = node.args[0] if node.args else None
        if (len(node.args) == 3 and isinstance(part, ir.Literal) and part.kind == "string"
                and str(part.value).lower() == "week"):
            a, b = (f"date_trunc('week', ({translate.render_expr(arg)}) + INTERVAL 1 DAY)" for arg in node.args[1:])
            return f"(date_diff('day', {b}, {a}) // 7)"
        return original(node)

    setattr(datetime_diff, _SUNDAY_WEEKS, True)
    _SPECIAL_FORMS["datetime_diff"] = datetime_diff


#: Marks the datetime_diff wrapper (tests/test_kql_layer.py checks it is the one installed).
_SUNDAY_WEEKS = "kfx_sunday_weeks"


def _bin_at_on_time_buckets() -> None:
    """`bin_at(value, size, fixed)` with a timespan size and a datetime fixed point (the common use, and
    what make-series writes) is DuckDB's `time_bucket(size, value, fixed)`: the same bucket, exact to
    the microsecond across the whole range, and 2-3x faster than the function row's template, which
    must bind for every kind of operand (bench/README.md, round 25). Any other operands decline
    (`None`), and the row renders them."""
    from duckdb_kql import translate
    from duckdb_kql.translate import _SPECIAL_FORMS

    original = _SPECIAL_FORMS.get("bin_at")
    if getattr(original, _TIME_BUCKETS, False):
        return

    def bin_at(node):
        if (len(node.args) == 3 and translate._is_timespan_expr(node.args[1])
                and translate._is_datetime_expr(node.args[2])):
            value, size, fixed = (translate.render_expr(arg) for arg in node.args)
            # the row's refusal of a size that is not positive (a constant size: DuckDB folds the test)
            return (f"CASE WHEN {size} <= INTERVAL 0 SECOND THEN error('unsupported: bin_at with a bin size "
                    f"that is not positive') ELSE time_bucket({size}, {value}, {fixed}) END")
        return original(node) if original is not None else None

    setattr(bin_at, _TIME_BUCKETS, True)
    _SPECIAL_FORMS["bin_at"] = bin_at


#: Marks the bin_at special form (tests/test_kql_layer.py checks it is the one installed).
_TIME_BUCKETS = "kfx_time_buckets"


def _through_row(base: type, row) -> type:
    """A duckdb-kql spec class that renders through the row (its own arity check, slots and defaults)."""
    class RowSpec(base):
        def render(self, args: list[str]) -> str:
            return row.render(args)
    return RowSpec


def _spec(base: type, row):
    return _through_row(base, row)(row.name, "template", row.sql, row.arities, note="kfx_notebook.backends.local.kql")


@contextmanager
def as_released(*speedups):
    """duckdb-kql's and ANTLR's own internals in place of the layer's faster ones for the duration:
    what the differential tests and bench/bench_translate.py compare against. *speedups*: modules
    with `ORIGINALS` and `owner(name)` (the object each original lives on); by default tree_walks
    and antlr_runtime, which keep the SQL text. Swaps process-wide state: not for use while other
    threads translate."""
    install()
    swapped = []
    for speedup in speedups or (tree_walks, antlr_runtime):
        for name, original in speedup.ORIGINALS.items():
            owner = speedup.owner(name)
            swapped.append((owner, name, getattr(owner, name)))
            setattr(owner, name, original)
    try:
        yield
    finally:
        for owner, name, faster in swapped:
            setattr(owner, name, faster)


def register(con) -> None:
    """Put the UDFs the function rows call on a freshly opened DuckDB connection."""
    from .udfs import register as register_udfs

    register_udfs(con)


def prepare(text: str) -> tuple[str, list[list[tuple[int, int, int]]], list[str]]:
    """The text duckdb-kql should parse; the edits of each rewrite and the text each rewrite
    started from, innermost last (for mapping error positions back)."""
    from .patterns import rewrite_patterns
    from .percentiles import rewrite_percentiles
    from .stages import rewrite_parse_kv

    literal_text, literal_edits = rewrite_literals(text)
    pattern_text, pattern_edits = rewrite_patterns(literal_text)
    kv_text, kv_edits = rewrite_parse_kv(pattern_text)
    final, percentile_edits = rewrite_percentiles(kv_text)
    return (final, [percentile_edits, kv_edits, pattern_edits, literal_edits],
            [kv_text, pattern_text, literal_text, text])


__all__ = ["DUCKDB_KQL_VERSION", "as_released", "install", "prepare", "register"]
