"""The `set` statements of a query's head that the local database honours while it runs.

Kusto's documented way to lift or lower the result limit is a statement in the query itself
(learn.microsoft.com/kusto/concepts/query-limits: `set notruncation;`, `set truncationmaxrecords = N;`),
as well as a client request property. duckdb-kql reads `set` statements when it translates, where
nothing is truncated, so it refuses these two; the record limit is applied when the query runs
(LocalBackend._limited). So they are read here into the request options — a statement wins over
the property, as in Kusto — and blanked out of the text with spaces (newlines kept, so an error's
line and column still point into the text as written). Every other `set` statement stays for
duckdb-kql to take or refuse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: A `set` statement: its option name and, after `=`, its value (up to the `;`).
_STATEMENT = re.compile(r"set\s+(?P<name>\w+)\s*(?:=\s*(?P<value>[^;]*?))?\s*;", re.IGNORECASE)
#: What lies between statements: white space and `//` comments.
_GAP = re.compile(r"(?:\s+|//[^\n]*)*")
_BOOLEANS = {"true": True, "false": False}


def _value(name: str, value: str | None) -> Any:
    if name == "notruncation":
        return True if value is None else _BOOLEANS.get(value.lower(), value)
    return value if value is not None else ""


def applied(text: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the text with its head's `set notruncation` / `set truncationmaxrecords` blanked, the options
    with theirs); other statements and the rest of the text unchanged."""
    merged, pieces, at = dict(options), [], 0
    while True:
        at = _GAP.match(text, at).end()
        statement = _STATEMENT.match(text, at)
        if statement is None:
            break
        name = statement["name"].lower()
        if name in ("notruncation", "truncationmaxrecords"):
            merged[name] = _value(name, statement["value"])
            pieces.append((statement.start(), statement.end()))
        at = statement.end()
    if not pieces:
        return text, merged
    out, last = [], 0
    for start, end in pieces:
        out += [text[last:start], re.sub(r"[^\n]", " ", text[start:end])]
        last = end
    return "".join([*out, text[last:]]), merged
