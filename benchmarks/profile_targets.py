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
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthetic import synthetic_events  # benchmarks/ is on sys.path when this file runs

import negotiation
from negotiation import SQLiteStore, replay

PER = 20  # events per negotiation, as in the benchmark

#: Where the package lives: a frame in it is named by its path from there ("negotiation/store/sqlite.py"),
#: so that the buckets below match the package's modules and nothing else.
PACKAGE = Path(negotiation.__file__).resolve().parent

#: Buckets of the summary: a frame belongs to the first bucket whose pattern matches its
#: "function path " text (so the order matters: the most specific first). Modules are matched
#: by name with or without a leading underscore, so that the buckets survive the package's
#: modules being renamed; a frame no bucket matches counts as "other".
BUCKETS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern))
    for label, pattern in (
        ("database (SQLite statements, commits)", r"^(Connection|Cursor)\.(execute\w*|commit|fetch\w*) "),
        ("next steps (permitted, retractable)", r"^(permitted|retractable) | negotiation/_?(moves|retraction)\.py "),
        ("owed moves (awaiting)", r"^awaiting "),
        ("transitions triggers", r"/transitions/"),
        ("snapshot restore", r" negotiation/_?(snapshot|lazy)\.py "),
        ("decoding rows (json.loads, from_stored)", r"json/decoder\.py |^from_stored "),
        (
            "encoding rows (compact_json, hash)",
            r"json/encoder\.py |^(compact_json|chain_hash) | negotiation/store/_?chain\.py ",
        ),
        ("the events' codec", r" negotiation/_?codec\.py "),
        ("the fold (validation, records)", r" negotiation/_?(fold|rules|records)\.py "),
        ("copying events to stamp them", r"^stamp "),
        ("the store, elsewhere", r" negotiation/store/"),
        ("the package, elsewhere", r" negotiation/"),
    )
)
OTHER = "other"


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


def where(file_path: str | None) -> str:
    """A frame's file: its path from the package's parent inside the package, else as it is."""
    if not file_path:
        return ""
    path = Path(file_path)
    if path.is_relative_to(PACKAGE):
        return f"negotiation/{path.relative_to(PACKAGE).as_posix()}"
    return path.as_posix()


def leaves(frame: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], float]]:
    """Each leaf's time with the frames above it ("function path " texts, root first)."""
    path = (*path, f"{frame.function} {where(frame.file_path)} ")
    if not frame.children:
        yield path, frame.time
    for child in frame.children:
        yield from leaves(child, path)


def bucket(path: tuple[str, ...]) -> str:
    """The first bucket (in the order of BUCKETS) that any frame on the path matches."""
    return next((label for label, pattern in BUCKETS if any(pattern.search(text) for text in path)), OTHER)


def summary(session: Any) -> list[tuple[str, float]]:
    """The run's time by bucket, as shares: a leaf's time goes to :func:`bucket` of its path,
    so the database's time inside the next steps is the database's, and the fold's time
    inside them is the next steps'."""
    root = session.root_frame()
    shares: dict[str, float] = {}
    for path, seconds in leaves(root):
        name = bucket(path)
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
