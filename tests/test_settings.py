"""Connection strings (keywords, aliases, secrets masked everywhere) and the host's settings lookup."""

from __future__ import annotations

import json

import pytest

from kfx_notebook.errors import SettingError
from kfx_notebook.settings import (
    KEYWORDS,
    UNPARSED,
    Settings,
    find_settings_file,
    mask_connection_string,
    parse_connection_string,
    secret_values,
)

SECRET = "s3cr3t-V4lue=="
FULL = (f"Data Source=https://help.kusto.windows.net;Database=Samples;Fed=True;AppClientId=app-id;"
        f"AppKey={SECRET};Authority Id=tenant")


@pytest.mark.parametrize("keyword", KEYWORDS, ids=lambda k: k.name.replace(" ", "-"))
def test_every_keyword_and_alias_parses_to_its_canonical_name(keyword):
    value = "true" if keyword.boolean else "v1"
    for word in (keyword.name, *keyword.aliases, keyword.name.upper().replace(" ", "  ")):
        text = f"Data Source=local;{word}={value}" if keyword.name != "Data Source" else f"{word}={value}"
        parsed = parse_connection_string(text)
        assert parsed.keywords[keyword.name] == value, word
        if keyword.secret:
            assert value not in repr(parsed) and value not in str(parsed)
            assert secret_values(text) == [value]
            assert mask_connection_string(text).endswith(f"{word}=****")
        else:
            assert secret_values(text) == []


def test_a_full_cluster_string():
    parsed = parse_connection_string(FULL)
    assert parsed.data_source == "https://help.kusto.windows.net"
    assert parsed.database == "Samples"
    assert parsed.keywords["AAD Federated Security"] == "true"
    assert parsed.keywords["Application Key"] == SECRET


def test_a_bare_url_is_the_data_source():
    parsed = parse_connection_string("https://help.kusto.windows.net;Fed=true")
    assert parsed.data_source == "https://help.kusto.windows.net"


@pytest.mark.parametrize("text, source", [
    pytest.param("Data Source=local", "local", id="local-in-memory"),
    pytest.param("Data Source=local:/tmp/x.duckdb;Database=db", "local:/tmp/x.duckdb", id="local-file"),
])
def test_the_embedded_database(text, source):
    parsed = parse_connection_string(text)
    assert parsed.data_source == source


def test_quoted_values_may_hold_semicolons_and_are_still_masked():
    text = "Data Source=local;Password=\"a;b=c\";User ID='me'"
    parsed = parse_connection_string(text)
    assert parsed.keywords["Password"] == "a;b=c"
    assert parsed.keywords["User ID"] == "me"
    assert "a;b" not in mask_connection_string(text)
    assert mask_connection_string(text) == "Data Source=local;Password=****;User ID='me'"


def test_an_unknown_keyword_is_located_without_its_text_and_valid_ones_listed():
    with pytest.raises(SettingError) as info:
        parse_connection_string(f"Data Source=local;AppSecret={SECRET}")
    text = str(info.value)
    assert "part 2 (at position 18)" in text and "AppSecret" not in text and SECRET not in text
    assert "Application Key" in info.value.hint and "Initial Catalog" in info.value.hint


def test_a_misspelt_keyword_gets_a_suggestion_by_its_canonical_name():
    with pytest.raises(SettingError) as info:
        parse_connection_string("Data Sorce=local")
    assert "Did you mean 'Data Source'?" in info.value.hint and "Sorce" not in str(info.value)


@pytest.mark.parametrize("text, match", [
    pytest.param("Data Source=local;Fed=yes", "true or false", id="fed-must-be-true-or-false"),
    pytest.param("Database=x", "no Data Source", id="a-data-source-is-required"),
    pytest.param("", "empty", id="an-empty-string-is-refused"),
    pytest.param("Data Source=local:", "needs a path", id="local-colon-needs-a-path"),
])
def test_refused_strings(text, match):
    with pytest.raises(SettingError, match=match):
        parse_connection_string(text)


def test_a_string_that_does_not_parse_is_never_shown_and_all_its_pieces_count_as_secret():
    text = f"Bogus=1;AppKey={SECRET};UserToken=tok-123"
    assert mask_connection_string(text) == UNPARSED
    assert {SECRET, "tok-123", "Bogus", text} <= set(secret_values(text))
    assert "AppKey" not in secret_values(text)  # keywords are not secret: scrubbing them would garble output


def test_repr_of_a_parsed_string_never_shows_a_secret():
    parsed = parse_connection_string(FULL)
    for shown in (repr(parsed), str(parsed), f"{parsed!r}", repr([parsed])):
        assert SECRET not in shown
    assert "AppKey=****" in repr(parsed)


# -- settings lookup --------------------------------------------------------------------------------

def _file(tmp_path, values=None, connection_strings=None):
    data = {"IsEncrypted": False, "Values": values or {}}
    if connection_strings is not None:
        data["ConnectionStrings"] = connection_strings
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps(data))
    return path


def test_connection_strings_section_wins_over_everything(tmp_path):
    path = _file(tmp_path, {"Kusto": "Data Source=values"}, {"Kusto": "Data Source=cs"})
    settings = Settings(path, {"ConnectionStrings:Kusto": "Data Source=env-cs", "Kusto": "Data Source=env"})
    assert settings.connection_string("Kusto") == "Data Source=cs"
    assert settings.source_of("Kusto") == "local.settings.json ConnectionStrings"


@pytest.mark.parametrize("env_name", ["ConnectionStrings:Kusto", "ConnectionStrings__Kusto"])
def test_environment_connection_strings_come_before_values(tmp_path, env_name):
    settings = Settings(_file(tmp_path, {"Kusto": "Data Source=values"}), {env_name: "Data Source=env-cs"})
    assert settings.connection_string("Kusto") == "Data Source=env-cs"
    assert settings.source_of("Kusto") == f"environment {env_name}"


def test_values_come_before_plain_environment(tmp_path):
    settings = Settings(_file(tmp_path, {"Kusto": "Data Source=values"}), {"Kusto": "Data Source=env"})
    assert settings.connection_string("Kusto") == "Data Source=values"
    assert Settings(None, {"Kusto": "Data Source=env"}).source_of("Kusto") == "environment"


def test_a_missing_setting_is_none():
    settings = Settings(None, {})
    assert settings.connection_string("Kusto") is None and settings.source_of("Kusto") == "not found"


def test_connection_strings_entry_may_be_an_object(tmp_path):
    path = _file(tmp_path, None, {"Kusto": {"ConnectionString": "Data Source=local", "ProviderName": "x"}})
    assert Settings(path, {}).connection_string("Kusto") == "Data Source=local"


def test_value_reads_values_then_environment_not_connection_strings(tmp_path):
    settings = Settings(_file(tmp_path, {"DB": "a"}, {"CS": "Data Source=local"}), {"DB": "b", "ENVONLY": "c"})
    assert (settings.value("DB"), settings.value("ENVONLY"), settings.value("CS")) == ("a", "c", None)


def test_find_settings_file_walks_up_to_the_nearest(tmp_path):
    path = _file(tmp_path)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_settings_file(deep) == path.resolve()
    assert find_settings_file(tmp_path / "a") == path.resolve()


def test_a_broken_settings_file_is_refused_without_its_content(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text('{"Values": {"K": "AppKey=' + SECRET + '"')
    with pytest.raises(SettingError) as info:
        Settings(path, {})
    assert SECRET not in str(info.value)


def test_settings_repr_shows_no_value(tmp_path):
    settings = Settings(_file(tmp_path, {"Kusto": f"Data Source=local;AppKey={SECRET}"}), {})
    assert SECRET not in repr(settings)


def test_mask_secrets_masks_secret_values_inside_free_text():
    from kfx_notebook.settings import mask_secrets

    message = f"Semantic error: 'x' failed for Data Source=https://c;AppKey={SECRET};Fed=True (retry)"
    masked = mask_secrets(message)
    assert SECRET not in masked and masked.startswith("Semantic error: 'x' failed for Data Source=https://c;AppKey=****")
    assert mask_secrets("Semantic error: Failed to resolve 'T'") == "Semantic error: Failed to resolve 'T'"
