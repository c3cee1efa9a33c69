"""KustoInput / KustoOutput: the property table, the one magic-line parser, validation, resolution."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kfx_notebook import bindings
from kfx_notebook.bindings import (
    PROPERTIES,
    KustoInput,
    KustoOutput,
    check_connection_resolved,
    parse_cell,
    resolve_input,
    resolve_output,
)
from kfx_notebook.errors import BindingError, ExpressionError, ParameterGrammarError, SettingError
from kfx_notebook.settings import Settings

KQL = "declare query_parameters(region:string);\nOrders | where Region == region"


# -- the table, row by row -----------------------------------------------------------------------

def _sample(prop):
    return {"connection": "MyConn", "ingestion_type": "queued"}.get(prop.attr, f"v-{prop.attr}")


@pytest.mark.parametrize("prop", PROPERTIES, ids=lambda p: p.key)
def test_every_property_row_reaches_function_json_and_the_magic(prop):
    # attribute exists on the dataclass of each direction it belongs to, and only there
    for direction, cls in (("in", KustoInput), ("out", KustoOutput)):
        names = {f.name for f in dataclasses.fields(cls)}
        assert (prop.attr in names) == (direction in prop.directions), (prop.attr, direction)
    assert prop.key[0].islower() and "_" not in prop.key           # camelCase
    assert prop.csharp[0].isupper() and prop.csharp.lower() == prop.key.lower()
    for direction in prop.directions:
        magic = "kusto_input" if direction == "in" else "kusto_output"
        line = "rows --database D" if direction == "in" else "--database D --table-name T"
        value = _sample(prop)
        if prop.flag:
            assert prop.flag in bindings.valid_options(magic)
            assert prop.flag == "--" + prop.attr.replace("_", "-")
            if prop.attr == "database":
                value = "D"
            elif prop.attr == "table_name":
                value = "T"
            else:
                line += f" {prop.flag} {value}"
        cell = value if prop.attr == "kql_command" else "T"
        binding = parse_cell(magic, line, cell).binding
        assert getattr(binding, prop.attr) == value
        assert binding.to_function_json()[prop.key] == value


def test_the_java_output_keeps_the_extensions_typo():
    assert bindings.BY_ATTR["ingestion_type"].java == "ingestionTyoe"
    assert all(p.java == p.key for p in PROPERTIES if p.attr != "ingestion_type")


def test_only_connection_is_not_template_resolved():
    assert [p.attr for p in PROPERTIES if not p.template] == ["connection"]


def test_function_json_has_only_what_is_set_and_always_connection():
    binding = KustoInput(name="rows", database="SalesDb", kql_command=KQL)
    assert binding.to_function_json() == {"type": "kusto", "direction": "in", "name": "rows", "database": "SalesDb",
                                          "kqlCommand": KQL, "connection": "KustoConnectionString"}
    out = KustoOutput(name="sink", database="SalesDb", table_name="Orders")
    assert out.to_function_json() == {"type": "kusto", "direction": "out", "name": "sink", "database": "SalesDb",
                                      "tableName": "Orders", "connection": "KustoConnectionString"}


# -- validation: the extension's indexing checks ------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    pytest.param({"connection": None}, "Value cannot be null. (Parameter 'Connection')",
                 id="a-missing-connection-fails-as-in-indexing"),
    pytest.param({"database": ""}, "Value cannot be null. (Parameter 'Database')", id="an-empty-database-fails"),
    pytest.param({"kql_command": "  "}, bindings.EMPTY_COMMAND, id="an-empty-cell-has-no-kql-command"),
])
def test_validate_raises_the_extensions_messages(changes, message):
    binding = dataclasses.replace(KustoInput(name="rows", database="D", kql_command="T"), **changes)
    with pytest.raises(BindingError) as info:
        binding.validate()
    assert info.value.message == message


def test_output_without_table_name_fails_like_the_extension():
    with pytest.raises(BindingError) as info:
        KustoOutput(name="sink", database="D", table_name=None).validate()
    assert info.value.message == bindings.EMPTY_COMMAND


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_connection_setting_that_resolves_to_nothing(value):
    with pytest.raises(SettingError) as info:
        check_connection_resolved(value)
    assert info.value.message == ("Parameter KustoAttribute.Connection should be passed as an environment "
                                  "variable. This value resolved to null")


def test_a_resolved_connection_passes_through():
    assert check_connection_resolved("Data Source=local") == "Data Source=local"


# -- parse_cell ------------------------------------------------------------------------------------

def test_input_cell_with_quoted_parameters_and_provenance():
    parsed = parse_cell("kusto_input", 'rows --database SalesDb --kql-parameters "@region={region}, @b=2"',
                        "\n\n" + KQL + "\n\n", cell_id="abc")
    b = parsed.binding
    assert (b.name, b.database, b.kql_parameters, b.kql_command) == ("rows", "SalesDb", "@region={region}, @b=2",
                                                                      KQL)
    assert (b.cell_id, b.cell_line) == ("abc", 3)
    assert parsed.options.as_ == "dataframe" and parsed.options.show_query is False
    assert not hasattr(parsed.options, "database")   # properties live on the binding only


def test_input_options():
    parsed = parse_cell("kusto_input", "rows --as json --interactive --show-query --query 'a=1&b=x y'", "T")
    o = parsed.options
    assert (o.as_, o.interactive, o.show_query, o.query) == ("json", True, True, {"a": "1", "b": "x y"})


def test_query_may_be_json():
    parsed = parse_cell("kusto_input", """rows --query '{"id": 5, "ok": true}'""", "T")
    assert parsed.options.query == {"id": "5", "ok": "true"}


def test_output_cell_keeps_the_python_and_defaults_its_name():
    parsed = parse_cell("kusto_output", "--database D --table-name T --dry-run", "df = make()\ndf\n")
    assert parsed.binding.name == "sink" and parsed.options.dry_run is True
    assert parsed.options.code == "df = make()\ndf\n"
    assert parse_cell("kusto_output", "out_rows --database D --table-name T", "x").binding.name == "out_rows"


@pytest.mark.parametrize("magic, line, match", [
    pytest.param("kusto_input", "rows --databse D", "unknown option '--databse'", id="a-typo-is-refused"),
    pytest.param("kusto_input", "rows --table-name T", "unknown option '--table-name'",
                 id="an-output-option-on-input-is-refused"),
    pytest.param("kusto_output", "--kql-parameters @a=1", "unknown option '--kql-parameters'",
                 id="an-input-option-on-output-is-refused"),
    pytest.param("kusto_input", "", "the following arguments are required: name", id="input-needs-a-name"),
    pytest.param("kusto_input", "rows --as csv", "invalid choice", id="as-is-dataframe-or-json"),
    pytest.param("kusto_input", "rows --database 'D", "Close every quote", id="an-open-quote"),
    pytest.param("kusto_input", "my-rows", "not a Python identifier", id="the-name-must-be-an-identifier"),
])
def test_bad_lines_are_refused_listing_valid_options(magic, line, match):
    with pytest.raises(BindingError) as info:
        parse_cell(magic, line, "T")
    assert match in str(info.value)
    if "unknown option" in match:
        assert "--database" in info.value.hint and "--connection" in info.value.hint


@pytest.mark.parametrize("magic, line, near", [
    pytest.param("kusto_input", "rows --databse D", "--database", id="a-typo"),
    pytest.param("kusto_input", "rows --kql-parameter @a=1", "--kql-parameters", id="a-missing-s"),
    pytest.param("kusto_output", "--database D --table-name T --dataformat=csv", "--data-format",
                 id="with-a-value"),
    pytest.param("kusto_input", "rows --frobnicate", None, id="nothing-near"),
])
def test_an_unknown_option_names_the_one_it_is_near(magic, line, near):
    with pytest.raises(BindingError) as info:
        parse_cell(magic, line, "T")
    hint = info.value.hint
    assert hint.startswith(f"Did you mean {near}? ") if near else "Did you mean" not in hint


# -- resolve_input -----------------------------------------------------------------------------------

def _input(**kw):
    return KustoInput(**{"name": "rows", "database": "SalesDb", "kql_command": KQL,
                         "kql_parameters": "@region={region}", **kw})


def test_resolve_input_resolves_every_template_property():
    settings = Settings(None, {"DB": "SalesDb"})
    binding = _input(database="%DB%", client_request_properties="@notruncation=true",
                     managed_service_identity="{mi}")
    r = resolve_input(binding, {"region": "EU", "mi": "system"}, None, settings)
    assert (r.database, r.parameters, r.client_request_properties, r.managed_service_identity) == (
        "SalesDb", {"region": "EU"}, {"notruncation": "true"}, "system")
    assert r.kql == KQL
    assert r.used == {"%DB%": "SalesDb", "{region}": "EU", "{mi}": "system"}
    assert any("caches clients" in w for w in r.warnings)


def test_a_resolved_value_with_a_comma_fails_naming_the_expression():
    with pytest.raises(BindingError, match=r"\{region\} resolved to 'EU,US', which contains ','"):
        resolve_input(_input(), {"region": "EU,US"}, None, None)


def test_grammar_errors_say_which_property():
    with pytest.raises(ParameterGrammarError, match="^clientRequestProperties: Parameter name must start"):
        resolve_input(_input(client_request_properties="notruncation=true"), {"region": "EU"}, None, None)


def test_undeclared_parameter_is_refused_before_any_query():
    with pytest.raises(BindingError, match="@regoin"):
        resolve_input(_input(kql_parameters="@regoin={region}"), {"region": "EU"}, None, None)


def test_an_unresolvable_expression_raises():
    with pytest.raises(ExpressionError, match="kqlParameters"):
        resolve_input(_input(), {}, None, None)


def test_the_connection_strings_database_is_ignored_with_a_warning():
    settings = Settings(None, {"KustoConnectionString": "Data Source=local;Database=Other"})
    r = resolve_input(_input(), {"region": "EU"}, None, settings)
    assert any("names database 'Other'" in w and "'SalesDb'" in w for w in r.warnings)


def test_braces_in_the_kql_warn_once_and_are_kept():
    kql = 'declare query_parameters(region:string);\nprint d = dynamic({"r": region})'
    r = resolve_input(_input(kql_command=kql), {"region": "EU"}, None, None)
    assert r.kql == kql
    assert sum("Invalid template" in w for w in r.warnings) == 1


# -- resolve_output -----------------------------------------------------------------------------------

def _output(**kw):
    return KustoOutput(**{"name": "sink", "database": "SalesDb", "table_name": "Orders", **kw})


def test_output_defaults_as_the_extension_reads_them():
    r = resolve_output(_output(), {}, None, None)
    assert (r.database, r.table_name, r.mapping_ref, r.data_format, r.ingestion_type) == (
        "SalesDb", "Orders", None, None, "managed")
    assert r.ingestion_properties == {"flushImmediately": False, "pollIntervalSeconds": 30,
                                      "pollTimeoutMinutes": 30}
    assert r.warnings == []


@pytest.mark.parametrize("given, read, warns", [
    pytest.param("multijson", "multijson", False, id="a-lower-case-format-is-kept"),
    pytest.param("CSV", "csv", True, id="an-upper-case-format-falls-back-to-csv-with-a-warning"),
    pytest.param("JSON", "csv", True, id="JSON-in-capitals-also-falls-back-to-csv"),
    pytest.param("xml", "csv", True, id="an-unknown-format-falls-back-to-csv"),
])
def test_data_format_is_a_case_sensitive_enum(given, read, warns):
    r = resolve_output(_output(data_format=given), {}, None, None)
    assert r.data_format == read
    assert bool(r.warnings) == warns


@pytest.mark.parametrize("given, read", [("queued", "queued"), ("QUEUED", "queued"), ("Queued", "queued"),
                                         ("managed", "managed"), ("streaming", "managed")])
def test_ingestion_type_is_queued_or_else_managed(given, read):
    assert resolve_output(_output(ingestion_type=given), {}, None, None).ingestion_type == read


def test_ingestion_properties_parse_with_the_grammar_and_bad_numbers_become_zero():
    r = resolve_output(_output(ingestion_type="queued", ingestion_properties=(
        "@flushImmediately=yes,@pollIntervalSeconds=abc,@pollTimeoutMinutes= 7 ")), {}, None, None)
    assert r.ingestion_properties == {"flushImmediately": False, "pollIntervalSeconds": 0, "pollTimeoutMinutes": 7}
    assert any("busy poll loop" in w for w in r.warnings)
    assert any("flushImmediately='yes'" in w for w in r.warnings)
    assert any("not enforced" in w for w in r.warnings)


def test_ingestion_properties_with_managed_ingestion_warn_that_they_are_ignored():
    r = resolve_output(_output(ingestion_properties="@flushImmediately=true"), {}, None, None)
    assert r.ingestion_properties["flushImmediately"] is True
    assert any("only for queued" in w for w in r.warnings)


def test_output_table_name_is_template_resolved_from_the_query():
    r = resolve_output(_output(table_name="{Query.table}"), {}, {"table": "Sales"}, None)
    assert r.table_name == "Sales"


def test_function_json_is_json_serializable_for_both_directions():
    for b in (_input(), _output(mapping_ref="m", data_format="csv")):
        assert json.loads(json.dumps(b.to_function_json())) == b.to_function_json()


def test_no_secret_from_the_connection_setting_reaches_warnings_or_reprs():
    secret = "Zm9vYmFy-app-key=="
    settings = Settings(None, {"KustoConnectionString": f"Data Source=local;Database=Other;AppKey={secret}"})
    r_in = resolve_input(_input(managed_service_identity="system"), {"region": "EU"}, None, settings)
    r_out = resolve_output(_output(data_format="CSV"), {}, None, settings)
    shown = " ".join([*r_in.warnings, *r_out.warnings, repr(r_in), repr(r_out), repr(settings)])
    assert r_in.warnings and r_out.warnings
    assert secret not in shown


def test_parsed_cell_says_which_properties_the_line_set():
    parsed = parse_cell("kusto_input", "rows --database D --connection Prod", "T")
    assert parsed.given == {"database", "connection"}
    assert "connection" not in parse_cell("kusto_input", "rows --database D", "T").given
