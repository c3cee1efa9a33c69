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


def _expand_calls(text: str, functions: dict[str, Function], counter: list[int]) -> tuple[str, bool]:
    """Each top-level call `F(args)` -> a fresh name bound by a `let` just before its statement
    (duckdb-kql takes a tabular `let`, not a parenthesized tabular expression)."""
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
        return text[:at] + "".join(bindings) + text[at:m.start()] + name + text[end:], True
    return text, False


def _lets(text: str) -> tuple[str, dict[str, Function]]:
    """The text with expandable `let` functions blanked out (zero-parameter ones become plain
    tabular lets), and those functions."""
    scan = blank(text)
    found: dict[str, Function] = {}
    zero: set[str] = set()
    out, last = [], 0
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
            zero.add(fn.name)
        else:
            found[fn.name] = fn
            out += [text[last:m.start()], " " * (semicolon.end() - m.start())]
        last = semicolon.end()
    out.append(text[last:])
    text = "".join(out)
    for name in zero:
        text = re.sub(rf"(?<![A-Za-z0-9_.])({re.escape(name)})\s*\(\s*\)", r"\1", text)
    return text, found


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
    stored = {f.name: f for f in map(parse_stored, definitions) if f is not None and _needs_expanding(f, stored=True)}
    left = [d for d in definitions if (parse_stored(d) or Function("", (), "")).name not in stored]
    text, lets = _lets(text)
    functions = {**stored, **lets}
    if not functions:
        return text, left
    counter = [0]
    for _ in range(MAX_CALLS):
        text, changed = _expand_calls(text, functions, counter)
        if not changed:
            break
    return text, left
