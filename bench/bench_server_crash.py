"""Crash run on `kfx-notebook serve` over a database file: `kill -9` at random moments, nothing acknowledged is lost.

    python bench/bench_server_crash.py [--rounds 8] [--writers 4] [--rows 50] [--seed 1] [--keep DIR]

Each round starts `kfx-notebook serve DB_FILE` in a child process, runs W writer threads
that ingest numbered batches of R rows (half by streaming ingestion, half queued: blob PUT
then queue message, which ingests before it is answered), and SIGKILLs the server at a
random moment while they write. A batch is *acknowledged* when its reply was a success; a
batch whose reply never came is *in doubt*. After the last round the file is served once
more and every batch counted. It passes when every acknowledged batch is present exactly
once with all its rows, every in-doubt batch is whole or absent (never partial), and no
batch appears twice. Exit status 0 on a pass, 1 otherwise. Raw HTTP on loopback only.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

DB = "NetDefaultDB"
TABLE = "Crash"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_file: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "kfx_notebook.cli", "serve", db_file, "--port", str(port)],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(2):
        line = proc.stdout.readline()  # "Serving ..." and the connection string: it is listening
        if not line:
            raise RuntimeError(f"serve did not start: {proc.stderr.read()[-2000:]}")
    return proc, port


def _call(port: int, method: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def ask(port: int, csl: str, route: str = "/v1/rest/mgmt") -> list[list]:
    """The rows of a command (or, with route="/v1/rest/query", a query) through the v1 endpoint."""
    status, body = _call(port, "POST", route, json.dumps({"db": DB, "csl": csl}).encode(), "application/json")
    if status != 200:
        raise RuntimeError(f"{csl}: {status} {body[:300]!r}")
    return json.loads(body)["Tables"][0]["Rows"]


def _batch_bytes(batch: str, rows: int, round_no: int) -> bytes:
    return gzip.compress("".join(json.dumps({"Batch": batch, "Seq": i, "Round": round_no}) + "\n"
                                 for i in range(rows)).encode())


def ingest_streaming(port: int, batch: str, rows: int, round_no: int) -> bool:
    status, _ = _call(port, "POST", f"/v1/rest/ingest/{DB}/{TABLE}?streamFormat=multijson",
                      _batch_bytes(batch, rows, round_no), "application/octet-stream")
    return status == 200


def ingest_queued(port: int, batch: str, rows: int, round_no: int) -> bool:
    blob = f"{batch}.multijson.gz"
    status, _ = _call(port, "PUT", f"/tempstorage/{blob}?sv=1", _batch_bytes(batch, rows, round_no),
                      "application/octet-stream")
    if status != 201:
        return False
    message = {"Id": str(uuid.uuid4()), "BlobPath": f"http://127.0.0.1:{port}/tempstorage/{blob}",
               "DatabaseName": DB, "TableName": TABLE, "ReportLevel": 1,
               "AdditionalProperties": {"format": "multijson"}}
    text = base64.b64encode(json.dumps(message).encode()).decode()
    status, _ = _call(port, "POST", "/readyforaggregation-secured/messages?sv=1",
                      f"<QueueMessage><MessageText>{text}</MessageText></QueueMessage>".encode(), "application/xml")
    return status == 201


def _writer(port: int, index: int, rows: int, round_no: int, stop: threading.Event, ledger: dict, lock) -> None:
    ingest = ingest_streaming if index % 2 == 0 else ingest_queued
    while not stop.is_set():
        batch = f"r{round_no}w{index}-{uuid.uuid4().hex[:10]}"
        with lock:
            ledger["in_doubt"].add(batch)
        try:
            ok = ingest(port, batch, rows, round_no)
        except (OSError, http.client.HTTPException):
            return  # the server died under this request: the batch stays in doubt
        with lock:
            ledger["in_doubt"].discard(batch)
            (ledger["acked"] if ok else ledger["refused"]).add(batch)
        if not ok:
            return  # a refusal is not a crash; report it


def run_round(db_file: str, round_no: int, writers: int, rows: int, rng: random.Random, ledger: dict) -> float:
    proc, port = start_server(db_file)
    ask(port, f".create-merge table {TABLE} (Batch:string, Seq:long, Round:long)")
    stop, lock = threading.Event(), threading.Lock()
    threads = [threading.Thread(target=_writer, args=(port, i, rows, round_no, stop, ledger, lock), daemon=True)
               for i in range(writers)]
    for t in threads:
        t.start()
    kill_after = rng.uniform(0.3, 2.5)
    time.sleep(kill_after)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    stop.set()
    for t in threads:
        t.join(60)
    proc.stdout.close()
    proc.stderr.close()
    return kill_after


def verify(db_file: str, rows: int, ledger: dict) -> dict:
    proc, port = start_server(db_file)
    try:
        counts = {b: (n, d) for b, n, d in ask(port, f"{TABLE} | summarize n = count(), d = dcount(Seq) by Batch",
                                                         "/v1/rest/query")}
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    acked, doubt = ledger["acked"], ledger["in_doubt"]
    return {
        "acked": len(acked),
        "acked_rows": len(acked) * rows,
        "found_rows": sum(n for n, _ in counts.values()),
        "acked_missing": sorted(b for b in acked if b not in counts),
        "partial_or_duplicated": sorted(b for b, (n, d) in counts.items() if n != rows or d != rows),
        "unknown": sorted(b for b in counts if b not in acked and b not in doubt),
        "in_doubt": len(doubt),
        "in_doubt_present": sum(1 for b in doubt if b in counts),
        "refused": len(ledger["refused"]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--rows", type=int, default=50, help="rows per batch")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", help="a directory to keep the database file in (default: a temporary one)")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ledger: dict[str, set] = {"acked": set(), "in_doubt": set(), "refused": set()}
    with tempfile.TemporaryDirectory() as tmp:
        db_file = os.path.join(a.keep or tmp, f"crash-{uuid.uuid4().hex[:8]}.duckdb")
        started = time.perf_counter()
        for r in range(a.rounds):
            before = len(ledger["acked"])
            at = run_round(db_file, r, a.writers, a.rows, rng, ledger)
            print(f"round {r}: kill -9 after {at:.2f} s; {len(ledger['acked']) - before} batches acknowledged")
        result = verify(db_file, a.rows, ledger)
        elapsed = time.perf_counter() - started
    print(f"{a.rounds} kill -9 rounds, {a.writers} writers (half streaming, half queued), {a.rows} rows per batch, "
          f"{elapsed:.1f} s")
    print(f"acknowledged batches {result['acked']:,} ({result['acked_rows']:,} rows); rows found {result['found_rows']:,}")
    print(f"acknowledged but missing: {len(result['acked_missing'])}; partial or duplicated: "
          f"{len(result['partial_or_duplicated'])}; never sent: {len(result['unknown'])}")
    print(f"in doubt at a kill: {result['in_doubt']} ({result['in_doubt_present']} present whole, the rest absent); "
          f"refused: {result['refused']}")
    ok = not (result["acked_missing"] or result["partial_or_duplicated"] or result["unknown"] or result["refused"])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
