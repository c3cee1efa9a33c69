"""The embedded Kusto database: one test group per numbered point of its issue."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import json
import uuid

import numpy as np
import pandas as pd
import pytest

from kfx_notebook.backends.local import LocalBackend
from kfx_notebook.errors import (IngestionError, KfxError, KustoSemanticError, KustoSyntaxError,
                                 ResultTruncatedError, UnknownEntityError, UnsupportedError)

PRODUCTS = b'{"ProductID":1,"Name":"Apple","Cost":1.5}\n{"ProductID":2,"Name":"Pear","Cost":2.25}\n' \
           b'{"ProductID":3,"Name":"Fig","Cost":4.0}'


@pytest.fixture
def products(local_db):
    local_db.query("Shop", ".create table Products (ProductID:long, Name:string, Cost:real)") \
        if "Shop" in local_db.catalog.databases() else None
    local_db.ingest("Shop", "Products", PRODUCTS, data_format="multijson")
    return local_db


# 1. several databases, in memory or in a file that survives a restart -----------------------------
def test_unknown_database_is_created_on_write_and_reported_on_read(local_db):
    with pytest.raises(UnknownEntityError, match="Database 'Nowhere' was not found"):
        local_db.query("Nowhere", "T | take 1")
    local_db.ingest("Nowhere", "T", b'{"a":1}', data_format="json")
    assert local_db.query("Nowhere", "T").frame["a"].tolist() == [1]


def test_databases_are_separate(local_db):
    local_db.ingest("A", "T", b'{"x":1}', data_format="json")
    local_db.ingest("B", "T", b'{"y":"b"}', data_format="json")
    assert local_db.query("A", "T").column_types == [("x", "long")]
    assert local_db.query("B", "T").column_types == [("y", "string")]
    assert local_db.query("A", "database('B').T | project y").frame["y"].tolist() == ["b"]


def test_one_statement_resolves_what_three_did(local_db):
    """Catalog.resolve (the query path's one catalog read) answers as schema + function_definitions."""
    local_db.ingest("A", "T", b'{"x":1, "y":"a"}', data_format="json")
    local_db.ingest("A", "U", b'{"z":1}', data_format="json")
    local_db.ingest("B", "T", b'{"q":1}', data_format="json")
    local_db.query("A", ".create function Z() { T | take 1 }")
    local_db.query("A", ".create function F(n:long) { U | take n }")
    local_db.query("B", ".create function G() { T }")
    local_db.catalog.ensure_database("Empty")
    for database in ("A", "B", "Empty"):
        resolved = local_db.catalog.resolve(database)
        assert resolved.schema == local_db.catalog.schema(database)
        assert list(resolved.schema) == list(local_db.catalog.schema(database))
        assert resolved.definitions == local_db.catalog.function_definitions(database)
    assert local_db.catalog.resolve("A").definitions == ["function F(n:long) { U | take n }",
                                                         "function Z() { T | take 1 }"]
    assert local_db.catalog.resolve("A").schema == {"A.T": ["x", "y"], "A.U": ["z"], "B.T": ["q"],
                                                    "T": ["x", "y"], "U": ["z"]}
    for missing in ("Nowhere", "a", "_kfx", "main"):
        with pytest.raises(UnknownEntityError) as resolved:
            local_db.catalog.resolve(missing)
        with pytest.raises(UnknownEntityError) as required:
            local_db.catalog.require_database(missing)
        assert str(resolved.value) == str(required.value) and "known: A, B, Empty" in str(resolved.value)


def test_file_database_survives_a_restart(tmp_path):
    path = str(tmp_path / "keep.duckdb")
    first = LocalBackend.open(path)
    first.ingest("Shop", "Products", PRODUCTS, data_format="multijson")
    first.query("Shop", ".create function Cheap(maxCost:real) { Products | where Cost < maxCost }")
    first.query("Shop", ".create table Products ingestion json mapping 'm' '[{\"column\":\"Name\",\"Properties\":"
                        "{\"Path\":\"$.n\"}}]'")
    first.close()
    second = LocalBackend.open(path)
    try:
        assert second is not first
        assert second.query("Shop", "Cheap(2.0) | project Name").frame["Name"].tolist() == ["Apple"]
        assert second.query("Shop", ".show table Products ingestion mappings").frame["Name"].tolist() == ["m"]
    finally:
        second.close()


def test_memory_database_is_shared_by_the_process():
    assert LocalBackend.open(None) is LocalBackend.open(None)


# 2. parameters parsed by their declared type, never spliced ----------------------------------------
@pytest.mark.parametrize("ptype, value, expected", [
    pytest.param("long", "42", 42, id="long-from-text"),
    pytest.param("int", "-7", -7, id="int-from-text"),
    pytest.param("real", "2.5", 2.5, id="real-from-text"),
    pytest.param("bool", "true", True, id="bool-true"),
    pytest.param("bool", "False", False, id="bool-false-any-case"),
    pytest.param("datetime", "datetime(2024-01-02 03:04:05)", pd.Timestamp("2024-01-02T03:04:05Z"),
                 id="datetime-literal"),
    pytest.param("datetime", "2024-01-02T03:04:05.1234567Z", pd.Timestamp("2024-01-02T03:04:05.123456Z"),
                 id="datetime-iso-with-ticks"),
    pytest.param("timespan", "1h", pd.Timedelta(hours=1), id="timespan-unit"),
    pytest.param("timespan", "time(1.02:03:04)", pd.Timedelta(days=1, hours=2, minutes=3, seconds=4),
                 id="timespan-literal-with-days"),
    pytest.param("timespan", "-00:00:01.5", -pd.Timedelta(seconds=1.5), id="negative-timespan"),
    pytest.param("guid", "74be27de-1e4e-49d9-b579-fe0b331d3642", "74be27de-1e4e-49d9-b579-fe0b331d3642",
                 id="guid"),
    pytest.param("dynamic", "dynamic({'a': [1, 2]})", {"a": [1, 2]}, id="dynamic-literal-single-quotes"),
    pytest.param("dynamic", "[1, 2]", [1, 2], id="dynamic-json"),
    pytest.param("string", "R-MQ", "R-MQ", id="string-raw-no-quotes"),
])
def test_parameter_values_parse_by_declared_type(local_db, ptype, value, expected):
    local_db.catalog.ensure_database("Db")
    result = local_db.query("Db", f"declare query_parameters(p:{ptype}); print v = p", {"p": value})
    got = result.frame["v"].iloc[0]
    assert got == expected


def test_parameter_of_wrong_type_is_a_semantic_error(local_db):
    local_db.catalog.ensure_database("Db")
    with pytest.raises(KustoSemanticError, match="declared long"):
        local_db.query("Db", "declare query_parameters(n:long); print n", {"n": "ten"})


def test_declared_parameter_without_value_fails(local_db):
    local_db.catalog.ensure_database("Db")
    with pytest.raises(KustoSemanticError, match="no value"):
        local_db.query("Db", "declare query_parameters(n:long); print n")


def test_parameter_default_applies(local_db):
    local_db.catalog.ensure_database("Db")
    assert local_db.query("Db", "declare query_parameters(n:long = 5); print n").frame.iloc[0, 0] == 5


@pytest.mark.parametrize("value", [
    pytest.param("x\" | take 0 //", id="double-quote-and-pipe"),
    pytest.param("O'Brien'; .drop table Products", id="single-quote-and-command"),
    pytest.param("a;\n| where 1 == 0\n// comment {x} }{", id="newlines-braces-and-comments"),
])
def test_metacharacters_come_back_as_data(products, value):
    result = products.query("Shop", "declare query_parameters(v:string); Products | extend Echo = v | take 1",
                            {"v": value})
    assert result.frame["Echo"].tolist() == [value]
    assert products.query("Shop", "Products | count").frame.iloc[0, 0] == 3


@pytest.mark.parametrize("query, params, rows", [
    pytest.param("declare query_parameters(n:long); Products | take n", {"n": "2"}, 2, id="take-parameter"),
    pytest.param("declare query_parameters(n:int); Products | limit n", {"n": "1"}, 1, id="limit-parameter"),
    pytest.param("declare query_parameters(n:long); Products | top n by Cost desc", {"n": "2"}, 2,
                 id="top-parameter"),
    pytest.param("let n = 1; Products | take n", None, 1, id="take-let-value"),
    pytest.param("let n = 2; Products | top n by Cost", None, 2, id="top-let-value"),
])
def test_take_and_top_with_parameter_or_let(products, query, params, rows):
    assert len(products.query("Shop", query, params).frame) == rows


@pytest.mark.parametrize("query, answer", [
    ("let n = toscalar(Products | count); print n", 3),
    ("print n = toscalar(Products | summarize max(ProductID))", 3),
    ("range x from 1 to toscalar(Products | count) step 1 | count", 3),
])
def test_a_query_reading_no_table_first_reads_the_databases_tables_in_a_toscalar(products, query, answer):
    # the engine left `Products` bare when the query's own source is `print` or `range`
    products.query("Other", ".create table Products (ProductID:long)")   # a same-named table elsewhere
    assert products.query("Shop", query).frame.iloc[0, 0] == answer


def test_top_parameter_keeps_order(products):
    frame = products.query("Shop", "declare query_parameters(n:long); Products | top n by Cost desc",
                           {"n": "2"}).frame
    assert frame["Name"].tolist() == ["Fig", "Pear"]


def test_bin_with_timespan_parameter(local_db):
    local_db.query("Db", ".create table E (t:datetime)")
    local_db.ingest("Db", "E", "2024-01-01T00:10:00Z\n2024-01-01T00:50:00Z\n2024-01-01T01:05:00Z\n",
                    data_format="csv")
    frame = local_db.query("Db", "declare query_parameters(span:timespan); E | summarize n = count() by "
                                 "b = bin(t, span) | order by b asc", {"span": "1h"}).frame
    assert frame["n"].tolist() == [2, 1]
    assert frame["b"].tolist() == [pd.Timestamp("2024-01-01T00:00Z"), pd.Timestamp("2024-01-01T01:00Z")]


def test_result_carries_kusto_column_types(products):
    result = products.query("Shop", "Products | extend When = datetime(2024-01-01), D = 1h, Flag = true, "
                                    "I = toint(1), Bag = dynamic({'k': 1})")
    assert result.column_types == [("ProductID", "long"), ("Name", "string"), ("Cost", "real"),
                                   ("When", "datetime"), ("D", "timespan"), ("Flag", "bool"), ("I", "int"),
                                   ("Bag", "dynamic")]
    assert str(result.frame["When"].dtype) == "datetime64[ns, UTC]"
    assert str(result.frame["D"].dtype) == "timedelta64[ns]"
    assert result.frame["Bag"].iloc[0] == {"k": 1}


def test_record_limit_raises_with_the_numbers(products):
    with pytest.raises(ResultTruncatedError, match="record count limit 2"):
        products.query("Shop", "Products", options={"truncationmaxrecords": 2})
    assert len(products.query("Shop", "Products", options={"notruncation": True}).frame) == 3


@pytest.mark.parametrize("query, rows", [
    ("set notruncation;\nProducts", 3),
    ("set truncationmaxrecords = 2;\n// a comment between\nset notruncation; Products", 3),
    ("set notruncation = false; Products", "limit 2"),
    ("set truncationmaxrecords=1; Products", "limit 1"),   # the statement wins over the property
    ("set query_now = datetime(2020-01-01); Products | where now() < datetime(2021-01-01)", "limit 2"),
])
def test_a_querys_set_statements_lift_or_lower_its_record_limit(products, query, rows):
    # Kusto's documented spelling (concepts/query-limits); the request property holds a limit of 2 here
    options = {"truncationmaxrecords": 2}
    if isinstance(rows, int):
        assert len(products.query("Shop", query, options=options).frame) == rows
    else:
        with pytest.raises(ResultTruncatedError, match=f"record count limit {rows[-1]}"):
            products.query("Shop", query, options=options)


def test_a_set_statement_keeps_error_positions_and_refuses_a_bad_value(products):
    with pytest.raises(KfxError) as error:
        products.query("Shop", "set notruncation;\nProducts | extend y = nope")
    assert (error.value.line, error.value.column) == (2, 23)
    with pytest.raises(KfxError, match="notruncation is 'maybe', not true or false"):
        products.query("Shop", "set notruncation = maybe; Products")
    with pytest.raises(KfxError, match="notruncation is 'maybe', not true or false"):
        products.query("Shop", "Products", options={"notruncation": "maybe"})


def test_unknown_option_is_refused(products):
    with pytest.raises(UnsupportedError, match="query_language"):
        products.query("Shop", "Products", options={"query_language": "sql"})


# 3. management commands ---------------------------------------------------------------------------
def test_create_show_and_drop_tables(local_db):
    created = local_db.query("Db", ".create table T (a:long, ['b c']:string) with (folder='F', docstring='D')")
    assert created.frame.iloc[0].to_dict() == {"TableName": "T", "Schema": "a:long,b c:string",
                                               "DatabaseName": "Db", "Folder": "F", "DocString": "D"}
    local_db.query("Db", ".create-merge table T (a:long, c:datetime)")
    schema = json.loads(local_db.query("Db", ".show table T schema as json").frame["Schema"].iloc[0])
    assert [(c["Name"], c["CslType"]) for c in schema["OrderedColumns"]] == [("a", "long"), ("b c", "string"),
                                                                            ("c", "datetime")]
    assert local_db.query("Db", ".show table T cslschema").frame["Schema"].iloc[0] == "a:long,b c:string,c:datetime"
    assert local_db.query("Db", ".show tables").frame["TableName"].tolist() == ["T"]
    assert local_db.query("Db", ".drop table T").frame.empty
    with pytest.raises(UnknownEntityError, match="Table 'T' was not found"):
        local_db.query("Db", ".drop table T")
    local_db.query("Db", ".drop table T ifexists")


def test_create_table_with_different_schema_is_refused(local_db):
    local_db.query("Db", ".create table T (a:long)")
    local_db.query("Db", ".create table T (a:long)")  # same schema: a no-op, as in Kusto
    with pytest.raises(KustoSyntaxError, match="already exists with a different schema"):
        local_db.query("Db", ".create table T (a:string)")


@pytest.mark.parametrize("command, message", [
    (".create table T (x:long, x:long)", "column 'x' is given more than once"),
    (".create table T (x:long, X:long)", "differ only in case"),
    (".create table T ()", "at least one column"),
    ('.create table [""] (x:long)', "table name '' is not a valid Kusto entity name: it is blank"),
    ('.create table T (["a:b"]:long)', "column name 'a:b' is not a valid Kusto entity name: it holds ':'"),
    ('.create table ["__T"] (x:long)', "begins or ends with '__'"),
    ('.create database ["a;b"]', "database name 'a;b' is not a valid"),
    ('.set ["a/b"] <| print x = 1', "table name 'a/b' is not a valid"),
    (".create-merge table Have (A:long)", "columns 'a' and 'A' differ only in case"),
])
def test_a_command_kusto_would_refuse_is_a_kusto_error_and_creates_nothing(local_db, command, message):
    local_db.query("Db", ".create table Have (a:long)")
    with pytest.raises(KfxError, match=message) as refused:
        local_db.query("Db", command)
    assert refused.value.permanent   # the server's 400, not a 5xx
    assert local_db.query("Db", ".show tables").frame["TableName"].tolist() == ["Have"]
    assert local_db.query("Db", ".show table Have cslschema").frame["Schema"].iloc[0] == "a:long"


def test_names_kusto_allows_are_created_as_given(local_db):
    local_db.query("Db", ".create table ['Sales 2024.v-1_é'] (['unit price']:real, ['ünï']:long)")
    assert local_db.query("Db", ".show table ['Sales 2024.v-1_é'] cslschema").frame["Schema"].iloc[0] == \
        "unit price:real,ünï:long"


def test_mappings_create_show_drop_and_apply(products):
    products.query("Shop", """.create table Products ingestion json mapping "ByPath" '[{"column":"ProductID","Properties":{"Path":"$.id"}},{"column":"Name","Properties":{"Path":"$.info.name"}},{"column":"Cost","Properties":{"ConstValue":"9.5"}}]'""")
    products.query("Shop", """.create table Products ingestion csv mapping "Csv" '[{"column":"Name","Properties":{"Ordinal":"1"}},{"column":"ProductID","Properties":{"Ordinal":"0"}}]'""")
    shown = products.query("Shop", ".show table Products ingestion mappings").frame
    assert sorted(zip(shown["Name"], shown["Kind"])) == [("ByPath", "json"), ("Csv", "csv")]
    products.ingest("Shop", "Products", b'{"id": 10, "info": {"name": "Kiwi"}}', data_format="json",
                    mapping_ref="ByPath")
    products.ingest("Shop", "Products", b"11,Lime\n", data_format="csv", mapping_ref="Csv")
    rows = products.query("Shop", "Products | where ProductID >= 10 | order by ProductID asc").frame
    assert rows[["ProductID", "Name"]].values.tolist() == [[10, "Kiwi"], [11, "Lime"]]
    assert rows["Cost"].iloc[0] == 9.5 and pd.isna(rows["Cost"].iloc[1])
    products.query("Shop", '.drop table Products ingestion csv mapping "Csv"')
    assert products.query("Shop", ".show table Products ingestion csv mappings").frame.empty


def test_unknown_mapping_has_the_extension_message(products):
    with pytest.raises(UnknownEntityError, match="Entity ID 'nope' of kind 'MappingPersistent' was not found."):
        products.ingest("Shop", "Products", b'{"a":1}', data_format="json", mapping_ref="nope")


def test_stored_functions_with_parameters(products):
    made = products.query("Shop", ".create function with (folder='Demo', docstring='by name') "
                                  "GetProductsByName(name:string) { Products | where Name == name }")
    assert made.frame.iloc[0][["Name", "Parameters", "Folder"]].tolist() == ["GetProductsByName", "(name:string)",
                                                                             "Demo"]
    result = products.query("Shop", "declare query_parameters(name:string); GetProductsByName(name)",
                            {"name": "Pear"})
    assert result.frame["ProductID"].tolist() == [2]
    with pytest.raises(KustoSyntaxError, match="already exists"):
        products.query("Shop", ".create function GetProductsByName(name:string) { Products }")
    products.query("Shop", ".create-or-alter function GetProductsByName(name:string) "
                           "{ Products | where Name != name }")
    assert len(products.query("Shop", "GetProductsByName('Pear')").frame) == 2
    assert products.query("Shop", ".show functions").frame["Name"].tolist() == ["GetProductsByName"]
    products.query("Shop", ".drop function GetProductsByName")
    assert products.query("Shop", ".show functions").frame.empty
    with pytest.raises(UnknownEntityError, match="Unknown function"):
        products.query("Shop", "GetProductsByName('Pear')")


@pytest.mark.parametrize("command, expected", [
    pytest.param(".set New <| Products | where Cost > 2", 2, id="set-creates"),
    pytest.param(".append Products <| Products | take 1", 4, id="append"),
    pytest.param(".set-or-append Products <| Products | take 1", 4, id="set-or-append"),
    pytest.param('.set-or-replace Products <| datatable(ProductID:long, Name:string, Cost:real)[5, "x", 1.0]', 1,
                 id="set-or-replace"),
])
def test_ingestion_commands(products, command, expected):
    products.query("Shop", command)
    table = command.split()[1]
    assert products.query("Shop", f"{table} | count").frame.iloc[0, 0] == expected


def test_ingest_inline_and_clear(products):
    result = products.query("Shop", '.ingest inline into table Products <| 7,"Nut, roasted",3.5\n8,Date,1')
    assert len(result.frame) == 1
    names = products.query("Shop", "Products | where ProductID > 6 | order by ProductID asc").frame["Name"]
    assert names.tolist() == ["Nut, roasted", "Date"]
    products.query("Shop", ".clear table Products data")
    assert products.query("Shop", "Products | count").frame.iloc[0, 0] == 0


def test_create_merge_table_takes_with_properties(local_db):
    made = local_db.query("Db", ".create-merge table T (a:long) with (folder='F', docstring='D')")
    assert made.frame.iloc[0].to_dict() == {"TableName": "T", "Schema": "a:long", "DatabaseName": "Db",
                                            "Folder": "F", "DocString": "D"}


@pytest.mark.parametrize("command, message, column", [
    (".create table T2 (a:long", "the column list is not closed: add ')'", 18),
    (".create-merge table T2 (a:long,", "the column list is not closed: add ')'", 24),
    (".create table T2 (a:long) garbage", "unexpected 'garbage' after the column list", 27),
    (".create-merge table T2 (a:long) with (folder='x'", "the with (...) properties are not closed: add ')'", 38),
    (".create table T2 (a:long) with (folder='x') extra", "unexpected 'extra' after the with (...) properties", 45),
])
def test_a_supported_command_written_wrong_is_a_syntax_error_at_its_place(products, command, message, column):
    """Not 'not supported' (with the list of commands), which sends the user looking for another one."""
    with pytest.raises(KustoSyntaxError) as caught:
        products.query("Shop", "// a comment line\n" + command)
    assert caught.value.message == "Syntax error: " + message
    assert (caught.value.line, caught.value.column, caught.value.text) == (1, column, command)
    assert caught.value.hint.startswith("Write " + " ".join(command.split()[:3]) + " (Name:type, ...)")
    assert products.query("Shop", ".show tables").frame["TableName"].tolist() == ["Products"]


def test_a_command_form_the_local_database_lacks_stays_unsupported(products):
    with pytest.raises(UnsupportedError, match=r"'\.create table T2'.*Supported: "):
        products.query("Shop", ".create table T2 based-on Products")


def test_unsupported_command_names_itself(products):
    with pytest.raises(UnsupportedError, match=r"'\.alter table Products'.*Supported: \.create-merge table"):
        products.query("Shop", ".alter table Products policy retention '{}'")


# 4. ingestion formats, mappings, auto-create, DataFrames -----------------------------------------
@pytest.mark.parametrize("fmt, data", [
    pytest.param("json", b'{"ProductID":9,"Name":"Plum","Cost":1}', id="json"),
    pytest.param("multijson", b'{\n  "ProductID": 9,\n  "Name": "Plum",\n  "Cost": 1\n}', id="multijson-indented"),
    pytest.param("csv", b"9,Plum,1\n", id="csv"),
    pytest.param("tsv", b"9\tPlum\t1\n", id="tsv"),
    pytest.param("psv", b"9|Plum|1\n", id="psv"),
    pytest.param("json", gzip.compress(b'{"ProductID":9,"Name":"Plum","Cost":1}'), id="gzip-sniffed"),
])
def test_stream_formats(products, fmt, data):
    receipt = products.ingest("Shop", "Products", data, data_format=fmt)
    assert receipt.rows == 1
    assert products.query("Shop", "Products | where ProductID == 9").frame["Name"].tolist() == ["Plum"]


@pytest.mark.parametrize("data", [gzip.compress(b"9,Plum,1\n")[:-4], gzip.compress(gzip.compress(b"9,Plum,1\n"))],
                         ids=["cut-short", "gzip-twice"])
def test_bad_gzip_is_refused_by_the_servers_rule(products, data):
    from kfx_notebook.errors import IngestionError

    with pytest.raises(IngestionError, match="not valid gzip"):
        products.ingest("Shop", "Products", data, data_format="csv")


def test_parquet(products):
    buffer = io.BytesIO()
    pd.DataFrame({"ProductID": [9], "Name": ["Plum"], "Cost": [1.0]}).to_parquet(buffer)
    assert products.ingest("Shop", "Products", buffer.getvalue(), data_format="parquet").rows == 1


def test_values_convert_to_column_types(local_db):
    local_db.query("Db", ".create table T (l:long, b:bool, t:datetime, s:timespan, d:dynamic, x:string)")
    local_db.ingest("Db", "T", b'{"l":"12","b":"True","t":"2024-05-06T07:08:09.1234567Z","s":"1.02:03:04.5",'
                               b'"d":{"k":[1]},"x":{"obj":1}}\n{"l":"not a number"}', data_format="multijson")
    frame = local_db.query("Db", "T").frame
    assert frame["l"].tolist()[0] == 12 and pd.isna(frame["l"].iloc[1])
    assert frame["b"].iloc[0] is True or frame["b"].iloc[0] == True  # noqa: E712
    assert frame["t"].iloc[0] == pd.Timestamp("2024-05-06T07:08:09.123456Z")
    assert frame["s"].iloc[0] == pd.Timedelta(days=1, hours=2, minutes=3, seconds=4.5)
    assert frame["d"].iloc[0] == {"k": [1]}
    assert json.loads(frame["x"].iloc[0]) == {"obj": 1}


def test_missing_table_is_created_from_json(local_db):
    local_db.ingest("Db", "Auto", b'{"a":1,"b":"x","c":1.5,"d":true,"e":{"k":1}}', data_format="json")
    assert local_db.query("Db", "Auto").column_types == [("a", "long"), ("b", "string"), ("c", "real"),
                                                         ("d", "bool"), ("e", "dynamic")]


def test_bad_json_is_a_clear_ingestion_error(products):
    with pytest.raises(IngestionError, match="Invalid JSON"):
        products.ingest("Shop", "Products", b'{"ProductID": 1,', data_format="json")
    assert products.query("Shop", "Products | count").frame.iloc[0, 0] == 3  # nothing lost


def test_csv_with_too_many_fields_is_refused(products):
    with pytest.raises(IngestionError, match="4 fields; table has 3 columns"):
        products.ingest("Shop", "Products", b"1,a,2,extra\n", data_format="csv")


def test_unsupported_format_is_refused(products):
    with pytest.raises(UnsupportedError, match="cannot ingest format 'avro'"):
        products.ingest("Shop", "Products", b"x", data_format="avro")


def every_type_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "l": pd.array([1, None, 9007199254740993], dtype="Int64"),
        "i": np.array([1, 2, 3], dtype="int64"),
        "r": [1.5, np.nan, -3.25],
        "b": pd.array([True, None, False], dtype="boolean"),
        "t_utc": pd.Series(pd.to_datetime(["2024-01-02T03:04:05.123456Z", None, "1999-12-31T23:59:59Z"],
                                          utc=True, format="ISO8601")).astype("datetime64[ns, UTC]"),
        "t_naive": pd.Series(pd.to_datetime(["2024-01-02 03:04:05", None, "2000-01-01 00:00:00"])).astype("datetime64[ns]"),
        "ts": pd.Series([-pd.Timedelta("1 days 00:00:00.5"), pd.NaT, pd.Timedelta("01:02:03.000004")],
                        dtype="timedelta64[ns]"),
        "dyn": [{"a": [1, 2], "ü": None}, None, [1, "x", {"y": True}]],
        "s": ["ü€ 漢字 \U0001F600", None, "line\nbreak"],
        "dec": [decimal.Decimal("1.25"), None, decimal.Decimal("123.450000000000000001")],
    })


def test_dataframe_round_trip_keeps_every_type(local_db):
    frame = every_type_frame()
    assert local_db.ingest("Db", "Every", frame, data_format="dataframe").rows == 3
    back = local_db.query("Db", "Every").frame
    expected = frame.copy()
    expected["t_naive"] = expected["t_naive"].dt.tz_localize("UTC")
    assert list(back.columns) == list(frame.columns)
    assert back["l"].dtype == "Int64" and back["l"].tolist()[0] == 1 and back["l"].iloc[2] == 9007199254740993
    assert back["i"].dtype == "int64"
    assert back["r"].iloc[0] == 1.5 and pd.isna(back["r"].iloc[1])
    assert back["b"].dtype == "boolean" and back["b"].tolist()[0] is True and back["b"].isna().iloc[1]
    pd.testing.assert_series_equal(back["t_utc"], expected["t_utc"])
    pd.testing.assert_series_equal(back["t_naive"], expected["t_naive"])
    pd.testing.assert_series_equal(back["ts"], expected["ts"])
    assert back["dyn"].tolist() == frame["dyn"].tolist()
    assert back["s"].iloc[0] == frame["s"].iloc[0] and back["s"].iloc[2] == "line\nbreak"
    assert back["s"].iloc[1] == ""  # Kusto's string has no null: None is stored as the empty string
    assert back["dec"].iloc[2] == decimal.Decimal("123.450000000000000001") and back["dec"].iloc[1] is None


def test_dataframe_with_unknown_column_is_refused(products):
    with pytest.raises(IngestionError, match="Extra"):
        products.ingest("Shop", "Products", pd.DataFrame({"ProductID": [1], "Extra": [2]}), data_format="dataframe")


# 5. errors ----------------------------------------------------------------------------------------
def test_syntax_error_has_code_and_position(products):
    with pytest.raises(KustoSyntaxError) as info:
        products.query("Shop", "Products\n| wherex Cost > 1")
    assert info.value.code == "BadRequest_SyntaxError"
    assert info.value.line == 2 and info.value.column is not None


@pytest.mark.parametrize("query, kind, name, position", [
    pytest.param("Products | where Price > 1", "column", "Price", (1, 18), id="unknown-column"),
    pytest.param("Prods | take 1", "table", "Prods", (1, 1), id="unknown-table"),
    # no FROM: DuckDB words it "was not found" (a bare null is no KQL literal: long(null) is)
    pytest.param("print x = null", "column", "null", (1, 11), id="unknown-name-in-print"),
    pytest.param("Products | extend x = nosuchfn(Cost)", "function", "nosuchfn", None, id="unknown-function"),
])
def test_unknown_entities_are_named(products, query, kind, name, position):
    with pytest.raises((UnknownEntityError, KustoSemanticError, UnsupportedError)) as info:
        products.query("Shop", query)
    assert name in str(info.value)
    if position:
        assert (info.value.line, info.value.column) == position


def test_error_position_maps_back_through_the_take_bridge(products):
    with pytest.raises(UnknownEntityError) as info:
        products.query("Shop", "declare query_parameters(n:long); Products | take n | where Nope == 1",
                       {"n": "100"})
    assert (info.value.line, info.value.column) == (1, 1 + info.value.text.index("Nope"))


def test_uuid_values_survive(local_db):
    local_db.query("Db", ".create table G (g:guid)")
    value = str(uuid.uuid4())
    local_db.ingest("Db", "G", json.dumps({"g": value}).encode(), data_format="json")
    assert local_db.query("Db", "G").frame["g"].tolist() == [value]


def test_query_rows_gives_python_values(products):
    types, rows = products.query_rows("Shop", "Products | where ProductID == 1 | extend T = datetime(2024-01-01)")
    assert types[-1] == ("T", "datetime")
    assert rows == [(1, "Apple", 1.5, dt.datetime(2024, 1, 1))]


def test_now_is_not_frozen_by_the_translation_cache(local_db):
    local_db.catalog.ensure_database("Db")
    first = local_db.query("Db", "print t = now()").frame["t"].iloc[0]
    while pd.Timestamp.now(tz="UTC") <= first:   # until the clock has moved past the first answer
        pass
    second = local_db.query("Db", "print t = now()").frame["t"].iloc[0]
    assert second > first


def test_bin_rewrite_gives_the_engines_answer(local_db):
    """optimize_sql replaces the engine's epoch arithmetic with time_bucket: the buckets must agree."""
    from kfx_notebook.backends.local import engine

    local_db.query("Db", ".create table E (t:datetime)")
    local_db.ingest("Db", "E", "\n".join(f"2023-12-31T{h:02d}:{m:02d}:17.5Z" for h in range(0, 24, 5)
                                         for m in (0, 29, 59)).encode(), data_format="csv")
    for span in ("1h", "15m", "1d", "7d", "90s"):
        kql = f"E | summarize n = count() by b = bin(t, {span}) | order by b asc"
        raw = engine._translate(kql, database="Db", schema=local_db.catalog.schema("Db"), parameters={},
                                functions=[])[0]
        assert "time_bucket" in raw  # the rewrite applied
        import duckdb_kql

        engine_sql = str(duckdb_kql.to_sql(kql, schema=local_db.catalog.schema("Db"), database="Db"))
        cur = local_db.cursor()
        assert cur.execute(raw).fetchall() == cur.execute(engine_sql).fetchall(), span
        cur.close()


def test_missing_table_infers_datetime_and_timespan_from_kusto_text(local_db):
    local_db.ingest("Db", "Auto", b'{"t":"2024-01-02T03:04:05.1234567Z","d":"1.02:03:04.5000000","s":"2024"}',
                    data_format="json")
    assert local_db.query("Db", "Auto").column_types == [("t", "datetime"), ("d", "timespan"), ("s", "string")]


def test_database_named_like_its_file_is_not_ambiguous(tmp_path):
    backend = LocalBackend.open(str(tmp_path / "shop.duckdb"))
    try:
        backend.query("Shop", ".create table T (a:long)")
        backend.ingest("Shop", "T", b'{"a": 1}', data_format="json")
        assert backend.query("Shop", "T | count").frame.iloc[0, 0] == 1
    finally:
        backend.close()


def test_duckdb_catalog_names_are_refused_as_databases(local_db):
    from kfx_notebook.errors import BindingError

    with pytest.raises(BindingError, match="reserved"):
        local_db.query("memory", ".create table T (a:long)")


def _parquet(frame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, data", [
    pytest.param("multijson", b'{"ProductID":9,"Name":null,"Cost":1}\n{"ProductID":10,"Cost":2}', id="json-null-and-missing"),
    pytest.param("csv", b"9,,1\n", id="csv-empty-field"),
    pytest.param("parquet", None, id="parquet-null"),
    pytest.param("dataframe", None, id="dataframe-none"),
])
def test_a_null_string_is_stored_as_the_empty_string_as_kusto_has_no_null_string(products, fmt, data):
    """The Kusto docs' "null values": the string type doesn't support null, so a binding that
    sends None for a string field reads back "" from a cluster (isempty true, isnull false)."""
    frame = pd.DataFrame({"ProductID": [9, 10], "Name": [None, None], "Cost": [1.0, 2.0]})
    if fmt == "parquet":
        data = _parquet(frame.astype({"Name": "string"}))
    products.ingest("Shop", "Products", frame if fmt == "dataframe" else data,
                    data_format="dataframe" if fmt == "dataframe" else fmt)
    answer = products.query("Shop", "Products | where ProductID >= 9 | order by ProductID asc "
                                    "| extend empty = isempty(Name), missing = isnull(Name)").frame
    assert answer["Name"].tolist() == [""] * len(answer) and len(answer) >= 1
    assert answer["empty"].all() and not answer["missing"].any()


def test_a_null_string_in_a_new_table_is_stored_as_the_empty_string(local_db):
    local_db.ingest("Db", "Fresh", pd.DataFrame({"s": ["a", None], "n": [1, None]}), data_format="dataframe")
    frame = local_db.query("Db", "Fresh | order by s asc").frame
    assert frame["s"].tolist() == ["", "a"] and frame["n"].isna().tolist() == [True, False]


def test_a_string_column_a_mapping_leaves_out_holds_the_empty_string(products):
    products.query("Shop", """.create table Products ingestion csv mapping "IdOnly" '[{"column":"ProductID","Properties":{"Ordinal":"0"}}]'""")
    products.ingest("Shop", "Products", b"12\n", data_format="csv", mapping_ref="IdOnly")
    answer = products.query("Shop", "Products | where ProductID == 12 | extend missing = isnull(Name)").frame
    assert answer["Name"].tolist() == [""] and not answer["missing"].any() and answer["Cost"].isna().all()


def test_a_query_answers_no_null_string_as_a_cluster_does(local_db):
    """Where DuckDB leaves a string null (an outer join's unmatched side, a union input without the
    column), the answer holds "" in every form: DataFrame, Arrow (serve's encoder) and rows."""
    local_db.query("Db", ".create table Anchor (k:long)")
    join = ("datatable(k:long, s:string)[1, 'a', 2, 'b'] | join kind=leftouter (datatable(k:long, t:string)"
            "[1, 'x']) on k | order by k asc")
    frame = local_db.query("Db", join).frame
    assert frame["t"].tolist() == ["x", ""] and frame["k1"].isna().tolist() == [False, True]
    _, table = local_db.query_table("Db", join)
    assert table.column("t").null_count == 0 and table.column("k1").null_count == 1
    union = "union (datatable(k:long)[1]), (datatable(k:long, s:string)[2, 'z']) | order by k asc"
    assert local_db.query_rows("Db", union)[1] == [(1, ""), (2, "z")]


def test_a_string_column_create_merge_adds_holds_the_empty_string(local_db):
    local_db.query("Db", ".create table Grown (x:long)")
    local_db.ingest("Db", "Grown", b"1\n", data_format="csv")
    local_db.query("Db", ".create-merge table Grown (x:long, y:string, z:long)")
    answer = local_db.query("Db", "Grown | extend missing = isnull(y), empty = isempty(y), no_z = isnull(z)").frame
    assert answer[["missing", "empty", "no_z"]].values.tolist() == [[False, True, True]]
