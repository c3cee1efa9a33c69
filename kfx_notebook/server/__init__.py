"""`kfx-notebook serve`: the embedded database over the Kusto REST protocol, ingestion included.

Modules, one job each: wire (values and tables as v1/v2 JSON), protocol (routes and
OneApiError replies), ingestion (the Azure-Storage-compatible blob/queue side and the
queued ingestor), app (the HTTP server and `LocalServer`), cli (the subcommand).
Importing this package loads only the standard library; the database loads on start().
"""

from __future__ import annotations

from .app import LocalServer

__all__ = ["LocalServer"]
