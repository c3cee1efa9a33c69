"""KQL doc-example conformance: the shared runner against a served database vs the engine in-process.

    python bench/conformance.py [--suite ../shared/conformance/kql-doc-examples.jsonl] [--json out.json]
                                [--floor bench/conformance-floor.json]

Starts `LocalServer` (fresh in-memory database, free loopback port), runs the unmodified
shared runner (`run_kql_conformance.py --url http://127.0.0.1:PORT --db NetDefaultDB`) in a
child process against it, then asks the same engine the same queries in-process
(`LocalBackend.query_rows`, dynamic decoded from its JSON text) and compares with the
same `kqlcompare.table_equal`. Prints both counts, the counts per area (functions, operators,
plugins, literals), every example that passes in-process but fails over REST (what our wire
encoding lost; the goal is none), and every wrong answer (the query ran and answered
differently from the documentation). With --floor it fails when a count falls below the
recorded floor or a wrong answer is not one of the documented differences listed there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared", "conformance")
DB = "NetDefaultDB"


#: page_kind -> area of the per-area counts.
AREAS = {"function": "functions", "aggregation-function": "functions", "graph-function": "functions",
         "operator": "operators", "statement": "operators", "other": "operators",
         "plugin": "plugins", "data-type": "literals"}


def in_process(backend, suite: str, wrong: dict[str, str] | None = None) -> dict[str, bool]:
    """id -> passed, answering each record with the engine directly (no HTTP, no encoding).
    Records that ran but answered differently go into *wrong* (id -> why)."""
    sys.path.insert(0, SHARED)
    from kqlcompare import table_equal
    results = {}
    with open(suite, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    for rec in records:
        try:
            column_types, rows = backend.query_rows(DB, rec["query"])
            types = [t for _, t in column_types]
            decoded = [[json.loads(v) if t == "dynamic" and isinstance(v, str) else v for v, t in zip(row, types)]
                       for row in rows]
            ok, why = table_equal(rec, [n for n, _ in column_types], types, decoded)
            if not ok and wrong is not None:
                wrong[rec["id"]] = why
        except Exception:  # noqa: BLE001 - an engine failure counts against the engine
            ok = False
        results[rec["id"]] = bool(ok)
    return results


def over_rest(url: str, suite: str) -> tuple[dict[str, bool], str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rest.json")
        proc = subprocess.run([sys.executable, os.path.join(SHARED, "run_kql_conformance.py"), "--url", url,
                               "--db", DB, "--suite", suite, "--json", out, "--failures", "0"],
                              check=True, capture_output=True, text=True, timeout=1800)
        with open(out, encoding="utf-8") as fh:
            records = json.load(fh)
    return {r["id"]: bool(r["ok"]) for r in records}, proc.stdout


def main() -> int:
    sys.path.insert(0, REPO)
    from kfx_notebook.server import LocalServer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default=os.path.join(SHARED, "kql-doc-examples.jsonl"))
    ap.add_argument("--json", help="write per-example results (rest, in_process) here")
    ap.add_argument("--floor", help="JSON with the counts not to fall below and the documented differences")
    a = ap.parse_args()
    wrong: dict[str, str] = {}
    with LocalServer() as server:
        rest, runner_output = over_rest(server.url, a.suite)
        local = in_process(server.backend, a.suite, wrong)
    sys.path.insert(0, SHARED)
    from run_kql_conformance import is_core

    with open(a.suite, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    core_ids = {rec["id"] for rec in records if is_core(rec)}
    areas = {rec["id"]: AREAS.get(rec.get("page_kind"), "operators") for rec in records}
    lost = sorted(i for i in local if local[i] and not rest.get(i))
    gained = sorted(i for i in rest if rest[i] and not local.get(i))
    print(runner_output.strip())
    print(f"over REST:  {sum(rest.values())}/{len(rest)} passed "
          f"(core {sum(rest[i] for i in core_ids if i in rest)}/{len(core_ids)})")
    print(f"in-process: {sum(local.values())}/{len(local)} passed "
          f"(core {sum(local[i] for i in core_ids if i in local)}/{len(core_ids)})")
    print(f"lost in the wire encoding: {len(lost)}" + (f" ({', '.join(lost)})" if lost else ""))
    print(f"pass over REST only: {len(gained)}" + (f" ({', '.join(gained)})" if gained else ""))
    for area in sorted(set(areas.values())):
        ids = [i for i in rest if areas.get(i) == area]
        print(f"  {area}: {sum(rest[i] for i in ids)}/{len(ids)}")
    print(f"wrong answers: {len(wrong)}")
    for i, why in sorted(wrong.items()):
        print(f"  WRONG {i}: {' '.join(str(why).split())[:160]}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as fh:
            json.dump({"rest": rest, "in_process": local, "lost": lost, "gained": gained, "wrong": wrong}, fh,
                      indent=1)
    failed = bool(lost)
    if a.floor:
        failed = below_floor(a.floor, rest, core_ids, wrong) or failed
    return 1 if failed else 0


def below_floor(path: str, rest: dict[str, bool], core_ids: set[str], wrong: dict[str, str]) -> bool:
    """True (and says why) when the counts fall below the floor or an undocumented wrong answer appears."""
    with open(path, encoding="utf-8") as fh:
        floor = json.load(fh)
    passed, core = sum(rest.values()), sum(rest[i] for i in core_ids if i in rest)
    problems = []
    if passed < floor["passed"] or core < floor["core"]:
        problems.append(f"below the floor: {passed} < {floor['passed']} or core {core} < {floor['core']}")
    undocumented = sorted(set(wrong) - set(floor["documented_differences"]))
    if undocumented:
        problems.append(f"wrong answers not documented in bench/README.md: {', '.join(undocumented)}")
    for problem in problems:
        print(f"conformance floor: {problem}")
    return bool(problems)


if __name__ == "__main__":
    sys.exit(main())
