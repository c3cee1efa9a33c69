"""Load on `kfx-notebook serve`: N concurrent SDK clients, each sending M mixed queries and streaming ingests.

    python bench/bench_server_load.py [--clients 16] [--requests 200] [--url http://127.0.0.1:PORT]

Without --url it starts `kfx-notebook serve` (in-memory database, a free loopback port) in a
child process, so the server and the clients do not share one interpreter lock, and stops
it at the end. Bounded: clients x requests requests in all, and a time limit (--deadline).
Each client owns one table; one request in four is a streaming ingest of 5 rows
(KustoStreamingIngestClient), the others rotate through a parameterized KQL query on its
table, a summarize over a shared table, and a management command. At the end every
table is counted: rows lost = ingested - found. Reports error count, rows lost, and
p50/p99 latency per kind (milliseconds).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

DB = "NetDefaultDB"
ROWS_PER_INGEST = 5


def _client_work(url: str, index: int, requests: int, shared: str, deadline: float, out: dict, lock) -> None:
    from azure.kusto.data import ClientRequestProperties, KustoClient, KustoConnectionStringBuilder
    from azure.kusto.data.data_format import DataFormat
    from azure.kusto.ingest import IngestionProperties, KustoStreamingIngestClient

    kcsb = KustoConnectionStringBuilder.with_no_authentication(url)
    table = f"Load_{index}_{uuid.uuid4().hex[:6]}"
    latencies: dict[str, list[float]] = {"ingest": [], "query": [], "summarize": [], "mgmt": []}
    errors: list[str] = []
    ingested = 0
    with KustoClient(kcsb) as client, KustoStreamingIngestClient(kcsb) as ingest:
        client.execute_mgmt(DB, f".create table {table} (Id:long, Client:long, Name:string, Ts:datetime)")
        props = IngestionProperties(DB, table, data_format=DataFormat.MULTIJSON)
        for i in range(requests):
            if time.monotonic() > deadline:
                errors.append(f"client {index}: deadline reached after {i} requests")
                break
            kind = "ingest" if i % 4 == 0 else ("query", "summarize", "mgmt")[i % 3]
            started = time.perf_counter()
            try:
                if kind == "ingest":
                    lines = "\n".join(json.dumps({"Id": ingested + k, "Client": index, "Name": f"c{index}-{k}",
                                                  "Ts": "2024-01-02T03:04:05.1234567Z"})
                                      for k in range(ROWS_PER_INGEST))
                    ingest.ingest_from_stream(io.BytesIO(lines.encode()), props)
                    ingested += ROWS_PER_INGEST
                elif kind == "query":
                    crp = ClientRequestProperties()
                    crp.set_parameter("lo", 0)
                    crp.set_parameter("who", f"c{index}-1")
                    rows = client.execute_query(DB, "declare query_parameters(lo:long, who:string);\n"
                                                f"{table} | where Id >= lo | summarize n = count(), "
                                                "w = countif(Name == who)", crp).primary_results[0]
                    if rows[0]["n"] < ingested:
                        errors.append(f"client {index}: saw {rows[0]['n']} rows after ingesting {ingested}")
                elif kind == "summarize":
                    client.execute_query(DB, f"{shared} | summarize c = count(), s = sum(x) by k | order by k")
                else:
                    client.execute_mgmt(DB, f".show table {table} cslschema")
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the load
                errors.append(f"client {index} {kind}: {type(exc).__name__}: {str(exc)[:200]}")
            latencies[kind].append(time.perf_counter() - started)
        found = client.execute_query(DB, f"{table} | count").primary_results[0][0]["Count"]
    with lock:
        out["errors"].extend(errors)
        out["rows_expected"] += ingested
        out["rows_found"] += found
        for kind, values in latencies.items():
            out["latency"].setdefault(kind, []).extend(values)


def run_load(url: str, *, clients: int = 16, requests_per_client: int = 200, time_limit: float = 600.0) -> dict:
    """Run the load against a served database; returns errors, rows expected/found, latencies (s)."""
    from azure.kusto.data import KustoClient, KustoConnectionStringBuilder

    shared = f"Shared_{uuid.uuid4().hex[:6]}"
    with KustoClient(KustoConnectionStringBuilder.with_no_authentication(url)) as client:
        client.execute_mgmt(DB, f".set-or-replace {shared} <| range i from 1 to 10000 step 1 "
                                "| extend k = i % 10, x = i * 2")
    out: dict = {"errors": [], "rows_expected": 0, "rows_found": 0, "latency": {}}
    lock = threading.Lock()
    deadline = time.monotonic() + time_limit
    started = time.perf_counter()
    threads = [threading.Thread(target=_client_work, args=(url, i, requests_per_client, shared, deadline, out, lock))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, deadline - time.monotonic() + 30))
    out["elapsed"] = time.perf_counter() - started
    out["requests"] = sum(len(v) for v in out["latency"].values())
    if any(t.is_alive() for t in threads):
        out["errors"].append("some clients did not finish before the time limit")
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def summarize(report: dict) -> str:
    lines = ["| kind | requests | p50 (ms) | p99 (ms) |", "|---|---|---|---|"]
    everything = [v for values in report["latency"].values() for v in values]
    for kind, values in [*sorted(report["latency"].items()), ("all", everything)]:
        lines.append(f"| {kind} | {len(values)} | {1000 * _percentile(values, 0.5):.1f} | "
                     f"{1000 * _percentile(values, 0.99):.1f} |")
    lines.append("")
    lines.append(f"errors: {len(report['errors'])}; rows ingested {report['rows_expected']}, found "
                 f"{report['rows_found']} (lost {report['rows_expected'] - report['rows_found']}); "
                 f"{report['requests']} requests in {report['elapsed']:.1f} s "
                 f"({report['requests'] / report['elapsed']:.0f} req/s)")
    return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "kfx_notebook.cli", "serve", "--port", str(port)], cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(2):
        proc.stdout.readline()  # "Serving ..." and the connection string: it is listening
    return proc, f"http://127.0.0.1:{port}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=200, help="requests per client")
    ap.add_argument("--url", help="an already running server (default: start one)")
    ap.add_argument("--deadline", type=float, default=600.0, help="seconds before the run gives up")
    a = ap.parse_args()
    proc = None
    url = a.url
    if not url:
        proc, url = _start_server()
    try:
        report = run_load(url, clients=a.clients, requests_per_client=a.requests, time_limit=a.deadline)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    print(f"{a.clients} clients x {a.requests} requests against {url} (loopback)")
    print(summarize(report))
    for error in report["errors"][:20]:
        print("ERROR", error)
    lost = report["rows_expected"] - report["rows_found"]
    return 0 if not report["errors"] and lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
