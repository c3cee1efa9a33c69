"""`declare pattern` statements with their definitions, resolved in the text before translation.

A pattern maps literal arguments (and an optional path value) to a tabular expression
(pattern-statement.md). Each invocation whose arguments and path are literals becomes a fresh
tabular `let` bound to the matching entry's expression, just before the invocation's statement;
the declaration itself is blanked. Rule: only an exact literal match is resolved; a declaration
without a definition, a wildcard, a non-literal argument or an invocation no entry matches is
refused with its position.
"""

from __future__ import annotations

import ast
import re

from ....errors import UnsupportedError
from .inline import IDENT, _close, _split_top, _statement_starts, blank, depth_at

_DECLARE = re.compile(rf"\bdeclare\s+pattern\s+({IDENT})\s*")
_ENTRY = re.compile(r"^\s*\((?P<values>.*)\)\s*(?:\.\s*\[(?P<path>.*)\])?\s*=\s*\{(?P<body>.*)\}\s*$", re.DOTALL)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _refuse(text: str, offset: int, what: str) -> UnsupportedError:
    before = text[:offset]
    return UnsupportedError(f"unsupported: {what}", line=before.count("\n") + 1,
                            column=offset - (before.rfind("\n") + 1) + 1, text=text)


def _literal(value: str) -> object:
    """A string or number literal's value; anything else raises ValueError."""
    value = value.strip()
    if _NUMBER.match(value):
        return float(value) if any(c in value for c in ".eE") else int(value)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return ast.literal_eval(value)
    raise ValueError(value)


def _values(text: str) -> tuple:
    return tuple(_literal(v) for v in _split_top(text, blank(text)))


def _entries(text: str, start: int, end: int, name: str) -> dict[tuple, str]:
    """(argument values, path value or None) -> expression, from the braces text[start:end]."""
    scan = blank(text)
    out: dict[tuple, str] = {}
    cuts = [i for i in range(start, end) if scan[i] == ";" and depth_at(scan[start:], i - start) == 0]
    for a, b in zip([start - 1] + cuts, cuts + [end]):
        entry, entry_scan = text[a + 1:b], scan[a + 1:b]
        if not entry.strip():
            continue
        m = _ENTRY.match(entry_scan)
        if m is None:
            raise _refuse(text, a + 1, f"pattern {name}: an entry that is not `(values)[.[path]] = {{ expression }}`")
        try:
            values = _values(entry[m.start("values"):m.end("values")])
            path = _literal(entry[m.start("path"):m.end("path")]) if m.group("path") is not None else None
        except (ValueError, SyntaxError):
            raise _refuse(text, a + 1, f"pattern {name}: an entry whose values are not literals (wildcards "
                                       "included)") from None
        out[(values, path)] = entry[m.start("body"):m.end("body")].strip()
    return out


def _declaration(text: str, scan: str, m: re.Match) -> tuple[int, dict[tuple, str], bool]:
    """(end of the declaration statement, its entries, whether it declares a path parameter)."""
    name, at = m.group(1), m.end()
    head = re.compile(r"=\s*\(").match(scan, at)
    if head is None:
        raise _refuse(text, m.start(), f"declare pattern {name} without a definition (a cluster's client resolves it)")
    params_end = _close(scan, head.end() - 1, "(", ")")
    path = re.compile(r"\s*\[").match(scan, params_end or 0)
    after = _close(scan, path.end() - 1, "[", "]") if path else params_end
    body = re.compile(r"\s*\{").match(scan, after or 0)
    close = _close(scan, body.end() - 1, "{", "}") if body else None
    semicolon = re.compile(r"\s*;").match(scan, close or 0)
    if params_end is None or after is None or close is None or semicolon is None:
        raise _refuse(text, m.start(), f"declare pattern {name}: a declaration that does not parse")
    return semicolon.end(), _entries(text, body.end(), close - 1, name), path is not None


def rewrite_patterns(text: str) -> tuple[str, list[tuple[int, int, int]]]:
    """The text with each pattern declaration blanked and each invocation bound by a `let`; the
    edits (offset, old length, new length) for mapping error positions back."""
    scan = blank(text)
    if "pattern" not in scan:
        return text, []
    edits: list[tuple[int, int, str]] = []
    patterns: dict[str, tuple[dict[tuple, str], bool, int]] = {}
    for m in _DECLARE.finditer(scan):
        if depth_at(scan, m.start()):
            continue
        end, entries, has_path = _declaration(text, scan, m)
        patterns[m.group(1)] = (entries, has_path, end)
        edits.append((m.start(), end - m.start(), " " * (end - m.start())))
    if not patterns:
        return text, []
    starts = _statement_starts(scan)
    call = re.compile(r"(?<![A-Za-z0-9_.])(" + "|".join(map(re.escape, patterns)) + r")\s*\(")
    for n, m in enumerate(c for c in call.finditer(scan) if c.start() >= patterns[c.group(1)][2]):
        entries, has_path, _ = patterns[m.group(1)]
        close = _close(scan, m.end() - 1, "(", ")")
        path_m = re.compile(rf"\s*\.\s*(?:({IDENT})|\[([^\]]*)\])").match(scan, close or 0) if has_path else None
        try:
            values = _values(text[m.end():close - 1]) if close else None
            path = (path_m.group(1) if path_m and path_m.group(1) else
                    _literal(text[path_m.start(2):path_m.end(2)]) if path_m else None)
        except (ValueError, SyntaxError):
            raise _refuse(text, m.start(), f"pattern {m.group(1)} invoked with a value that is not a literal") from None
        if values is None or (values, path) not in entries:
            raise _refuse(text, m.start(), f"pattern {m.group(1)} has no entry for this invocation")
        end = path_m.end() if path_m else close
        name = f"__kfx_pattern_{n + 1}"
        at = max(s for s in starts if s <= m.start())
        edits.append((at, 0, f" let {name} = {entries[(values, path)]};"))
        edits.append((m.start(), end - m.start(), name))
    out, mapped, last = [], [], 0
    for offset, length, new in sorted(edits, key=lambda e: (e[0], e[1])):
        out += [text[last:offset], new]
        mapped.append((offset, length, len(new)))
        last = offset + length
    out.append(text[last:])
    return "".join(out), mapped
