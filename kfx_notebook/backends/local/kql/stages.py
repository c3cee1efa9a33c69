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
from .inline import IDENT, _close, _split_top, blank

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
        if sum(1 if c in "([{" else -1 if c in ")]}" else 0 for c in scan[:m.start()]) != 0:
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
