"""Binding-typical KQL through the real `%%kusto_input` magic on the embedded database, each query
parameterised the way a Functions binding is (`--kql-parameters "@name={name}"`), each expected
result the one the Kusto documentation shows for that pattern (or, where the docs show none, the
one Kusto's documented semantics give, written out by hand)."""

from __future__ import annotations

import pytest

from kfx_notebook.backends import clear_cache

from .magic_shell import loaded_shell

DB = "Orders"
ROWS = ('[{"Id": 1, "Customer": "ana", "Items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}], '
        '"Props": {"region": "eu", "tier": 1}, "Ts": "2024-01-01T00:10:00Z"},'
        ' {"Id": 2, "Customer": "bo", "Items": [{"sku": "a", "qty": 5}], '
        '"Props": {"region": "us", "tier": 2}, "Ts": "2024-01-01T01:20:00Z"},'
        ' {"Id": 3, "Customer": "ana", "Items": [{"sku": "c", "qty": 4}, {"sku": "a", "qty": 1}], '
        '"Props": {"region": "eu"}, "Ts": "2024-01-01T01:40:00Z"}]')
FUNCTIONS = (
    "LatestOrders(n:long) { Orders | top n by Ts desc | project Id }",
    "FirstOrders(n:long) { Orders | order by Id asc | take n | project Id }",
    "OrdersPerBin(span:timespan) { Orders | summarize Orders = count() by Bin = bin(Ts, span) | order by Bin asc }",
    "OrdersOf(t:(Id:long, Customer:string), who:string) { t | where Customer == who | project Id }",
)


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    """The process's shell, its connection setting at a fresh embedded database with Orders and
    the stored functions; the setting and the cached backend are undone afterwards."""
    from kfx_notebook.backends.local import LocalBackend

    sh = loaded_shell()
    db_file = str(tmp_path_factory.mktemp("bindings") / "orders.duckdb")
    mp = pytest.MonkeyPatch()
    clear_cache()
    mp.setenv("KustoConnectionString", f"Data Source=local:{db_file}")
    sh.capture(f"%%kusto_input made --database {DB}\n"
               ".create table Orders (Id:long, Customer:string, Items:dynamic, Props:dynamic, Ts:datetime)")
    sh.capture(f"%%kusto_output --database {DB} --table-name Orders\n{ROWS}")
    for definition in FUNCTIONS:
        sh.capture(f"%%kusto_input made --database {DB}\n.create function {definition}")
    yield sh
    LocalBackend.open(db_file).close()
    clear_cache()
    mp.undo()
    sh.user_ns.pop("result", None)


def run(shell, kql: str, **parameters) -> list[dict]:
    """The cell's DataFrame as records; each keyword is a notebook variable bound as @name={name}."""
    shell.user_ns.update(parameters)
    binding = ",".join(f"@{name}={{{name}}}" for name in parameters)
    option = f' --kql-parameters "{binding}"' if parameters else ""
    frame, _, _ = shell.capture(f"%%kusto_input result --database {DB}{option}\n{kql}")
    return frame.to_dict("records")


# -- parameters in take / top / bin inside stored functions; tabular and scalar parameters; views --
@pytest.mark.parametrize("kql, parameters, expected", [
    pytest.param("declare query_parameters(n:long);\nLatestOrders(n)", {"n": 2}, [{"Id": 3}, {"Id": 2}],
                 id="top-n-in-a-stored-function"),
    pytest.param("declare query_parameters(n:long);\nFirstOrders(n)", {"n": 1}, [{"Id": 1}],
                 id="take-n-in-a-stored-function"),
    pytest.param("declare query_parameters(span:timespan);\nOrdersPerBin(span) | project Orders", {"span": "1h"},
                 [{"Orders": 1}, {"Orders": 2}], id="bin-span-in-a-stored-function"),
    pytest.param("declare query_parameters(who:string);\nOrdersOf(Orders, who)", {"who": "ana"},
                 [{"Id": 1}, {"Id": 3}], id="stored-function-tabular-and-scalar-parameters"),
    pytest.param("declare query_parameters(who:string);\nOrdersOf(Orders | where Id > 1, who)", {"who": "ana"},
                 [{"Id": 3}], id="tabular-argument-is-a-pipeline"),
    pytest.param("declare query_parameters(k:long);\nlet Recent = view () { Orders | where Id > k };\n"
                 "Recent | count", {"k": 1}, [{"Count": 2}], id="let-view"),
    pytest.param("declare query_parameters(k:long);\nlet Above = (t:(Id:long), lim:long = 5) "
                 "{ t | where Id > k | take lim | project Id };\nAbove(Orders, 1)", {"k": 1}, [{"Id": 2}],
                 id="let-function-tabular-parameter-and-default"),
])
def test_functions_views_and_parameters(shell, kql, parameters, expected):
    assert run(shell, kql, **parameters) == expected


# -- mv-expand / mv-apply over dynamic columns ------------------------------------------------------
def test_mv_expand_a_dynamic_column_with_a_parameter(shell):
    got = run(shell, "declare query_parameters(sku:string);\nOrders | mv-expand item = Items "
                     "| where tostring(item.sku) == sku | project Id, qty = tolong(item.qty)", sku="a")
    assert got == [{"Id": 1, "qty": 2}, {"Id": 2, "qty": 5}, {"Id": 3, "qty": 1}]


# The documentation's mv-apply examples (mv-apply-operator.md), their tables as the page shows them.
ARRAYS = "datatable (index: int, Arr: dynamic)[0, dynamic([5, 1, 3]), 1, dynamic([4, 10, 8, 7])]"


@pytest.mark.parametrize("sub, expected", [
    pytest.param("top 2 by Arr2 | summarize Top2 = make_list(Arr2)",
                 [{"index": 0, "Arr": [5, 1, 3], "Top2": [5, 3]}, {"index": 1, "Arr": [4, 10, 8, 7], "Top2": [10, 8]}],
                 id="docs-top-two-elements"),
    pytest.param("top 1 by Arr2", [{"index": 0, "Arr": [5, 1, 3], "Arr2": 5}, {"index": 1, "Arr": [4, 10, 8, 7], "Arr2": 10}],
                 id="docs-largest-element"),
    pytest.param("order by Arr2 asc | take 1", [{"index": 0, "Arr": [5, 1, 3], "Arr2": 1},
                                                {"index": 1, "Arr": [4, 10, 8, 7], "Arr2": 4}],
                 id="order-by-then-take"),
    pytest.param("where Arr2 > 4 | extend Double = Arr2 * 2 | summarize Total = sum(Double), Items = count()",
                 [{"index": 0, "Arr": [5, 1, 3], "Total": 10, "Items": 1},
                  {"index": 1, "Arr": [4, 10, 8, 7], "Total": 50, "Items": 3}],
                 id="where-extend-summarize"),
    pytest.param("summarize count() by Odd = Arr2 % 2",
                 [{"index": 0, "Arr": [5, 1, 3], "Odd": 1, "count_": 3},
                  {"index": 1, "Arr": [4, 10, 8, 7], "Odd": 0, "count_": 3},
                  {"index": 1, "Arr": [4, 10, 8, 7], "Odd": 1, "count_": 1}],
                 id="summarize-by-keys-default-name"),
])
def test_mv_apply_subqueries(shell, sub, expected):
    got = run(shell, f"{ARRAYS}\n| mv-apply Arr2 = Arr to typeof(long) on ({sub})")
    key = lambda row: tuple(sorted((k, str(v)) for k, v in row.items()))  # noqa: E731
    assert sorted(got, key=key) == sorted(expected, key=key)
    assert list(got[0]) == list(expected[0])  # source columns first, then the subquery's


def test_mv_apply_docs_two_arrays_joined_into_one_list(shell):
    got = run(shell, "datatable (Val: int, Arr1: dynamic, Arr2: dynamic)\n"
                     "[1, dynamic(['A1', 'A2']), dynamic(['B1', 'B2', 'B3']), 5, dynamic(['C1', 'C2']), dynamic(['D1'])]\n"
                     "| mv-apply T1 = Arr1, T2 = Arr2 on (extend Out = strcat(T1, '_', T2) | summarize Out = make_list(Out))")
    assert got == [{"Val": 1, "Arr1": ["A1", "A2"], "Arr2": ["B1", "B2", "B3"], "Out": ["A1_B1", "A2_B2", "_B3"]},
                   {"Val": 5, "Arr1": ["C1", "C2"], "Arr2": ["D1"], "Out": ["C1_D1", "C2_"]}]


def test_mv_apply_in_place_expansion_replaces_its_column_and_takes_a_parameter(shell):
    got = run(shell, "declare query_parameters(minimum:long);\nOrders\n"
                     "| mv-apply Items on (where tolong(Items.qty) >= minimum | summarize Units = sum(tolong(Items.qty)) by Sku = tostring(Items.sku))\n"
                     "| project Id, Sku, Units", minimum=2)
    assert sorted(map(tuple, (r.values() for r in got))) == [(1, "a", 2), (2, "a", 5), (3, "c", 4)]


def test_mv_apply_summarize_over_an_empty_subtable_is_refused_not_guessed(shell):
    """Kusto's summarize without keys answers one row over an empty subtable (count 0, sum null):
    the per-row stage cannot know that row's aggregates, so it refuses rather than drop the row."""
    error, shown = shell.failure(f"%%kusto_input result --database {DB}\n"
                                 f"{ARRAYS}\n| mv-apply v = Arr to typeof(long) on (where v > 9 | summarize count())")
    assert "summarize over a row whose subtable is empty" in str(error)
    assert "Traceback" not in shown


# -- bag_unpack, make_set / make_list / arg_max(x, *), parse_json navigation -----------------------
def test_bag_unpack_docs_example(shell):
    """bag-unpack-plugin.md: the slots become columns in name order."""
    got = run(shell, 'datatable(d:dynamic)[dynamic({"Name": "John", "Age":20}), dynamic({"Name": "Dave", "Age":40}),'
                     ' dynamic({"Name": "Jasmine", "Age":30})]\n| evaluate bag_unpack(d)')
    assert got == [{"Age": 20, "Name": "John"}, {"Age": 40, "Name": "Dave"}, {"Age": 30, "Name": "Jasmine"}]


def test_bag_unpack_a_stored_column_then_filter_by_a_parameter(shell):
    got = run(shell, "declare query_parameters(wanted:string);\nOrders | project Id, Props\n"
                     "| evaluate bag_unpack(Props) | where region == wanted | project Id, tier", wanted="eu")
    assert [row["Id"] for row in got] == [1, 3]
    assert got[0]["tier"] == 1


def test_make_set_make_list_and_arg_max_star(shell):
    got = run(shell, "declare query_parameters(who:string);\nOrders | where Customer == who\n"
                     "| summarize make_set(Customer), make_list(Id)", who="ana")
    assert got == [{"set_Customer": ["ana"], "list_Id": [1, 3]}]
    latest = run(shell, "Orders | summarize arg_max(Ts, *) by Customer | project Customer, Id | order by Customer asc")
    assert latest == [{"Customer": "ana", "Id": 3}, {"Customer": "bo", "Id": 2}]


def test_parse_json_navigation(shell):
    """parse-json-function.md's pattern: a JSON string column, navigated by name and index."""
    got = run(shell, "declare query_parameters(key:string);\n"
                     "print j = '{\"a\": {\"b\": [10, 20]}, \"c\": \"x\"}'\n"
                     "| extend d = parse_json(j) | project second = tolong(d.a.b[1]), c = tostring(d[key])", key="c")
    assert got == [{"second": 20, "c": "x"}]
