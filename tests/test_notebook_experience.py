"""What a user meets in the notebooks and the CLI: kernelspecs, saved outputs, carets, readable messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kfx_notebook import display

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _outputs(path: Path):
    for cell in json.loads(path.read_text())["cells"]:
        yield from cell.get("outputs", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernelspec_is_written_as_jupyter_writes_it(path):
    """Otherwise opening the notebook rewrites it, and it shows as modified."""
    spec = json.loads(path.read_text())["metadata"]["kernelspec"]
    assert spec == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_outputs_render_without_a_kernel(path):
    """Every widget output has a readable static copy beside it; no widget repr; notes are not stderr."""
    for output in _outputs(path):
        data = output.get("data", {})
        if WIDGET_MIME in data:
            assert "text/html" in data and "VBox(" not in "".join(data.get("text/plain", "")), data
        if output.get("name") == "stderr":
            text = "".join(output["text"])
            assert "kfx-notebook note" not in text and "kfx-notebook warning" not in text, text


def test_git_ignores_checkpoints_and_test_artifacts():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".ipynb_checkpoints/" in ignored and "test-artifacts/" in ignored


def test_the_caret_is_at_the_offending_operator_as_kusto_puts_it(local_db):
    from kfx_notebook.errors import KustoSyntaxError

    local_db.query("Shop", ".create table Fruits (Name:string, Price:real)")
    with pytest.raises(KustoSyntaxError) as info:
        local_db.query("Shop", "Fruits | were Price > 1")
    assert "could not be parsed at 'were'" in info.value.message
    assert (info.value.line, info.value.column) == (1, 10)
    assert display.caret_lines(info.value.text, info.value.line, info.value.column)[1] == "  " + " " * 9 + "^"


def test_a_caret_inside_an_expression_stays_where_the_engine_put_it(local_db):
    from kfx_notebook.errors import KustoSyntaxError

    local_db.query("Shop", ".create table Fruits (Name:string, Price:real)")
    with pytest.raises(KustoSyntaxError) as info:
        local_db.query("Shop", "Fruits | where Price == | take 3")
    assert info.value.column == 25 and "mismatched input '|'" in info.value.message


def test_cli_errors_show_the_caret_and_the_hint_on_its_own_line(tmp_path, capsys):
    from kfx_notebook.cli import main

    notebook = {"cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": "%%kusto_input sales --database Shop\nSales\n| render pancake"}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "n.ipynb").write_text(json.dumps(notebook))
    assert main(["export", str(tmp_path / "n.ipynb"), "--out", str(tmp_path / "app")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("kfx-notebook export: error: [BadRequest_SyntaxError]")
    assert "Syntax error: render kind 'pancake' is not a Kusto render kind" in lines[0]
    assert lines[1:3] == ["  | render pancake", "           ^"]
    assert lines[-1].startswith("hint: Use one of: timechart")


def test_a_cli_error_without_a_position_is_one_line_with_its_parts_set_apart(tmp_path, capsys):
    from kfx_notebook.cli import main

    assert main(["invoke", str(tmp_path), "get_product"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kfx-notebook invoke: error: [")
    assert " — hint: " in lines[0], "message and hint are set apart"


@pytest.mark.parametrize("text, width, shown", [
    pytest.param("short line", 70, "short line", id="fits"),
    pytest.param("%%kusto_input product --database ProductsDB --kql-parameters \"@productId={productId}\"", 70,
                 "%%kusto_input product --database ProductsDB --kql-parameters…", id="cut-at-a-word"),
    pytest.param("x" * 80, 10, "x" * 9 + "…", id="no-space-cut-hard"),
])
def test_long_lines_are_clipped_with_an_ellipsis(text, width, shown):
    assert display.clip(text, width) == shown and len(shown) <= width


def test_dry_run_header_lists_each_property_on_its_own_line():
    from types import SimpleNamespace as Of

    resolved = Of(database="Shop", table_name="T", mapping_ref=None, ingestion_type="managed")
    body = Of(rows=2, data=b'{"a":1}\n{"a":2}', data_format="multijson")
    text = display.dry_run_text(Of(connection="Kusto"), resolved, body)
    assert text.splitlines() == ["dry run: would ingest 2 rows (15 bytes); nothing was sent",
                                 "  database:      Shop", "  tableName:     T", "  dataFormat:    multijson",
                                 "  ingestionType: managed", "  connection:    Kusto", '{"a":1}', '{"a":2}']


@pytest.mark.parametrize("kind", sorted(display.NOTICE_STYLES))
def test_notices_are_styled_html_with_a_plain_text_twin(kind):
    bundle = display.notice_bundle("a <b> & c", kind)
    assert bundle["text/plain"] == f"kfx-notebook {kind}: a <b> & c"
    assert "a &lt;b&gt; &amp; c" in bundle["text/html"] and f"kfx-{kind}" in bundle["text/html"]
