"""The KQL layer over duckdb-kql: every function row, the literal rewrites, dynamic results."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from kfx_notebook.backends.local.kql import DUCKDB_KQL_VERSION, install
from kfx_notebook.backends.local.kql.functions import FUNCTIONS
from kfx_notebook.backends.local.kql.udfs import UDFS
from kfx_notebook.errors import KustoSyntaxError, UnsupportedError

DB = "KqlDB"


@pytest.fixture(scope="module")
def engine(kql_engine):
    return kql_engine


def rows(engine, kql):
    types, values = engine.query_rows(DB, kql)
    return types, [tuple(_plain(v, t) for v, (_, t) in zip(row, types)) for row in values]


def _plain(value, kusto_type):
    import json

    if kusto_type == "dynamic" and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _same(got, want) -> bool:
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    if isinstance(want, float) and isinstance(got, float):
        return (math.isnan(want) and math.isnan(got)) or math.isclose(got, want, rel_tol=1e-12)
    return got == want


# -- every row of the functions table ---------------------------------------------------------------
@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in FUNCTIONS.values()])
def test_function_row_answers_its_example(engine, row):
    types, got = rows(engine, row.example)
    assert len(got) == len(row.expected), got
    for got_row, want_row in zip(got, row.expected):
        tail = got_row[len(got_row) - len(want_row):]
        assert all(_same(g, w) for g, w in zip(tail, want_row)), (tail, want_row)
    if row.returns in ("bool", "int", "long", "real", "string", "dynamic", "datetime", "timespan"):
        assert types[-1][1] == row.returns


def test_case_of_arguments_is_kept(engine):
    """Lookups are case-sensitive: bag keys, replace_strings lookups, IPv6 hex digits are not."""
    _, got = rows(engine, "print bag_has_key(dynamic({'Key':1}), 'key'), replace_strings('aA', dynamic(['a']), "
                          "dynamic(['b'])), ipv6_is_match('FE80::1', 'fe80::1')")
    assert got == [(False, "bA", True)]


def test_every_udf_is_called_by_a_row():
    templates = " ".join(r.sql for r in FUNCTIONS.values())
    assert [name for name in UDFS if name + "(" not in templates] == []


def test_install_refuses_another_duckdb_kql_version(monkeypatch):
    import duckdb_kql

    from kfx_notebook.backends.local import kql

    assert duckdb_kql.__version__ == DUCKDB_KQL_VERSION  # pinned exactly in pyproject.toml
    monkeypatch.setattr(kql, "_installed", False)
    monkeypatch.setattr(duckdb_kql, "__version__", "9.9.9")
    with pytest.raises(RuntimeError, match="duckdb-kql==1.1.2"):
        install()


def test_install_reaches_the_tables_it_extends():
    from duckdb_kql.translate.functions import AGGREGATE_FUNCTIONS, SCALAR_FUNCTIONS

    install()
    for row in FUNCTIONS.values():
        table = AGGREGATE_FUNCTIONS if row.aggregate else SCALAR_FUNCTIONS
        assert row.name in table


# -- traps ------------------------------------------------------------------------------------------
def test_nulls_give_null(engine):
    _, got = rows(engine, "print a=ipv4_is_match(tostring(dynamic(null)), '1.2.3.4'), b=tohex(long(null)), "
                          "c=string_size(tostring(dynamic(null))), d=bag_zip(dynamic(null), dynamic([1]))")
    assert got == [(None, "", 0, None)]  # tostring(null) is "" in Kusto; a string is never null (tohex)


def test_empty_input_to_the_new_aggregates(engine):
    _, got = rows(engine, "datatable(x:long, y:long)[] | summarize variancep(x), covariance(x, y), s=make_set_if(x, x > 1)")
    assert got == [(0.0, 0.0, [])]


def test_default_names_join_both_arguments_and_refuse_expressions(engine):
    types, _ = rows(engine, "datatable(x:long, y:long)[1, 2] | summarize covariance(x, y), variancep(x), count()")
    assert [n for n, _ in types] == ["covariance_x_y", "variance_x", "count_"]
    with pytest.raises(UnsupportedError):
        engine.query_rows(DB, "datatable(x:long, y:long)[1, 2] | summarize covariance(x + 1, y)")


def test_bin_at_keeps_the_fixed_point_and_integer_steps(engine):
    _, got = rows(engine, "datatable(d:datetime)[datetime(2018-02-24T15:24), datetime(2018-02-23T16:14)]"
                          " | summarize count() by b=bin_at(d, 1d, datetime(2018-02-24 15:14)) | order by b asc")
    assert got == [("2018-02-23T15:14:00", 1), ("2018-02-24T15:14:00", 1)]
    _, got = rows(engine, "print bin_at(time(1h), 1d, 12h)")
    assert got == [(dt.timedelta(hours=-12),)]


def test_bin_at_bins_numbers_in_their_widest_type(engine):
    """bin-at-function.md: `bin_at(6.5, 2.5, 7)` is 4.5. Integers stay exact longs (above 2^53 too),
    one real operand makes a real (Kusto.Language: the widest of the three), an int a long."""
    types, got = rows(engine, "print a=bin_at(6.5, 2.5, 7), b=bin_at(7, 5, 0), c=bin_at(-7, 5, 1), "
                              "d=bin_at(9007199254740993, 1, 0), e=bin_at(6.5, 2, 7), f=bin_at(7, 2.5, 0), "
                              "g=bin_at(7, 2.5, 7), h=bin_at(int(7), int(5), int(1)), i=bin_at(long(null), 5, 0)")
    assert got == [(4.5, 5, -9, 9007199254740993, 5.0, 5.0, 7.0, 6, None)]
    assert [t for _, t in types] == ["real", "long", "long", "long", "real", "real", "real", "long", "long"]
    _, got = rows(engine, "datatable(x:long, y:real)[1, 1.0, 4, 4.5, 9, -0.5] "
                          "| summarize count() by b=bin_at(x, 3, 1), r=bin_at(y, 0.5, 0.25) | order by b asc")
    assert got == [(1, 0.75, 1), (4, 4.25, 1), (7, -0.75, 1)]


def test_bin_at_keeps_datetimes_exact_across_their_whole_range(engine):
    """A microsecond bin ten thousand years from its fixed point: k beyond DuckDB's INT32 interval
    factor and beyond a double's 2^53 (a floor of doubles answered 1 BC here)."""
    _, got = rows(engine, "print a=bin_at(datetime(0001-01-01 00:00:00.000001), 1microsecond, datetime(9999-12-31 23:59:59.999999)), "
                          "b=bin_at(datetime(9999-12-31 23:59:59.999999), 1microsecond, datetime(0001-01-01)), "
                          "c=bin_at(datetime(2017-05-17 10:20:00.123456), 1microsecond, datetime(2017-06-04)), "
                          "d=bin_at(datetime(9999-12-31 23:59:59.999999), 7d, datetime(0001-01-01))")
    assert got == [("0001-01-01T00:00:00.000001", "9999-12-31T23:59:59.999999", "2017-05-17T10:20:00.123456",
                    "9999-12-27T00:00:00")]


def test_bin_at_of_a_timespan_size_and_a_datetime_fixed_point_is_a_time_bucket_with_the_rows_answers(engine):
    """The special form (time_bucket, kql._bin_at_on_time_buckets) and the function row's template
    (reached when the size and fixed point are columns, which the engine cannot type) agree."""
    import random

    from duckdb_kql.translate import _SPECIAL_FORMS

    from kfx_notebook.backends.local import kql as layer

    install()
    assert getattr(_SPECIAL_FORMS["bin_at"], layer._TIME_BUCKETS, False)
    pick = random.Random(25)
    values = [(dt.datetime(2000, 1, 1) + dt.timedelta(microseconds=pick.randrange(-10**16, 10**16)),
               pick.choice([dt.timedelta(hours=1), dt.timedelta(minutes=90), dt.timedelta(days=7),
                            dt.timedelta(microseconds=1), dt.timedelta(seconds=pick.randrange(1, 10**6))]),
               dt.datetime(2000, 1, 1) + dt.timedelta(microseconds=pick.randrange(-10**16, 10**16)))
              for _ in range(40)]
    literal = ", ".join(f"bin_at(datetime({v.isoformat()}), {s.total_seconds() * 1e6:.0f}microseconds, "
                        f"datetime({f.isoformat()}))" for v, s, f in values)
    assert "time_bucket(" in engine._translate(DB, f"print {literal}", None, {})[0]
    _, bucketed = rows(engine, f"print {literal}")
    table = "datatable(v:datetime, s:timespan, f:datetime)[" + ", ".join(
        f"datetime({v.isoformat()}), {s.total_seconds() * 1e6:.0f}microseconds, datetime({f.isoformat()})"
        for v, s, f in values) + "]"
    assert "time_bucket(" not in engine._translate(DB, f"{table} | project b = bin_at(v, s, f)", None, {})[0]
    _, by_row = rows(engine, f"{table} | project b = bin_at(v, s, f)")
    assert list(bucketed[0]) == [row[0] for row in by_row]


def test_bin_at_refuses_what_it_cannot_answer_as_kusto(engine):
    for kql in ("print bin_at(7, 0, 0)", "print bin_at(7.5, -2.5, 0.0)", "print bin_at(datetime(2017-05-17), 0s, datetime(2017-06-04))",
                "print bin_at(1e300, 1e-300, 0.0)", "print bin_at(datetime(2017-05-17), 1d, 12h)"):
        with pytest.raises(Exception, match="unsupported"):
            engine.query_rows(DB, kql)


def test_datetime_diff_counts_sunday_week_boundaries(engine):
    """datetime-diff-function.md's example, every part it shows (a Kusto week starts on Sunday:
    `week` is 5 there, where Monday weeks give 4), and the boundaries around one Sunday."""
    _, got = rows(engine, "print year = datetime_diff('year',datetime(2017-01-01),datetime(2000-12-31)), "
                          "quarter = datetime_diff('quarter',datetime(2017-07-01),datetime(2017-03-30)), "
                          "month = datetime_diff('month',datetime(2017-01-01),datetime(2015-12-30)), "
                          "week = datetime_diff('week',datetime(2017-10-29 00:00),datetime(2017-09-30 23:59)), "
                          "day = datetime_diff('day',datetime(2017-10-29 00:00),datetime(2017-09-30 23:59)), "
                          "hour = datetime_diff('hour',datetime(2017-10-31 01:00),datetime(2017-10-30 23:59)), "
                          "minute = datetime_diff('minute',datetime(2017-10-30 23:05:01),datetime(2017-10-30 23:00:59)), "
                          "second = datetime_diff('second',datetime(2017-10-30 23:00:10.100),datetime(2017-10-30 23:00:00.900)), "
                          "millisecond = datetime_diff('millisecond',datetime(2017-10-30 23:00:00.200100),"
                          "datetime(2017-10-30 23:00:00.100900)), "
                          "microsecond = datetime_diff('microsecond',datetime(2017-10-30 23:00:00.1009001),"
                          "datetime(2017-10-30 23:00:00.1008009))")
    assert got == [(17, 2, 13, 5, 29, 2, 5, 10, 100, 100)]
    # 2017-10-01 and 1969-12-28 are Sundays; the part is case-insensitive
    types, got = rows(engine, "print a=datetime_diff('week', datetime(2017-10-01), datetime(2017-09-30)), "
                              "b=datetime_diff('week', datetime(2017-09-30), datetime(2017-10-01)), "
                              "c=datetime_diff('Week', datetime(2017-10-07 23:59:59), datetime(2017-10-01)), "
                              "d=datetime_diff('WEEK', datetime(1969-12-28), datetime(1969-12-27 23:59)), "
                              "e=datetime_diff('week', datetime(2017-10-01), datetime(null))")
    assert got == [(1, -1, 0, 1, None)]
    assert {t for _, t in types} == {"long"}
    _, got = rows(engine, "datatable(a:datetime, b:datetime)[datetime(2024-06-02), datetime(2024-06-01), "
                          "datetime(2024-06-08), datetime(2024-06-03)] | project w=datetime_diff('week', a, b)")
    assert got == [(1,), (0,)]


def test_the_week_form_of_datetime_diff_wraps_duckdb_kqls_special_form():
    # An internal of duckdb-kql: if an upgrade moves it, this fails before a Monday week is counted.
    from duckdb_kql.translate import _SPECIAL_FORMS

    install()
    assert getattr(_SPECIAL_FORMS["datetime_diff"], "kfx_sunday_weeks", False)


def test_ambiguous_local_time_is_refused(engine):
    with pytest.raises(Exception, match="happens twice"):
        engine.query(DB, "print datetime_local_to_utc(datetime(2022-10-30 02:30), 'Europe/Brussels')")


def test_tohex_is_twos_complement_in_the_values_width(engine):
    _, got = rows(engine, "print tohex(-256), tohex(toint(-256), 8), tohex(256, 2)")
    assert got == [("ffffffffffffff00", "ffffff00", "100")]


def test_ipv4_text_rules(engine):
    _, got = rows(engine, "print has_ipv4('05:04:54127.0.0.1 GET', '127.0.0.1'), "
                          "has_ipv4('a 127.0.0.256 b', '127.0.0.256'), has_ipv4_prefix('a 127.0.0.1 b', '127.0')")
    assert got == [(False, False, False)]


# -- string literals --------------------------------------------------------------------------------
@pytest.mark.parametrize("literal, value", [
    (r'"Hello\u00A0World"', "Hello\u00a0World"),
    (r"'it\'s'", "it's"),
    (r'"tab\there"', "tab\there"),
    ('h"secret"', "secret"),
    ("H'secret'", "secret"),
    ('h@"c:\\x"', "c:\\x"),
    ('@"c:\\u00A0"', "c:\\u00A0"),
    ("```\nline 1\n  line 2```", "\nline 1\n  line 2"),
    ('"a" h"b" ```c```', "abc"),
])
def test_string_literal_forms(engine, literal, value):
    _, got = rows(engine, f"print s={literal}")
    assert got == [(value,)]


def test_unknown_escape_is_refused_with_its_position(engine):
    with pytest.raises(UnsupportedError, match=r"escape \\q") as info:
        engine.query(DB, 'print a=1\n| extend s="a\\qb"')
    assert (info.value.line, info.value.column) == (2, 14)


def test_error_positions_after_a_rewrite_point_at_the_users_text(engine):
    with pytest.raises(KustoSyntaxError) as info:
        engine.query(DB, 'print s="\\u0041" | where')
    assert info.value.line == 1 and info.value.column is not None and info.value.column >= 18


def test_literals_in_comments_are_left_alone(engine):
    _, got = rows(engine, 'print s="x" // h"not a string" \\q')
    assert got == [("x",)]


# -- dynamic results (issue 12: they crashed frame_from_arrow) ----------------------------------------
@pytest.mark.parametrize("kql, value", [
    ("datatable(n:long)[1,2] | summarize l = make_list(n)", [1, 2]),
    ('print split("a,b", ",")', ["a", "b"]),
])
def test_dynamic_lists_come_back_as_python_lists(engine, kql, value):
    result = engine.query(DB, kql)
    assert result.column_types[-1][1] == "dynamic"
    assert result.frame.iloc[0, -1] == value
    assert rows(engine, kql)[1] == [(value,)]


@pytest.mark.parametrize("kql, written, meant", [
    ('print ToUpper("a")', "ToUpper", "toupper"),
    ("print c = 1 | summarize COUNT()", "COUNT", "count"),
    ("print x = 1 | extend y = Bin(x, 2)", "Bin", "bin"),  # a special form, not a table row
    ("print x = Geo_Point_To_H3cell(1.0, 2.0, 3)", "Geo_Point_To_H3cell", "geo_point_to_h3cell"),  # a layer row
])
def test_builtin_function_names_are_case_sensitive(engine, kql, written, meant):
    from kfx_notebook.errors import UnknownEntityError

    with pytest.raises(UnknownEntityError, match=f"Unknown function: '{written}'") as caught:
        engine.query_rows(DB, kql)
    assert caught.value.hint == f"KQL function names are case-sensitive: write '{meant}'."
    assert kql[caught.value.column - 1:].startswith(written)  # the caret is at the call


@pytest.mark.parametrize("kql, written, near", [
    ("print x = tostrng(1)", "tostrng", "tostring"),
    ("print x = 1\n| extend y = 2, z = tolowr('A')", "tolowr", "tolower"),
    ("print x = 'tostrng(' | extend y = tostrng(x)", "tostrng", "tostring"),   # the call, not the string
    ("print x = Tostrng(1)", "Tostrng", "tostring"),
])
def test_a_close_miss_of_a_built_in_is_an_unknown_function_at_the_call_with_the_name_meant(engine, kql, written, near):
    from kfx_notebook.errors import UnknownEntityError

    with pytest.raises(UnknownEntityError) as caught:
        engine.query_rows(DB, kql)
    assert caught.value.message == f"Semantic error: Unknown function: '{written}'"
    assert caught.value.hint.startswith(f"Did you mean '{near}'?")
    line = kql.split("\n")[caught.value.line - 1]
    assert line[caught.value.column - 1:].startswith(written + "(")


@pytest.mark.parametrize("kql, written, near", [
    ("print x = frobnicate(1)", "frobnicate", None),
    ("print x = 1 | summarize hll(x)", "hll", None),             # a Kusto aggregate the engine lacks
    ("print x = 1 | summarize dcnt(x)", "dcnt", "dcount"),       # a looser miss: named, not asserted unknown
])
def test_any_other_name_is_unsupported_here_at_the_call_saying_what_it_may_be(engine, kql, written, near):
    with pytest.raises(UnsupportedError) as caught:
        engine.query_rows(DB, kql)
    error = caught.value
    assert error.message == f"The local database does not support the function '{written}'"
    assert error.hint.startswith(f"Did you mean '{near}'?" if near else "Check the name.")
    assert "real cluster" in error.hint and ".py" not in str(error) and "translate/" not in str(error)
    assert kql[error.column - 1:].startswith(written + "(")


def test_user_functions_keep_their_own_spelling(engine):
    assert rows(engine, 'let Up = (s:string) { toupper(s) }; print Up("a")')[1] == [("A",)]
    assert rows(engine, 'let COUNTER = (n:long) { n + 1 }; print COUNTER(1)')[1] == [(2,)]


def test_the_case_check_wraps_the_one_place_calls_are_lowered():
    # An internal of duckdb-kql: if an upgrade moves it, this fails before a mis-cased call runs.
    from duckdb_kql import lower

    install()
    assert getattr(lower._lower_function_call, "kfx_case_checked", False)


def test_series_fill_linear_fills_an_all_null_series_with_the_constant_zero_unless_told(engine):
    """series-fill-linear-function.md: constant_value, 'relevant only for arrays that entirely consist
    of null values', defaults to 0; an explicit double(null) keeps the nulls."""
    assert rows(engine, "print r=series_fill_linear(dynamic([null, null]))")[1] == [([0.0, 0.0],)]
    assert rows(engine, "print r=series_fill_linear(dynamic([null, null]), double(null), false)")[1] == [([0.0, 0.0],)]
    assert rows(engine, "print r=series_fill_linear(dynamic([null]), double(null), true, double(null))")[1] == [([None],)]
    assert rows(engine, "print r=series_fill_linear(dynamic([null, null]), double(null), true, 3.5)")[1] == [([3.5, 3.5],)]
    assert rows(engine, "print r=series_fill_linear(dynamic([]))")[1] == [([],)]


def test_parse_url_answers_what_a_cluster_answered(engine):
    """The output a cluster gave, quoted in microsoft/Kusto-Query-Language#112: the Path keeps its
    leading '/', a user without a password stays in Host, the query keys come sorted."""
    got = rows(engine, 'print u = tostring(parse_url("https://john.doe@www.example.com:123/forum/questions/'
                       '?tag=networking&order=newest#top"))')[1]
    assert got == [('{"Scheme":"https","Host":"john.doe@www.example.com","Port":"123","Path":"/forum/questions/",'
                    '"Username":"","Password":"","Query Parameters":{"order":"newest","tag":"networking"},'
                    '"Fragment":"top"}',)]
