"""`kfx-notebook serve`: the embedded database over the Kusto REST protocol, ingestion included.

Modules, one job each: wire (values and tables as v1/v2 JSON), protocol (routes and
OneApiError replies), ingestion (queued ingestion: the Azure-Storage-compatible blob/queue
side and the ingestor), limits (what one client may send), guard (the one door: Host,
Origin, content type, length), http_server (the HTTP server and `LocalServer`), cli (the
subcommand).
Importing this package loads only the standard library; the database loads on start().
"""

from __future__ import annotations

from .http_server import LocalServer
from .limits import Limits

__all__ = ["Limits", "LocalServer"]
