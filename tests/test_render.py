"""`| render KIND [with (...)]`: split off before the query runs, drawn under the result as a PNG.

Parsing is pure (every kind and property row walked); drawing runs in a real IPython shell
on the embedded database, with a display formatter that keeps the Chart object so the
matplotlib figure itself can be inspected: the image is there, the title drawn, the number
of series right.
"""

from __future__ import annotations

import pytest

from kfx_notebook import render
from kfx_notebook.errors import KfxError, KustoSyntaxError

from .magic_shell import TestingShell

# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(render.KINDS))
def test_every_kind_is_split_off_the_query(kind):
    kql, spec = render.split_render(f"T\n| summarize n = count() by K\n| render {kind}")
    assert kql == "T\n| summarize n = count() by K"
    assert spec.kind == kind and spec.properties == {}


@pytest.mark.parametrize("name, text, value", [
    pytest.param("title", 'title="Sales, by day"', "Sales, by day", id="title-string-with-a-comma"),
    pytest.param("xtitle", "xtitle='day'", "day", id="xtitle-single-quoted"),
    pytest.param("ytitle", 'ytitle=@"it""s"', 'it"s', id="ytitle-verbatim"),
    pytest.param("xcolumn", "xcolumn=Day", "Day", id="xcolumn"),
    pytest.param("ycolumns", "ycolumns=a, b", ("a", "b"), id="ycolumns-list"),
    pytest.param("series", "series=Region", ("Region",), id="series"),
    pytest.param("kind", "kind=stacked100", "stacked100", id="kind"),
    pytest.param("legend", "legend=hidden", "hidden", id="legend"),
    pytest.param("xaxis", "xaxis=log", "log", id="xaxis"),
    pytest.param("yaxis", "yaxis=linear", "linear", id="yaxis"),
    pytest.param("ymin", "ymin=-2.5", -2.5, id="ymin"),
    pytest.param("ymax", "ymax=10", 10.0, id="ymax"),
])
def test_every_property_is_parsed(name, text, value):
    assert name in render.PROPERTIES
    _, spec = render.split_render(f"T | render columnchart with ({text})")
    assert spec.properties == {name: value}


def test_every_property_row_has_a_case():
    cases = {p.values[0] for p in test_every_property_is_parsed.pytestmark[0].args[1]}
    assert cases == set(render.PROPERTIES)


@pytest.mark.parametrize("kql", [
    pytest.param('T | where Name == "| render timechart"', id="render-inside-a-string"),
    pytest.param("T | take 3 // | render timechart", id="render-inside-a-comment"),
    pytest.param("T | project render = 1", id="a-column-named-render"),
    pytest.param(".show tables | render table", id="management-command"),
])
def test_no_render_is_found_where_there_is_none(kql):
    assert render.split_render(kql) == (kql, None)


def test_a_render_in_an_earlier_statement_is_left_to_the_engine():
    kql, spec = render.split_render("let x = T | render piechart;\nx | render barchart with (title='b')")
    assert kql == "let x = T | render piechart;\nx" and spec.kind == "barchart"


@pytest.mark.parametrize("kql, column, words", [
    pytest.param("T | render pancake", 12, "not a Kusto render kind", id="unknown-kind"),
    pytest.param("T | render card", 12, "not drawn by kfx-notebook", id="kusto-kind-not-drawn"),
    pytest.param("T | render timechart | take 5", 22, "last operator", id="not-last"),
    pytest.param("T | render linechart | render barchart", 3, "last operator", id="two-renders"),
    pytest.param("T | render barchart with (ysplit=axes)", 27, "'ysplit' is not drawn", id="unknown-property"),
    pytest.param("T | render timechart with (kind=stacked)", 33, "has no kind=", id="kind-on-a-line"),
    pytest.param("T | render barchart with (legend=maybe)", 34, "cannot be 'maybe'", id="bad-word"),
    pytest.param("T | render barchart with (title=plain)", 33, "string literal", id="title-not-a-string"),
    pytest.param("T | render barchart with (ymin=low)", 32, "needs a number", id="ymin-not-a-number"),
    pytest.param("T | render barchart with (title='a'", 26, "no closing", id="unclosed"),
    pytest.param("T | render barchart with (title='a', title='b')", 38, "given twice", id="twice"),
])
def test_a_bad_render_is_refused_with_its_position(kql, column, words):
    with pytest.raises(KustoSyntaxError) as info:
        render.split_render(kql)
    assert words in info.value.message and info.value.column == column and info.value.line == 1


def test_the_binding_and_its_export_carry_no_render():
    from kfx_notebook.bindings import parse_cell

    parsed = parse_cell("kusto_input", "sales --database Shop", "Sales\n| render timechart with (title='t')\n")
    assert parsed.binding.kql_command == "Sales"
    assert "render" not in parsed.binding.to_function_json()["kqlCommand"]
    assert parsed.options.render.kind == "timechart"


# -- drawing, in a real shell -------------------------------------------------------------------

SALES = """.set-or-append Sales <| datatable(Day:datetime, Region:string, Product:string, Units:long, Price:real) [
    datetime(2026-01-01), 'North', 'Apple', 10, 1.0,
    datetime(2026-01-01), 'South', 'Pear', 4, 2.0,
    datetime(2026-01-02), 'North', 'Apple', 12, 1.5,
    datetime(2026-01-02), 'South', 'Fig', 7, 3.0,
    datetime(2026-01-03), 'North', 'Pear', 9, 2.5,
    datetime(2026-01-03), 'South', 'Apple', 3, 1.0,
    datetime(2026-01-03), 'East', 'Fig', 5, 0.5]"""


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    import os

    from kfx_notebook.backends import clear_cache

    sh = TestingShell.instance()
    sh.history_manager.enabled = False
    if "KustoMagics" not in sh.magics_manager.registry:
        sh.run_line_magic("load_ext", "kfx_notebook")
    db_file = tmp_path_factory.mktemp("render") / "charts.duckdb"
    old = os.environ.get("KustoConnectionString")
    os.environ["KustoConnectionString"] = f"Data Source=local:{db_file}"
    clear_cache()
    sh.capture(f"%%kusto_input made --database Shop\n{SALES}")
    yield sh
    clear_cache()
    if old is None:
        os.environ.pop("KustoConnectionString", None)
    else:
        os.environ["KustoConnectionString"] = old


def chart_cell(shell, kql: str):
    """Run a chart cell; return (the Chart drawn, the PNG bytes shown, the frame it assigned)."""
    from IPython.utils.capture import capture_output

    from kfx_notebook.charts import Chart

    drawn = []
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Chart, lambda chart: drawn.append(chart) or chart.png())
    try:
        with capture_output() as captured:
            shell.run_cell(f"%%kusto_input result --database Shop\n{kql}")
    finally:
        formatter.type_printers.pop(Chart, None)
    images = [o.data["image/png"] for o in captured.outputs if "image/png" in o.data]
    assert len(drawn) == 1 and len(images) == 1, captured.stdout
    return drawn[0], images[0], shell.user_ns["result"]


def _series_drawn(chart) -> int:
    """Count what matplotlib holds for the chart's style: lines, bar groups, areas, points, wedges."""
    axes = chart.figure.axes[0]
    style = chart.spec.drawing.style
    if style == "line":
        return len(axes.lines)
    if style in ("bar", "column"):
        return len(axes.containers)
    if style in ("area", "scatter"):
        return len(axes.collections)
    return len(axes.patches)  # pie: one wedge per row


@pytest.mark.parametrize("kind, kql, series", [
    pytest.param("timechart", "Sales | summarize Units = sum(Units) by Day, Region", 3, id="timechart-by-region"),
    pytest.param("linechart", "Sales | summarize Units = sum(Units), Top = max(Units) by Day", 2,
                 id="linechart-two-y-columns"),
    pytest.param("areachart", "Sales | summarize Units = sum(Units) by Day, Region", 3, id="areachart"),
    pytest.param("stackedareachart", "Sales | summarize Units = sum(Units) by Day, Region", 3,
                 id="stackedareachart"),
    pytest.param("barchart", "Sales | summarize Units = sum(Units) by Product", 1, id="barchart"),
    pytest.param("columnchart", "Sales | summarize Units = sum(Units) by Product, Region", 3,
                 id="columnchart-by-region"),
    pytest.param("piechart", "Sales | summarize Units = sum(Units) by Product", 3, id="piechart-three-wedges"),
    pytest.param("scatterchart", "Sales | project Price, Units", 1, id="scatterchart"),
])
def test_each_kind_draws_its_series_under_the_result(shell, kind, kql, series):
    chart, png, frame = chart_cell(shell, f'{kql}\n| render {kind} with (title="Units {kind}")')
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    assert chart.figure.axes[0].get_title() == f"Units {kind}"
    assert _series_drawn(chart) == series
    assert frame.attrs["kusto"]["render"] == {"kind": kind, "properties": {"title": f"Units {kind}"}}
    assert "render" not in frame.attrs["kusto"]["query"]


def test_with_properties_choose_columns_titles_stacking_and_legend(shell):
    chart, _, _ = chart_cell(shell, "Sales | summarize Units = sum(Units), Revenue = sum(Units * Price) by Day, Region"
                                    "\n| render columnchart with (xcolumn=Day, ycolumns=Revenue, series=Region, "
                                    "kind=stacked, xtitle='day', ytitle='EUR', legend=hidden)")
    axes = chart.figure.axes[0]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("day", "EUR")
    assert sorted(chart.series) == ["East", "North", "South"] and axes.get_legend() is None
    assert len(axes.containers) == 3
    # stacked: each later group starts where the ones below it end
    first, second = axes.containers[0], axes.containers[1]
    assert [b.get_y() for b in second] == [b.get_height() for b in first]


def test_stacked100_sums_each_x_to_a_hundred(shell):
    chart, _, _ = chart_cell(shell, "Sales | summarize Units = sum(Units) by Day, Region"
                                    "\n| render areachart with (kind=stacked100)")
    assert len(chart.series) == 3
    axes = chart.figure.axes[0]
    assert axes.get_ylim()[1] == pytest.approx(100, abs=6)


def test_a_chart_without_a_numeric_column_says_what_it_needs(shell):
    error, shown = shell.failure("%%kusto_input result --database Shop\nSales | project Region | render barchart")
    assert "needs a numeric column" in shown and "Region (" in shown and "Traceback" not in shown


def test_a_chart_column_that_is_not_in_the_result_is_refused(shell):
    error, shown = shell.failure("%%kusto_input result --database Shop\n"
                                 "Sales | render linechart with (ycolumns=Nope)")
    assert "no column 'Nope'" in shown


def test_render_with_as_json_is_refused(shell):
    error, shown = shell.failure("%%kusto_input result --database Shop --as json\nSales | render piechart")
    assert "--as json" in shown


def test_a_missing_plotting_library_says_which_extra_to_install(monkeypatch):
    import sys

    import pandas as pd

    from kfx_notebook.charts import draw

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if matplotlib were not installed
    _, spec = render.split_render("T | render piechart")
    with pytest.raises(KfxError) as info:
        draw(pd.DataFrame({"a": ["x"], "n": [1]}), spec)
    assert 'pip install "kfx-notebook[charts]"' in str(info.value)
