"""The KQL engine adapter: with its `kql/` layer, the only code that imports duckdb_kql.

KQL text + typed parameter values -> DuckDB SQL + bound values, with the engine's
errors translated once into kfx_notebook.errors (1-based line and column in the text
the user wrote). Replacing the engine means replacing this module only.

Two known engine gaps that binding queries hit are bridged here, before translation:
`take n` / `limit n` / `top n by` where n is a declared parameter or a `let` literal,
and `bin(x, span)` where span is a timespan parameter or `let` literal. The gap is
bridged by writing the *already parsed and typed* value back as a KQL literal
(an integer, or `time(...)` of a timedelta), never the caller's text, so nothing a
caller supplies can change the query's shape.

Every table a query reads is checked while the SQL is rendered (`_guard_table_refs`): a
reference that is not a table of a project database, spelled exactly (internal schemas, file
paths, case variants), is Kusto's unknown-table error, and the sealed connection
(sealed.py) would refuse a file even if a name slipped through.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from contextvars import ContextVar

from ...errors import (
    KfxError,
    KustoQueryError,
    KustoSemanticError,
    KustoSyntaxError,
    UnknownEntityError,
    UnsupportedError,
)
from ...expressions import Declared
from ...literals import format_timespan

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_INT_LIT = r"-?\d+"
_SPAN_LIT = r"(?:\d+(?:\.\d+)?(?:d|h|m|s|ms|microsecond|tick)\b|time\([^()]*\)|timespan\([^()]*\))"
_LET_LITERAL = re.compile(rf"\blet\s+({IDENT})\s*=\s*({_INT_LIT}|{_SPAN_LIT})\s*;")
_TAKE = re.compile(rf"\b(take|limit)\s+({IDENT})\b(?!\s*\()")
_TOP = re.compile(rf"\btop\s+({IDENT})\s+by\b")
_BIN = re.compile(rf"\bbin\s*\(([^(),]+),\s*({IDENT})\s*\)")
#: `x[name]`: duckdb-kql reads a non-literal index as an array position; a string parameter is a key.
_INDEX = re.compile(rf"(?<=[\w\])])\s*\[\s*({IDENT})\s*\]")
_STRINGS = re.compile(r"""//[^\n]*|@?'(?:[^'\\\n]|\\.)*'|@?"(?:[^"\\\n]|\\.)*"|```.*?```""", re.DOTALL)


def declared_parameters(kql: str) -> list[Declared]:
    """The `declare query_parameters(...)` of a query, as the engine reads them.

    duckdb-kql's own parser, so the local backend binds exactly what it translates and a bad
    declaration fails with the engine's error and position; a default is the engine's value as text
    ('[1,2]', 'True', '1:00:00'). expressions.declared_parameters is the pure parser for the paths
    without the engine (the form, cluster backends); its defaults are the literal text as written.
    """
    return list(_declared_parameters(kql))


@functools.lru_cache(maxsize=256)
def _declared_parameters(kql: str) -> tuple[Declared, ...]:
    """declared_parameters, once per text: a parse of the whole query (as long as its translation)
    that a re-run of a parameterized cell would otherwise pay although its translation is cached.
    Only the text decides it; a failure is not cached (it raises again)."""
    import duckdb_kql

    try:
        return tuple(Declared(d.name, d.type, None if d.default is None else str(d.default))
                     for d in duckdb_kql.query_parameters(kql))
    except duckdb_kql.KqlError as exc:
        raise translate_error(exc, kql) from None
    except RecursionError:
        raise _too_deep(kql) from None


def _blank_literals(text: str) -> str:
    """The text with string literals and comments blanked out (same length), for scanning."""
    return _STRINGS.sub(lambda m: " " * len(m.group(0)), text)


def bridge_gaps(kql: str, typed: dict[str, object], types: dict[str, str]) -> tuple[str, list[tuple[int, int, int]]]:
    """Rewrite take/top/bin arguments that are parameters or let literals as literals, and a
    string parameter used as a dynamic index (`d[key]`) as the string literal it holds.

    Returns the new text and the edits (offset, old length, new length) so error positions
    can be mapped back to the text the user wrote.
    """
    scan = _blank_literals(kql)
    literals: dict[str, str] = {m.group(1): m.group(2) for m in _LET_LITERAL.finditer(scan)}
    for name, value in typed.items():
        if value is None:
            continue
        if types.get(name) in ("long", "int") and isinstance(value, int):
            literals[name] = str(value)
        elif types.get(name) == "timespan":
            literals[name] = f"time({format_timespan(value)})"
    keys = {name: value for name, value in typed.items()
            if types.get(name) == "string" and isinstance(value, str) and value.isprintable()}
    if not literals and not keys:
        return kql, []
    from .kql.stages import kql_string

    spans: list[tuple[int, int, str]] = []
    for pattern, group, values in ((_TAKE, 2, literals), (_TOP, 1, literals), (_BIN, 2, literals),
                                   (_INDEX, 1, {n: kql_string(v) for n, v in keys.items()})):
        for m in pattern.finditer(scan):
            name = m.group(group)
            if name in values:
                spans.append((m.start(group), m.end(group), values[name]))
    out, edits, last = [], [], 0
    for start, end, text in sorted(spans):
        out.append(kql[last:start])
        out.append(text)
        edits.append((start, end - start, len(text)))
        last = end
    out.append(kql[last:])
    return "".join(out), edits


def translate(kql: str, *, database: str, schema: dict[str, list[str]], parameters: dict[str, object],
              functions: list[str]) -> tuple[str, dict[str, object]]:
    """KQL -> (DuckDB SQL, bound values). Raises kfx_notebook.errors with positions.

    Translation costs about 10 ms for a short query (ANTLR parse + lowering,
    bench/bench_translate.py), as much as running it on 1M rows; re-runs of a cell, the interactive form and a served workload
    repeat the same text, so results are cached on everything the SQL depends on.
    """
    key = (kql, database, repr(sorted(schema.items())), tuple(functions), repr(sorted(parameters.items())))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    sql_and_values = _translate(kql, database=database, schema=schema, parameters=parameters, functions=functions)
    if _uses_clock(sql_and_values[1]):
        return sql_and_values  # now()/ago() are pinned at translation: a cached copy would freeze the clock
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = sql_and_values
    return sql_and_values


_CACHE: dict[tuple, tuple[str, dict[str, object]]] = {}
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()


def _uses_clock(bound: dict[str, object]) -> bool:
    from duckdb_kql.translate import CLOCK_SLOT

    return CLOCK_SLOT in bound


def _translate(kql: str, *, database: str, schema: dict[str, list[str]], parameters: dict[str, object],
               functions: list[str]) -> tuple[str, dict[str, object]]:
    import duckdb_kql

    from . import kql as layer

    layer.install()
    try:
        text, edit_lists, sources = layer.prepare(kql)
        functions = [layer.prepare(definition)[0] for definition in functions]
    except RecursionError:
        raise _too_deep(kql) from None
    _guard_table_refs()
    token = _READABLE.set((database, schema))
    try:
        result = duckdb_kql.to_sql(text, schema=schema, parameters=parameters or None, database=database,
                                   functions=functions or None)
    except duckdb_kql.KqlError as exc:
        error = translate_error(exc, text)
        rewritten = text
        for edits, source in zip(edit_lists, sources):
            error.line, error.column = map_position(edits, rewritten, source, error.line, error.column)
            rewritten = source
        error.text = kql
        raise error from None
    except _ForeignTable as exc:
        line, column = position_of(kql, exc.name)
        raise UnknownEntityError(f"Semantic error: Failed to resolve table or column expression named '{exc.name}'",
                                 entity=exc.name, kind="table", line=line, column=column, text=kql,
                                 hint="Only the tables of this project's databases can be read; check the name "
                                      "(names are case-sensitive).") from None
    except RecursionError:
        raise _too_deep(kql) from None
    finally:
        _READABLE.reset(token)
    if result.unbound:
        raise KustoSemanticError(
            f"Semantic error: query parameter(s) {', '.join(result.unbound)} declared with no value and no default",
            hint="Give each declared parameter a value (kqlParameters @name=value) or a default.")
    return optimize_sql(str(result)), dict(result.parameters)


#: While a translation runs: (current database, the schema of readable tables: `Db.T` and bare `T`).
_READABLE: ContextVar[tuple[str, dict[str, list[str]]] | None] = ContextVar("kfx_readable", default=None)


class _ForeignTable(Exception):
    """A table reference that names no project table (raised through duckdb_kql's renderer)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _guard_table_refs() -> None:
    """Wrap duckdb_kql's one renderer of table references so each is checked against `_READABLE`.

    Every `TableRef` the engine emits (bracketed names, database(), table(), union, join, lookup,
    stored-function bodies, ingestion sources) is rendered by `translate.render_table_ref`;
    wildcards are expanded from the schema we pass, which holds project tables only. Checking
    here sees the references after `let`s and functions are resolved, so nothing is missed.
    """
    from duckdb_kql import translate as rendering

    if getattr(rendering.render_table_ref, "kfx_guarded", False):
        return
    render = rendering.render_table_ref

    def guarded(source):
        readable = _READABLE.get()
        is_let = source.database is None and rendering._let_cte(source.name) is not None
        if readable is not None and not is_let and not _readable(source.database or readable[0], source.name,
                                                                  readable[1]):
            raise _ForeignTable(source.name)
        if readable is not None and not is_let and source.database is None:
            # a bare name is the current database's table; the engine leaves one bare where the query reads
            # no table first (`let n = toscalar(T | count); print n`), which DuckDB then looks for in `main`
            source = dataclasses.replace(source, database=readable[0])
        return render(source)

    guarded.kfx_guarded = True
    rendering.render_table_ref = guarded


def _readable(database: str, table: str, schema: dict[str, list[str]]) -> bool:
    """Is `database.table` a project table? The table exactly; the database in any case (as Kusto)."""
    wanted = f"{database}.{table}"
    if wanted in schema:
        return True
    folded = wanted.casefold()
    return any(key.casefold() == folded and key.endswith("." + table) for key in schema)


def _too_deep(kql: str) -> KustoSyntaxError:
    return KustoSyntaxError("Syntax error: the query nests too deeply for the local database to parse", text=kql,
                            hint="Flatten the nesting (parentheses, brackets, nested calls).")


# duckdb-kql renders bin(datetime, span) as float arithmetic on epoch seconds, about 8x slower than
# DuckDB's exact time_bucket on 1M rows (bench/bench_local.py). For a plain column and a literal
# span the two give the same bucket (origin 1970-01-01 is a multiple of every fixed span), so the
# generated SQL is rewritten; tests/test_local_backend.py checks the answers agree.
_EPOCH_BIN = re.compile(
    r"to_timestamp\(floor\(epoch\((\"[^\"]+\")\) / epoch\((INTERVAL '[^']+')\)\) \* epoch\(\2\)\) "
    r"AT TIME ZONE 'UTC'")


def optimize_sql(sql: str) -> str:
    """Peephole rewrites of the engine's SQL that keep its meaning and cost less."""
    return _EPOCH_BIN.sub(r"time_bucket(\2, \1, TIMESTAMP '1970-01-01')", sql)


def _shorten(message: str) -> str:
    """ANTLR lists every token it expected; keep the first few."""
    m = re.search(r"expecting \{([^}]*)\}", message)
    if m:
        options = [o.strip() for o in m.group(1).split(",")]
        if len(options) > 6:
            message = message[:m.start()] + "expecting one of " + ", ".join(options[:6]) + ", ..." + message[m.end():]
    return message


def _position(kql: str, line: int, column0: int) -> tuple[int, int]:
    return line, column0 + 1


_STATEMENT_ENDED = re.compile(r"^(?:mismatched|extraneous) input '\|' expecting \{<EOF>, ';'\}$")


def _offending_operator(kql: str, line, column, detail: str):
    """ANTLR blames the `|` before an unknown operator (`T | were x`); Kusto, as here, blames the word after."""
    if line is None or not _STATEMENT_ENDED.match(detail):
        return line, column, detail
    lines = kql.split("\n")
    offset = sum(len(x) + 1 for x in lines[:line - 1]) + column  # just past the `|`
    m = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*)").match(_blank_literals(kql), offset)
    if not m:
        return line, column, detail
    before = kql[:m.start(1)]
    return (before.count("\n") + 1, m.start(1) - (before.rfind("\n") + 1) + 1,
            f"Query could not be parsed at '{m.group(1)}'")


def position_of(kql: str, token: str, *, call: bool = False) -> tuple[int | None, int | None]:
    """1-based line and column of the first whole-word *token* outside strings and comments
    (*call*: the first call `token(`, not after a `.`)."""
    scan = _blank_literals(kql)
    pattern = (rf"(?<![A-Za-z0-9_.]){re.escape(token)}(?=\s*\()" if call
               else rf"(?<![A-Za-z0-9_]){re.escape(token)}(?![A-Za-z0-9_])")
    m = re.search(pattern, scan)
    if not m:
        return None, None
    before = kql[:m.start()]
    return before.count("\n") + 1, m.start() - (before.rfind("\n") + 1) + 1


def map_expansion(position_map, expanded: str, original: str, line: int | None,
                  column: int | None) -> tuple[int | None, int | None]:
    """A 1-based position in the function-expanded text -> the user's text (a position inside an
    expanded call's body is the call)."""
    if line is None or column is None:
        return line, column
    lines = expanded.split("\n")
    offset = position_map.offset(sum(len(x) + 1 for x in lines[:line - 1]) + column - 1)
    before = original[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def map_position(edits: list[tuple[int, int, int]], rewritten: str, original: str,
                 line: int | None, column: int | None) -> tuple[int | None, int | None]:
    """Map a 1-based position in the bridged text back to the text the user wrote."""
    if not edits or line is None or column is None:
        return line, column
    lines = rewritten.split("\n")
    offset = sum(len(x) + 1 for x in lines[:line - 1]) + column - 1
    shift = 0
    for start, old, new in edits:
        if start + shift + new <= offset:
            shift += new - old
    offset -= shift
    before = original[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def translate_error(exc: Exception, kql: str) -> KfxError:
    """One engine error -> one kfx error, with the Kusto-like message and position."""
    import duckdb_kql

    if isinstance(exc, duckdb_kql.KqlSyntaxError):
        line = column = None
        if exc.diagnostics:
            line, column = _position(kql, exc.diagnostics[0].span.line, exc.diagnostics[0].span.column)
        detail = _shorten(exc.diagnostics[0].message if exc.diagnostics else str(exc))
        line, column, detail = _offending_operator(kql, line, column, detail)
        return KustoSyntaxError(f"Syntax error: {detail}", line=line, column=column, text=kql,
                                hint="Check the KQL near the caret.")
    if isinstance(exc, duckdb_kql.KqlUnsupportedError):
        line = column = None
        if exc.span:
            line, column = _position(kql, exc.span.line, exc.span.column)
        kind, _, name = exc.construct.partition(":")
        if kind in ("function", "aggregate") and ("no stored function" in (exc.hint or "")
                                                  or (exc.hint or "").startswith("no DuckDB mapping")):
            if line is None:
                line, column = position_of(kql, name, call=True)
            return _no_such_function(name, getattr(exc, "meant", None), line, column, kql,
                                     stored="no stored function" in (exc.hint or ""))
        return UnsupportedError(
            f"The local database (duckdb-kql) does not support {exc.construct!r}"
            + (f" ({exc.hint})" if exc.hint else ""), line=line, column=column, text=kql,
            hint="Rewrite the query without it, or point the connection at a real cluster.")
    if isinstance(exc, duckdb_kql.KqlSchemaError):
        hint = exc.hint or ""
        if "declared" in hint or "parameter" in hint:
            return KustoSemanticError(f"Semantic error: query parameter {exc.name!r}: {hint}", text=kql)
        name = exc.name.split(".", 1)[-1]  # the engine qualifies a name with its database: "Db.T"
        line, column = position_of(kql, name)
        if "function" in hint:
            return UnknownEntityError(f"Semantic error: Unknown function: '{name}'", entity=name, kind="function",
                                      line=line, column=column, text=kql)
        return UnknownEntityError(f"Semantic error: Failed to resolve table or column expression named '{name}'",
                                  entity=name, kind="table", line=line, column=column, text=kql)
    if isinstance(exc, duckdb_kql.KqlError):
        return KustoQueryError(str(exc), text=kql)
    return KustoQueryError(str(exc), text=kql)


def _no_such_function(name: str, meant: str | None, line, column, kql: str, *, stored: bool) -> KfxError:
    """A call of a name neither the engine nor this layer translates, nor a stored function.

    A built-in spelled in another case (*meant*, kql.function_names) or a close miss of one
    ("tostrng") is Kusto's "Unknown function" with the name meant. Any other name may be a Kusto
    function the local database lacks or no function at all, which only a list of Kusto's own
    names could tell apart: it is refused as not supported here, saying both (and naming a
    looser match: `dcnt`, dcount). *stored*: the engine looked for a stored function of the name
    (one the user would have created), so it is unknown whatever its spelling."""
    from .kql.function_names import nearest_builtin

    near = None if meant else nearest_builtin(name, cutoff=0.85)
    if meant or near or stored:
        hint = (f"KQL function names are case-sensitive: write '{meant}'." if meant
                else f"Did you mean '{near}'? (If '{name}' is a Kusto function, the local database lacks it.)" if near
                else "Create it with .create function, or check the name.")
        return UnknownEntityError(f"Semantic error: Unknown function: '{name}'", entity=name, kind="function",
                                  line=line, column=column, text=kql, hint=hint)
    maybe = nearest_builtin(name, cutoff=0.75)
    return UnsupportedError(f"The local database does not support the function '{name}'", line=line, column=column,
                            text=kql, hint=(f"Did you mean '{maybe}'? " if maybe else "Check the name. ")
                            + "If it is a Kusto function, rewrite the query without it or point the connection "
                              "at a real cluster; a function of your own: .create function.")


_DUCK_COLUMN = re.compile(r'Referenced column "([^"]+)" (?:was )?not found')
_DUCK_TABLE = re.compile(r"Table with name ([^\s]+) does not exist")
_DUCK_FUNCTION = re.compile(r"(?:Scalar|Aggregate|Table) Function with name ([^\s]+) does not exist")


def translate_duckdb_error(exc: Exception, kql: str) -> KfxError:
    """A DuckDB error raised by translated SQL -> a Kusto-like error about the KQL."""
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    for pattern, kind, template in (
        (_DUCK_COLUMN, "column", "Failed to resolve scalar expression named '{0}'"),
        (_DUCK_TABLE, "table", "Failed to resolve table or column expression named '{0}'"),
        (_DUCK_FUNCTION, "function", "Unknown function: '{0}'"),
    ):
        m = pattern.search(text)
        if m:
            name = m.group(1).strip('"')
            if "." in name and kind == "table":
                name = name.split(".")[-1]
            line, column = position_of(kql, name)
            return UnknownEntityError(f"Semantic error: {template.format(name)}", entity=name, kind=kind,
                                      line=line, column=column, text=kql)
    return KustoSemanticError(f"Semantic error: {first}", text=kql,
                              hint="The local database (DuckDB) refused the translated query.")


def check_function(definition: str) -> None:
    """Refuse a stored-function definition the engine cannot parse, before it is stored
    (one the KQL layer expands at its call sites, such as one with a tabular parameter, is kept)."""
    import duckdb_kql
    from duckdb_kql.stored_functions import parse_functions

    from .kql.inline import parse_stored

    try:
        parse_functions([definition])
    except (duckdb_kql.KqlError, ValueError, TypeError) as exc:
        fn = parse_stored(definition)
        if fn is None or not any(p.tabular for p in fn.params):
            raise KustoSyntaxError(f"Syntax error: {_shorten(str(exc))}", text=definition) from None
    except RecursionError:
        raise _too_deep(definition) from None


def expand_functions(kql: str, definitions: list[str]):
    """Calls of functions the engine cannot translate (views, tabular parameters and bodies, a
    parameter as a take/top count), expanded in place; the definitions left to the engine; and
    the map of the expanded text's offsets back to *kql*'s (kql.inline.PositionMap)."""
    from .kql.inline import expand_mapped

    return expand_mapped(kql, definitions)


def ingestion_target(command: str) -> str:
    """The table a `.set/.append/...` command writes, as the engine reads the command."""
    import duckdb_kql
    from duckdb_kql.control import strip_leading_comments
    from duckdb_kql.ingest import parse_ingestion

    try:
        return parse_ingestion(strip_leading_comments(command)).table
    except duckdb_kql.KqlError as exc:
        raise translate_error(exc, command) from None


def ingestion_sql(command: str, *, database: str, schema: dict[str, list[str]], functions: list[str]) -> str:
    """`.set/.append/.set-or-append/.set-or-replace T <| query` -> DuckDB statements."""
    return translate(command, database=database, schema=schema, parameters={}, functions=functions)[0]
