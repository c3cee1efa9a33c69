"""bin_at over 1M datetimes: the time_bucket special form against the function row's template, same run.

    python bench/bench_bin_at.py [--rows 1000000] [--runs 9]

A LocalBackend table E(t: datetime, s: timespan, f: datetime) of --rows rows (t seven seconds apart,
s = 1h and f = 2020-01-01 00:30 in every row). Interleaved, --runs times each, medians:
`bin_at(t, 1h, datetime(2020-01-01 00:30))` (literal size and fixed point: DuckDB's time_bucket,
kql._bin_at_on_time_buckets) and `bin_at(t, s, f)` (columns, which the engine cannot type: the row's
template), each summarized by bucket; and a make-series by day. Both bin_at forms give the same buckets
(checked).
"""

from __future__ import annotations

import argparse
import statistics
import time

from kfx_notebook.backends.local import LocalBackend
from kfx_notebook.backends.local.catalog import qualified

QUERIES = {
    "bin_at, literal size (time_bucket)": "E | summarize n = count() by b = bin_at(t, 1h, datetime(2020-01-01 00:30))",
    "bin_at, column size (the row's template)": "E | summarize n = count() by b = bin_at(t, s, f)",
    "make-series by day": "E | make-series n = count() on t from datetime(2020-01-01) to datetime(2020-03-23) step 1d",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    backend = LocalBackend(None)
    backend.query("D", ".create table E (t:datetime, s:timespan, f:datetime)")
    cur = backend.cursor()
    cur.execute(f"INSERT INTO {qualified('D', 'E')} SELECT TIMESTAMP '2020-01-01' + to_seconds(i * 7), "
                f"INTERVAL 1 HOUR, TIMESTAMP '2020-01-01 00:30:00' FROM range({args.rows}) r(i)")
    cur.close()
    answers = [sorted(backend.query("D", kql).frame.astype(str).itertuples(index=False, name=None))
               for kql in list(QUERIES.values())[:2]]
    assert answers[0] == answers[1], "the two bin_at forms disagree"
    times: dict[str, list[float]] = {name: [] for name in QUERIES}
    for _ in range(args.runs):
        for name, kql in QUERIES.items():
            started = time.perf_counter()
            backend.query("D", kql)
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["bin_at, column size (the row's template)"])
    print(f"{args.rows:,} rows, medians of {args.runs}:")
    for name, samples in times.items():
        print(f"  {name:45s} {statistics.median(samples) * 1000:7.1f} ms"
              + (f"  ({base / statistics.median(samples):.2f}x the row's)" if "literal" in name else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
