"""The interactive parameter form, driven through its widget objects."""

from __future__ import annotations

import datetime as dt

import pytest

from kfx_notebook.backends import clear_cache

from .magic_shell import TestingShell

CELL = ("declare query_parameters(minCost:real, name:string, since:datetime, maxRows:long, cheap:bool);\n"
        "Products | where Cost >= minCost and (name == '' or Name == name) and Added >= since "
        "| where cheap == (Cost < 1.0) or not(cheap) | order by ProductID asc | take maxRows")
LINE = ('r --database Shop --kql-parameters "@minCost={minCost},@name={name},@since={since},@maxRows=10,@cheap=false" '
        "--interactive")


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KustoConnectionString", f"Data Source=local:{tmp_path / 'form.duckdb'}")
    clear_cache()
    sh = TestingShell.instance()
    sh.history_manager.enabled = False
    if "KustoMagics" not in sh.magics_manager.registry:
        sh.run_line_magic("load_ext", "kfx_notebook")
    sh.magics_manager.registry["KustoMagics"]._said.clear()  # a fresh session for notes
    sh.capture("%%kusto_input made --database Shop\n"
               ".create-merge table Products (ProductID:long, Name:string, Cost:real, Added:datetime)")
    sh.capture("%%kusto_output --database Shop --table-name Products\n"
               '[{"ProductID": 1, "Name": "Apple", "Cost": 1.25, "Added": "2024-01-01T00:00:00Z"},'
               ' {"ProductID": 2, "Name": "Pear", "Cost": 0.8, "Added": "2024-02-01T00:00:00Z"},'
               ' {"ProductID": 3, "Name": "Fig", "Cost": 2.5, "Added": "2024-03-01T00:00:00Z"}]')
    sh.user_ns.update(minCost=1.0, name="", since="2024-01-01")
    yield sh
    clear_cache()


def magics(shell):
    return shell.magics_manager.registry["KustoMagics"]


def test_form_has_one_typed_input_per_declared_parameter_prefilled(shell):
    import ipywidgets as widgets

    form = magics(shell).parameter_form(LINE, CELL)
    kinds = {name: type(w) for name, w in form.fields.items()}
    assert kinds == {"minCost": widgets.FloatText, "name": widgets.Text, "since": widgets.DatetimePicker,
                     "maxRows": widgets.IntText, "cheap": widgets.Checkbox}
    assert form.fields["minCost"].value == 1.0
    assert form.fields["maxRows"].value == 10
    assert form.fields["cheap"].value is False
    assert form.fields["since"].value == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def test_clicking_run_replaces_the_frame_and_the_variable(shell):
    form = magics(shell).parameter_form(LINE, CELL)
    first = form.run()
    assert first["Name"].tolist() == ["Apple", "Fig"]
    form.fields["minCost"].value = 0.5
    form.fields["since"].value = dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc)
    form.fields["maxRows"].value = 1
    form.run_button.click()
    assert form.frame["Name"].tolist() == ["Pear"]
    assert shell.user_ns["r"] is form.frame
    assert form.frame.attrs["kusto"]["parameters"]["maxRows"] == "1"


def test_without_a_widget_frontend_the_cell_runs_once_with_a_note(shell):
    frame, out, err = shell.capture(f"%%kusto_input {LINE}\n{CELL}")
    assert "kfx-notebook note: --interactive needs a widget frontend" in out and err == ""
    assert frame["Name"].tolist() == ["Apple", "Fig"]


def test_the_shown_form_carries_a_static_copy_for_viewers_without_a_kernel(shell):
    """A saved notebook opened anywhere shows the values and the frame, never `VBox(children=...`."""
    form = magics(shell).parameter_form(LINE, CELL)
    form.run()
    bundle = form.bundle()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.widget.model_id
    assert "VBox(" not in bundle["text/plain"] and "VBox(" not in bundle["text/html"]
    assert "minCost (real) = 1.0" in bundle["text/plain"] and "Apple" in bundle["text/plain"]
    assert "<table" in bundle["text/html"] and "Fig" in bundle["text/html"]
