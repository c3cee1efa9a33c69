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
_LONG_TEXT = r"^-?(0|[1-9][0-9]*)$"                                           # a JSON integer: json gives an int
_REAL_TEXT = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$"              # any other JSON number: a float
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
    import pyarrow as pa
    import pyarrow.compute as pc

    natives = texts.filter(pc.and_(pc.is_valid(texts), pc.is_null(strings)))
    kinds = string_kinds(strings)
    if not len(natives):
        return kinds
    first = pc.utf8_slice_codeunits(natives, 0, 1)
    dynamic = pc.is_in(first, value_set=pa.array(["{", "["]))
    boolean = pc.is_in(natives, value_set=pa.array(["true", "false"]))
    long = pc.match_substring_regex(natives, _LONG_TEXT)
    real = pc.and_(pc.match_substring_regex(natives, _REAL_TEXT), pc.invert(long))
    known = [("dynamic", dynamic), ("bool", boolean), ("long", long), ("real", real)]
    covered = 0
    for kind, mask in known:
        count = pc.sum(mask.cast(pa.int64())).as_py() or 0
        if count:
            kinds.add(kind)
            covered += count
    return kinds if covered == len(natives) else None     # NaN, Infinity, anything else: decoded instead


def string_kinds(strings) -> set[str]:
    """Strings (an Arrow array; nulls ignored) -> the kinds infer_value gives them."""
    import pyarrow.compute as pc

    given = strings.filter(pc.is_valid(strings)) if strings.null_count else strings
    if not len(given):
        return set()
    plain = pc.and_(pc.string_is_ascii(given), pc.invert(pc.match_substring(given, "\n")))
    odd = given.filter(pc.invert(plain))
    kinds = set(map(ingest.infer_value, odd.to_pylist()))
    rest = given.filter(plain) if len(odd) else given
    datetime = pc.match_substring_regex(rest, _ISO_DATETIME)
    if pc.any(datetime).as_py():
        kinds.add("datetime")
    others = rest.filter(pc.invert(datetime))
    timespan = pc.match_substring_regex(others, _TIMESPAN)
    if pc.any(timespan).as_py():
        kinds.add("timespan")
    if len(others) and not pc.all(timespan).as_py():     # (all of nothing is null, not true)
        kinds.add("string")
    return kinds
