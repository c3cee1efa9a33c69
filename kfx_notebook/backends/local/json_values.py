"""One column of DuckDB's minified JSON value texts -> its staged Arrow array, as `convert_value` on json's value.

The rule it keeps: every value comes out exactly as `ingest.convert_value(json.loads(text), ktype)`
(json.loads of DuckDB's text is json.loads of the payload's: DuckDB rewrites numbers as the same
doubles, escapes as the same characters, and keeps repeated nested keys, which json resolves the
same way). Strings (unescaped by DuckDB) go through ingest_columns' text rules; numbers and bools
through Arrow casts where they cover a text exactly; a container or non-string in a string or
dynamic column is `json.dumps(value, ensure_ascii=False)`, which is DuckDB's text with ", " and
": " put after each separator outside strings, where that text is already what json.dumps writes
(`dumps_ready`, decided in DuckDB): no `\\u` escape (DuckDB writes A-F upper case, json lower),
no token but strings, JSON numbers, true, false and null, no key twice in the record (json keeps
only the last), at most 400 brackets (json's recursion limit), and every number with a '.' or exponent spelled as repr spells its double.
Every other value runs json.loads and convert_value one by one; a text json.loads refuses
(`nan`, `inf`: DuckDB takes them) raises NotExact, and the caller reads the body the reference way.
"""

from __future__ import annotations

import json

from . import ingest
from . import ingest_columns

STRING = r'"(?:[^"\\]|\\.)*"'
NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
_SEPARATOR = rf'((?:{STRING}|[^",:])*)([,:])'        # everything up to the next separator outside strings
_MAX_OPENINGS = 400     # a value nested deeper may be past json's recursion limit: json.loads decides


class NotExact(Exception):
    """A value DuckDB reads where json does not (or otherwise): the body goes the reference way."""


def dumps_ready_selects(text: str, alias: str) -> list[str]:
    """SQL over a minified JSON text column *text*: `{alias}_spaced` (json.dumps' text, or NULL where the
    text is not dumps-ready without the float check) and `{alias}_floats` (its numbers with '.' or 'e')."""
    blanked = f"regexp_replace({text}, '{STRING}', '\"\"', 'g')"
    tokens_ok = (f"regexp_full_match(regexp_replace({blanked}, 'true|false|null|{NUMBER}', '', 'g'), "
                 "'[\\[\\]{},:\"]*')")
    keys = f"list_filter(regexp_extract_all({text}, '{STRING}:?'), lambda k: suffix(k, ':'))"
    shallow = f"length(regexp_replace({blanked}, '[^\\[{{]', '', 'g')) <= {_MAX_OPENINGS}"
    ready = f"NOT contains({text}, '\\u') AND {tokens_ok} AND len({keys}) = len(list_distinct({keys})) AND {shallow}"
    return [f"CASE WHEN {ready} THEN regexp_replace({text}, '{_SEPARATOR}', '\\1\\2 ', 'g') END AS {alias}_spaced",
            f"list_filter(regexp_extract_all({blanked}, '{NUMBER}'), lambda x: regexp_matches(x, '[.eE]')) "
            f"AS {alias}_floats"]


def staged(name: str, ktype: str, texts, strings, spaced=None, floats=None):
    """A column's value texts (null: missing or null), the strings among them unescaped (else null) and,
    for string and dynamic columns, dumps_ready_selects' two columns -> the staged Arrow array."""
    import pyarrow.compute as pc

    import pyarrow as pa

    natives = pc.if_else(pc.is_null(strings), texts, pa.scalar(None, pa.string()))
    if ktype in ("string", "dynamic"):
        from_natives = _dumps_texts(natives, spaced, floats)
        if ktype == "string":
            return pc.if_else(pc.is_valid(strings), strings, from_natives)
        return _either(strings, ingest_columns._staged_from_texts(name, ktype, strings), from_natives)
    if ktype not in _NATIVE_RULES:
        return ingest.arrow_column(name, ktype, _converted(texts.to_pylist(), ktype))
    from_strings = ingest_columns._staged_from_texts(name, ktype, strings)
    values, covered = _NATIVE_RULES[ktype](natives)
    return _either(strings, from_strings, _merged(name, ktype, natives, values, covered))


def _dumps_texts(natives, spaced, floats):
    """Non-string values -> json.dumps' text of each: DuckDB's spaced text where dumps-ready, else one by one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ...codec import real_texts

    ready = pc.and_(pc.is_valid(natives), pc.is_valid(spaced))
    flat = pc.list_flatten(floats)
    if len(flat):
        wrong = pc.not_equal(real_texts(flat.cast(pa.float64()).to_numpy(zero_copy_only=False)), flat)
        rows = pc.unique(pc.filter(pc.list_parent_indices(floats), wrong))
        ready = pc.and_(ready, pc.invert(pc.is_in(pa.array(range(len(natives))), value_set=rows)))
    texts = pc.if_else(ready, spaced, pa.scalar(None, pa.string()))
    return _merged("", "dynamic", natives, texts, ready)


def _merged(name: str, ktype: str, texts, values, covered):
    """*values* where *covered*, convert_value(json.loads(text)) for every other non-null text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    left = pc.and_(pc.is_valid(texts), ingest_columns._not(covered))
    if not pc.any(left).as_py():
        return values
    rest = ingest.arrow_column(name, ktype, _converted(texts.filter(left).to_pylist(), ktype))
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


def _number_rule(pattern: str, ktype: str):
    def rule(texts):
        covered = ingest_columns._matching(texts, pattern)
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
    "long": _number_rule(r"^-?[0-9]{1,18}$", "long"),
    "int": _number_rule(r"^-?[0-9]{1,9}$", "int"),
    "real": _number_rule(r"^-?[0-9]{1,20}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,2})?$", "real"),
    "bool": _bool_rule,
    "datetime": _none_rule("datetime"),
    "timespan": _none_rule("timespan"),
}
