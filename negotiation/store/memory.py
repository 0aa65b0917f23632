"""The in-memory store: the same interface and guarantees as SQLite, for tests and embedding.

It keeps everything in Python lists and dicts behind one lock. A write transaction stages its
changes and publishes them only when it ends without an exception, so an append is all or
nothing here too. ``follow`` and live subscribers wake up on a condition variable. Nothing
survives the process.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from negotiation import snapshot
from negotiation.dates import parse_timestamp
from negotiation.errors import StoreError
from negotiation.events import Event
from negotiation.store.base import SNAPSHOT_EVERY, EventStore, Latest, NegotiationSummary, StoredEvent
from negotiation.store.chain import GENESIS, Row

__all__ = ["MemoryStore"]


class _Transaction:
    """Reads see what was committed before and the events this transaction wrote; writes are
    staged until the end."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.staged: list[Row] = []
        self.staged_by: dict[str, list[Row]] = {}  # the staged rows of each negotiation
        self.summaries_: dict[str, NegotiationSummary] = {}
        self.staged_snapshots: dict[str, tuple[int, bytes]] = {}
        self.checkpoints: dict[str, int] = {}
        self.projections: dict[str, dict[str, Any]] = {}
        self.staged_head: tuple[int, str] | None = None

    def head(self) -> tuple[int, str]:
        return self.store._head if self.staged_head is None else self.staged_head

    def put_head(self, position: int, head: str) -> None:
        self.staged_head = (position, head)

    def tip(self, negotiation: str) -> tuple[int, str]:
        staged = self.staged_by.get(negotiation)
        if staged:
            return staged[-1].version, staged[-1].hash
        stream = self.store._stream(negotiation)
        return len(stream), stream[-1].hash if stream else GENESIS

    def head_and_tips(self, negotiations: Sequence[str]) -> tuple[tuple[int, str], dict[str, tuple[int, str]]]:
        return self.head(), {name: self.tip(name) for name in negotiations}

    def stored(self, negotiation: str, ids: Iterable[str]) -> dict[str, Event]:
        known = self.store._ids.get(negotiation, {})
        stream = self.store._stream(negotiation)
        wanted = set(ids)
        found = {i: stream[known[i]].event for i in wanted if i in known}
        found.update(
            (r.id, r.event) for r in self.staged_by.get(negotiation, ()) if r.id in wanted and r.event is not None
        )
        return found

    def insert(self, rows: Sequence[Row]) -> None:
        self.staged.extend(rows)
        for row in rows:
            self.staged_by.setdefault(row.negotiation, []).append(row)

    def summary(self, negotiation: str) -> NegotiationSummary | None:
        return self.store._summaries.get(negotiation)

    def put_summary(self, summary: NegotiationSummary) -> None:
        self.summaries_[summary.id] = summary

    def snapshot(self, negotiation: str) -> tuple[int, bytes] | None:
        found = self.store._snapshots.get(negotiation)
        try:
            return found if found is not None and snapshot.check(found[1]) == snapshot.FINGERPRINT else None
        except StoreError:  # its body does not match its checksum
            return None

    def snapshots(self) -> Iterator[tuple[str, int, bytes]]:
        return ((negotiation, version, data) for negotiation, (version, data) in self.store._snapshots.items())

    def put_snapshot(self, negotiation: str, version: int, data: bytes) -> None:
        self.staged_snapshots[negotiation] = (version, data)

    def latest(self, negotiation: str) -> Latest:
        tip = self.tip(negotiation)
        snap = self.snapshot(negotiation) if tip[0] else None
        after = snap[0] if snap is not None and snap[0] <= tip[0] else 0
        return tip, snap if after else None, functools.partial(self.events, negotiation, after, tip[0])

    def events(self, negotiation: str, after_version: int = 0, up_to: int | None = None) -> list[Event]:
        events = [s.event for s in self.store._stream(negotiation)]
        events += [r.event for r in self.staged_by.get(negotiation, ()) if r.event is not None]
        return events[after_version:up_to]

    def checkpoint(self, name: str) -> int:
        return self.store._checkpoints.get(name, 0)

    def put_checkpoint(self, name: str, position: int) -> None:
        self.checkpoints[name] = position

    def read_all(self, after_position: int, limit: int | None) -> list[StoredEvent]:
        start = max(after_position, 0)
        return self.store._events[start : None if limit is None else start + limit]

    def read(self, negotiation: str, after_version: int, limit: int | None = None) -> list[StoredEvent]:
        start = max(after_version, 0)
        return self.store._stream(negotiation)[start : None if limit is None else start + limit]

    def summaries(self) -> list[NegotiationSummary]:
        return [self.store._summaries[k] for k in sorted(self.store._summaries)]

    def rows(self) -> Iterator[Row]:
        return iter(list(self.store._rows))

    def projection(self, name: str) -> dict[str, Any]:
        if name not in self.projections:
            self.projections[name] = copy.deepcopy(self.store._projections.get(name, {}))
        return self.projections[name]

    def commit(self) -> None:
        store = self.store
        for row in self.staged:
            assert row.event is not None
            stored = StoredEvent(
                position=row.position,
                negotiation=row.negotiation,
                version=row.version,
                event=row.event,
                hash=row.hash,
                recorded=parse_timestamp(row.recorded, field="recorded"),
            )
            store._ids.setdefault(row.negotiation, {})[row.id] = row.version - 1
            store._streams.setdefault(row.negotiation, []).append(stored)
            store._events.append(stored)
            store._rows.append(row)
        store._summaries.update(self.summaries_)
        store._snapshots.update(self.staged_snapshots)
        store._checkpoints.update(self.checkpoints)
        store._projections.update(self.projections)
        if self.staged_head is not None:
            store._head = self.staged_head


class MemoryStore(EventStore):
    """An event store in memory with the interface of :class:`~negotiation.SQLiteStore`.

    A subscriber's handler gets a dict of its own to build its projection in
    (:meth:`projection` returns a copy); it is rolled back with the checkpoint when the
    handler raises.
    """

    def __init__(self, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        super().__init__(snapshot_every=snapshot_every)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._events: list[StoredEvent] = []  # by position - 1
        self._rows: list[Row] = []
        self._streams: dict[str, list[StoredEvent]] = {}
        self._ids: dict[str, dict[str, int]] = {}  # negotiation -> id -> version - 1
        self._summaries: dict[str, NegotiationSummary] = {}
        self._snapshots: dict[str, tuple[int, bytes]] = {}
        self._checkpoints: dict[str, int] = {}
        self._projections: dict[str, dict[str, Any]] = {}
        self._commits = 0
        self._closed = False
        self._writing = False  # inside a write transaction (which a handler may not nest)
        self._head = (0, GENESIS)  # the store head: position and running hash

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._events)} events)"

    def _stream(self, negotiation: str) -> list[StoredEvent]:
        return self._streams.get(negotiation, [])

    def _open(self) -> None:
        if self._closed:
            msg = "the memory store is closed"
            raise StoreError(msg)

    @contextmanager
    def _write(self, doing: str) -> Iterator[_Transaction]:
        with self._lock:
            self._open()
            if self._writing:
                msg = f"{doing} inside a transaction of the same store (a subscriber's handler may read the store, not write to it)"
                raise StoreError(msg)
            tx = _Transaction(self)
            self._writing = True
            try:
                yield tx
            finally:
                self._writing = False
            tx.commit()
            self._commits += 1
            self._changed.notify_all()

    @contextmanager
    def _read(self, doing: str) -> Iterator[_Transaction]:
        with self._lock:
            self._open()
            yield _Transaction(self)

    def _change_token(self) -> object:
        return self._commits

    def _wait(self, token: object, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._commits != token or self._closed, timeout)

    def _covered(self, negotiation: str, version: int) -> list[Event]:
        with self._lock:  # a state loaded before the store was closed still reads its events
            return [s.event for s in self._stream(negotiation)[:version]]

    def projection(self, name: str) -> dict[str, Any]:
        """A copy of what the named subscriber's handler has built so far."""
        with self._lock:
            return copy.deepcopy(self._projections.get(name, {}))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._changed.notify_all()
