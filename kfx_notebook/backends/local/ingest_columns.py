"""Text payloads -> one staged Arrow array per table column, parsed in C and converted column by column.

The rule it keeps: the table is exactly the one the per-record rule gives (`ingest.convert_value`
on every value; tests/ingest_reference.py keeps the per-record code and tests/test_ingest_columns.py
compares both with hypothesis). JSON records of an existing table without a mapping are read by
json_texts first (the C reader, else DuckDB's; then json_values); other JSON is decoded by msgspec, csv by pyarrow.csv,
only where their reading equals the reference's; anything else (other layouts, malformed text) returns None and
the caller reads it the reference way, which also words its errors. A column's values in a form
with a vectorized rule (JSON numbers, bools and strings; strict ISO datetimes and Kusto
timespans, those two in one C pass where _speedups/text_rules is built; plain integers and
decimals in text) convert in Arrow; every other value goes
through `convert_value`, one by one, and is merged back in place.

A new table's JSON records are read as texts too where the C reader gives every key's
(ingest._value_texts); its column types, from texts or from decoded values, are json_inference's.
"""

from __future__ import annotations

import codecs
import itertools
import operator
import re
from typing import Any

from . import ingest
from ...errors import IngestionError

_BOUNDARY = re.compile(rb"\}[ \t\r\n]*\n[ \t\r\n]*\{")   # between two objects: a newline can only be outside strings
_CSV_FIELD_LIMIT = 131072                                 # Python's csv.field_size_limit(): longer is an error there
_ARROW_CSV = ("csv", "tsv", "psv", "scsv", "sohsv")        # '"'-quoted formats; tsve has no quoting, txt no fields
_CSV_TEXT_COLUMNS = {f"f{i}": "string" for i in range(1024)}  # Arrow's generated names: every field stays text


# -- reading -------------------------------------------------------------------------------------
def json_records(raw: bytes) -> list[dict] | None:
    """One JSON array of objects, or objects one after another on new lines -> records; None otherwise.

    Each object is decoded on its own (so a cut that fell inside a value fails instead of
    joining two halves), and every item must be an object; anything else is the reference's.
    """
    import msgspec

    records = _decoded_objects(raw, msgspec.json.Decoder(), msgspec.json.Decoder(list))
    if records is None or set(map(type, records)) != {dict}:
        return None
    return records


def json_table_columns(raw: bytes, columns) -> list[list] | None:
    """JSON records into an existing table without a mapping -> each column's values; None as json_records.

    The records are decoded into a msgspec Struct with one field per column (renamed to the
    column's name), so no dict is built and the other keys are only skipped: a missing key is
    None and a repeated one keeps its last value, as dict.get on json's dict. A skipped value is
    not checked for UTF-8: the caller has checked the whole body (ingest does, first).
    """
    import msgspec

    fields = [f"f{i}" for i in range(len(columns))]
    record = msgspec.defstruct("Record", [(f, Any, None) for f in fields], gc=False,
                               rename={f: name for f, (name, _) in zip(fields, columns)})
    records = _decoded_objects(raw, msgspec.json.Decoder(record), msgspec.json.Decoder(list[record]))
    if not records or not fields:
        return None     # no records (or no columns): the reference's reading, as json_records
    return [list(map(operator.attrgetter(f), records)) for f in fields]


def _decoded_objects(raw: bytes, one, array) -> list | None:
    """The payload's objects, each by *one*, or its array by *array* (decoders); None for any other layout."""
    import msgspec

    body = _without_bom(raw)
    start = len(body) - len(body.lstrip(b" \t\r\n"))
    try:
        if body[start:start + 1] == b"[":
            return array.decode(body)
        if body[start:start + 1] == b"{":
            cuts = [m.start() + 1 for m in _BOUNDARY.finditer(body)]
            view = memoryview(body)
            return list(map(one.decode, map(view.__getitem__, map(slice, [start, *cuts], [*cuts, len(body)]))))
    except (msgspec.DecodeError, RecursionError):    # ValidationError is a DecodeError
        return None
    return None


def _without_bom(raw: bytes) -> bytes:
    return raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw


def csv_columns(raw: bytes, fmt: str) -> list | None:
    """Delimited text -> its fields as Arrow string columns (all rows as wide as the first); None otherwise."""
    if fmt not in _ARROW_CSV:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    body = _without_bom(raw)
    if b"\r" in body and body.count(b"\r") != body.count(b"\r\n"):
        return None     # Python's reader refuses a lone carriage return outside quotes; Arrow ends the record
    try:
        table = pcsv.read_csv(
            pa.py_buffer(body),
            read_options=pcsv.ReadOptions(autogenerate_column_names=True, block_size=1 << 26),
            parse_options=pcsv.ParseOptions(delimiter=ingest.DELIMITED[fmt], quote_char='"', double_quote=True,
                                            escape_char=False, newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pcsv.ConvertOptions(column_types=_CSV_TEXT_COLUMNS, strings_can_be_null=False,
                                                quoted_strings_can_be_null=False, auto_dict_encode=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    columns = [table.column(i).combine_chunks() for i in range(table.num_columns)]
    if any(not pa.types.is_string(c.type) for c in columns):
        return None     # wider than _CSV_TEXT_COLUMNS: Arrow inferred a type, so its text is not the field's
    if any((pc.max(pc.utf8_length(c)).as_py() or 0) > _CSV_FIELD_LIMIT for c in columns if len(c)):
        return None
    return columns


def fields_from_records(records: list[list[str]]) -> tuple[list, list[int] | None]:
    """Delimited records read by Python -> Arrow string columns (a missing field null), and each record's
    width when they differ (None when every record is as wide as the widest)."""
    import pyarrow as pa

    widths = list(map(len, records))
    width = max(widths, default=0)
    if min(widths, default=0) == width:
        return [pa.array(column, type=pa.string()) for column in zip(*records)], None
    return [pa.array([r[i] if i < len(r) else None for r in records], type=pa.string())
            for i in range(width)], widths


# -- JSON records -> table columns ---------------------------------------------------------------
def json_column_values(records: list[dict], columns, mapping) -> list:
    """Each table column's JSON values (a list per column; ("const", value) for a mapping constant)."""
    if mapping is None:
        return [list(map(operator.methodcaller("get", name), records)) for name, _ in columns]
    out: list[Any] = [None] * len(columns)
    for index, path, const in ingest.mapping_plan(mapping, columns, "Path"):
        if path is None:
            out[index] = ("const", const)
            continue
        steps = ingest.json_path_steps(path)
        if steps is None:
            out[index] = list(records)
        elif len(steps) == 1:
            out[index] = list(map(operator.methodcaller("get", steps[0]), records))
        else:
            out[index] = [ingest.walk_json(rec, steps) for rec in records]
    return out


def json_inferred_columns(records: list[dict]) -> tuple[list[tuple[str, str]], list[list]]:
    """A new table's columns from JSON records (keys in first-seen order, types by json_inference's rule)
    and each column's values, as json_column_values gives them without a mapping."""
    from . import json_inference

    names = list(dict.fromkeys(itertools.chain.from_iterable(records)))
    values = json_column_values(records, [(name, None) for name in names], None)
    return [(str(name), json_inference.column_type(json_inference.kinds_of_values(column)))
            for name, column in zip(names, values)], values


# -- delimited fields -> table columns -----------------------------------------------------------
def delimited_inferred_columns(fields: list) -> list[tuple[str, str]]:
    """A new table's columns from delimited fields (Arrow string columns), as ingest's _infer_text rule."""
    import pyarrow.compute as pc

    out = []
    for number, column in enumerate(fields, 1):
        given = pc.filter(column, pc.and_(pc.is_valid(column), pc.not_equal(column, "")))
        out.append((f"Column{number}", _text_type(given)))
    return out


def _text_type(texts) -> str:
    """The first of long, real, bool, datetime that parses every text non-null (PARSERS); else string."""
    from ...literals import PARSERS, ValueParseError

    if not len(texts):
        return "string"
    for ktype in ("long", "real", "bool", "datetime"):
        _, covered = _VECTOR_RULES[ktype](texts)
        rest = texts.filter(_not(covered)).to_pylist()
        try:
            if all(PARSERS[ktype](v) is not None for v in rest):
                return ktype
        except (ValueParseError, ValueError):
            continue
    return "string"


def delimited_column_values(fields: list, widths: list[int] | None, columns, mapping) -> list:
    """Each table column's fields (an Arrow string column, ("const", value), or None for all-null).

    *widths* is each record's number of fields when they differ (None: all as wide as *fields*).
    """
    if mapping is None:
        if len(fields) > len(columns):
            number, width = next((n, w) for n, w in enumerate(widths or [len(fields)], 1) if w > len(columns))
            raise IngestionError(f"Record {number} has {width} fields; table has {len(columns)} columns",
                                 code="Stream_WrongNumberOfFields",
                                 hint="Check the delimiter and quoting, or name a csv mapping.")
        return [fields[i] if i < len(fields) else None for i in range(len(columns))]
    out: list[Any] = [None] * len(columns)
    for index, ordinal, const in ingest.mapping_plan(mapping, columns, "Ordinal", int):
        out[index] = ("const", const) if ordinal is None else fields[ordinal] if ordinal < len(fields) else None
    return out



# -- one column of values -> its staged Arrow array ----------------------------------------------
def staged_from_json(name: str, ktype: str, values, rows: int, *, finite: bool):
    """A column of JSON values (from a decoder) -> its staged array; *finite*: no NaN/inf among them."""
    import pyarrow as pa

    if values is None:
        return ingest.arrow_column(name, ktype, [None] * rows)
    if type(values) is tuple:
        return ingest.arrow_column(name, ktype, [ingest.convert_value(values[1], ktype)] * rows)
    kinds = set(map(type, values)) - {type(None)}
    if kinds <= _NATIVE.get(ktype, set()):
        try:
            return pa.array(values, type=ingest.staging_type(ktype))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass      # out of range: the per-value rule decides
    elif kinds == {str} and (ktype in _VECTOR_RULES or ktype == "dynamic"):
        return _staged_from_texts(name, ktype, pa.array(values, type=pa.string()))
    elif ktype == "dynamic" and finite and kinds <= _JSON_VALUE_TYPES:
        return _dynamic_texts(values)
    return _per_value(name, ktype, values)


def staged_from_fields(name: str, ktype: str, fields, rows: int):
    """A column of delimited fields (Arrow strings; "" is null except for string columns) -> its staged array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if fields is None:
        return ingest.arrow_column(name, ktype, [None] * rows)
    if type(fields) is tuple:
        value = None if fields[1] == "" and ktype != "string" else fields[1]
        return ingest.arrow_column(name, ktype, [ingest.convert_value(value, ktype)] * rows)
    if ktype == "string":
        return fields
    fields = pc.if_else(pc.equal(fields, ""), pa.scalar(None, pa.string()), fields)
    if ktype in _VECTOR_RULES or ktype == "dynamic":
        return _staged_from_texts(name, ktype, fields)
    return _per_value(name, ktype, fields.to_pylist())


def _per_value(name: str, ktype: str, values: list):
    return ingest.arrow_column(name, ktype, [ingest.convert_value(v, ktype) for v in values])


def _staged_from_texts(name: str, ktype: str, texts):
    """Strings -> the column's type: the vectorized rule where it covers a text, convert_value elsewhere."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if ktype == "dynamic":
        from . import json_values

        return json_values.dynamic_from_texts(texts)
    if texts.null_count == len(texts) and ktype in _VECTOR_RULES:   # no text (a JSON column of no strings)
        return pa.nulls(len(texts), ingest.staging_type(ktype))
    staged, covered = _VECTOR_RULES[ktype](texts)
    left = pc.and_(pc.is_valid(texts), _not(covered))
    if not pc.any(left).as_py():
        return staged
    values = ingest.arrow_column(name, ktype, [ingest.convert_value(v, ktype) for v in texts.filter(left).to_pylist()])
    if pa.types.is_temporal(staged.type):    # replace_with_mask has no time kernels: merge the int64 counts
        merged = pc.replace_with_mask(staged.cast(pa.int64()), left, values.cast(staged.type).cast(pa.int64()))
        return merged.cast(staged.type)
    return pc.replace_with_mask(staged, left, values.cast(staged.type))


def _not(mask):
    import pyarrow.compute as pc

    return pc.invert(pc.fill_null(mask, False))


def _matching(texts, pattern: str):
    import pyarrow.compute as pc

    return pc.fill_null(pc.match_substring_regex(texts, pattern), False)


def _only(texts, covered):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(covered, texts, pa.scalar(None, pa.string()))



#: The number texts Arrow's casts read exactly, as (integer, fraction, exponent) digit limits (0: none):
#: ^-?[0-9]{1,I}(\.[0-9]{1,F})?([eE][-+]?[0-9]{1,E})?$. Up to 18 (9) digits are a long (int) that fits;
#: a real with at most 20 digits on each side and a 2-digit exponent never overflows.
LONG_DIGITS, INT_DIGITS, REAL_DIGITS = (18, 0, 0), (9, 0, 0), (20, 20, 2)


def number_covered(texts, digits: tuple[int, int, int]):
    """The texts (an Arrow string array; null: not covered) that are numbers within *digits*, as a mask:
    in one pass of _speedups/text_rules where it is built, else by the same pattern in RE2."""
    import pyarrow as pa

    from ..._speedups import load

    speedup = load("text_rules")
    if speedup is not None and texts.type == pa.string():
        validity, offsets, data = texts.buffers()
        bits = speedup.numbers(validity, offsets, b"" if data is None else data, texts.offset, len(texts), *digits)
        return pa.Array.from_buffers(pa.bool_(), len(texts), [None, pa.py_buffer(bits)])
    ints, fracs, exps = digits
    pattern = (rf"^-?[0-9]{{1,{ints}}}" + (rf"(\.[0-9]{{1,{fracs}}})?" if fracs else "")
               + (rf"([eE][-+]?[0-9]{{1,{exps}}})?" if exps else "") + "$")
    return _matching(texts, pattern)


def _long_rule(digits: tuple[int, int, int], target_name: str):
    def rule(texts):
        import pyarrow as pa

        covered = number_covered(texts, digits)
        return _only(texts, covered).cast(getattr(pa, target_name)()), covered
    return rule


def _real_rule(texts):
    import pyarrow as pa

    covered = number_covered(texts, REAL_DIGITS)
    return _only(texts, covered).cast(pa.float64()), covered


def _bool_rule(texts):
    import pyarrow as pa
    import pyarrow.compute as pc

    lowered = pc.ascii_lower(texts)
    true = pc.fill_null(pc.is_in(lowered, value_set=pa.array(["true", "1"])), False)
    covered = pc.or_(true, pc.fill_null(pc.is_in(lowered, value_set=pa.array(["false", "0"])), False))
    return pc.if_else(covered, true, pa.scalar(None, pa.bool_())), covered


_DATETIME = (r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
             r"(\.[0-9]{1,9})?[Zz]?$")


def _in_c(rule: str, texts, arrow_type):
    """(values, covered) of _speedups/text_rules' *rule* (one pass over the texts, the same pattern and
    values as the Arrow kernels below); None where it is not built or the texts are not a plain string array."""
    import pyarrow as pa

    from ..._speedups import load

    speedup = load("text_rules")
    if speedup is None or texts.type != pa.string():
        return None
    validity, offsets, data = texts.buffers()
    covered, micros = getattr(speedup, rule)(validity, offsets, b"" if data is None else data, texts.offset, len(texts))
    bits = pa.py_buffer(covered)
    return (pa.Array.from_buffers(arrow_type, len(texts), [bits, pa.py_buffer(micros)]),
            pa.Array.from_buffers(pa.bool_(), len(texts), [None, bits]))


def _datetime_rule(texts):
    """ISO 8601 with seconds, UTC or no zone: days checked against the month, fraction cut to 6 digits."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fast = _in_c("datetimes", texts, pa.timestamp("us"))
    if fast is not None:
        return fast
    covered = _matching(texts, _DATETIME)
    plain = _only(texts, covered)
    try:        # Arrow's ISO cast, once the fraction is cut to 6 digits and the Z dropped; it refuses Feb 30
        return pc.utf8_rtrim(pc.utf8_slice_codeunits(plain, 0, 26), characters="Zz").cast(pa.timestamp("us")), covered
    except pa.ArrowInvalid:
        pass        # a day the month does not have: find it, field by field
    day = pc.strptime(pc.utf8_slice_codeunits(plain, 0, 10), format="%Y-%m-%d", unit="s", error_is_null=True)
    covered = pc.fill_null(pc.and_(covered, pc.equal(pc.day(day), _int(plain, 8, 10))), False)
    seconds = _sum_scaled([(day.cast(pa.int64()), 1), (_int(plain, 11, 13), 3600), (_int(plain, 14, 16), 60),
                           (_int(plain, 17, 19), 1)])
    fraction = pc.utf8_rtrim(pc.utf8_slice_codeunits(plain, 20, 26), characters="Zz")
    micros = _sum_scaled([(seconds, 1_000_000), (_digits(pc.utf8_rpad(fraction, 6, "0")), 1)])
    return pc.if_else(covered, micros, pa.scalar(None, pa.int64())).cast(pa.timestamp("us")), covered


_TIMESPAN = r"^-?([0-9]{1,8}\.)?[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{7})?$"   # the form Kusto and the payload write


def _timespan_rule(texts):
    """Kusto's [-][d.]hh:mm:ss[.fffffff] (a subset of literals' _CLOCK rule), fraction cut to 6 digits.

    Every covered text ends in hh:mm:ss.fffffff once a missing fraction is padded, so the
    fields sit at fixed places from the end; the days (if any) are what precedes them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    fast = _in_c("timespans", texts, pa.duration("us"))
    if fast is not None:
        return fast
    covered = _matching(texts, _TIMESPAN)
    plain = _only(texts, covered)
    whole = pc.if_else(_matching(plain, r"\.[0-9]{7}$"), plain, pc.binary_join_element_wise(plain, ".0000000", ""))
    tail = pc.utf8_slice_codeunits(whole, -16)
    days = pc.utf8_ltrim(pc.utf8_slice_codeunits(whole, 0, -17), characters="-")
    seconds = _sum_scaled([(_digits(pc.utf8_rtrim(days, characters=".")), 86400), (_int(tail, 0, 2), 3600),
                           (_int(tail, 3, 5), 60), (_int(tail, 6, 8), 1)])
    micros = _sum_scaled([(seconds, 1_000_000), (_int(tail, 9, 15), 1)])
    signed = pc.if_else(pc.starts_with(plain, "-"), pc.negate(micros), micros)
    return pc.if_else(covered, signed, pa.scalar(None, pa.int64())).cast(pa.duration("us")), covered


def _sum_scaled(terms):
    """sum(array * scale) in int64 Arrow arithmetic."""
    import pyarrow.compute as pc

    total = None
    for array, scale in terms:
        term = array if scale == 1 else pc.multiply(array, scale)
        total = term if total is None else pc.add(total, term)
    return total


def _int(texts, start: int, stop: int):
    import pyarrow.compute as pc

    return _digits(pc.utf8_slice_codeunits(texts, start, stop))


def _digits(texts):
    """Digit strings ("" for absent) -> int64, absent as 0."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pc.equal(texts, ""), "0", texts).cast(pa.int64()).fill_null(0)


#: Kusto type -> (texts -> (staged array, mask of the texts it covered)). A rule only covers a
#: text it converts exactly as convert_value does; the rest is left to convert_value.
_VECTOR_RULES = {"long": _long_rule(LONG_DIGITS, "int64"), "int": _long_rule(INT_DIGITS, "int32"), "real": _real_rule,
                 "bool": _bool_rule, "datetime": _datetime_rule, "timespan": _timespan_rule}
#: Kusto type -> the JSON value types Arrow stages as they are (convert_value's result is the value).
_NATIVE = {"long": {int}, "int": {int}, "real": {int, float}, "bool": {bool}, "string": {str}}
_JSON_VALUE_TYPES = {dict, list, int, float, bool}   # a str in a dynamic column is parsed


# -- dynamic -------------------------------------------------------------------------------------
def _dynamic_texts(values: list):
    """Decoded finite JSON values -> json.dumps(value, ensure_ascii=False) of each (codec's C encoder)."""
    import pyarrow as pa

    from ...codec import decoded_json_texts

    return pa.array(decoded_json_texts(values), type=pa.string())

