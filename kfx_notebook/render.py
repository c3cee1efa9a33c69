"""`| render KIND [with (...)]`: the trailing render of a query, split off and parsed; no drawing here.

Kusto draws `render` in the client, so the engine never sees it: `split_render` takes a
query's last operator off when it is a render (found on the text with strings and comments
masked, so neither can fool it) and returns the query to run plus a `RenderSpec`. Pure, no
I/O; every kind and property is a row below, and anything else is refused with its position.
Drawing the spec is `charts.py`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import KustoSyntaxError
from .expressions import code_mask


@dataclass(frozen=True)
class Kind:
    """How one render kind is drawn: the matplotlib style and the stacking it has when none is given."""

    style: str               # line, area, bar (horizontal), column, pie, scatter
    stacking: str = "default"
    stackable: bool = False  # whether `kind=` (stacked, unstacked, stacked100) applies
    x_type: str = "any"      # what the x axis needs: 'datetime' for timechart


KINDS: dict[str, Kind] = {
    "timechart": Kind("line", x_type="datetime"),
    "linechart": Kind("line"),
    "areachart": Kind("area", stackable=True),
    "stackedareachart": Kind("area", stacking="stacked", stackable=True),
    "barchart": Kind("bar", stackable=True),
    "columnchart": Kind("column", stackable=True),
    "piechart": Kind("pie"),
    "scatterchart": Kind("scatter"),
}

# Kusto's render kinds that are not drawn here (refused by name rather than as unknown).
UNDRAWN_KINDS = ("anomalychart", "card", "table", "treemap", "pivotchart", "ladderchart", "timepivot", "3Dchart")

# with-property -> the values it takes: "text", "column", "columns", "number", or a tuple of words.
PROPERTIES: dict[str, object] = {
    "title": "text",
    "xtitle": "text",
    "ytitle": "text",
    "xcolumn": "column",
    "ycolumns": "columns",
    "series": "columns",
    "kind": ("default", "unstacked", "stacked", "stacked100"),
    "legend": ("visible", "hidden"),
    "xaxis": ("linear", "log"),
    "yaxis": ("linear", "log"),
    "ymin": "number",
    "ymax": "number",
}

_RENDER = re.compile(r"\|\s*render\b")
_KIND = re.compile(r"\s*([A-Za-z0-9_]+)")
_WITH = re.compile(r"\s*with\s*\(")
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class RenderSpec:
    """A parsed `render`: its kind and with-properties (lists for ycolumns and series)."""

    kind: str
    properties: dict[str, object] = field(default_factory=dict)

    @property
    def drawing(self) -> Kind:
        return KINDS[self.kind]

    @property
    def stacking(self) -> str:
        return str(self.properties.get("kind", self.drawing.stacking))

    def as_attrs(self) -> dict[str, object]:
        """What df.attrs["kusto"]["render"] holds: plain data, JSON-ready."""
        return {"kind": self.kind, "properties": {k: (list(v) if isinstance(v, tuple) else v)
                                                  for k, v in self.properties.items()}}


def split_render(kql: str) -> tuple[str, RenderSpec | None]:
    """(the query without its trailing render, the render) — or (kql, None) when it has none."""
    masked = code_mask(kql)
    if masked.lstrip().startswith("."):
        return kql, None  # a management command has no render
    matches = list(_RENDER.finditer(masked))
    if not matches:
        return kql, None
    start = matches[-1].start()
    end, spec = _parse_render(kql, masked, matches[-1].end())
    rest = masked[end:].strip()
    if rest not in ("", ";"):
        raise _error(kql, end + (len(masked[end:]) - len(masked[end:].lstrip())),
                     "render must be the query's last operator",
                     "Move `| render ...` to the end of the query.")
    for earlier in matches[:-1]:
        if ";" not in masked[earlier.end():start]:  # in the same statement as the last one
            raise _error(kql, earlier.start(), "render must be the query's last operator",
                         "Keep one `| render ...`, at the end of the query.")
    return kql[:start].rstrip(), spec


def _parse_render(kql: str, masked: str, pos: int) -> tuple[int, RenderSpec]:
    m = _KIND.match(masked, pos)
    if not m:
        raise _error(kql, pos, "render needs a kind", "Write e.g. `| render timechart`; kinds: "
                     + ", ".join(KINDS) + ".")
    kind = m.group(1)
    if kind not in KINDS:
        known = kind.lower() in [k.lower() for k in UNDRAWN_KINDS]
        raise _error(kql, m.start(1), f"render kind '{kind}' is " + ("not drawn by kfx-notebook" if known
                                                                     else "not a Kusto render kind"),
                     "Use one of: " + ", ".join(KINDS) + ".")
    pos = m.end()
    properties: dict[str, object] = {}
    w = _WITH.match(masked, pos)
    if w:
        close = masked.find(")", w.end())
        if close < 0:
            raise _error(kql, w.end() - 1, "render's with ( has no closing )", "Close the property list with ).")
        properties = _properties(kql, masked, w.end(), close, kind)
        pos = close + 1
    return pos, RenderSpec(kind, properties)


def _properties(kql: str, masked: str, start: int, end: int, kind: str) -> dict[str, object]:
    """`name=value, name=value, ...`; a bare value after ycolumns/series extends that list."""
    properties: dict[str, object] = {}
    last: str | None = None
    for at, piece, piece_masked in _pieces(kql, masked, start, end):
        if not piece:
            raise _error(kql, at, "render's with () has an empty property", "Remove the extra comma.")
        if "=" not in piece_masked:
            if last is None or PROPERTIES[last] != "columns":
                raise _error(kql, at, f"render property '{piece}' has no value", "Write name=value.")
            properties[last] = (*properties[last], _column(kql, at, piece))
            continue
        split = piece_masked.index("=")
        name, raw = piece[:split].strip(), piece[split + 1:]
        value_at = at + split + 1 + len(raw) - len(raw.lstrip())
        if name not in PROPERTIES:
            raise _error(kql, at, f"render property '{name}' is not drawn by kfx-notebook",
                         "Supported: " + ", ".join(PROPERTIES) + ".")
        if name in properties:
            raise _error(kql, at, f"render property '{name}' is given twice", "Give each property once.")
        properties[name] = _value(kql, value_at, name, raw.strip(), kind)
        last = name
    return properties


def _pieces(kql: str, masked: str, start: int, end: int):
    """(offset, text, masked text) of each comma-separated piece, stripped, commas in strings kept."""
    # literals as solid characters (not blanks), so stripping a piece keeps its strings
    solid = "".join("_" if m == " " and not c.isspace() else m for c, m in zip(kql, masked))
    offset = start
    for piece_masked in solid[start:end].split(","):
        lead = len(piece_masked) - len(piece_masked.lstrip())
        at, stop = offset + lead, offset + len(piece_masked.rstrip())
        yield at, kql[at:max(at, stop)], masked[at:max(at, stop)]
        offset += len(piece_masked) + 1


def _value(kql: str, at: int, name: str, raw: str, kind: str) -> object:
    expected = PROPERTIES[name]
    if expected == "text":
        return _string(kql, at, name, raw)
    if expected in ("column", "columns"):
        column = _column(kql, at, raw)
        return column if expected == "column" else (column,)
    if expected == "number":
        if not _NUMBER.fullmatch(raw):
            raise _error(kql, at, f"render property '{name}' needs a number, not '{raw}'", f"Write {name}=10.")
        return float(raw)
    if raw not in expected:
        raise _error(kql, at, f"render property '{name}' cannot be '{raw}'", "Use one of: " + ", ".join(expected) + ".")
    if name == "kind" and not KINDS[kind].stackable:
        raise _error(kql, at, f"render {kind} has no kind= property",
                     "kind= (stacked, unstacked, stacked100) applies to areachart, barchart and columnchart.")
    return raw


def _string(kql: str, at: int, name: str, raw: str) -> str:
    """A KQL string literal's value: 'x' or "x" with backslash escapes, @'x' / @"x" verbatim."""
    verbatim = raw.startswith("@")
    body = raw[1:] if verbatim else raw
    if len(body) < 2 or body[0] not in "'\"" or body[-1] != body[0]:
        raise _error(kql, at, f"render property '{name}' needs a string literal", f'Write {name}="...".')
    quote, inner = body[0], body[1:-1]
    if verbatim:
        return inner.replace(quote * 2, quote)
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner):
            out.append(escapes.get(inner[i + 1], inner[i + 1]))
            i += 2
        else:
            out.append(inner[i])
            i += 1
    return "".join(out)


def _column(kql: str, at: int, raw: str) -> str:
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        return _string(kql, at, "column", text[1:-1].strip())
    if not _NAME.fullmatch(text):
        raise _error(kql, at, f"'{text}' is not a column name", "Name a column of the result.")
    return text


def _error(kql: str, offset: int, message: str, hint: str) -> KustoSyntaxError:
    before = kql[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return KustoSyntaxError(f"Syntax error: {message}", line=line, column=column, text=kql, hint=hint)
