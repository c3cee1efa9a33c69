"""serve's column-wise encoder writes an Arrow table as the same bytes the per-value encoder writes its rows.

The per-value encoder (wire.encode_rows over DuckDB's Python rows) is the reference; every
DuckDB type the engine's columns come in is generated, nulls included, and both go through
v1 and v2 replies, each test with the C row join and with the Arrow join (row_join_paths).
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kfx_notebook.kusto_types import from_duckdb
from kfx_notebook.server import wire
from tests.frame_strategies import EDGE_FLOATS, JSONISH

pytestmark = pytest.mark.usefixtures("row_join_paths")

_DAYS = 10_000 * 365
_FLOAT_EDGES = [v for v in EDGE_FLOATS if not abs(v) > 3.4e38]   # DuckDB refuses a FLOAT out of its range
#: DuckDB column type -> (values of it as Python gives them to DuckDB, the SQL that casts the parameter).
VALUES = {
    "BOOLEAN": (st.booleans(), "?"),
    "TINYINT": (st.integers(-128, 127), "?"),
    "SMALLINT": (st.integers(-2**15, 2**15 - 1), "?"),
    "INTEGER": (st.integers(-2**31, 2**31 - 1), "?"),
    "BIGINT": (st.integers(-2**63, 2**63 - 1), "?"),
    "UBIGINT": (st.integers(0, 2**64 - 1), "?"),
    "HUGEINT": (st.integers(-2**127 + 1, 2**127 - 1), "?::HUGEINT"),
    "DOUBLE": (st.floats() | st.sampled_from(EDGE_FLOATS), "?"),
    "FLOAT": (st.floats(width=32) | st.sampled_from(_FLOAT_EDGES), "?"),
    "DECIMAL(38,18)": (st.decimals(min_value=-10**19, max_value=10**19, places=18, allow_nan=False), "?"),
    "VARCHAR": (st.text(), "?"),
    "TIMESTAMP": (st.datetimes(), "?"),
    "TIMESTAMPTZ": (st.datetimes(timezones=st.just(dt.UTC)), "?"),
    "DATE": (st.dates(), "?"),
    "TIME": (st.times(), "?"),
    "INTERVAL": (st.tuples(st.integers(-1000, 1000), st.integers(-_DAYS, _DAYS),
                           st.integers(-86_400_000_000 * 10, 86_400_000_000 * 10)),
                 "to_months(?[1]) + to_days(?[2]) + to_microseconds(?[3])"),
    "UUID": (st.uuids(), "?"),
    # JSON text as Python writes it, NaN and ±Infinity included (DuckDB's JSON reads and writes them too).
    "JSON": (JSONISH.map(json.dumps), "?::JSON"),
    "INTEGER[]": (st.lists(st.none() | st.integers(-1000, 1000), max_size=4), "?"),
    "STRUCT(a INTEGER, b VARCHAR)": (st.fixed_dictionaries({"a": st.integers(-9, 9), "b": st.text(max_size=5)}), "?"),
}


def _table(duckdb_type: str, values: list):
    """A one-column DuckDB table of `values`: (column types, its Python rows, its Arrow table)."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (v {duckdb_type})")
    sql = VALUES[duckdb_type][1]
    for value in values:
        if value is None:
            con.execute("INSERT INTO t VALUES (NULL)")
        elif isinstance(value, tuple):
            con.execute(f"INSERT INTO t SELECT {sql.replace('?', '$1')}", [list(value)])
        else:
            con.execute(f"INSERT INTO t VALUES ({sql})", [value])
    relation = con.sql("SELECT * FROM t")
    column_types = [("v", from_duckdb(str(relation.types[0])))]
    return column_types, relation.fetchall(), relation.to_arrow_table()


def _both_ways(column_types, rows, table):
    fixed = {"client_request_id": "r", "activity_id": "a", "now": dt.datetime(2026, 1, 1)}
    assert wire.v1_response(column_types, table) == wire.v1_response(column_types, rows)
    assert wire.v2_response(column_types, table, **fixed) == wire.v2_response(column_types, rows, **fixed)


@pytest.mark.parametrize("duckdb_type", list(VALUES))
def test_a_column_of_every_type_encodes_as_its_rows_do(duckdb_type):
    strategy = VALUES[duckdb_type][0]

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.none() | strategy, max_size=12))
    def check(values):
        _both_ways(*_table(duckdb_type, values))

    check()


def test_many_columns_and_no_rows_encode_as_their_rows_do():
    con = duckdb.connect()
    relation = con.sql("SELECT * FROM (VALUES (1, 'a\"\\\\é', 2.5::DOUBLE, TIMESTAMP '2020-01-02 03:04:05.123456', "
                       "INTERVAL '1 day 2 hours', true, NULL::BIGINT, 'NaN'::DOUBLE, '{\"k\":[1,null]}'::JSON), "
                       "(NULL, NULL, '-Infinity'::DOUBLE, NULL, NULL, NULL, 7, 0.1, NULL)) AS v(a,b,c,d,e,f,g,h,i)")
    column_types = [(n, from_duckdb(str(t))) for n, t in zip(relation.columns, relation.types)]
    _both_ways(column_types, relation.fetchall(), relation.to_arrow_table())
    empty = relation.limit(0)
    _both_ways(column_types, empty.fetchall(), empty.to_arrow_table())


@pytest.mark.parametrize("duckdb_settings", [["arrow_large_buffer_size = true"],
                                             ["produce_arrow_string_view = true", "arrow_output_version = '1.4'"]])
def test_strings_in_the_arrow_types_duckdb_can_be_set_to_give_encode_as_their_rows_do(duckdb_settings):
    # large_string (and string_view) texts with nulls: the quotes and "null" must be joined in the texts' type
    con = duckdb.connect()
    for setting in duckdb_settings:
        con.execute(f"SET {setting}")
    relation = con.sql("SELECT * FROM (VALUES ('a\"b', 'x'), (NULL, 'é'), ('', NULL)) AS v(s, t)")
    table = relation.to_arrow_table()
    assert not any(pa.types.is_string(field.type) for field in table.schema)   # the types this is about
    _both_ways([("s", "string"), ("t", "string")], relation.fetchall(), table)


@pytest.mark.parametrize("duckdb_type, edges", [("DOUBLE", EDGE_FLOATS), ("FLOAT", _FLOAT_EDGES)])
def test_reals_at_every_edge_of_their_spelling_encode_as_their_rows_do(duckdb_type, edges):
    _both_ways(*_table(duckdb_type, [*edges, None, *(float(f"1e{e}") for e in range(-20, 25))]))


def test_a_dynamic_holding_nan_or_infinity_writes_them_as_kusto_texts_both_ways():
    relation = duckdb.connect().sql("SELECT to_json({'a': 'nan'::DOUBLE, 'b': [1.5, 'inf'::DOUBLE, '-inf'::DOUBLE]}) "
                                    "AS j, 'NaN'::JSON AS k, NULL::JSON AS n")
    column_types = [(n, from_duckdb(str(t))) for n, t in zip(relation.columns, relation.types)]
    _both_ways(column_types, relation.fetchall(), relation.to_arrow_table())
    assert json.loads(wire.v1_response(column_types, relation.to_arrow_table()))["Tables"][0]["Rows"] == \
        [[{"a": "NaN", "b": [1.5, "Infinity", "-Infinity"]}, "NaN", None]]


@pytest.mark.parametrize("decimal_type", ["DECIMAL(38,18)", "DECIMAL(4,1)", "DECIMAL(38,0)", "DECIMAL(18,6)"])
def test_decimals_plain_and_tiny_encode_as_their_rows_do(decimal_type):
    values = "(12.5), (-7), (0), (NULL), (0.1), (-0.000001), (0.0000001), (1e-18), (99)"
    relation = duckdb.connect().sql(f"SELECT x::{decimal_type} AS x FROM (VALUES {values}) AS v(x)")
    column_types = [("x", from_duckdb(str(relation.types[0])))]
    _both_ways(column_types, relation.fetchall(), relation.to_arrow_table())
    plain = duckdb.connect().sql(f"SELECT x::{decimal_type} AS x FROM (VALUES (12.5), (-7), (NULL), (99)) AS v(x)")
    _both_ways(column_types, plain.fetchall(), plain.to_arrow_table())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.none() | JSONISH, max_size=12))
def test_dynamic_texts_in_the_wire_form_go_out_as_stored_and_as_their_rows_do(values):
    from kfx_notebook import codec

    # DuckDB holds what to_json / the engine wrote; the compact texts Python would write are what
    # the column-wise rule passes through unchanged (others go value by value): both ways agree.
    compact = [None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in values]
    column_types, rows, table = _table("JSON", compact)
    _both_ways(column_types, rows, table)
    assert (codec.wire_json_pieces(table.column(0), "dynamic") is not None) == \
        all(text is None or _in_wire_form(text) for text in compact)


def _in_wire_form(text: str) -> bool:
    """Whether a stored text is its own compact re-encoding (not when NaN/±Infinity or a repeated key)."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"), allow_nan=False) == text
    except ValueError:
        return False


def test_a_dynamic_text_not_in_the_wire_form_goes_value_by_value():
    from kfx_notebook import codec

    for stored in ['{"a":1,"a":2}', '1e5', '[1.50]', '"\\u00e9"']:
        column_types, rows, table = _table("JSON", [stored, '{"b":2}'])
        assert codec.wire_json_pieces(table.column(0), "dynamic") is None, stored
        _both_ways(column_types, rows, table)
    # json.dumps' stored form (", " and ": ") is minified column-wise, to the same bytes
    column_types, rows, table = _table("JSON", ['{"a": [1, 2.5, "x, y: z"]}', '{"b":2}'])
    assert codec.wire_json_pieces(table.column(0), "dynamic") is not None
    _both_ways(column_types, rows, table)


def test_dynamic_texts_that_are_not_whole_values_go_value_by_value():
    import pyarrow as pa

    from kfx_notebook import codec

    # Joined by commas they read as one array ('[[1,2],3,4]'); each alone is a plain string.
    column = pa.array(["[1", "2]", "3,4"])
    assert codec.wire_json_pieces(column, "dynamic") is None
    assert wire.v1_response([("v", "dynamic")], pa.table({"v": column})) == \
        wire.v1_response([("v", "dynamic")], [("[1",), ("2]",), ("3,4",)])
