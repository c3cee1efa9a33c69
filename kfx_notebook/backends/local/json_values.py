"""One column of DuckDB's minified JSON value texts -> its staged Arrow array, as `convert_value` on json's value.

The rule it keeps: every value comes out exactly as `ingest.convert_value(json.loads(text), ktype)`
(json.loads of DuckDB's text is json.loads of the payload's: DuckDB rewrites numbers as the same
doubles, escapes as the same characters, and keeps repeated nested keys, which json resolves the
same way). Strings (unescaped by DuckDB) go through ingest_columns' text rules; numbers and bools
through Arrow casts where they cover a text exactly; a container or non-string in a string or
dynamic column is `json.dumps(value, ensure_ascii=False)`, which is DuckDB's text with ", " and
": " put after each separator outside strings, where that text is already what json.dumps writes
(`_dumps_texts`): no `\\u` escape (DuckDB writes A-F upper case, json lower), no NaN or infinity,
no key twice in an object (json keeps the last; counted where a value is one flat object), at most
400 brackets (json's recursion limit), and every number written as repr writes it (`_NOT_REPR`:
both write the shortest round-trip digits, in the same fixed notation for 1e-4 <= |x| < 1e16).
Every other value runs json.loads and convert_value one by one; a text json.loads refuses
(`nan`, `inf`: DuckDB takes them) raises NotExact, and the caller reads the body the reference way.
"""

from __future__ import annotations

import json

from . import ingest, ingest_columns

STRING = r'"(?:[^"\\]|\\.)*"'
#: Everything up to and with the next separator outside strings, or the rest: the matches tile the
#: text from its start (a '"' can only begin a string there), so every match ends outside a string.
_UP_TO_SEPARATOR = rf'((?:{STRING}|[^",:])*)([,:]?)'
_MARK = "\x01"      # never in DuckDB's text (it writes control characters escaped)
_MAX_OPENINGS = 400     # a value nested deeper may be past json's recursion limit: json.loads decides
#: Outside strings: a NaN or infinity (DuckDB keeps their spelling), or a number DuckDB spells otherwise
#: than repr: an exponent, below 1e-4, or 17 digits or more (1e16 and up; repr and DuckDB agree between).
_NOT_REPR = r"(?i)nan|inf|[0-9]e|(?:^|[^0-9])-?0\.0000|[0-9]{17}"


class NotExact(Exception):
    """A value DuckDB reads where json does not (or otherwise): the body goes the reference way."""


def staged(name: str, ktype: str, texts, strings):
    """A column's value texts (null: missing or null) and the strings among them unescaped (else null)
    -> the staged Arrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    natives = pc.if_else(pc.is_null(strings), texts, pa.scalar(None, pa.string()))
    if ktype in ("string", "dynamic"):
        from_natives = _dumps_texts(natives)
        if ktype == "string":
            return pc.if_else(pc.is_valid(strings), strings, from_natives)
        return _either(strings, ingest_columns._staged_from_texts(name, ktype, strings), from_natives)
    if ktype not in _NATIVE_RULES:
        return ingest.arrow_column(name, ktype, _converted(texts.to_pylist(), ktype))
    from_strings = ingest_columns._staged_from_texts(name, ktype, strings)
    values, covered = _NATIVE_RULES[ktype](natives)
    return _either(strings, from_strings, _merged(name, ktype, natives, values, covered))


def _dumps_texts(natives):
    """Non-string values -> json.dumps' text of each, each distinct text converted once (_distinct_dumps_texts)."""
    import pyarrow.compute as pc

    if natives.null_count == len(natives):
        return natives
    encoded = pc.dictionary_encode(natives)
    return _distinct_dumps_texts(encoded.dictionary).take(encoded.indices)


def _distinct_dumps_texts(texts):
    """Distinct non-null value texts -> json.dumps' text of each: DuckDB's text spaced where dumps-ready,
    else one by one."""
    spaced, ready = _spaced_where_ready(texts)
    return _merged("", "dynamic", texts, spaced, ready)


def dynamic_from_texts(texts):
    """Texts bound for a dynamic column (csv fields, JSON strings; null for none) -> convert_value(text,
    "dynamic") of each: json.dumps of the JSON a text holds, else of the text itself.

    Each distinct text once: DuckDB minifies the ones it reads as JSON, and _spaced_where_ready
    decides as for values; a text json could read otherwise (a trailing comma, a BOM or other
    first character json refuses) or that is a JSON string, and every text not ready, runs
    convert_value itself.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from . import json_texts, parse_db

    if texts.null_count == len(texts):   # nothing to convert: no DuckDB round trip for an empty set
        return pa.nulls(len(texts), pa.string())
    encoded = pc.dictionary_encode(texts)
    distinct = encoded.dictionary
    minified = parse_db.query_arrow("SELECT CASE WHEN json_valid(t) THEN json(t)::VARCHAR END FROM texts",
                                    texts=pa.table({"t": distinct})).column(0).combine_chunks()
    usable = pc.and_(ingest_columns._matching(distinct, r"^[ \t\n\r]*[\[{0-9tfn-]"),
                     pc.invert(ingest_columns._matching(distinct, json_texts.TRAILING_COMMA)))
    spaced, ready = _spaced_where_ready(pc.if_else(usable, minified, pa.scalar(None, pa.string())))
    converted = _merged("", "dynamic", distinct, spaced, ready, convert=_converted_texts)
    return converted.take(encoded.indices)


def _spaced_where_ready(texts):
    """DuckDB's minified JSON texts (null allowed) -> (json.dumps' text where dumps-ready else null, ready)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    blanked = pc.replace_substring_regex(texts, STRING, '""')
    unique = pc.or_(pc.invert(pc.match_substring(blanked, "{")),        # a key is a string followed by ':'
                    pc.equal(_distinct_keys(texts), pc.count_substring(blanked, '"":').cast(pa.int64())))
    ready = pc.and_(pc.fill_null(unique, False), pc.invert(pc.or_(pc.match_substring(texts, "\\u"),
                                                                  pc.match_substring_regex(blanked, _NOT_REPR))))
    if pc.any(pc.greater(pc.binary_length(texts), _MAX_OPENINGS)).as_py():
        ready = pc.and_(ready, pc.less_equal(pc.count_substring_regex(blanked, r"[\[{]"), _MAX_OPENINGS))
    spaced = pc.replace_substring(pc.replace_substring(texts, ",", ", "), ":", ": ")
    quoted = pc.or_(pc.not_equal(pc.count_substring(texts, ","), pc.count_substring(blanked, ",")),
                    pc.not_equal(pc.count_substring(texts, ":"), pc.count_substring(blanked, ":")))
    quoted = pc.fill_null(pc.and_(ready, quoted), False)
    if pc.any(quoted).as_py():      # a ',' or ':' inside a string: only those outside get their space
        exact = pc.replace_substring_regex(texts.filter(quoted), _UP_TO_SEPARATOR, r"\1\2" + _MARK)
        for marked, plain in ((f",{_MARK}", ", "), (f":{_MARK}", ": "), (_MARK, "")):
            exact = pc.replace_substring(exact, marked, plain)
        spaced = pc.replace_with_mask(spaced, quoted, exact)
    ready = pc.fill_null(ready, False)
    return pc.if_else(ready, spaced, pa.scalar(None, pa.string())), ready


def _distinct_keys(texts):
    """How many distinct keys each text that is one object holding no other has (DuckDB's json_keys);
    null for any other text (a repeated key is then json.loads' business)."""
    import pyarrow as pa

    from . import parse_db

    table = parse_db.query_arrow(
        "SELECT CASE WHEN starts_with(t, '{') AND length(t) - length(replace(t, '{', '')) = 1 "
        "THEN len(list_distinct(json_keys(t::JSON)))::BIGINT END AS n FROM texts", texts=pa.table({"t": texts}))
    return table.column(0).combine_chunks()


def _merged(name: str, ktype: str, texts, values, covered, convert=None):
    """*values* where *covered*, convert_value(json.loads(text)) (or *convert*'s) for every other non-null text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    left = pc.and_(pc.is_valid(texts), ingest_columns._not(covered))
    if not pc.any(left).as_py():
        return values
    rest = ingest.arrow_column(name, ktype, (convert or _converted)(texts.filter(left).to_pylist(), ktype))
    if pa.types.is_temporal(values.type):
        merged = pc.replace_with_mask(values.cast(pa.int64()), left, rest.cast(values.type).cast(pa.int64()))
        return merged.cast(values.type)
    return pc.replace_with_mask(values, left, rest.cast(values.type))


def _either(strings, from_strings, from_natives):
    """Row by row: the string rule's value where the JSON value is a string, the native rule's elsewhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_temporal(from_strings.type):
        picked = pc.if_else(pc.is_valid(strings), from_strings.cast(pa.int64()), from_natives.cast(pa.int64()))
        return picked.cast(from_strings.type)
    return pc.if_else(pc.is_valid(strings), from_strings, from_natives.cast(from_strings.type))


def _converted(texts: list, ktype: str) -> list:
    try:
        return [None if t is None else ingest.convert_value(json.loads(t), ktype) for t in texts]
    except (ValueError, RecursionError):      # nan, inf, -NaN, deep nesting: DuckDB reads them, json does not
        raise NotExact from None


def _converted_texts(texts: list, ktype: str) -> list:
    return [ingest.convert_value(t, ktype) for t in texts]


def _number_rule(digits: tuple[int, int, int], ktype: str):
    def rule(texts):
        covered = ingest_columns.number_covered(texts, digits)
        return ingest_columns._only(texts, covered).cast(ingest.staging_type(ktype)), covered
    return rule


def _bool_rule(texts):
    import pyarrow as pa
    import pyarrow.compute as pc

    true = pc.equal(texts, "true")
    covered = pc.fill_null(pc.or_(true, pc.equal(texts, "false")), False)
    return pc.if_else(covered, true, pa.scalar(None, pa.bool_())), covered


def _none_rule(ktype: str):
    def rule(texts):
        import pyarrow as pa
        import pyarrow.compute as pc

        return pa.nulls(len(texts), ingest.staging_type(ktype)), pc.is_null(texts)
    return rule


#: Kusto type -> (non-string value texts -> (staged array, mask of the texts it covered exactly)).
#: JSON integers of up to 18 (9) digits are the long (int) itself; a JSON number with at most 20
#: digits on each side and a 2-digit exponent is Python's float of it (Arrow's cast rounds
#: correctly, and no such number overflows); true and false are the bools. A number in a
#: datetime or timespan column is convert_value's business.
_NATIVE_RULES = {
    "long": _number_rule(ingest_columns.LONG_DIGITS, "long"),
    "int": _number_rule(ingest_columns.INT_DIGITS, "int"),
    "real": _number_rule(ingest_columns.REAL_DIGITS, "real"),
    "bool": _bool_rule,
    "datetime": _none_rule("datetime"),
    "timespan": _none_rule("timespan"),
}
