"""What a function returns -> rows -> exact bytes (the extension's KustoAsyncCollector); DataFrames round-trip via Kusto."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook import payload
from kfx_notebook.errors import BindingError
from tests.frame_strategies import COLUMN_KINDS, frames
from kfx_notebook.payload import (
    kusto_timespan,
    records_from_frame,
    rows_from_return,
    serialize,
)

pytestmark = pytest.mark.usefixtures("row_join_paths")   # the frame's rows joined by rows.c and by Arrow

# -- serialize: exact bytes for every shape -------------------------------------------------------

ONE = [{"a": 1, "b": "x"}]
TWO = [{"a": 1, "b": "é"}, {"a": 2, "b": None}]
TWO_INDENTED = b'{\n  "a": 1,\n  "b": "\xc3\xa9"\n}\n{\n  "a": 2,\n  "b": null\n}'


@pytest.mark.parametrize("rows, fmt, data, sent", [
    pytest.param(ONE, None, b'{"a":1,"b":"x"}', "json", id="one-row-without-format-is-minified-json"),
    pytest.param(TWO, None, TWO_INDENTED, "multijson", id="two-rows-without-format-are-indented-multijson"),
    pytest.param(TWO, "json", TWO_INDENTED, "multijson", id="json-with-more-than-one-row-becomes-multijson"),
    pytest.param(ONE, "json", b'{"a":1,"b":"x"}', "json", id="json-with-one-row-stays-json"),
    pytest.param(ONE, "multijson", b'{\n  "a": 1,\n  "b": "x"\n}', "multijson", id="multijson-one-row-indented"),
    pytest.param(["1,x", "2,y"], "csv", b"1,x\n2,y", "csv", id="string-rows-are-written-verbatim"),
    pytest.param(['{"a": 1}'], None, b'{"a": 1}', "json", id="a-string-row-as-json-is-verbatim"),
    pytest.param([{"d": {"k": [1, 2]}, "e": {}}], "multijson",
                 b'{\n  "d": {\n    "k": [\n      1,\n      2\n    ]\n  },\n  "e": {}\n}', "multijson",
                 id="nested-dynamic-values-indent-like-newtonsoft"),
])
def test_serialize_exact_bytes(rows, fmt, data, sent):
    payload = serialize(rows, fmt)
    assert (payload.data, payload.data_format, payload.rows) == (data, sent, len(rows))


def test_object_rows_with_csv_are_written_as_json_text_with_a_warning():
    payload = serialize(ONE, "csv")
    assert payload.data == b'{\n  "a": 1,\n  "b": "x"\n}'
    assert len(payload.warnings) == 1 and "will not read as csv" in payload.warnings[0]


def test_zero_rows_means_no_ingestion():
    payload = serialize([None, None], None)
    assert (payload.data, payload.rows) == (b"", 0)


# -- rows_from_return: the host's ReadAsEnumerable --------------------------------------------------

def test_a_json_array_fans_out_and_non_objects_are_dropped_with_a_warning():
    r = rows_from_return('[{"a": 1}, 2, null, "x", {"a": 2}]')
    assert r.rows == [{"a": 1}, {"a": 2}]
    assert r.warnings == ["2 array elements that are not a JSON object dropped, as the deployed host drops them"]


def test_a_json_object_is_one_row():
    assert rows_from_return('{"a": 1}').rows == [{"a": 1}]
    assert rows_from_return(b'{"a": 1}').rows == [{"a": 1}]


def test_csv_text_is_dropped_as_the_deployed_host_drops_it():
    r = rows_from_return("a,b\n1,2\n")
    assert r.rows == []
    assert len(r.warnings) == 1 and "drops it silently" in r.warnings[0]


def test_a_dict_and_a_list_of_dicts():
    assert rows_from_return({"a": 1}).rows == [{"a": 1}]
    assert rows_from_return([{"a": 1}, None, {"a": 2}]).rows == [{"a": 1}, {"a": 2}]


def test_none_returns_no_rows():
    assert rows_from_return(None).rows == []


def test_python_values_in_dict_rows_become_json():
    r = rows_from_return({"t": dt.datetime(2024, 1, 2, 3, 4, 5, 600000), "d": decimal.Decimal("1.50"),
                          "g": uuid.UUID(int=255), "x": float("nan")})
    assert r.rows == [{"t": "2024-01-02T03:04:05.6000000Z", "d": "1.50",
                       "g": "00000000-0000-0000-0000-0000000000ff", "x": None}]


def test_a_csharp_string_is_one_verbatim_row_and_an_array_in_it_warns():
    r = rows_from_return('[{"a":1}]', language="csharp")
    assert r.rows == ['[{"a":1}]'] and "ONE row" in r.warnings[0]


def test_something_no_binding_takes_is_refused():
    with pytest.raises(BindingError, match="cannot take"):
        rows_from_return(42)


# -- records_from_frame: full fidelity ---------------------------------------------------------------

@pytest.mark.parametrize("td, text", [
    pytest.param(dt.timedelta(hours=1, minutes=2, seconds=3), "01:02:03.0000000", id="hours-minutes-seconds"),
    pytest.param(dt.timedelta(days=2, microseconds=5), "2.00:00:00.0000050", id="days-before-a-dot"),
    pytest.param(-dt.timedelta(days=1, hours=12), "-1.12:00:00.0000000", id="negative-with-days"),
    pytest.param(-dt.timedelta(seconds=1.5), "-00:00:01.5000000", id="negative-below-a-day"),
])
def test_timespans_as_kusto_writes_them(td, text):
    assert kusto_timespan(td) == text


def _frame():
    import pandas as pd

    return pd.DataFrame({
        "i": pd.Series([1, 2], dtype="int64"),
        "n": pd.array([7, None], dtype="Int64"),
        "f": [1.25, float("nan")],
        "b": [True, False],
        "nb": pd.array([None, True], dtype="boolean"),
        "naive": pd.to_datetime(["2024-01-01T10:00:00.1234567", "1969-12-31T23:59:59.9"], format="ISO8601"),
        "aware": pd.to_datetime(["2024-01-01T10:00:00+02:00", "2024-06-01T00:00:00+02:00"]),
        "span": pd.to_timedelta([dt.timedelta(days=-1, hours=-2), dt.timedelta(milliseconds=1)]),
        "dec": [decimal.Decimal("10.005"), None],
        "guid": [uuid.UUID(int=1), None],
        "dyn": [{"k": [1, {"z": None}]}, ["a"]],
        "s": ["héllo ✓ 漢字", None],
    })


def test_every_column_kind_converts_exactly():
    rows = records_from_frame(_frame())
    assert rows == [
        {"i": 1, "n": 7, "f": 1.25, "b": True, "nb": None, "naive": "2024-01-01T10:00:00.1234567Z",
         "aware": "2024-01-01T08:00:00.0000000Z", "span": "-1.02:00:00.0000000", "dec": "10.005",
         "guid": "00000000-0000-0000-0000-000000000001", "dyn": {"k": [1, {"z": None}]}, "s": "héllo ✓ 漢字"},
        {"i": 2, "n": None, "f": None, "b": False, "nb": True, "naive": "1969-12-31T23:59:59.9000000Z",
         "aware": "2024-05-31T22:00:00.0000000Z", "span": "00:00:00.0010000", "dec": None, "guid": None,
         "dyn": ["a"], "s": None},
    ]
    # and the records are plain JSON (the bytes the binding sends)
    assert json.loads(serialize(rows, None).data.decode().replace("}\n{", "},{").join("[]")) == rows


def test_a_frame_round_trips_through_the_embedded_kusto_database(local_db):
    """Ingest the multijson bytes into a real (DuckDB) Kusto table and read the same values back."""
    local_db.query("db", ".create table T (i:long, n:long, f:real, b:bool, nb:bool, naive:datetime, "
                         "aware:datetime, span:timespan, dec:decimal, guid:guid, dyn:dynamic, s:string)")
    payload = serialize(rows_from_return(_frame()).rows, None)
    receipt = local_db.ingest("db", "T", payload.data, data_format=payload.data_format)
    assert receipt.rows == 2
    back = local_db.query("db", "T | order by i asc").frame
    assert back["i"].tolist() == [1, 2]
    assert back["n"].isna().tolist() == [False, True] and back["n"][0] == 7
    assert back["f"][0] == 1.25 and back["f"].isna()[1]
    assert back["nb"].isna()[0] and bool(back["nb"][1]) is True
    assert str(back["naive"][0]).startswith("2024-01-01 10:00:00.123456")
    assert back["aware"][1].isoformat().startswith("2024-05-31T22:00:00")
    assert back["span"][0] == dt.timedelta(days=-1, hours=-2)
    assert decimal.Decimal(str(back["dec"][0])) == decimal.Decimal("10.005")
    assert str(back["guid"][0]) == "00000000-0000-0000-0000-000000000001"
    assert back["dyn"][0] == {"k": [1, {"z": None}]}
    assert back["s"][0] == "héllo ✓ 漢字"


def test_an_empty_frame_has_no_rows():
    import pandas as pd

    assert records_from_frame(pd.DataFrame({"a": pd.Series([], dtype="int64")})) == []


@pytest.mark.parametrize("data, data_format, rows", [
    pytest.param(b'{\n  "a": 1\n}\n{\n  "a": 2\n}', "multijson", 2, id="indented-multijson-counts-objects"),
    pytest.param(b'[{"a": 1}, {"a": 2}, {"a": 3}]', "multijson", 3, id="array-fans-out"),
    pytest.param(b'{"a":1}', "json", 1, id="one-minified-row"),
    pytest.param(b"1,a\n2,b\n\n", "csv", 2, id="csv-lines"),
])
def test_count_records(data, data_format, rows):
    from kfx_notebook.payload import count_records

    assert count_records(data, data_format) == rows


# -- a DataFrame's payload, column-wise: byte for byte the row-by-row serializer -------------------

def _cell_by_cell(frame) -> list[dict]:
    """The oracle: every cell through the per-value rule (payload.object_cell), row by row."""
    names = [str(c) for c in frame.columns]
    cells = [frame.iloc[:, i].astype(object).tolist() for i in range(frame.shape[1])]
    return [dict(zip(names, (payload.object_cell(v) for v in row))) for row in zip(*cells)] if cells \
        else [{} for _ in range(len(frame))]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # float32 draws
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), data_format=st.sampled_from([None, "json", "multijson", "singlejson", "csv"]))
def test_frame_payload_is_byte_identical_to_the_row_serializer(data, data_format):
    frame = data.draw(frames(data.draw(st.sampled_from(COLUMN_KINDS))))
    try:
        expected = serialize(_cell_by_cell(frame), data_format)
    except (ValueError, TypeError, OverflowError) as exc:
        with pytest.raises(type(exc)):
            serialize(rows_from_return(frame).rows, data_format)
        return
    actual = serialize(rows_from_return(frame).rows, data_format)
    assert (actual.data, actual.data_format, actual.rows, actual.warnings) == \
        (expected.data, expected.data_format, expected.rows, expected.warnings)
    assert records_from_frame(frame) == _cell_by_cell(frame)


def test_frame_payload_indents_nested_values_like_newtonsoft():
    frame = pd.DataFrame({"a": [1, 2], "bag": [{"k": [], "n": {"x": [1, {}]}}, []], "Ünï": ["x\n\"y", None]})
    body = serialize(rows_from_return(frame).rows, None)
    assert body.data.decode() == (
        '{\n  "a": 1,\n  "bag": {\n    "k": [],\n    "n": {\n      "x": [\n        1,\n        {}\n      ]\n    }\n'
        '  },\n  "Ünï": "x\\n\\"y"\n}\n{\n  "a": 2,\n  "bag": [],\n  "Ünï": null\n}')


def test_a_frame_without_columns_is_empty_objects_as_the_row_serializer_writes_them():
    frame = pd.DataFrame(index=range(3))
    assert serialize(rows_from_return(frame).rows, None).data == serialize([{}, {}, {}], None).data == b"{}\n{}\n{}"


EDGE_COLUMNS = {   # one row per column the column-wise writer takes a path of its own for
    "strings with every escape": ["a\"b\\c", "\x00\x01\x1f\x7f\n\r\t\b\f", "Ünï €😀\u2028", ""],
    "str dtype with a missing value": pd.Series(["x", None, "\"", "z"], dtype="str"),
    "str dtype on chunked storage": pd.concat([pd.Series(["a", "b"], dtype="str"), pd.Series(["c", None], dtype="str")],
                                              ignore_index=True),
    "containers without a float (msgspec)": [{"big": 2**70, "neg": -2**64, "t": (1, [True, None])}, [], {},
                                              {"k\n\"": {"ü": ["\x00", {"x": []}]}}],
    "containers with a float (json's encoder)": [{"f": 1e16, "g": 1e-05}, [0.1, -0.0], {"n": [2.5e-7]}, [1]],
    "containers with a NaN (the per-value rule)": [{"f": float("nan")}, [float("inf")], None, [1]],
    "containers with a non-str key": [{1: "a", False: "b"}, {None: 1}, {"a": 1}, []],
    "datetimes around the epoch": pd.Series(pd.to_datetime([-1, 0, 10**18 + 1234567, None], unit="ns")),
    "tz-aware datetimes": pd.Series(pd.to_datetime([1, 2, 3, 4], unit="s")).dt.tz_localize("Asia/Kolkata"),
    "negative and day timespans": pd.Series(pd.to_timedelta([-150, 0, 86_400 * 10**9 * 3 + 5, None], unit="ns")),
    "nullable longs at their bounds": pd.Series([-2**63, None, 2**63 - 1, 0], dtype="Int64"),
    "uint64 above int64": pd.Series([2**64 - 1, 0, 2**63, 1], dtype="uint64"),
    "nullable bools": pd.Series([True, None, False, True], dtype="boolean"),
    "reals in both notations": [1e16, 1e-05, -0.0, 150000000000000.0],
    "reals not finite": [float("nan"), float("inf"), float("-inf"), 2.5],
    "nullable float32 reals": pd.Series([0.1, None, 1e-7, 3.0], dtype="Float32"),
}


@pytest.mark.parametrize("name", list(EDGE_COLUMNS))
def test_each_column_wise_path_writes_the_row_serializers_bytes(name):
    frame = pd.DataFrame({"c": EDGE_COLUMNS[name], "n": range(4)})
    expected = serialize(_cell_by_cell(frame), None)
    assert serialize(rows_from_return(frame).rows, None).data == expected.data


def test_a_cyclic_cell_fails_as_the_row_serializer_fails_instead_of_hanging():
    cycle: list = []
    cycle.append(cycle)
    frame = pd.DataFrame({"c": [cycle, [1]]})
    with pytest.raises(RecursionError):
        serialize(_cell_by_cell(frame), None)
    with pytest.raises(RecursionError):
        serialize(rows_from_return(frame).rows, None)
