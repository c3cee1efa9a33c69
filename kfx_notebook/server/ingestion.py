"""The Azure-Storage-compatible side of queued ingestion: blobs, queues, and the ingestor.

Just enough of Blob and Queue storage for the unmodified azure-storage-blob/-queue clients
the Kusto ingest SDK uses (azure-kusto-ingest's queued flow): block-blob PUT (single shot or
blocks + block list), queue message POST, GET (peek or receive) and DELETE. One rule: a
message posted to the ingestion queue is ingested before the POST returns (real Kusto
batches for minutes; a notebook wants rows now), and its outcome is recorded where the
SDK and a user can read it: the success/failure status queues (ReportLevel) and
`.show ingestion failures`. All state is in memory under one lock and bounded: no blob
outlives its ingestion or its time to live (Limits.blob_ttl), the staged blobs and blocks
together stay under Limits.max_staged_bytes, and a gzip blob is refused at upload if it
inflates past Limits.max_inflated_bytes. What that check inflated is kept for the blob's
ingestion (not inflated twice) while blobs and kept copies together fit in max_staged_bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import format_datetime
from urllib.parse import unquote, urlsplit

from ..errors import IngestionError, KfxError, UnsupportedError
from .limits import Limits, TooLarge, flag_of, inflate

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
MAX_STATUS_MESSAGES = 10_000  # per status queue


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


@dataclass
class _Staged:
    """An uploaded blob, or the blocks of one not yet committed, until its ingestion or its expiry."""

    data: bytes = b""
    blocks: dict[str, bytes] = field(default_factory=dict)
    expires: float = 0.0          # time.monotonic()
    #: A gzip blob's bytes as the upload's check inflated them, for its ingestion (which would inflate
    #: them again): a cache, kept only while it fits in the staging limit, dropped first when room is needed.
    inflated: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.data) + sum(len(b) for b in self.blocks.values())


class QueuedIngestion:
    """Queued ingestion, locally: in-memory temporary blobs and queues, and the ingestor that consumes them."""

    def __init__(self, backend, limits: Limits):
        self.backend = backend
        self.limits = limits
        self.lock = threading.Lock()
        self.blobs: dict[str, _Staged] = {}      # committed blobs
        self.blocks: dict[str, _Staged] = {}     # blocks staged for a blob not yet committed
        self.queues: dict[str, list[_Message]] = {SUCCESS_QUEUE: [], FAILURE_QUEUE: []}
        # message id -> (queue, message, monotonic time it becomes visible again unless deleted)
        self.invisible: dict[str, tuple[str, _Message, float]] = {}

    # -- resources -----------------------------------------------------------------------------
    @staticmethod
    def resource_rows(base_url: str) -> list[tuple[str, str]]:
        return [(kind, f"{base_url}/{path}?{FAKE_SAS}") for kind, path in RESOURCES.items()]

    # -- blobs ---------------------------------------------------------------------------------
    def put_blob(self, container: str, blob: str, body: bytes, query: dict[str, str]) -> dict[str, str]:
        if container != CONTAINER:
            raise StorageError(404, "ContainerNotFound", f"The specified container '{container}' does not exist.")
        comp = query.get("comp")
        if comp not in (None, "block", "blocklist"):
            raise StorageError(400, "UnsupportedQueryParameter", f"comp={comp[:50]} is not supported locally.")
        if comp == "blocklist":
            self._commit_blocks(blob, body)
        else:
            block_id = query.get("blockid", "")
            if comp == "block" and not block_id:
                raise StorageError(400, "InvalidQueryParameterValue", "blockid is required for comp=block.")
            inflated = self._check_inflated(body) if comp is None else None
            with self.lock:
                self._expire()
                self._make_room(len(body))
                if comp == "block":
                    staged = self.blocks.setdefault(blob, _Staged())
                    staged.blocks[block_id] = body
                    staged.expires = self._expiry()
                else:
                    self.blobs[blob] = _Staged(body, expires=self._expiry(), inflated=self._cacheable(inflated, len(body)))
        return {"ETag": f'"0x{uuid.uuid4().hex[:16].upper()}"', "Last-Modified": _http_date(_now())}

    def _commit_blocks(self, blob: str, body: bytes) -> None:
        try:
            ids = [el.text or "" for el in ET.fromstring(body) if el.tag in ("Latest", "Uncommitted", "Committed")]
        except ET.ParseError:
            raise StorageError(400, "InvalidXmlDocument", "The block list is not valid XML.") from None
        with self.lock:
            self._expire()
            staged = self.blocks.pop(blob, _Staged())
        missing = [i for i in ids if i not in staged.blocks]
        if missing:
            raise StorageError(400, "InvalidBlockList", "The block list names blocks never uploaded (or expired).")
        data = b"".join(staged.blocks[i] for i in ids)
        if len(data) > self.limits.max_body_bytes:
            raise StorageError(413, "RequestBodyTooLarge",
                               TooLarge("The committed blob", self.limits.max_body_bytes, flag_of("max_body_bytes"))
                               .message)
        inflated = self._check_inflated(data)
        with self.lock:
            self.blobs[blob] = _Staged(data, expires=self._expiry(), inflated=self._cacheable(inflated, len(data)))

    def _check_inflated(self, data: bytes) -> bytes | None:
        """Refuse at upload a gzip blob that inflates past the limit (its ingestion would be refused anyway);
        the inflated bytes of a gzip blob, else None."""
        try:
            inflated = inflate(data, self.limits, "The blob, decompressed,")
        except TooLarge as exc:
            raise StorageError(413, "RequestBodyTooLarge", exc.message) from None
        except ValueError:
            return None  # not valid gzip: its ingestion reports that, as Kusto does
        return inflated if inflated is not data else None

    def _cacheable(self, inflated: bytes | None, incoming: int) -> bytes | None:
        """*inflated* when what is staged, the cached copies, the *incoming* blob and it fit in the staging
        limit (under the lock); else None, and the ingestion inflates the blob again."""
        if inflated is None:
            return None
        held = sum(s.size + len(s.inflated or b"") for store in (self.blobs, self.blocks) for s in store.values())
        return inflated if held + incoming + len(inflated) <= self.limits.max_staged_bytes else None

    def _expiry(self) -> float:
        return time.monotonic() + self.limits.blob_ttl

    def _expire(self) -> None:
        """Drop blobs and staged blocks whose time to live has passed (under the lock)."""
        now = time.monotonic()
        for store in (self.blobs, self.blocks):
            for name in [n for n, staged in store.items() if staged.expires <= now]:
                del store[name]

    def _make_room(self, incoming: int) -> None:
        held = sum(s.size for s in self.blobs.values()) + sum(s.size for s in self.blocks.values())
        cached = sum(len(s.inflated or b"") for s in self.blobs.values())
        if held + cached + incoming > self.limits.max_staged_bytes:
            for staged in self.blobs.values():      # the cache goes first: the staging limit bounds it too
                staged.inflated = None
        if held + incoming > self.limits.max_staged_bytes:
            raise StorageError(413, "RequestBodyTooLarge",
                               f"Local temporary storage is full: {held:,} bytes of blobs wait for ingestion "
                               f"(limit {self.limits.max_staged_bytes:,} bytes). Ingest them, wait "
                               f"{self.limits.blob_ttl:g} s for them to expire, or start serve with a larger "
                               f"{flag_of('max_staged_bytes')}.")

    def get_blob(self, container: str, blob: str) -> bytes:
        with self.lock:
            self._expire()
            staged = self.blobs.get(blob) if container == CONTAINER else None
        if staged is None:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        return staged.data

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
        count = _query_int(query, "numofmessages", 1, 1, 32)
        hidden_for = _query_int(query, "visibilitytimeout", 30, 0, 7 * 24 * 3600)
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
        message = _decode_message(text)
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
            name, data = self.blob_from_url(blob_path)
            with self.lock:
                staged = self.blobs.get(name)
            inflated = staged.inflated if staged is not None and staged.data is data else None
            try:
                data = inflated if inflated is not None else gunzip(data, self.limits, "The blob")
            except TooLarge as exc:
                raise IngestionError(exc.message, code="BadRequest_RequestTooLarge") from None
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
        level = message.get("ReportLevel") or REPORT_FAILURES_ONLY
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
        if queue:
            text = base64.b64encode(json.dumps(body).encode()).decode()
            with self.lock:
                self.queues[queue].append(_Message(str(uuid.uuid4()), text, _now()))
                del self.queues[queue][:-MAX_STATUS_MESSAGES]  # statuses nobody reads do not pile up


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


def gunzip(data: bytes, limits: Limits, what: str) -> bytes:
    """An ingested body or blob as its bytes: inflated within the limit (TooLarge past it) if it is gzip."""
    try:
        return inflate(data, limits, f"{what}, decompressed,")
    except ValueError as exc:
        raise IngestionError(f"{what} is not valid gzip ({exc})", code="BadRequest_InvalidCompression") from None


#: Fields of an ingestion message that must have a type when present (the SDK's IngestionBlobInfo).
MESSAGE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "AdditionalProperties": dict, "DatabaseName": str, "TableName": str, "BlobPath": str, "Id": str,
    "ReportLevel": int, "ReportMethod": int, "FlushImmediately": bool, "RetainBlobOnSuccess": bool,
}


def _decode_message(text: str) -> dict:
    """The ingestion message's JSON object, its fields checked against MESSAGE_FIELDS; else a 400."""
    try:
        message = json.loads(base64.b64decode(text, validate=False))
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0][:200]
        raise StorageError(400, "InvalidMessageContent", f"The ingestion message is not base64 JSON ({reason}).") \
            from None
    if not isinstance(message, dict):
        raise StorageError(400, "InvalidMessageContent", "The ingestion message must be a JSON object.")
    for name, kind in MESSAGE_FIELDS.items():
        value = message.get(name)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise StorageError(400, "InvalidMessageContent",
                               f"The ingestion message's {name} must be a JSON {kind.__name__}.")
    return message


def _query_int(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], as Azure Storage checks it; else a 400."""
    text = query.get(name, "")
    if text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise StorageError(400, "OutOfRangeQueryParameterValue",
                           f"{name} must be an integer from {low} to {high}.")
    return int(text)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _http_date(when: dt.datetime) -> str:
    return format_datetime(when.astimezone(dt.UTC), usegmt=True)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

