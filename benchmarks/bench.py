#!/usr/bin/env python3
"""Benchmarks: this project side by side with the raw sqlite3 floor and the eventsourcing peer.

    python benchmarks/bench.py                  # the full run (a few minutes on 2 cores)
    python benchmarks/bench.py --quick          # smaller workloads, growth to 100k
    python benchmarks/bench.py --smoke          # a few seconds, every row (what CI runs)
    python benchmarks/bench.py --ten-million    # the full run plus a growth step at 10M events
    python benchmarks/bench.py --json bench.json

Everything runs in one run so that the ratios hold on a noisy machine: a timing means
something only next to a baseline measured at the same time. Rows that are compared are
measured in one group, repeated and interleaved (floor, peer, ours; floor, peer, ours; ...),
and each row shows the median of its repetitions in events per second. Then each target
prints PASS or MISS with the measured ratio: the median, over the repetitions, of the ratio
between its two rows in the same repetition.

The floor is raw ``sqlite3`` writing the same rows as the store (same columns and unique
indexes, JSON encoded and hashed, WAL) in a file in a temporary directory; the peer is the
``eventsourcing`` library (the ``bench`` extra) with an aggregate whose events mirror ours,
on SQLite. All three write at the store's ``synchronous`` setting (the same durability). A
row whose code is missing (the peer not installed) says so instead of a figure, and its
targets say n/a; a row whose code fails says ``failed`` and the exit code is 1.

Only the package's public API is used (``negotiation``, ``negotiation.store``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import hashlib
import json
import os
import platform
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthetic import synthetic_events  # benchmarks/ is on sys.path when this file runs

from negotiation import EVENT_TYPES, Event, SQLiteStore, replay, replay_log, simulate, write_log
from negotiation.store.logs import export_log, import_log

ROOT = Path(__file__).resolve().parent.parent
FOUNDING = ROOT / "events" / "security-guarantees-2021.jsonl"

#: Events per negotiation in the append and load rows (1,000 negotiations of 20 in a full run).
PER = 20
#: Negotiations per transaction when a growth step fills the store through ``append_many``.
FILL_CHUNK = 500
#: Negotiations (or single events, for durable appends) per slice of an append or load job.
SLICE = 50


@dataclass(frozen=True)
class Scale:
    """The workload sizes of one mode."""

    negotiations: int  # negotiations of PER events appended, loaded and replayed
    durable: int  # events appended one per durable transaction
    long: int  # events of the long negotiation loaded from snapshot plus tail
    tail: int  # of which after the snapshot
    runs: int  # Monte Carlo runs
    steps: int  # at most this many events per run
    growth: tuple[int, int, int]  # stored events at the small, mid and large growth steps
    probe: int  # negotiations appended and loaded at each growth step
    repeat: int  # repetitions of each timed row (the median is shown)
    stream: int  # events of the log imported and exported whole (peak memory)


SCALES = {
    "full": Scale(1000, 1000, 100_000, 500, 2000, 50, (10_000, 100_000, 1_000_000), 250, 3, 2_000_000),
    "quick": Scale(200, 200, 20_000, 500, 300, 50, (10_000, 30_000, 100_000), 100, 2, 200_000),
    "smoke": Scale(10, 20, 1_500, 100, 10, 20, (400, 800, 1_200), 5, 1, 2_000),
}
TEN_MILLION = 10_000_000


class Missing(Exception):
    """The code a row needs is not there (the peer not installed, the database of a failed row)."""


# -- rows, groups and targets ---------------------------------------------------------------


def median_rate(events: int | None, seconds: list[float]) -> float | None:
    if events is None or not seconds:
        return None
    return statistics.median(events / s for s in seconds)


def paired_ratio(
    events: int | None, seconds: list[float], other_events: int | None, other_seconds: list[float]
) -> float | None:
    """The median over repetitions of one rate over the other measured in the same repetition."""
    if not events or not other_events or not seconds or len(seconds) != len(other_seconds):
        return None
    return statistics.median(
        (events / mine) / (other_events / theirs) for mine, theirs in zip(seconds, other_seconds, strict=True)
    )


@dataclass
class Row:
    """One line of the table: a figure (median of the repetitions) or why there is none."""

    id: str
    section: str
    label: str
    unit: str = "events/s"
    events: int | None = None
    seconds: list[float] = field(default_factory=list)
    value: float | None = None  # set directly for rows that are not rates (memory)
    status: str | None = None
    note: str = ""
    # the same work on a reference (a small store) measured alongside, in the same slices
    ref_events: int | None = None
    ref_seconds: list[float] = field(default_factory=list)
    group: int | None = None  # the group it was measured in (rows of one group run interleaved)

    @property
    def figure(self) -> float | None:
        if self.status is not None:
            return None
        return self.value if self.value is not None else median_rate(self.events, self.seconds)

    @property
    def reference(self) -> float | None:
        return None if self.status is not None else median_rate(self.ref_events, self.ref_seconds)

    @property
    def paired(self) -> float | None:
        """The median over repetitions of this row's rate over the reference's in the same
        repetition (their slices interleaved): drift between repetitions cancels out."""
        if self.status is not None:
            return None
        return paired_ratio(self.events, self.seconds, self.ref_events, self.ref_seconds)

    def paired_with(self, other: Row) -> float | None:
        """The same against another row of the same group (None if they were not measured together)."""
        if self.status is not None or other.status is not None or self.group is None or self.group != other.group:
            return None
        return paired_ratio(self.events, self.seconds, other.events, other.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "section": self.section,
            "label": self.label,
            "unit": self.unit,
            "value": self.figure,
            "events": self.events,
            "seconds": self.seconds,
            "reference": self.reference,
            "paired_ratio": self.paired,
            "status": self.status,
            "note": self.note,
        }


@dataclass(frozen=True)
class Target:
    """``numerator / denominator >= required``, or with ``below`` the numerator's value < ``required``."""

    text: str
    numerator: str
    denominator: str | None
    required: float
    below: bool = False


#: The rows measured on a reference alongside end with this (their figure goes to ``reference``).
REF = "#ref"

#: Each judged in the run (n/a where a row has no figure, as the peer's without eventsourcing).
TARGETS = (
    Target(
        "validated batched append >= 1.2 x eventsourcing, same durability",
        "store.append_batch",
        "peer.append_batch",
        1.2,
    ),
    Target(
        "validated batched append >= 0.5 x raw sqlite3, same durability",
        "store.append_batch",
        "floor.append_batch",
        0.5,
    ),
    Target("load (stage, owed moves, next steps) >= 2 x eventsourcing repository.get", "store.load", "peer.get", 2.0),
    Target(
        "one event per durable transaction >= 0.7 x raw sqlite3 with the same row",
        "store.append_durable",
        "floor.append_durable",
        0.7,
    ),
    Target(
        "in-memory replay >= 10 x transitions-driven, many short negotiations",
        "replay.many",
        "replay.many_transitions",
        10.0,
    ),
    Target("long negotiation: snapshot plus tail >= 50 x its full replay", "store.load_long", "replay.long_full", 50.0),
    Target("append at the large step >= 0.8 x at the small", "growth.append.large", "growth.append.large" + REF, 0.8),
    Target("load at the large step >= 0.8 x at the small", "growth.load.large", "growth.load.large" + REF, 0.8),
    Target("loading every negotiation raises peak memory < 100 MB", "growth.memory", None, 100.0, below=True),
    Target(
        "importing, then exporting, the large log raises peak memory < 200 MB", "stream.memory", None, 200.0, below=True
    ),
    Target(
        "PostgreSQL: validated batched append >= 1.2 x eventsourcing's PostgreSQL recorder",
        "pg.store.append_batch",
        "pg.peer.append_batch",
        1.2,
    ),
    Target("PostgreSQL: load >= 2 x eventsourcing repository.get", "pg.store.load", "pg.peer.get", 2.0),
    Target("PostgreSQL: 4 writer processes in all >= 2 x one writer", "pg.store.writers4", "pg.store.writers1", 2.0),
)


class Clock:
    """Times a block: ``with Clock() as c: ...; c.seconds`` (collects garbage first)."""

    seconds = 0.0

    def __enter__(self) -> Clock:
        gc.collect()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


#: One repetition of a row's work, in slices: each ``next`` does a slice and returns
#: (events, seconds timed). Jobs of one group advance slice by slice in turn, so that rows
#: compared with each other see the same machine (the disk's fsync latency drifts by several
#: times within a minute on a shared machine).
Job = Callable[[], Iterator[tuple[int, float]]]


def disk_repeat(repeat: int) -> int:
    """The groups whose ratios the disk moves (appends, loads, growth steps) repeat more than
    the others (5 times in a full run): the disk's fsync latency drifts between repetitions."""
    return 2 * repeat - 1


class Bench:
    """The rows of one run and the interleaved repetition of the jobs that fill them."""

    def __init__(self, mode: str, scale: Scale, tmp: Path, *, repeat: int, ten_million: bool) -> None:
        self.mode = mode
        self.scale = scale
        self.tmp = tmp
        self.repeat = repeat
        self.ten_million = ten_million
        self.rows: dict[str, Row] = {}
        self.failed = False
        self.groups = 0  # how many groups have run

    def row(self, id: str, section: str, label: str, unit: str = "events/s") -> Row:
        self.rows[id] = Row(id, section, label, unit)
        return self.rows[id]

    def mark(self, ids: list[str], error: BaseException) -> None:
        """Give rows the reason they have no figure (a missing library, or a failure)."""
        for id in ids:
            row = self.rows[id]
            if row.status is not None:
                continue
            if isinstance(error, Missing):
                row.status = str(error)
            else:
                row.status = f"failed: {type(error).__name__}: {error}"
                self.failed = True
        if not isinstance(error, Missing):
            traceback.print_exception(error, file=sys.stderr)

    def group(self, jobs: dict[str, Job], repeat: int | None = None) -> None:
        """Run the jobs ``repeat`` times, slice by slice in turn; a job that raises is dropped with its reason."""
        self.groups += 1
        for job_id in jobs:
            self.rows[job_id.removesuffix(REF)].group = self.groups
        live = dict(jobs)
        for _ in range(self.repeat if repeat is None else repeat):
            running = {job_id: job() for job_id, job in live.items()}
            totals = dict.fromkeys(running, (0, 0.0))
            while running:
                for job_id, slices in list(running.items()):
                    try:
                        events, seconds = next(slices)
                    except StopIteration:
                        del running[job_id]
                        self.record(job_id, *totals[job_id])
                    except Exception as e:  # a row reports its failure; the others still run
                        self.mark([job_id.removesuffix(REF)], e)
                        del running[job_id], live[job_id]
                    else:
                        done, spent = totals[job_id]
                        totals[job_id] = (done + events, spent + seconds)

    def record(self, job_id: str, events: int, seconds: float) -> None:
        row = self.rows[job_id.removesuffix(REF)]
        if job_id.endswith(REF):
            row.ref_events = events
            row.ref_seconds.append(seconds)
        else:
            row.events = events
            row.seconds.append(seconds)

    def path(self, name: str) -> Path:
        """A fresh database path in the run's temporary directory."""
        for n in range(1, 1_000_000):
            candidate = self.tmp / f"{name}-{n}.db"
            if not candidate.exists():
                return candidate
        raise AssertionError(name)


def progress(text: str) -> None:
    print(f"... {text}", file=sys.stderr, flush=True)


def fmt(n: float) -> str:
    return f"{n:,.0f}"


def negotiations(count: int, prefix: str = "n") -> list[tuple[str, list[Event]]]:
    """``count`` synthetic negotiations of PER events each, every one with its own events."""
    return [(f"{prefix}{i}", list(synthetic_events(PER, f"{prefix}{i}"))) for i in range(count)]


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def once(work: Callable[[], int]) -> Job:
    """A job of one slice: ``work`` returns how many events it handled."""

    def job() -> Iterator[tuple[int, float]]:
        with Clock() as c:
            events = work()
        yield events, c.seconds

    return job


# -- the floor: raw sqlite3 ------------------------------------------------------------------

FLOOR_SCHEMA = """
CREATE TABLE events (
    position INTEGER PRIMARY KEY, negotiation TEXT NOT NULL, version INTEGER NOT NULL,
    id TEXT NOT NULL, type TEXT NOT NULL, occurred TEXT NOT NULL, recorded TEXT NOT NULL,
    data TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE UNIQUE INDEX events_negotiation_version ON events (negotiation, version);
CREATE UNIQUE INDEX events_negotiation_id ON events (negotiation, id);
"""
FLOOR_INSERT = "INSERT INTO events (negotiation, version, id, type, occurred, recorded, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
#: The store's read model, for the floor that writes its row as well.
FLOOR_READ_MODEL = """
CREATE TABLE negotiations (
    id TEXT PRIMARY KEY, stage TEXT NOT NULL, version INTEGER NOT NULL, last_event TEXT,
    owed INTEGER NOT NULL, head TEXT NOT NULL, updated TEXT NOT NULL
);
"""
FLOOR_SUMMARY_UPDATE = (
    "UPDATE negotiations SET stage = ?, version = ?, last_event = ?, owed = ?, head = ?, updated = ? WHERE id = ?"
)
FLOOR_SUMMARY_INSERT = (
    "INSERT INTO negotiations (stage, version, last_event, owed, head, updated, id) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def floor_connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def floor_append(
    conn: sqlite3.Connection, negotiation: str, bodies: list[dict[str, Any]], *, read_model: bool = False
) -> None:
    """One transaction: the next versions, the JSON, a hash chain and the rows (no validation);
    with ``read_model``, the negotiation's row in the store's read model as well, as the store
    writes it (an UPDATE, an INSERT the first time), with the last event's type standing in
    for the stage and no owed moves counted."""
    recorded = dt.datetime.now(dt.UTC).isoformat()
    conn.execute("BEGIN IMMEDIATE")
    row = conn.execute(
        "SELECT version, hash FROM events WHERE negotiation = ? ORDER BY version DESC LIMIT 1", (negotiation,)
    ).fetchone()
    version, head = row if row is not None else (0, "")
    rows = []
    for body in bodies:
        version += 1
        data = json.dumps(body, separators=(",", ":"))
        head = hashlib.sha256((head + data).encode()).hexdigest()
        rows.append((negotiation, version, body["id"], body["type"], body["occurred"], recorded, data, head))
    conn.executemany(FLOOR_INSERT, rows)
    if read_model:
        last = bodies[-1]
        summary = (last["type"], version, last["occurred"], 0, head, recorded, negotiation)
        if conn.execute(FLOOR_SUMMARY_UPDATE, summary).rowcount == 0:
            conn.execute(FLOOR_SUMMARY_INSERT, summary)
    conn.execute("COMMIT")


# -- the peer: the eventsourcing library ---------------------------------------------------


@functools.cache
def peer() -> tuple[Any, Any]:
    """The eventsourcing ``Application`` class and an aggregate whose events mirror ours.

    The aggregate has one event class per event type of ours, each carrying the event's JSON
    object; applying one counts it and keeps its type (no validation: the peer does less
    domain work than we do, so its figures are an upper bound for an equivalent model).
    """
    try:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate
    except ImportError as e:
        msg = "not installed (pip install -e '.[bench]')"
        raise Missing(msg) from e

    class NegotiationAggregate(Aggregate):
        class Happened(Aggregate.Event):
            body: dict[str, Any]

            def apply(self, aggregate: Any) -> None:
                aggregate.count += 1
                aggregate.last = self.body["type"]

        def __init__(self, name: str) -> None:
            self.name = name
            self.count = 0
            self.last: str | None = None

    for kind in EVENT_TYPES:
        attrs = {"__module__": __name__, "__qualname__": f"NegotiationAggregate.{kind}"}
        setattr(NegotiationAggregate, kind, type(kind, (NegotiationAggregate.Happened,), attrs))
    return Application, NegotiationAggregate


def peer_app(path: Path, synchronous: str) -> Any:
    """An eventsourcing application on SQLite whose writer commits at ``synchronous``."""
    application, _ = peer()
    app = application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)})
    with app.recorder.datastore.get_connection(commit=True) as conn:  # outside a transaction
        conn.cursor().execute(f"PRAGMA synchronous = {synchronous}")
    return app


def peer_synchronous(app: Any) -> str:
    """The ``synchronous`` setting the peer's writer runs at."""
    with app.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute("PRAGMA synchronous")
        return SYNCHRONOUS[cursor.fetchone()[0]]


# -- this project's store ----------------------------------------------------------------------

SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def open_store(path: Path) -> SQLiteStore:
    return SQLiteStore(path)


def store_synchronous() -> str:
    """The store's ``PRAGMA synchronous``, which the floor and the peer copy (FULL, the store's
    documented setting, when the store does not show its database)."""
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "probe.db") as store:
        db = getattr(store, "db", None)
        return "FULL" if db is None else SYNCHRONOUS.get(db.execute("PRAGMA synchronous").fetchone()[0], "FULL")


def view(state: Any, *, permitted: bool = True) -> None:
    """What a caller of ``load`` asks for: the stage, the owed moves and the next steps."""
    _ = state.stage, state.awaiting
    if permitted:
        _ = state.permitted


def load_all(store: SQLiteStore, names: Sequence[str]) -> int:
    """Load each negotiation with its stage, owed moves and next steps; how many events they hold."""
    count = 0
    for name in names:
        state = store.load(name)
        view(state)
        count += state.version
    return count


def needs(last: dict[str, Any], key: str, row: str) -> Any:
    if key not in last:
        msg = f"not available: needs the database of {row}"
        raise Missing(msg)
    return last[key]


# -- the groups -------------------------------------------------------------------------------


def bench_stores(bench: Bench) -> None:
    """Appends (batched, durable) and loads: the floor, the peer and the store, interleaved."""
    s = bench.scale
    sync = store_synchronous()
    shape = f"{s.negotiations:,} x {PER}"
    bench.row("floor.append_batch", "floor", f"raw sqlite3: append, one transaction per negotiation ({shape})")
    bench.row(
        "floor.append_durable",
        "floor",
        f"raw sqlite3: one event + the read model's row per transaction ({s.durable:,})",
    )
    bench.row("peer.append_batch", "peer", f"eventsourcing: save one aggregate per negotiation ({shape})")
    bench.row("peer.get", "peer", "eventsourcing: repository.get of every aggregate")
    bench.row("store.append_batch", "ours", f"validated append, one batch per negotiation ({shape})")
    bench.row("store.append_durable", "ours", f"validated append, one event per durable transaction ({s.durable:,})")
    bench.row("store.load", "ours", "load every negotiation: stage, owed moves, next steps")
    for row_id in ("floor.append_batch", "floor.append_durable"):
        bench.rows[row_id].note = f"synchronous={sync}, as the store"

    work = negotiations(s.negotiations)
    bodies = [(name, [e.to_dict() for e in events]) for name, events in work]
    names = [name for name, _ in work]
    durable = [e for _, events in work for e in events][: s.durable]
    durable_bodies = [e.to_dict() for e in durable]
    last: dict[str, Any] = {}  # the database each append row left, for the load rows

    def floor_batch() -> Iterator[tuple[int, float]]:
        conn = floor_connect(bench.path("floor"), sync)
        conn.executescript(FLOOR_SCHEMA)
        try:
            for part in chunks(bodies, SLICE):
                with Clock() as c:
                    for name, body in part:
                        floor_append(conn, name, body)
                yield len(part) * PER, c.seconds
        finally:
            conn.close()

    def peer_batch() -> Iterator[tuple[int, float]]:
        path = bench.path("peer")
        app = peer_app(path, sync)
        _, aggregate = peer()
        ids = []
        try:
            for part in chunks(bodies, SLICE):
                with Clock() as c:
                    for name, body in part:
                        agg = aggregate(name)
                        for b in body:
                            agg.trigger_event(getattr(aggregate, b["type"]), body=b)
                        app.save(agg)
                        ids.append(agg.id)
                yield len(part) * PER, c.seconds
            bench.rows["peer.append_batch"].note = f"synchronous={peer_synchronous(app)}"
        finally:
            app.close()
        last["peer"] = (path, ids)

    def store_batch() -> Iterator[tuple[int, float]]:
        path = bench.path("store")
        store = open_store(path)
        try:
            for part in chunks(work, SLICE):
                with Clock() as c:
                    for name, events in part:
                        store.append(name, events)
                yield len(part) * PER, c.seconds
        finally:
            store.close()
        last["store"] = path

    def floor_durable() -> Iterator[tuple[int, float]]:
        conn = floor_connect(bench.path("floor-durable"), sync)
        conn.executescript(FLOOR_SCHEMA + FLOOR_READ_MODEL)
        try:
            for part in chunks(durable_bodies, SLICE):
                with Clock() as c:
                    for body in part:
                        floor_append(conn, body["negotiation"], [body], read_model=True)
                yield len(part), c.seconds
        finally:
            conn.close()

    def store_durable() -> Iterator[tuple[int, float]]:
        store = open_store(bench.path("store-durable"))
        try:
            for part in chunks(durable, SLICE):
                with Clock() as c:
                    for event in part:
                        store.append(event.negotiation, [event])
                yield len(part), c.seconds
        finally:
            store.close()

    progress(f"appending {shape} (floor, peer, store) and {s.durable:,} durable events")
    bench.group(
        {
            "floor.append_batch": floor_batch,
            "peer.append_batch": peer_batch,
            "store.append_batch": store_batch,
            "floor.append_durable": floor_durable,
            "store.append_durable": store_durable,
        },
        repeat=disk_repeat(bench.repeat),
    )

    def peer_get() -> Iterator[tuple[int, float]]:
        peer()  # "not installed" rather than "needs the database" without the library
        path, ids = needs(last, "peer", "peer.append_batch")
        yield from timed_gets(peer_app(path, sync), ids)  # a new application: nothing cached

    def store_load() -> Iterator[tuple[int, float]]:
        # a store opened anew: what a reader process sees, not the folds the appends left behind
        yield from timed_loads(open_store(needs(last, "store", "store.append_batch")), names)

    progress("loading every negotiation back (peer, store)")
    bench.group({"peer.get": peer_get, "store.load": store_load}, repeat=disk_repeat(bench.repeat))


# -- PostgreSQL: the store and the peer on one server ----------------------------------------

#: The server the PostgreSQL rows use: its maintenance database, where they create their own.
POSTGRES_ENV = ("NEGOTIATION_BENCH_POSTGRES", "NEGOTIATION_TEST_POSTGRES")
POSTGRES_LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: Writer processes in the concurrent-writers row.
WRITERS = 4


def postgres_server() -> str:
    """The URL of the server's maintenance database; Missing when psycopg or the server is not there."""
    url = next((os.environ[name] for name in POSTGRES_ENV if os.environ.get(name)), POSTGRES_LOCAL)
    try:
        import psycopg
    except ImportError as e:
        msg = "psycopg not installed (pip install -e '.[postgres]')"
        raise Missing(msg) from e
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as e:
        msg = f"no PostgreSQL server at {url} ({' '.join(str(e).split())[:80]})"
        raise Missing(msg) from e
    return url


def postgres_database(server: str, name: str, created: list[str]) -> str:
    """A fresh database on the server (listed in ``created``, to drop at the end); its URL."""
    import psycopg

    database = f"negotiation_bench_{os.getpid()}_{name}_{len(created)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database}")
        conn.execute(f"CREATE DATABASE {database}")
    created.append(database)
    parts = urllib.parse.urlsplit(server)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def peer_postgres_app(url: str) -> Any:
    """An eventsourcing application on its PostgreSQL recorder, on the database ``url`` names."""
    application, _ = peer()
    try:
        import psycopg_pool  # noqa: F401  (eventsourcing's PostgreSQL recorder needs it)
    except ImportError as e:
        msg = "psycopg_pool not installed (pip install -e '.[bench]')"
        raise Missing(msg) from e
    parts = urllib.parse.urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
    }
    return application(env=env)


def cpu_ticks() -> tuple[int, int] | None:
    """The machine's CPU time so far, (busy, all), in clock ticks from ``/proc/stat``; None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle and iowait
    return sum(ticks) - idle, sum(ticks)


def busy_cores(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """How many of the machine's cores were busy on average between two :func:`cpu_ticks`."""
    if before is None or after is None or after[1] == before[1]:
        return None
    return (os.cpu_count() or 1) * (after[0] - before[0]) / (after[1] - before[1])


def writers_job(bench: Bench, server: str, created: list[str], writers: int, work: list[Any]) -> Job:
    """``writers`` processes, forked and waiting, then appending their share of ``work`` at once.

    The row's note says how many of the machine's cores were busy meanwhile (the writers, the
    server and anything else): where the clients run on the server's machine, as here, one
    writer that keeps ``b`` of ``n`` cores busy caps any number of writers at ``n / b`` times
    its throughput, whatever the store does.
    """
    busy: list[float] = []

    def job() -> Iterator[tuple[int, float]]:
        from negotiation.store.postgres import PostgresStore

        url = postgres_database(server, f"w{writers}", created)
        PostgresStore(url).close()  # the schema, before the writers start
        share = len(work) // WRITERS  # each writer's share is the same in both rows
        go_read, go_write = os.pipe()
        children = []
        for w in range(writers):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                code = 1
                try:
                    os.close(go_write)
                    with PostgresStore(url) as store:
                        os.read(go_read, 1)
                        for name, events in work[w * share : (w + 1) * share]:
                            store.append(name, events)
                    code = 0
                finally:
                    os._exit(code)
            children.append(pid)
        os.close(go_read)
        time.sleep(0.5)  # the children connect
        with Clock() as c:
            before = cpu_ticks()
            os.write(go_write, b"x" * writers)
            statuses = [os.waitpid(pid, 0)[1] for pid in children]
            cores = busy_cores(before, cpu_ticks())
        os.close(go_write)
        if any(statuses):
            msg = f"a writer process failed: exit statuses {statuses}"
            raise RuntimeError(msg)
        if cores is not None:
            busy.append(cores)
            row = bench.rows[f"pg.store.writers{writers}"]
            row.note = f"{statistics.median(busy):.2f} of {os.cpu_count()} cores busy"
        yield writers * share * PER, c.seconds

    return job


def bench_postgres(bench: Bench) -> None:
    """The store and eventsourcing's PostgreSQL recorder on one server: appends, loads, concurrent writers."""
    s = bench.scale
    shape = f"{s.negotiations:,} x {PER}"
    bench.row(
        "pg.peer.append_batch", "postgres", f"eventsourcing on PostgreSQL: save one aggregate per negotiation ({shape})"
    )
    bench.row("pg.peer.get", "postgres", "eventsourcing on PostgreSQL: repository.get of every aggregate")
    bench.row(
        "pg.store.append_batch", "postgres", f"PostgresStore: validated append, one batch per negotiation ({shape})"
    )
    bench.row("pg.store.load", "postgres", "PostgresStore: load every negotiation: stage, owed moves, next steps")
    per_writer = max(1, s.negotiations // WRITERS)
    bench.row("pg.store.writers1", "postgres", f"PostgresStore: one writer process ({per_writer:,} x {PER})")
    bench.row("pg.store.writers4", "postgres", f"PostgresStore: {WRITERS} writer processes at once, in all")
    ids = ["pg.peer.append_batch", "pg.peer.get", "pg.store.append_batch", "pg.store.load"]
    ids += ["pg.store.writers1", "pg.store.writers4"]
    try:
        server = postgres_server()
    except Missing as e:
        bench.mark(ids, e)
        return
    from negotiation.store.postgres import PostgresStore

    created: list[str] = []
    work = negotiations(s.negotiations, prefix="pg")
    bodies = [(name, [e.to_dict() for e in events]) for name, events in work]
    names = [name for name, _ in work]
    last: dict[str, Any] = {}

    def peer_batch() -> Iterator[tuple[int, float]]:
        url = postgres_database(server, "peer", created)
        app = peer_postgres_app(url)
        _, aggregate = peer()
        agg_ids = []
        try:
            for part in chunks(bodies, SLICE):
                with Clock() as c:
                    for name, body in part:
                        agg = aggregate(name)
                        for b in body:
                            agg.trigger_event(getattr(aggregate, b["type"]), body=b)
                        app.save(agg)
                        agg_ids.append(agg.id)
                yield len(part) * PER, c.seconds
        finally:
            app.close()
        last["peer"] = (url, agg_ids)

    def store_batch() -> Iterator[tuple[int, float]]:
        url = postgres_database(server, "store", created)
        store = PostgresStore(url)
        try:
            for part in chunks(work, SLICE):
                with Clock() as c:
                    for name, events in part:
                        store.append(name, events)
                yield len(part) * PER, c.seconds
        finally:
            store.close()
        last["store"] = url

    def peer_get() -> Iterator[tuple[int, float]]:
        url, agg_ids = needs(last, "peer", "pg.peer.append_batch")
        yield from timed_gets(peer_postgres_app(url), agg_ids)

    def store_load() -> Iterator[tuple[int, float]]:
        yield from timed_loads(PostgresStore(needs(last, "store", "pg.store.append_batch")), names)

    try:
        progress(f"PostgreSQL: appending {shape} (peer, store), then loading it back")
        bench.group({"pg.peer.append_batch": peer_batch, "pg.store.append_batch": store_batch})
        bench.group({"pg.peer.get": peer_get, "pg.store.load": store_load})
        progress(f"PostgreSQL: one writer process, then {WRITERS} at once")
        bench.group(
            {
                "pg.store.writers1": writers_job(bench, server, created, 1, work),
                "pg.store.writers4": writers_job(bench, server, created, WRITERS, work),
            }
        )
    finally:
        import psycopg

        with psycopg.connect(server, autocommit=True) as conn:
            for database in created:
                conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def timed_gets(app: Any, ids: list[Any]) -> Iterator[tuple[int, float]]:
    """The peer's ``repository.get`` of every aggregate, slice by slice; closes ``app``."""
    try:
        for part in chunks(ids, SLICE):
            with Clock() as c:
                count = sum(app.repository.get(agg_id).count for agg_id in part)
            yield count, c.seconds
    finally:
        app.close()


def timed_loads(store: Any, names: list[str]) -> Iterator[tuple[int, float]]:
    """Our load of every negotiation (stage, owed moves, next steps), slice by slice; closes ``store``."""
    try:
        for part in chunks(names, SLICE):
            with Clock() as c:
                count = load_all(store, part)
            yield count, c.seconds
    finally:
        store.close()


def bench_memory(bench: Bench) -> None:
    """In-memory replay of many short negotiations, by the table and through transitions triggers."""
    s = bench.scale
    shape = f"{s.negotiations:,} x {PER}"
    bench.row("replay.many", "ours", f"in-memory replay of {shape} negotiations, one replay each")
    bench.row("replay.many_transitions", "ours", f"the same, driven by transitions triggers ({shape})")
    bench.rows["replay.many_transitions"].note = "one Machine per negotiation"
    work = negotiations(s.negotiations)

    def many(engine: str) -> Callable[[], int]:
        def replay_each() -> int:
            for name, negotiation in work:
                replay(negotiation, negotiation=name, engine=engine)
            return s.negotiations * PER

        return replay_each

    progress(f"replaying {shape} negotiations in memory")
    bench.group({"replay.many": once(many("table")), "replay.many_transitions": once(many("transitions"))})


def bench_long(bench: Bench) -> None:
    """One negotiation of ``long`` events: load from snapshot plus tail vs its full replay."""
    s = bench.scale
    load = bench.row("store.load_long", "ours", f"load the {s.long:,}-event negotiation: snapshot + tail, stage")
    bench.row("store.load_long_owed", "ours", "the same load, then its owed moves and next steps")
    bench.row("replay.long_full", "ours", "the same, full replay: read every event back + replay, stage")
    path = bench.path("long")
    try:
        progress(f"storing one negotiation of {s.long:,} events")
        started = time.perf_counter()
        events = synthetic_events(s.long, "long")
        with open_store(path) as store:
            head = s.long - s.tail
            for start in range(0, head, 1000):
                store.append("long", [next(events) for _ in range(min(1000, head - start))])
            store.snapshot("long")  # covers every event but the tail
            for start in range(0, s.tail, 100):
                store.append("long", [next(events) for _ in range(min(100, s.tail - start))])
        load.note = (
            f"snapshot at version {s.long - s.tail:,}; appending the log took {time.perf_counter() - started:.0f} s"
        )
    except Exception as e:  # the rows say why; the rest of the run goes on
        bench.mark(["store.load_long", "store.load_long_owed", "replay.long_full"], e)
        return

    def from_snapshot(*, owed: bool) -> Job:
        def job() -> Iterator[tuple[int, float]]:
            with open_store(path) as store:
                calls = 0
                with Clock() as c:  # several loads when one is too short to time
                    while calls == 0 or time.perf_counter() - c.start < 0.2:
                        state = store.load("long")
                        _ = state.stage
                        if owed:
                            count, steps = len(state.awaiting), len(state.permitted)
                        calls += 1
            if owed:
                bench.rows["store.load_long_owed"].note = f"{count:,} owed moves, {steps:,} next steps"
            yield s.long, c.seconds / calls

        return job

    def full() -> Iterator[tuple[int, float]]:
        with open_store(path) as store, Clock() as c:
            _ = replay([stored.event for stored in store.read("long")], negotiation="long").stage
        yield s.long, c.seconds

    progress("loading it from snapshot plus tail, and replaying it in full")
    bench.group(
        {
            "store.load_long": from_snapshot(owed=False),
            "store.load_long_owed": from_snapshot(owed=True),
            "replay.long_full": full,
        }
    )


def bench_simulation(bench: Bench) -> None:
    s = bench.scale
    start = "the founding log as of 2022-02-02" if FOUNDING.exists() else "the empty negotiation"
    row = bench.row("simulation", "ours", f"Monte Carlo: {s.runs:,} runs of up to {s.steps} steps (simulated)")
    row.note = f"from {start}, default policy"

    def job() -> Iterator[tuple[int, float]]:
        state = replay_log(FOUNDING, as_of="2022-02-02") if FOUNDING.exists() else None
        with Clock() as c:
            result = simulate(state, None, runs=s.runs, max_steps=s.steps, seed=1)
        yield int(result.events), c.seconds

    progress(f"simulating {s.runs:,} runs")
    bench.group({"simulation": job})


def fill(path: Path, names: list[str], size: int, template: list[Event]) -> None:
    """Grow a store to ``size`` events of fresh negotiations through ``append_many``."""
    stored = len(names) * PER
    while stored < size:
        count = min(FILL_CHUNK, max(1, (size - stored) // PER))
        batch = [f"g{len(names) + i}" for i in range(count)]
        # a store per chunk: an instance keeps the fold of every negotiation it appended to
        with open_store(path) as store:
            store.append_many(dict.fromkeys(batch, template))
        names.extend(batch)
        stored += count * PER


def bench_growth(bench: Bench) -> None:
    """Append and load rates as the store grows, and the memory of loading all of it.

    At each step the grown store is measured slice by slice against a reference store of
    the small step's size, so that the ratio compares sizes, not moments of the machine.
    """
    s = bench.scale
    small = s.growth[0]
    huge = TEN_MILLION if bench.mode != "smoke" else 2 * s.growth[-1]  # smoke: every size scaled down
    steps = list(zip(("small", "mid", "large", "huge"), (*s.growth, huge), strict=True))
    shape = f"{s.probe:,} x {PER}"
    for label, size in steps:
        bench.row(f"growth.append.{label}", "growth", f"append {shape} at {size:,} stored events")
        bench.row(f"growth.load.{label}", "growth", f"load {s.probe:,} negotiations at {size:,} stored events")
    if not bench.ten_million:
        steps.pop()
        for kind in ("append", "load"):
            bench.rows[f"growth.{kind}.huge"].status = "skipped: run with --ten-million"
    large = s.growth[-1]
    memory = bench.row("growth.memory", "growth", f"peak memory: load every negotiation of the {large:,}-event store")
    memory.unit = "MB"

    path, reference = bench.path("growth"), bench.path("reference")
    template = list(synthetic_events(PER, None))  # the store fills in the negotiation
    filled: list[str] = []
    ref_filled: list[str] = []
    probes = 0
    rng = random.Random(5)
    try:
        fill(reference, ref_filled, small, template)
    except Exception as e:
        bench.mark([r for r in bench.rows if r.startswith("growth.")], e)
        return

    def append_probe(target: Path) -> Job:
        def job() -> Iterator[tuple[int, float]]:
            nonlocal probes
            probes += 1
            work = negotiations(s.probe, prefix=f"p{probes}-")
            with open_store(target) as store:
                for part in chunks(work, SLICE // 2):
                    with Clock() as c:
                        for name, events in part:
                            store.append(name, events)
                    yield len(part) * PER, c.seconds

        return job

    def load_probe(target: Path, names: list[str]) -> Job:
        def job() -> Iterator[tuple[int, float]]:
            sample = rng.sample(names, min(s.probe, len(names)))
            with open_store(target) as store:
                for part in chunks(sample, SLICE // 2):
                    with Clock() as c:
                        count = load_all(store, part)
                    yield count, c.seconds

        return job

    for label, size in steps:
        ids = [f"growth.append.{label}", f"growth.load.{label}"]
        try:
            progress(f"growing the store to {size:,} events")
            started = time.perf_counter()
            fill(path, filled, size, template)
            bench.rows[ids[0]].note = f"filled in {time.perf_counter() - started:.0f} s through append_many"
        except Exception as e:
            bench.mark([*ids, "growth.memory"] if label == "large" else ids, e)
            continue
        bench.group(
            {
                ids[0]: append_probe(path),
                ids[0] + REF: append_probe(reference),
                ids[1]: load_probe(path, filled),
                ids[1] + REF: load_probe(reference, ref_filled),
            },
            repeat=disk_repeat(bench.repeat),
        )
        for row_id in ids:
            row = bench.rows[row_id]
            if row.paired is not None:
                alongside = f"x{row.paired:.2f} of a {small:,}-event store alongside"
                row.note = f"{alongside}; {row.note}" if row.note else alongside
        if label == "large":
            measure_memory(bench, path)


def measure_memory(bench: Bench, path: Path) -> None:
    """Load every negotiation of the store one after another in a child process; its peak RSS rise.

    The baseline is the child's peak after opening the store, listing its negotiations and
    loading the first (imports and caches included); the figure is how far the loads raise it.
    """
    row = bench.rows["growth.memory"]
    progress("loading every negotiation of the large store in a child process")
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(path)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            msg = f"the child exited with {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
            raise RuntimeError(msg)
        report = json.loads(done.stdout)
    except Exception as e:
        bench.mark(["growth.memory"], e)
        return
    row.value = (report["peak_kb"] - report["baseline_kb"]) / 1024
    row.events = report["events"]
    row.note = (
        f"{report['negotiations']:,} negotiations, {report['events']:,} events loaded at "
        f"{fmt(report['events'] / report['seconds'])} events/s; peak RSS {report['baseline_kb'] / 1024:.0f} MB "
        f"after the first load, {report['peak_kb'] / 1024:.0f} MB after the last"
    )


def bench_stream(bench: Bench) -> None:
    """Import a large log (many negotiations of PER events) into a new store with ``append``'s
    streaming import, then export every negotiation back, each in a child process: peak memory."""
    size = bench.scale.stream
    memory = bench.row("stream.memory", "growth", f"peak memory: import, then export, a log of {size:,} events", "MB")
    path = bench.path("stream")
    log = path.with_suffix(".jsonl")
    progress(f"writing a log of {size:,} events, then importing and exporting it in child processes")
    try:
        with log.open("w", encoding="utf-8") as out:
            for number in range(size // PER):
                write_log(synthetic_events(PER, f"s{number}"), out)
        figures = {}
        for step in ("import", "export"):
            done = subprocess.run(
                [sys.executable, __file__, "--stream-child", step, str(log), str(path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                msg = f"the {step} child exited with {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
                raise RuntimeError(msg)
            figures[step] = json.loads(done.stdout)
    except Exception as e:
        bench.mark(["stream.memory"], e)
        return
    finally:
        log.unlink(missing_ok=True)
    rise = {step: (f["peak_kb"] - f["baseline_kb"]) / 1024 for step, f in figures.items()}
    memory.value = max(rise.values())
    memory.events = figures["import"]["events"]
    memory.note = ", ".join(
        f"{step} {fmt(f['events'] / f['seconds'])} events/s, +{rise[step]:.0f} MB" for step, f in figures.items()
    )


def stream_child(step: str, log: str, path: str) -> None:
    """The child of :func:`bench_stream`: imports the log, or exports every negotiation; prints
    its figures as JSON."""
    with open_store(Path(path)) as store:
        store.negotiations()
        baseline = peak_rss_kb()
        started = time.perf_counter()
        if step == "import":
            events = sum(import_log(store, log).values())
        else:
            events = 0
            with open(os.devnull, "w", encoding="utf-8") as out:
                for summary in store.negotiations():
                    events += export_log(store, summary.id, out)
        seconds = time.perf_counter() - started
        peak = peak_rss_kb()
    print(json.dumps({"events": events, "seconds": seconds, "baseline_kb": baseline, "peak_kb": peak}))


def peak_rss_kb() -> int:
    """This process's peak resident set size, in KiB.

    ``VmHWM`` from /proc where there is one: ``ru_maxrss`` survives ``execve`` on Linux, so a
    child started by a big parent would report the parent's size until it outgrew it (the
    bench's own process holds a 100,000-event log by then) and hide the rise being measured.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


def memory_child(path: str) -> None:
    """The child of :func:`measure_memory`: prints its figures as JSON."""
    with open_store(Path(path)) as store:
        names = [summary.id for summary in store.negotiations()]
        view(store.load(names[0]))
        baseline = peak_rss_kb()
        events = 0
        started = time.perf_counter()
        for name in names:
            state = store.load(name)
            view(state)
            events += state.version
            del state
        seconds = time.perf_counter() - started
        peak = peak_rss_kb()
    report = {
        "negotiations": len(names),
        "events": events,
        "seconds": seconds,
        "baseline_kb": baseline,
        "peak_kb": peak,
    }
    print(json.dumps(report))


# -- the report -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def ratio(bench: Bench, numerator: str, denominator: str) -> float | None:
    """``numerator / denominator``: the median of per-repetition ratios when the rows were
    measured together (a reference alongside, or rows of one group), else the ratio of their
    medians; None when a row has no figure."""
    row = bench.rows[numerator]
    other = bench.rows[denominator.removesuffix(REF)]
    if denominator == numerator + REF:  # a reference alongside
        paired, den = row.paired, row.reference
    else:  # rows of one group: each repetition's ratio, then their median
        paired, den = row.paired_with(other), other.figure
    if paired is not None:
        return paired
    return None if row.figure is None or not den else row.figure / den


def evaluate(bench: Bench) -> list[dict[str, Any]]:
    out = []
    for target in TARGETS:
        entry: dict[str, Any] = {
            "target": target.text,
            "numerator": target.numerator,
            "denominator": target.denominator,
            "required": target.required,
            "below": target.below,
        }
        if target.denominator is None:
            measured = bench.rows[target.numerator].figure
        else:
            measured = ratio(bench, target.numerator, target.denominator)
        if measured is None:
            missing = [
                row_id.removesuffix(REF)
                for row_id in (target.numerator, target.denominator)
                if row_id and bench.rows[row_id.removesuffix(REF)].figure is None
            ]
            why = f"no figure for {', '.join(missing)}" if missing else "no figure"
            entry.update(measured=None, result="n/a", why=why)
        else:
            met = measured < target.required if target.below else measured >= target.required
            entry.update(measured=measured, result="PASS" if met else "MISS")
        out.append(entry)
    return out


SECTIONS = {
    "floor": "floor: raw sqlite3, same rows, WAL, file database",
    "peer": "peer: the eventsourcing library on SQLite",
    "ours": "this project",
    "growth": "growth: a store filled to each size",
    "postgres": "PostgreSQL: this project and the eventsourcing peer on one server",
}


def ratio_text(measured: float, required: float, *, below: bool = False, digits: int = 2) -> str:
    """``measured`` to ``digits`` decimals, or more where fewer would read as the other verdict
    (0.7986 against 0.8 is "0.799", not "0.80", beside a MISS)."""
    meets = measured < required if below else measured >= required
    for places in range(digits, 10):
        text = f"{measured:.{places}f}"
        if (float(text) < required if below else float(text) >= required) == meets:
            return text
    return repr(measured)


def table(bench: Bench, targets: list[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [
        f"negotiation benchmark ({bench.mode}, median of {bench.repeat}, {disk_repeat(bench.repeat)} for appends, "
        f"loads, growth): {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, SQLite {info['sqlite']}",
        f"load average at start {info['load_average'][0]}, at the end {info['load_average_end'][0]}",
    ]
    width = max(len(r.label) for r in bench.rows.values()) + 2
    for section, title in SECTIONS.items():
        lines += ["", title]
        for row in (r for r in bench.rows.values() if r.section == section):
            figure = row.figure
            if figure is None:
                shown = row.status or "no figure"
            elif row.unit == "MB":
                shown = f"{figure:>12.1f} MB"
            else:
                shown = f"{fmt(figure):>12} {row.unit}"
            note = f"   ({row.note})" if row.note else ""
            lines.append(f"  {row.label:<{width}}{shown}{note}")
    lines += ["", "targets"]
    for t in targets:
        if t["result"] == "n/a":
            measured = t["why"]
        elif t["below"]:
            shown = ratio_text(t["measured"], t["required"], below=True, digits=1)
            measured = f"{shown} MB, needs < {t['required']:g} MB"
        else:
            measured = f"{ratio_text(t['measured'], t['required'])} x, needs >= {t['required']:g} x"
        lines.append(f"  {t['result']:<5} {t['target']:<74} {measured}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller workloads, growth to 100k")
    size.add_argument("--smoke", action="store_true", help="tiny workloads, every row: a few seconds")
    parser.add_argument("--ten-million", action="store_true", help="add a growth step at 10,000,000 stored events")
    parser.add_argument("--repeat", type=int, help="repetitions per row (default: 3 full, 2 quick, 1 smoke)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the rows and targets as JSON")
    parser.add_argument("--tmp", type=Path, help="where the databases go (default: the system temp directory)")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--stream-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.stream_child:
        stream_child(*args.stream_child)
        return 0
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    scale = SCALES[mode]
    info = machine()
    if info["load_average"][0] >= 1.0:
        print(
            f"warning: load average {info['load_average'][0]} at start: other processes distort the ratios",
            file=sys.stderr,
        )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="negotiation-bench-", dir=args.tmp) as tmp:
        bench = Bench(mode, scale, Path(tmp), repeat=args.repeat or scale.repeat, ten_million=args.ten_million)
        bench_stores(bench)
        bench_memory(bench)
        bench_long(bench)
        bench_simulation(bench)
        bench_growth(bench)
        bench_stream(bench)
        bench_postgres(bench)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    info["seconds"] = round(time.perf_counter() - started, 1)
    targets = evaluate(bench)
    print(table(bench, targets, info))
    print(f"\n{info['seconds']:.0f} s in all")
    if args.json:
        report = {
            "mode": mode,
            "repeat": bench.repeat,
            "scale": scale.__dict__,
            "machine": info,
            "rows": {id: row.to_dict() for id, row in bench.rows.items()},
            "targets": targets,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 1 if bench.failed else 0


if __name__ == "__main__":
    sys.exit(main())
