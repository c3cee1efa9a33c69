"""Kusto string literals the engine misreads, rewritten to the one form it reads right.

duckdb-kql 1.1.2 reads `"..."` and `'...'` with the escapes `\\ \" \' \n \t \r` correctly, and
`@"..."` on one line; it turns `"\u00A0"` into `u00A0`, keeps `h"secret"` as the text
`h"secret"` and reads ```` ``` ```` multi-line strings with their fences. Each of those is a
plausible wrong answer, so every literal in those forms is decoded here, by Kusto's rules, and
written back as a plain double-quoted literal. One rule: a literal is decoded exactly or
refused ("unsupported: escape \\x", with its position); it is never passed on half-read.
"""

from __future__ import annotations

import re

from ....errors import UnsupportedError

#: Kusto's escapes in "..." and '...' (the docs' list plus \r and \u), and what each stands for.
ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
#: How a decoded value is written back: the escapes duckdb-kql reads correctly.
_WRITE_BACK = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}

# One token of the text: a comment, a literal (optionally obfuscated h/H, optionally verbatim @,
# or a ``` multi-line block), or anything else one character at a time.
_TOKEN = re.compile(r"""
    (?P<comment>//[^\n]*)
  | (?P<fence>```)
  | (?<![A-Za-z0-9_])(?P<obfuscated>[hH])?(?P<verbatim>@)?(?P<quote>["'])
""", re.VERBOSE)


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _refuse(text: str, offset: int, what: str) -> UnsupportedError:
    line, column = _position(text, offset)
    return UnsupportedError(f"unsupported: {what}", line=line, column=column, text=text,
                            hint="Write the string without it, or point the connection at a real cluster.")


def _read_quoted(text: str, start: int, quote: str, verbatim: bool) -> tuple[str, int, bool]:
    """Decode the literal whose opening quote is at *start*: (value, end offset, needs rewrite)."""
    out, i, rewrite = [], start + 1, False
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            raise _refuse(text, start, "a line break inside a one-line string literal")
        if ch == quote:
            if verbatim and text.startswith(quote, i + 1):
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1, rewrite
        if ch == "\\" and not verbatim:
            nxt = text[i + 1:i + 2]
            if nxt in ESCAPES:
                out.append(ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2:i + 6]):
                out.append(chr(int(text[i + 2:i + 6], 16)))
                i, rewrite = i + 6, True
                continue
            raise _refuse(text, i, f"escape \\{nxt} in a string literal")
        out.append(ch)
        i += 1
    raise _refuse(text, start, "an unterminated string literal")


def _write(value: str) -> str:
    return '"' + "".join(_WRITE_BACK.get(c, c) for c in value) + '"'


def rewrite_literals(text: str) -> tuple[str, list[tuple[int, int, int]]]:
    """The text with every literal duckdb-kql would misread written as a plain "...".

    Returns the new text and its edits (offset, old length, new length) for mapping error
    positions back. Text with nothing to rewrite comes back unchanged with no edits.
    """
    if not any(mark in text for mark in ("\\", "```", "h'", 'h"', "H'", 'H"', "h@", "H@", "@")):
        return text, []
    pieces, edits, last, i = [], [], 0, 0
    while True:
        m = _TOKEN.search(text, i)
        if not m:
            break
        if m.group("comment"):
            i = m.end()
            continue
        if m.group("fence"):
            end = text.find("```", m.end())
            if end < 0:
                raise _refuse(text, m.start(), "an unterminated ``` string literal")
            value, stop, rewrite = text[m.end():end], end + 3, True
        else:
            verbatim = bool(m.group("verbatim"))
            value, stop, rewrite = _read_quoted(text, m.start("quote"), m.group("quote"), verbatim)
            rewrite = rewrite or bool(m.group("obfuscated")) or (verbatim and "\\" in value) or (
                verbatim and m.group("quote") in value)
        if rewrite:
            new = _write(value)
            pieces += [text[last:m.start()], new]
            edits.append((m.start(), stop - m.start(), len(new)))
            last = stop
        i = stop
    pieces.append(text[last:])
    return "".join(pieces), edits
