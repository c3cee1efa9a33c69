"""The column-wise reader of json/multijson/csv gives exactly the table the per-record reference gives.

Differential: random payloads in every layout (one array, JSON lines, indented objects,
objects on one line, csv with odd quoting, ragged rows, corrupt text), with and without a
mapping, into new tables (types inferred) and existing ones of any column types, are ingested
through tests/ingest_reference.py (record by record, every value through convert_value) and
through LocalBackend.ingest (ingest_columns); column types and every value must be identical,
or both must fail with the same error.
"""

from __future__ import annotations

import csv
import io
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook.backends.local import LocalBackend
from kfx_notebook.backends.local import ingest_columns

from tests.ingest_reference import reference_ingest
from tests.test_frame_as_payload import KUSTO_TYPES, TABLE, _outcome, pair  # noqa: F401 - pair is a fixture

KEYS = ["a", "b", "c", "d"]
POOLS = {   # texts by the type they look like, so that a drawn column is mostly of one kind, as payloads are
    "datetime": ["2021-03-04T05:06:07Z", "2021-03-04T05:06:07.1234567Z", "2021-03-04 05:06:07", "2021-03-04T05:06:07.1z",
                 "2021-02-30T00:00:00Z", "2020-02-29T23:59:59.999999999Z", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59.5Z",
                 "0001-01-01T00:00:00", "2021-03-04T24:00:00Z", "2021-03-04T05:06Z", "2021-03-04T05:06:07+02:00",
                 "2021-03-04", "9999-12-31T23:59:59Z", "2021-04-31T00:00:00Z", " 2021-03-04T05:06:07Z"],
    "timespan": ["1.02:03:04.5", "-00:00:01", "-1.00:00:00.0000001", "00:00:00.0000001", "25:00", "99:59:59.123456789",
                 "100000000.00:00:00", "1h", "-3d", "P1DT2H", "time(1.5s)", "-00:30", "1.2:03:04"],
    "number": ["12", "-0", "007", "1e5", "1.5", " 3", "0x1F", "1_000", "-1.25e-7", "123456789012345678901",
               "9223372036854775808", "2147483648", "-2147483648", "1.", ".5", "1e400", "NaN", "-inf", "3.0"],
    "bool": ["true", "False", "TRUE", "1", "0", "yes", " true", "bool(false)"],
    "text": ["", " ", "null", "NULL", "x", "é\u2028ü", 'quo"te', "a,b", "line\nbreak", "tab\there", "cr\rhere",
             '{"a": 1, "a": 2}', "[1, 2.50, null]", '"x"', "{not json", "[1e-05, 1e+16]", '{"k": [1, {"n": null}]}'],
}
TEXTS = [text for pool in POOLS.values() for text in pool]
NATIVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**64, 2**64), st.sampled_from([0, -1, 2**63 - 1, 2**31]),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([-0.0, 1e-05, 1.5e16, 0.1, 1e300]),
    st.text(max_size=6))
VALUES = st.recursive(st.one_of(NATIVES, st.sampled_from(TEXTS)), lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["k", "n", "a"]), inner, max_size=3)), max_leaves=6)


def _pooled(draw):
    """A value strategy for one key or field: mostly one pool (or JSON's own values), sometimes anything."""
    pool = draw(st.sampled_from([*POOLS, "native"]))
    mostly = NATIVES if pool == "native" else st.sampled_from(POOLS[pool])
    return st.one_of(mostly, mostly, mostly, st.none(), VALUES if pool == "native" else st.sampled_from(TEXTS))


@st.composite
def record_lists(draw):
    kinds = {key: _pooled(draw) for key in KEYS}
    return draw(st.lists(st.fixed_dictionaries({}, optional={k: v for k, v in kinds.items()}), max_size=6))


_NUMBER = itertools.count()


def _json_payload(draw, records) -> bytes:
    layout = draw(st.sampled_from(["array", "lines", "indented", "spaced", "commas", "nan", "corrupt"]))
    if layout == "array":
        text = json.dumps(records, ensure_ascii=draw(st.booleans()))
    elif layout == "lines":
        text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + draw(st.sampled_from(["", "\n", "\r\n"]))
    elif layout == "indented":
        text = "\n".join(json.dumps(r, ensure_ascii=False, indent=2) for r in records)
    elif layout == "spaced":
        text = " ".join(json.dumps(r) for r in records)
    elif layout == "commas":
        text = ",\n".join(json.dumps(r) for r in records)
    elif layout == "nan":
        text = "\n".join(json.dumps({**r, "a": float(draw(st.sampled_from(["nan", "inf", "-inf"])))}) for r in records)
    else:
        text = "\n".join(json.dumps(r) for r in records)
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["", "}", "{", "[", "\n{\"a\":[{}\n{}]}", "\x0c", "\ud800"])) + text[cut:]
    data = text.encode("utf-8", "surrogatepass")
    return (b"\xef\xbb\xbf" + data) if draw(st.integers(0, 9)) == 0 else data


def _csv_payload(draw) -> bytes:
    fields = [_pooled(draw).filter(lambda v: isinstance(v, str)) for _ in range(4)]
    rows = [list(row[:draw(st.integers(1, 4))]) for row in draw(st.lists(st.tuples(*fields), max_size=6))]
    if not draw(st.booleans()):
        width = max((len(r) for r in rows), default=1)
        rows = [r + [""] * (width - len(r)) for r in rows]
    out = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])), quoting=quoting).writerows(rows)
    text = out.getvalue()
    if draw(st.integers(0, 4)) == 0:
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(['"', '""', "\n\n", 'x"y', "\x00", ",", '"a"b', "\r"])) + text[cut:]
    return text.encode()


@st.composite
def cases(draw):
    """(payload, format, Kusto columns or None, mapping kind and entries or None)."""
    fmt = draw(st.sampled_from(["json", "multijson", "csv", "psv"]))
    if fmt == "psv":
        fmt_bytes = _csv_payload(draw).replace(b",", b"|")
    elif fmt == "csv":
        fmt_bytes = _csv_payload(draw)
    else:
        fmt_bytes = _json_payload(draw, draw(record_lists()))
    if not draw(st.booleans()):
        return fmt_bytes, fmt, None, None
    names = KEYS if fmt in ("json", "multijson") else [f"Column{i}" for i in range(1, 5)]
    table = [(n, draw(st.sampled_from(KUSTO_TYPES))) for n in names if draw(st.booleans())] or [(names[0], "string")]
    if not draw(st.booleans()):
        return fmt_bytes, fmt, table, None
    entries = []
    for name, _ in table:
        if draw(st.integers(0, 3)) == 0:
            entries.append({"column": name, "Properties": {"ConstValue": draw(st.sampled_from(["7", "", "x", "true"]))}})
        elif fmt in ("json", "multijson"):
            path = draw(st.sampled_from(["$.a", '$["b"]', '$["c"]', "$.a.k", "$.b[0]", "$.d[1].n", "$", "$.zz"]))
            entries.append({"column": name, "Properties": {"Path": path}})
        else:
            entries.append({"column": name, "Properties": {"Ordinal": str(draw(st.integers(0, 5)))}})
    return fmt_bytes, fmt, table, entries


def _fresh(backend: LocalBackend, database: str, table, mapping, fmt: str) -> None:
    backend.catalog.ensure_database(database)
    if table is not None:
        spec = ", ".join(f"['{name}']:{ktype}" for name, ktype in table)
        backend.query(database, f".create table {TABLE} ({spec})")
    if mapping is not None:
        kind = "json" if fmt in ("json", "multijson") else "csv"
        backend.query(database, f".create table {TABLE} ingestion {kind} mapping 'm' '{json.dumps(mapping)}'")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                    HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_column_wise_ingest_gives_exactly_the_per_record_table(pair, case):
    _compare(pair, case)


EXISTING = [("a", "long"), ("b", "dynamic")]


@pytest.mark.parametrize("data", [
    b'{"a": 1, "a": 2, "b": {"k": 1, "k": [2]}}\n{"b": 3}', b'[{"\\u0061": 5, "A": 6, "B": 7}]',
    b'{"a": 1, "zz": "\xff"}\n{"a": 2}', b'[{"a": 1, "zz": {"q": [1e400, -0.0]}}]', b'[{"a": 1}, 2]', b'[]',
    b'{"a": 1}\n[{"a": 2}]', b'{"a": 1, "b": NaN}', b'\xef\xbb\xbf[{"b": "\xc3\xa9", "zz": "\xc3\xa9"}]'])
def test_records_into_an_existing_table_read_as_the_per_record_table(pair, data, c_reader):
    """The Struct reading (json_table_columns): repeated, escaped and other-case keys, skipped values."""
    for fmt in ("json", "multijson"):
        _compare(pair, (data, fmt, EXISTING, None))


@pytest.mark.parametrize("data", [b"a,1\rb,2\n", b'"x\ry",1\r\n', b"a,1\r\nb,2\r\n", b"a,1\r"])
def test_carriage_returns_in_csv_read_as_the_per_record_table(pair, data):
    for table in (None, [("Column1", "string"), ("Column2", "long")]):
        _compare(pair, (data, "csv", table, None))


def _compare(pair, case):
    data, fmt, table, mapping = case
    database = f"Cols{next(_NUMBER)}"
    reference, fast = pair
    for backend in pair:
        _fresh(backend, database, table, mapping, fmt)
    ref = "m" if mapping is not None else None
    expected = _outcome(reference, lambda: reference_ingest(reference, database, TABLE, data, data_format=fmt,
                                                            mapping_ref=ref), database)
    actual = _outcome(fast, lambda: fast.ingest(database, TABLE, data, data_format=fmt, mapping_ref=ref), database)
    assert actual == expected


@pytest.mark.parametrize("layout", ["[{}, {}]", "{}\n{}", "{}\r\n\n  {}", '\ufeff{"a": {"b": [1]}}\n{}'])
def test_json_layouts_the_fast_reader_takes(layout):
    records = ingest_columns.json_records(layout.replace("{}", '{"a": 1}').encode())
    assert records is not None and len(records) >= 1 and all(type(r) is dict for r in records)


@pytest.mark.parametrize("text", ["{} {}", "{},\n{}", "[{}]\n[{}]", '{"a": [{}\n{}]}', "NaN", "", "[1]"])
def test_json_layouts_left_to_the_reference_reader(text):
    assert ingest_columns.json_records(text.encode()) is None


def test_csv_fast_reader_keeps_quotes_and_newlines_and_declines_ragged_rows():
    fields = ingest_columns.csv_columns('a,"b ""q"", c"\r\n"x\ny",\n'.encode(), "csv")
    assert [f.to_pylist() for f in fields] == [["a", "x\ny"], ['b "q", c', ""]]
    assert ingest_columns.csv_columns(b"a,b\nc\n", "csv") is None
    assert ingest_columns.csv_columns(b'"open\n', "csv") is None


def test_vectorized_texts_agree_with_convert_value_where_they_cover():
    import pyarrow as pa

    from kfx_notebook.backends.local.ingest import convert_value

    json_texts = ["null", "[1, 2.50, null]", '"x"', '{"a": 1, "a": 2}', " 3", None]   # all JSON: one vector pass
    for texts, ktypes in ((TEXTS + [None], ("long", "int", "real", "bool", "datetime", "timespan", "dynamic", "string")),
                          (json_texts, ("dynamic",))):
        for ktype in ktypes:
            staged = ingest_columns.staged_from_json("c", ktype, texts, len(texts), finite=True)
            expected = pa.array([convert_value(v, ktype) for v in texts], type=staged.type).to_pylist()
            assert list(map(repr, staged.to_pylist())) == list(map(repr, expected))


def test_bad_csv_mapping_ordinal_is_a_clear_error():
    from kfx_notebook.errors import IngestionError

    backend = LocalBackend(None)
    try:
        _fresh(backend, "Db", [("x", "long")], [{"column": "x", "Properties": {"Ordinal": "-1"}}], "csv")
        with pytest.raises(IngestionError, match="Ordinal '-1'"):
            backend.ingest("Db", TABLE, b"1\n", data_format="csv", mapping_ref="m")
    finally:
        backend.close()


@pytest.mark.parametrize("fmt, body", [("json", b"[{}]"), ("csv", b'"' + b"x" * 140_000 + b'"\n'),
                                       ("multijson", b'{"a": 1}\n{"a": [}'), ("csv", b"\xff\xfe,1\n")])
def test_payloads_the_reference_refuses_are_one_line_4xx_through_serve(fmt, body):
    import urllib.error
    import urllib.request

    from kfx_notebook.server import LocalServer

    with LocalServer() as server:
        request = urllib.request.Request(f"{server.url}/v1/rest/ingest/NetDefaultDB/New?streamFormat={fmt}",
                                         data=body, method="POST",
                                         headers={"Content-Type": "application/octet-stream"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=30)
    reply = json.loads(info.value.read())
    assert info.value.code == 400
    message = reply["error"]["@message"]
    assert "\n" not in message and "Traceback" not in message and message


# -- the C reader, else DuckDB's (json_texts, json_values): the same table, or the old path -------
ALL_TYPES = [(f"c_{ktype}", ktype) for ktype in KUSTO_TYPES]


@pytest.fixture(params=["c", "duckdb"])
def c_reader(request, monkeypatch):
    """Each test of an existing table's JSON runs twice: through the C reader (the module, asserted built
    where test_speedups_build says it must be) and, with it unloaded, through DuckDB's (None)."""
    from kfx_notebook import _speedups

    if request.param == "duckdb":
        monkeypatch.setitem(_speedups._LOADED, "json_records", None)
    return _speedups.load("json_records")


def _c_took(data: bytes, columns) -> bool:
    from kfx_notebook.backends.local import json_texts

    return json_texts.record_texts(data, [name for name, _ in columns]) is not None
ODD_VALUES = [
    0, -1, 2**63 - 1, -2**63, 2**63, 2**70, 10**30, 0.1, -0.0, 2.5, 1e16, 1e-5, 1e-7, 1e21, 1e22, 5e-324, 1.5e308,
    123456789.123, 1e15 + 0.5, True, False, None, "", "x", 's"q\\', "\x00\x1f\x7f\u2028é😀", "line\nbreak\t",
    "12", "-3.5", "true", "2021-03-04T05:06:07.1234567Z", "1.02:03:04.5", '{"a": 1}', "[1, 2.50]", "null",
    [], {}, [1, 2.5, None, "é"], {"k": [1, {"n": None}], "t": "v"}, {"x": 1e16, "y": [1e-05, -0.0]},
    [{"k": 1}, {"k": 2}], {"s": 'q"\\/\x01\u001f'}, [[[[1]]]], {"t": "05:06", "a,b": [",", ":", '":']},
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_fast_readers_read_odd_values_into_every_type_as_the_per_record_table(pair, value, c_reader):
    from kfx_notebook.backends.local import json_texts, json_values

    records = [{name: value for name, _ in ALL_TYPES}, {"c_long": 1, **{name: value for name, _ in ALL_TYPES[:3]}}]
    for data in (json.dumps(records, ensure_ascii=False).encode(),
                 "\n".join(json.dumps(r, indent=2) for r in records).encode()):
        parts = json_texts.json_value_texts(data, ALL_TYPES)
        assert not c_reader or _c_took(data, ALL_TYPES)      # C takes them all (so the comparison is about it)
        if value is not None:       # (DuckDB's reader leaves a record of nulls only to the old way)
            assert parts is not None      # the fast reader takes it (so the comparison below is about it)
            [json_values.staged(name, ktype, *part) for (name, ktype), part in zip(ALL_TYPES, parts)]
        for fmt in ("json", "multijson"):
            _compare(pair, (data, fmt, ALL_TYPES, None))


@pytest.mark.parametrize("token", ["1.50", "-0", "1E2", "0.10", "-0.0", "100.0e-2", "1e400", "12345678901234567890",
                                   "0.000010", "1e16", "2.5000000000000000001"])
def test_number_spellings_json_dumps_would_not_write_into_every_type(pair, token, c_reader):
    """The payload's own spelling of a number (as a value and inside containers) gives the per-record table."""
    data = ("{" + ", ".join(f'"{name}": {token}' for name, _ in ALL_TYPES[:-1])
            + f', "{ALL_TYPES[-1][0]}": [{token}, {{"k": {token}}}]}}\n{{"c_long": 1}}').encode()
    assert not c_reader or _c_took(data, ALL_TYPES)
    for fmt in ("json", "multijson"):
        _compare(pair, (data, fmt, ALL_TYPES, None))


@pytest.mark.parametrize("text", ['{"c_long": 1, "c_long": 2}', '{"c_long": 1,}', '{"c_long": [1,]}', "null",
                                  '{"c_long": 1}\nnull', '[{"c_long": 1}, 2]', '{"c_long": 1}\n[{"c_long": 2}]',
                                  '{"zz": 1}', "", "[]", '{"c_long": 1},{"c_long": 2}'])
def test_bodies_the_fast_readers_read_otherwise_go_the_old_way(pair, text, c_reader):
    from kfx_notebook.backends.local import json_texts

    commas = text == '{"c_long": 1},{"c_long": 2}'     # json reads two records: so does C, DuckDB refuses
    assert (json_texts.json_value_texts(text.encode(), ALL_TYPES) is None) != bool(commas and c_reader)
    for fmt in ("json", "multijson"):
        _compare(pair, (text.encode(), fmt, ALL_TYPES, None))


@pytest.mark.parametrize("text", ['{"c_real": nan}', '{"c_dynamic": [inf]}', '{"c_string": {"a": -NaN}}',
                                  '{"c_dynamic": ' + "[" * 600 + "]" * 600 + "}", '{"c_dynamic": {"a": NaN}}'])
def test_values_json_reads_otherwise_go_the_old_way(pair, text, c_reader):
    for fmt in ("json", "multijson"):
        _compare(pair, (text.encode(), fmt, ALL_TYPES, None))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                    HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(*[VALUES] * 3), min_size=1, max_size=5), types=st.lists(
    st.sampled_from(KUSTO_TYPES), min_size=3, max_size=3), indent=st.sampled_from([None, 2]))
def test_fast_readers_give_the_per_record_table(pair, values, types, indent, c_reader):
    table = [(f"k{i}", ktype) for i, ktype in enumerate(types)]
    records = [{"k0": 0, **{name: v for (name, _), v in zip(table, row) if v != "skip"}} for row in values]
    data = "\n".join(json.dumps(r, indent=indent, ensure_ascii=False) for r in records).encode()
    assert not c_reader or _c_took(data, table)
    for fmt in ("json", "multijson"):
        _compare(pair, (data, fmt, table, None))


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=12), st.text(max_size=6).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_the_utf8_check_refuses_exactly_what_python_refuses(data):
    from kfx_notebook.backends.local import ingest
    from kfx_notebook.errors import IngestionError

    try:
        data.decode("utf-8-sig")
        python_refuses = False
    except UnicodeDecodeError:
        python_refuses = True
    try:
        ingest.check_utf8(data, "json")
        refused = False
    except IngestionError:
        refused = True
    assert refused == python_refuses


CSV_DYNAMIC_TEXTS = ["[1,]", '{"a": 1,}', "nan", "NaN", "[Infinity]", "[inf]", "\ufeff[1]", "[1, 2.50]", " 3", "-0", "1E5",
                     '{"a": 1, "a": 2}', '[{"k": 1}, {"k": 1}]', "[1e400]", '{"k": "05:06", "l": ",,"}', '"x"', "null",
                     "[" * 450 + "]" * 450, "12345678901234567890123", "[1e16, 1e-05, 0.1]", "// c\n1", "{'a': 1}",
                     '{"s": "\\u00e9\\u001f\\ud83d\\ude00"}', "[1]x", "tru", "[\"\\ud800\"]"]


@pytest.mark.parametrize("text", CSV_DYNAMIC_TEXTS, ids=repr)
def test_csv_dynamic_texts_are_the_per_record_values(pair, text):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[text, "1"], ['{"b": [1, 2.5]}', "2"], [text, "3"]])
    _compare(pair, (out.getvalue().encode("utf-8", "surrogatepass"), "csv",
                    [("Column1", "dynamic"), ("Column2", "long")], None))


@pytest.mark.parametrize("kind", ["string", "dynamic"])
@pytest.mark.parametrize("value", ['"\\ud800"', '["a\\udfff"]', '{"k": "\\udbff x"}'])
def test_a_lone_surrogate_is_refused_in_one_line_and_nothing_is_written(kind, value):
    """JSON may escape half a surrogate pair, which is no text a table can hold: a 400-class error, no rows."""
    from kfx_notebook.backends.local.commands import run_command
    from kfx_notebook.errors import IngestionError

    backend = LocalBackend()
    run_command(backend, "db", f".create table T (s:{kind}, l:long)")
    body = f'{{"s": "ok", "l": 1}}\n{{"s": {value}, "l": 2}}'.encode()
    with pytest.raises(IngestionError, match=r"lone surrogate \(\\ud[89a-f][0-9a-f]{2}\)") as caught:
        backend.ingest("db", "T", body, data_format="multijson")
    assert caught.value.code == "BadRequest_InvalidEncoding" and "\n" not in str(caught.value)
    assert len(backend.query("db", "T").frame) == 0


# -- a new table's JSON through a reader's texts (json_texts.record_texts, json_inference) ----------
NEW_KEYS = ["a", "A", "b", "é", 'q"k', "\\", "c d", "\u2028"]


@st.composite
def new_table_bodies(draw):
    """Records that each hold a key (in any order, keys first seen late too), in the layouts a reader takes."""
    keys = draw(st.lists(st.sampled_from(NEW_KEYS), min_size=1, max_size=4, unique=True))
    kinds = {key: _pooled(draw) for key in keys}
    records = draw(st.lists(st.dictionaries(st.sampled_from(keys), st.one_of(*kinds.values()), min_size=1),
                            min_size=1, max_size=6))
    indent, ascii = draw(st.sampled_from([None, 2])), draw(st.booleans())
    if draw(st.booleans()):
        return json.dumps(records, indent=indent, ensure_ascii=ascii).encode(), "json"
    return "\n".join(json.dumps(r, indent=indent, ensure_ascii=ascii) for r in records).encode(), "multijson"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                    HealthCheck.function_scoped_fixture])
@given(body=new_table_bodies())
def test_a_new_tables_json_read_from_texts_gives_the_per_record_table(pair, c_reader, body):
    """Through the C reader's texts of every key, and (module unloaded) through json's decoding."""
    from kfx_notebook.backends.local import ingest, json_values

    data, fmt = body
    read = ingest._value_texts(data, None)
    assert (read is not None) == (c_reader is not None)     # the C reader takes every such body, types and all
    if read is not None:
        columns, parts = read
        assert [json_values.staged(name, ktype, *part) for (name, ktype), part in zip(columns, parts)]
    _compare(pair, (data, fmt, None, None))


@pytest.mark.parametrize("token", ["1.50", "-0", "1E2", "0.10", "-0.0", "100.0e-2", "1e400", "12345678901234567890",
                                   "0.000010", "1e16", "2.5000000000000000001", "3"])
def test_number_spellings_into_a_new_table_give_the_per_record_table(pair, c_reader, token):
    """A new table's columns are read with numbers as written, then its string and dynamic columns'
    numbers again in json.dumps' form: each spelling alone (real or long), beside a string (string),
    beside a container (dynamic), and nested, gives the per-record table."""
    from kfx_notebook.backends.local import ingest

    records = [f'{{"alone": {token}, "text": {token}, "bag": {token}, "nested": [{token}, {{"k": {token}}}]}}',
               '{"text": "x", "bag": {"k": 1}}']
    for data, fmt in (("\n".join(records).encode(), "multijson"), (f"[{','.join(records)}]".encode(), "json")):
        read = ingest._value_texts(data, None)
        assert (read is not None) == (c_reader is not None) or token == "1e400"   # inf: decoded instead
        if read is not None and token != "1e400":   # the string column's number in json.dumps' form
            texts = dict(zip([name for name, _ in read[0]], read[1]))["text"][0]
            assert texts[0].as_py() == json.dumps(json.loads(token))
        _compare(pair, (data, fmt, None, None))


@pytest.mark.parametrize("body", [b'{"a": 1, "A": 2}', b'[{"id": 1}, {"ID": "x"}]'])
def test_fields_differing_only_in_case_are_a_one_line_error_for_a_new_table(pair, c_reader, body):
    """DuckDB's names fold ASCII case, so such a table cannot be made: a 400-class error, not a CatalogException."""
    from kfx_notebook.errors import IngestionError

    backend = pair[1]
    backend.catalog.ensure_database("Case")
    with pytest.raises(IngestionError, match="differ only in case") as caught:
        backend.ingest("Case", TABLE, body, data_format="multijson")
    assert caught.value.code == "BadRequest_DuplicateColumnName" and "\n" not in str(caught.value)
    assert backend.catalog.columns("Case", TABLE) is None
