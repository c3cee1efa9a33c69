"""The IPython magics: %%kusto_input, %%kusto_output, %kusto_export. Thin by design.

A magic parses its line and cell with `bindings.parse_cell` (the one parser, shared with
the exporter), resolves binding expressions against the notebook namespace and the
settings, calls a backend, and shows the result. Library errors (kfx_notebook.errors)
are raised as a short `KustoCellError` (a UsageError: the cell fails, no traceback)
unless `%config KustoMagics.short_errors = False`. Per-cell options always win over
`%config` defaults.
"""

from __future__ import annotations

import ast
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand
from traitlets import Bool, CaselessStrEnum, Unicode
from traitlets.config.configurable import Configurable

from . import display
from .errors import BindingError, KfxError, SettingError

EMBEDDED = "Data Source=local"
PROGRESS_ROWS = 5000


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
    progress = Bool(True, config=True, help="Show a progress bar for large ingestions when interactive "
                                            "(default: True).")
    short_errors = Bool(True, config=True, help="Show binding errors in one short block instead of a "
                                                "traceback (default: True).")
    converter = CaselessStrEnum(["fast", "sdk"], default_value="fast", config=True,
                                help="How cluster results become DataFrames: 'fast' (kfx-notebook's converter) "
                                     "or 'sdk' (azure-kusto-data's dataframe_from_result_table) (default: fast).")

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        self._noted: set[str] = set()

    # -- shared plumbing -------------------------------------------------------------------------
    def _settings(self):
        from .settings import Settings, find_settings_file

        path = Path(self.settings_file) if self.settings_file else find_settings_file(Path.cwd())
        return Settings(path, os.environ)

    def _connect(self, binding, settings, identity):
        """(backend, connection string, where) for a binding's connection setting, as the host looks it up."""
        from .backends import backend_for

        name = binding.connection
        value = settings.connection_string(name)
        if value is None:
            if name != self.default_connection:
                raise SettingError(
                    "Parameter KustoAttribute.Connection should be passed as an environment variable. "
                    "This value resolved to null",
                    hint=f"No setting '{name}' in ConnectionStrings, local.settings.json Values or the environment.")
            if name not in self._noted:  # said once per session, not on every cell
                self._noted.add(name)
                self._note(f"no connection setting '{name}' found (ConnectionStrings, local.settings.json "
                           "Values, environment): using the embedded database in memory (Data Source=local)")
            value = EMBEDDED
        if not value.strip():
            raise SettingError("Parameter KustoAttribute.Connection should be passed as an environment variable. "
                               "This value resolved to null", hint=f"Setting '{name}' is empty.")
        backend = backend_for(value, identity or None)
        return backend, value, backend.describe()

    def _note(self, message: str) -> None:
        print(display.warning_line(message), file=sys.stderr)

    def _fail(self, exc: KfxError, what: str, secrets: list[str], request_id: str | None = None):
        exc.request_id = exc.request_id or request_id
        if not self.short_errors:
            raise exc
        raise KustoCellError(display.scrub(display.error_text(exc, what=what), secrets), exc) from None

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
        return self._run_input(line, cell, local_ns)

    def _run_input(self, line: str, cell: str, local_ns=None, overrides: dict | None = None):
        from . import bindings

        secrets: list[str] = []
        request_id = None
        try:
            parsed = bindings.parse_cell("kusto_input", line, cell)
            binding = self._with_defaults(parsed)
            options = parsed.options
            if getattr(options, "interactive", False) and overrides is None:
                from .form import show_form

                return show_form(self, line, cell, local_ns)
            settings = self._settings()
            namespace = self._namespace(local_ns)
            resolved = bindings.resolve_input(binding, namespace=namespace, query=_query(options, namespace),
                                              settings=settings)
            for message in resolved.warnings:
                self._note(message)
            parameters = {**resolved.parameters, **(overrides or {})}  # the interactive form's values win
            backend, connection, where = self._connect(binding, settings, resolved.managed_service_identity)
            secrets = _secrets(connection)
            if getattr(options, "show_query", False) or self.show_query:
                print(f"database: {resolved.database}\nparameters: {parameters}\n{resolved.kql}")
            request_id = f"KFX.notebook;{uuid.uuid4()}"
            result = backend.query(resolved.database, resolved.kql, parameters,
                                   options=resolved.client_request_properties or None, request_id=request_id)
        except KfxError as exc:
            self._fail(exc, "kusto_input", secrets, request_id)
        frame = result.frame
        frame.attrs["kusto"] = {
            "database": resolved.database, "query": resolved.kql, "parameters": parameters,
            "column_types": dict(result.column_types), "elapsed": result.elapsed,
            "client_request_id": result.client_request_id or request_id, "connection": binding.connection,
        }
        print(display.result_line(binding.name, len(frame), len(frame.columns), resolved.database, where,
                                  result.elapsed))
        if getattr(options, "as_", None) == "json" or getattr(options, "as_json", False) \
                or getattr(options, "output", None) == "json":
            from .input_json import rows_json

            text = rows_json(frame)
            self.shell.user_ns[binding.name] = text
            print(text)
            return None
        self.shell.user_ns[binding.name] = frame
        return frame

    def _with_defaults(self, parsed):
        """Config defaults for what the cell left out (a cell option always wins)."""
        import dataclasses

        binding = parsed.binding
        changes = {}
        if "connection" not in parsed.given and self.default_connection:
            changes["connection"] = self.default_connection
        if not getattr(binding, "database", None) and self.default_database:
            changes["database"] = self.default_database
        binding = dataclasses.replace(binding, **changes) if changes else binding
        binding.validate()
        return binding

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
        from . import bindings, payload

        secrets: list[str] = []
        try:
            parsed = bindings.parse_cell("kusto_output", line, cell)
            binding = self._with_defaults(parsed)
            options = parsed.options
            namespace = self._namespace(local_ns)
            value = self._evaluate(getattr(options, "code", cell), local_ns)
            settings = self._settings()
            resolved = bindings.resolve_output(binding, namespace=namespace, query=_query(options, namespace),
                                               settings=settings)
            returned = payload.rows_from_return(value)
            body = payload.serialize(self._progress(returned.rows), resolved.data_format)
            for message in [*resolved.warnings, *returned.warnings, *body.warnings]:
                self._note(message)
            if getattr(options, "dry_run", False):
                print(_dry_run_text(binding, resolved, body))
                return None
            if body.rows == 0:
                print("nothing to ingest: the binding ingests no rows and makes no call (null rows are skipped)")
                return None
            backend, connection, where = self._connect(binding, settings, resolved.managed_service_identity)
            secrets = _secrets(connection)
            receipt = backend.ingest(resolved.database, resolved.table_name, body.data,
                                     data_format=body.data_format, mapping_ref=resolved.mapping_ref,
                                     ingestion_type=resolved.ingestion_type,
                                     properties=resolved.ingestion_properties)
        except KfxError as exc:
            self._fail(exc, "kusto_output", secrets)
        print(display.receipt_line(receipt, where))
        if receipt.path == "fell back to queued":
            self._note("streaming was not possible, so the rows were queued; the deployed binding (1.0.13) "
                       "reports success at this point without waiting for the queued ingestion's status")
        return None

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

    def _progress(self, rows: list) -> list:
        """Serializing many rows shows a bar when interactive (tqdm.auto: widget or text), else nothing."""
        if not self.progress or len(rows) < PROGRESS_ROWS or not _interactive():
            return rows
        from tqdm.auto import tqdm

        return list(tqdm(rows, desc="serializing rows", unit="row", leave=False))

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
            self._fail(exc, "kusto_export", [])


def _query(options, namespace) -> dict | None:
    """The stand-in for the HTTP query string: --query, else a `query` dict in the namespace."""
    value = getattr(options, "query", None)
    if value is not None:
        return value
    query = namespace.get("query")
    return query if isinstance(query, dict) else None


def _secrets(connection: str) -> list[str]:
    from .settings import secret_values

    return secret_values(connection)


def _interactive() -> bool:
    """A person is watching: a Jupyter kernel (tqdm.auto draws a widget) or a terminal."""
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and (type(shell).__name__ == "ZMQInteractiveShell" or sys.stdout.isatty())


def _dry_run_text(binding, resolved, body) -> str:
    data = body.data.decode("utf-8", "replace")
    props = {"database": resolved.database, "tableName": resolved.table_name, "dataFormat": body.data_format,
             "mappingRef": resolved.mapping_ref, "ingestionType": resolved.ingestion_type,
             "connection": binding.connection}
    shown = {k: v for k, v in props.items() if v}
    return (f"dry run: would ingest {body.rows} row{'s' if body.rows != 1 else ''} ({len(body.data):,} bytes) "
            f"with {shown}\n{data}")
