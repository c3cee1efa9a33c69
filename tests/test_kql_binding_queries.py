"""Binding-typical KQL on the embedded database: stored and let functions the KQL layer expands,
views, bag_unpack by pipeline splitting, make_set/make_list/arg_max, parse_json navigation."""

from __future__ import annotations

import pandas as pd
import pytest

from kfx_notebook.backends.local import LocalBackend
from kfx_notebook.errors import KfxError, KustoSemanticError, UnsupportedError

DB = "Bind"
ROWS = (b'{"Id":1,"Name":"a","Props":{"x":1,"tags":["p","q"]},"Ts":"2024-01-01T00:00:00Z"}\n'
        b'{"Id":2,"Name":"b","Props":{"x":2,"tags":["r"]},"Ts":"2024-01-01T02:00:00Z"}\n'
        b'{"Id":3,"Name":"a","Props":{"x":3.5,"y":"s"},"Ts":"2024-01-01T02:30:00Z"}')


@pytest.fixture(scope="module")
def db():
    backend = LocalBackend(None)
    backend.query(DB, ".create table T (Id:long, Name:string, Props:dynamic, Ts:datetime)")
    backend.ingest(DB, "T", ROWS, data_format="multijson")
    for definition in ("TopN(n:long) { T | top n by Id desc | project Id }",
                       "TakeSome(n:long = 2) { T | order by Id asc | take n | project Id }",
                       "Bins(span:timespan) { T | summarize c=count() by b=bin(Ts, span) | order by b asc }",
                       "Above(t:(Id:long), k:long) { t | where Id > k | project Id }"):
        backend.query(DB, f".create function {definition}")
    yield backend
    backend.close()


def records(db, kql, parameters=None):
    return db.query(DB, kql, parameters).frame.to_dict("records")


@pytest.mark.parametrize("kql, parameters, expected", [
    ("TopN(2)", None, [{"Id": 3}, {"Id": 2}]),
    ("declare query_parameters(n:long); TopN(n)", {"n": "1"}, [{"Id": 3}]),
    ("TakeSome()", None, [{"Id": 1}, {"Id": 2}]),
    ("declare query_parameters(n:long); TakeSome(n) | count", {"n": "1"}, [{"Count": 1}]),
    ("Bins(1h) | project c", None, [{"c": 1}, {"c": 2}]),
    ("Above(T, 1)", None, [{"Id": 2}, {"Id": 3}]),
    ("Above(T | where Name == 'a', 0)", None, [{"Id": 1}, {"Id": 3}]),
    ("let V = view () { T | where Id > 1 }; V | count", None, [{"Count": 2}]),
    ("let V = view () { T | where Id > 1 }; V() | count", None, [{"Count": 2}]),
    (("let k = 1; let G = (t:(Id:long), lim:long = 5) { t | where Id > k | take lim | project Id }; "
      "G(T, 1) | union G(T) | count"), None, [{"Count": 3}]),
])
def test_functions_views_and_parameters(db, kql, parameters, expected):
    assert records(db, kql, parameters) == expected


def test_a_stored_function_with_a_tabular_parameter_is_stored_and_listed(db):
    names = db.query(DB, ".show functions").frame["Name"].tolist()
    assert "Above" in names


def test_mv_expand_make_set_make_list_arg_max_and_parse_json(db):
    assert records(db, "T | where Id < 3 | mv-expand tag = Props.tags to typeof(string) | project Id, tag") == [
        {"Id": 1, "tag": "p"}, {"Id": 1, "tag": "q"}, {"Id": 2, "tag": "r"}]
    got = records(db, "T | summarize make_set(Name), make_list(Id), arg_max(Id, Name)")
    assert got == [{"set_Name": ["a", "b"], "list_Id": [1, 2, 3], "Id": 3, "Name": "a"}]
    assert records(db, "T | where Id == 1 | project v = parse_json('{\"a\":{\"b\":[1,2]}}').a.b[1], "
                       "w = Props['x']") == [{"v": 2, "w": 1}]


# -- bag_unpack ---------------------------------------------------------------------------------------
def test_bag_unpack_columns_follow_the_input_in_name_order_with_slot_types(db):
    result = db.query(DB, "T | project Id, Props | evaluate bag_unpack(Props) | order by Id asc")
    assert [n for n, _ in result.column_types] == ["Id", "tags", "x", "y"]
    assert dict(result.column_types)["y"] == "string"
    assert dict(result.column_types)["x"] == "dynamic"  # long in one row, real in another
    assert result.frame["y"].tolist()[2] == "s"


def test_bag_unpack_prefix_ignored_properties_and_the_rest_of_the_pipeline(db):
    got = records(db, "T | where Id < 3 | project Id, Props "
                      "| evaluate bag_unpack(Props, 'p_', ignoredProperties=dynamic(['tags'])) | where p_x > 1")
    assert got == [{"Id": 2, "p_x": 2}]


def test_bag_unpack_conflicts(db):
    kql = ("datatable(Name:string, d:dynamic)['James', dynamic({{'Name': 'John', 'Age': 20}})] "
           "| evaluate bag_unpack(d{})")
    with pytest.raises(KustoSemanticError, match="conflicts"):
        db.query(DB, kql.format(""))
    assert records(db, kql.format(", columnsConflict='keep_source'")) == [{"Name": "James", "Age": 20}]
    assert records(db, kql.format(", columnsConflict='replace_source'")) == [{"Age": 20, "Name": "John"}]


def test_bag_unpack_slot_names_stay_data(db):
    """A slot named like KQL is a column name, never query text."""
    got = db.query(DB, "print d=dynamic({'a\\\"] | take 0 //': 1, \"it's\": 2}) | evaluate bag_unpack(d)")
    assert sorted(got.frame.columns) == ["a\"] | take 0 //", "it's"]
    assert len(got.frame) == 1


def test_bag_unpack_refuses_what_it_does_not_implement(db):
    with pytest.raises(UnsupportedError, match="output schema"):
        db.query(DB, "T | evaluate bag_unpack(Props) : (x:long)")
    with pytest.raises(KfxError):
        db.query(DB, "T | evaluate bag_unpack(Props, columnsConflict='merge')")


# -- parse-kv ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kql, expected", [
    (("print s='ThreadId:458745723, Machine:Node001, Text: The service is up' | parse-kv s as "
      "(Text: string, ThreadId:long, Missing:string, Gone:long) with (pair_delimiter=',', kv_delimiter=':') "
      "| project-away s"),
     [{"Text": "The service is up", "ThreadId": 458745723, "Missing": "", "Gone": None}]),
    (("print s='a=1 b=\"x y\" \"c d\"=\"q \\\\\"z\\\\\"\"' | parse-kv s as (b:string, ['c d']:string, a:int) "
      "with (pair_delimiter=' ', kv_delimiter='=', quote='\"', escape='\\\\') | project-away s"),
     [{"b": "x y", "c d": 'q "z"', "a": 1}]),
])
def test_parse_kv_with_delimiters(db, kql, expected):
    got = records(db, kql)
    assert [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in got] == expected


def test_parse_kv_without_delimiters_is_refused_with_its_position(db):
    with pytest.raises(UnsupportedError, match="parse-kv needs") as info:
        db.query(DB, "print s='a:1'\n| parse-kv s as (a:long)")
    assert (info.value.line, info.value.column) == (2, 1)


# -- project-by-names ---------------------------------------------------------------------------------
def test_project_by_names_orders_by_pattern_then_input(db):
    result = db.query(DB, "T | project-by-names 'Ts', 'N*', \"I*\" | take 1")
    assert [n for n, _ in result.column_types] == ["Ts", "Name", "Id"]
    with pytest.raises(KustoSemanticError, match="no column named 'Nope'"):
        db.query(DB, "T | project-by-names 'Nope'")


# -- mv-apply -----------------------------------------------------------------------------------------
ARRAYS = "datatable(row:int, Arr:dynamic)[0, dynamic([5, 1, 3]), 1, dynamic([4, 10, 8, 7]), 2, dynamic([])]"


@pytest.mark.parametrize("sub, expected", [
    ("where v >= 4", [(0, 5), (1, 4), (1, 10), (1, 8), (1, 7)]),
    ("take 1", [(0, 5), (1, 4)]),
    ("top 2 by v", [(0, 5), (0, 3), (1, 10), (1, 8)]),
    ("top 1 by v asc", [(0, 1), (1, 4)]),
    ("extend w = v * 2 | where w > 15 | project-away w", [(1, 10), (1, 8)]),
])
def test_mv_apply_applies_the_subquery_to_each_rows_items(db, sub, expected):
    got = records(db, f"{ARRAYS} | mv-apply v = Arr to typeof(long) on ({sub}) | project row, v")
    assert sorted((r["row"], r["v"]) for r in got) == sorted(expected)


def test_mv_apply_keeps_the_source_columns_and_composes_with_the_rest(db):
    result = db.query(DB, f"{ARRAYS} | mv-apply with_itemindex=i v = Arr to typeof(long) on (where i >= 2)"
                          " | summarize n = count() by row")
    assert sorted(map(tuple, result.frame.values.tolist())) == [(0, 1), (1, 2)]
    columns = db.query(DB, f"{ARRAYS} | mv-apply v = Arr to typeof(long) on (take 1)").column_types
    assert [n for n, _ in columns] == ["row", "Arr", "v"]


def test_mv_apply_refuses_other_subquery_operators(db):
    with pytest.raises(UnsupportedError, match="mv-apply with project"):
        db.query(DB, f"{ARRAYS} | mv-apply v = Arr to typeof(long) on (project v)")
    with pytest.raises(UnsupportedError, match="after the summarize"):
        db.query(DB, f"{ARRAYS} | mv-apply v = Arr to typeof(long) on (summarize c = count() by v | where c > 1)")


# -- pack_all -----------------------------------------------------------------------------------------
def test_pack_all_documentation_example(db):
    """pack-all-function.md: every column in order; with true, null and empty columns left out."""
    got = records(db, "datatable(Source:string,Target:string,CharsCount:long)['555-1234','555-1212',46,"
                      "'555-1313','',42, '',  '555-3456', long(null)] "
                      "| extend Packed=pack_all(), PackedIgnoreNullEmpty=pack_all(true) | project-away Source, Target")
    assert [list(r["Packed"]) for r in got] == [["Source", "Target", "CharsCount"]] * 3
    assert got[1]["Packed"] == {"Source": "555-1313", "Target": "", "CharsCount": 42}
    assert [r["PackedIgnoreNullEmpty"] for r in got] == [
        {"Source": "555-1234", "Target": "555-1212", "CharsCount": 46},
        {"Source": "555-1313", "CharsCount": 42},
        {"Target": "555-3456"}]


def test_pack_all_sees_the_operators_input_after_other_stages(db):
    got = records(db, "T | where Id == 1 | project Id, Name | extend b = tostring(pack_all()) | project b")
    assert got == [{"b": '{"Id":1,"Name":"a"}'}]
    got = records(db, f"{ARRAYS} | mv-apply v = Arr to typeof(long) on (take 1) | extend p = pack_all(true) "
                      "| project p")
    assert got == [{"p": {"row": 0, "Arr": [5, 1, 3], "v": 5}}, {"p": {"row": 1, "Arr": [4, 10, 8, 7], "v": 4}}]


@pytest.mark.parametrize("kql", [
    "T | extend p = pack_all(1)",
    "let x = T | extend p = pack_all(); x",
    "print p = pack_all()",
    "T | union (T | extend p = pack_all())",
])
def test_pack_all_where_its_columns_are_not_known_is_refused(db, kql):
    with pytest.raises(UnsupportedError, match=r"pack_all\(\)"):
        db.query(DB, kql)


# -- error positions after function expansion ---------------------------------------------------------
@pytest.mark.parametrize("kql, at", [
    ("let G = (t:(Id:long)) { t | extend y = Id };\nG(T)\n| extend z = (1 +)", ")"),
    ("let V = view () { T };\nV | extend z = ,", ","),
    ("Above(T, 1)\n| extend z = ,", ","),
    ("print a = 1 | union Above(T | where Id > 0, 1)\n| extend z = ,", ","),
    ("let G = (t:(Id:long)) { t | extend y = (Id + ) };\nT | union G(T)", "G(T)"),  # inside the body: the call
])
def test_an_error_after_function_expansion_points_into_the_users_text(db, kql, at):
    with pytest.raises(KfxError) as caught:
        db.query(DB, kql)
    line, column = caught.value.line, caught.value.column
    assert kql.split("\n")[line - 1][column - 1:].startswith(at)
