"""Benchmark: %%kusto_output of a DataFrame through `serve`, against the SDK's ingest_from_dataframe.

    python bench/bench_e2e_output.py [--rows 100000] [--runs 5] [--no-steps] [--existing-table]

One process, one LocalServer (in-memory database) on loopback, one 7-column frame (long,
string, real, bool, tz-aware datetime, timedelta, dict -> dynamic; bench_output's frame),
interleaved runs, a fresh table each run, medians of wall time and of process CPU time
(`time.process_time`: client and server threads together, as both run in this process):
(a) the SDK: `KustoStreamingIngestClient(KustoConnectionStringBuilder.with_no_authentication(url))
    .ingest_from_dataframe(df, IngestionProperties(database, table))`;
(b) ours: the cell `%%kusto_output --database Bench --table-name T{n}\\nframe` in a real
    IPython InteractiveShell, KustoConnectionString = `Data Source=<the server's URL>`.
Each run's row count is checked. Then (unless --no-steps) where (b)'s time goes, step by step
on the same frame: the payload (`payload.serialize`), its gzip as the SDK's GzipFile would
write it, as we did in one pass and as we do in blocks on every core (gzip_write.py), the whole ClusterBackend.ingest of the Payload (gzip + HTTP + server),
and the server's own ingestion of the bytes (`LocalBackend.ingest`, no HTTP); and the SDK's own
parts: its body (pandas `to_json`) and the server's ingestion of that body. The server runs
in this process, so its parse is in every CPU number. Goal: (b) at least 5x faster than (a).
--existing-table creates each run's table beforehand (untimed, the schema the frame's first
ingestion gave), as a deployed binding's table exists: both paths then ingest into it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-steps", action="store_true", help="skip the step-by-step split of our path")
    parser.add_argument("--existing-table", action="store_true",
                        help="create each run's table first (untimed), as a deployed binding's table exists")
    args = parser.parse_args()

    from azure.kusto.data import KustoConnectionStringBuilder
    from azure.kusto.ingest import IngestionProperties, KustoStreamingIngestClient
    from bench_output import load, make_frame, timed_cpu
    from IPython.core.interactiveshell import InteractiveShell

    from kfx_notebook.server import LocalServer

    frame = make_frame(args.rows)
    names = iter(range(10**6))
    print(f"rows={args.rows:,} runs={args.runs} load average at start:{load()}")
    with LocalServer(database="Bench") as server:
        os.environ["KustoConnectionString"] = f"Data Source={server.url}"
        sdk = KustoStreamingIngestClient(KustoConnectionStringBuilder.with_no_authentication(server.url))
        shell = InteractiveShell.instance()
        shell.history_manager.enabled = False
        shell.run_line_magic("load_ext", "kfx_notebook")
        shell.user_ns["frame"] = frame
        backend = server.backend

        def rows_in(table: str) -> int:
            return int(backend.query("Bench", f"{table} | count").frame.iloc[0, 0])

        schema = None
        if args.existing_table:
            sdk.ingest_from_dataframe(frame.head(1000), IngestionProperties("Bench", "Shape"))
            schema = ", ".join(f"['{name}']:{kind}" for name, kind in backend.catalog.columns("Bench", "Shape"))
        tables = {"sdk": [], "magic": []}
        for _ in range(args.runs):
            for path, prefix in (("sdk", "S"), ("magic", "M")):
                tables[path].append(f"{prefix}{next(names)}")
                if schema:
                    backend.query("Bench", f".create table {tables[path][-1]} ({schema})")

        def sdk_ingest():
            table = tables["sdk"].pop()
            sdk.ingest_from_dataframe(frame, IngestionProperties("Bench", table))
            assert rows_in(table) == args.rows, table

        def magic():
            table = tables["magic"].pop()
            cell = f"%%kusto_output --database Bench --table-name {table}\nframe"
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                outcome = shell.run_cell(cell, store_history=False, silent=True)
            outcome.raise_error()
            assert rows_in(table) == args.rows, table

        samples: dict[str, list[tuple[float, float]]] = {"sdk": [], "magic": []}
        for _ in range(args.runs):
            samples["sdk"].append(timed_cpu(sdk_ingest))
            samples["magic"].append(timed_cpu(magic))
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in samples.items()}
        print(f"into {'tables created beforehand' if schema else 'a new table each run'}")
        print("| path | median wall s | median CPU s |\n|---|---|---|")
        print(f"| SDK ingest_from_dataframe | {med['sdk'][0]:.3f} | {med['sdk'][1]:.3f} |")
        print(f"| %%kusto_output through serve | {med['magic'][0]:.3f} | {med['magic'][1]:.3f} |")
        wall, cpu = med["sdk"][0] / med["magic"][0], med["sdk"][1] / med["magic"][1]
        print(f"ours {wall:.2f}x faster wall, {cpu:.2f}x CPU (goal >= 5x): {'met' if wall >= 5 else 'NOT met'}; "
              f"load average at end:{load()}")
        if not args.no_steps:
            steps(frame, server, backend, names, args.runs, schema)
        sdk.close()
    return 0


def steps(frame, server, backend, names, runs: int, schema: str | None) -> None:
    """Where our path's time goes: each step alone on the same frame, medians of `runs` (into tables
    created beforehand when *schema* is given)."""
    import gzip

    from bench_output import timed_cpu
    from zlib_ng import gzip_ng

    from kfx_notebook import payload
    from kfx_notebook.backends.cluster import ClusterBackend, _gzipped

    cluster = ClusterBackend(f"Data Source={server.url}")
    body = payload.serialize(payload.rows_from_return(frame).rows, None)
    sdk_body = _sdk_body(frame)
    targets = [f"C{next(names)}" for _ in range(3 * runs)]
    for table in targets if schema else ():
        backend.query("Bench", f".create table {table} ({schema})")
    steps = {
        "payload.serialize": lambda: payload.serialize(payload.rows_from_return(frame).rows, None),
        "gzip level 9 by zlib (what the SDK's GzipFile would do)": lambda: gzip.compress(body.data, 9),
        "gzip level 6 by zlib-ng in one pass (ours before)": lambda: gzip_ng.compress(body.data, 6, mtime=0),
        "gzip level 6 by zlib-ng in blocks on every core (ours: cluster._gzipped)": lambda: _gzipped(body.data),
        "ClusterBackend.ingest of the Payload (gzip + HTTP + server)": lambda: cluster.ingest(
            "Bench", targets.pop(), body, data_format=body.data_format),
        "LocalBackend.ingest of the bytes (the server's parse alone, no HTTP)": lambda: backend.ingest(
            "Bench", targets.pop(), body.data, data_format=body.data_format),
        "the SDK's body: pandas to_json (JSON lines, as ingest_from_dataframe writes it)": lambda: _sdk_body(frame),
        "the server's parse of the SDK's body alone (LocalBackend.ingest, no HTTP)": lambda: backend.ingest(
            "Bench", targets.pop(), sdk_body, data_format="json"),
    }
    split: dict[str, list[tuple[float, float]]] = {label: [] for label in steps}
    for _ in range(runs):
        for label, step in steps.items():
            split[label].append(timed_cpu(step))
    print(f"\nour path step by step ({len(body.data) / 1e6:.1f} MB of {body.data_format}; gzipped: "
          f"{len(gzip.compress(body.data, 9)) / 1e6:.2f} MB by zlib at 9, {len(_gzipped(body.data)) / 1e6:.2f} MB ours):")
    print("| step | median wall s | median CPU s |\n|---|---|---|")
    for label, values in split.items():
        print(f"| {label} | {statistics.median(w for w, _ in values):.3f} | {statistics.median(c for _, c in values):.3f} |")
    cluster.close()


def _sdk_body(frame) -> bytes:
    """The JSON lines the SDK's ingest_from_dataframe writes for the frame (base_ingest_client's to_json call)."""
    out = io.StringIO()
    frame.to_json(out, orient="records", date_format="iso", lines=True)
    return out.getvalue().encode()


if __name__ == "__main__":
    sys.exit(main())
