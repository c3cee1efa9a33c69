"""A new table's column types from its JSON records, a column at a time: `ingest.merge_inferred`'s rule.

The rule it keeps: each value has the kind `ingest.infer_value` gives it (null none; bool, long,
real, dynamic; a string datetime, timespan or string by `ingest._ISO_DATETIME` and
`ingest._TIMESPAN`), and a column's type is `merge_inferred` folded over its values, which does
not depend on their order: dynamic if any value is a container, else the one kind, real for
longs and reals together, string for any other mix or none. So a column's type needs only the
SET of its kinds, found here with a few Arrow passes instead of a call per value.

A column comes either decoded (json's values, a list: `kinds_of_values`) or as a reader's texts
(each value's JSON text, null for missing or null, and the strings among them unescaped:
`kinds_of_texts`, which answers None for a text it does not know, and the caller then decodes).
The string rule runs in RE2 where it is Python's own: on ASCII strings without a line feed
(Python's `\\d` is any Unicode digit and its `$` also matches before a final "\\n"); every other
string goes through the two Python patterns themselves.
"""

from __future__ import annotations

from . import ingest

_ISO_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$"
_TIMESPAN = r"^-?([0-9]+\.)?[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?$"   # ingest's patterns, ASCII digits
_LONG_TEXT = r"^-?(0|[1-9][0-9]*)$"                                  # a JSON integer: json gives an int
_REAL_TEXT = r"^-?(0|[1-9][0-9]*)(\.[0-9]+([eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)$"   # any other number: a float
_KIND_OF_TYPE = {bool: "bool", int: "long", float: "real", dict: "dynamic", list: "dynamic"}


def column_type(kinds: set[str]) -> str:
    """The set of a column's value kinds -> its type, as merge_inferred folds them in any order."""
    if "dynamic" in kinds:
        return "dynamic"
    if len(kinds) == 1:
        return next(iter(kinds))
    return "real" if kinds == {"long", "real"} else "string"


def columns_of_texts(keys, parts) -> list[tuple[str, str]] | None:
    """A reader's keys (first-seen order) and per key (texts, strings) -> the new table's columns; None
    when a text is not one kinds_of_texts knows."""
    columns = []
    for key, (texts, strings) in zip(keys, parts):
        kinds = kinds_of_texts(texts, strings)
        if kinds is None:
            return None
        columns.append((key, column_type(kinds)))
    return columns


def kinds_of_values(values: list) -> set[str]:
    """A column's decoded JSON values (json's types; None for null or missing) -> their kinds."""
    import pyarrow as pa

    types = set(map(type, values))
    kinds = {_KIND_OF_TYPE.get(t, "string") for t in types - {type(None), str}}
    if str in types:
        texts = values if types <= {str, type(None)} else [v if type(v) is str else None for v in values]
        kinds |= string_kinds(pa.array(texts, type=pa.string()))
    return kinds


def kinds_of_texts(texts, strings) -> set[str] | None:
    """A column's value texts (Arrow strings, null for missing or null) and its strings unescaped (null
    for a value that is none) -> their kinds; None when a text is not one of JSON's own values."""
    import pyarrow.compute as pc

    decided = _kinds_in_c(texts, strings)
    if decided is not _UNDECIDED:
        return decided
    kinds = string_kinds(strings)
    natives = texts if strings.null_count == len(strings) else pc.if_else(pc.is_null(strings), texts, _null())
    return None if _left_after(natives, _NATIVE_TESTS, kinds) else kinds   # NaN, Infinity, ...: decoded instead


#: text_rules.kinds' bits, in order, and its two flags: a string Python's own patterns decide, a text no test covers.
_C_KINDS = ("datetime", "timespan", "string", "dynamic", "bool", "long", "real")
_NOT_PLAIN, _UNKNOWN = 1 << len(_C_KINDS), 2 << len(_C_KINDS)
_UNDECIDED = object()


def _kinds_in_c(texts, strings):
    """kinds_of_texts' answer in one pass of _speedups/text_rules (the same patterns as the Arrow tests
    below), or _UNDECIDED where it is not built, an array is not a plain string array, or a string is
    not ASCII or holds a line feed (Python's patterns decide those)."""
    import pyarrow as pa

    from ..._speedups import load

    speedup = load("text_rules")
    if speedup is None or texts.type != pa.string() or strings.type != pa.string():
        return _UNDECIDED
    arguments = []
    for array in (texts, strings):
        validity, offsets, data = array.buffers()
        arguments += [validity, offsets, b"" if data is None else data, array.offset]
    found = speedup.kinds(*arguments, len(texts))
    if found & _NOT_PLAIN:
        return _UNDECIDED
    return None if found & _UNKNOWN else {kind for bit, kind in enumerate(_C_KINDS) if found >> bit & 1}


def string_kinds(strings) -> set[str]:
    """Strings (an Arrow array; nulls ignored) -> the kinds infer_value gives them."""
    import pyarrow.compute as pc

    if strings.null_count == len(strings):
        return set()
    plain = pc.and_(pc.string_is_ascii(strings), pc.invert(pc.match_substring(strings, "\n")))
    kinds: set[str] = set()
    if not pc.all(plain).as_py():        # Python's own patterns decide these (few, if any)
        kinds.update(map(ingest.infer_value, strings.filter(pc.invert(plain)).to_pylist()))
        strings = pc.if_else(plain, strings, _null())
    if _left_after(strings, _STRING_TESTS, kinds):
        kinds.add("string")
    return kinds


def _left_after(texts, tests, kinds: set[str]) -> bool:
    """Each (kind, test) in turn: its kind into *kinds* where it covers a text, the texts it covers set
    aside; whether any non-null text is left that no test covered."""
    import pyarrow.compute as pc

    for kind, test in tests:
        if texts.null_count == len(texts):
            return False
        covered = test(texts)
        if pc.any(covered).as_py():
            kinds.add(kind)
            if pc.all(covered).as_py():
                return False
            texts = pc.if_else(covered, _null(), texts)
    return texts.null_count < len(texts)


def _matching(pattern: str):
    def test(texts):
        import pyarrow.compute as pc

        return pc.match_substring_regex(texts, pattern)
    return test


def _is_in(*values: str):
    def test(texts):
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.is_in(texts, value_set=pa.array(values, pa.string()), skip_nulls=True)
    return test


def _null():
    import pyarrow as pa

    return pa.scalar(None, pa.string())


#: (kind, test) in the order they are tried: a string's kind by Python's patterns (a datetime first),
#: a non-string value's by its text (json's int for an integer, its float for any other number).
_STRING_TESTS = [("datetime", _matching(_ISO_DATETIME)), ("timespan", _matching(_TIMESPAN))]
_NATIVE_TESTS = [("dynamic", _matching(r"^[\[{]")), ("bool", _is_in("true", "false")), ("long", _matching(_LONG_TEXT)),
                 ("real", _matching(_REAL_TEXT))]
