"""`declare pattern` with its definition: literal invocations resolved, the rest refused."""

from __future__ import annotations

import pytest

from kfx_notebook.errors import UnsupportedError

DB = "PatternDB"
CAPITALS = """declare pattern country = (name:string)[state:string]
{
  ("USA").["New York"] = { print Capital = "Albany" };
  ("USA").["Washington"] = { print Capital = "Olympia" };
  ("Canada").["Alberta"] = { print Capital = "Edmonton" };
};
"""


@pytest.mark.parametrize("invocation, capitals", [
    ('country("Canada").Alberta', ["Edmonton"]),  # pattern-statement.md's example
    ('country("USA").["New York"]', ["Albany"]),
    ("country('USA').['Washington'] | union country(\"Canada\").Alberta", ["Olympia", "Edmonton"]),
])
def test_literal_invocations_take_their_entry(kql_engine, invocation, capitals):
    _, rows = kql_engine.query_rows(DB, CAPITALS + invocation)
    assert sorted(r[0] for r in rows) == sorted(capitals)


def test_arguments_without_a_path_and_numbers(kql_engine):
    kql = ("declare pattern ip = (address:string) { (\"10.10.10.10\") = { print Lat=37.405992, Long=-122.078515 }; };\n"
           "declare pattern n = (k:long) { (1) = { print v = 'one' }; (2) = { print v = 'two' }; };\n"
           "ip(\"10.10.10.10\") | extend v = toscalar(n(2))")
    assert kql_engine.query_rows(DB, kql)[1] == [(37.405992, -122.078515, "two")]


@pytest.mark.parametrize("tail, message, at", [
    ('country("Canada").Ontario', "no entry for this invocation", "country"),
    ('let c = "USA"; country(c).Washington', "not a literal", "country"),
    ("country(\"USA\")", "no entry for this invocation", "country"),  # a path parameter needs its value
])
def test_what_no_entry_answers_is_refused_with_its_position(kql_engine, tail, message, at):
    kql = CAPITALS + tail
    with pytest.raises(UnsupportedError, match=message) as caught:
        kql_engine.query_rows(DB, kql)
    assert kql.split("\n")[caught.value.line - 1][caught.value.column - 1:].startswith(at)


@pytest.mark.parametrize("kql, message", [
    ("declare pattern p;\np(1)", "without a definition"),
    ("declare pattern p = (a:string) { (*) = { print v = 1 }; };\np('x')", "not literals"),
])
def test_declarations_this_cannot_resolve_are_refused(kql_engine, kql, message):
    with pytest.raises(UnsupportedError, match=message):
        kql_engine.query_rows(DB, kql)
