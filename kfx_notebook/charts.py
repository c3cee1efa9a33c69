"""Draw a `RenderSpec` over a result DataFrame as a static PNG: the only module that imports matplotlib.

matplotlib is the optional `charts` extra, imported on the first chart (never at load);
without it drawing raises one line saying what to install. Figures are built on their own
Agg canvas (no pyplot, no global state, no GUI backend) and leave as PNG bytes, so a saved
notebook shows the chart anywhere. Column roles follow Kusto's rendering: the x column (or
the first column; the first datetime column for a timechart), y = the numeric columns,
series = the remaining string columns, each overridable by with-properties.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from .errors import KustoSemanticError
from .extras import missing_extra
from .render import RenderSpec


@dataclass
class Chart:
    """A drawn chart: the matplotlib figure (for tests to inspect), its series labels, and its PNG."""

    spec: RenderSpec
    figure: object
    series: list[str]

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def __repr__(self) -> str:
        title = self.spec.properties.get("title")
        return f"<{self.spec.kind}{': ' + str(title) if title else ''}, {len(self.series)} series>"


@dataclass(frozen=True)
class Roles:
    x: str
    y: list[str]
    series: list[str]


def draw(frame, spec: RenderSpec) -> Chart:
    """The chart of `frame` as `spec` asks, or a one-line error about the columns it needs."""
    try:
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        raise (missing_extra(exc) or exc) from None
    roles = _roles(frame, spec)
    figure = Figure(figsize=(8, 4.2), dpi=96, layout="constrained")
    axes = figure.add_subplot()
    if spec.drawing.style == "pie":
        labels = _draw_pie(axes, frame, roles)
    else:
        # an axis of times or numbers is drawn in order; categories keep the query's order
        ordered = spec.drawing.style in ("line", "area", "scatter") or _is_ordered(frame[roles.x])
        wide = _wide(frame, roles, sort=ordered)
        if spec.stacking == "stacked100":
            wide = wide.div(wide.abs().sum(axis=1).where(lambda s: s != 0), axis=0) * 100
        STYLES[spec.drawing.style](axes, wide, spec.stacking)
        labels = [str(c) for c in wide.columns]
    _decorate(axes, spec, roles, labels)
    return Chart(spec, figure, labels)


def _roles(frame, spec: RenderSpec) -> Roles:
    import pandas as pd

    props = spec.properties
    columns = [str(c) for c in frame.columns]
    for name in [props.get("xcolumn"), *props.get("ycolumns", ()), *props.get("series", ())]:
        if name is not None and name not in columns:
            raise KustoSemanticError(f"render {spec.kind}: the result has no column '{name}'",
                                     hint="Columns: " + ", ".join(columns) + ".")
    if not columns:
        raise KustoSemanticError(f"render {spec.kind}: the result has no columns", hint="Return some rows.")
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    dated = [c for c in columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    x = props.get("xcolumn")
    if x is None:
        x = (dated[0] if dated else None) if spec.drawing.x_type == "datetime" else columns[0]
    if x is None:
        raise KustoSemanticError(f"render {spec.kind} needs a datetime column for its x axis",
                                 hint="Project a datetime column, or use linechart.")
    series = list(props.get("series", ())) or [c for c in columns if c != x and c not in numeric
                                                and c not in dated and spec.drawing.style != "pie"]
    y = list(props.get("ycolumns", ())) or [c for c in numeric if c != x and c not in series]
    if not y:
        raise KustoSemanticError(f"render {spec.kind} needs a numeric column to draw",
                                 hint="Columns: " + ", ".join(f"{c} ({frame[c].dtype})" for c in columns) + ".")
    return Roles(x, y, series)


def _wide(frame, roles: Roles, *, sort: bool):
    """One column per series (series value x y column), indexed by x; tz-aware times as UTC."""
    import pandas as pd

    data = frame[[roles.x, *roles.series, *roles.y]].copy()
    if isinstance(data[roles.x].dtype, pd.DatetimeTZDtype):
        data[roles.x] = data[roles.x].dt.tz_convert("UTC").dt.tz_localize(None)
    if not roles.series:
        wide = data.set_index(roles.x)[roles.y]
        return wide.sort_index() if sort else wide
    keys = data[roles.series].astype(str).agg(", ".join, axis=1)
    data = data.assign(_series=keys)
    wide = data.pivot_table(index=roles.x, columns="_series", values=roles.y, aggfunc="sum", sort=sort)
    if not sort:
        wide = wide.reindex(pd.unique(data[roles.x]))
    if len(roles.y) == 1:
        wide.columns = [str(key) for _, key in wide.columns]
    else:
        wide.columns = [f"{key}:{y}" for y, key in wide.columns]
    return wide


def _draw_line(axes, wide, stacking):
    for column in wide.columns:
        values = wide[column].dropna()
        axes.plot(values.index, values.to_numpy(), label=str(column), linewidth=1.6)


def _draw_scatter(axes, wide, stacking):
    for column in wide.columns:
        values = wide[column].dropna()
        axes.scatter(values.index, values.to_numpy(), label=str(column), s=18)


def _draw_area(axes, wide, stacking):
    filled = wide.fillna(0)
    if stacking in ("stacked", "stacked100"):
        axes.stackplot(filled.index, *[filled[c].to_numpy() for c in filled.columns],
                       labels=[str(c) for c in filled.columns], alpha=0.85)
        return
    for column in filled.columns:
        axes.fill_between(filled.index, filled[column].to_numpy(), alpha=0.35, label=str(column))


def _bars(axes, wide, stacking, horizontal: bool):
    import numpy as np

    categories = [_category(v) for v in wide.index]
    positions = np.arange(len(categories))
    filled = wide.fillna(0)
    stacked = stacking in ("stacked", "stacked100")
    width = 0.8 if stacked else 0.8 / max(len(filled.columns), 1)
    base = np.zeros(len(categories))
    for i, column in enumerate(filled.columns):
        values = filled[column].to_numpy(dtype=float)
        offset = positions if stacked else positions - 0.4 + width * (i + 0.5)
        if horizontal:
            axes.barh(offset, values, height=width, left=base if stacked else None, label=str(column))
        else:
            axes.bar(offset, values, width=width, bottom=base if stacked else None, label=str(column))
        if stacked:
            base = base + values
    if horizontal:
        axes.set_yticks(positions, categories)
        axes.invert_yaxis()  # the first row on top, as it reads
    else:
        axes.set_xticks(positions, categories, rotation=_rotation(categories))


def _draw_bar(axes, wide, stacking):
    _bars(axes, wide, stacking, horizontal=True)


def _draw_column(axes, wide, stacking):
    _bars(axes, wide, stacking, horizontal=False)


def _draw_pie(axes, frame, roles: Roles) -> list[str]:
    values = frame[roles.y[0]].fillna(0).to_numpy(dtype=float)
    labels = [_category(v) for v in frame[roles.x]]
    axes.pie(values, labels=labels, autopct="%1.0f%%", startangle=90, counterclock=False)
    axes.set_aspect("equal")
    return labels


STYLES = {"line": _draw_line, "scatter": _draw_scatter, "area": _draw_area,
          "bar": _draw_bar, "column": _draw_column}


def _decorate(axes, spec: RenderSpec, roles: Roles, labels: list[str]) -> None:
    props = spec.properties
    if "title" in props:
        axes.set_title(str(props["title"]))
    pie = spec.drawing.style == "pie"
    horizontal = spec.drawing.style == "bar"
    if not pie:
        x_title = str(props.get("xtitle", roles.x))
        y_title = str(props.get("ytitle", roles.y[0] if len(roles.y) == 1 else ""))
        axes.set_xlabel(y_title if horizontal else x_title)
        axes.set_ylabel(x_title if horizontal else y_title)
        value_axis = axes.xaxis if horizontal else axes.yaxis
        if props.get("yaxis") == "log":
            (axes.set_xscale if horizontal else axes.set_yscale)("log")
        if props.get("xaxis") == "log" and spec.drawing.style in ("line", "scatter", "area"):
            axes.set_xscale("log")
        low, high = props.get("ymin"), props.get("ymax")
        if low is not None or high is not None:
            (axes.set_xlim if horizontal else axes.set_ylim)(low, high)
        value_axis.grid(True, alpha=0.3)
    if props.get("legend", "visible") == "visible" and not pie and len(labels) > 1:
        axes.legend(fontsize="small", loc="best")


def _is_ordered(column) -> bool:
    import pandas as pd

    return pd.api.types.is_datetime64_any_dtype(column) or (pd.api.types.is_numeric_dtype(column)
                                                            and not pd.api.types.is_bool_dtype(column))


def _category(value) -> str:
    import pandas as pd

    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) else value.strftime("%Y-%m-%d")
    return str(value)


def _rotation(categories: list[str]) -> int:
    return 30 if sum(len(c) for c in categories) > 60 else 0
