"""The value codec: pandas columns -> the JSON values and text a payload carries, and Arrow staging.

The rule it keeps: one place formats a Kusto datetime ('YYYY-MM-DDTHH:MM:SS.fffffffZ', UTC,
ticks floored) and a timespan ('[-][d.]hh:mm:ss.fffffff', ticks truncated toward zero), one
value at a time (`kusto_datetime`, `kusto_timespan`) and a whole column at a time (the
`*_texts` functions), and the two agree value for value (tests/test_codec.py). Column-wise
work is done with numpy and pyarrow, imported on first use; importing this module is light.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import json
import math
import uuid
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1)
_NS_PER_TICK = 100

#: Column kinds: how a pandas column is written into a payload. "object" is value by value.
KINDS = ("datetime", "timespan", "bool", "long", "real", "object")


# -- one value ------------------------------------------------------------------------------------

def kusto_datetime(value) -> str | None:
    """A datetime -> 'YYYY-MM-DDTHH:MM:SS.fffffffZ' (UTC, 7 fraction digits); naive means UTC."""
    if value is None:
        return None
    if hasattr(value, "value") and hasattr(value, "tz_localize"):   # pandas.Timestamp: keep nanoseconds
        if value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
        ns = int(value.as_unit("ns").value)
        seconds, rest = divmod(ns, 1_000_000_000)
        base = _EPOCH + dt.timedelta(seconds=seconds)
        return f"{base:%Y-%m-%dT%H:%M:%S}.{rest // _NS_PER_TICK:07d}Z"
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime):
        return f"{_utc_naive(value).isoformat(timespec='microseconds')}0Z"   # years always 4 digits
    raise TypeError(f"not a datetime: {value!r}")


def newtonsoft_datetime(value: dt.datetime, ticks: int | None = None) -> str:
    """A datetime as Newtonsoft writes the .NET DateTime the Kusto client returns: UTC, trailing zeros trimmed.

    `ticks` (0..9999999, the 100 ns units within the second) overrides the microsecond fraction,
    for values that carry the seventh digit (a pandas Timestamp's nanoseconds)."""
    value = _utc_naive(value)
    fraction = f"{value.microsecond * 10 if ticks is None else ticks:07d}".rstrip("0")
    text = value.replace(microsecond=0).isoformat()
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _utc_naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def kusto_timespan(value) -> str | None:
    """A timedelta -> Kusto/.NET timespan '[-][d.]hh:mm:ss.fffffff' (ticks of 100 ns, truncated)."""
    return None if value is None else format_timespan(value, fraction=True)


def format_timespan(value, *, fraction: bool = False) -> str:
    """Kusto's (and .NET's "c") text for a timespan: `[-][d.]hh:mm:ss[.fffffff]`.

    Accepts a datetime.timedelta or a pandas.Timedelta (whose nanoseconds are cut to 100-ns
    ticks). The fraction is written when there is one, or always with fraction=True.
    """
    if hasattr(value, "as_unit"):    # pandas.Timedelta: nanoseconds
        ns = int(value.as_unit("ns").value)
    else:
        ns = ((value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds) * 1000
    sign = "-" if ns < 0 else ""
    ticks = abs(ns) // 100
    days, ticks = divmod(ticks, 864_000_000_000)
    hours, ticks = divmod(ticks, 36_000_000_000)
    minutes, ticks = divmod(ticks, 600_000_000)
    seconds, ticks = divmod(ticks, 10_000_000)
    text = f"{sign}{str(days) + '.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{text}.{ticks:07d}" if ticks or fraction else text


# -- one value -> JSON ---------------------------------------------------------------------------

def json_ready(value: Any) -> Any:
    """One Python value -> a JSON value as the row would carry it to Kusto (NaN null, ±Infinity as text).

    The one per-value rule for the payload, the cluster backend's ingestion and dynamic text;
    the v2 wire (server/wire.py) and the input binding's Newtonsoft text keep their own, stated there.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)) or type(value).__name__ == "Timestamp":
        if type(value).__name__ == "NaTType":
            return None
        return kusto_datetime(value)
    if isinstance(value, dt.timedelta) or type(value).__name__ == "Timedelta":
        return kusto_timespan(value)
    name = type(value).__name__
    if name in ("NaTType", "NAType"):
        return None
    if name == "datetime64":
        import pandas as pd

        return None if pd.isna(value) else kusto_datetime(pd.Timestamp(value))
    if name == "timedelta64":
        import pandas as pd

        return None if pd.isna(value) else kusto_timespan(pd.Timedelta(value))
    if hasattr(value, "tolist") and hasattr(value, "dtype"):   # numpy scalars and arrays
        return json_ready(value.tolist())
    return str(value)


def object_cell(value):
    """One cell of an object column -> its JSON-ready value (NaN, NA and NaT are null)."""
    if isinstance(value, (dict, list, tuple)):
        return json_ready(value)
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return json_ready(value)


# -- one column -----------------------------------------------------------------------------------

def column_kind(dtype) -> str:
    """The kind (one of KINDS) a pandas dtype is written as."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timespan"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "long"
    if pd.api.types.is_float_dtype(dtype):
        return "real"
    return "object"


def json_ready_column(series, kind: str | None = None) -> list:
    """A pandas column -> its values as a payload row carries them (None for nulls, texts for times)."""
    import numpy as np
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    kind = kind or column_kind(series.dtype)
    if kind == "datetime":
        return _with_nulls(datetime_texts(series), series)
    if kind == "timespan":
        return _with_nulls(timespan_texts(series), series)
    if kind == "object":
        cells = series.astype(object).tolist()
        return cells if _plain_json(cells) else [object_cell(v) for v in cells]
    mask = series.isna().to_numpy()
    if kind == "real":
        numbers = series.to_numpy(dtype="float64", na_value=math.nan)
        values = numbers.tolist()
        if not (mask.any() or np.isinf(numbers).any()):
            return values
        return [None if m else json_ready(v) for v, m in zip(values, mask)]
    numpy_type = "bool" if kind == "bool" else ("uint64" if str(series.dtype).lower() == "uint64" else "int64")
    values = series.to_numpy(dtype=numpy_type, na_value=0).tolist()
    return [None if m else v for v, m in zip(values, mask)] if mask.any() else values


def _with_nulls(texts: list, series) -> list:
    mask = series.isna().to_numpy()
    if not mask.any():
        return texts
    return [None if m else t for t, m in zip(texts, mask)]


def utc_nanoseconds(series):
    """A datetime column (naive = UTC, or tz-aware) -> int64 nanoseconds since the epoch (NaT arbitrary)."""
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.dt.as_unit("ns").to_numpy().view("int64")


def timedelta_nanoseconds(series):
    """A timedelta column -> int64 nanoseconds (NaT arbitrary)."""
    return series.dt.as_unit("ns").to_numpy().view("int64")


def datetime_texts(series) -> list[str]:
    """A datetime column -> kusto_datetime's text for every value (nulls give arbitrary text)."""
    return datetime_text_array(series).to_pylist()


def datetime_text_array(series, quote: str = ""):
    """A datetime column -> an Arrow string array of kusto_datetime's texts, each between `quote`s
    (nulls give arbitrary text). Arrow writes a nanosecond timestamp 'YYYY-MM-DD HH:MM:SS.fffffffff'
    (datetime64[ns] years are always 4 digits); its first 27 characters are the floored ticks."""
    import pyarrow as pa
    import pyarrow.compute as pc

    full = pc.cast(pa.array(utc_nanoseconds(series), pa.int64()).view(pa.timestamp("ns")), pa.string())
    ticks = pc.utf8_replace_slice(pc.utf8_slice_codeunits(full, 0, 27), start=10, stop=11, replacement="T")
    return pc.binary_join_element_wise(quote, ticks, "Z" + quote, "")


def timespan_texts(series) -> list[str]:
    """A timedelta column -> kusto_timespan's text for every value (nulls give arbitrary text)."""
    return timespan_text_array(series).to_pylist()


def timespan_text_array(series, quote: str = ""):
    """A timedelta column -> an Arrow string array of kusto_timespan's texts, each between `quote`s
    (nulls give arbitrary text)."""
    import numpy as np
    import pyarrow.compute as pc

    ns = timedelta_nanoseconds(series)
    ns = np.where(ns == np.iinfo("int64").min, 0, ns)         # NaT: any text will do, it is masked
    texts = tick_timespan_texts(ns < 0, np.abs(ns) // _NS_PER_TICK)
    return pc.binary_join_element_wise(quote, texts, quote, "") if quote else texts


def tick_timespan_texts(negative, ticks, *, fraction: bool = True, before: bytes = b"", after: bytes = b""):
    """Signs and absolute 100-ns ticks (numpy) -> an Arrow string array of format_timespan's texts
    (between *before* and *after*), laid out in a byte matrix by text_matrix."""
    from .text_matrix import timespan_texts

    return timespan_texts(negative, ticks, fraction=fraction, before=before, after=after)


# -- Arrow staging (the embedded database) --------------------------------------------------------

def arrow_staged(series, kind: str):
    """A column of its own kind -> the Arrow array local ingestion stages for a Kusto column of that type.

    The same values the payload's texts parse back to: datetimes floored to microseconds,
    timespans truncated toward zero to microseconds, NaN as null.
    """
    import numpy as np
    import pyarrow as pa

    mask = series.isna().to_numpy()
    if kind == "datetime":
        us = np.where(mask, 0, utc_nanoseconds(series)) // 1000
        return pa.array(us, type=pa.timestamp("us"), mask=mask)
    if kind == "timespan":
        ns = np.where(mask, 0, timedelta_nanoseconds(series))
        us = np.where(ns < 0, -((-ns) // 1000), ns // 1000)
        return pa.array(us, type=pa.duration("us"), mask=mask)
    if kind == "bool":
        return pa.array(series.to_numpy(dtype="bool", na_value=False), type=pa.bool_(), mask=mask)
    if kind == "long":
        return pa.array(series.to_numpy(dtype="int64", na_value=0), type=pa.int64(), mask=mask)
    if kind == "real":
        return pa.array(series.to_numpy(dtype="float64", na_value=np.nan), type=pa.float64(), mask=mask)
    raise ValueError(f"no vectorized staging for kind {kind!r}")



# -- dynamic values (the embedded database keeps them as JSON text) ------------------------------

def dynamic_text(value) -> str | None:
    """One value's dynamic text as the embedded database stores it: its JSON-ready form, dumped."""
    value = object_cell(value)
    return None if value is None else json.dumps(json.loads(_compact_safe(value)), ensure_ascii=False)


def dynamic_texts(values: list) -> list[str | None]:
    """`dynamic_text` of every value; a column of plain JSON values is dumped by one reused C encoder."""
    if _json_types_and_str_keys(values):
        try:   # the encoder refuses NaN, infinities, cycles: then the per-value rule decides
            return _c_encoded(values, none=None)
        except (TypeError, ValueError, RecursionError):
            pass
    return [None if v is None else dynamic_text(v) for v in values]


def decoded_json_texts(values: list) -> list[str | None]:
    """Values a JSON decoder made (str keys, JSON's own types, finite) -> json.dumps of each, by one C encoder.

    No type check: what a decoder makes is what json.dumps writes as it is (`dynamic_texts`
    checks first, for values from anywhere).
    """
    return _c_encoded(values, none=None)


def _c_encoded(values: list, *, none: str | None) -> list:
    """json.dumps of each value (a None as *none*) by one reused C encoder; raises as json.dumps would."""
    encode = _c_encoder()
    return [none if v is None else "".join(encode(v, 0)) for v in values]


def _plain_json(values: list) -> bool:
    """True when every value is already JSON-ready: dumping the list and reading it back gives it again.

    Then json_ready would change nothing that shows in the text; NaN, numpy scalars, tuples,
    dates, non-string keys all fail the test (two C-level passes over the list).
    """
    if all(type(v) is str for v in values):
        return True
    try:
        return json.loads(json.dumps(values, ensure_ascii=False, allow_nan=False)) == values
    except (TypeError, ValueError):
        return False


def _c_encoder():
    """json's own encoder, built once (JSONEncoder.encode builds one per call): value, 0 -> text chunks."""
    from json import encoder

    make = encoder.c_make_encoder
    if make is None:      # no C accelerator: json's encode per value
        dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
        return lambda value, _level: (dumps(value),)
    return make(None, None, encoder.encode_basestring, None, ": ", ", ", False, False, False)


def _compact_safe(value) -> str:
    """A JSON-ready value as the payload writes it (so unencodable text fails as the payload does)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    return text


# -- compact JSON text of a column (a payload built column-wise) ----------------------------------

def json_texts_column(series) -> list[str]:
    """A pandas column -> each value's JSON text as `json.dumps(json_ready_column(...)[i])` writes it.

    Whitespace may differ (the payload is re-indented afterwards); every token is the same.
    """
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    arrow = _arrow_json_texts(series)
    if arrow is not None:
        return arrow.to_pylist()
    cells = series.astype(object).tolist()
    if _json_types_and_str_keys(cells):
        try:   # the encoder refuses NaN, infinities, cycles: then the per-value rule decides
            return _c_encoded(cells, none="null")
        except (TypeError, ValueError, RecursionError):
            pass
    return [_dumps(object_cell(v)) for v in cells]


def json_text_array(series):
    """`json_texts_column`'s texts as an Arrow large_string array: written by Arrow kernels for longs,
    reals, bools, datetimes, timespans and all-string columns (no Python string per value), else its list."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    arrow = _arrow_json_texts(series)
    return pa.array(json_texts_column(series), pa.large_string()) if arrow is None else arrow.cast(pa.large_string())


def _arrow_json_texts(series):
    """The JSON texts of a column whose kind Arrow writes exactly (an Arrow string array), or None.

    Nulls are `null`; a long is its decimal digits; a real is float.__repr__'s token (real_texts,
    NaN null, ±Infinity quoted texts); a string is quoted and escaped as json's encode_basestring
    does (json_string_escaped); times are quoted kusto texts.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column_kind(series.dtype)
    if kind == "datetime":
        texts = datetime_text_array(series, '"')
    elif kind == "timespan":
        texts = timespan_text_array(series, '"')
    elif kind == "bool":
        texts = pc.if_else(pa.array(series.to_numpy(dtype="bool", na_value=False)), "true", "false")
    elif kind == "long":
        numpy_type = "uint64" if str(series.dtype).lower() == "uint64" else "int64"
        texts = pc.cast(pa.array(series.to_numpy(dtype=numpy_type, na_value=0)), pa.string())
    elif kind == "real":
        numbers = series.to_numpy(dtype="float64", na_value=math.nan)
        texts = real_json_texts(numbers, None, _PAYLOAD_SPECIAL_REALS)   # json_ready: NaN null, ±Infinity texts
    elif kind == "object":
        texts = string_json_texts(series)
        if texts is None:
            return None
    else:
        return None
    mask = series.isna().to_numpy()
    return pc.if_else(pa.array(mask), "null", texts) if mask.any() else texts


def string_json_texts(series):
    """A column of nothing but exact str values -> their quoted JSON texts (an Arrow string array), else None.

    Text Arrow cannot hold (a lone surrogate) is None too: the per-value rule decides, as before."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(series.dtype, pd.StringDtype):   # str values or missing ones (null): Arrow holds them already
        strings = pa.array(series)
        strings = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    else:
        cells = series.astype(object).tolist()
        if not all(type(v) is str for v in cells):
            return None
        try:
            strings = pa.array(cells, pa.string())
        except (pa.ArrowException, UnicodeError):
            return None
    quote, nothing = pa.scalar('"', strings.type), pa.scalar("", strings.type)
    return pc.binary_join_element_wise(quote, json_string_escaped(strings), quote, nothing).fill_null("null")


def json_array_text(series) -> str:
    """A pandas column -> one JSON array of `json_texts_column`'s texts (whitespace may differ).

    A column of plain JSON containers is encoded as one list by json's C encoder; anything
    else (strings only, or a value the encoder refuses) is json_texts_column's texts joined.
    """
    import pandas as pd

    if column_kind(series.dtype) == "object" and not isinstance(series.dtype, pd.CategoricalDtype):
        cells = series.astype(object).tolist()
        found = None if all(type(v) is str for v in cells) else _json_value_types(cells)
        if found is not None and found[0] <= _MSGSPEC_TYPES and found[1] <= _MSGSPEC_DEPTH:
            return _msgspec_text(cells)
        if found is not None:
            try:   # the encoder refuses NaN, infinities, cycles: then the per-value rule decides
                return "".join(_c_encoder()(cells, 0))
            except (TypeError, ValueError, RecursionError):
                pass
    return "[" + ",".join(json_texts_column(series)) + "]"


#: The nesting json's encoder surely writes within Python's recursion limit: msgspec's limit is its own.
_MSGSPEC_DEPTH = 64
#: The exact types msgspec writes token for token as json does (no float; nothing it would encode its own way).
_MSGSPEC_TYPES = frozenset({str, int, bool, type(None), dict, list, tuple})


def _msgspec_text(cells: list) -> str:
    """JSON values of JSON's own types, str keys and no float -> their JSON array text, by msgspec.

    Every token is json's: strings are escaped alike (every code point checked), ints are
    their digits, tuples arrays; only whitespace differs. Not floats: msgspec writes 1e16 and
    0.00001 where float.__repr__ writes 1e+16 and 1e-05.
    """
    import msgspec

    return msgspec.json.encode(cells).decode("utf-8")


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _json_types_and_str_keys(cells: list) -> bool:
    """True when every cell holds only JSON's own types and every dict key is a str.

    Then json's encoder writes each cell as json_ready's form would be written, unless it
    refuses it (NaN, infinities, cycles). A non-str key would be written differently (True ->
    "true" against "True", duplicates), a subclass could be.
    """
    return _json_value_types(cells) is not None


def _json_value_types(cells: list) -> tuple[set, int] | None:
    """(the exact types of every value at every level, the nesting depth), or None when a cell's type
    is not one of JSON's own or a dict key is not a str, or the nesting goes deeper than Python's
    recursion limit (a cycle does: no encoder writes it). Checked level by level with C-level
    maps, never value by value in Python; each value's type is taken once. In one C walk where
    _speedups/value_types is built (the same answer)."""
    import sys

    from . import _speedups

    speedup = _speedups.load("value_types")
    found = speedup.json_value_types(cells, sys.getrecursionlimit()) if speedup is not None else NotImplemented
    if found is not NotImplemented:
        return found
    level, types = cells, list(map(type, cells))
    seen, depth = set(), 0
    while level:
        kinds = set(types)
        if not kinds <= _JSON_TYPES or depth > sys.getrecursionlimit():
            return None
        seen |= kinds
        depth += 1
        dicts = _of_types(level, types, kinds, _DICT)
        if dicts and set(map(type, itertools.chain.from_iterable(dicts))) - {str}:
            return None
        lists = _of_types(level, types, kinds, _SEQUENCES)
        inner = [*itertools.chain.from_iterable(map(dict.values, dicts)), *itertools.chain.from_iterable(lists)]
        types = list(map(type, inner))
        inner_kinds = set(types)
        seen |= inner_kinds
        level = _of_types(inner, types, inner_kinds, _CONTAINERS)
        types = _of_types(types, types, inner_kinds, _CONTAINERS)
    return seen, depth


def _of_types(values: list, types: list, kinds: set, wanted: frozenset) -> list:
    """The values whose exact type (types[i]; `kinds` is their set) is in *wanted*, filtered at C speed."""
    if not kinds & wanted:
        return []
    if kinds <= wanted:
        return values
    return list(itertools.compress(values, map(wanted.__contains__, types)))


_JSON_TYPES = {str, int, float, bool, type(None), dict, list, tuple}
_DICT, _SEQUENCES = frozenset({dict}), frozenset({list, tuple})
_CONTAINERS = _DICT | _SEQUENCES


# -- the REST wire's JSON text of an Arrow column (`serve` answers built column-wise) -------------

def wire_json_pieces(column, kusto_type: str):
    """An Arrow column from DuckDB of a (lowercase) Kusto type -> (before, texts, after): each value's
    JSON text, exactly as server/wire.py's per-value encoder writes it, is before + texts[i] + after.
    Or None when the pair has no column-wise rule here (odd Arrow types, dynamic texts that are not
    already in the wire's form: then encode value by value). A column without nulls leaves its quotes to before and after, so the
    row join writes them (one pass fewer); with nulls, texts are whole ("null" for a null).

    The wire's rules, not the payload's: real NaN/±Infinity as "NaN"/"Infinity" texts, datetimes
    with 7 fraction digits (the seventh always 0: DuckDB keeps microseconds), nulls as null.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    kind = column.type
    if kusto_type == "dynamic" and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        from .dynamic_wire import compact_wire_texts

        texts = compact_wire_texts(column)
        return None if texts is None else ("", texts, "")
    if kusto_type not in _WIRE_COLUMN_WISE:
        return None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _between(column, '"', json_string_escaped(column), '"')
    if pa.types.is_boolean(kind):
        return _between(column, "", pc.if_else(column, "true", "false"), "")
    if pa.types.is_integer(kind):
        return _between(column, "", pc.cast(column, pa.string()), "")
    if kusto_type == "decimal" or pa.types.is_decimal(kind):   # its plain digits, quoted
        texts = pc.cast(column, pa.string()) if kusto_type == "decimal" and pa.types.is_decimal(kind) else None
        if texts is None or pc.any(pc.match_substring(texts, "E")).as_py():
            return None   # Arrow writes |x| < 1e-6 as '1E-18' (zero too): the per-value encoder decides
        return _between(column, '"', texts, '"')
    if pa.types.is_floating(kind):
        numbers = column.to_numpy(zero_copy_only=False).astype("float64")
        return "", real_json_texts(numbers, np.asarray(column.is_null()), _WIRE_SPECIAL_REALS), ""
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        micros = column.cast(pa.int64()).fill_null(0).to_numpy().astype("datetime64[us]")
        if micros.size and (micros.min() < np.datetime64("0001-01-01") or micros.max() > np.datetime64("9999-12-31")):
            return None   # outside Python's datetime: the per-value encoder decides
        # Arrow writes a naive microsecond timestamp 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC values kept)
        full = pc.utf8_replace_slice(pc.cast(column.cast(pa.timestamp("us")), pa.string()), start=10, stop=11,
                                     replacement="T")
        return _between(column, '"', full, '0Z"')
    if pa.types.is_interval(kind):
        ticks = _interval_ticks(column)
        if ticks is None:
            return None
        return _between(column, "", tick_timespan_texts(ticks < 0, np.abs(ticks), fraction=False,
                                                        before=b'"', after=b'"'), "")
    return None


def _between(column, before: str, texts, after: str):
    """(before, texts, after) for a column without nulls; with nulls, ("", whole texts or "null", "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not column.null_count:
        return before, texts, after
    kind = texts.type   # the literals in the texts' own type: Arrow has no string + large_string kernel
    if before or after:
        texts = pc.binary_join_element_wise(pa.scalar(before, kind), texts, pa.scalar(after, kind), pa.scalar("", kind))
    return "", pc.if_else(column.is_valid(), texts, pa.scalar("null", kind)), ""


#: The Kusto types whose values wire_json_pieces writes from their Arrow column (by its Arrow type).
_WIRE_COLUMN_WISE = {"string", "guid", "bool", "int", "long", "real", "decimal", "datetime", "timespan"}

#: The reals JSON cannot carry (by float.__repr__) -> the texts Kusto's wire writes for them.
_WIRE_SPECIAL_REALS = {"nan": '"NaN"', "inf": '"Infinity"', "-inf": '"-Infinity"'}

#: The characters json.dumps escapes in a string (ensure_ascii=False) -> its escapes, backslash first.
_JSON_ESCAPES = {c: json.dumps(c)[1:-1] for c in ["\\", '"', *map(chr, range(0x20))]}


def json_string_escaped(column):
    """An Arrow string column -> its values escaped as JSON writes them inside quotes (backslash first).

    Each pass runs only when its bytes occur in the column's data buffer (UTF-8 writes '\\\\', '"'
    and control characters only as themselves), so a column with none of them is returned as is."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.large_string())   # a view type keeps short strings outside its data buffer
    data = column.buffers()[2]
    if data is None:
        return column
    raw = np.frombuffer(data, "uint8")
    # one comparison per byte class (a bincount of the buffer costs about 8x as much)
    found = [c for c in ("\\", '"') if (raw == ord(c)).any()]
    if (raw < 0x20).any():
        found += [c for c in _JSON_ESCAPES if ord(c) < 0x20 and (raw == ord(c)).any()]
    for char in found:
        column = pc.replace_substring(column, char, _JSON_ESCAPES[char])
    return column


def interval_parts(column):
    """An Arrow month_day_nano interval column -> (valid, days, nanos) numpy arrays, months counted
    as 30 days as DuckDB counts them; null slots are 0. The one reader of that buffer layout."""
    import numpy as np

    array = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    raw = np.frombuffer(array.buffers()[1], dtype=np.dtype([("m", "<i4"), ("d", "<i4"), ("n", "<i8")]),
                        count=len(array) + array.offset)[array.offset:]
    valid = np.asarray(array.is_valid())
    days = np.where(valid, raw["m"].astype("int64") * 30 + raw["d"], 0)
    return valid, days, np.where(valid, raw["n"], 0)


def _interval_ticks(column):
    """An Arrow month_day_nano interval column -> int64 100-ns ticks (nulls 0), or None when a value
    is beyond 10,000,000 days (the per-value rule decides)."""
    import numpy as np

    _valid, days, nanos = interval_parts(column)
    if days.size and (np.abs(days).max() > 10_000_000 or np.abs(nanos).max() > 86_400_000_000_000 * 100):
        return None
    return days * 864_000_000_000 + nanos // _NS_PER_TICK




# -- reals: float.__repr__'s token for a whole column ---------------------------------------------

def real_texts(numbers):
    """Doubles (numpy, or anything np.asarray takes) -> an Arrow string array of `float.__repr__` of each.

    The one column-wise real formatter (the REST wire's and the payload's). Arrow's cast finds
    each value's shortest round-trip digits in C++ and writes them in fixed notation for
    1e-6 <= |x| < 1e10 (and 0), as repr does for 1e-4 <= |x| < 1e16, but without repr's '.0'
    on an integer ('2', '-0'): inside both ranges that '.0' is the only fix-up. Other values
    (Arrow writes '1.5e+14' and '0.00001' where repr writes '150000000000000.0' and '1e-05')
    and nan/inf/-inf go through float.__repr__ one by one; the caller decides what its format
    writes for the non-finite.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = np.asarray(numbers, dtype="float64").ravel()
    spelled = pc.cast(pa.array(numbers), pa.string())
    size = np.abs(numbers)
    fixed = ((size >= _BOTH_FIXED[0]) & (size < _BOTH_FIXED[1])) | (size == 0)
    with np.errstate(invalid="ignore"):
        integers = np.flatnonzero(fixed & (numbers == np.trunc(numbers)))   # Arrow wrote no '.' for exactly these
    others = np.flatnonzero(~fixed)
    if not (integers.size or others.size):
        return spelled
    with_point = pc.binary_join_element_wise(spelled.take(pa.array(integers)), ".0", "")
    spelled_by_repr = pa.array(list(map(float.__repr__, numbers[others].tolist())), pa.string())
    where = np.arange(len(numbers))   # each value's place in spelled, then with_point, then spelled_by_repr
    where[integers] = len(numbers) + np.arange(integers.size)
    where[others] = len(numbers) + integers.size + np.arange(others.size)
    return pa.concat_arrays([spelled, with_point, spelled_by_repr]).take(pa.array(where))


#: The magnitudes both Arrow's float->string cast and float.__repr__ write in fixed notation.
_BOTH_FIXED = (1e-4, 1e10)


#: The reals JSON cannot carry (by float.__repr__) -> the texts a payload writes for them (json_ready's rule).
_PAYLOAD_SPECIAL_REALS = {"nan": "null", "inf": '"Infinity"', "-inf": '"-Infinity"'}


def real_json_texts(numbers, nulls, specials: dict):
    """Doubles and their null mask (numpy, or None: no nulls) -> an Arrow string array of each one's
    JSON text: real_texts' token, "null" for a null, and for nan/inf/-inf the text *specials* maps it to."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = real_texts(numbers)
    finite = np.isfinite(numbers)
    if not finite.all():
        special = pc.if_else(pa.array(np.isnan(numbers)), specials["nan"],
                             pc.if_else(pa.array(numbers > 0), specials["inf"], specials["-inf"]))
        texts = pc.if_else(pa.array(finite), texts, special)
    return pc.if_else(pa.array(nulls), pa.scalar("null"), texts) if nulls is not None and nulls.any() else texts
