#!/usr/bin/env python3
"""Count the instructions one event costs in the store's hot paths, with valgrind's callgrind.

    sudo apt-get install valgrind                              # once (Debian, Ubuntu)
    .venv/bin/python benchmarks/instructions.py                   # every workload (a few minutes)
    .venv/bin/python benchmarks/instructions.py append_one floor_one --json counts.json

Wall-clock ratios drift by tens of percent on a shared machine; an instruction count does
not. Each workload runs in a child process under callgrind at two sizes (``--small`` and
``--large`` negotiations of 20 synthetic events), and so does the synthesis of those events
alone: the count per event is the difference between the sizes, less the synthesis's (for
``load``, less the appends that fill its store too), over the extra events. The store and
the floor run with ``synchronous=OFF`` (an fsync is no instruction count; the benchmark
measures it), in a temporary directory.

- ``append_one``: ``store.append`` of one event per call (the durable append's path);
- ``append_batch``: ``store.append`` of a negotiation's 20 events per call;
- ``load``: ``store.load`` of each negotiation from a store opened anew, with its stage,
  owed moves and next steps;
- ``floor_one`` and ``floor_one_read_model``: the benchmark's raw sqlite3 floor, one event
  per transaction, without and with the read model's row.

These are the figures the changelog and the README's performance section quote.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
PER = 20  # events per negotiation, as in the benchmark
WORKLOADS = ("append_one", "append_batch", "load", "floor_one", "floor_one_read_model")

#: What the child runs: the synthetic events, then the workload (or nothing, for "synthesis").
CHILD = """
import os, sys, tempfile
sys.path.insert(0, {benchmarks!r})
from synthetic import synthetic_events
kind, count, tmp = sys.argv[1], int(sys.argv[2]), sys.argv[3]
work = [(f"n{{i}}", list(synthetic_events({per}, f"n{{i}}"))) for i in range(count)]
if kind.startswith("floor"):
    import bench
    bodies = [[e.to_dict() for e in events] for _, events in work]
if kind in ("append_one", "append_batch", "load", "load_setup"):
    from negotiation import SQLiteStore
    store = SQLiteStore(os.path.join(tmp, "store.db"))
    db = getattr(store, "db", None)  # the store's database, where it shows it
    if db is not None:
        db.execute("PRAGMA synchronous = OFF")
if kind == "append_one":
    for name, events in work:
        for event in events:
            store.append(name, [event])
elif kind == "append_batch":
    for name, events in work:
        store.append(name, events)
elif kind in ("load", "load_setup"):
    store.append_many(dict(work))
    store.close()
    store = SQLiteStore(os.path.join(tmp, "store.db"))
    for name, _ in work if kind == "load" else ():
        state = store.load(name)
        state.stage, state.awaiting, state.permitted
elif kind.startswith("floor"):
    read_model = kind == "floor_one_read_model"
    conn = bench.floor_connect(os.path.join(tmp, "floor.db"), "OFF")
    conn.executescript(bench.FLOOR_SCHEMA + (bench.FLOOR_READ_MODEL if read_model else ""))
    for (name, _), rows in zip(work, bodies):
        for body in rows:
            bench.floor_append(conn, name, [body], read_model=read_model)
elif kind not in ("synthesis", "synthesis_dicts"):
    raise SystemExit(f"unknown workload {{kind}}")
if kind == "synthesis_dicts":
    bodies = [[e.to_dict() for e in events] for _, events in work]
"""

COLLECTED = re.compile(r"Collected\s*:\s*([\d,]+)")


def collected(valgrind: str, kind: str, count: int) -> int:
    """Instructions callgrind counts for the child running ``kind`` over ``count`` negotiations."""
    code = CHILD.format(benchmarks=str(BENCHMARKS), per=PER)
    with tempfile.TemporaryDirectory(prefix="negotiation-instr-") as tmp:
        command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code]
        done = subprocess.run(
            [*command, kind, str(count), tmp],
            capture_output=True,
            text=True,
            check=False,
        )
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        msg = f"{kind} at {count} negotiations failed under callgrind:\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return int(found[1].replace(",", ""))


#: What each workload's growth is measured against: the work it does before what it counts.
BASELINE = {
    "append_one": "synthesis",
    "append_batch": "synthesis",
    "load": "load_setup",
    "floor_one": "synthesis_dicts",
    "floor_one_read_model": "synthesis_dicts",
}


def per_event(valgrind: str, kind: str, small: int, large: int, baselines: dict[str, int]) -> int:
    """Instructions per event of ``kind``: its growth between the sizes, less its baseline's."""
    baseline = BASELINE[kind]
    if baseline not in baselines:
        baselines[baseline] = collected(valgrind, baseline, large) - collected(valgrind, baseline, small)
    grown = collected(valgrind, kind, large) - collected(valgrind, kind, small)
    return round((grown - baselines[baseline]) / ((large - small) * PER))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"any of {', '.join(WORKLOADS)} (all)")
    parser.add_argument("--small", type=int, default=50, help="negotiations at the small size (50)")
    parser.add_argument("--large", type=int, default=150, help="negotiations at the large size (150)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the counts as JSON")
    args = parser.parse_args(argv)
    chosen = args.workloads or list(WORKLOADS)
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    if not 0 < args.small < args.large:
        parser.error(f"--small {args.small} and --large {args.large}: need 0 < small < large")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is not installed (Debian, Ubuntu: apt-get install valgrind)", file=sys.stderr)
        return 2
    baselines: dict[str, int] = {}
    counts = {}
    for kind in chosen:
        counts[kind] = per_event(valgrind, kind, args.small, args.large, baselines)
        print(f"{kind:<22} {counts[kind]:>9,} instructions per event", flush=True)
    if args.json:
        args.json.write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
