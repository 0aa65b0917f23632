"""The store interface and the logic every backend shares.

:class:`EventStore` holds the rules of the store once: how an append is checked (idempotent
ids, ``expected_version``, the same validation as strict replay), how events are stamped,
numbered and chained by hash, how the read model and snapshots follow in the same
transaction, how a state is loaded from a snapshot and its tail, and how ``verify`` walks the
hash chains and the snapshots. Following and subscribing are in
:mod:`~negotiation.store.subscriptions`. A backend (:mod:`~negotiation.store.memory`,
:mod:`~negotiation.store.sqlite`) supplies transactions and storage through the small
:class:`Transaction` interface.
"""

from __future__ import annotations

import abc
import datetime as dt
import functools
import json
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, Self

import attrs

from negotiation import codec, snapshot
from negotiation.codec import compact_json
from negotiation.dates import PartialDate, parse_timestamp, utc_now
from negotiation.errors import (
    ConcurrencyError,
    DuplicateEventId,
    EventRejected,
    InvalidEvent,
    StoreError,
    StoreWarning,
    UnknownNegotiation,
)
from negotiation.events import Event
from negotiation.fold import Fold
from negotiation.machine import Stage
from negotiation.replay import replay
from negotiation.rules import Awaiting, awaiting
from negotiation.state import NegotiationState
from negotiation.store.chain import GENESIS, RUN_VERIFY, Row, Verification, chain_hash, store_hash, verify_rows
from negotiation.store.subscriptions import Delivery, Handler

__all__ = [
    "SNAPSHOT_EVERY",
    "STREAM_CHUNK",
    "SUMMARY_COLUMNS",
    "SUMMARY_ON_CONFLICT",
    "EventStore",
    "FoldCache",
    "Handler",
    "NegotiationSummary",
    "StoredEvent",
    "Transaction",
    "Written",
    "derived_summary",
    "summary_from_row",
    "summary_of",
    "summary_row",
    "summary_upsert",
]

#: Write a snapshot once this many events have been appended since the last usable one.
SNAPSHOT_EVERY = 1000

#: Events :meth:`EventStore.append_stream` writes at a time.
STREAM_CHUNK = 1000


@attrs.frozen(kw_only=True)
class StoredEvent:
    """An event as the store holds it.

    Attributes:
        position: its place in the whole store (1, 2, ... without gaps), the order of ``follow``.
        negotiation: the negotiation it belongs to.
        version: its place in the negotiation (1, 2, ...).
        event: the event, with ``negotiation`` filled in; its ``recorded`` is the log's own (when
            the log gave one), which ``known_at`` reads.
        hash: SHA-256 (hex) of the previous event's hash and this event's canonical JSON.
        recorded: when the store appended it (UTC): the store's metadata, not part of the event
            nor of its hash. Stores written before contract version 2 stamped it into the
            event's ``recorded`` too.
    """

    position: int
    negotiation: str
    version: int
    event: Event
    hash: str
    recorded: dt.datetime


@attrs.frozen(kw_only=True)
class NegotiationSummary:
    """A row of the read model: one negotiation at a glance.

    Attributes:
        id: the negotiation.
        stage: its current stage.
        version: how many events it holds (retractions and retracted ones included).
        last_event: the ``occurred`` of the latest event in its timeline, as logged.
        owed: how many moves are owed (the length of ``awaiting``).
        awaiting: the moves owed, as :attr:`NegotiationState.awaiting
            <negotiation.state.NegotiationState.awaiting>` gives them (who owes which move on which ref).
        head: the hash of its last event (keep it elsewhere to detect a rewritten chain).
        updated: when it was last appended to (UTC).
    """

    id: str
    stage: Stage
    version: int
    last_event: str | None
    owed: int
    awaiting: tuple[Awaiting, ...]
    head: str
    updated: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stage": self.stage.value,
            "version": self.version,
            "last_event": self.last_event,
            "owed": self.owed,
            "awaiting": [a.to_dict() for a in self.awaiting],
            "head": self.head,
            "updated": self.updated.isoformat(),
        }

    def awaiting_json(self) -> str:
        """``awaiting`` as the read model's ``awaiting`` column holds it: a compact JSON array of
        ``{"party", "types", "ref"}`` objects."""
        return json.dumps([a.to_dict() for a in self.awaiting], ensure_ascii=False, separators=(",", ":"))


#: What :meth:`Transaction.latest` reads: the tip ``(version, hash)``, the snapshot
#: ``(version, data)`` or None, and what gives the events after it (decoded only when called:
#: a load that finds the negotiation's fold in the cache does not need them).
Latest = tuple[tuple[int, str], tuple[int, bytes] | None, Callable[[], list[Event]]]


class Transaction(Protocol):
    """What the shared logic needs of a backend inside one transaction."""

    def head(self) -> tuple[int, str]:
        """The position of the store's last event (0 when empty) and the store head there
        (:func:`~negotiation.store.chain.store_hash`)."""
        ...

    def put_head(self, position: int, head: str) -> None:
        """Record the store head after an append."""
        ...

    def tip(self, negotiation: str) -> tuple[int, str]:
        """The negotiation's version and the hash of its last event (0 and the genesis hash when empty)."""
        ...

    def head_and_tips(self, negotiations: Sequence[str]) -> tuple[tuple[int, str], dict[str, tuple[int, str]]]:
        """:meth:`head` and the :meth:`tip` of each negotiation (a backend may read them at once)."""
        ...

    def stored(self, negotiation: str, ids: Iterable[str]) -> dict[str, Event]:
        """The stored events of the negotiation among ``ids``, by id."""
        ...

    def insert(self, rows: Sequence[Row]) -> None:
        """Append rows (already numbered and chained)."""
        ...

    def summary(self, negotiation: str) -> NegotiationSummary | None:
        """The negotiation's read-model row, if any."""
        ...

    def put_summary(self, summary: NegotiationSummary) -> None:
        """Insert or replace a negotiation's read-model row."""
        ...

    def snapshot(self, negotiation: str) -> tuple[int, bytes] | None:
        """The negotiation's snapshot taken under :data:`snapshot.FINGERPRINT` (version, data), if any."""
        ...

    def snapshots(self) -> Iterator[tuple[str, int, bytes]]:
        """Every stored snapshot (negotiation, version, data), whatever rules it was taken under."""
        ...

    def put_snapshot(self, negotiation: str, version: int, data: bytes) -> None:
        """Store the negotiation's snapshot at ``version``, replacing any older one."""
        ...

    def latest(self, negotiation: str) -> Latest:
        """The negotiation's tip, its snapshot under today's rules (or None), and what gives its
        events after that snapshot (all its events without one), up to the tip."""
        ...

    def events(self, negotiation: str, after_version: int = 0, up_to: int | None = None) -> list[Event]:
        """The negotiation's events after a version (up to another), in log order."""
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

    def read(self, negotiation: str, after_version: int, limit: int | None = None) -> list[StoredEvent]:
        """A negotiation's events after a version, in log order (at most ``limit``)."""
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


def _stamped(event: Event, negotiation: str) -> Event:
    """The event with ``negotiation`` filled in where missing (itself when it is there)."""
    return codec.stamped(event, negotiation)


def _same_content(stored: Event, event: Event) -> bool:
    """Whether ``event`` is a repeat of ``stored``: equal, where it is silent on negotiation or recorded."""
    old, new = stored.to_dict(), event.to_dict()
    if "negotiation" not in new:
        old.pop("negotiation", None)
    if "recorded" not in new:
        old.pop("recorded", None)
    return old == new


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


_STAGES = frozenset(s.value for s in Stage)


#: The read model's columns, in the order :func:`summary_from_row` reads them.
SUMMARY_COLUMNS = "id, stage, version, last_event, owed, head, updated, awaiting"


#: How a read-model row written again replaces the one stored (after ``INSERT INTO negotiations``).
SUMMARY_ON_CONFLICT = "ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in SUMMARY_COLUMNS.split(", ")[1:]
)


def summary_upsert(placeholder: str) -> str:
    """The statement that writes a read-model row (:func:`summary_row`), with the backend's
    parameter ``placeholder`` (``?`` or ``%s``); both SQLite and PostgreSQL read it."""
    values = ", ".join([placeholder] * len(SUMMARY_COLUMNS.split(", ")))
    return f"INSERT INTO negotiations ({SUMMARY_COLUMNS}) VALUES ({values}) {SUMMARY_ON_CONFLICT}"


def summary_row(summary: NegotiationSummary) -> tuple[Any, ...]:
    """A read-model row as a backend stores it, in the order of :data:`SUMMARY_COLUMNS`."""
    return (
        summary.id,
        summary.stage.value,
        summary.version,
        summary.last_event,
        summary.owed,
        summary.head,
        summary.updated.isoformat(),
        summary.awaiting_json(),
    )


def _awaiting_from_json(negotiation: str, text: Any) -> tuple[Awaiting, ...]:
    """The ``awaiting`` column read back; a value that is not a JSON array of owed moves is a
    :class:`~negotiation.errors.StoreError` naming the negotiation."""
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            raise TypeError
        moves = []
        for item in items:
            party, types, ref = item["party"], item["types"], item["ref"]
            if set(item) != {"party", "types", "ref"} or not isinstance(types, list):
                raise TypeError
            if not all(isinstance(x, str) for x in (party, ref, *types)):
                raise TypeError
            moves.append(Awaiting(party=party, types=tuple(types), ref=ref))
    except (ValueError, TypeError, KeyError):
        msg = (
            f"the read model's row of negotiation {negotiation!r} holds awaiting {str(text)[:80]!r}, "
            "which is not a JSON array of owed moves"
        )
        raise StoreError(msg) from None
    return tuple(moves)


def summary_from_row(row: Sequence[Any]) -> NegotiationSummary:
    """A read-model row as a backend stores it: the :data:`SUMMARY_COLUMNS`
    ``(id, stage, version, last_event, owed, head, updated, awaiting)``.

    Raises:
        StoreError: the stage is not one, or ``awaiting`` is not a JSON array of owed moves
            (the row was changed outside this library).
    """
    if row[1] not in _STAGES:
        msg = f"the read model's row of negotiation {row[0]!r} holds stage {row[1]!r}, which is not a stage"
        raise StoreError(msg)
    return NegotiationSummary(
        id=row[0],
        stage=Stage(row[1]),
        version=int(row[2]),
        last_event=row[3],
        owed=int(row[4]),
        head=row[5],
        updated=parse_timestamp(row[6], field="updated"),
        awaiting=_awaiting_from_json(row[0], row[7]),
    )


def summary_of(negotiation: str, fold: Fold, head: str, updated: dt.datetime) -> NegotiationSummary:
    """The read-model row of a negotiation whose events ``fold`` holds, ``head`` the last one's hash."""
    moves = tuple(awaiting(fold))
    return NegotiationSummary(
        id=negotiation,
        stage=fold.stage,
        version=fold.count,
        last_event=None if fold.latest is None else str(fold.latest),
        owed=len(moves),
        head=head,
        updated=updated,
        awaiting=moves,
    )


class FoldCache:
    """The folds that a store's last appends left, each with the tip it was folded up to.

    Replaying a negotiation before each append costs O(its length); an append whose
    negotiation is still at the tip the last one left goes on from that fold instead (a long
    negotiation appended to in chunks, an import in several batches). The tip (version and
    head hash) is read from the store in every transaction, so a fold that another writer
    went past is never trusted. Bounded: the least recently used is dropped first. The store
    reads and writes it under its own lock (one thread at a time).
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        # negotiation -> (version, head, fold, version of its latest snapshot)
        self._entries: dict[str, tuple[int, str, Fold, int]] = {}

    def take_any(self, negotiation: str) -> tuple[tuple[int, str], Fold, int] | None:
        """Remove and return the fold left for ``negotiation``, whatever its tip, with that tip
        and its snapshot version (a guess at the negotiation's state, to be checked)."""
        entry = self._entries.pop(negotiation, None)
        return None if entry is None else ((entry[0], entry[1]), entry[2], entry[3])

    def take(self, negotiation: str, tip: tuple[int, str]) -> tuple[Fold, int] | None:
        """Remove and return the fold (and snapshot version) left at ``tip``, if that is the one."""
        entry = self._entries.pop(negotiation, None)
        if entry is None or (entry[0], entry[1]) != tip:
            return None
        return entry[2], entry[3]

    def put(self, negotiation: str, tip: tuple[int, str], fold: Fold, snapshot_version: int) -> None:
        """Keep ``fold``, folded up to ``tip``, as the most recently used."""
        self._entries.pop(negotiation, None)
        self._entries[negotiation] = (*tip, fold, snapshot_version)
        if len(self._entries) > self.size:
            del self._entries[next(iter(self._entries))]

    def drop(self, negotiations: Iterable[str]) -> None:
        """Forget the folds of these negotiations (their transaction did not commit)."""
        for negotiation in negotiations:
            self._entries.pop(negotiation, None)


@attrs.define
class _Checked:
    """One negotiation's events checked against its state at ``tip`` and encoded, not yet
    written: the folded state (None when every event was stored already), the version of its
    latest snapshot, each event stamped with its compact JSON, and the append's moment."""

    negotiation: str
    tip: tuple[int, str]
    fold: Fold | None
    snapshot_version: int
    encoded: list[tuple[Event, str]]
    recorded: dt.datetime


@attrs.define
class Written:
    """What writing one checked run stores: its rows (chained from ``checked_at``, the tip its
    events were checked at, up to ``tip``), the read model's row, the snapshot due (if any),
    and the fold and snapshot version the store keeps for its next append."""

    negotiation: str
    checked_at: tuple[int, str]
    tip: tuple[int, str]
    rows: list[Row]
    summary: NegotiationSummary
    snapshot: bytes | None
    fold: Fold
    snapshot_version: int


class EventStore(Delivery, abc.ABC):
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
        self._folds = FoldCache()

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
        name = _check_negotiation(negotiation)
        return self.append_many({name: events}, expected_versions={name: expected_version})[name]

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
        return self._append_runs(((name, events, expected.get(name)) for name, events in prepared.items()), progress)

    def append_stream(
        self,
        events: Iterable[tuple[str, Event]],
        *,
        progress: Callable[[int], None] | None = None,
        chunk: int = STREAM_CHUNK,
    ) -> dict[str, int]:
        """Append ``(negotiation, event)`` pairs, in the order given, in one transaction: all or none.

        What :meth:`append_many` does for a stream too large to hold: events are taken from
        ``events`` as they come and written in chunks of at most ``chunk`` consecutive events
        of one negotiation. Memory holds one chunk and the folds of the negotiations appended
        to last (see :class:`FoldCache`; a dropped one is replayed from the transaction), not
        the stream. Returns each negotiation's new version. Raises as :meth:`append`.
        """
        runs = ((_check_negotiation(name), _checked_events(batch), None) for name, batch in _runs(events, chunk))
        return self._append_runs(runs, progress, stream=True)

    def _append_runs(
        self,
        runs: Iterable[tuple[str, list[Event], int | None]],
        progress: Callable[[int], None] | None,
        *,
        stream: bool = False,
    ) -> dict[str, int]:
        """Append each run (a negotiation, its events, the version expected) in one transaction.

        Where :attr:`checks_before_lock` is set (and the runs are not a stream), the runs are
        checked first, before the write lock (see :meth:`_checked_outside_lock`), and the write
        transaction only reads each negotiation's tip: a run checked at another tip than the
        one it finds there is checked again. When every run was checked so and no ``progress``
        is asked for, the backend may write them without the client taking part while it holds
        the lock (see :meth:`_write_at_once`).
        """
        recorded = utc_now()
        checked: dict[str, _Checked] = {}
        if self.checks_before_lock and not stream:
            runs = list(runs)
            checked = self._checked_outside_lock(runs, recorded)
            if progress is None and len(checked) == len(runs) and all(run.encoded for run in checked.values()):
                written = [w for w in (self._written(run, 0) for run in checked.values()) if w is not None]
                if self._write_at_once(written):
                    return {w.negotiation: w.tip[0] for w in written}
        versions: dict[str, int] = {}
        started: dict[str, int] = {}  # each negotiation's version when the transaction began
        done = 0
        try:
            with self._write("appending") as tx:
                (position, head), tips = tx.head_and_tips(list(checked)) if checked else (tx.head(), {})
                for name, events, expected in runs:
                    tick = None if progress is None else functools.partial(_offset, progress, done)
                    run = checked.pop(name, None)
                    if run is None or tips[name] != run.tip:  # not checked, or another writer went on
                        run = self._check_run(tx, name, events, expected, recorded, tick, started)
                    else:
                        started.setdefault(name, run.tip[0])
                    versions[name], rows = self._write_run(tx, run, position)
                    for row in rows:
                        head = store_hash(head, row)
                    position += len(rows)
                    done += len(events)
                    if progress is not None:
                        progress(done)
                tx.put_head(position, head)
        except BaseException:
            self._folds.drop(started)  # what the appends cached was not committed
            raise
        return versions

    #: Whether appends check their events before taking the write lock, against the fold this
    #: store cached (see :meth:`_checked_outside_lock`): worth it where writers on several
    #: machines share the lock, so that they validate while another one holds it.
    checks_before_lock = False

    def _checked_outside_lock(
        self, runs: list[tuple[str, list[Event], int | None]], recorded: dt.datetime
    ) -> dict[str, _Checked]:
        """The runs checked against the state this store last left each negotiation in (the
        fold it cached) or, with none cached, against an empty negotiation, without reading
        the store. A run that may not be checked so (it repeats an id, expects another
        version, or is refused there) is left out: the write transaction checks it."""
        checked: dict[str, _Checked] = {}
        for name, events, expected in runs:
            known = self._folds.take_any(name)
            tip, fold, snapshot_version = known if known is not None else ((0, GENESIS), Fold(name), 0)
            if (expected is not None and expected != tip[0]) or any(e.id in fold.all_ids for e in events):
                if known is not None:
                    self._folds.put(name, tip, fold, snapshot_version)
                continue
            try:
                checked[name] = self._fold_in(name, tip, fold, snapshot_version, events, recorded, None)
            except (EventRejected, InvalidEvent):
                continue  # the fold is spoiled: the write transaction replays the negotiation
        return checked

    def _check_run(
        self,
        tx: Transaction,
        negotiation: str,
        events: list[Event],
        expected_version: int | None,
        recorded: dt.datetime,
        progress: Callable[[int], None] | None,
        started: dict[str, int],
    ) -> _Checked:
        """Check one negotiation's events against its state at the tip ``tx`` reads, and
        encode them; nothing is written."""
        tip = current, _head = tx.tip(negotiation)
        cached = self._folds.take(negotiation, tip)
        if not current:
            stored: dict[str, Event] = {}
        elif cached is not None:  # the fold knows every id: only a repeat needs a read
            known = cached[0].all_ids
            stored = tx.stored(negotiation, [e.id for e in events if e.id in known])
        else:
            stored = tx.stored(negotiation, [e.id for e in events])
        fresh: list[Event] = []
        since = started.setdefault(negotiation, current)  # its version when this transaction began
        for event in events:
            old = stored.get(event.id)
            if old is None:
                fresh.append(event)
                continue
            if not _same_content(old, event):
                msg = f"id {event.id!r} is already stored in negotiation {negotiation!r} with other content"
            elif current > since and any(s.event.id == event.id for s in tx.read(negotiation, since)):
                # a repeat of what this transaction wrote (an earlier chunk of a stream), not of
                # what was stored before it: refused, as replaying the log refuses it
                msg = f"id {event.id!r} is already used in this negotiation"
            else:
                continue  # stored before, with the same content: a retry, skipped
            summary = tx.summary(negotiation)
            stage = summary.stage.value if summary is not None else Stage.IDLE.value
            raise DuplicateEventId(msg, event=event, stage=stage).locate(negotiation=negotiation)
        if not fresh:
            if cached is not None:
                self._folds.put(negotiation, tip, *cached)  # still valid: nothing was written
            return _Checked(negotiation, tip, None, 0, [], recorded)
        if expected_version is not None and expected_version != current:
            msg = (
                f"negotiation {negotiation!r} is at version {current}, "
                f"not the expected version {expected_version}: reload and retry"
            )
            raise ConcurrencyError(msg, expected=expected_version, actual=current, negotiation=negotiation)
        if cached is not None:
            fold, snapshot_version = cached
        elif not current:
            fold, snapshot_version = Fold(negotiation), 0
        else:
            fold, snapshot_version = self._replayed(tx, negotiation, current), tx_snapshot_version(tx, negotiation)
        return self._fold_in(negotiation, tip, fold, snapshot_version, fresh, recorded, progress)

    def _fold_in(
        self,
        negotiation: str,
        tip: tuple[int, str],
        fold: Fold,
        snapshot_version: int,
        fresh: list[Event],
        recorded: dt.datetime,
        progress: Callable[[int], None] | None,
    ) -> _Checked:
        """Fold ``fresh`` events into ``fold`` (the negotiation's state at ``tip``) and encode them."""
        encoded: list[tuple[Event, str]] = []
        for event in fresh:
            stamped = _stamped(event, negotiation)
            try:
                fold.apply(stamped)
            except EventRejected as e:
                e.event = event  # the caller's object (for file lines)
                raise e.locate(negotiation=negotiation) from None
            try:
                encoded.append((stamped, compact_json(stamped)))
            except InvalidEvent as e:
                raise e.locate(negotiation=negotiation) from None
            if progress is not None and len(encoded) % 1000 == 0:
                progress(len(encoded))
        return _Checked(negotiation, tip, fold, snapshot_version, encoded, recorded)

    def _written(self, run: _Checked, position: int) -> Written | None:
        """What writing a checked run after the store's last ``position`` stores (None when
        every event was stored already): its rows, chained from the run's tip, the read
        model's row, and a snapshot when one is due."""
        negotiation, (version, head), fold = run.negotiation, run.tip, run.fold
        if fold is None:  # every event was stored already
            return None
        rows: list[Row] = []
        recorded_text = run.recorded.isoformat()  # when the store appended them: its metadata
        for stamped, data in run.encoded:
            position += 1
            version += 1
            head = chain_hash(head, data)
            rows.append(
                Row(
                    position,
                    negotiation,
                    version,
                    stamped.id,
                    stamped.TYPE,
                    str(stamped.occurred),
                    recorded_text,
                    data,
                    head,
                    stamped,
                )
            )
        snap, snapshot_version = None, run.snapshot_version
        if self.snapshot_every and version - snapshot_version >= self.snapshot_every:
            snap, snapshot_version = snapshot.take(fold), version
        summary = summary_of(negotiation, fold, head, run.recorded)
        return Written(negotiation, run.tip, (version, head), rows, summary, snap, fold, snapshot_version)

    def _write_run(self, tx: Transaction, run: _Checked, position: int) -> tuple[int, list[Row]]:
        """Write a checked run after the store's last ``position``; returns (the negotiation's
        new version, the rows written)."""
        written = self._written(run, position)
        if written is None:
            return run.tip[0], []
        tx.insert(written.rows)
        tx.put_summary(written.summary)
        if written.snapshot is not None:
            tx.put_snapshot(written.negotiation, written.tip[0], written.snapshot)
        self._folds.put(written.negotiation, written.tip, written.fold, written.snapshot_version)
        return written.tip[0], written.rows

    def _write_at_once(self, written: list[Written]) -> bool:
        """Write runs that were checked before the lock in one transaction that the client
        does not hold up: the backend numbers the rows and moves the store head itself, under
        the write lock. False when the store is not where the checks assumed (a negotiation
        went past its tip, or the recorded head disagrees with the rows): nothing is written,
        and the append goes on the usual way, which checks again under the lock and says what
        is wrong. On success the backend keeps each run's fold for the next append, as
        :meth:`_write_run` does. This default has no such path."""
        return False

    def _replayed(self, tx: Transaction, negotiation: str, version: int) -> Fold:
        """The negotiation's fold at ``version``, by replaying its events (strictly)."""
        fold = Fold(negotiation)
        for event in tx.events(negotiation, up_to=version):
            fold.apply(event)
        return fold

    def _restored(self, tx: Transaction, negotiation: str, latest: Latest) -> Fold:
        """The negotiation's fold at its tip: from its snapshot and the events after it (the
        tail), or by replay when there is no usable snapshot or the tail retracts."""
        (version, _head), snap, events = latest
        tail = events()
        if snap is None:
            fold = Fold(negotiation)
            for event in tail:
                fold.apply(event)
            return fold
        history = functools.partial(self._covered, negotiation, snap[0])
        try:
            restored = snapshot.restore(snap[1], history, negotiation)
        except StoreError:  # a damaged snapshot is not used (verify reports it)
            restored = None
        if restored is not None and all(e.TYPE != "EventRetracted" for e in tail):
            # the events the tail names that the snapshot covers: the fold has no copy of them
            restored.by_id.update(tx.stored(negotiation, {e.ref_id for e in tail if e.ref_id is not None}))
            for event in tail:
                restored.apply(event)
            return restored
        return self._replayed(tx, negotiation, version)

    def _covered(self, negotiation: str, version: int) -> list[Event]:
        """The negotiation's events up to ``version``: what a state restored from a snapshot
        at that version reads back when it needs them."""
        with self._read("reading a negotiation's events back") as tx:
            return tx.events(negotiation, up_to=version)

    def snapshot(self, negotiation: str) -> int:
        """Take a snapshot of the negotiation now; returns the version it covers.

        Appends take snapshots by themselves (see ``snapshot_every``); this is for a store
        opened with ``snapshot_every=0``, or after an upgrade made the old ones unusable.

        Raises:
            UnknownNegotiation: the store holds no event of it.
        """
        try:
            with self._write("taking a snapshot") as tx:
                tip = version, _head = tx.tip(negotiation)
                if not version:
                    raise self._unknown(tx, negotiation)
                cached = self._folds.take(negotiation, tip)
                fold = cached[0] if cached is not None else self._replayed(tx, negotiation, version)
                tx.put_snapshot(negotiation, version, snapshot.take(fold))
                self._folds.put(negotiation, tip, fold, version)
        except BaseException:
            self._folds.drop([negotiation])
            raise
        return version

    # -- reading -------------------------------------------------------------------------------

    def version(self, negotiation: str) -> int:
        """The negotiation's current version (0 when it holds no event)."""
        with self._read("reading a version") as tx:
            return tx.tip(negotiation)[0]

    def read(self, negotiation: str, after_version: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """The negotiation's events after ``after_version``, in log order (at most ``limit``)."""
        with self._read("reading events") as tx:
            return tx.read(negotiation, after_version, limit)

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
        events after it; the events the snapshot covers are read back from the store only
        when a view needs them (the events, the timeline, which events may be retracted, a
        state to go on from with ``apply``). With either, or with ``strict=False`` (skip and
        report events that today's rules refuse), the events are replayed.

        Raises:
            UnknownNegotiation: the store holds no event of it.
        """
        if as_of is not None or known_at is not None or not strict:
            with self._read("loading a negotiation") as tx:
                if not tx.tip(negotiation)[0]:
                    raise self._unknown(tx, negotiation)
                events = tx.events(negotiation)
            return replay(events, negotiation=negotiation, as_of=as_of, known_at=known_at, strict=strict)
        with self._read_unshared("loading a negotiation") as tx:
            latest = tx.latest(negotiation)
            tip = latest[0]
            if not tip[0]:
                raise self._unknown(tx, negotiation)
            cached = self._folds.take(negotiation, tip)  # handed over: the state owns it now
            return NegotiationState(cached[0] if cached is not None else self._restored(tx, negotiation, latest))

    def _read_unshared(self, doing: str) -> AbstractContextManager[Transaction]:
        """A read whose statements need no common view of the store.

        :meth:`load` reads a negotiation with :meth:`Transaction.latest`, then (rarely) the
        events a snapshot covers, bounded by version. Stored events never change, so its
        statements need not see one state. A read transaction here; a backend whose
        transactions cost round trips may run the statements without one.
        """
        return self._read(doing)

    def _unknown(self, tx: Transaction, negotiation: str) -> UnknownNegotiation:
        known = ", ".join(repr(s.id) for s in tx.summaries()) or "none"
        msg = f"negotiation {negotiation!r} is not in the store; it holds: {known}"
        return UnknownNegotiation(msg, negotiation=negotiation)

    # -- verification ----------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """The store head: the position of the last event and the running hash there.

        Keep it elsewhere (``negotiation head DB`` prints it as ``POSITION:HEX``): ``verify(head=...)``
        then finds events removed from the end, or anything before that position rewritten,
        which the store's own records cannot show once they are rewritten too.
        """
        with self._read("reading the store head") as tx:
            return tx.head()

    def verify(
        self,
        *,
        head: tuple[int, str] | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> Verification:
        """Recompute every hash chain and check every snapshot; report the first problem.

        Checks that positions run 1, 2, ... without a gap, versions 1, 2, ... per
        negotiation, each row's columns agree with its JSON, the store head recorded with the
        last append is what the rows give (positions swapped), the read model's version and
        head agree with the chains (a truncated tail) and its stage, owed count, owed moves
        and last date with a replay, and each snapshot matches its checksum and, when taken
        under today's rules, what replaying its events gives. With ``head`` (a :meth:`head`
        kept elsewhere), also that the events up to its position still give it.

        ``progress`` is called with ``(phase, done, total)`` as the work goes on, in three
        phases: ``"rows"`` (events checked, of the events the read model counts),
        ``"read model"`` (events replayed, of the same) and ``"snapshots"`` (negotiations
        whose snapshot is checked, of the negotiations).
        """
        with self._read("verifying") as tx:
            try:
                summaries = tx.summaries()
            except StoreError as e:
                return Verification(ok=False, events=0, problem=e.message)
            try:
                recorded: tuple[int, str] | None = tx.head()
                unrecorded = None
            except StoreError as e:  # recorded at another position than the events end at
                recorded, unrecorded = None, e
            heads = {s.id: (s.version, s.head) for s in summaries}
            total = sum(s.version for s in summaries)
            report = progress if progress is not None else _unreported
            found = verify_rows(
                tx.rows(),
                heads,
                recorded_head=recorded,
                kept_head=head,
                progress=lambda done: report("rows", done, total),
            )
            if not found:
                return found
            report("rows", found.events, total)
            if unrecorded is not None:  # the problem alone: not the store's name, nor the advice to verify
                return Verification(ok=False, events=found.events, problem=unrecorded.message.removesuffix(RUN_VERIFY))
            replayed = 0
            report("read model", 0, total)
            for summary in summaries:
                problem = _summary_problem(tx, summary)
                if problem is not None:
                    return Verification(ok=False, events=found.events, negotiation=summary.id, problem=problem)
                replayed += summary.version
                report("read model", replayed, total)
            report("snapshots", 0, len(summaries))
            for checked, (negotiation, version, data) in enumerate(tx.snapshots(), start=1):
                problem = _snapshot_problem(tx, negotiation, version, data)
                if problem is not None:
                    return Verification(ok=False, events=found.events, negotiation=negotiation, problem=problem)
                report("snapshots", checked, len(summaries))
            report("snapshots", len(summaries), len(summaries))  # the negotiations without a snapshot too
            return found


def _unreported(phase: str, done: int, total: int) -> None:
    """The progress of a verify nobody follows."""


def _runs(pairs: Iterable[tuple[str, Event]], size: int) -> Iterator[tuple[str, list[Event]]]:
    """Consecutive events of one negotiation, at most ``size`` at a time."""
    name: str | None = None
    batch: list[Event] = []
    for negotiation, event in pairs:
        if batch and (negotiation != name or len(batch) >= size):
            assert name is not None
            yield name, batch
            batch = []
        name = negotiation
        batch.append(event)
    if batch:
        assert name is not None
        yield name, batch


def _offset(progress: Callable[[int], None], before: int, count: int) -> None:
    progress(before + count)


def tx_snapshot_version(tx: Transaction, negotiation: str) -> int:
    """The version of the negotiation's usable snapshot (0: none)."""
    snap = tx.snapshot(negotiation)
    return 0 if snap is None else snap[0]


def recomputed(tx: Transaction, stored: NegotiationSummary) -> tuple[NegotiationSummary, list[EventRejected]]:
    """A read-model row as replaying the negotiation's events under today's rules gives it,
    with the events those rules refuse (left out, as a lenient load leaves them out)."""
    fold = Fold(stored.id)
    for event in tx.events(stored.id):
        fold.apply(event, strict=False)
    return summary_of(stored.id, fold, stored.head, stored.updated), fold.rejected


def derived_summary(tx: Transaction, negotiation: str, where: str) -> NegotiationSummary | None:
    """The read-model row of a negotiation, from its events: for a store opened read-only whose
    schema has no read model or an older one, or while one is rebuilt. An event today's rules
    refuse is left out (each named in a :class:`~negotiation.errors.StoreWarning`), but counts
    in the version."""
    version, head = tx.tip(negotiation)
    if not version:
        return None
    fold = Fold(negotiation)
    for event in tx.events(negotiation):
        fold.apply(event, strict=False)
    for rejected in fold.rejected:
        warnings.warn(
            f"{where}: negotiation {negotiation!r}: {rejected}; "
            "the read model leaves it out (status --lenient shows the state without it)",
            StoreWarning,
            stacklevel=3,
        )
    updated = tx.read(negotiation, version - 1, 1)[0].recorded
    return attrs.evolve(summary_of(negotiation, fold, head, updated), version=version)


def rebuild_read_model(tx: Transaction, where: str) -> None:
    """Recompute every read-model row under today's rules (after the rules changed: a new
    contract version may derive another stage or other owed moves from the same events); each
    event the rules refuse is named in a :class:`~negotiation.errors.StoreWarning`."""
    for stored in tx.summaries():
        summary, rejected = recomputed(tx, stored)
        for refusal in rejected:
            warnings.warn(
                f"{where}: negotiation {stored.id!r}: {refusal}; left out of the read model",
                StoreWarning,
                stacklevel=4,
            )
        tx.put_summary(summary)


def _summary_problem(tx: Transaction, stored: NegotiationSummary) -> str | None:
    """What in a read-model row differs from replaying the negotiation's events, or None."""
    expected, _ = recomputed(tx, stored)
    for field in ("stage", "last_event", "owed", "awaiting"):
        found, wanted = getattr(stored, field), getattr(expected, field)
        if found != wanted:
            if field == "stage":
                found, wanted = found.value, wanted.value
            elif field == "awaiting":
                found, wanted = stored.awaiting_json(), expected.awaiting_json()
            return f"the read model records {field} {found!r} where replaying the events gives {wanted!r}"
    return None


def _snapshot_problem(tx: Transaction, negotiation: str, version: int, data: bytes) -> str | None:
    """What is wrong with a stored snapshot, or None."""
    if not bytes(data).startswith(b"{"):
        return None  # an earlier binary format: ignored, and retaken by the next appends
    try:
        taken_under = snapshot.check(data)
    except StoreError as e:
        return f"snapshot at version {version}: {e}"
    if taken_under != snapshot.FINGERPRINT:
        return None  # taken under other rules: ignored, and retaken by the next appends
    fold = Fold(negotiation)
    try:
        for event in tx.events(negotiation, up_to=version):
            fold.apply(event)
    except EventRejected as e:
        return f"snapshot at version {version}: its events do not replay ({e.message})"
    if snapshot.take(fold) != bytes(data):
        return f"snapshot at version {version}: its records differ from what replaying its events gives"
    return None
