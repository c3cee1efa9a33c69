"""`percentiles(e, P1, P2, ...)` and `percentilesw(e, w, P1, ...)` in a summarize, written as one
`percentile`/`percentilew` per P, each named as Kusto names it.

Kusto's percentiles are nearest-rank (percentiles-aggregation-function.md: the smallest value
with at least P% of the values at or below it; P = 0 is the minimum); duckdb-kql's `percentile`
is DuckDB's `quantile_disc`, which is that rank, and `percentilew` is a row of functions.py over
`weighted_rank` here. Kusto estimates with a T-Digest, exact on small groups and within 1% of
rank on large ones; these are exact. The columns are named `percentile_<e>_<P>` with a
fractional P's `.` as `_` (`percentile_LatencyBucket_99_9` in percentilesw-aggregation-
function.md), for the weighted ones too. Rule: a call is rewritten only when every P is a number
literal and its name is known (a bare column as *e*, or `(a, b, ...) = percentiles(...)`);
anything else is refused with its position, never named by a guess.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from ....errors import UnsupportedError
from .inline import IDENT, _close, _split_top, blank, depth_at, top_level

_SUMMARIZE = re.compile(r"\|\s*summarize\b")
_CALL = re.compile(rf"^(?:(?P<name>{IDENT})\s*=\s*|\((?P<names>[^()]*)\)\s*=\s*)?"
                   r"(?P<fn>percentiles?w?)\s*\(", re.DOTALL)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def weighted_rank(weights: str, percentile: float) -> int | None:
    """The 1-based position, among values sorted ascending with these weights (a JSON list), of
    the weighted nearest-rank percentile: the first whose running weight reaches P% of the total."""
    import json

    ws = [Decimal(str(w)) for w in json.loads(weights)]
    if any(w < 0 for w in ws):
        raise ValueError("percentilew: a weight is negative (weights are counts)")
    total = sum(ws, Decimal(0))
    if not ws or total <= 0:
        return None
    rank = max(Decimal(1), Decimal(math.ceil(Decimal(str(percentile)) * total / 100)))
    running = Decimal(0)
    for position, w in enumerate(ws, start=1):
        running += w
        if running >= rank:
            return position
    return len(ws)


def _suffix(p: str) -> str:
    value = Decimal(p)
    return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f").replace(".", "_")


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _refuse(text: str, offset: int, what: str) -> UnsupportedError:
    line, column = _position(text, offset)
    return UnsupportedError(f"unsupported: {what}", line=line, column=column, text=text)


def _item(item: str, text: str, offset: int, taken: set[str]) -> str | None:
    """One summarize aggregate, rewritten when it is a percentile call (else None); *taken* holds
    the default names given so far in this summarize (Kusto would rename a repeat: refused)."""
    m = _CALL.match(item)
    if m is None:
        return None
    end = _close(blank(item), m.end() - 1, "(", ")")
    if end is None or item[end:].strip():
        return None  # a percentile call inside a larger expression: the engine decides
    fn, weighted = m.group("fn"), m.group("fn").endswith("w")
    args = _split_top(item[m.end():end - 1], blank(item[m.end():end - 1]))
    fixed = 2 if weighted else 1
    ps = args[fixed:]
    if len(args) <= fixed or (fn in ("percentile", "percentilew") and len(ps) != 1):
        raise _refuse(text, offset, f"{fn}() takes {fixed + 1} or more arguments" if fn.endswith("s")
                      or fn.endswith("sw") else f"{fn}() takes {fixed + 1} arguments")
    for p in ps:
        try:
            if not _NUMBER.match(p) or not 0 <= Decimal(p) <= 100:
                raise InvalidOperation
        except InvalidOperation:
            raise _refuse(text, offset, f"{fn}() with the percentile {p!r} (a number from 0 to 100 is needed)") \
                from None
    single = "percentilew" if weighted else "percentile"
    head = ", ".join(args[:fixed])
    if m.group("names") is not None:
        names = [n.strip() for n in m.group("names").split(",")]
        if len(names) != len(ps) or not all(re.fullmatch(IDENT, n) for n in names):
            raise _refuse(text, offset, f"{fn}() assigned to {len(names)} name(s) for {len(ps)} percentile(s)")
    elif m.group("name") is not None:
        if len(ps) != 1:
            raise _refuse(text, offset, f"{fn}() with several percentiles under one name (write `(a, b) = ...`)")
        names = [m.group("name")]
    else:
        if not re.fullmatch(IDENT, args[0]):
            raise _refuse(text, offset, f"{fn}() over an expression without a name (name the column)")
        names = [f"percentile_{args[0]}_{_suffix(p)}" for p in ps]
        for name in names:
            if name in taken:
                raise _refuse(text, offset, f"percentile columns named {name} twice (name them)")
            taken.add(name)
    return ", ".join(f"{name} = {single}({head}, {p})" for name, p in zip(names, ps))


def _operator_end(scan: str, start: int) -> int:
    """Where the operator starting at *start* ends: the next `|` or `;` at its own depth, or the
    bracket that closes the subquery it sits in."""
    depth = 0
    for i in range(start, len(scan)):
        ch = scan[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return i
        elif ch in "|;" and depth == 0:
            return i
    return len(scan)


def rewrite_percentiles(text: str) -> tuple[str, list[tuple[int, int, int]]]:
    """The text with each summarize's percentile calls rewritten; the edits (offset, old length,
    new length) for mapping error positions back."""
    scan = blank(text)
    if "percentile" not in scan:
        return text, []
    edits: list[tuple[int, int, str]] = []
    for m in _SUMMARIZE.finditer(scan):
        start = m.end()
        stop = _operator_end(scan, start)
        segment = scan[start:stop]
        by = next((b for b in re.finditer(r"\bby\b", segment) if not depth_at(segment, b.start())), None)
        aggregates_end = start + (by.start() if by else len(segment))
        cuts = top_level(scan[start:aggregates_end], ",")
        taken: set[str] = set()
        for a, b in zip([-1] + cuts, cuts + [aggregates_end - start]):
            raw = text[start + a + 1:start + b]
            lead = len(raw) - len(raw.lstrip())
            item = raw.strip()
            new = _item(item, text, start + a + 1 + lead, taken)
            if new is not None:
                edits.append((start + a + 1 + lead, len(item), new))
    out, mapped, last = [], [], 0
    for offset, length, new in sorted(edits):
        out.append(text[last:offset])
        out.append(new)
        mapped.append((offset, length, len(new)))
        last = offset + length
    out.append(text[last:])
    return "".join(out), mapped
