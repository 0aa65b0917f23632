#!/usr/bin/env python3
"""Profile the workloads behind the benchmark's targets with pyinstrument, and say where time goes.

    .venv/bin/pip install -e '.[bench]'                    # pyinstrument comes with the bench extra
    .venv/bin/python benchmarks/profile_targets.py            # every workload, a summary per workload
    .venv/bin/python benchmarks/profile_targets.py load --tree profiles/   # one, plus its full call tree

Each workload is the one ``benchmarks/bench.py`` times for a target (same synthetic events,
same shapes, a file store in a temporary directory). For each, the summary gives the share
of the run spent in the parts that decide the target: the database (SQLite statements and
commits), decoding, the fold (validation and derived state), encoding, the next steps, and
so on, from pyinstrument's own frame records; ``--tree DIR`` also writes the whole call
tree as text, one file per workload. These are the profiles the README's performance section
quotes where a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthetic import synthetic_events  # benchmarks/ is on sys.path when this file runs

from negotiation import SQLiteStore, replay

PER = 20  # events per negotiation, as in the benchmark

#: Buckets of the summary: a frame belongs to the first bucket one of whose needles occurs in
#: its "function file" text (so the order matters: the most specific first).
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("database (SQLite statements, commits)", ("Connection.execute", "Cursor.fetch", "Connection.executemany")),
    ("next steps (permitted, retractable)", ("permitted ", "retractable ", "_judged ", "_restored_digest ")),
    ("owed moves (awaiting)", ("awaiting ",)),
    ("transitions triggers", ("transitions/",)),
    ("snapshot restore", ("negotiation/snapshot.py", "negotiation/_lazy.py")),
    ("decoding rows (json.loads, from_stored)", ("json/decoder.py", "from_stored", "_event ", "_events ")),
    ("encoding rows (compact_json, hash)", ("compact_json", "chain_hash ", "_compact_value ")),
    ("the fold (validation, records)", ("negotiation/_fold.py", "negotiation/_rules.py", "negotiation/_records.py")),
    ("copying events to stamp them", ("stamp ",)),
)


def workloads(tmp: Path, size: int, long: int) -> dict[str, Callable[[], None]]:
    """The benchmark's workloads: ``size`` negotiations of PER events, and one of ``long`` events
    whose last 500 (or fewer) come after its snapshot."""
    work = [(f"n{i}", list(synthetic_events(PER, f"n{i}"))) for i in range(size)]
    loaded = tmp / "loaded.db"
    with SQLiteStore(loaded) as store:
        for name, events in work:
            store.append(name, events)
    long_path = tmp / "long.db"
    long_events = list(synthetic_events(long, "long"))
    head = long - min(500, long // 4)
    with SQLiteStore(long_path) as store:
        for start in range(0, head, 1000):
            store.append("long", long_events[start : min(start + 1000, head)])
        store.snapshot("long")
        store.append("long", long_events[head:])
    replayed = list(synthetic_events(long, "synthetic"))

    def append_batch() -> None:
        with SQLiteStore(tmp / "batch.db") as store:
            for name, events in work:
                store.append(name, events)

    def append_durable() -> None:
        with SQLiteStore(tmp / "durable.db") as store:
            for event in [e for _, events in work for e in events][: size * 2]:
                assert event.negotiation is not None
                store.append(event.negotiation, [event])

    def load() -> None:
        with SQLiteStore(loaded) as store:
            for name, _ in work:
                state = store.load(name)
                _ = state.stage, state.awaiting, state.permitted

    def replay_table() -> None:
        replay(replayed, negotiation="synthetic")

    def replay_transitions() -> None:
        replay(replayed[: long // 4], negotiation="synthetic", engine="transitions")

    def load_long() -> None:
        for _ in range(5):
            with SQLiteStore(long_path) as store:
                state = store.load("long")
                _ = state.stage, state.awaiting, state.permitted

    return {
        "append_batch": append_batch,
        "append_durable": append_durable,
        "load": load,
        "replay_table": replay_table,
        "replay_transitions": replay_transitions,
        "load_long": load_long,
    }


def leaves(frame: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], float]]:
    """Each leaf's time with the frames above it ("function file" texts, root first)."""
    path = (*path, f"{frame.function} {frame.file_path or ''} ")
    if not frame.children:
        yield path, frame.time
    for child in frame.children:
        yield from leaves(child, path)


def summary(session: Any) -> list[tuple[str, float]]:
    """The run's time by bucket, as shares: a leaf's time goes to the first bucket (in the
    order of BUCKETS) that any frame on its path matches, so the database's time inside the
    next steps is the database's, and the fold's time inside them is the next steps'."""
    root = session.root_frame()
    shares: dict[str, float] = {}
    for path, seconds in leaves(root):
        name = next(
            (label for label, needles in BUCKETS if any(n in text for text in path for n in needles)),
            "other Python work",
        )
        shares[name] = shares.get(name, 0.0) + seconds
    return sorted(((name, seconds / root.time) for name, seconds in shares.items()), key=lambda p: -p[1])


@contextmanager
def profiled() -> Iterator[Any]:
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("pyinstrument is not installed: pip install -e '.[bench]'")
    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        yield profiler
    finally:
        profiler.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="workloads to profile (default: all)")
    parser.add_argument("--size", type=int, default=200, help="negotiations of 20 events (default 200)")
    parser.add_argument("--long", type=int, default=20_000, help="events of the long negotiation (default 20,000)")
    parser.add_argument("--tree", type=Path, help="also write each call tree as text into this directory")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = workloads(Path(tmp), args.size, args.long)
        unknown = [n for n in args.names if n not in jobs]
        if unknown:
            parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(jobs)}")
        for name in args.names or list(jobs):
            with profiled() as profiler:
                jobs[name]()
            session = profiler.last_session
            print(f"{name}: {session.duration:.2f} s")
            for label, share in summary(session):
                if share >= 0.01:
                    print(f"  {share:6.1%}  {label}")
            if args.tree is not None:
                args.tree.mkdir(parents=True, exist_ok=True)
                text = profiler.output_text(unicode=False, color=False)
                (args.tree / f"{name}.txt").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
