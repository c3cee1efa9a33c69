"""Operators the engine lacks, run by splitting the pipeline: what precedes runs first, and the
operator becomes KQL the engine knows, written from what that run found.

`evaluate bag_unpack(col, ...)` needs the bag's slots before any SQL can name its columns, so
`split_evaluate` cuts the query at it, the backend runs the part before it to read the slots
(`slots_sql`), and `bag_unpack_kql` writes the operator as `extend`s and a `project-away` over
the same part, followed by the rest of the pipeline: everything after composes with all the
engine knows. Rule: data never becomes query text except as an escaped string literal, and
an option this does not implement is refused by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ....errors import KustoSemanticError, UnsupportedError
from .inline import IDENT, _close, _split_top, blank, depth_at, strip_comments, top_level

_EVALUATE = re.compile(rf"\|\s*evaluate\s+({IDENT})\s*\(")
#: DuckDB json_type of a slot's values -> the Kusto type of its column and the KQL that reads it.
SLOT_TYPES = {"BIGINT": ("long", "tolong"), "UBIGINT": ("long", "tolong"), "DOUBLE": ("real", "todouble"),
              "VARCHAR": ("string", "tostring"), "BOOLEAN": ("bool", "tobool")}


@dataclass(frozen=True)
class Split:
    before: str      # the query up to the operator (its statements included)
    plugin: str
    args: list[str]
    after: str       # the rest of the pipeline, starting with `|` or empty


def split_evaluate(text: str) -> Split | None:
    """The first top-level `| evaluate plugin(...)` of the text's last statement, or None."""
    scan = blank(text)
    for m in _EVALUATE.finditer(scan):
        if depth_at(scan, m.start()):
            continue
        end = _close(scan, m.end() - 1, "(", ")")
        if end is None:
            return None
        if re.match(r"\s*:", scan[end:]):
            raise UnsupportedError(f"unsupported: evaluate {m.group(1)} with an output schema", text=text)
        return Split(text[:m.start()], m.group(1), _split_top(text[m.end():end - 1], scan[m.end():end - 1]),
                     text[end:])
    return None


@dataclass(frozen=True)
class BagUnpack:
    column: str
    prefix: str
    conflict: str
    ignored: tuple[str, ...]


def bag_unpack_options(args: list[str]) -> BagUnpack:
    named = {m.group(1).lower(): m.group(2).strip() for a in args
             if (m := re.fullmatch(rf"({IDENT})\s*=\s*(.+)", a, re.DOTALL))}
    positional = [a for a in args if not re.fullmatch(rf"{IDENT}\s*=\s*.+", a, re.DOTALL)]
    if not positional or not re.fullmatch(IDENT, positional[0]):
        raise UnsupportedError("unsupported: bag_unpack of anything but a column name")
    unknown = set(named) - {"columnsconflict", "ignoredproperties", "outputcolumnprefix"}
    if unknown or len(positional) > 4:
        raise UnsupportedError(f"unsupported: bag_unpack argument(s) {', '.join(sorted(unknown)) or positional[4:]}")
    values = dict(zip(["column", "prefix", "conflict", "ignored"], positional))
    prefix = _string(named.get("outputcolumnprefix", values.get("prefix", "''")))
    conflict = _string(named.get("columnsconflict", values.get("conflict", "'error'")))
    if conflict not in ("error", "replace_source", "keep_source"):
        raise KustoSemanticError(f"Semantic error: bag_unpack columnsConflict must be error, replace_source or "
                                 f"keep_source, not {conflict!r}")
    ignored = named.get("ignoredproperties", values.get("ignored"))
    return BagUnpack(positional[0], prefix, conflict, _strings(ignored) if ignored else ())


def _string(text: str) -> str:
    m = re.fullmatch(r"""\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*""", text)
    if not m:
        raise UnsupportedError(f"unsupported: bag_unpack option {text!r} (a plain string literal is needed)")
    return m.group(1) if m.group(1) is not None else m.group(2)


def _strings(text: str) -> tuple[str, ...]:
    m = re.fullmatch(r"\s*dynamic\s*\(\s*\[(.*)\]\s*\)\s*", text, re.DOTALL)
    if not m:
        raise UnsupportedError("unsupported: bag_unpack ignoredProperties other than dynamic([...]) of strings")
    return tuple(_string(p) for p in _split_top(m.group(1), blank(m.group(1))))


def slots_sql(column: str) -> str:
    """Over a relation `p`: each slot of the bag column with the JSON type of each of its values."""
    col = '"' + column.replace('"', '""') + '"'
    return (f"SELECT DISTINCT k, json_type(json_extract(p.{col}, '$.' || json_quote(k))) AS t "
            f"FROM p, unnest(json_keys(CASE WHEN json_type(p.{col}) = 'OBJECT' THEN p.{col} END)) AS u(k) "
            f"WHERE json_type(json_extract(p.{col}, '$.' || json_quote(k))) <> 'NULL'")


def kql_string(value: str) -> str:
    """*value* as a KQL string literal (the only way data enters query text)."""
    if any(ord(c) < 32 and c not in "\n\t\r" for c in value):
        raise UnsupportedError("unsupported: a bag slot name with control characters")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped.replace("\r", "\\r") + '"'


def bag_unpack_kql(split: Split, options: BagUnpack, columns: list[str], slots: list[tuple[str, str]]) -> str:
    """The operator as KQL over *split.before*: one typed `extend` per slot (in name order, as Kusto
    lists them), the bag column projected away, then the rest of the pipeline."""
    if options.column not in columns:
        raise KustoSemanticError(f"Semantic error: bag_unpack: no column named '{options.column}'")
    types: dict[str, set[str]] = {}
    for key, json_type in slots:
        if key not in options.ignored:
            types.setdefault(key, set()).add(json_type)
    keep = [c for c in columns if c != options.column]
    extends, replaced = [], []
    for key in sorted(types):
        name = options.prefix + key
        if name in keep:
            if options.conflict == "error":
                raise KustoSemanticError(f"Semantic error: bag_unpack: slot '{name}' conflicts with an existing "
                                         "column", hint="Pass columnsConflict='replace_source' or 'keep_source'.")
            if options.conflict == "keep_source":
                continue
            replaced.append(name)
        kinds = types[key]
        reader = SLOT_TYPES[next(iter(kinds))][1] if len(kinds) == 1 and next(iter(kinds)) in SLOT_TYPES else ""
        value = f"{options.column}[{kql_string(key)}]"
        extends.append(f"[{kql_string(name)}] = {reader}({value})" if reader else f"[{kql_string(name)}] = {value}")
    steps = [split.before.rstrip()]
    if replaced:
        steps.append("| project-away " + ", ".join(f"[{kql_string(c)}]" for c in replaced))
    if extends:
        steps.append("| extend " + ", ".join(extends))
    steps.append(f"| project-away [{kql_string(options.column)}]")
    return "\n".join(steps) + split.after


# -- parse-kv: rewritten as one typed `extend` per key, over a UDF that reads the pairs ----------------
_PARSE_KV = re.compile(r"\|\s*parse-kv\s+")
#: Kusto column type in `parse-kv ... as (...)` -> the conversion applied to the extracted text.
KV_TYPES = {"string": "tostring", "long": "tolong", "int": "toint", "real": "todouble", "double": "todouble",
            "bool": "tobool", "boolean": "tobool", "datetime": "todatetime", "timespan": "totimespan",
            "guid": "toguid", "dynamic": "todynamic"}


def _option_string(text: str) -> str:
    m = re.fullmatch(r"""\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*""", text)
    if not m:
        raise UnsupportedError(f"unsupported: parse-kv option value {text.strip()!r} (a string literal is needed)")
    raw = m.group(1) if m.group(1) is not None else m.group(2)
    return re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t", "r": "\r"}.get(e.group(1), e.group(1)), raw)


def _kv_column(part: str) -> tuple[str, str]:
    m = re.fullmatch(rf"""\s*(?:({IDENT})|\[\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*\])\s*:\s*({IDENT})\s*""", part)
    if not m or m.group(4).lower() not in KV_TYPES:
        raise UnsupportedError(f"unsupported: parse-kv column {part.strip()!r}")
    return next(g for g in m.groups()[:3] if g is not None), m.group(4).lower()


def rewrite_parse_kv(text: str) -> tuple[str, list[tuple[int, int, int]]]:
    """Each top-level `| parse-kv Expr as (K:T, ...) with (pair_delimiter=..., kv_delimiter=...
    [, quote=..., escape=...])` as `| extend K = T-conversion(__kfx_parse_kv(Expr, "K", ...))`.
    Without both delimiters (Kusto's heuristic mode) or with greedy=true it is refused."""
    if "parse-kv" not in text:
        return text, []
    scan = blank(text)
    m = _PARSE_KV.search(scan)
    if not m:
        return text, []
    head = re.compile(r"(.+?)\s+as\s*\(", re.DOTALL).match(scan, m.end())
    if not head:
        raise UnsupportedError("unsupported: parse-kv without `as (columns)`", text=text)
    cols_end = _close(scan, head.end() - 1, "(", ")")
    expr = text[m.end():m.end() + len(head.group(1))].strip()
    columns = [_kv_column(p) for p in _split_top(text[head.end():cols_end - 1], scan[head.end():cols_end - 1])]
    options: dict[str, str] = {}
    end = cols_end
    with_m = re.compile(r"\s*with\s*\(").match(scan, cols_end)
    if with_m:
        end = _close(scan, with_m.end() - 1, "(", ")")
        for part in _split_top(text[with_m.end():end - 1], scan[with_m.end():end - 1]):
            name, _, value = part.partition("=")
            options[name.strip().lower()] = value.strip()
    unknown = set(options) - {"pair_delimiter", "kv_delimiter", "quote", "escape", "greedy"}
    if unknown or "pair_delimiter" not in options or "kv_delimiter" not in options or \
            options.get("greedy", "false").lower() != "false":
        before = text[:m.start()]
        raise UnsupportedError("unsupported: parse-kv needs pair_delimiter and kv_delimiter here (no greedy, "
                               f"no heuristic mode){'; unknown: ' + ', '.join(sorted(unknown)) if unknown else ''}",
                               line=before.count("\n") + 1, column=m.start() - (before.rfind("\n") + 1) + 1,
                               text=text)
    args = [kql_string(_option_string(options.get(k, "''")))
            for k in ("pair_delimiter", "kv_delimiter", "quote", "escape")]
    extends = ", ".join(
        f"[{kql_string(name)}] = {KV_TYPES[kind]}(__kfx_parse_kv({expr}, {kql_string(name)}, {', '.join(args)}))"
        if kind != "string" else
        f"[{kql_string(name)}] = coalesce(__kfx_parse_kv({expr}, {kql_string(name)}, {', '.join(args)}), \"\")"
        for name, kind in columns)
    new = f"| extend {extends}"
    rewritten = text[:m.start()] + new + text[end:]
    more, edits = rewrite_parse_kv(rewritten)
    return more, [(m.start(), end - m.start(), len(new))] + edits


# -- project-by-names: the names (wildcards allowed) resolved against the columns of what precedes ----
_PROJECT_BY_NAMES = re.compile(r"\|\s*project-by-names\b")


def split_project_by_names(text: str) -> tuple[str, list[str], str] | None:
    """(before, the operator's name patterns, after) for the first top-level project-by-names."""
    scan = blank(text)
    for m in _PROJECT_BY_NAMES.finditer(scan):
        if depth_at(scan, m.start()):
            continue
        ends = top_level(scan[m.end():], "|;")
        end = m.end() + ends[0] if ends else len(scan)
        patterns = [_option_string(p) for p in _split_top(text[m.end():end], scan[m.end():end])]
        return text[:m.start()], patterns, text[end:]
    return None


def project_by_names_kql(before: str, patterns: list[str], columns: list[str], after: str) -> str:
    """`project` of the columns each pattern names (`*` any characters), in pattern order and,
    within a wildcard, in the input's order; a name matching nothing is an error, as in Kusto."""
    chosen: list[str] = []
    for pattern in patterns:
        rx = re.compile("^" + ".*".join(map(re.escape, pattern.split("*"))) + "$")
        matched = [c for c in columns if rx.match(c)]
        if not matched and "*" not in pattern:
            raise KustoSemanticError(f"Semantic error: project-by-names: no column named '{pattern}'")
        chosen += [c for c in matched if c not in chosen]
    return before.rstrip() + "\n| project " + ", ".join(f"[{kql_string(c)}]" for c in chosen) + after


# -- column_names_of(T): the names of a tabular expression's columns, found by running it (take 0) ---
_COLUMN_NAMES_OF = re.compile(r"\bcolumn_names_of\s*\(")


@dataclass(frozen=True)
class ColumnNamesOf:
    statements: str  # the statements before the last one, ending in ';' or empty
    argument: str    # the tabular expression
    start: int       # the call's span in the text
    end: int


def split_column_names_of(text: str) -> ColumnNamesOf | None:
    """The first column_names_of(...) call of the text's last statement, or None."""
    scan = blank(text)
    m = _COLUMN_NAMES_OF.search(scan)
    if m is None:
        return None
    semicolons = top_level(scan, ";")
    if any(s > m.start() for s in semicolons) and depth_at(scan, m.start()) == 0:
        raise UnsupportedError("unsupported: column_names_of outside the query's last statement", text=text)
    end = _close(scan, m.end() - 1, "(", ")")
    before = [s for s in semicolons if s < m.start()]
    if end is None or depth_at(scan, m.start()) and any(s > m.start() for s in semicolons):
        raise UnsupportedError("unsupported: column_names_of inside a let statement", text=text)
    return ColumnNamesOf(text[:before[-1] + 1] if before else "", text[m.end():end - 1], m.start(), end)


def column_names_kql(text: str, call: ColumnNamesOf, columns: list[str]) -> str:
    """The call replaced by the names, as a dynamic array of string literals."""
    names = f"pack_array({', '.join(kql_string(c) for c in columns)})" if columns else "dynamic([])"
    return text[:call.start] + names + text[call.end:]


# -- mv-apply: mv-expand per row, row-wise subquery operators, order/take/top and summarize per row ---
_MV_APPLY = re.compile(r"\|\s*mv-apply\s+")
_ROW_WISE = re.compile(r"^\s*(where|extend|project-away)\b")
_TAKE = re.compile(r"^\s*(?:take|limit)\s+(\d+)\s*$")
_TOP = re.compile(r"^\s*top\s+(\d+)\s+by\s+(.+)$", re.DOTALL)
_ORDER = re.compile(r"^\s*(?:order|sort)\s+by\s+(.+)$", re.DOTALL)
_ORDER_ITEM = re.compile(rf"^\s*({IDENT})(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$")
_SUMMARIZE = re.compile(r"^\s*summarize\s+(.+)$", re.DOTALL)
_EXPANSION_NAME = re.compile(rf"^\s*({IDENT})\s*(?:=|\bto\b|$)")
ROW = "__kfx_row"


@dataclass(frozen=True)
class MvApply:
    before: str
    expand: str          # the header, as mv-expand takes it (with_itemindex, expansions, limit)
    row_wise: list[str]  # where / extend / project-away operators of the subquery
    window: str | None   # the SQL window clause of a final order by / take / top, per source row
    limit: int | None
    after: str
    summarize: str | None = None    # a final `summarize ...` of the subquery (its text after the keyword)
    expanded: tuple[str, ...] = ()  # the names the expansion gives (the source columns it replaces)
    statements: str = ""            # the statements before the query (declare, let ...;), for each stage


def _order_sql(items: str, text: str) -> str:
    """`col [asc|desc] [nulls first|last], ...` (Kusto's default: desc) -> a SQL ORDER BY list."""
    out = []
    for item in _split_top(items, blank(items)):
        m = _ORDER_ITEM.match(item)
        if m is None:
            raise UnsupportedError(f"unsupported: mv-apply ordering by `{item}` (name a column of the subquery)",
                                   text=text)
        direction = (m.group(2) or "desc").upper()
        nulls = (m.group(3) or ("last" if direction == "DESC" else "first")).upper()
        out.append('"' + m.group(1).replace('"', '""') + f'" {direction} NULLS {nulls}')
    return ", ".join(out)


def _expansion_names(header: str) -> tuple[str, ...]:
    """The column names an mv-apply header's expansions create (`Name = expr` or a bare column)."""
    header = re.sub(rf"^\s*with_itemindex\s*=\s*{IDENT}\s*", "", header)
    header = re.sub(r"\blimit\s+\d+\s*$", "", header)
    scan = blank(header)
    return tuple(m.group(1) for part in _split_top(header, scan) if (m := _EXPANSION_NAME.match(part)))


def _subquery_parts(operators: list[str], text: str) -> tuple[list[str], str | None, int | None, str | None]:
    """(row-wise operators, window, limit, summarize) of an mv-apply subquery, read from its end:
    [where|extend|project-away]* [order by ... [| take N] | take N | top N by ...] [summarize ...]."""
    summarize = window = limit = None
    if operators and (m := _SUMMARIZE.match(operators[-1])):
        summarize, operators = m.group(1).strip(), operators[:-1]
    last = operators[-1] if operators else ""
    if (t := _TAKE.match(last)):
        limit, operators = int(t.group(1)), operators[:-1]
        order = _ORDER.match(operators[-1]) if operators else None
        window = f"PARTITION BY {ROW}" + (f" ORDER BY {_order_sql(order.group(1), text)}" if order else "")
        operators = operators[:-1] if order else operators
    elif (t := _TOP.match(last)):
        window = f"PARTITION BY {ROW} ORDER BY {_order_sql(t.group(2), text)}"
        limit, operators = int(t.group(1)), operators[:-1]
    elif (t := _ORDER.match(last)):
        window, operators = f"PARTITION BY {ROW} ORDER BY {_order_sql(t.group(1), text)}", operators[:-1]
    for op in operators:
        if _SUMMARIZE.match(op):
            raise UnsupportedError("unsupported: mv-apply with operators after the summarize of its subquery",
                                   text=text)
        if not _ROW_WISE.match(op):
            raise UnsupportedError(f"unsupported: mv-apply with {op.split()[0] if op else 'an empty'} operator "
                                   "in its subquery (here: where, extend, project-away, then order by/take/top, "
                                   "then summarize)", text=text)
    return operators, window, limit, summarize


def split_mv_apply(text: str) -> MvApply | None:
    """The first top-level mv-apply; its subquery may hold row-wise operators, then an ordering,
    `take N` or `top N by ...`, then one `summarize`: anything else is refused by name."""
    scan = blank(text)
    for m in _MV_APPLY.finditer(scan):
        if depth_at(scan, m.start()):
            continue
        on = re.compile(r"\s+on\s*\(").search(scan, m.end())
        end = _close(scan, on.end() - 1, "(", ")") if on else None
        if end is None:
            raise UnsupportedError("unsupported: mv-apply without `on (subquery)`", text=text)
        sub_text, sub_scan = strip_comments(text[on.end():end - 1]), blank(text[on.end():end - 1])
        cuts = top_level(sub_scan, "|")
        operators = [sub_text[a + 1:b].strip() for a, b in zip([-1] + cuts, cuts + [len(sub_text)])]
        row_wise, window, limit, summarize = _subquery_parts(operators, text)
        header = text[m.end():on.start()].strip()
        semicolons = top_level(scan[:m.start()], ";")
        statements = text[:semicolons[-1] + 1] + "\n" if semicolons else ""
        return MvApply(text[:m.start()], header, row_wise, window, limit, text[end:], summarize,
                       _expansion_names(header), statements)
    return None


def numbered_sql(sql: str) -> str:
    """*sql*'s rows, each with a row id (the source row of an mv-apply)."""
    return f"SELECT *, row_number() OVER () AS {ROW} FROM ({sql})"


def expand_kql(stage: str, apply: MvApply) -> str:
    return apply.statements + " | ".join([stage, f"mv-expand {apply.expand}", *apply.row_wise])


def windowed_sql(sql: str, apply: MvApply) -> str:
    """The subquery's ordering and take/top, per source row (rows stay grouped by source row)."""
    if apply.window is None:
        return sql
    keep = f" WHERE __kfx_rank <= {int(apply.limit)}" if apply.limit is not None else ""
    return (f"SELECT * EXCLUDE (__kfx_rank) FROM (SELECT *, row_number() OVER ({apply.window}) AS __kfx_rank "
            f"FROM ({sql})){keep} ORDER BY {ROW}, __kfx_rank")


def summarize_kql(stage: str, apply: MvApply) -> str:
    """The subquery's summarize, per source row: grouped by the row id first, then its own keys."""
    scan = blank(apply.summarize)
    by = next((m for m in re.finditer(r"\bby\b", scan) if not depth_at(scan, m.start())), None)
    if by is None:
        return f"{apply.statements}{stage} | summarize {apply.summarize} by {ROW}"
    aggregates, keys = apply.summarize[:by.start()].strip(), apply.summarize[by.end():].strip()
    return f"{apply.statements}{stage} | summarize {aggregates + ' ' if aggregates else ''}by {ROW}, {keys}"


def joined_sql(source: str, source_columns: list[str], summarized: str, summarized_columns: list[str],
               apply: MvApply, text: str) -> str:
    """Each source row's columns that the expansion did not replace, then its subquery's summary.
    A summarize without keys over a row whose subtable is empty (an empty array, or no item kept)
    answers one row in Kusto, with aggregates this stage cannot know; it is refused, not guessed."""
    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'
    kept = [c for c in source_columns if c != ROW and c not in apply.expanded]
    summary = [c for c in summarized_columns if c != ROW]
    clash = sorted(set(kept) & set(summary))
    if clash:
        raise UnsupportedError(f"unsupported: mv-apply whose summarize names the source column {clash[0]!r} "
                               "(rename the aggregate)", text=text)
    keyed = bool(re.search(r"\bby\b", blank(apply.summarize)))
    select = ", ".join([f"s.{q(c)}" for c in kept] + [f"g.{q(c)}" for c in summary])
    if keyed:
        return f"SELECT {select} FROM ({source}) s JOIN ({summarized}) g ON s.{ROW} = g.{ROW} ORDER BY s.{ROW}"
    refuse = ("error('unsupported: mv-apply with summarize over a row whose subtable is empty "
              "(an empty array or no item kept): add a by clause or filter such rows first')")
    return (f"SELECT {select} FROM ({source}) s LEFT JOIN ({summarized}) g ON s.{ROW} = g.{ROW} "
            f"WHERE CASE WHEN g.{ROW} IS NULL THEN CAST({refuse} AS BOOLEAN) ELSE true END ORDER BY s.{ROW}")


# -- pack_all(): a bag of the operator's input columns, read from a run of the pipeline before it -------
_PACK_ALL = re.compile(r"\bpack_all\s*\(")


@dataclass(frozen=True)
class PackAll:
    before: str                              # the query up to the operator that calls pack_all
    operator: str                            # that operator, from its `|`
    calls: tuple[tuple[int, int, bool], ...]  # (start, end, ignore_null_empty) of each call in it
    after: str


def split_pack_all(text: str) -> PackAll | None:
    """The operator of the query's last statement that calls pack_all(), or None; a call anywhere
    else (a let, a subquery, no operator) is refused by name."""
    scan = blank(text)
    first = _PACK_ALL.search(scan)
    if first is None:
        return None
    pipes = [p for p in top_level(scan, "|") if p < first.start()]
    later_statement = any(s > first.start() for s in top_level(scan, ";"))
    if not pipes or later_statement or "|" in scan[pipes[-1] + 1:first.start()]:
        raise UnsupportedError("unsupported: pack_all() outside an operator of the query's last pipeline",
                               text=text)
    start = pipes[-1]
    ends = [p for p in top_level(scan, "|;") if p > start]
    end = ends[0] if ends else len(text)
    calls = []
    for m in _PACK_ALL.finditer(scan, start, end):
        close = _close(scan, m.end() - 1, "(", ")")
        argument = text[m.end():close - 1].strip().lower() if close else None
        if argument not in ("", "true", "false"):
            raise UnsupportedError("unsupported: pack_all() with an argument other than true or false", text=text)
        calls.append((m.start() - start, close - start, argument == "true"))
    return PackAll(text[:start], text[start:end], tuple(calls), text[end:])


def pack_all_kql(pack: PackAll, columns: list[tuple[str, str]]) -> str:
    """Each call as `bag_pack` of the input's (name, DuckDB type) columns in order; with
    ignore_null_empty, `bag_remove_keys` of the null ones (and of empty strings)."""
    keys = ", ".join(f"{kql_string(name)}, [{kql_string(name)}]" for name, _ in columns)
    packed = f"bag_pack({keys})"
    empties = ", ".join(f"iff({'isempty' if kind == 'VARCHAR' else 'isnull'}([{kql_string(name)}]), "
                        f"{kql_string(name)}, '')" for name, kind in columns)
    out, last = [], 0
    for start, end, ignore in pack.calls:
        out += [pack.operator[last:start], f"bag_remove_keys({packed}, pack_array({empties}))" if ignore else packed]
        last = end
    out.append(pack.operator[last:])
    return pack.before + "".join(out) + pack.after
