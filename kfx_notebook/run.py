"""The one binding runner: session defaults, the connection, an input binding run, an output binding run.

The rule it keeps: everything that runs a Kusto binding — the magics, the interactive form (through
the magics' re-run callback), the exporter (for defaults) and `kfx-notebook invoke` — goes through
these functions, so a binding behaves the same wherever it runs. Each run returns a small frozen
result; the runner never prints (notes go to `Host.note`) and imports no IPython. An error leaving a
run carries the request id and none of the connection string's secrets.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import bindings
from .errors import BindingError, KfxError, SettingError

if TYPE_CHECKING:
    import pandas as pd

    from .backends import Backend, IngestReceipt
    from .payload import Payload
    from .settings import Settings

#: The connection setting a binding names when it names none (the extension's default).
DEFAULT_CONNECTION = "KustoConnectionString"
#: What a notebook uses when the default setting is missing: the embedded database, in memory.
EMBEDDED = "Data Source=local"


# -- defaults ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Defaults:
    """Session defaults for what a cell leaves out (`%config KustoMagics.default_connection` / `_database`)."""

    connection: str = DEFAULT_CONNECTION
    database: str = ""


def apply_defaults(parsed: bindings.ParsedCell, defaults: Defaults) -> bindings.KustoInput | bindings.KustoOutput:
    """The parsed cell's binding with the defaults filled in where the line left them out, validated.

    A cell option always wins: `connection` defers to the line when the line set it, `database` when
    the line gave one.
    """
    binding = parsed.binding
    changes = {}
    if "connection" not in parsed.given and defaults.connection:
        changes["connection"] = defaults.connection
    if not binding.database and defaults.database:
        changes["database"] = defaults.database
    binding = replace(binding, **changes) if changes else binding
    binding.validate()
    return binding


# -- where bindings run -----------------------------------------------------------------------------

def _ignore(_message: str) -> None:
    return None


def _unwatched(_what: str) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Host:
    """What a caller lends the runner: settings, defaults, how the connection is found, where notes go.

    `embedded_fallback`: a missing *default* setting means the embedded database (the notebook's
    offline default, told once through `note`); the Functions host has no such fallback, so invoke
    leaves it off. `connection_string` replaces every setting lookup (invoke --connection-string).
    `base_dir`: a relative `local:` path in a setting is beside this folder (an exported app).
    `info` tells what is merely informational (the fallback to the embedded database), `note` what
    the deployed binding would do differently; `activity(what)` wraps each slow step (a progress bar).
    """

    settings: Settings
    defaults: Defaults = Defaults()
    note: Callable[[str], None] = _ignore
    embedded_fallback: bool = False
    connection_string: str | None = field(default=None, repr=False)
    base_dir: Path | None = None
    converter: str = "fast"
    request_id_prefix: str = "KFX.notebook"
    setting_hint: str = ""                                    # appended to "no such setting" hints
    noted: set[str] = field(default_factory=set, compare=False, repr=False)   # notes already told
    info: Callable[[str], None] | None = None                 # default: note
    activity: Callable[[str], contextlib.AbstractContextManager] = _unwatched

    def note_once(self, key: str, message: str) -> None:
        if key not in self.noted:
            self.noted.add(key)
            (self.info or self.note)(message)


@dataclass(frozen=True)
class Connection:
    """A binding's backend, a secret-free description of it, and the secrets never to show."""

    backend: Backend
    where: str
    secrets: tuple[str, ...] = field(default=(), repr=False)


def connect(binding, host: Host, identity: str | None = None) -> Connection:
    """The backend for a binding's connection setting, looked up as the Functions host does."""
    from .backends import backend_for
    from .settings import secret_values

    value = _connection_string(binding, host)
    secrets = tuple(secret_values(value))
    with scrubbed(secrets):
        backend = backend_for(value, identity or None, converter=host.converter)
    return Connection(backend, backend.describe(), secrets)


def _connection_string(binding, host: Host) -> str:
    """The setting's value: ConnectionStrings, local.settings.json Values, the environment (or the override)."""
    name = binding.connection
    if not name:
        raise BindingError(bindings.NULL_VALUE.format("Connection"),
                                    hint=f"Set connection on the binding '{binding.name}'.")
    if host.connection_string is not None:
        return bindings.check_connection_resolved(host.connection_string)
    value = host.settings.connection_string(name)
    if value is None and host.embedded_fallback and name == host.defaults.connection:
        host.note_once(name, f"no connection setting '{name}' found (ConnectionStrings, local.settings.json "
                             f"Values, environment): using the embedded database in memory ({EMBEDDED})")
        return EMBEDDED
    if value is None:
        raise SettingError(bindings.NULL_CONNECTION,
                           hint=f"No setting '{name}' in ConnectionStrings, local.settings.json Values or the "
                                f"environment.{host.setting_hint}")
    if not value.strip():
        raise SettingError(bindings.NULL_CONNECTION, hint=f"Setting '{name}' is empty.")
    return _beside(value, host.base_dir) if host.base_dir is not None else value


def _beside(value: str, base_dir: Path) -> str:
    """`Data Source=local:data.duckdb` in an app's settings means the file beside the app, wherever the
    caller runs from, so an exported folder with its database is self-contained."""
    from .settings import parse_connection_string

    source = parse_connection_string(value).data_source
    if source.startswith("local:") and not Path(source[6:]).is_absolute():
        return value.replace(source, f"local:{(base_dir / source[6:]).resolve()}", 1)
    return value


@contextlib.contextmanager
def scrubbed(secrets: tuple[str, ...] | list[str], request_id: str | None = None) -> Iterator[None]:
    """Errors raised inside leave with `secrets` replaced by **** and the request id set."""
    from .display import scrub

    try:
        yield
    except KfxError as exc:
        exc.request_id = exc.request_id or request_id
        if secrets:
            exc.message = scrub(exc.message, secrets)
            exc.hint = scrub(exc.hint, secrets) if exc.hint else exc.hint
            exc.args = (exc.message,)
        raise


# -- an input binding -------------------------------------------------------------------------------

@dataclass(frozen=True)
class InputRun:
    """What an input binding run got: the DataFrame (its attrs say how it was made) and where from."""

    frame: pd.DataFrame
    database: str
    query: str
    parameters: Mapping[str, str]
    column_types: tuple[tuple[str, str], ...]
    elapsed: float
    client_request_id: str
    where: str


def resolve_input(binding: bindings.KustoInput, host: Host, *, namespace: Mapping,
                  query: Mapping | None = None) -> bindings.ResolvedInput:
    """The input binding resolved against the namespace and settings; its warnings go to `host.note`."""
    resolved = bindings.resolve_input(binding, namespace=namespace, query=query, settings=host.settings)
    for message in resolved.warnings:
        host.note(message)
    return resolved


def run_input(binding: bindings.KustoInput, host: Host, *, namespace: Mapping, query: Mapping | None = None,
              overrides: Mapping[str, str] | None = None,
              before_query: Callable[[str, Mapping[str, str], str], None] | None = None) -> InputRun:
    """Resolve, connect and run an input binding. `overrides` (the form's values) win over kqlParameters;
    `before_query(database, parameters, kql)` is called once the query is known, before it runs."""
    resolved = resolve_input(binding, host, namespace=namespace, query=query)
    parameters = {**resolved.parameters, **(overrides or {})}
    connection = connect(binding, host, resolved.managed_service_identity)
    if before_query is not None:
        before_query(resolved.database, parameters, resolved.kql)
    request_id = f"{host.request_id_prefix};{uuid.uuid4()}"
    with host.activity(f"querying {resolved.database}"), scrubbed(connection.secrets, request_id):
        result = connection.backend.query(resolved.database, resolved.kql, parameters,
                                          options=resolved.client_request_properties or None,
                                          request_id=request_id)
    frame = result.frame
    run = InputRun(frame, resolved.database, resolved.kql, parameters, tuple(result.column_types), result.elapsed,
                   result.client_request_id or request_id, connection.where)
    frame.attrs["kusto"] = {
        "database": run.database, "query": run.query, "parameters": dict(parameters),
        "column_types": dict(run.column_types), "elapsed": run.elapsed,
        "client_request_id": run.client_request_id, "connection": binding.connection,
    }
    return run


# -- an output binding ------------------------------------------------------------------------------

class Outcome(StrEnum):
    """How an output binding run ended."""

    DRY_RUN = "dry run"          # the payload was built and shown, nothing sent
    NOTHING = "nothing"          # no rows: the binding makes no call
    INGESTED = "ingested"


@dataclass(frozen=True)
class OutputRun:
    """What an output binding run did: the exact payload (None when ingested without one), and the receipt."""

    outcome: Outcome
    resolved: bindings.ResolvedOutput
    payload: Payload | None
    receipt: IngestReceipt | None = None
    where: str | None = None


def run_output(binding: bindings.KustoOutput, host: Host, value: Any, *, namespace: Mapping,
               query: Mapping | None = None, dry_run: bool = False) -> OutputRun:
    """Serialize what a function returned exactly as the output binding does, then ingest it.

    Serializing and ingesting each run inside `host.activity`; every warning goes to `host.note`
    before anything is sent.
    """
    from . import payload

    resolved = bindings.resolve_output(binding, namespace=namespace, query=query, settings=host.settings)
    if not dry_run and (shortcut := _frame_without_payload(binding, host, resolved, value)) is not None:
        return shortcut
    returned = payload.rows_from_return(value)
    with host.activity(f"serializing {len(returned.rows):,} rows"):
        body = payload.serialize(returned.rows, resolved.data_format)
    for message in [*resolved.warnings, *returned.warnings, *body.warnings]:
        host.note(message)
    if dry_run:
        return OutputRun(Outcome.DRY_RUN, resolved, body)
    if body.rows == 0:
        return OutputRun(Outcome.NOTHING, resolved, body)
    connection = connect(binding, host, resolved.managed_service_identity)
    ingesting = f"ingesting into {resolved.database}.{resolved.table_name}"
    with host.activity(ingesting), scrubbed(connection.secrets):
        receipt = connection.backend.ingest(resolved.database, resolved.table_name, body,
                                            data_format=body.data_format, mapping_ref=resolved.mapping_ref,
                                            ingestion_type=resolved.ingestion_type,
                                            properties=resolved.ingestion_properties)
    return OutputRun(Outcome.INGESTED, resolved, body, receipt, connection.where)


SHORTCUT_ROWS = 10_000   # a DataFrame this long is ingested without its payload where the backend can


def _frame_without_payload(binding, host: Host, resolved, value: Any) -> OutputRun | None:
    """A DataFrame the backend ingests exactly as its payload would be, without building it; else None.

    The embedded database does (LocalBackend.ingest_frame_as_payload, proved against the payload
    path); other backends, dry runs, text formats and frames under SHORTCUT_ROWS rows (where the
    payload costs little, and the receipt can show its size) take the payload path.
    """
    if type(value).__name__ != "DataFrame" or len(value) < SHORTCUT_ROWS:
        return None
    connection = connect(binding, host, resolved.managed_service_identity)
    ingest_frame = getattr(connection.backend, "ingest_frame_as_payload", None)
    if ingest_frame is None:
        return None
    with scrubbed(connection.secrets):
        receipt = ingest_frame(resolved.database, resolved.table_name, value, data_format=resolved.data_format,
                               mapping_ref=resolved.mapping_ref)
    if receipt is None:
        return None
    for message in resolved.warnings:
        host.note(message)
    return OutputRun(Outcome.INGESTED, resolved, None, receipt, connection.where)
