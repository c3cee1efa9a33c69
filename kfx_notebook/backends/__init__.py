"""Where bindings do their I/O: the Backend protocol, its result types, and choosing one.

A backend is chosen from a Kusto connection string (never from anything else):
``Data Source=local`` (in memory, shared by the process) or ``local:<path>.duckdb`` selects
the embedded database; any ``http(s)://`` Data Source is a Kusto endpoint reached through
the official SDK. Backends are cached per (connection string, identity).

Imports nothing heavy; the chosen backend module loads its engine on first use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Protocol

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class QueryResult:
    """The first result table of a query or management command."""

    frame: "pd.DataFrame"
    column_types: list[tuple[str, str]]   # (column name, Kusto type) in order
    database: str
    elapsed: float = 0.0                   # seconds
    client_request_id: str = ""
    # Truncation and other completion facts (e.g. {"truncated": True, "rows": 500000}).
    completion: dict[str, Any] = field(default_factory=dict)


@dataclass
class IngestReceipt:
    """What an ingestion did. ``path``: "streaming", "fell back to queued", "queued" or "direct"."""

    rows: int
    bytes: int
    data_format: str
    path: str
    status: str                            # "Succeeded", "Queued", "Pending", "Failed", ...
    elapsed: float = 0.0
    database: str = ""
    table: str = ""
    source_id: str = ""
    details: str = ""


class Backend(Protocol):
    """The two operations a Kusto binding needs."""

    def query(self, database: str, text: str, parameters: Mapping[str, Any] | None = None,
              options: Mapping[str, Any] | None = None, request_id: str | None = None) -> QueryResult:
        """Run KQL (or, when ``text.lstrip()`` starts with ``.``, a management command)."""

    def ingest(self, database: str, table: str, data: "bytes | pd.DataFrame", *, data_format: str,
               mapping_ref: str | None = None, ingestion_type: str = "managed",
               properties: Mapping[str, str] | None = None) -> IngestReceipt:
        """Ingest ``data`` (the bytes a binding would send, or a DataFrame) into ``table``."""

    def describe(self) -> str:
        """A one-line, secret-free description (``local (memory)``, ``http://host:port``)."""


_CACHE: dict[tuple[str, str | None], Backend] = {}
_LOCK = threading.Lock()


def backend_for(connection_string: str, identity: str | None = None) -> Backend:
    """The (cached) backend for a Kusto connection string and optional managed identity."""
    from ..settings import parse_connection_string

    key = (connection_string, identity)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        source = parse_connection_string(connection_string).data_source
        if source == "local" or source.startswith("local:"):
            from .local import LocalBackend

            backend: Backend = LocalBackend.open(source[len("local:"):] if source != "local" else None)
        elif source.startswith(("http://", "https://")):
            from .cluster import ClusterBackend

            backend = ClusterBackend(connection_string, identity)
        else:
            from ..errors import SettingError

            raise SettingError(
                f"Data Source {source!r} is neither 'local', 'local:<path>.duckdb' nor an http(s):// URL",
                hint="Set Data Source=local for the embedded database or a cluster URL.",
            )
        _CACHE[key] = backend
        return backend


def clear_cache() -> None:
    """Forget every cached backend (tests, and %config changes of the settings file)."""
    with _LOCK:
        _CACHE.clear()
