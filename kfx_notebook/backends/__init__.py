"""Where bindings do their I/O: the Backend protocol, its result types, and choosing one.

A backend is chosen from a Kusto connection string (never from anything else):
``Data Source=local`` (in memory, shared by the process) or ``local:<path>.duckdb`` selects
the embedded database; any ``http(s)://`` Data Source is a Kusto endpoint reached through
the official SDK. This module holds the one backend cache: `backend_for` and
`LocalBackend.open` hand out the cached backend, and a backend's `close()` evicts it, so the
next call opens a new one.

Imports nothing heavy; the chosen backend module loads its engine on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from ..payload import Payload


@dataclass
class QueryResult:
    """The first result table of a query or management command."""

    frame: pd.DataFrame
    column_types: list[tuple[str, str]]   # (column name, Kusto type) in order
    database: str
    elapsed: float = 0.0                   # seconds
    client_request_id: str = ""
    # Truncation and other completion facts (e.g. {"truncated": True, "rows": 500000}).
    completion: dict[str, Any] = field(default_factory=dict)


class IngestPath(StrEnum):
    """The way rows reached the table (the text is what receipts show)."""

    STREAMING = "streaming"                 # managed ingestion, streamed
    FELL_BACK = "fell back to queued"       # managed ingestion that could not stream, so it queued
    QUEUED = "queued"                       # ingestionType queued
    DIRECT = "direct"                       # the embedded database writes the table itself


@dataclass
class IngestReceipt:
    """What an ingestion did and which way the rows went."""

    rows: int
    bytes: int
    data_format: str
    path: IngestPath
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

    def ingest(self, database: str, table: str, data: bytes | Payload | pd.DataFrame, *, data_format: str,
               mapping_ref: str | None = None, ingestion_type: str = "managed",
               properties: Mapping[str, str] | None = None) -> IngestReceipt:
        """Ingest ``data`` (the bytes a binding would send, a payload.Payload of them, or a DataFrame) into ``table``.

        A Payload's row count is its own: a backend need not read the bytes again to count them."""

    def describe(self) -> str:
        """A one-line, secret-free description (``local (memory)``, ``http://host:port``)."""


_CACHE: dict[Hashable, Backend] = {}
_LOCK = threading.RLock()


def cached(key: Hashable, open_backend: Callable[[], Backend]) -> Backend:
    """The backend cached under `key`, opened by `open_backend()` when there is none."""
    with _LOCK:
        backend = _CACHE.get(key)
        if backend is None:
            backend = _CACHE[key] = open_backend()
        return backend


def evict(backend: Backend) -> None:
    """Forget a backend (its `close()` calls this), so the next lookup opens a new one."""
    with _LOCK:
        for key in [k for k, v in _CACHE.items() if v is backend]:
            del _CACHE[key]


def backend_for(connection_string: str, identity: str | None = None, converter: str = "fast") -> Backend:
    """The (cached) backend for a Kusto connection string, managed identity and result converter.

    `converter` (`fast` or `sdk`, `%config KustoMagics.converter`) matters only to a cluster.
    """
    from ..settings import parse_connection_string

    source = parse_connection_string(connection_string).data_source
    if source == "local" or source.startswith("local:"):
        from .local import LocalBackend

        return LocalBackend.open(source[len("local:"):] if source != "local" else None)
    if source.startswith(("http://", "https://")):
        from .cluster import ClusterBackend

        return cached(("cluster", connection_string, identity, converter),
                      lambda: ClusterBackend(connection_string, identity, converter))
    from ..errors import SettingError
    from ..settings import safe_url

    raise SettingError(f"Data Source {safe_url(source)!r} is neither 'local', 'local:<path>.duckdb' nor an http(s):// URL",
                       hint="Set Data Source=local for the embedded database or a cluster URL.")


def clear_cache() -> None:
    """Forget every cached cluster backend, so the next `backend_for` opens new ones (tests, the demo).

    Embedded databases stay until their `close()`: the in-memory one is shared by the process, and
    a database file may be attached only once.
    """
    with _LOCK:
        for key in [k for k in _CACHE if k[0] == "cluster"]:
            del _CACHE[key]
