"""Issue 10: a malformed connection string carrying a secret shows nothing of it, anywhere.

Hypothesis builds connection strings broken the ways people break them (a `;` inside an
unquoted secret, a keyword without `=`, an unclosed quote, text after a closing quote, a
misspelt keyword) around well-formed parts, with a secret inside. Every output is scanned:
the error (message, hint, str, repr), the parsed object's repr/str, the masking function,
scrubbing with secret_values, the magic's printed output and `export --with-local-settings`.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfx_notebook.display import scrub
from kfx_notebook.errors import SettingError
from kfx_notebook.settings import UNPARSED, mask_connection_string, parse_connection_string, secret_values

SECRET_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=";=\"'")
# Marked at both ends, so neither the secret nor its tail (secret[4:]) can be a word of our own messages.
SECRETS = st.text(SECRET_CHARS, min_size=8, max_size=24).map(lambda s: "Zq" + s + "~Qz")
SECRET_WORDS = ["Password", "PWD", "AppKey", "Application Key", "UserToken", "AppToken", "AppCert"]
GOOD_PARTS = ["Data Source=local", "Fed=True", "Database=Shop", "AppClientId=app", "Authority Id=tenant",
              "User ID=me", "Application Name for Tracing=nb"]


@st.composite
def broken_parts(draw, secret: str) -> str:
    """One part that keeps the string from parsing, with the secret inside it."""
    word = draw(st.sampled_from(SECRET_WORDS))
    head, tail = secret[:4], secret[4:]
    quote = draw(st.sampled_from(['"', "'"]))
    return draw(st.sampled_from([
        f"{word}={head};{tail}",                               # ';' inside an unquoted secret
        f"{word}={head};{tail}x;Fed=true",
        f"{word} {secret}",                                    # no '='
        f"{word}:{secret}",
        f"{secret}",                                           # a stray secret where a part goes
        f"Data Source={quote}http://127.0.0.1:8080;{word}={secret}",   # unclosed quote
        f"{word}={quote}{head}{quote}{tail}",                  # text after the closing quote
        f"{word}x={secret}",                                   # misspelt secret keyword
        f"{secret}={secret}",
    ]))


@st.composite
def malformed(draw) -> tuple[str, str]:
    secret = draw(SECRETS)
    before = draw(st.lists(st.sampled_from(GOOD_PARTS), max_size=3))
    after = draw(st.lists(st.sampled_from(GOOD_PARTS[1:]), max_size=3))
    broken = draw(broken_parts(secret))
    if not before and broken.startswith(secret):
        before = ["Data Source=local"]  # a bare first part is the Data Source by design (`https://x;...`)
    sep = draw(st.sampled_from([";", " ; ", ";;"]))
    return sep.join([*before, broken, *after]), secret


def _outputs_of(text: str) -> list[str]:
    out = [mask_connection_string(text)]
    try:
        parsed = parse_connection_string(text)
    except SettingError as exc:
        out += [str(exc), exc.message, exc.hint or "", repr(exc)]
    else:
        out += [repr(parsed), str(parsed)]
    return out


@settings(max_examples=300, deadline=None)
@given(malformed())
def test_a_malformed_string_shows_nothing_of_its_secret(case):
    text, secret = case
    with pytest.raises(SettingError, match="does not parse"):
        parse_connection_string(text)
    assert mask_connection_string(text) == UNPARSED
    assert not [shown for shown in _outputs_of(text) if secret in shown or secret[4:] in shown]
    leaked_into = f"error: could not use '{text}' (value {secret})"
    assert secret not in scrub(leaked_into, secret_values(text))


SOUP = st.lists(st.sampled_from(list("ab =;\"'") + ["Password", "AppKey", "Data Source", "Zq-s3cret"]),
                max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(SOUP)
def test_any_soup_of_keywords_quotes_and_a_secret_never_shows_a_secret_value(text):
    """Whatever parses or fails: a failure shows nothing of the text; a success masks every secret value."""
    try:
        parsed = parse_connection_string(text)
    except SettingError as exc:
        assert not [o for o in (str(exc), exc.hint or "", repr(exc)) if "Zq-s3cret" in o]
        masked = mask_connection_string(text)
        if masked != UNPARSED:   # well-formed parts, refused for their meaning (no Data Source, Fed=yes)
            assert not [v for v in secret_values(text) if len(v) >= 3 and v in masked.replace("****", "")
                        and text.count(v) == 1]
        return
    secrets = secret_values(text)
    plain = {v for k, v in parsed.keywords.items() if v not in secrets}
    for secret in secrets:
        if len(secret) >= 3 and not any(secret in v for v in plain):
            assert not [o for o in _outputs_of(text) if secret in o], secret


def test_the_three_reported_strings():
    for text, secret in [("Data Source=local;Password=abc;SECRETtail", "SECRETtail"),
                         ("Data Source=local;AppKey SECRET", "SECRET"),
                         ('Data Source="http://127.0.0.1:8080;AppKey=SECRET', "SECRET")]:
        with pytest.raises(SettingError) as info:
            parse_connection_string(text)
        assert secret not in str(info.value) and secret not in mask_connection_string(text)
        assert "part " in str(info.value) or "keyword 'Data Source'" in str(info.value)
    with pytest.raises(SettingError, match="never closed"):
        parse_connection_string('Data Source="http://127.0.0.1:8080;AppKey=SECRET')


# -- through the magic (a real IPython shell) and the exporter --------------------------------------
@pytest.fixture(scope="module")
def shell():
    from .magic_shell import loaded_shell

    return loaded_shell()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(malformed())
def test_the_magic_prints_nothing_of_a_malformed_setting(shell, tmp_path, case):
    text, secret = case
    for shown in _shown_by_both_magics(shell, tmp_path, text):
        assert secret not in shown and secret[4:] not in shown
        assert "does not parse" in shown


def _shown_by_both_magics(shell, tmp_path, connection_string: str) -> list[str]:
    """What an input and an output cell print when their connection setting holds the string."""
    from kfx_notebook.backends import clear_cache

    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"Remote": connection_string}}))
    shell.run_line_magic("config", f"KustoMagics.settings_file = {str(tmp_path / 'local.settings.json')!r}")
    clear_cache()
    try:
        return [shell.failure(cell)[1] for cell in (
            "%%kusto_input r --database Shop --connection Remote\nprint x = 1",
            "%%kusto_output --database Shop --table-name T --connection Remote\n[{\"x\": 1}]")]
    finally:
        shell.run_line_magic("config", "KustoMagics.settings_file = ''")
        clear_cache()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(malformed())
def test_export_with_local_settings_writes_nothing_of_a_malformed_setting(tmp_path_factory, case):
    from pathlib import Path

    from kfx_notebook.export.command import export_notebook

    text, secret = case
    folder = tmp_path_factory.mktemp("export")
    golden = Path(__file__).parent / "golden" / "products.ipynb"
    (folder / "products.ipynb").write_bytes(golden.read_bytes())
    (folder / "local.settings.json").write_text(json.dumps({"Values": {"KustoConnectionString": text}}))
    try:
        out = export_notebook(folder / "products.ipynb", folder / "app", with_local_settings=True)
    except SettingError as exc:   # refusing is fine; showing is not
        assert secret not in str(exc) and secret[4:] not in str(exc)
        return
    for path in out.rglob("*"):
        if path.is_file():
            written = path.read_text(encoding="utf-8")
            assert secret not in written and secret[4:] not in written, path


# -- credentials inside the Data Source URL --------------------------------------------------------
SECRET = "Zqhunter2SECRET~Qz"
URL_FORMS = [f"http://user:{SECRET}@127.0.0.1:1", f"http://{SECRET}@127.0.0.1:1", f"http://127.0.0.1:1/?sig={SECRET}",
             f"http://127.0.0.1:1/#{SECRET}", f"http://127.0.0.1:1/?a=1&sig={SECRET}#{SECRET}"]


@pytest.mark.parametrize("url", URL_FORMS)
def test_a_url_s_user_info_query_and_fragment_are_secrets(url):
    from kfx_notebook.backends import backend_for, clear_cache
    from kfx_notebook.settings import mask_secrets, safe_url

    text = f"Data Source={url};Database=Shop"
    assert SECRET in "".join(secret_values(text))
    shown = [mask_connection_string(text), repr(parse_connection_string(text)), safe_url(url),
             mask_secrets(f"Cannot reach {url}: refused"), scrub(f"GET {url} failed", secret_values(text))]
    clear_cache()
    try:
        backend = backend_for(text)
        shown += [backend.describe(), repr(backend)]
    finally:
        clear_cache()
    assert not [o for o in shown if SECRET in o]
    assert all("127.0.0.1:1" in o for o in shown)   # the rest of the URL still says where


@pytest.mark.parametrize("url", URL_FORMS[:3])
def test_the_magics_never_print_a_url_s_credentials(shell, tmp_path, url):
    for text in (f"Data Source={url};Database=Shop", f"Data Source={url};Fed=maybe", f"Data Source={url};Bogus=1"):
        for shown in _shown_by_both_magics(shell, tmp_path, text):
            assert SECRET not in shown, shown


def test_export_with_local_settings_never_writes_a_url_s_credentials(tmp_path):
    from pathlib import Path

    from kfx_notebook.export.command import export_notebook

    golden = Path(__file__).parent / "golden" / "products.ipynb"
    (tmp_path / "products.ipynb").write_bytes(golden.read_bytes())
    (tmp_path / "local.settings.json").write_text(json.dumps(
        {"Values": {"KustoConnectionString": f"Data Source={URL_FORMS[0]};Database=Shop"}}))
    out = export_notebook(tmp_path / "products.ipynb", tmp_path / "app", with_local_settings=True)
    written = [p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()]
    assert written and not [w for w in written if SECRET in w]


# -- nbconvert keeps the CLI's no-overwrite rule ------------------------------------------------------
def test_nbconvert_refuses_a_non_empty_folder_unless_forced(tmp_path):
    from pathlib import Path

    import nbformat

    from kfx_notebook.errors import KfxError
    from kfx_notebook.export.nbconvert_exporter import KustoFunctionsExporter

    nb = nbformat.read(str(Path(__file__).parent / "golden" / "products.ipynb"), as_version=4)
    resources = {"metadata": {"name": "products", "path": str(tmp_path)}}
    KustoFunctionsExporter().from_notebook_node(nb, resources)
    added = tmp_path / "products-functions" / "my_notes.md"
    added.write_text("mine")
    with pytest.raises(KfxError, match="not empty") as info:
        KustoFunctionsExporter().from_notebook_node(nb, {"metadata": {"name": "products", "path": str(tmp_path)}})
    assert "KustoFunctionsExporter.force=True" in info.value.hint
    assert added.read_text() == "mine", "the refused export touched nothing"
    KustoFunctionsExporter(force=True).from_notebook_node(nb, {"metadata": {"name": "products", "path": str(tmp_path)}})
    assert not added.exists() and (tmp_path / "products-functions" / "function_app.py").is_file()


def test_jupyter_nbconvert_cli_refuses_an_earlier_export_holding_a_users_file(tmp_path):
    """The real `jupyter nbconvert --to kusto_functions` (one run: starting it costs seconds)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import nbformat

    from kfx_notebook.export.nbconvert_exporter import KustoFunctionsExporter

    golden = Path(__file__).parent / "golden" / "products.ipynb"
    (tmp_path / "products.ipynb").write_bytes(golden.read_bytes())
    KustoFunctionsExporter().from_notebook_node(nbformat.read(str(golden), as_version=4),
                                                {"metadata": {"name": "products", "path": str(tmp_path)}})
    (tmp_path / "products-functions" / "mine.txt").write_text("mine")
    refused = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "kusto_functions",
                              "products.ipynb"], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                             env={**os.environ})
    assert refused.returncode != 0 and "not empty" in refused.stderr
    assert (tmp_path / "products-functions" / "mine.txt").read_text() == "mine"
