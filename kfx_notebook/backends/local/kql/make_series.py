"""make-series by SQL stages: a summarize per bin the engine runs, then the series built in SQL.

`T | make-series [kind=nonempty] Agg [default=D], ... on Axis from S to E step St [by K, ...]`
becomes two queries the engine knows: `T | where Axis >= S and Axis < E | summarize Agg, ...
by K, ..., bin_at(Axis, St, S)` and `print S, E, St, D, ...` (the same statements before
them). `series_sql` then joins every key with every bin S, S+St, ... < E and lists each
aggregate in bin order, absent bins taking their default (0 when none is given), the axis
beside them. Rule: the documented form only (from, to and step given, the axis and the keys
plain columns, numeric aggregates, a datetime axis); anything else is refused by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ....errors import UnsupportedError
from .inline import IDENT, _split_top, blank, depth_at, top_level

_MAKE_SERIES = re.compile(r"\|\s*make-series\s+")
_HEADER = re.compile(r"^(?P<aggs>.*?)\s+on\s+(?P<axis>.+?)\s+from\s+(?P<start>.+?)\s+to\s+(?P<stop>.+?)"
                     r"\s+step\s+(?P<step>.+?)(?:\s+by\s+(?P<keys>.+))?$", re.DOTALL)
_DEFAULT = re.compile(r"^(?P<agg>.+?)\s+default\s*=\s*(?P<default>.+)$", re.DOTALL)
BIN = "__kfx_bin"
_NUMERIC = re.compile(r"(BIGINT|INTEGER|HUGEINT|DOUBLE|FLOAT|SMALLINT|TINYINT|UBIGINT|DECIMAL\(\d+,\s*\d+\))")


@dataclass(frozen=True)
class MakeSeries:
    statements: str        # the statements before the query (let ...;), ending in ';' or empty
    source: str            # the pipeline before make-series
    nonempty: bool
    aggregates: list[str]  # as summarize takes them ([Name =] agg(...))
    defaults: list[str]    # KQL of each aggregate's default
    axis: str
    start: str
    stop: str
    step: str
    keys: list[str]
    after: str             # the rest of the pipeline, starting with `|` or empty


def split_make_series(text: str) -> MakeSeries | None:
    """The first top-level make-series of the text's last statement, or None."""
    scan = blank(text)
    for m in _MAKE_SERIES.finditer(scan):
        if depth_at(scan, m.start()):
            continue
        pipes = [p for p in top_level(scan, "|") if p > m.start()]
        end = pipes[0] if pipes else len(text)
        header, header_scan = text[m.end():end].strip(), scan[m.end():end].strip()
        nonempty = False
        kind = re.match(r"kind\s*=\s*(\w+)\s+", header_scan)
        if kind:
            if kind.group(1).lower() != "nonempty":
                raise UnsupportedError(f"unsupported: make-series kind={kind.group(1)}", text=text)
            nonempty, header, header_scan = True, header[kind.end():], header_scan[kind.end():]
        if re.search(r"\bin\s+range\s*\(", header_scan):
            raise UnsupportedError("unsupported: make-series ... in range(...) (write from/to/step)", text=text)
        parts = _HEADER.match(header_scan)
        if not parts:
            raise UnsupportedError("unsupported: make-series without all of `on`, `from`, `to` and `step`", text=text)
        span = {k: header[parts.start(k):parts.end(k)] for k in parts.groupdict() if parts.group(k) is not None}
        aggregates, defaults = _aggregates(span["aggs"])
        keys = _split_top(span.get("keys", ""), blank(span.get("keys", "")))
        for name in [span["axis"], *keys]:
            if not re.fullmatch(IDENT, name):
                raise UnsupportedError(f"unsupported: make-series on or by {name!r} (a column name is needed)",
                                       text=text)
        semicolons = top_level(scan[:m.start()], ";")
        cut = semicolons[-1] + 1 if semicolons else 0
        return MakeSeries(text[:cut], text[cut:m.start()], nonempty, aggregates, defaults, span["axis"],
                          span["start"], span["stop"], span["step"], keys, text[end:])
    return None


def _aggregates(text: str) -> tuple[list[str], list[str]]:
    aggregates, defaults = [], []
    for part in _split_top(text, blank(text)):
        m = _DEFAULT.match(part)
        aggregates.append((m.group("agg") if m else part).strip())
        defaults.append(m.group("default").strip() if m else "0")
    if not aggregates:
        raise UnsupportedError("unsupported: make-series without an aggregation")
    return aggregates, defaults


def binned_kql(ms: MakeSeries) -> str:
    """The rows in range, summarized per key and bin."""
    by = ", ".join([*ms.keys, f"{BIN} = bin_at({ms.axis}, {ms.step}, {ms.start})"])
    return (f"{ms.statements}\n{ms.source} | where {ms.axis} >= ({ms.start}) and {ms.axis} < ({ms.stop})"
            f" | summarize {', '.join(ms.aggregates)} by {by}")


def bounds_kql(ms: MakeSeries) -> str:
    """One row: the range's start, stop and step and each aggregate's default."""
    defaults = ", ".join(f"__kfx_d{i} = {d}" for i, d in enumerate(ms.defaults))
    return (f"{ms.statements}\nprint __kfx_s = {ms.start}, __kfx_e = {ms.stop}, __kfx_st = {ms.step}, "
            f"{defaults}")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def series_sql(ms: MakeSeries, binned: str, binned_types: dict[str, str], bounds: str, bounds_types: dict) -> str:
    """Every key with every bin, each aggregate listed in bin order (absent bins: the default)."""
    if (bounds_types["__kfx_s"], bounds_types["__kfx_e"], bounds_types["__kfx_st"]) != ("TIMESTAMP", "TIMESTAMP",
                                                                                       "INTERVAL"):
        raise UnsupportedError("unsupported: make-series over an axis that is not a datetime with a timespan step")
    values = [c for c in binned_types if c not in ms.keys and c != BIN]
    for column in values:
        if not _NUMERIC.fullmatch(binned_types[column]):
            raise UnsupportedError(f"unsupported: make-series of {column} ({binned_types[column]}; numbers only here)")
    axis = f"to_json(list_transform(list(b.{BIN} ORDER BY b.{BIN}), lambda x: strftime(x, '%Y-%m-%dT%H:%M:%S.%f') || '0Z'))"
    group = [f"k.{_q(k)}" for k in ms.keys] or ["k.__kfx_one"]
    key_rows = (f"SELECT DISTINCT {', '.join(_q(k) for k in ms.keys)} FROM agg" if ms.keys
                else "SELECT 1 AS __kfx_one" + ("" if ms.nonempty else " WHERE EXISTS (SELECT 1 FROM agg)"))
    on = " AND ".join([f"a.{BIN} = b.{BIN}", *(f"a.{_q(k)} IS NOT DISTINCT FROM k.{_q(k)}" for k in ms.keys)])
    series = ", ".join(f"to_json(list(coalesce(a.{_q(c)}, p.__kfx_d{i}) ORDER BY b.{BIN})) AS {_q(c)}"
                       for i, c in enumerate(values))
    keys = "".join(f"{g}, " for g in group if ms.keys)
    return (f"WITH agg AS ({binned}), p AS ({bounds}), "
            f"b AS (SELECT g.{BIN} FROM (SELECT unnest(generate_series(p.__kfx_s, p.__kfx_e, p.__kfx_st)) AS {BIN} "
            f"FROM p) AS g, p WHERE g.{BIN} < p.__kfx_e), k AS ({key_rows}) "
            f"SELECT {keys}{series}, {axis} AS {_q(ms.axis)} "
            f"FROM k CROSS JOIN b CROSS JOIN p LEFT JOIN agg AS a ON {on} GROUP BY {', '.join(group)}")
