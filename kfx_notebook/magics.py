"""The IPython magics: %%kusto_input, %%kusto_output, %kusto_export — parse, call the runner, display.

The rule it keeps: a magic does no binding work of its own. It parses its line and cell with
`bindings.parse_cell` (the one parser, shared with the exporter), hands the binding to
`kfx_notebook.run` with this session's `Host` (settings file, %config defaults, notes as a styled
display said once, progress bars), and shows what came back (with the chart of a `| render`). Library errors (kfx_notebook.errors) are raised as a short
`KustoCellError` (a UsageError: the cell fails, no traceback) unless
`%config KustoMagics.short_errors = False`. Per-cell options always win over `%config` defaults.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand
from traitlets import Bool, CaselessStrEnum, Unicode
from traitlets.config.configurable import Configurable

from . import display
from .backends import IngestPath
from .errors import BindingError, KfxError


class KustoCellError(UsageError):
    """A binding cell failed; IPython shows only this message, and the cell counts as failed."""

    def __init__(self, message: str, error: KfxError | None = None):
        super().__init__(message)
        self.kusto_error = error
        self.request_id = getattr(error, "request_id", None)

    def _render_traceback_(self) -> list[str]:
        """What IPython (terminal or kernel) shows instead of a traceback."""
        return str(self).splitlines()


@magics_class
class KustoMagics(Magics, Configurable):
    """Mirror the Azure Functions Kusto bindings in a notebook. `%config KustoMagics` lists the options."""

    default_connection = Unicode("KustoConnectionString", config=True,
                                 help="Connection setting name used when a cell gives no --connection "
                                      "(default: KustoConnectionString, as the extension documents).")
    default_database = Unicode("", config=True,
                               help="Database used when a cell gives no --database (default: none; required).")
    settings_file = Unicode("", config=True,
                            help="local.settings.json to read settings from (default: the nearest one in the "
                                 "notebook's folder or above).")
    show_query = Bool(False, config=True, help="Print the resolved query and parameters before running "
                                               "(default: False; a cell's --show-query wins).")
    progress = Bool(True, config=True, help="Show a progress bar for a query or ingestion that runs longer "
                                            "than about a second when interactive (default: True).")
    short_errors = Bool(True, config=True, help="Show binding errors in one short block instead of a "
                                                "traceback (default: True).")
    converter = CaselessStrEnum(["fast", "sdk"], default_value="fast", config=True,
                                help="How cluster results become DataFrames: 'fast' (kfx-notebook's converter) "
                                     "or 'sdk' (azure-kusto-data's dataframe_from_result_table) (default: fast).")

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        self._noted: set[str] = set()
        self._said: set[tuple[str, str]] = set()

    # -- shared plumbing -------------------------------------------------------------------------
    def defaults(self):
        """The session's %config defaults for what a cell leaves out."""
        from .run import Defaults

        return Defaults(self.default_connection, self.default_database)

    def host(self):
        """Where this session's bindings run: its settings file, %config defaults and notes."""
        from .run import Host
        from .settings import Settings, find_settings_file

        path = Path(self.settings_file) if self.settings_file else find_settings_file(Path.cwd())
        return Host(Settings(path, os.environ), self.defaults(), note=self._note, embedded_fallback=True,
                    converter=self.converter, noted=self._noted, info=self._info, activity=self._activity)

    def _note(self, message: str, kind: str = "warning") -> None:
        """A warning (or a note), said once per session, as a styled display (never stderr: not an error)."""
        from IPython.display import display as show

        if (kind, message) in self._said:
            return
        self._said.add((kind, message))
        show(display.notice_bundle(message, kind), raw=True)

    def _info(self, message: str) -> None:
        self._note(message, "note")

    def _activity(self, what: str):
        """A bar for work longer than about a second when a person is watching (progress.py), else nothing."""
        import contextlib

        if not self.progress or not _interactive():
            return contextlib.nullcontext()
        from .progress import activity

        return activity(what, kernel=_in_kernel())

    def _fail(self, exc: KfxError, what: str):
        if not self.short_errors:
            raise exc
        raise KustoCellError(display.error_text(exc, what=what), exc) from None

    def _namespace(self, local_ns) -> dict:
        ns = dict(self.shell.user_ns)
        if local_ns:
            ns.update(local_ns)
        return ns

    # -- %%kusto_input ---------------------------------------------------------------------------
    @no_var_expand
    @needs_local_scope
    @cell_magic
    def kusto_input(self, line: str, cell: str, local_ns=None):
        """%%kusto_input NAME [--database DB] [--kql-parameters "@p={p}"] [--connection SETTING] ...

        The cell is the kqlCommand. Runs it as the input binding would and assigns a pandas
        DataFrame (or, with --as json, the JSON string a Python function receives) to NAME.
        """
        from . import bindings, run

        try:
            parsed = bindings.parse_cell("kusto_input", line, cell)
            run.apply_defaults(parsed, self.defaults())   # a binding the host would refuse fails the cell
        except KfxError as exc:
            self._fail(exc, "kusto_input")
        if parsed.options.interactive:
            from .form import show_form

            return show_form(self.parameter_form(line, cell, local_ns), self.shell, self._info)
        return self.rerun_input(line, cell, local_ns, parsed=parsed)

    def rerun_input(self, line: str, cell: str, local_ns=None, overrides: dict | None = None, *, parsed=None):
        """Run an input cell (the form's re-run callback): the form's `overrides` win over kqlParameters.
        *parsed*: the cell as `bindings.parse_cell` read it, when the caller has just done so."""
        from . import bindings, run

        try:
            parsed = parsed or bindings.parse_cell("kusto_input", line, cell)
            spec = parsed.options.render
            if spec is not None and parsed.options.as_ == "json":
                raise BindingError(f"render {spec.kind} draws a DataFrame, and --as json returns a string",
                                   hint="Drop --as json, or the `| render` line.")
            host = self.host()
            binding = run.apply_defaults(parsed, host.defaults)
            namespace = self._namespace(local_ns)
            show = parsed.options.show_query or self.show_query
            result = run.run_input(binding, host, namespace=namespace, query=_query(parsed.options, namespace),
                                   overrides=overrides, before_query=_print_query if show else None)
        except KfxError as exc:
            self._fail(exc, "kusto_input")
        frame = result.frame
        print(display.result_line(binding.name, len(frame), len(frame.columns), result.database, result.where,
                                  result.elapsed))
        if parsed.options.as_ == "json":
            from .input_json import rows_json

            text = rows_json(frame)
            self.shell.user_ns[binding.name] = text
            print(text)
            return None
        self.shell.user_ns[binding.name] = frame
        if spec is not None:
            return self._show_chart(frame, spec)
        return frame

    def _show_chart(self, frame, spec):
        """The frame, then its chart under it (a static PNG); the render goes into attrs too."""
        from IPython.display import display as show

        from .charts import draw

        frame.attrs["kusto"]["render"] = spec.as_attrs()
        try:
            chart = draw(frame, spec)
        except KfxError as exc:
            self._fail(exc, "kusto_input")
        show(frame)
        show(chart)
        return None

    def parameter_form(self, line: str, cell: str, local_ns=None):
        """The --interactive form of an input cell, prefilled, re-running the cell on Run."""
        from . import bindings, run
        from .form import ParameterForm

        parsed = bindings.parse_cell("kusto_input", line, cell)
        try:
            host = self.host()
            binding = run.apply_defaults(parsed, host.defaults)
            prefill = dict(bindings.resolve_input(binding, namespace=self._namespace(local_ns), query=None,
                                                  settings=host.settings).parameters)
        except KfxError:
            prefill = {}
        return ParameterForm(cell, prefill, lambda values: self.rerun_input(line, cell, local_ns, overrides=values))

    # -- %%kusto_output --------------------------------------------------------------------------
    @no_var_expand
    @needs_local_scope
    @cell_magic
    def kusto_output(self, line: str, cell: str, local_ns=None):
        """%%kusto_output [NAME] --database DB --table-name T [--mapping-ref M] [--data-format F] ...

        The cell is Python; the value of its last expression is what the function returns to the
        output binding. It is serialized and ingested exactly as the binding would (--dry-run shows
        the payload instead).
        """
        from . import bindings, run

        try:
            parsed = bindings.parse_cell("kusto_output", line, cell)
            host = self.host()
            binding = run.apply_defaults(parsed, host.defaults)
            namespace = self._namespace(local_ns)
            value = self._evaluate(parsed.options.code, local_ns)
            result = run.run_output(binding, host, value, namespace=namespace,
                                    query=_query(parsed.options, namespace), dry_run=parsed.options.dry_run)
        except KfxError as exc:
            self._fail(exc, "kusto_output")
        if result.outcome is run.Outcome.DRY_RUN:
            print(display.dry_run_text(binding, result.resolved, result.payload))
        elif result.outcome is run.Outcome.NOTHING:
            print("nothing to ingest: the binding ingests no rows and makes no call (null rows are skipped)")
        else:
            print(display.receipt_line(result.receipt, result.where))
            if result.receipt.path is IngestPath.FELL_BACK:
                self._note("streaming was not possible, so the rows were queued; the deployed binding (1.0.13) "
                           "reports success at this point without waiting for the queued ingestion's status")

    def _evaluate(self, code: str, local_ns) -> Any:
        """Run the cell's Python in the notebook namespace; the last expression's value is returned."""
        tree = ast.parse(code or "None", mode="exec")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        namespace = self.shell.user_ns
        exec(compile(tree, "<kusto_output cell>", "exec"), namespace, local_ns or namespace)
        if last is None:
            raise BindingError("The cell's last line must be an expression: the value the function returns to "
                               "the output binding (a DataFrame, a dict, a list of dicts or a JSON string)")
        return eval(compile(ast.Expression(last.value), "<kusto_output cell>", "eval"), namespace,
                    local_ns or namespace)

    # -- %kusto_export ---------------------------------------------------------------------------
    @no_var_expand
    @line_magic
    def kusto_export(self, line: str):
        """%kusto_export --out DIR [--language python|javascript|csharp|java] [--trigger http|timer]
        [--route ROUTE] [--force] [--notebook PATH] — export this notebook's binding cells to a Functions app."""
        from .export.command import export_from_magic

        try:
            export_from_magic(self, line)  # prints what it wrote; nothing to display
        except KfxError as exc:
            self._fail(exc, "kusto_export")


def _query(options, namespace) -> dict | None:
    """The stand-in for the HTTP query string: --query, else a `query` dict in the namespace."""
    if options.query is not None:
        return options.query
    query = namespace.get("query")
    return query if isinstance(query, dict) else None


def _print_query(database: str, parameters, kql: str) -> None:
    print(f"database: {database}\nparameters: {parameters}\n{kql}")


def _interactive() -> bool:
    """A person is watching: a Jupyter kernel (the bar is a widget) or a terminal."""
    from IPython import get_ipython

    return get_ipython() is not None and (_in_kernel() or sys.stdout.isatty())


def _in_kernel() -> bool:
    from IPython import get_ipython

    return type(get_ipython()).__name__ == "ZMQInteractiveShell"
