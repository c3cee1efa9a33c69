"""The Azure-Storage-compatible side of queued ingestion: blobs, queues, and the ingestor.

Just enough of Blob and Queue storage for the unmodified azure-storage-blob/-queue clients
the Kusto ingest SDK uses (spec/kusto-rest.md §10): block-blob PUT (single shot or
blocks + block list), queue message POST, GET (peek or receive) and DELETE. One rule: a
message posted to the ingestion queue is ingested before the POST returns (real Kusto
batches for minutes; a notebook wants rows now), and its outcome is recorded where the
SDK and a user can read it: the success/failure status queues (ReportLevel) and
`.show ingestion failures`. All state is in memory under one lock; no blob outlives its
ingestion.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import format_datetime
from urllib.parse import unquote, urlsplit

from ..errors import IngestionError, KfxError, UnsupportedError

#: ResourceTypeName -> storage path the server answers on (the StorageRoot of `.get ingestion resources`).
RESOURCES = {
    "SecuredReadyForAggregationQueue": "readyforaggregation-secured",
    "FailedIngestionsQueue": "failedingestions",
    "SuccessfulIngestionsQueue": "successfulingestions",
    "TempStorage": "tempstorage",
    "IngestionsStatusTable": "ingestionsstatus",
}
INGEST_QUEUE = RESOURCES["SecuredReadyForAggregationQueue"]
SUCCESS_QUEUE = RESOURCES["SuccessfulIngestionsQueue"]
FAILURE_QUEUE = RESOURCES["FailedIngestionsQueue"]
CONTAINER = RESOURCES["TempStorage"]
FAKE_SAS = "sv=2025-07-05&sig=local"
AUTHORIZATION_CONTEXT = "kfx-notebook-local-no-auth"
REPORT_FAILURES_ONLY, REPORT_NONE, REPORT_ALL = 0, 1, 2


class StorageError(Exception):
    """A storage request that cannot be served: HTTP status + Azure Storage error code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Message:
    id: str
    text: str
    inserted: dt.datetime
    pop_receipt: str = ""
    dequeue_count: int = 0


@dataclass
class IngestionStatus:
    """One queued ingestion's outcome, as the status queues and `.show ingestion failures` report it."""

    operation_id: str
    database: str
    table: str
    blob: str
    status: str                  # "Succeeded" or "Failed"
    rows: int = 0
    details: str = ""
    error_code: str = ""
    when: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class Storage:
    """In-memory blobs and queues, and the queued-ingestion step that consumes them."""

    def __init__(self, backend, max_blob_bytes: int):
        self.backend = backend
        self.max_blob_bytes = max_blob_bytes
        self.lock = threading.Lock()
        self.blobs: dict[str, bytes] = {}
        self.blocks: dict[str, dict[str, bytes]] = {}
        self.queues: dict[str, list[_Message]] = {SUCCESS_QUEUE: [], FAILURE_QUEUE: []}
        # message id -> (queue, message, monotonic time it becomes visible again unless deleted)
        self.invisible: dict[str, tuple[str, _Message, float]] = {}
        self.statuses: list[IngestionStatus] = []

    # -- resources -----------------------------------------------------------------------------
    @staticmethod
    def resource_rows(base_url: str) -> list[tuple[str, str]]:
        return [(kind, f"{base_url}/{path}?{FAKE_SAS}") for kind, path in RESOURCES.items()]

    # -- blobs ---------------------------------------------------------------------------------
    def put_blob(self, container: str, blob: str, body: bytes, query: dict[str, str]) -> dict[str, str]:
        if container != CONTAINER:
            raise StorageError(404, "ContainerNotFound", f"The specified container '{container}' does not exist.")
        comp = query.get("comp")
        with self.lock:
            if comp == "block":
                block_id = query.get("blockid", "")
                if not block_id:
                    raise StorageError(400, "InvalidQueryParameterValue", "blockid is required for comp=block.")
                self.blocks.setdefault(blob, {})[block_id] = body
            elif comp == "blocklist":
                staged = self.blocks.pop(blob, {})
                try:
                    ids = [el.text or "" for el in ET.fromstring(body) if el.tag in ("Latest", "Uncommitted",
                                                                                     "Committed")]
                except ET.ParseError:
                    raise StorageError(400, "InvalidXmlDocument", "The block list is not valid XML.") from None
                missing = [i for i in ids if i not in staged]
                if missing:
                    raise StorageError(400, "InvalidBlockList", "The block list names blocks never uploaded.")
                data = b"".join(staged[i] for i in ids)
                if len(data) > self.max_blob_bytes:
                    raise StorageError(413, "RequestBodyTooLarge", "The blob exceeds the local storage limit.")
                self.blobs[blob] = data
            elif comp is None:
                self.blobs[blob] = body
            else:
                raise StorageError(400, "UnsupportedQueryParameter", f"comp={comp} is not supported locally.")
        return {"ETag": f'"0x{uuid.uuid4().hex[:16].upper()}"', "Last-Modified": _http_date(_now())}

    def get_blob(self, container: str, blob: str) -> bytes:
        with self.lock:
            data = self.blobs.get(blob) if container == CONTAINER else None
        if data is None:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        return data

    def blob_from_url(self, url: str) -> tuple[str, bytes]:
        """The bytes of a blob named by a URL this server handed out (anything else is refused)."""
        parts = [unquote(p) for p in urlsplit(url).path.split("/") if p]
        if len(parts) < 2 or parts[-2] != CONTAINER:
            raise IngestionError(f"Blob '{urlsplit(url).path}' is not in this server's temporary storage",
                                 code="BadRequest_BlobNotFound",
                                 hint="The local server ingests only blobs uploaded to it (no outside network).")
        try:
            return parts[-1], self.get_blob(CONTAINER, parts[-1])
        except StorageError:
            raise IngestionError(f"Blob '{parts[-1]}' was not found in local temporary storage",
                                 code="BadRequest_BlobNotFound", hint="Upload it first (queued ingestion does).") \
                from None

    # -- queues --------------------------------------------------------------------------------
    def post_message(self, queue: str, body: bytes) -> _Message:
        try:
            text = ET.fromstring(body).findtext("MessageText")
        except ET.ParseError:
            raise StorageError(400, "InvalidXmlDocument", "The message body is not valid XML.") from None
        if text is None:
            raise StorageError(400, "InvalidXmlDocument", "The message has no MessageText.")
        message = _Message(id=str(uuid.uuid4()), text=text, inserted=_now(), pop_receipt=uuid.uuid4().hex)
        if queue == INGEST_QUEUE:
            self.ingest_message(text)
        elif queue in self.queues:
            with self.lock:
                self.queues[queue].append(message)
        else:
            raise StorageError(404, "QueueNotFound", f"The specified queue '{queue}' does not exist.")
        return message

    def get_messages(self, queue: str, query: dict[str, str]) -> list[_Message]:
        if queue not in self.queues:
            raise StorageError(404, "QueueNotFound", f"The specified queue '{queue}' does not exist.")
        count = max(1, min(32, int(query.get("numofmessages", "1") or 1)))
        hidden_for = float(query.get("visibilitytimeout", "30") or 30)
        with self.lock:
            self._reappear(queue)
            visible = self.queues[queue]
            if query.get("peekonly", "").lower() == "true":
                return list(visible[:count])
            taken, self.queues[queue] = visible[:count], visible[count:]
            for m in taken:
                m.dequeue_count += 1
                m.pop_receipt = uuid.uuid4().hex
                self.invisible[m.id] = (queue, m, time.monotonic() + hidden_for)
            return taken

    def _reappear(self, queue: str) -> None:
        """Received but undeleted messages come back after their visibility timeout, as in Azure
        Storage, so a reader that takes only its own status leaves the others for their readers."""
        now = time.monotonic()
        back = [(mid, m) for mid, (q, m, until) in self.invisible.items() if q == queue and until <= now]
        for mid, _m in back:
            del self.invisible[mid]
        if back:
            self.queues[queue] = sorted([m for _mid, m in back] + self.queues[queue], key=lambda m: m.inserted)

    def delete_message(self, queue: str, message_id: str) -> None:
        with self.lock:
            entry = self.invisible.pop(message_id, None)
            if entry is None:
                before = len(self.queues.get(queue, []))
                self.queues[queue] = [m for m in self.queues.get(queue, []) if m.id != message_id]
                if len(self.queues[queue]) == before:
                    raise StorageError(404, "MessageNotFound", "The specified message does not exist.")

    # -- the ingestor --------------------------------------------------------------------------
    def ingest_message(self, text: str) -> IngestionStatus:
        """Decode one ingestion message, ingest its blob now, and record the outcome."""
        try:
            message = json.loads(base64.b64decode(text, validate=False))
            if not isinstance(message, dict):
                raise ValueError("not an object")  # noqa: TRY004 - caught below
        except ValueError as exc:
            raise StorageError(400, "InvalidMessageContent", f"The ingestion message is not base64 JSON ({exc}).") \
                from None
        extra = message.get("AdditionalProperties") or {}
        database, table = str(message.get("DatabaseName", "")), str(message.get("TableName", ""))
        operation_id = str(message.get("Id") or uuid.uuid4())
        blob_path = str(message.get("BlobPath", ""))
        blob_name = urlsplit(blob_path).path.rsplit("/", 1)[-1]
        status = IngestionStatus(operation_id, database, table, blob_name, "Succeeded")
        try:
            if extra.get("ingestionMapping"):
                raise UnsupportedError("Inline ingestion mappings are not supported by the local database",
                                       hint="Create a named mapping (.create table ... ingestion mapping) and "
                                            "pass ingestion_mapping_reference.")
            _, data = self.blob_from_url(blob_path)
            data = _maybe_gunzip(data)
            fmt = str(extra.get("format") or "csv")
            if str(extra.get("ignoreFirstRecord", "")).lower() == "true":
                data = data.split(b"\n", 1)[1] if b"\n" in data else b""
            receipt = self.backend.ingest(database, table, data, data_format=fmt,
                                          mapping_ref=extra.get("ingestionMappingReference") or None,
                                          ingestion_type="queued")
            status.rows = receipt.rows
        except KfxError as exc:
            status.status, status.details, status.error_code = "Failed", exc.message, exc.code
        except Exception as exc:  # noqa: BLE001 - a broken blob must be reported, never stop the server
            status.status, status.details, status.error_code = "Failed", f"{type(exc).__name__}: {exc}", \
                "Internal_Error"
        finally:
            with self.lock:
                self.blobs.pop(blob_name, None)
        self._report(status, message, blob_path)
        return status

    def _report(self, status: IngestionStatus, message: dict, blob_path: str) -> None:
        source = blob_path.split("?", 1)[0]
        if status.status == "Failed":
            with self.backend.lock:
                self.backend.catalog.record_failure(status.operation_id, status.database, status.table,
                                                    status.details, status.error_code, source)
        level = int(message.get("ReportLevel", REPORT_FAILURES_ONLY) or 0)
        body = {"OperationId": status.operation_id, "Database": status.database, "Table": status.table,
                "IngestionSourceId": status.operation_id, "IngestionSourcePath": source,
                "RootActivityId": status.operation_id}
        queue = None
        if status.status == "Failed" and level in (REPORT_FAILURES_ONLY, REPORT_ALL):
            queue = FAILURE_QUEUE
            body.update({"FailedOn": _iso(status.when), "Details": status.details, "ErrorCode": status.error_code,
                         "FailureStatus": "Permanent", "OriginatesFromUpdatePolicy": False, "ShouldRetry": False})
        elif status.status == "Succeeded" and level == REPORT_ALL:
            queue = SUCCESS_QUEUE
            body["SucceededOn"] = _iso(status.when)
        with self.lock:
            self.statuses.append(status)
            del self.statuses[:-1000]  # bounded history
            if queue:
                text = base64.b64encode(json.dumps(body).encode()).decode()
                self.queues[queue].append(_Message(str(uuid.uuid4()), text, _now()))


def messages_xml(messages: list[_Message], *, with_text: bool = True, peek: bool = False) -> bytes:
    """The QueueMessagesList body Azure Queue storage returns."""
    root = ET.Element("QueueMessagesList")
    for m in messages:
        el = ET.SubElement(root, "QueueMessage")
        ET.SubElement(el, "MessageId").text = m.id
        ET.SubElement(el, "InsertionTime").text = _http_date(m.inserted)
        ET.SubElement(el, "ExpirationTime").text = _http_date(m.inserted + dt.timedelta(days=7))
        if not peek:
            ET.SubElement(el, "PopReceipt").text = m.pop_receipt
            ET.SubElement(el, "TimeNextVisible").text = _http_date(_now() + dt.timedelta(seconds=30))
        ET.SubElement(el, "DequeueCount").text = str(m.dequeue_count)
        if with_text:
            ET.SubElement(el, "MessageText").text = m.text
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root)


def storage_error_xml(error: StorageError) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{error.code}</Code>'
            f"<Message>{_xml_escape(error.message)}</Message></Error>").encode()


def _maybe_gunzip(data: bytes) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise IngestionError(f"The blob is not valid gzip ({exc})", code="BadRequest_InvalidCompression") from None


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _http_date(when: dt.datetime) -> str:
    return format_datetime(when.astimezone(dt.UTC), usegmt=True)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

