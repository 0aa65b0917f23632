"""The store interface and the logic every backend shares.

:class:`EventStore` holds the rules of the store once: how an append is checked (idempotent
ids, ``expected_version``, the same validation as strict replay), how events are stamped,
numbered and chained by hash, how the read model and snapshots follow in the same
transaction, how a state is loaded from a snapshot and its tail, how ``follow`` and named
subscribers deliver events, and how ``verify`` walks the hash chains. A backend
(:mod:`~negotiation.store.memory`, :mod:`~negotiation.store.sqlite`) supplies transactions
and storage through the small :class:`Transaction` interface.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol, Self

import attrs

from negotiation import snapshot
from negotiation._fold import Fold
from negotiation._lazy import gc_paused
from negotiation.dates import PartialDate, utc_now
from negotiation.errors import ConcurrencyError, DuplicateEventId, EventRejected, InvalidEvent, UnknownNegotiation
from negotiation.events import EVENT_TYPES, Event, _isoformat, _slot_setters, compact_json
from negotiation.machine import Stage
from negotiation.replay import replay
from negotiation.snapshot import EventSource
from negotiation.state import NegotiationState, owed_count
from negotiation.store.chain import Row, Verification, chain_hash, verify_rows

__all__ = [
    "SNAPSHOT_EVERY",
    "EventStore",
    "Handler",
    "NegotiationSummary",
    "StoredEvent",
    "Transaction",
]

#: Write a snapshot once this many events have been appended since the last usable one.
SNAPSHOT_EVERY = 1000

#: How many negotiations' folds a store keeps between appends (the most recently appended).
FOLD_CACHE = 64

#: Appends of at least this many events pause the cyclic garbage collector while they run.
_PAUSE_GC_FROM = 100
_NO_PAUSE = contextlib.nullcontext()  # reusable


@attrs.frozen(kw_only=True)
class StoredEvent:
    """An event as the store holds it.

    Attributes:
        position: its place in the whole store (1, 2, ... without gaps), the order of ``follow``.
        negotiation: the negotiation it belongs to.
        version: its place in the negotiation (1, 2, ...).
        event: the event, with ``negotiation`` and ``recorded`` filled in.
        hash: SHA-256 (hex) of the previous event's hash and this event's canonical JSON.
    """

    position: int
    negotiation: str
    version: int
    event: Event
    hash: str

    @property
    def recorded(self) -> dt.datetime:
        """When the event entered the log (UTC)."""
        assert self.event.recorded is not None
        return self.event.recorded


@attrs.frozen(kw_only=True)
class NegotiationSummary:
    """A row of the read model: one negotiation at a glance.

    Attributes:
        id: the negotiation.
        stage: its current stage.
        version: how many events it holds (retractions and retracted ones included).
        last_event: the ``occurred`` of the latest event in its timeline, as logged.
        owed: how many moves are owed (the length of ``awaiting``).
        head: the hash of its last event (keep it elsewhere to detect a rewritten chain).
        updated: when it was last appended to (UTC).
    """

    id: str
    stage: Stage
    version: int
    last_event: str | None
    owed: int
    head: str
    updated: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stage": self.stage.value,
            "version": self.version,
            "last_event": self.last_event,
            "owed": self.owed,
            "head": self.head,
            "updated": self.updated.isoformat(),
        }


#: A named subscriber's handler: called once per event with the backend's projection target
#: (for SQLite a ``sqlite_utils.Database`` inside the transaction that moves the checkpoint;
#: for the memory store the subscriber's own dict).
Handler = Callable[[StoredEvent, Any], None]


class Transaction(Protocol):
    """What the shared logic needs of a backend inside one write transaction."""

    def version(self, negotiation: str) -> int:
        """The negotiation's current version (0 when it holds no event)."""
        ...

    def tip(self, negotiation: str, known: tuple[int, str] | None = None) -> tuple[int, str]:
        """The negotiation's version and head together (one lookup).

        ``known`` is the tip this store object last wrote for the negotiation: a backend that
        can tell that nothing was written since (by :meth:`start` in this transaction) may
        return it without a lookup.
        """
        ...

    def start(self, negotiation: str, known: tuple[int, str] | None = None) -> tuple[int, int, str]:
        """The position of the store's last event (0 when empty) and the negotiation's
        version and head (``known`` as for :meth:`tip`): what an append reads first, in one
        lookup or none."""
        ...

    def stored(self, negotiation: str, ids: Sequence[str]) -> dict[str, Event]:
        """The stored events of the negotiation among ``ids``, by id."""
        ...

    def insert(self, rows: Sequence[Row]) -> None:
        """Append rows (already numbered and chained)."""
        ...

    def summary(self, negotiation: str) -> NegotiationSummary | None:
        """The negotiation's read-model row, if any."""
        ...

    def put_summary(
        self,
        negotiation: str,
        stage: Stage,
        version: int,
        last_event: str | None,
        owed: int,
        head: str,
        updated: dt.datetime,
    ) -> None:
        """Insert or replace the negotiation's read-model row (the fields of a
        :class:`NegotiationSummary`, in order: an append writes one without building it)."""
        ...

    def snapshot(self, negotiation: str) -> tuple[int, bytes] | None:
        """The negotiation's snapshot taken under :data:`snapshot.FINGERPRINT` (version, data), if any."""
        ...

    def put_snapshot(self, negotiation: str, version: int, data: bytes) -> None:
        """Store the negotiation's snapshot at ``version``, replacing any older one."""
        ...

    def events(self, negotiation: str, after_version: int = 0, up_to: int | None = None) -> list[Event]:
        """The negotiation's events after a version (up to another), in log order."""
        ...

    def source(self, negotiation: str, version: int) -> EventSource:
        """Where a fold restored from a snapshot at ``version`` reads its events."""
        ...

    def checkpoint(self, name: str) -> int:
        """The position a named subscriber has handled up to (0 when new)."""
        ...

    def put_checkpoint(self, name: str, position: int) -> None:
        """Move a named subscriber's checkpoint."""
        ...

    def read_all(self, after_position: int, limit: int | None) -> list[StoredEvent]:
        """Events after a position, in position order."""
        ...

    def read(self, negotiation: str, after_version: int) -> list[StoredEvent]:
        """A negotiation's events after a version, in log order."""
        ...

    def summaries(self) -> list[NegotiationSummary]:
        """Every read-model row, by negotiation id."""
        ...

    def rows(self) -> Iterator[Row]:
        """Every stored row in position order, as stored (for verify)."""
        ...

    def projection(self, name: str) -> Any:
        """What the named subscriber's handler writes to, inside this transaction."""
        ...


Stamp = Callable[[Event, str, dt.datetime], Event]


def _compile_stamp(cls: type[Event]) -> Stamp:
    """A copier for one type that fills in ``negotiation`` and ``recorded`` where missing.

    A field-by-field copy with the attributes set directly, unrolled per type: the values are
    already valid, and ``attrs.evolve`` would run every converter of the event again (most of
    an import's time), ``copy.copy`` its pickle protocol.
    """
    names = [f.name for f in attrs.fields(cls)]
    lines = ["def stamp(e, negotiation, recorded):", "    new = new_object(cls)"]
    for name in names:
        assert name.isidentifier()
        if name == "negotiation":
            lines.append("    v = e.negotiation")
            lines.append("    set_negotiation(new, negotiation if v is None else v)")
        elif name == "recorded":
            lines.append("    v = e.recorded")
            lines.append("    set_recorded(new, recorded if v is None else v)")
        else:
            lines.append(f"    set_{name}(new, e.{name})")
    lines.append("    return new")
    namespace: dict[str, Any] = {"new_object": object.__new__, "cls": cls, **_slot_setters(cls)}
    exec(compile("\n".join(lines), f"<stamp {cls.__name__}>", "exec"), namespace)
    function: Stamp = namespace["stamp"]
    return function


_STAMP: dict[type[Event], Stamp] = {cls: _compile_stamp(cls) for cls in EVENT_TYPES.values()}


def _stamped(event: Event, negotiation: str, recorded: dt.datetime) -> Event:
    """The event with ``negotiation`` and ``recorded`` filled in where missing (itself when neither is)."""
    if event.negotiation is not None and event.recorded is not None:
        return event
    return _STAMP[type(event)](event, negotiation, recorded)


def _same_content(stored: Event, event: Event) -> bool:
    """Whether ``event`` is a repeat of ``stored``: equal, where it is silent on negotiation or recorded."""
    old, new = stored.to_dict(), event.to_dict()
    if "negotiation" not in new:
        old.pop("negotiation", None)
    if "recorded" not in new:
        old.pop("recorded", None)
    return old == new


def _offset(progress: Callable[[int], None], before: int, count: int) -> None:
    progress(before + count)


def _checked_events(events: Iterable[Event]) -> list[Event]:
    """The events as a new list, each checked to be an :class:`Event`."""
    checked = list(events)
    for event in checked:
        if not isinstance(event, Event):
            msg = f"expected an Event, got {type(event).__name__} {event!r:.60}"
            raise InvalidEvent(msg)
    return checked


def _check_negotiation(negotiation: object) -> str:
    if not isinstance(negotiation, str) or not negotiation.strip():
        msg = f"negotiation={negotiation!r} must be a non-empty string"
        raise InvalidEvent(msg)
    return negotiation


class _Cached(NamedTuple):
    """What the last append left of a negotiation, for the next append or load in this process.

    Valid while the negotiation is still at ``version`` with ``head`` (nobody appended since).
    A named tuple: one is built per append.
    """

    version: int
    head: str
    fold: Fold
    snapshot_version: int  # the version of its latest snapshot (0: none)
    latest: PartialDate | None  # the latest ``occurred`` in its timeline


def _put_summary(
    tx: Transaction,
    negotiation: str,
    fold: Fold,
    version: int,
    latest: PartialDate | None,
    head: str,
    updated: dt.datetime,
) -> None:
    """Write the negotiation's read-model row once ``fold`` holds its events up to ``version``."""
    last_event = None if latest is None else str(latest)
    tx.put_summary(negotiation, fold.stage, version, last_event, owed_count(fold), head, updated)


def _timeline_latest(fold: Fold) -> PartialDate | None:
    """The latest ``occurred`` among the fold's effective events and retractions."""
    latest = None
    for event in (*fold.events, *fold.retractions):
        if latest is None or _later(event.occurred, latest):
            latest = event.occurred
    return latest


def _later(date: PartialDate, than: PartialDate) -> bool:
    """Whether ``date`` sorts after ``than`` (by sort_key, which builds a datetime: the last
    days decide unless they are equal)."""
    if date.last_day != than.last_day:
        return date.last_day > than.last_day
    return date.sort_key > than.sort_key


class EventStore(abc.ABC):
    """An append-only store of negotiations' events (see :class:`~negotiation.SQLiteStore`).

    Args:
        snapshot_every: take a snapshot in the same transaction as an append once this many
            events have been appended since the last usable snapshot (0: never by itself).
    """

    def __init__(self, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        if not isinstance(snapshot_every, int) or snapshot_every < 0:
            msg = f"snapshot_every={snapshot_every!r} must be a whole number >= 0"
            raise ValueError(msg)
        self.snapshot_every = snapshot_every
        # negotiation -> (version, head hash, fold at that version): the state the last
        # append left, reused by the next one if nobody appended in between; at most
        # FOLD_CACHE of them, the least recently appended dropped first.
        self._folds: dict[str, _Cached] = {}

    # -- what a backend provides ---------------------------------------------------------------

    @abc.abstractmethod
    def _write(self, doing: str) -> AbstractContextManager[Transaction]:
        """One write transaction (exclusive among writers); rolled back on any exception."""

    @abc.abstractmethod
    def _read(self, doing: str) -> AbstractContextManager[Transaction]:
        """One read transaction (a consistent view)."""

    @abc.abstractmethod
    def _change_token(self) -> object:
        """Something that changes whenever anyone commits (for follow's polling)."""

    @abc.abstractmethod
    def _wait(self, token: object, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the change token to move on."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store's resources; the store may not be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- appending -------------------------------------------------------------------------------

    def append(self, negotiation: str, events: Iterable[Event], expected_version: int | None = None) -> int:
        """Append events to a negotiation, all or none, and return its new version.

        Each event is checked against the negotiation's current state by the rules of strict
        replay. An event whose ``id`` is already stored with the same content is skipped (a
        retry after a lost acknowledgement); when every event is such a repeat, nothing is
        written and ``expected_version`` is not checked. ``negotiation`` and ``recorded``
        (now, UTC, one moment for the whole call) are filled in where the events lack them.

        Raises:
            ConcurrencyError: ``expected_version`` is not the negotiation's current version.
            EventRejected: an event is not permitted where it stands (a
                :class:`~negotiation.DuplicateEventId` for an id stored with other content).
            StoreError: the store cannot write (locked, read-only, full, ...).
        """
        # append_many for one negotiation, without its dicts and loop: most appends are this
        name = _check_negotiation(negotiation)
        batch = _checked_events(events)
        recorded = utc_now()
        paused = gc_paused() if len(batch) >= _PAUSE_GC_FROM else _NO_PAUSE
        # The fold cache is read and written under the store's lock, as the tip is: a writer
        # that nobody else wrote behind trusts it without a query (``Transaction.start``).
        try:
            with self._write("appending") as tx, paused:
                cached = self._folds.get(name)
                known = None if cached is None else (cached.version, cached.head)
                position, version, head = tx.start(name, known)
                result = self._append_one(tx, name, batch, expected_version, recorded, position, (version, head))
                if result[2] is not None:
                    self._remember(name, result[2])
        except BaseException:
            self._folds.pop(name, None)  # the commit failed after the fold was cached
            raise
        return result[0]

    def append_many(
        self,
        batches: Mapping[str, Iterable[Event]],
        *,
        expected_versions: Mapping[str, int | None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, int]:
        """Append to several negotiations in one transaction: all events or none.

        ``progress`` is called with the number of events handled so far (for a progress bar).
        Returns each negotiation's new version. Raises as :meth:`append`.
        """
        prepared = {_check_negotiation(name): _checked_events(events) for name, events in batches.items()}
        expected = dict(expected_versions or {})
        recorded = utc_now()
        versions: dict[str, int] = {}
        touched: list[str] = []
        after: dict[str, _Cached] = {}
        done = 0
        # pausing the collector pays off on a burst of objects (an import), not on one event
        paused = gc_paused() if sum(map(len, prepared.values())) >= _PAUSE_GC_FROM else _NO_PAUSE
        try:
            with self._write("appending") as tx, paused:
                position = -1
                for name, events in prepared.items():
                    touched.append(name)
                    cached = self._folds.get(name)
                    known = None if cached is None else (cached.version, cached.head)
                    if position < 0:  # the first negotiation: one query for both, or none
                        position, version, head = tx.start(name, known)
                        tip = (version, head)
                    else:
                        tip = tx.tip(name, known)
                    tick = None if progress is None else functools.partial(_offset, progress, done)
                    result = self._append_one(tx, name, events, expected.get(name), recorded, position, tip, tick)
                    versions[name] = result[0]
                    if result[2] is not None:
                        position += result[1]
                        after[name] = result[2]
                    done += len(events)
                    if progress is not None:
                        progress(done)
                for name, entry in after.items():  # under the lock, as in append()
                    self._remember(name, entry)
        except BaseException:
            for name in touched:
                self._folds.pop(name, None)
            raise
        return versions

    def _remember(self, negotiation: str, entry: _Cached) -> None:
        """Cache what an append left of the negotiation, as the most recently appended."""
        folds = self._folds
        folds.pop(negotiation, None)
        folds[negotiation] = entry
        if len(folds) > FOLD_CACHE:  # a long-running writer keeps a bounded number
            del folds[next(iter(folds))]

    def _append_one(
        self,
        tx: Transaction,
        negotiation: str,
        events: list[Event],
        expected_version: int | None,
        recorded: dt.datetime,
        position: int,
        tip: tuple[int, str],
        progress: Callable[[int], None] | None = None,
    ) -> tuple[int, int, _Cached | None]:
        """Append one negotiation's events after its ``tip`` (version, head) and the store's
        last ``position``; returns (version, rows written, what to cache)."""
        current, head = tip
        cached = self._folds.pop(negotiation, None)
        if cached is not None and (cached.version != current or cached.head != head):
            cached = None  # another connection appended since: restore from the store
        if not current:
            stored: dict[str, Event] = {}
        elif cached is not None:
            # the cached fold knows every id of the negotiation: only a repeat needs a read
            known = cached.fold.all_ids
            repeats = [e.id for e in events if e.id in known]
            stored = tx.stored(negotiation, repeats) if repeats else {}
        else:
            stored = tx.stored(negotiation, [e.id for e in events])
        fresh: list[Event] = []
        originals: dict[int, Event] = {}
        for event in events:
            old = stored.get(event.id) if stored else None
            if old is not None:
                if _same_content(old, event):
                    continue
                msg = f"id {event.id!r} is already stored in negotiation {negotiation!r} with other content"
                error = DuplicateEventId(msg, event=event, stage=self._stage_of(tx, negotiation))
                raise error.locate(negotiation=negotiation)
            new = _stamped(event, negotiation, recorded)
            if new is not event:
                originals[id(new)] = event
            fresh.append(new)
        if not fresh:
            if cached is not None:
                self._folds[negotiation] = cached  # still valid: nothing was written
            return current, 0, None
        if expected_version is not None and expected_version != current:
            msg = (
                f"negotiation {negotiation!r} is at version {current}, "
                f"not the expected version {expected_version}: reload and retry"
            )
            raise ConcurrencyError(msg, expected=expected_version, actual=current, negotiation=negotiation)
        if cached is not None:
            fold, snapshot_version, latest = cached.fold, cached.snapshot_version, cached.latest
        elif current:
            snap = tx.snapshot(negotiation)
            fold = self._restore(tx, negotiation, current, snap)
            snapshot_version = snap[0] if snap is not None else 0
            # the read model has it: a fold restored from a snapshot would read every event back
            previous = tx.summary(negotiation)
            if previous is not None and previous.version == current:
                latest = None if previous.last_event is None else PartialDate.parse(previous.last_event)
            else:
                latest = _timeline_latest(fold)
        else:
            fold, snapshot_version, latest = Fold(negotiation), 0, None
        # one pass: fold each event (the rules of strict replay), then encode and chain it
        apply = fold._apply  # apply() without its lenient mode: one call less per event
        rows = []
        version = current
        recorded_text = _isoformat(recorded)  # remembered: compact_json writes the same moment
        retracts = False
        for event in fresh:
            try:
                apply(event)
            except EventRejected as e:
                e.event = originals.get(id(e.event), e.event)  # the caller's object (for file lines)
                e.locate(negotiation=negotiation)
                raise
            position += 1
            version += 1
            occurred = event.occurred
            if event.TYPE == "EventRetracted":
                retracts = True
            elif latest is None or _later(occurred, latest):
                latest = occurred
            if progress is not None and (version - current) % 1000 == 0:
                progress(version - current)
            data = compact_json(event)  # what canonical(event.to_dict()) gives
            head = chain_hash(head, data)
            moment = event.recorded
            assert moment is not None
            rows.append(
                Row(
                    position,
                    negotiation,
                    version,
                    event.id,
                    event.TYPE,
                    str(occurred),
                    recorded_text if moment is recorded else moment.isoformat(),
                    data,
                    head,
                    event,
                )
            )
        tx.insert(rows)
        if retracts:
            latest = _timeline_latest(fold)  # a retraction may remove the latest event
        _put_summary(tx, negotiation, fold, version, latest, head, recorded)
        if self.snapshot_every and version - snapshot_version >= self.snapshot_every:
            taken = snapshot.take(fold)
            tx.put_snapshot(negotiation, version, taken)
            snapshot_version = version
            # Go on from the snapshot: the next one copies the rows no append touched
            # instead of encoding every record again (a long negotiation appended to in
            # chunks took O(n) per snapshot), and the records are read back only when used.
            fold = snapshot.restore(taken, tx.source(negotiation, version))
        return version, len(rows), _Cached(version, head, fold, snapshot_version, latest)

    def _stage_of(self, tx: Transaction, negotiation: str) -> str:
        summary = tx.summary(negotiation)
        return summary.stage.value if summary is not None else Stage.IDLE.value

    def _restore(self, tx: Transaction, negotiation: str, version: int, snap: tuple[int, bytes] | None) -> Fold:
        """The fold at ``version``: from the snapshot and the events after it, or by replay."""
        with gc_paused():
            return self._restore_fold(tx, negotiation, version, snap)

    def _restore_fold(self, tx: Transaction, negotiation: str, version: int, snap: tuple[int, bytes] | None) -> Fold:
        if snap is not None and snap[0] <= version:
            fold = snapshot.restore(snap[1], tx.source(negotiation, snap[0]))
            tail = tx.events(negotiation, after_version=snap[0], up_to=version)
        else:
            fold = Fold(negotiation)
            tail = tx.events(negotiation, up_to=version)
        apply = fold._apply  # strict: apply() without its lenient mode
        for event in tail:
            apply(event)
        return fold

    def snapshot(self, negotiation: str) -> int:
        """Take a snapshot of the negotiation now; returns the version it covers.

        Appends take snapshots by themselves (see ``snapshot_every``); this is for a store
        opened with ``snapshot_every=0``, or after an upgrade made the old ones unusable.

        Raises:
            UnknownNegotiation: the store holds no event of it.
        """
        with self._write("taking a snapshot") as tx:
            version = tx.version(negotiation)
            if not version:
                raise self._unknown(tx, negotiation)
            fold = self._restore(tx, negotiation, version, tx.snapshot(negotiation))
            tx.put_snapshot(negotiation, version, snapshot.take(fold))
            cached = self._folds.get(negotiation)  # under the lock, as appends use the cache
            if cached is not None and cached.version == version:
                # the next automatic snapshot counts from this one, as it would after a restart
                self._folds[negotiation] = cached._replace(snapshot_version=version)
        return version

    # -- reading -------------------------------------------------------------------------------

    def version(self, negotiation: str) -> int:
        """The negotiation's current version (0 when it holds no event)."""
        with self._read("reading a version") as tx:
            return tx.version(negotiation)

    def read(self, negotiation: str, after_version: int = 0) -> list[StoredEvent]:
        """The negotiation's events after ``after_version``, in log order."""
        with self._read("reading events") as tx:
            return tx.read(negotiation, after_version)

    def read_all(self, after_position: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """Every event after ``after_position``, in position order (at most ``limit``)."""
        if limit is not None and limit < 0:
            msg = f"limit={limit!r} must be None or >= 0"
            raise ValueError(msg)
        with self._read("reading events") as tx:
            return tx.read_all(after_position, limit)

    def negotiations(self) -> list[NegotiationSummary]:
        """Every negotiation in the store with its stage (the read model), by id."""
        with self._read("listing negotiations") as tx:
            return tx.summaries()

    def load(
        self,
        negotiation: str,
        *,
        as_of: PartialDate | dt.date | dt.datetime | str | None = None,
        known_at: dt.datetime | dt.date | str | None = None,
        strict: bool = True,
    ) -> NegotiationState:
        """The negotiation's state, as :func:`~negotiation.replay` of its events would give it.

        Without ``as_of`` and ``known_at`` the state comes from the latest snapshot and the
        events after it (its events are read back only when a view needs them: the timeline,
        a retraction, a copy); with either, or with ``strict=False`` (skip and report events
        that today's rules refuse), the events are replayed.

        Raises:
            UnknownNegotiation: the store holds no event of it.
        """
        with self._read("loading a negotiation") as tx:
            version, head = tx.tip(negotiation)
            if not version:
                raise self._unknown(tx, negotiation)
            if as_of is not None or known_at is not None or not strict:
                events = tx.events(negotiation)
                return replay(events, negotiation=negotiation, as_of=as_of, known_at=known_at, strict=strict)
            cached = self._folds.get(negotiation)
            if cached is not None and cached.version == version and cached.head == head:
                # hand the fold over: the state owns it now, the next append restores its own
                del self._folds[negotiation]
                return NegotiationState(cached.fold)
            return NegotiationState(self._restore(tx, negotiation, version, tx.snapshot(negotiation)))

    def _unknown(self, tx: Transaction, negotiation: str) -> UnknownNegotiation:
        known = ", ".join(repr(s.id) for s in tx.summaries()) or "none"
        msg = f"negotiation {negotiation!r} is not in the store; it holds: {known}"
        return UnknownNegotiation(msg, negotiation=negotiation)

    # -- live delivery ---------------------------------------------------------------------------

    def follow(
        self, after_position: int = 0, *, idle_timeout: float | None = None, poll_interval: float = 0.05
    ) -> Iterator[StoredEvent]:
        """Every event after ``after_position`` in position order: those stored, then new ones live.

        Events appended by other processes are seen too (the SQLite store polls a counter that
        SQLite moves on every commit, which costs no read of the events). The iterator stops
        after ``idle_timeout`` seconds without a new event (never, by default).
        """
        position = after_position
        idle_since = time.monotonic()
        while True:
            token = self._change_token()
            batch = self.read_all(after_position=position, limit=500)
            if batch:
                for stored in batch:
                    position = stored.position
                    yield stored
                idle_since = time.monotonic()
                continue
            if idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                return
            wait = poll_interval
            if idle_timeout is not None:
                wait = min(wait, max(0.0, idle_timeout - (time.monotonic() - idle_since)))
            self._wait(token, wait)

    def subscribe(
        self,
        name: str,
        handler: Handler,
        *,
        live: bool = False,
        idle_timeout: float | None = None,
        batch_size: int = 100,
        poll_interval: float = 0.05,
    ) -> int:
        """Deliver every event after the named subscriber's checkpoint to ``handler``, exactly once.

        Events go in position order, in batches: each batch is one transaction in which the
        handler writes its projection (``handler(stored_event, target)``, see :data:`Handler`)
        and the checkpoint moves past the batch. If the handler raises or the process dies,
        both are rolled back and the batch is delivered again next time. Returns how many
        events were handled. With ``live``, waits for new events until ``idle_timeout``
        seconds pass without one (forever by default).
        """
        if not isinstance(name, str) or not name:
            msg = f"name={name!r} must be a non-empty string"
            raise ValueError(msg)
        if batch_size < 1:
            msg = f"batch_size={batch_size!r} must be >= 1"
            raise ValueError(msg)
        handled = 0
        idle_since = time.monotonic()
        while True:
            token = self._change_token()
            with self._write("delivering to a subscriber") as tx:
                target = tx.projection(name)
                batch = tx.read_all(tx.checkpoint(name), batch_size)
                for stored in batch:
                    handler(stored, target)
                if batch:
                    tx.put_checkpoint(name, batch[-1].position)
            handled += len(batch)
            if batch:
                idle_since = time.monotonic()
                continue
            if not live or (idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout):
                return handled
            wait = poll_interval
            if idle_timeout is not None:
                wait = min(wait, max(0.0, idle_timeout - (time.monotonic() - idle_since)))
            self._wait(token, wait)

    def checkpoint(self, name: str) -> int:
        """The position the named subscriber has handled up to (0 when new)."""
        with self._read("reading a checkpoint") as tx:
            return tx.checkpoint(name)

    # -- verification ----------------------------------------------------------------------------

    def verify(self) -> Verification:
        """Recompute every hash chain; report the first position that does not match.

        Also checks that positions run 1, 2, ... without a gap, versions 1, 2, ... per
        negotiation, each row's columns agree with its JSON, and the read model's version
        and head agree with the chains (a truncated tail).
        """
        with self._read("verifying") as tx:
            heads = {s.id: (s.version, s.head) for s in tx.summaries()}
            return verify_rows(tx.rows(), heads)
