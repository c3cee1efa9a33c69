"""Function calls duckdb-kql cannot translate, expanded in place before it parses the text.

duckdb-kql translates `let` functions with scalar bodies and stored functions with scalar
parameters, but refuses `view` lets, tabular parameters and tabular `let` bodies, and cannot
take a parameter as the count of `take`/`top` inside a stored function. Each such function is
expanded at its call sites: `F(a, b)` becomes `(body)` with every parameter replaced by its
argument's text (or its default), so what the engine sees is the query the user would have
written by hand. Rule: a function is expanded only when its definition and every call parse
completely; anything else is left to the engine, which refuses it by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_STRINGS = re.compile(r"""//[^\n]*|[hH]?@?'(?:[^'\\\n]|\\.)*'|[hH]?@?"(?:[^"\\\n]|\\.)*"|```.*?```""", re.DOTALL)
_LET_HEAD = re.compile(rf"\blet\s+({IDENT})\s*=\s*(view\s*)?\(")
_STORED_HEAD = re.compile(rf"^\s*function\s+({IDENT})\s*\(")
_TABULAR_START = re.compile(r"^\s*(print|datatable|range|union|find|search)\b")
_TAKE_TOP = r"\b(?:take|limit)\s+{0}\b|\btop\s+{0}\s+by\b"
MAX_CALLS = 64


@dataclass(frozen=True)
class Param:
    name: str
    tabular: bool
    default: str | None


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Param, ...]
    body: str


def strip_comments(text: str) -> str:
    """*text* with its `//` comments blanked (string literals kept)."""
    return _STRINGS.sub(lambda m: " " * len(m.group(0)) if m.group(0).startswith("//") else m.group(0), text)


def blank(text: str) -> str:
    """*text* with comments and string literals blanked (same length), for scanning."""
    return _STRINGS.sub(lambda m: " " * len(m.group(0)), text)


def _close(scan: str, start: int, opening: str, closing: str) -> int | None:
    """Index just past the bracket matching the one at *start*, or None."""
    depth = 0
    for i in range(start, len(scan)):
        if scan[i] == opening:
            depth += 1
        elif scan[i] == closing:
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def top_level(scan: str, chars: str) -> list[int]:
    """Offsets of the characters of *chars* that sit outside every bracket of *scan*."""
    out, depth = [], 0
    for i, ch in enumerate(scan):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in chars and depth == 0:
            out.append(i)
    return out


def depth_at(scan: str, offset: int) -> int:
    """How many brackets are open at *offset* of *scan*."""
    return sum(1 if ch in "([{" else -1 if ch in ")]}" else 0 for ch in scan[:offset])


def _split_top(text: str, scan: str) -> list[str]:
    """*text* split at the commas outside brackets (scan is text blanked)."""
    cuts = top_level(scan, ",")
    parts = [text[a + 1:b].strip() for a, b in zip([-1] + cuts, cuts + [len(text)])]
    return parts if any(parts) else []


def _params(text: str) -> tuple[Param, ...] | None:
    out = []
    for part in _split_top(text, blank(text)):
        m = re.fullmatch(rf"({IDENT})\s*:\s*(\(.*\)|\*|{IDENT})\s*(?:=\s*(.+))?", part, re.DOTALL)
        if not m:
            return None
        out.append(Param(m.group(1), m.group(2).startswith("(") or m.group(2) == "*", m.group(3)))
    return tuple(out)


def _definition(text: str, scan: str, open_paren: int) -> tuple[tuple[Param, ...], str, int] | None:
    """(params, body, end) of `(params) { body }` whose `(` is at *open_paren*."""
    params_end = _close(scan, open_paren, "(", ")")
    if params_end is None:
        return None
    brace = re.compile(r"\s*\{").match(scan, params_end)
    if not brace:
        return None
    body_end = _close(scan, brace.end() - 1, "{", "}")
    params = _params(text[open_paren + 1:params_end - 1])
    if body_end is None or params is None:
        return None
    return params, text[brace.end():body_end - 1].strip(), body_end


def _needs_expanding(fn: Function, stored: bool) -> bool:
    scan = blank(fn.body)
    if re.search(r"\blet\b", scan):
        return False  # a body with statements of its own cannot become one parenthesized expression
    if any(p.tabular for p in fn.params):
        return True
    if stored and any(re.search(_TAKE_TOP.format(re.escape(p.name)), scan) for p in fn.params):
        return True
    # a tabular body: the engine's own stored-function calls lose a parameter's type (bin(Ts, span)
    # with a timespan query parameter fails to bind), the expansion keeps it
    return "|" in scan or bool(_TABULAR_START.match(scan)) or bool(re.fullmatch(rf"\s*{IDENT}\s*", scan))


def _substitute(body: str, values: dict[str, str]) -> str:
    scan = blank(body)
    out, last = [], 0
    for m in re.finditer(IDENT, scan):
        name = m.group(0)
        if name not in values or (m.start() and scan[m.start() - 1] in ".$") or \
                re.match(r"\s*=(?!=)", scan[m.end():]):
            continue
        out += [body[last:m.start()], values[name]]
        last = m.end()
    out.append(body[last:])
    return "".join(out)


def _argument(text: str, tabular: bool) -> str:
    """An argument as it replaces its parameter: as written when it is one token, else in parentheses."""
    simple = re.fullmatch(rf"-?\d+(\.\d+)?|{IDENT}|\d+(\.\d+)?(d|h|m|s|ms)|'[^']*'|\"[^\"]*\"", text.strip())
    return text.strip() if simple else f"({text.strip()})"


def _statement_starts(scan: str) -> list[int]:
    """Offsets where each top-level statement starts (after each `;` outside brackets)."""
    return [0] + [i + 1 for i in top_level(scan, ";")]


def _expand_calls(text: str, functions: dict[str, Function], counter: list[int]) -> tuple[str, list[Splice]]:
    """Each top-level call `F(args)` -> a fresh name bound by a `let` just before its statement
    (duckdb-kql takes a tabular `let`, not a parenthesized tabular expression); the splices made
    (none when nothing was expanded)."""
    scan = blank(text)
    starts = _statement_starts(scan)
    pattern = re.compile(r"(?<![A-Za-z0-9_.])(" + "|".join(map(re.escape, functions)) + r")\s*\(")
    for m in pattern.finditer(scan):
        fn = functions[m.group(1)]
        end = _close(scan, m.end() - 1, "(", ")")
        if end is None or depth_at(scan, m.start()) != 0:
            continue
        args = _split_top(text[m.end():end - 1], scan[m.end():end - 1])
        if len(args) > len(fn.params) or any(p.default is None for p in fn.params[len(args):]):
            continue
        bindings, values = [], {}
        for i, p in enumerate(fn.params):
            arg = (args[i] if i < len(args) else p.default).strip()
            if p.tabular and not re.fullmatch(IDENT, arg):  # a tabular expression gets a `let` of its own
                counter[0] += 1
                bindings.append(f" let __kfx_arg_{counter[0]} = {arg};")
                arg = f"__kfx_arg_{counter[0]}"
            values[p.name] = _argument(arg, p.tabular)
        counter[0] += 1
        name = f"__kfx_{fn.name}_{counter[0]}"
        at = max(s for s in starts if s <= m.start())
        bindings.append(f" let {name} = {_substitute(fn.body, values)};")
        inserted = "".join(bindings)
        # the inserted lets and the name both stand for the call: a position in them is the call's
        splices = [Splice(at, 0, len(inserted), m.start()), Splice(m.start(), end - m.start(), len(name), m.start())]
        return text[:at] + inserted + text[at:m.start()] + name + text[end:], splices
    return text, []


def _lets(text: str) -> tuple[str, dict[str, Function], list[list[Splice]]]:
    """The text with expandable `let` functions blanked out (zero-parameter ones become plain
    tabular lets), and those functions."""
    scan = blank(text)
    found: dict[str, Function] = {}
    zero: set[str] = set()
    out, last, splices = [], 0, []
    for m in _LET_HEAD.finditer(scan):
        if m.start() < last:
            continue
        parsed = _definition(text, scan, m.end() - 1)
        if parsed is None:
            continue
        params, body, end = parsed
        semicolon = re.compile(r"\s*;").match(scan, end)
        fn = Function(m.group(1), params, body)
        if semicolon is None or not (m.group(2) or _needs_expanding(fn, stored=False)):
            continue
        if not params:  # `let V = view () { body };` is the tabular let `let V = body;`, called as V or V()
            out += [text[last:m.start()], f"let {fn.name} = {body};"]
            splices.append(Splice(m.start(), semicolon.end() - m.start(), len(out[-1]), m.start()))
            zero.add(fn.name)
        else:
            found[fn.name] = fn
            out += [text[last:m.start()], " " * (semicolon.end() - m.start())]
        last = semicolon.end()
    out.append(text[last:])
    text = "".join(out)
    steps = [splices]
    for name in zero:
        calls = list(re.finditer(rf"(?<![A-Za-z0-9_.])({re.escape(name)})\s*\(\s*\)", text))
        steps.append([Splice(c.start(), c.end() - c.start(), len(name), c.start()) for c in calls])
        text = re.sub(rf"(?<![A-Za-z0-9_.])({re.escape(name)})\s*\(\s*\)", r"\1", text)
    return text, found, steps


def parse_stored(definition: str) -> Function | None:
    """`function Name(params) { body }` -> Function, or None if it does not parse."""
    m = _STORED_HEAD.match(blank(definition))
    if not m:
        return None
    parsed = _definition(definition, blank(definition), m.end() - 1)
    if parsed is None or definition[parsed[2]:].strip():
        return None
    return Function(m.group(1), parsed[0], parsed[1])


def expand(text: str, definitions: list[str]) -> tuple[str, list[str]]:
    """(text with expandable calls expanded, the stored definitions still left to the engine)."""
    expanded, left, _ = expand_mapped(text, definitions)
    return expanded, left


def expand_mapped(text: str, definitions: list[str]) -> tuple[str, list[str], "PositionMap"]:
    """`expand`, and the map from an offset of the expanded text to the user's."""
    stored = {f.name: f for f in map(parse_stored, definitions) if f is not None and _needs_expanding(f, stored=True)}
    left = [d for d in definitions if (parse_stored(d) or Function("", (), "")).name not in stored]
    text, lets, steps = _lets(text)
    functions = {**stored, **lets}
    counter = [0]
    for _ in range(MAX_CALLS if functions else 0):
        text, splices = _expand_calls(text, functions, counter)
        if not splices:
            break
        steps.append(splices)
    return text, left, PositionMap(steps)


@dataclass(frozen=True)
class Splice:
    """One edit of an expansion step: *old* characters at *start* became *new*; a position in the
    new text is *target* (the call it stands for) in the step's input."""
    start: int
    old: int
    new: int
    target: int


@dataclass(frozen=True)
class PositionMap:
    steps: list[list[Splice]]  # in the order applied; each step's splices in its input's offsets

    def offset(self, offset: int) -> int:
        """An offset of the expanded text -> the offset it came from in the text before expansion."""
        for splices in reversed(self.steps):
            shift = 0
            for splice in sorted(splices, key=lambda sp: sp.start):
                begin = splice.start + shift
                if offset < begin:
                    break
                if offset < begin + splice.new:
                    offset, shift = splice.target, 0
                    break
                shift += splice.new - splice.old
            offset -= shift
        return offset
