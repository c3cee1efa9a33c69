"""frame_from_arrow: the dtype of every Kusto type with and without nulls, frames the caller can
write to, and result columns of the same name kept side by side."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from kfx_notebook.backends.local.results import frame_from_arrow

#: (Kusto type, Arrow values without nulls, dtype; the same with a null, dtype).
DTYPES = [
    ("long", pa.array([1, 2], pa.int64()), "int64", pa.array([1, None], pa.int64()), "Int64"),
    ("int", pa.array([1, 2], pa.int32()), "int32", pa.array([1, None], pa.int32()), "Int32"),
    ("real", pa.array([1.5, -0.0]), "float64", pa.array([1.5, None]), "float64"),
    ("real", pa.array([1.5, 2.0], pa.float32()), "float64", pa.array([1.5, None], pa.float32()), "float64"),
    ("bool", pa.array([True, False]), "bool", pa.array([True, None]), "boolean"),
    ("datetime", pa.array([dt.datetime(2024, 1, 1)] * 2, pa.timestamp("us")), "datetime64[ns, UTC]",
     pa.array([dt.datetime(2024, 1, 1), None], pa.timestamp("us")), "datetime64[ns, UTC]"),
    ("timespan", pa.array([dt.timedelta(seconds=1)] * 2, pa.duration("us")), "timedelta64[ns]",
     pa.array([dt.timedelta(seconds=1), None], pa.duration("us")), "timedelta64[ns]"),
]


@pytest.mark.parametrize("ktype, plain, plain_dtype, nullable, nullable_dtype", DTYPES,
                         ids=[f"{row[0]}-{row[1].type}" for row in DTYPES])
def test_each_kusto_type_keeps_its_dtype(ktype, plain, plain_dtype, nullable, nullable_dtype):
    for values, dtype in ((plain, plain_dtype), (nullable, nullable_dtype)):
        frame = frame_from_arrow(pa.table({"c": values}), [("c", ktype)])
        assert str(frame["c"].dtype) == dtype, values
        assert frame["c"].tolist()[0] == values.to_pylist()[0] or ktype in ("datetime", "timespan")
        assert frame["c"].isna().sum() == values.null_count


@pytest.mark.parametrize("arrow_type", [pa.timestamp("us"), pa.timestamp("us", "UTC"), pa.timestamp("ns")])
def test_datetimes_are_utc_nanoseconds_and_out_of_range_ones_are_kept_with_a_warning(arrow_type):
    inside = [dt.datetime(2024, 1, 1, 12, 30, 0, 123456), None, dt.datetime(1970, 1, 1)]
    frame = frame_from_arrow(pa.table({"d": pa.array(inside, arrow_type)}), [("d", "datetime")])
    assert str(frame["d"].dtype) == "datetime64[ns, UTC]"
    assert frame["d"].tolist()[0] == pd.Timestamp("2024-01-01 12:30:00.123456", tz="UTC")
    assert frame["d"].isna().tolist() == [False, True, False]
    if arrow_type.unit == "us":
        outside = pa.array([dt.datetime(3000, 1, 1), None], arrow_type)
        with pytest.warns(UserWarning, match="outside pandas' nanosecond range"):
            kept = frame_from_arrow(pa.table({"d": outside}), [("d", "datetime")])
        assert str(kept["d"].dtype) == "datetime64[us, UTC]"
        assert kept["d"].tolist()[0] == pd.Timestamp("3000-01-01", tz="UTC")


def test_the_frame_can_be_written_to():
    """Arrow hands out read-only buffers; the frame holds its own copy."""
    table = pa.table({"l": pa.array([1, 2]), "r": pa.array([0.5, 1.5]), "b": pa.array([True, False])})
    frame = frame_from_arrow(table, [("l", "long"), ("r", "real"), ("b", "bool")])
    frame.loc[0, "l"] = 7
    frame.iloc[1, 1] = 9.0
    frame.loc[0, "b"] = False
    assert frame.to_dict("list") == {"l": [7, 2], "r": [0.5, 9.0], "b": [False, False]}
    assert table.column("l").to_pylist() == [1, 2]


def test_columns_of_the_same_name_stay_side_by_side():
    table = pa.table([pa.array([1]), pa.array(["a"]), pa.array([2.5])], names=["x", "y", "x"])
    frame = frame_from_arrow(table, [("x", "long"), ("y", "string"), ("x", "real")])
    assert list(frame.columns) == ["x", "y", "x"]
    assert [str(t) for t in frame.dtypes] == ["int64", "str", "float64"]
    assert frame.iloc[0].tolist() == [1, "a", 2.5]
    assert isinstance(frame, pd.DataFrame)
