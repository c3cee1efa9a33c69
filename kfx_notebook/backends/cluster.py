"""A real Kusto cluster, the Kusto emulator or `kfx-notebook serve`, through the official SDK.

The rule it keeps: the official SDK does transport and authentication; kfx_notebook.dataframes
turns the answer into a DataFrame (the SDK's own converter only on request, for comparison),
and no secret from the connection string appears in any message or repr.
Imports azure-kusto and pandas on first use, never at import time.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from ..errors import (
    IngestionError,
    KfxError,
    KustoQueryError,
    KustoSemanticError,
    KustoSyntaxError,
    SettingError,
)
from . import IngestPath, IngestReceipt, QueryResult

CONVERTERS = ("fast", "sdk")
_CREDENTIAL_KEYWORDS = ("Application Client Id", "Application Key", "User ID", "Password", "User Token",
                        "Application Token", "Application Certificate Thumbprint",
                        "Application Certificate Blob")
# Options whose value the SDK needs as a timedelta (azure-kusto-data 6 adds it to a timedelta before
# sending, so a string raises TypeError).
_TIMESPAN_OPTIONS = ("servertimeout",)
# The gzip level of a stream we send: zlib's default, what a gzip writer uses unless told otherwise (the
# Python SDK's own GzipFile is told 9: 3x the CPU for 4% fewer bytes). The SDK
# decides streaming against queued by the compressed size (4 MiB), so the level is ours to state, here.
# Written by zlib-ng (one gzip member, as zlib writes it; 1.5-2x zlib's speed, about as many bytes), its
# blocks deflated on every core (gzip_write.py: a few bytes more than one pass, never another member).
GZIP_LEVEL = 6
_POSITION = (re.compile(r"Line:\s*(\d+),\s*Position:\s*(\d+)", re.IGNORECASE),
             re.compile(r"\[line:position=(\d+):(\d+)\]", re.IGNORECASE))


def _mask(text: str) -> str:
    from ..settings import mask_secrets

    return mask_secrets(text)


def is_loopback(url: str) -> bool:
    """True for http(s)://localhost, 127.x.x.x or ::1 (the emulator, `kfx-notebook serve`)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dm_endpoint(url: str) -> str:
    """The data-management URL: `ingest-` inserted after `://` as the extension does for real clusters (even
    for an IP host), loopback unchanged so the emulator and `kfx-notebook serve` keep working."""
    if is_loopback(url):
        return url
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    if not sep or "ingest-" in host:
        return url
    return f"{scheme}://ingest-{rest}"


def _kcsb(url: str, keywords: Mapping[str, str], text: str, identity: str | None):
    """The SDK connection-string builder for one of the four auth cases (never interactive)."""
    from azure.kusto.data import KustoConnectionStringBuilder as KCSB

    if identity:
        if identity.strip().lower() == "system":
            return KCSB.with_aad_managed_service_identity_authentication(url)
        return KCSB.with_aad_managed_service_identity_authentication(url, client_id=identity.strip())
    if any(keywords.get(k) for k in _CREDENTIAL_KEYWORDS):
        kcsb = KCSB(_sdk_text(url, keywords))
        kcsb["AAD Federated Security"] = True  # the SDK picks app key / token / user auth from the keywords
        return kcsb
    if url.startswith("http://") and is_loopback(url):
        return KCSB.with_no_authentication(url)
    from azure.identity import DefaultAzureCredential

    return KCSB.with_azure_token_credential(url, DefaultAzureCredential())


def _sdk_text(url: str, keywords: Mapping[str, str]) -> str:
    """Our parsed keywords in the SDK's spelling (it refuses keywords it does not support)."""
    parts = [f"Data Source={url}"]
    for name, value in keywords.items():
        if name in ("Data Source", "Initial Catalog", "AAD Federated Security"):
            continue
        sdk_name = {"Authority Id": "Authority Id"}.get(name, name)
        parts.append(f"{sdk_name}={_quote(value)}")
    return ";".join(parts)


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if ";" in value or '"' in value else value


class ClusterBackend:
    """A Kusto endpoint reached through azure-kusto-data / -ingest 6.0.4.

    ``converter="fast"`` parses the response bytes with kfx_notebook.dataframes; ``"sdk"`` uses the
    SDK's ``dataframe_from_result_table`` (kept for comparison; it loses values: longs above 2**53 in a
    column with a null, decimal precision, the sign of a negative timespan with a day part).
    """

    def __init__(self, connection_string: str, identity: str | None = None, converter: str = "fast"):
        from ..settings import parse_connection_string, safe_url

        if converter not in CONVERTERS:
            raise ValueError(f"converter must be one of {CONVERTERS}, not {converter!r}")
        parsed = parse_connection_string(connection_string)
        url = parsed.data_source.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise SettingError(f"Data Source {safe_url(parsed.data_source)!r} is not an http(s):// URL",
                               hint="Use Data Source=https://<cluster>.kusto.windows.net or http://127.0.0.1:<port>.")
        if "<" in url and ">" in url.split("<", 1)[1]:   # `https://<cluster>.<region>...`: the docs' or an export's
            raise SettingError(f"Data Source {safe_url(url)!r} still holds a placeholder (<...>)",
                               hint="Put your cluster's URL in the connection setting (local.settings.json), pass "
                                    "--connection-string to invoke, or export with --with-local-settings.")
        self._text = connection_string
        self._keywords = dict(parsed.keywords)
        self.url = url
        self.shown_url = safe_url(url)   # what messages say: credentials in the URL (user:password@, ?sig=) hidden
        self.default_database = parsed.database
        self.identity = identity or None
        self.converter = converter
        self.ingest_retry_seconds: float | None = None   # tests shorten the SDK's streaming back-off
        self._clients: dict[str, Any] = {}                # "query" / "managed" / "queued" -> SDK client
        self._clients_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClusterBackend({self.shown_url!r}, identity={self.identity!r}, converter={self.converter!r})"

    def describe(self) -> str:
        return self.shown_url

    def close(self) -> None:
        """Close the SDK clients and leave the backend cache: the next `backend_for` opens a new one."""
        from . import evict

        with self._clients_lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        evict(self)

    # -- clients --------------------------------------------------------------------------------

    def _client(self, kind: str):
        with self._clients_lock:
            client = self._clients.get(kind)
            if client is None:
                client = self._clients[kind] = self._make_client(kind)
            return client

    def _make_client(self, kind: str):
        try:
            if kind == "query":
                from azure.kusto.data import KustoClient

                return KustoClient(_kcsb(self.url, self._keywords, self._text, self.identity))
            from azure.kusto.ingest import ManagedStreamingIngestClient, QueuedIngestClient

            engine = _kcsb(self.url, self._keywords, self._text, self.identity)
            dm = _kcsb(dm_endpoint(self.url), self._keywords, self._text, self.identity)
            if kind == "queued":
                return QueuedIngestClient(dm, auto_correct_endpoint=False)
            return ManagedStreamingIngestClient(engine, dm, auto_correct_endpoint=False)
        except (KeyError, ValueError) as exc:
            raise SettingError(f"The Kusto SDK refused the connection string for {self.shown_url}: "
                               f"{_mask(str(exc))[:200]}",
                               hint="Check the keywords of the connection setting.") from None

    # -- query ----------------------------------------------------------------------------------

    def _properties(self, parameters, options, request_id: str):
        from azure.kusto.data import ClientRequestProperties

        crp = ClientRequestProperties()
        crp.client_request_id = request_id
        for name, value in (parameters or {}).items():
            crp.set_parameter(name, value if isinstance(value, str) else str(value))
        for name, value in (options or {}).items():
            if name.lower() in _TIMESPAN_OPTIONS and not isinstance(value, timedelta):
                value = _to_timedelta(name, value)
            crp.set_option(name, value)
        return crp

    def query(self, database: str, text: str, parameters: Mapping[str, Any] | None = None,
              options: Mapping[str, Any] | None = None, request_id: str | None = None) -> QueryResult:
        request_id = request_id or f"KFX.notebook;{uuid.uuid4()}"
        database = database or self.default_database or "NetDefaultDB"
        crp = self._properties(parameters, options, request_id)
        client = self._client("query")
        is_mgmt = text.lstrip().startswith(".")
        started = time.perf_counter()
        try:
            if self.converter == "fast" and not is_mgmt:
                frame, columns, completion = _fast_query(client, database, text, crp, request_id)
            else:
                response = (client.execute_mgmt if is_mgmt else client.execute_query)(database, text, crp)
                frame, columns, completion = _from_sdk_response(response, self.converter, request_id)
        except KfxError as exc:
            exc.request_id = exc.request_id or request_id
            if exc.text is None and exc.line:
                exc.text = text
            raise
        except Exception as exc:  # noqa: BLE001 - every SDK error becomes one of ours
            raise _translate(exc, text, request_id, self.shown_url) from None
        return QueryResult(frame, columns, database, time.perf_counter() - started, request_id, completion)

    # -- ingest ---------------------------------------------------------------------------------

    def ingest(self, database: str, table: str, data, *, data_format: str, mapping_ref: str | None = None,
               ingestion_type: str = "managed", properties: Mapping[str, str] | None = None) -> IngestReceipt:
        import io

        from azure.kusto.data.data_format import DataFormat
        from azure.kusto.ingest import IngestionProperties, ReportLevel, StreamDescriptor
        from azure.kusto.ingest.base_ingest_client import IngestionStatus

        payload, rows, data_format = _payload(data, data_format)
        queued = (ingestion_type or "managed").strip().lower() == "queued"
        props = dict(properties or {})
        try:
            fmt = DataFormat[data_format.upper()]
        except KeyError:
            raise IngestionError(f"data format {data_format!r} is not one Kusto ingests",
                                 hint="Use csv, json, multijson, parquet, avro, ...") from None
        kwargs: dict[str, Any] = {"data_format": fmt}
        if mapping_ref:
            kwargs["ingestion_mapping_reference"] = mapping_ref
        if queued:
            kwargs["report_level"] = ReportLevel.FailuresAndSuccesses
            kwargs["flush_immediately"] = str(props.get("flushImmediately", "false")).lower() == "true"
        ingestion_properties = IngestionProperties(database, table, **kwargs)
        client = self._client("queued" if queued else "managed")
        if not queued and self.ingest_retry_seconds is not None:
            client._set_retry_settings(max_seconds_per_retry=self.ingest_retry_seconds)
        source_id = uuid.uuid4()
        started = time.perf_counter()
        compressed = fmt.compressible   # what the SDK would compress, compressed here at GZIP_LEVEL
        stream = io.BytesIO(_gzipped(payload) if compressed else payload)
        try:
            result = client.ingest_from_stream(StreamDescriptor(stream, source_id=source_id, is_compressed=compressed),
                                               ingestion_properties)
        except Exception as exc:  # noqa: BLE001
            raise _translate(exc, "", str(source_id), self.shown_url, ingest=True) from None
        status = getattr(result.status, "value", str(result.status))
        if queued:
            path = IngestPath.QUEUED
            status = _poll(client, str(source_id), props)
        elif result.status == IngestionStatus.SUCCESS:
            path, status = IngestPath.STREAMING, "Succeeded"
        else:
            path, status = IngestPath.FELL_BACK, status.capitalize()   # "Queued", as the binding sees it
        return IngestReceipt(rows=rows, bytes=len(payload), data_format=data_format, path=path, status=status,
                             elapsed=time.perf_counter() - started, database=database, table=table,
                             source_id=str(source_id))


def _to_timedelta(name: str, value) -> timedelta:
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    from ..dataframes import _timespan_ns

    try:
        return timedelta(microseconds=_timespan_ns(str(value).strip()) // 1000)
    except (TypeError, ValueError):
        raise KfxError(f"option {name} must be a timespan like 00:01:00, not {str(value)[:40]!r}",
                       code="BadRequest_InvalidOption", hint="Write it as [d.]hh:mm:ss.") from None


def _fast_query(client, database: str, text: str, crp, request_id: str):
    """Execute through the SDK client (auth, headers, errors) but parse the bytes ourselves.

    Uses two private members of KustoClient 6.0.4 (`_execute`, `ExecuteRequestParams._from_query`),
    called, never patched; if a future SDK renames them, falls back to the SDK's parsed table.
    """
    from .. import dataframes, v2_result, v2_split

    try:
        from azure.kusto.data.client_base import ExecuteRequestParams

        request = ExecuteRequestParams._from_query(
            text, database, crp, client._request_headers, client._query_default_timeout,
            client._mgmt_default_timeout, client._client_server_delta, client.client_details)
        execute = client._execute
        endpoint = client._query_endpoint
    except (ImportError, AttributeError, TypeError):
        response = client.execute_query(database, text, crp)
        return _from_sdk_response(response, "fast", request_id)
    response = execute(endpoint, request, crp, stream_response=True)
    try:  # read the body in pieces, uncached, and convert its rows as they arrive
        read = functools.partial(response.raw.read, decode_content=True)
        first = read(v2_split.PIECE)
        if not first:
            raise KustoQueryError("Kusto answered with an empty body", request_id=request_id,
                                  hint="Check that the Data Source is a Kusto query endpoint.")
        with dataframes._gc_paused():
            return v2_result.frame_from_v2_stream(read, first)
    except ValueError:
        raise KustoQueryError("Kusto answered with a body that is not JSON", request_id=request_id,
                              hint="Check that the Data Source is a Kusto query endpoint.") from None
    except KfxError as exc:
        exc.request_id = request_id
        raise
    finally:
        response.close()


def _from_sdk_response(response, converter: str, request_id: str):
    from .. import dataframes

    table = response.primary_results[0] if response.primary_results else None
    if table is None:
        raise KustoQueryError("Kusto returned no result table", request_id=request_id,
                              hint="Check the query or command returns rows.")
    columns = [(c.column_name, c.column_type) for c in table.columns]
    rows = len(table.raw_rows)
    completion = {"rows": rows, "truncated": False}
    if converter == "sdk":
        from azure.kusto.data.helpers import dataframe_from_result_table

        frame = dataframe_from_result_table(table)
    else:
        frame = dataframes.frame_from_sdk_table(table)
    errors: list = []
    for other in getattr(response, "tables", []):
        if getattr(other, "table_kind", None) is not None and \
                getattr(other.table_kind, "value", other.table_kind) == "QueryCompletionInformation":
            found, seen = dataframes.completion_errors([c.column_name for c in other.columns], other.raw_rows)
            errors.extend(found)
            if seen:
                completion["warnings"] = seen
    dataframes.raise_for_errors(errors, rows, frame, request_id)
    return frame, columns, completion


def _position(message: str) -> tuple[int | None, int | None]:
    for pattern in _POSITION:
        match = pattern.search(message)
        if match:
            line, col = int(match.group(1)), int(match.group(2))
            return max(line, 1), col + 1 if pattern is _POSITION[1] else max(col, 1)
    return None, None


def _translate(exc: Exception, text: str, request_id: str, url: str, ingest: bool = False) -> KfxError:
    """An SDK exception -> one of ours, with code, @message, position and request id (no secrets)."""
    from azure.kusto.data.exceptions import (
        KustoApiError,
        KustoMultiApiError,
        KustoNetworkError,
        KustoServiceError,
        KustoThrottlingError,
    )

    if isinstance(exc, KustoApiError):
        api = exc.get_api_error()
        code = api.code or "General_BadRequest"
        message = api.description or api.message or str(exc)
        line, column = _position(message)
        if ingest:
            cls = IngestionError
        elif "Syntax" in code or message.startswith("Syntax error"):
            cls = KustoSyntaxError
        elif "Semantic" in code or "Semantic error" in message or "EntityNotFound" in code:
            cls = KustoSemanticError
        else:
            cls = KustoQueryError
        return cls(_mask(message)[:500], code=code, line=line, column=column, text=text or None,
                   request_id=request_id, permanent=bool(api.permanent),
                   hint="Fix the query at the position shown." if line else None)
    if isinstance(exc, KustoMultiApiError):
        errors = [{"error": {"code": e.code, "@message": e.description or e.message}} for e in exc.get_api_errors()]
        from .. import dataframes

        try:
            dataframes.raise_for_errors(errors, 0, None, request_id)
        except KfxError as err:
            return err
    if isinstance(exc, KustoNetworkError):
        return KfxError(f"Cannot reach {url}", code="NetworkError", request_id=request_id,
                        hint="Check the Data Source URL, that the cluster or `kfx-notebook serve` is running, "
                             "and your network.", permanent=False)
    if isinstance(exc, KustoThrottlingError):
        return KfxError(f"{url} is throttling requests", code="TooManyRequests", request_id=request_id,
                        hint="Wait and run the cell again.", permanent=False)
    if isinstance(exc, KustoServiceError):
        cls = IngestionError if ingest else KustoQueryError
        return cls(_mask(str(exc))[:500], code="ServiceError", request_id=request_id,
                   hint="Check the Data Source, the database name and your permissions.")
    import requests

    if isinstance(exc, requests.RequestException):
        return KfxError(f"Cannot reach {url}: {type(exc).__name__}", code="NetworkError", request_id=request_id,
                        hint="Check the Data Source URL and that the endpoint is running.", permanent=False)
    cls = IngestionError if ingest else KfxError
    return cls(f"{type(exc).__name__}: {_mask(str(exc))[:300]}", request_id=request_id,
               hint="This came from the Kusto SDK; check the connection setting and the endpoint.")


def _payload(data, data_format: str) -> tuple[bytes, int, str]:
    """(bytes, row count, format): bytes go as they are (counted by reading them); a payload.Payload
    goes as its bytes with the rows it was built from (not read again); a DataFrame becomes JSON lines we write."""
    from ..payload import Payload

    if isinstance(data, Payload):
        return data.data, data.rows, data_format
    if isinstance(data, (bytes, bytearray)):
        from ..payload import count_records

        payload = bytes(data)
        return payload, count_records(payload, data_format), data_format
    if isinstance(data, str):
        return _payload(data.encode("utf-8"), data_format)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        from ..payload import records_from_frame  # the codec's values: Kusto's 7-digit texts, NaN null

        lines = [json.dumps(record, ensure_ascii=False, allow_nan=False) for record in records_from_frame(data)]
        payload = ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
        return payload, len(lines), "multijson" if data_format in ("", "json", "multijson") else data_format
    raise TypeError(f"ingest() takes bytes or a pandas DataFrame, not {type(data).__name__}")


def _gzipped(data: bytes) -> bytes:
    """`data` as one gzip member at GZIP_LEVEL (zlib-ng on every core; any gzip reader inflates it)."""
    from ..gzip_write import gzipped

    return gzipped(data, GZIP_LEVEL)


def _poll(client, source_id: str, properties: Mapping[str, str]) -> str:
    """Read the status queues until our source id succeeds or fails; the timeout is enforced.

    Messages are received (hidden for a few seconds), ours is deleted and the others are left to
    reappear for their own readers: peeking sees only the first 32 messages of a queue, so a
    long-lived queue would hide our status behind older ones.
    """
    from azure.kusto.ingest.status import KustoIngestStatusQueues

    from ..bindings import INGESTION_DEFAULTS   # the extension's defaults, declared once

    interval = _number(properties.get("pollIntervalSeconds"), INGESTION_DEFAULTS["pollIntervalSeconds"])
    timeout = _number(properties.get("pollTimeoutMinutes"), INGESTION_DEFAULTS["pollTimeoutMinutes"]) * 60
    queues = KustoIngestStatusQueues(client)
    deadline = time.monotonic() + timeout
    while True:
        failed = _take_status(queues.failure, source_id)
        if failed is not None:
            raise IngestionError(f"Ingestion {source_id} failed: {getattr(failed, 'Details', '')}"[:500],
                                 code=str(getattr(failed, "ErrorCode", "") or "IngestionFailed"),
                                 hint="Check the data format and mapping against the table.")
        if _take_status(queues.success, source_id) is not None:
            return "Succeeded"
        if time.monotonic() + interval > deadline:
            raise IngestionError(
                f"Ingestion {source_id} reported no status within {timeout / 60:g} minute(s)",
                code="IngestionTimeout", permanent=False,
                hint="The data may still arrive; raise pollTimeoutMinutes or check `.show ingestion failures`.")
        time.sleep(max(interval, 0.05))


STATUS_HIDDEN_SECONDS = 5


def _take_status(status_queue, source_id: str):
    """Our status message from one status queue (deleted once read), or None."""
    for queue in status_queue._get_queues():   # SDK 6.0.4's StatusQueue keeps its QueueClients here
        for message in queue.receive_messages(messages_per_page=32, visibility_timeout=STATUS_HIDDEN_SECONDS):
            status = status_queue.message_cls(message.content)
            if str(getattr(status, "IngestionSourceId", "")) == source_id:
                queue.delete_message(message.id, message.pop_receipt)
                return status
    return None


def _number(value, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise IngestionError(f"ingestion property {value!r} is not a number",
                             hint="Write pollIntervalSeconds / pollTimeoutMinutes as numbers.") from None
