"""A 100k-row `kfx-notebook serve` query answer against a raw loopback fetch of the same bytes.

    python bench/bench_serve_encode.py [--rows 100000] [--runs 7] [--breakdown]

In one process: a LocalServer (in-memory database) holding a table of --rows rows and 9
columns (bool, int, long, real, two strings, datetime, timespan, a column with nulls), and a
plain `http.server` thread that answers every GET with the bytes the server's reply had.
Alternating, --runs times each: (a) POST /v2/rest/query `T` to the server (translation,
DuckDB, encoding, HTTP), (b) GET the same bytes from the raw server (HTTP and copying only).
Prints the medians and their ratio. PYTHONPATH=<other checkout> measures another version.
--breakdown also prints, in-process and without HTTP, the median wall and CPU (process_time)
seconds of each stage of one answer: the query to Arrow, each column's texts (with the C row join:
its spec, or its texts where C has no rule), the rows joined, the whole reply.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import threading
import time
import urllib.request

from kfx_notebook.server import LocalServer

DB = "NetDefaultDB"
TABLE = ("range i from 1 to {rows} step 1 | extend b = i % 2 == 0, n = toint(i), r = i * 0.25, "
         "s = strcat('name-', i), u = strcat('ünïcode \"', i % 97), d = datetime(2020-01-01) + i * 1s, "
         "t = i * 1ms, maybe = iff(i % 10 == 0, long(null), i)")


def _post(url: str, path: str, csl: str) -> bytes:
    body = json.dumps({"db": DB, "csl": csl}).encode()
    request = urllib.request.Request(url + path, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        return reply.read()


def _raw_server(payload: bytes) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _breakdown(backend, runs: int) -> None:
    """Median wall and CPU seconds of each stage of one answer, in this process (no HTTP)."""
    from kfx_notebook import codec
    from kfx_notebook.server import wire

    column_types, table = backend.query_table(DB, "T")
    stages = {"query to Arrow (translate, DuckDB, fetch)": lambda: backend.query_table(DB, "T")}
    c_join = _c_join()
    if hasattr(codec, "wire_json_pieces"):
        for (name, kusto_type), column in zip(column_types, table.columns):
            # with the C row join: the column's spec for C (its buffers), or its texts where C has no rule
            wire_kind = wire.wire_type(kusto_type)
            stages[f"  column {name} ({kusto_type})"] = \
                lambda c=column, t=wire_kind: (c_join and c_join.wire_column(c, t)) or codec.wire_json_pieces(c, t)
    if c_join:
        stages["  rows joined by rows.c (specs and texts built, then the C loop)"] = \
            lambda: wire._rows_json_joined(column_types, table, b"", b"")
    stages["v2 reply from the Arrow table (all columns, joins)"] = lambda: wire.v2_response(column_types, table)
    times: dict = {name: [] for name in stages}
    for _ in range(runs):
        for name, stage in stages.items():
            wall, cpu = time.perf_counter(), time.process_time()
            stage()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    for name, pairs in times.items():
        print(f"{name:55s} wall {statistics.median(p[0] for p in pairs):.4f} s  "
              f"cpu {statistics.median(p[1] for p in pairs):.4f} s")


def _c_join():
    """kfx_notebook.row_join when this version has it and its C module is built, else None."""
    try:
        from kfx_notebook import _speedups, row_join
    except ImportError:
        return None
    return row_join if _speedups.load("rows") is not None else None


def _timed(fetch) -> tuple[tuple[float, float], bytes]:
    """(wall seconds, this process's CPU seconds: client and in-process server), and what fetch returned."""
    started, cpu = time.perf_counter(), time.process_time()
    data = fetch()
    return (time.perf_counter() - started, time.process_time() - cpu), data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--breakdown", action="store_true", help="also time each stage in-process")
    args = parser.parse_args()
    with LocalServer() as server:
        _post(server.url, "/v1/rest/mgmt", ".set T <| " + TABLE.format(rows=args.rows))
        payload = _post(server.url, "/v2/rest/query", "T")
        raw = _raw_server(payload)
        raw_url = f"http://127.0.0.1:{raw.server_address[1]}/"
        served, fetched = [], []
        for _ in range(args.runs):
            seconds, data = _timed(lambda: _post(server.url, "/v2/rest/query", "T"))
            served.append(seconds)
            seconds, copy = _timed(lambda: urllib.request.urlopen(raw_url).read())
            fetched.append(seconds)
            assert len(data) == len(payload) and copy == payload
        raw.shutdown()
        if args.breakdown:
            _breakdown(server.backend, args.runs)
    serve_median, raw_median = (statistics.median(t[0] for t in times) for times in (served, fetched))
    serve_cpu, raw_cpu = (statistics.median(t[1] for t in times) for times in (served, fetched))
    print(f"{args.rows} rows x 9 columns, {len(payload) / 1e6:.1f} MB, medians of {args.runs}: "
          f"serve {serve_median:.3f} s (cpu {serve_cpu:.3f} s), raw loopback {raw_median:.3f} s (cpu {raw_cpu:.3f} s), "
          f"ratio {serve_median / raw_median:.1f}x; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
