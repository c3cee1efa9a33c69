"""Binding expressions and the @k=v grammar, row by row against the extension's ParseParameters and the host's template parser."""

from __future__ import annotations

import datetime as dt

import pytest

from kfx_notebook.errors import BindingError, ExpressionError, ParameterGrammarError
from kfx_notebook.expressions import (
    E1,
    E2,
    Declared,
    check_parameters,
    declared_parameters,
    escape_template,
    parse_parameters,
    resolve,
    unescape_template,
)
from kfx_notebook.settings import Settings

# -- the @k=v grammar, row by row --------------------------------------------------------------

GRAMMAR = [
    pytest.param("", {}, id="an-empty-string-gives-no-parameters"),
    pytest.param(None, {}, id="an-absent-property-gives-no-parameters"),
    pytest.param(",,@a=1,,", {"a": "1"}, id="empty-entries-between-commas-are-dropped"),
    pytest.param(" @a=1", {"a": "1"}, id="the-key-is-trimmed"),
    pytest.param("@a= 1 ", {"a": " 1 "}, id="the-value-is-not-trimmed"),
    pytest.param("@a=", {"a": ""}, id="nothing-after-equals-is-an-empty-string"),
    pytest.param("@a=null", {"a": "null"}, id="null-stays-the-string-null"),
    pytest.param("@=1", {"": "1"}, id="an-empty-name-is-accepted"),
    pytest.param("@a='x y'", {"a": "'x y'"}, id="quotes-are-kept-verbatim"),
    pytest.param("@a=1,@A=2", {"a": "1", "A": "2"}, id="keys-are-case-sensitive"),
]


@pytest.mark.parametrize("text, expected", GRAMMAR)
def test_grammar_accepts(text, expected):
    assert parse_parameters(text) == expected


GRAMMAR_ERRORS = [
    pytest.param("@a=x=y", E1, id="a-second-equals-sign-is-E1"),
    pytest.param("@a=1, ,@b=2", E1, id="a-whitespace-only-entry-is-kept-and-is-E1"),
    pytest.param("@a=1,2", E1, id="a-comma-in-a-value-splits-it-into-an-E1-entry"),
    pytest.param("@a", E1, id="no-equals-sign-is-E1"),
    pytest.param("a=1", E2, id="a-name-without-at-is-E2"),
    pytest.param("@a=1,@a=2", "An item with the same key has already been added. Key: a",
                 id="a-duplicate-key-is-the-dictionary-error"),
]


@pytest.mark.parametrize("text, message", GRAMMAR_ERRORS)
def test_grammar_rejects_with_the_extensions_exact_message(text, message):
    with pytest.raises(ParameterGrammarError) as info:
        parse_parameters(text)
    assert info.value.message == message


def test_e1_keeps_the_original_missing_space():
    assert '"@param1=null,@param2=param2".To specify' in E1


# -- binding expressions -------------------------------------------------------------------------

def test_name_resolves_from_the_namespace_and_is_recorded_as_used():
    r = resolve("@region={region}", namespace={"region": "EU"}, property="kqlParameters")
    assert (r.value, r.used, r.warnings) == ("@region=EU", {"{region}": "EU"}, [])


@pytest.mark.parametrize("value, text", [
    pytest.param(True, "true", id="bool-becomes-lower-case"),
    pytest.param(42, "42", id="int-becomes-its-digits"),
    pytest.param(1.5, "1.5", id="float-becomes-str"),
    pytest.param(dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05", id="datetime-becomes-iso-8601"),
    pytest.param("a b", "a b", id="str-is-kept-as-is"),
])
def test_python_values_become_route_text(value, text):
    assert resolve("{x}", namespace={"x": value}).value == text


def test_query_expression_reads_the_query_string_case_sensitively():
    r = resolve("@p={Query.productId}", namespace={}, query={"productId": "7"}, property="kqlParameters")
    assert r.value == "@p=7"
    with pytest.raises(ExpressionError, match=r"\{Query.ProductId\}.*case-sensitive"):
        resolve("{Query.ProductId}", namespace={}, query={"productId": "7"}, property="kqlParameters")


def test_query_expression_without_a_query_string_says_how_to_pass_one():
    with pytest.raises(ExpressionError) as info:
        resolve("{Query.x}", namespace={}, query=None, property="kqlParameters")
    assert "--query" in info.value.hint


def test_unresolvable_name_names_the_expression_and_the_property():
    with pytest.raises(ExpressionError, match=r"kqlParameters: \{missing\} does not resolve"):
        resolve("@a={missing}", namespace={}, property="kqlParameters")


def test_dotted_name_reads_into_a_dict_like_trigger_data():
    assert resolve("{data.id}", namespace={"data": {"id": 5}}).value == "5"


def test_setting_resolves_from_values_then_environment(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text('{"Values": {"DB": "FromFile"}}')
    settings = Settings(path, {"DB": "FromEnv", "OTHER": "x"})
    r = resolve("%DB%-%OTHER%", namespace={}, settings=settings, property="database")
    assert r.value == "FromFile-x"
    assert r.used == {"%DB%": "FromFile", "%OTHER%": "x"}


def test_unresolvable_setting_raises_naming_it():
    with pytest.raises(ExpressionError, match=r"database: %NOPE% does not resolve"):
        resolve("%NOPE%", namespace={}, settings=Settings(None, {}), property="database")


def test_a_lone_percent_warns_that_the_host_has_no_escape_for_it():
    r = resolve("T | where x % 2 == 0", namespace={}, property="kqlCommand")
    assert r.value == "T | where x % 2 == 0"
    assert len(r.warnings) == 1 and "no escape for '%'" in r.warnings[0]


def test_double_braces_are_literal_braces():
    r = resolve("print d = dynamic({{\"a\": {v}}})", namespace={"v": 1}, property="kqlCommand")
    assert r.value == 'print d = dynamic({"a": 1})'
    assert r.warnings == []


KQL_WITH_BRACES = [
    pytest.param("let f = () { T | take 1 }; f()", id="a-function-body"),
    pytest.param('print d = dynamic({"a":1})', id="a-dynamic-literal"),
    pytest.param('print d = dynamic({"a":{"b":[1,2]}})', id="a-nested-dynamic-ending-in-double-braces"),
    pytest.param("print x = dynamic({})", id="an-empty-property-bag"),
    pytest.param("print x = '{'", id="a-lone-open-brace"),
]


@pytest.mark.parametrize("kql", KQL_WITH_BRACES)
def test_braces_that_are_no_expression_are_kept_with_one_warning(kql):
    r = resolve(kql, namespace={}, property="kqlCommand")
    assert r.value == kql
    assert len(r.warnings) == 1
    assert "Invalid template" in r.warnings[0] and "{{ }}" in r.warnings[0] and "%kusto_export" in r.warnings[0]


def test_expressions_still_resolve_next_to_kept_braces():
    r = resolve("declare query_parameters(n:long); let f = () { T | take n }; f() | where a == '{who}'",
                namespace={"who": "me"}, property="kqlCommand")
    assert "'me'" in r.value and "{ T | take n }" in r.value and len(r.warnings) == 1


@pytest.mark.parametrize("kql", [*KQL_WITH_BRACES,
                                 pytest.param("let f = () { T | where a == {x} }; f()", id="an-expression-in-a-body")])
def test_escape_then_host_unescape_gives_back_the_kql(kql):
    escaped = escape_template(kql)
    assert unescape_template(escaped) == kql
    # and the host now accepts it: the mirror resolves it without a warning, to the same text
    ns = {"x": "X"}
    assert resolve(escaped, namespace=ns).value == resolve(kql, namespace=ns).value
    assert resolve(escaped, namespace=ns).warnings == []


def test_escape_keeps_expressions_and_leaves_valid_templates_alone():
    assert escape_template("T | where a == {a} and b == {Query.b}") == "T | where a == {a} and b == {Query.b}"
    assert escape_template("dynamic({{}})") == "dynamic({{}})"
    assert escape_template("let f = () { T }; f() | where a == {a}") == "let f = () {{ T }}; f() | where a == {a}"


# -- declare query_parameters ---------------------------------------------------------------------

def test_declared_parameters_with_types_aliases_and_defaults():
    kql = ("declare query_parameters(a:long = 1, s:string = \"a,b)\", d:date, g:uuid,\n"
           "  dyn:dynamic = dynamic([1,2]), r:double);\nT")
    assert declared_parameters(kql) == [
        Declared("a", "long", "1"), Declared("s", "string", '"a,b)"'), Declared("d", "datetime"),
        Declared("g", "guid"), Declared("dyn", "dynamic", "dynamic([1,2])"), Declared("r", "real"),
    ]


def test_declarations_in_comments_and_strings_are_not_declarations():
    kql = "// declare query_parameters(x:int);\nprint s = 'declare query_parameters(y:int)'"
    assert declared_parameters(kql) == []


def test_an_unknown_declared_type_is_refused():
    with pytest.raises(BindingError, match="unknown Kusto type"):
        declared_parameters("declare query_parameters(a:number); T")


# -- check_parameters ------------------------------------------------------------------------------

KQL = "declare query_parameters(region:string, top:long = 10); Orders | where Region == region | take top"


def test_an_undeclared_parameter_names_it_and_lists_the_declared_ones():
    with pytest.raises(BindingError, match=r"@regoin.*declared: region, top"):
        check_parameters(KQL, {"regoin": "EU"}, {})


def test_a_declared_parameter_without_value_or_default_is_an_error():
    with pytest.raises(BindingError, match=r"declares region:string without a default"):
        check_parameters(KQL, {}, {})


def test_a_resolved_value_with_a_comma_names_the_expression():
    with pytest.raises(BindingError) as info:
        check_parameters(KQL, {"region": "1"}, {"{productId}": "1,2"})
    assert info.value.message == ("{productId} resolved to '1,2', which contains ','; the binding cannot carry "
                                  "',' or '=' in a parameter value")


def test_null_and_untrimmed_values_warn_but_pass():
    warnings = check_parameters(KQL, {"region": "null", "top": " 5"}, {})
    assert len(warnings) == 2
    assert 'sends the string "null"' in warnings[0]
    assert "whitespace" in warnings[1]


@pytest.mark.parametrize("kql", [
    "declare query_parameters(a:long = 1, s:string = \"a,b)\", d:date, g:guid, dyn:dynamic = dynamic([1,2])); T",
    "declare query_parameters(a:int, b:bool = true, t:timespan = 1h, x:double = 1.5);\nT | take 1",
    "// declare query_parameters(x:int);\nT",
])
def test_the_pure_and_the_engine_parser_find_the_same_names_types_and_which_have_defaults(kql):
    from kfx_notebook.backends.local import engine

    def shape(found):
        return [(d.name, d.type, d.default is None) for d in found]

    assert shape(declared_parameters(kql)) == shape(engine.declared_parameters(kql))


def test_the_engine_reads_a_text_s_declarations_once_and_refuses_a_bad_one_every_time(monkeypatch):
    import duckdb_kql

    from kfx_notebook.backends.local import engine
    from kfx_notebook.errors import KustoSyntaxError

    kql = "declare query_parameters(n:long = 3, s:string);\nT | where x > n | take 7"
    first = engine.declared_parameters(kql)
    first.append("changed by the caller")
    monkeypatch.setattr(duckdb_kql, "query_parameters", None)  # a second parse of this text would fail
    assert engine.declared_parameters(kql) == [Declared("n", "long", "3"), Declared("s", "string", None)]
    monkeypatch.undo()
    for _ in range(2):
        with pytest.raises(KustoSyntaxError):
            engine.declared_parameters("declare query_parameters(n:long = ); T")
