"""A chunk of v2 rows read by the C lexer (`_speedups/v2_rows.c`: per column each value's kind and
text) -> per column what `dataframes.CONVERTERS` gives for the values msgspec would have decoded,
built with Arrow and numpy from the texts, without a Python object per value.

The rule it keeps: the same dtypes, values (float bits too), errors and warnings as the msgspec
path. A column's texts go the fast way only when its kinds are the ones its Kusto type takes
(a long column: integers and nulls; a real: numbers, nulls and Kusto's "NaN"/"Infinity"/"-Infinity";
text types: strings and nulls; dynamic: anything, re-decoded by one msgspec call); otherwise
`prepare` says None and the caller hands the whole chunk to msgspec and the per-value converters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _speedups

TEXT, JSON = 0, 1  # v2_rows.c's modes: a text per value, or the column as one JSON array
NULL, FALSE, TRUE, INTEGER, NUMBER, STRING, CONTAINER = range(7)  # json_lex.h's jl_kind


def _only(*kinds: int) -> int:
    return sum(1 << k for k in kinds)


_KUSTO_REALS = ("NaN", "Infinity", "-Infinity")  # the texts Kusto writes for non-finite reals


def lexer():
    """The C lexer, or None when it was not built (the msgspec path then does everything)."""
    return _speedups.load("v2_rows")


def modes(kinds: list[str]) -> bytes | None:
    """What the lexer writes for each column of these Kusto types; None when it is not built."""
    if lexer() is None or not kinds:
        return None
    return bytes(JSON if kind == "dynamic" else TEXT for kind in kinds)


class _Lexed:
    """One column of a lexed chunk."""

    def __init__(self, count: int, seen: int, nulls: int, kinds: bytes, offsets: bytes | None, data: bytes):
        self.count, self.seen, self.nulls = count, seen, nulls
        self.kinds, self.offsets, self.data = kinds, offsets, data

    def only(self, allowed: int) -> bool:
        return not self.seen & ~allowed

    def kind_array(self):
        import numpy as np

        return np.frombuffer(self.kinds, dtype=np.uint8)

    def texts(self):
        """The texts as an Arrow string array, null where the value is null."""
        import numpy as np
        import pyarrow as pa

        validity = None
        if self.nulls:
            validity = pa.py_buffer(np.packbits(self.kind_array() != NULL, bitorder="little"))
        return pa.StringArray.from_buffers(self.count, pa.py_buffer(self.offsets), pa.py_buffer(self.data),
                                           validity, self.nulls)


def prepare(kinds: list[str], names: list[str], columns: list[tuple], count: int) -> list | None:
    """Per column what its ChunkedFrame column takes (a converter thunk, or Arrow texts for a datetime
    column), or None when one column's kinds are not what its type takes fast."""
    prepared = []
    for kind, name, raw in zip(kinds, names, columns):
        one = _PREPARE[kind](_Lexed(count, *raw), name)
        if one is None:
            return None
        prepared.append(one)
    return prepared


def _taking(*kinds: int):
    """A preparer from a converter of lexed columns: its thunk for a column whose kinds are all
    among `kinds`, else None."""
    allowed = _only(*kinds)

    def wrap(convert: Callable[[_Lexed, str], Any]):
        def prepare_one(column: _Lexed, name: str):
            return (lambda: convert(column, name)) if column.only(allowed) else None
        return prepare_one
    return wrap


@_taking(NULL, FALSE, TRUE)
def _bools(column: _Lexed, name: str):
    import pandas as pd

    kinds = column.kind_array()
    values = kinds == TRUE
    if not column.nulls:
        return pd.Series(values, copy=False)
    return pd.Series(pd.arrays.BooleanArray(values, kinds == NULL), copy=False)


def _integers(np_type: str):
    @_taking(NULL, INTEGER)
    def convert(column: _Lexed, name: str):
        import pandas as pd
        import pyarrow as pa

        from .dataframes import CONVERTERS, _nullable_from_arrow

        texts = column.texts()
        try:
            array = texts.cast(pa.from_numpy_dtype(np_type))  # strict: out of range raises
        except pa.ArrowInvalid:  # msgspec's ints, for the per-value path and its error
            return CONVERTERS[_KUSTO_INTS[np_type]]([None if t is None else int(t) for t in texts.to_pylist()], name)
        if not column.nulls:
            return pd.Series(array.to_numpy(zero_copy_only=False, writable=True), copy=False)
        return _nullable_from_arrow(array, np_type, pd.arrays.IntegerArray)
    return convert


_KUSTO_INTS = {"int32": "int", "int64": "long"}


def _reals(column: _Lexed, name: str):
    import pyarrow.compute as pc

    if not column.only(_only(NULL, INTEGER, NUMBER, STRING)):
        return None
    texts = column.texts()
    kinds = column.kind_array()
    if column.seen & (1 << STRING):
        import numpy as np

        strings = texts.filter(np.asarray(kinds == STRING))
        if not pc.all(pc.is_in(strings, value_set=_reals_set())).as_py():
            return None  # numpy reads other texts too ("inf", " 1"): the per-value path decides

    def convert():
        import pandas as pd
        import pyarrow as pa

        values = texts.cast(pa.float64()).to_numpy(zero_copy_only=False, writable=True)  # nulls: NaN
        if column.seen & (1 << INTEGER):
            values[(kinds == INTEGER) & (values == 0)] = 0.0  # msgspec reads -0 as the int 0: +0.0
        return pd.Series(values, copy=False)
    return convert


_REALS_SET: list = []


def _reals_set():
    if not _REALS_SET:
        import pyarrow as pa

        _REALS_SET.append(pa.array(_KUSTO_REALS))
    return _REALS_SET[0]


@_taking(NULL, STRING)
def _strings(column: _Lexed, name: str):
    import pandas as pd

    from .dataframes import _default_string_dtype

    return pd.Series(column.texts(), dtype=_default_string_dtype())


def _datetimes(column: _Lexed, name: str):
    return column.texts() if column.only(_only(NULL, STRING)) else None  # the column decides from the texts


@_taking(NULL, STRING)  # tick counts (numbers): the per-value path
def _timespans(column: _Lexed, name: str):
    from .dataframes import _timespans_of_texts

    return _timespans_of_texts(column.texts(), name)


def _text_values(kind: str):
    """decimal and guid: the per-value converter over the strings (what msgspec gives)."""
    @_taking(NULL, STRING)
    def convert(column: _Lexed, name: str):
        from .dataframes import CONVERTERS

        return CONVERTERS[kind](column.texts().to_pylist(), name)
    return convert


def _dynamics(column: _Lexed, name: str):
    import msgspec

    try:
        values = msgspec.json.decode(column.data)  # the column's values as one JSON array
    except msgspec.DecodeError:  # e.g. 1e400 or too deep inside a value: msgspec's path says so
        return None

    def convert():
        from .dataframes import CONVERTERS

        return CONVERTERS["dynamic"](values, name)
    return convert


_PREPARE: dict[str, Callable[[_Lexed, str], Any]] = {
    "bool": _bools,
    "int": _integers("int32"),
    "long": _integers("int64"),
    "real": _reals,
    "decimal": _text_values("decimal"),
    "string": _strings,
    "datetime": _datetimes,
    "timespan": _timespans,
    "guid": _text_values("guid"),
    "dynamic": _dynamics,
}
