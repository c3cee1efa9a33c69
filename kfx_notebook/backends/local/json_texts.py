"""JSON records -> each column's values as minified JSON texts: by the C reader, else DuckDB's C++ reader.

The C reader (`_speedups/json_records.c`, `record_texts`) reads the body when it is sure of it
(one array of objects, or objects one after another; every value valid JSON, every string valid
UTF-8 with no lone surrogate, no key twice in a record, every record holding one of the keys) and
gives each value's text in json.dumps' form where that is cheap to be sure of; anything else goes
to DuckDB's reader below, and what that refuses to the caller's reference reading.

The rule DuckDB's reading keeps: a body is read here only where DuckDB reads exactly the records the reference
reader (`ingest.parse_json_records`: json's decoder, every item an object) would give, with each
key's value as `dict.get` on json's dict sees it; anything else returns None and the caller
reads it the reference way, which also words its errors. DuckDB accepts what json refuses —
trailing commas, `nan`/`inf` spellings — and reads a top-level `null` as a record of nulls:
a trailing comma anywhere sends the body back (one RE2 pass), a record with none of the
table's keys does too, and `json_values.staged_from_texts` refuses the non-standard numbers.
It refuses itself what the reference would read differently: a repeated top-level key (json
keeps the last), a lone surrogate, text that is not JSON. Keys match case-sensitively.

DuckDB rewrites each value's text (numbers and escapes its own way, no spaces); the values it
stands for are json's own, which is what json_values relies on.
"""

from __future__ import annotations

from . import parse_db
from .catalog import literal, quote

_SENTINEL = "kfx parse sentinel"      # a second column: DuckDB then refuses non-object records instead of reading them
TRAILING_COMMA = r",[ \t\r\n]*[\]}]"  # outside a string, json refuses it and DuckDB skips it; inside, a false alarm
#: The types whose rule reads a number's text as json.dumps writes it (json_values' dumps-ready check);
#: every other type reads only its value (Arrow's casts, json.loads), so the payload's token serves.
_NUMBER_FORM_READ = ("string", "dynamic")
#: A value's text that is a number with a fraction or exponent (a string's text starts with a quote,
#: a container's with a bracket): the numbers whose written form may not be json.dumps'.
_NON_INTEGER = r"^-?[0-9]+[.eE]"


def json_value_texts(raw: bytes, columns):
    """A json/multijson body and the table's (name, Kusto type) columns -> per column the key's values
    as minified JSON texts (null when missing or null) and the strings among them unescaped (else
    null); None when the body is not read here (see the module's rule)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [name for name, _ in columns]
    read = record_texts(raw, names, [ktype not in _NUMBER_FORM_READ for _, ktype in columns]) if names else None
    if read is not None:
        return read[1]
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    start = body[:64].lstrip(b" \t\r\n")[:1]
    layout = {b"[": "array", b"{": "unstructured"}.get(start)
    folded = {n.lower() for n in names}
    if layout is None or not names or len(folded) != len(names) or _SENTINEL in folded:
        return None
    if pc.match_substring_regex(pa.array([body], pa.large_binary()), TRAILING_COMMA)[0].as_py():
        return None
    schema = ", ".join(f"{literal(n)}: 'JSON'" for n in [*names, _SENTINEL])
    selected = []
    for number, (name, _) in enumerate(columns):
        value, text = quote(name), f"{quote(name)}::VARCHAR"
        selected += [f"{text} AS t{number}", f"CASE WHEN starts_with({text}, '\"') THEN {value}->>'$' END"]
    try:
        table = parse_db.query_file(body, lambda path: f"SELECT {', '.join(selected)} FROM read_json({path}, "
                                                       f"format='{layout}', columns={{{schema}}})")
    except parse_db.errors():
        return None
    arrays = [column.combine_chunks() for column in table.columns]
    parts = [arrays[i:i + 2] for i in range(0, len(arrays), 2)]
    if not len(arrays[0]) or _any_empty_record([texts for texts, *_ in parts]):
        return None
    return parts


def record_texts(raw: bytes, names: list[str] | None, verbatim: list[bool] | bool | None = None):
    """The C reader: (keys, per key [texts, strings] as Arrow string arrays) for the *names* given, or
    for every key in first-seen order when *names* is None; None when the C reader is not built or
    does not read the body (see the module's rule). *verbatim* (one per name; one bool for every key
    when *names* is None): True keeps a top-level number's text as the payload wrote it, else it is
    json.dumps' (repr's) text of the number."""
    from ..._speedups import load

    reader = load("json_records")
    read = reader.read(raw, names, verbatim) if reader is not None else None
    if read is None:
        return None
    import pyarrow as pa

    rows, keys, columns = read
    return keys, [[pa.Array.from_buffers(pa.string(), rows, [pa.py_buffer(b) for b in buffers])
                   for buffers in pair] for pair in columns]


def with_number_forms(raw: bytes, read, types: list[str]):
    """*read* (record_texts' keys and parts of every key, its numbers as written) with the parts of each
    column whose type (in *types*, one per key) reads a number's form and whose texts hold a
    non-integer number read again in json.dumps' form; None when that read is refused.

    A new table's columns are read so: the kinds inference sees are the same in either form (an
    integer's text is its dumps form either way), and repr'ing every float was most of the read."""
    import pyarrow.compute as pc

    keys, parts = read
    again = [n for n, (ktype, (texts, _)) in enumerate(zip(types, parts))
             if ktype in _NUMBER_FORM_READ and pc.any(pc.match_substring_regex(texts, _NON_INTEGER)).as_py()]
    if not again:
        return keys, parts
    reread = record_texts(raw, [keys[n] for n in again], [False] * len(again))
    if reread is None:
        return None
    parts = list(parts)
    for n, texts in zip(again, reread[1]):
        parts[n] = texts
    return keys, parts


def _any_empty_record(values) -> bool:
    """A record holding none of the names: a top-level `null` reads so too (json refuses it)."""
    import pyarrow.compute as pc

    missing = pc.is_null(values[0])
    for column in values[1:]:
        missing = pc.and_(missing, pc.is_null(column))
    return pc.any(missing).as_py()
