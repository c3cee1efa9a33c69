"""The host's side of the worker's values: Newtonsoft's input text and JToken.Parse's date re-parsing (pure)."""

from __future__ import annotations

import decimal
import json
import time

import pandas as pd
import pytest

from kfx_notebook.invoke.host_json import output_rows, reparse_dates
from kfx_notebook.input_json import format_double, rows_json

# string -> what the host writes back after JToken.Parse, on a host whose zone is UTC
DATES = [
    ("2024-01-01T00:00:00.0000000Z", "2024-01-01T00:00:00Z"),
    ("2024-01-01T00:00:00.1234567Z", "2024-01-01T00:00:00.1234567Z"),
    ("2024-01-01T10:00:00.1200000", "2024-01-01T10:00:00.12"),         # no zone: kind Unspecified, no suffix
    ("2024-01-01T10:00:00z", "2024-01-01T10:00:00Z"),
    ("2024-01-01T10:00:00+02:00", "2024-01-01T08:00:00+00:00"),        # an offset: to the host's zone
    ("2024-01-01T01:00:00+0230", "2023-12-31T22:30:00+00:00"),
    ("2024-01-01T10:00:00-05", "2024-01-01T15:00:00+00:00"),
    ("2024-01-01T24:00:00Z", "2024-01-02T00:00:00Z"),                  # hour 24 at 00:00:00 is the next day
    ("2024-02-30T00:00:00Z", "2024-02-30T00:00:00Z"),                  # not a date: kept
    ("2024-01-01T24:00:01Z", "2024-01-01T24:00:01Z"),
    ("2024-01-01T00:00:00.12345678Z", "2024-01-01T00:00:00.12345678Z"),  # 8 digits: not a date
    ("2024-01-01 00:00:00Z", "2024-01-01 00:00:00Z"),
    ("2024-01-01", "2024-01-01"),
    ("on 2024-01-01T00:00:00Z", "on 2024-01-01T00:00:00Z"),
]


@pytest.mark.parametrize(("sent", "written"), DATES)
def test_a_string_is_rewritten_exactly_when_newtonsoft_parses_it_as_a_date(sent, written, utc_host):
    assert reparse_dates(sent) == written


def test_dates_are_rewritten_at_any_depth_and_keys_are_not(utc_host):
    value = {"2024-01-01T00:00:00.0000000Z": ["2024-01-01T00:00:00.0000000Z", {"x": "2024-01-01T00:00:00.000Z"}],
             "n": 1.5, "b": None}
    assert reparse_dates(value) == {"2024-01-01T00:00:00.0000000Z": ["2024-01-01T00:00:00Z",
                                                                      {"x": "2024-01-01T00:00:00Z"}],
                                    "n": 1.5, "b": None}


def test_an_offset_goes_to_the_hosts_own_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert reparse_dates("2024-01-01T10:00:00+02:00") == "2024-01-01T13:30:00+05:30"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_output_rows_by_typed_data_kind(utc_host):
    text = json.dumps([{"When": "2024-01-01T00:00:00.0000000Z"}])
    assert output_rows("string", text, "sink").rows == [{"When": "2024-01-01T00:00:00Z"}]
    assert output_rows("json", text, "sink").rows == [{"When": "2024-01-01T00:00:00.0000000Z"}]
    dropped = output_rows("bytes", text.encode(), "sink")
    assert dropped.rows == [] and "sent as bytes" in dropped.warnings[0]


def test_the_input_text_is_newtonsofts_indented_jarray_with_every_digit():
    frame = pd.DataFrame({
        "Id": [1, 2],
        "When": [pd.Timestamp("2024-01-01T00:00:00.1234567"), pd.NaT],
        "Amount": [decimal.Decimal("0.1000000000000000055511"), None],
        "Ratio": [1.0, float("nan")],
        "Bag": [{"k": [1, {}]}, []],
        "Text": ['é "q" \u2028', None],
    })
    assert rows_json(frame) == (
        '[\n  {\n    "Id": 1,\n    "When": "2024-01-01T00:00:00.1234567Z",\n'
        '    "Amount": 0.1000000000000000055511,\n    "Ratio": 1.0,\n'
        '    "Bag": {\n      "k": [\n        1,\n        {}\n      ]\n    },\n'
        '    "Text": "é \\"q\\" \\u2028"\n  },\n'
        '  {\n    "Id": 2,\n    "When": null,\n    "Amount": null,\n    "Ratio": null,\n    "Bag": [],\n'
        '    "Text": null\n  }\n]')
    assert rows_json(frame.iloc[:0]) == "[]"


@pytest.mark.parametrize(("value", "text"), [
    (1.0, "1.0"), (0.1, "0.1"), (1.5e-7, "1.5E-07"), (1e-5, "1E-05"), (0.0001, "0.0001"),
    (123456789012345.0, "123456789012345.0"), (1e15, "1E+15"), (-2.5e300, "-2.5E+300"), (0.0, "0.0"),
    (float("inf"), '"Infinity"'),
])
def test_a_double_is_written_as_dotnet_round_trip_text(value, text):
    assert format_double(value) == text
