"""An app's Kusto bindings, as the Functions host reads them, fulfilled through the one binding runner.

The rule it keeps: a binding's properties come from the app's own metadata (function.json keys),
and a key the Kusto extension does not read is refused; every `{name}` / `{Query.x}` a binding
uses must have a route or query value before anything runs; inputs become the JSON string a
Python function receives, and outputs are ingested after the function returns (the extension's
FlushAsync), one call per output, from the TypedData the worker sent. Independent of how the app
is loaded (the azure-functions library, or the real worker: kfx_notebook.invoke.worker).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import bindings, run
from ..errors import BindingError

_EXPR = re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_.\-]+)\}")
#: The request id an input binding sends (the extension's prefix, then ours).
INPUT_REQUEST_ID = "AzFunctions.InputBinding;kfx-notebook"
NO_SETTING_HINT = " Fill it in the app's local.settings.json, or pass --connection-string."


def app_host(app_dir: Path, connection_string: str | None, warnings: list[str]) -> run.Host:
    """Where an app's bindings run: its local.settings.json then the environment; warnings collected."""
    from ..settings import Settings

    path = app_dir / "local.settings.json"
    return run.Host(Settings(path if path.is_file() else None, os.environ), note=warnings.append,
                    connection_string=connection_string, base_dir=app_dir, request_id_prefix=INPUT_REQUEST_ID,
                    setting_hint=NO_SETTING_HINT)


#: Values of the host's own settings that are never secrets (what `kfx-notebook export` writes): a value
#: that is no connection string counts as secret in every piece, and scrubbing "python" (the worker
#: runtime) or "true" (the storage emulator's) would garble every path and message shown.
NOT_SECRET = {"FUNCTIONS_WORKER_RUNTIME": None, "AzureWebJobsFeatureFlags": None,
              "AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def app_secrets(settings, connection_string: str | None) -> list[str]:
    """Every secret an app's function could echo back: those of its settings and of --connection-string."""
    from ..settings import secret_values

    never = {key for key, value in settings.values.items() if key in NOT_SECRET and NOT_SECRET[key] in (None, value)}
    values = [value for key, value in settings.values.items() if key not in never]
    values += [*settings.connection_strings.values(), connection_string or ""]
    return [secret for value in values for secret in secret_values(value)]


def kusto_binding(properties: Mapping[str, Any], direction: str, name: str, function_name: str):
    """A binding's function.json properties -> KustoInput / KustoOutput, validated; unknown keys refused."""
    by_key = {p.key.lower(): p for p in bindings.PROPERTIES if direction in p.directions}
    values = {}
    for key, value in properties.items():
        if key in ("type", "direction", "name", "dataType"):  # the host's keys, not the extension's
            continue
        prop = by_key.get(key.lower())
        if prop is None:
            raise BindingError(f"function {function_name}: kusto binding '{name}' has property {key!r}, "
                               "which the Kusto extension does not read",
                               hint="Use the binding's camelCase keys (" +
                                    ", ".join(p.key for p in bindings.PROPERTIES if direction in p.directions) + ").")
        values[prop.attr] = value
    values.setdefault("connection", None)
    if direction == "in":
        model = bindings.KustoInput(name=name, kql_command=values.pop("kql_command", ""),
                                    **{"database": None, **values})
    else:
        model = bindings.KustoOutput(name=name, **{"database": None, "table_name": None, **values})
    model.validate()
    return model


def check_expressions(binding, route: Mapping[str, str], query: Mapping[str, str], function_name: str) -> None:
    """Every {name}/{Query.x} a binding uses must have a value: say which flag supplies it."""
    for prop in bindings.PROPERTIES:
        text = getattr(binding, prop.attr, None)
        if not text or not prop.template:
            continue
        for m in _EXPR.finditer(text):
            name = m[1]
            if not name or name.startswith("sys."):
                continue
            if name.startswith("Query."):
                if name[6:] not in query:
                    raise BindingError(f"function {function_name}: {prop.key} of '{binding.name}' uses {{{name}}}, "
                                       "and the query string has no such key (case-sensitive)",
                                       hint=f"Pass --query {name[6:]}=VALUE.")
            elif name.split(".")[0] not in route:
                raise BindingError(f"function {function_name}: {prop.key} of '{binding.name}' uses {{{name}}}, "
                                   "and there is no route value for it",
                                   hint=f"Pass --route {name.split('.')[0]}=VALUE.")


def input_values(inputs, host: run.Host, route: Mapping[str, str], query: Mapping[str, str]) -> dict[str, str]:
    """Each input binding run; its rows as the JSON string a Python function's parameter receives."""
    from ..input_json import rows_json

    return {b.name: rows_json(run.run_input(b, host, namespace=route, query=query).frame) for b in inputs}


def flush_outputs(sent, host: run.Host, route: Mapping[str, str], query: Mapping[str, str]) -> list:
    """Ingest what the worker sent for each output — (binding, TypedData kind, data) — as the host does
    (kfx_notebook.invoke.host_json); the receipts of those that ingested."""
    from .host_json import output_rows

    receipts = []
    for binding, kind, data in sent:
        rows = output_rows(kind, data, binding.name)
        for message in rows.warnings:
            host.note(message)
        if not rows.rows:
            continue
        result = run.run_output(binding, host, rows.rows, namespace=route, query=query)
        if result.outcome is run.Outcome.INGESTED:
            receipts.append(result.receipt)
    return receipts
