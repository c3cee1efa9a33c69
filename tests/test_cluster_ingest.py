"""ClusterBackend's ingestion paths through the official SDK, against `kfx-notebook serve`."""

from __future__ import annotations

import gzip
import json
import random
import string

import pytest

from kfx_notebook.backends import IngestPath
from kfx_notebook.backends.cluster import ClusterBackend
from kfx_notebook.errors import IngestionError, UnknownEntityError
from kfx_notebook.server import LocalServer

FAST_POLL = {"pollIntervalSeconds": "0.05", "pollTimeoutMinutes": "0.2"}


@pytest.fixture
def served():
    with LocalServer(database="Db") as server:
        backend = ClusterBackend(server.connection_string)
        backend.ingest_retry_seconds = 0.01
        yield server, backend


def count(backend) -> int:
    return int(backend.query("Db", "T | count").frame.iloc[0, 0])


def test_managed_streams_a_small_payload(served):
    _, backend = served
    receipt = backend.ingest("Db", "T", b'{"a": 1}', data_format="json")
    assert (receipt.path, receipt.status, receipt.rows) == (IngestPath.STREAMING, "Succeeded", 1)
    assert count(backend) == 1


def test_managed_falls_back_to_queued_above_the_streaming_limit(served):
    _, backend = served
    rng = random.Random(7)  # incompressible text, so the gzipped body stays over 4 MiB
    rows = [json.dumps({"a": i, "s": "".join(rng.choices(string.ascii_letters, k=150))}) for i in range(60_000)]
    receipt = backend.ingest("Db", "T", "\n".join(rows).encode(), data_format="multijson")
    assert receipt.path is IngestPath.FELL_BACK
    assert count(backend) == 60_000


def test_queued_status_is_found_however_many_came_before(served):
    _, backend = served
    for i in range(40):  # more than a queue peek (32) can see
        receipt = backend.ingest("Db", "T", b'{"a": %d}' % i, data_format="json", ingestion_type="queued",
                                 properties=FAST_POLL)
        assert (receipt.path, receipt.status) == (IngestPath.QUEUED, "Succeeded"), i
    assert count(backend) == 40


def test_queued_failure_is_reported_with_its_reason(served):
    server, backend = served
    backend.ingest("Db", "T", b'{"a": 1}', data_format="json")
    with pytest.raises((IngestionError, UnknownEntityError)) as info:
        backend.ingest("Db", "T", b'{"a": 2}', data_format="json", ingestion_type="queued", mapping_ref="nope",
                       properties=FAST_POLL)
    assert "nope" in str(info.value) or "MappingPersistent" in str(info.value)
    assert count(backend) == 1


def test_a_payload_streams_gzipped_once_at_the_default_level_with_its_own_row_count(served, monkeypatch):
    from kfx_notebook import payload
    from kfx_notebook.server import protocol

    received = []

    def recording_gunzip(data, *args):
        received.append(bytes(data))
        return real_gunzip(data, *args)

    real_gunzip = protocol.gunzip
    monkeypatch.setattr(protocol, "gunzip", recording_gunzip)
    _, backend = served
    body = payload.serialize(payload.rows_from_return([{"a": 1}, {"a": 2}, {"a": 3}]).rows, None)
    receipt = backend.ingest("Db", "T", body, data_format=body.data_format)
    assert (receipt.path, receipt.rows, receipt.bytes) == (IngestPath.STREAMING, 3, len(body.data))
    assert count(backend) == 3
    [sent] = received
    assert gzip.decompress(sent) == body.data          # compressed once: inflates to the payload itself
    assert sent[8] == 0                                # gzip's XFL byte: 2 at level 9 (the SDK's), 4 at 1, 0 between



_LETTERS = bytes(b"abcdefgh"[b % 8] for b in range(256))
_RANDOM_TEXT = random.Random(11).randbytes(12_000_000).translate(_LETTERS)  # about 0.4 of it survives gzip


def _rows_of(chars: int) -> bytes:
    """multijson rows of random text over 8 letters, `chars` letters in all, 1000 a row."""
    return b"\n".join(b'{"s": "%s"}' % _RANDOM_TEXT[i:min(i + 1000, chars)] for i in range(0, chars, 1000))


def _sizes_around_the_limit(limit: int) -> tuple[bytes, bytes]:
    """Two payloads whose stream as we send it (`_gzipped`) is at most `limit` bytes, and one letter more is over."""
    from kfx_notebook.backends.cluster import _gzipped

    estimate = limit * 1_000_000 // len(_gzipped(_rows_of(1_000_000)))
    low, high = estimate - 20_000, estimate + 20_000
    assert len(_gzipped(_rows_of(low))) <= limit < len(_gzipped(_rows_of(high)))
    while high - low > 1:    # keeps: low's stream fits, high's does not
        middle = (low + high) // 2
        if len(_gzipped(_rows_of(middle))) <= limit:
            low = middle
        else:
            high = middle
    return _rows_of(low), _rows_of(high)

def test_streaming_or_queued_is_decided_on_the_stream_we_send_to_the_byte(served):
    from azure.kusto.ingest import ManagedStreamingIngestClient

    from kfx_notebook.backends.cluster import _gzipped
    from kfx_notebook.gzip_write import BLOCK_BYTES

    limit = ManagedStreamingIngestClient.MAX_STREAMING_SIZE_IN_BYTES
    fits, over = _sizes_around_the_limit(limit)
    assert len(fits) > 2 * BLOCK_BYTES          # compressed on threads, in blocks
    assert len(_gzipped(fits)) <= limit < len(_gzipped(over))
    _, backend = served
    receipt = backend.ingest("Db", "T", fits, data_format="multijson")
    assert (receipt.path, receipt.bytes) == (IngestPath.STREAMING, len(fits))
    receipt = backend.ingest("Db", "T", over, data_format="multijson")
    assert receipt.path is IngestPath.FELL_BACK
    assert count(backend) == fits.count(b"\n") + 1 + over.count(b"\n") + 1
