"""`%%kusto_input NAME --interactive`: an ipywidgets form over the declared query parameters.

One input per `declare query_parameters` entry, typed by its declared type (text,
integer, float, checkbox, date-time picker), prefilled from the binding's kqlParameters as
resolved against the notebook, and a Run button that re-runs the binding with the form's
values and replaces NAME and the shown DataFrame. Without a widget frontend the cell runs
once, plainly, with a one-line note. ipywidgets is imported only here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

WIDGET_FOR_TYPE = {  # declared Kusto type -> ipywidgets class name
    "long": "IntText", "int": "IntText", "real": "FloatText", "decimal": "FloatText", "bool": "Checkbox",
    "datetime": "DatetimePicker", "string": "Text", "guid": "Text", "timespan": "Text", "dynamic": "Text",
}


def show_form(form: ParameterForm, shell, note: Callable[[str], None]):
    """Show the form and run it once (or, without a widget frontend, run the cell once plainly)."""
    if not _widget_frontend(shell):
        note("--interactive needs a widget frontend (Jupyter with ipywidgets); ran the cell once instead")
        return form.rerun({})
    from IPython.display import display

    form.run()
    display(form.bundle(), raw=True)
    return None


class ParameterForm:
    """The form's widgets and its Run action, usable without a frontend (tests drive it directly).

    `rerun(values)` runs the binding with the form's values (strings, as the binding sends them)
    and returns the new DataFrame; the magics pass it, so the form knows nothing of them.
    """

    def __init__(self, cell: str, prefill: dict[str, str], rerun: Callable[[dict[str, str]], Any]):
        import ipywidgets as widgets

        from . import expressions

        self.rerun = rerun
        self.declared = expressions.declared_parameters(cell)
        self.fields: dict[str, Any] = {}
        for decl in self.declared:
            kind = decl.type
            widget_class = getattr(widgets, WIDGET_FOR_TYPE.get(kind, "Text"))
            widget = widget_class(description=f"{decl.name} ({kind})",
                                  style={"description_width": "initial"})
            value = _widget_value(kind, prefill.get(decl.name, decl.default))
            if value is not None:
                widget.value = value
            self.fields[decl.name] = widget
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.run_button.on_click(lambda _button: self.run())
        self.output = widgets.Output()
        self.frame = None
        self.widget = widgets.VBox([*self.fields.values(), self.run_button, self.output])

    def values(self) -> dict[str, str]:
        """The form's values as the binding would send them: strings, typed as Kusto parses them."""
        out = {}
        for decl in self.declared:
            value = self.fields[decl.name].value
            if value is None or value == "":
                continue
            out[decl.name] = _parameter_text(decl.type, value)
        return out

    def run(self):
        """Re-run the binding with the form's values; NAME and the shown frame are replaced."""
        from IPython.display import clear_output, display

        with self.output:
            clear_output(wait=True)
            try:
                self.frame = self.rerun(self.values())
            except Exception as exc:  # noqa: BLE001 - shown in the form's output, the form stays usable
                print(exc)
                return None
            if self.frame is not None:  # a chart query has shown its frame and chart already
                display(self.frame)
        return self.frame

    def bundle(self) -> dict[str, object]:
        """The form as a display bundle: the live widget, and beside it a static copy for any viewer
        without a kernel (a saved notebook, nbconvert, GitHub): the values and the first frame."""
        import html

        view = self.widget._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]
        values = [(f"{decl.name} ({decl.type})", self.fields[decl.name].value) for decl in self.declared]
        caption = "%%kusto_input --interactive: a form; run the notebook with a kernel to use it"
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in values)
        shown = self.frame if hasattr(self.frame, "_repr_html_") else None
        return {
            "application/vnd.jupyter.widget-view+json": view,
            "text/plain": "\n".join([caption, *(f"  {k} = {v}" for k, v in values),
                                      shown.to_string(max_rows=20) if shown is not None else ""]).rstrip(),
            "text/html": (f"<div class='kfx-form-static'><p><i>{html.escape(caption)}</i></p><table>{rows}</table>"
                          f"{shown._repr_html_() if shown is not None else ''}</div>"),
        }


def _widget_value(kind: str, text: str | None) -> Any:
    if text is None:
        return None
    try:
        if kind in ("long", "int"):
            return int(text)
        if kind in ("real", "decimal"):
            return float(text)
        if kind == "bool":
            return str(text).strip().lower() == "true"
        if kind == "datetime":
            from .literals import parse_datetime

            return parse_datetime(text).replace(tzinfo=dt.UTC)
    except (ValueError, TypeError):
        return None
    return str(text)


def _parameter_text(kind: str, value: Any) -> str:
    if kind == "bool":
        return "true" if value else "false"
    if kind == "datetime" and isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"datetime({value.isoformat()})"
    return str(value)


def _widget_frontend(shell) -> bool:
    """True inside a Jupyter kernel (where ipywidgets render); False in a terminal or plain shell."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return type(shell).__name__ == "ZMQInteractiveShell"
