"""A returned DataFrame -> exactly the table its output binding's JSON payload would produce, column-wise.

The rule it keeps: the payload path (payload.records_from_frame -> serialize -> ingest.ingest)
is the reference and this module is a shortcut with the same result, row for row and type for
type (tests/test_frame_as_payload.py proves it with hypothesis). Each column is taken once as
the JSON values the payload would carry; a column whose type Kusto would infer (or the table
already has) is one of its own dtype goes to Arrow in one vectorized step, every other column
runs the same per-value conversion the payload path runs. Whatever this module does not model
(text formats, mappings that take the whole record, duplicate names, integers beyond long)
raises NotModelled, and the caller takes the payload path.
"""

from __future__ import annotations

import json
from typing import Any

from . import ingest

JSON_FORMATS = ("json", "multijson", "singlejson")
KINDS_OF_CODEC = ("datetime", "timespan", "bool", "long", "real")   # staged by codec.arrow_staged
_LONG_MAX = 2**63 - 1


class NotModelled(Exception):
    """This frame or request is not one the shortcut reproduces exactly: use the payload path."""


def ingest_frame_as_payload(backend, database: str, table: str, frame, *, data_format: str | None,
                            mapping_ref: str | None = None) -> int:
    """Ingest *frame* as its json/multijson payload would be ingested; returns the rows ingested."""
    if data_format is not None and data_format not in JSON_FORMATS:
        raise NotModelled(f"data format {data_format}")
    fmt = data_format or ("json" if len(frame) <= 1 else "multijson")
    sources = _sources(frame)
    if not sources or len(frame) == 0:
        raise NotModelled("no columns or no rows")
    columns = ingest.table_columns(backend, database, table)
    mapping = ingest.named_mapping(backend, database, table, mapping_ref, fmt)
    if columns is None:
        columns = [(name, source.natural() or "string") for name, source in sources.items()]
    if mapping is None:
        picks = [(index, sources.get(name), None, None) for index, (name, _) in enumerate(columns)]
    else:
        picks = [(index, *_mapped(sources, path), const if path is None else None)
                 for index, path, const in ingest.mapping_plan(mapping, columns, "Path")]
    arrays: list[Any] = [None] * len(columns)
    rows = len(frame)
    for index, source, steps, const in picks:
        name, ktype = columns[index]
        arrays[index] = _array(name, ktype, rows, source, steps, const)
    for index, (name, ktype) in enumerate(columns):
        if arrays[index] is None:
            arrays[index] = ingest.arrow_column(name, ktype, [None] * rows)
    ingest.write_arrays(backend, database, table, columns, arrays)
    return rows


def _sources(frame) -> dict[str, "_Source"]:
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise NotModelled("duplicate column names")
    return {name: _Source(frame.iloc[:, i]) for i, name in enumerate(names)}


def _mapped(sources: dict[str, "_Source"], path) -> tuple["_Source | None", list[str] | None]:
    """A mapping's Path -> (the frame column it starts at, the steps below it)."""
    if path is None:
        return None, None
    steps = ingest.json_path_steps(path)
    if not steps:
        raise NotModelled("a mapping path that takes the whole record")
    return sources.get(steps[0]), steps[1:]


def _array(name: str, ktype: str, rows: int, source, steps, const):
    """One table column's staged Arrow array: vectorized when the source is already of that type."""
    if source is None:
        return ingest.arrow_column(name, ktype, [ingest.convert_value(const, ktype)] * rows)
    if not steps:
        fast = source.arrow_as(ktype)
        if fast is not None:
            return fast
        values = source.json_values()
    else:
        values = [ingest.walk_json(v, steps) for v in source.json_values()]
    return ingest.arrow_column(name, ktype, [ingest.convert_value(v, ktype) for v in values])


class _Source:
    """One DataFrame column seen as the JSON values its payload carries."""

    def __init__(self, series):
        import pandas as pd

        from ...codec import column_kind

        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        self.series = series
        self.kind = column_kind(series.dtype)
        if self.kind == "long" and str(series.dtype).lower() == "uint64" and len(series) \
                and series.max(skipna=True) > _LONG_MAX:
            raise NotModelled("unsigned integers beyond long")
        self._values: list | None = None
        self._cells: list | None = None     # an object column's non-null cells as they are, nulls as None
        if self.kind == "object":
            self.kind = self._object_kind()

    def _object_kind(self) -> str:
        """'text' (every cell a str), 'nested' (every cell a dict or list) or 'object' (anything else)."""
        from ...payload import object_cell

        cells = self.series.astype(object).tolist()
        kinds = set()
        for i, value in enumerate(cells):
            kind = type(value)
            if kind is str or kind is dict or kind is list:
                kinds.add(str if kind is str else dict)
            elif value is not None:
                if object_cell(value) is not None:   # the payload's own null rule (NaN, NA, NaT)
                    return "object"
                cells[i] = None
        if len(kinds) > 1:
            return "object"
        self._cells = cells
        return "nested" if kinds == {dict} else "text"

    def json_values(self) -> list:
        """The column's values as the payload's JSON parser hands them back."""
        if self._values is None and self.kind == "text":
            self._values = self._cells        # a string reads back as itself
        if self._values is None:
            from ...codec import json_ready_column

            kind = self.kind if self.kind in KINDS_OF_CODEC else "object"
            text = json.dumps(json_ready_column(self.series, kind), ensure_ascii=False, allow_nan=False)
            self._values = json.loads(text.encode("utf-8"))   # utf-8: what serialize() sends
        return self._values

    def natural(self) -> str | None:
        """The type Kusto infers for a new column from these values (None when all are null)."""
        if self.kind == "real" and _has_infinity(self.series):
            self.kind = "object"       # "Infinity" strings: the column infers as string, value by value
        if self.kind == "nested":
            return "dynamic" if any(v is not None for v in self._cells) else None
        if self.kind == "text":
            first = next((v for v in self._cells if v is not None), None)
            if first is None or ingest.infer_value(first) == "string":
                return None if first is None else "string"   # a string column stays string, whatever follows
        elif self.kind != "object":
            return self.kind if self.series.notna().any() else None
        inferred = None
        for value in self.json_values():
            inferred = ingest.merge_inferred(inferred, ingest.infer_value(value))
        return inferred

    def arrow_as(self, ktype: str):
        """The staged Arrow array for a column of *ktype*, when that is this column's own kind; else None."""
        import pyarrow as pa

        from ...codec import arrow_staged, dynamic_texts

        if self.kind == "text" and ktype == "string":
            return pa.array(self._cells, type=pa.string())
        if self.kind == "nested" and ktype == "dynamic":
            return pa.array(dynamic_texts(self._cells), type=pa.string())
        if ktype != self.kind or ktype not in KINDS_OF_CODEC or (ktype == "real" and _has_infinity(self.series)):
            return None
        return arrow_staged(self.series, self.kind)


def _has_infinity(series) -> bool:
    import numpy as np

    values = series.to_numpy(dtype="float64", na_value=np.nan)
    return bool(np.isinf(values).any())
