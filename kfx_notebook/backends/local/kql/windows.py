"""serialize and the functions of serialized rows (prev, next, row_number, row_cumsum,
row_rank_dense) by SQL stages: each call becomes a window over the rows' order.

`split_window` finds the first `| serialize` or `| extend` whose assignments call one of them.
The rows before it are numbered in their order (`__kfx_row`); then, innermost call first, its
arguments become columns (KQL the engine runs) and `window_sql` adds its value as a column
computed over `ORDER BY __kfx_row`, the call's text replaced by that column's name, until the
assignments are plain KQL that runs as an `extend` over the last stage. Rule: Kusto allows these
functions only over serialized rows, so the operator must be `serialize` or follow `serialize`,
`order by`, `sort by` or `top`; a restart argument starts a new group at its row; prev/next
take a constant offset; anything else is refused by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ....errors import UnsupportedError
from .inline import _close, _split_top, blank, depth_at, top_level

ROW = "__kfx_row"
_CALL = re.compile(r"\b(prev|next|row_number|row_cumsum|row_rank_dense)\s*\(")
_OPERATOR = re.compile(r"^\s*(serialize|extend)\b")
_SERIALIZING = re.compile(r"^\s*(serialize|order\s+by|sort\s+by|top)\b")
_KEEPS_ORDER = re.compile(r"^\s*(extend|where|project|project-away|project-rename|project-keep|take|limit)\b")
_INTEGER = re.compile(r"\s*\d+\s*")
_INTEGER_TYPES = ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER")
ARITIES = {"prev": (1, 2, 3), "next": (1, 2, 3), "row_number": (0, 1, 2), "row_cumsum": (1, 2),
           "row_rank_dense": (1, 2)}


@dataclass(frozen=True)
class WindowSplit:
    before: str       # the query up to the operator
    assignments: str  # the operator's assignments (extend's syntax)
    after: str        # the rest of the pipeline, starting with `|` or empty


@dataclass(frozen=True)
class Call:
    name: str
    args: list[str]
    start: int        # the call's span in the assignments text
    end: int


def split_window(text: str) -> WindowSplit | None:
    """The first top-level serialize, or extend calling a function of serialized rows (a bare
    serialize followed by such an extend is taken with it)."""
    scan = blank(text)
    pipes = [p for p in top_level(scan, "|") if not depth_at(scan, p)]
    bounds = list(zip(pipes, pipes[1:] + [len(text)]))
    for index, (start, end) in enumerate(bounds):
        operator = _OPERATOR.match(scan[start + 1:end])
        if not operator or (operator.group(1) == "extend" and not _CALL.search(scan[start + 1:end])):
            continue
        body = text[start + 1 + operator.end():end].strip()
        if operator.group(1) == "serialize" and not body and index + 1 < len(bounds):
            following = bounds[index + 1]
            if re.match(r"^\s*extend\b", scan[following[0] + 1:following[1]]) and _CALL.search(
                    scan[following[0] + 1:following[1]]):
                extend = re.match(r"^\s*extend\b", text[following[0] + 1:following[1]])
                return WindowSplit(text[:start], text[following[0] + 1 + extend.end():following[1]].strip(),
                                   text[following[1]:])
        if operator.group(1) == "extend" and not _serialized(scan, pipes, index):
            raise UnsupportedError(f"unsupported: {_CALL.search(scan[start + 1:end]).group(1)}() over rows "
                                   "that are not serialized (put serialize or order by before it)", text=text)
        return WindowSplit(text[:start], body, text[end:])
    return None


def _serialized(scan: str, pipes: list[int], index: int) -> bool:
    """Whether the rows reaching operator *index* are serialized: a serializing operator before it
    with only order-keeping ones between, or one of this module's own stages as the source."""
    for i in range(index - 1, -1, -1):
        operator = scan[pipes[i] + 1:pipes[i + 1]]
        if _SERIALIZING.match(operator):
            return True
        if not _KEEPS_ORDER.match(operator):
            return False
    statements = top_level(scan[:pipes[0]], ";")
    return bool(re.match(r"\s*__kfx_win\d+\s*$", scan[statements[-1] + 1 if statements else 0:pipes[0]]))


def innermost_call(assignments: str) -> Call | None:
    """The first call of these functions whose arguments call none of them."""
    scan = blank(assignments)
    for m in _CALL.finditer(scan):
        close = _close(scan, m.end() - 1, "(", ")")
        if close is None:
            raise UnsupportedError(f"unsupported: unbalanced {m.group(1)}(")
        if _CALL.search(scan[m.end():close - 1]):
            continue
        args = _split_top(assignments[m.end():close - 1], scan[m.end():close - 1])
        name = m.group(1)
        if len(args) not in ARITIES[name]:
            raise UnsupportedError(f"unsupported: {name}() with {len(args)} arguments")
        if name in ("prev", "next") and len(args) > 1 and not _INTEGER.fullmatch(args[1]):
            raise UnsupportedError(f"unsupported: {name}() with an offset that is not a constant integer")
        return Call(name, args, m.start(), close)
    return None


def argument_kql(stage: str, call: Call, n: int) -> str:
    """The stage with the call's arguments as columns __kfx_a<n>_<i>."""
    extends = ", ".join(f"__kfx_a{n}_{i} = ({a})" for i, a in enumerate(call.args))
    return f"{stage} | extend {extends}" if extends else stage


def window_sql(sql: str, call: Call, n: int, types: dict[str, str]) -> str:
    """*sql* with the call's value as column __kfx_v<n>, in the rows' order."""
    a = [f"__kfx_a{n}_{i}" for i in range(len(call.args))]
    order = f"ORDER BY {ROW}"
    value = f"__kfx_v{n}"
    if call.name in ("prev", "next"):
        lag = "lag" if call.name == "prev" else "lead"
        offset = int(call.args[1]) if len(a) > 1 else 1
        default = f", {a[2]}" if len(a) > 2 else ""
        return f"SELECT *, {lag}({a[0]}, {offset}{default}) OVER ({order}) AS {value} FROM ({sql}) {order}"
    restart = a[1] if len(a) > 1 else None
    group = f"__kfx_g{n}"
    grouped = (f"SELECT *, sum(CASE WHEN {restart} THEN 1 ELSE 0 END) OVER ({order} ROWS UNBOUNDED PRECEDING) "
               f"AS {group} FROM ({sql})" if restart else f"SELECT *, 0 AS {group} FROM ({sql})")
    within = f"PARTITION BY {group} {order}"
    if call.name == "row_number":
        start = a[0] if a else "1"
        body = f"SELECT *, CAST({start} AS BIGINT) - 1 + row_number() OVER ({within}) AS {value} FROM ({grouped})"
    elif call.name == "row_cumsum":
        kind = "BIGINT" if types.get(a[0], "").startswith(_INTEGER_TYPES) else "DOUBLE"
        body = (f"SELECT *, CAST(sum({a[0]}) OVER ({within} ROWS UNBOUNDED PRECEDING) AS {kind}) AS {value} "
                f"FROM ({grouped})")
    else:  # row_rank_dense: 1 at a group's first row, +1 at each change of value
        change = f"__kfx_c{n}"
        marked = (f"SELECT *, CASE WHEN row_number() OVER ({within}) = 1 OR {a[0]} IS DISTINCT FROM "
                  f"lag({a[0]}) OVER ({within}) THEN 1 ELSE 0 END AS {change} FROM ({grouped})")
        body = (f"SELECT * EXCLUDE ({change}), CAST(sum({change}) OVER ({within} ROWS UNBOUNDED PRECEDING) "
                f"AS BIGINT) AS {value} FROM ({marked})")
    return f"SELECT * EXCLUDE ({group}) FROM ({body}) {order}"


def helper_columns(first: int, arguments: list[int]) -> list[str]:
    """Every column the stages from call *first* on added (each call's argument count given), for
    the final project-away."""
    names = [ROW]
    for n, count in enumerate(arguments, start=first):
        names += [f"__kfx_a{n}_{i}" for i in range(count)] + [f"__kfx_v{n}"]
    return names
