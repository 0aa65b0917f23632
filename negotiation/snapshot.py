"""Snapshots of a fold: its derived state in a compact form, restored without replaying.

A store keeps a snapshot of each negotiation next to its events, so that loading a long
negotiation replays only the events after the snapshot (its tail). A snapshot holds the
compact records of :class:`~negotiation._fold.Fold` (documents, contacts, agreements,
deadlines, positions, parties, counters), the ids of the effective events and the stage
before each of them, but never the events themselves: those are already in the store. The
restored fold reads them back through an :class:`EventSource` only when something needs
them (the timeline, a retraction, a copy of the state); a reference to an earlier event
reads that one event.

A snapshot is trusted only by the code that wrote it: :data:`FINGERPRINT` is derived from the
stage machine (:data:`~negotiation.machine.TRANSITIONS`), the fold rules' version
(:data:`~negotiation._fold.RULES_VERSION`), this module's format and the fold's structure,
and a snapshot with another fingerprint is ignored by the store (it replays instead).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Protocol, SupportsIndex, TypeVar, cast

from negotiation._fold import RULES_VERSION, Fold
from negotiation._lazy import (
    DICT_MATERIALIZING,
    FILL_LOCK,
    LazyDict,
    LazyList,
    LazySet,
    gc_paused,
    materializing,
)
from negotiation._records import AgreementRecord, ContactRecord, DeadlineRecord, DocRecord
from negotiation.errors import StoreError
from negotiation.events import DeadlineSet, Event, EventRetracted, Stance
from negotiation.machine import TRANSITIONS, Stage

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

__all__ = [
    "FINGERPRINT",
    "FORMAT",
    "EventSource",
    "fingerprint",
    "restore",
    "snapshot_fingerprint",
    "take",
]

#: The layout of the snapshot's JSON; bump it when :func:`take` writes something else.
FORMAT = 3

#: Every attribute of a fold that :func:`take` and :func:`restore` carry (a test checks that
#: this is all of them, so a new attribute cannot be forgotten silently).
FOLD_ATTRIBUTES = frozenset(
    {
        "negotiation",
        "engine",
        "_table",  # derived from the engine by Fold's constructor, which restore calls
        "stage",
        "paused_from",
        "any_proposal_answered",
        "open_proposals",
        "events",
        "stage_before",
        "by_id",
        "ref_count",
        "all_ids",
        "retractions",
        "retracted",
        "docs",
        "contacts",
        "agreements",
        "text",
        "deadlines",
        "deadlines_by_ref",
        "positions",
        "parties",
        "owed",
        "rejected",
    }
)

_STAGES = tuple(Stage)
_STAGE_CODE = {stage: chr(ord("a") + i) for i, stage in enumerate(_STAGES)}
_CODE_STAGE = {code: stage for stage, code in _STAGE_CODE.items()}
_STANCES = {s.value: s for s in Stance}


def _callable_name(value: object) -> object:
    if callable(value):
        return getattr(value, "__qualname__", repr(value))
    if isinstance(value, list | tuple):
        return [_callable_name(v) for v in value]
    return value


def fingerprint() -> str:
    """The identity of the rules a snapshot was taken under (16 hex digits).

    Derived from the stage machine's transitions (guards by name), the fold rules' version,
    the snapshot format, and the names of the fold's attributes and records' slots.
    """
    machine = [{k: _callable_name(v) for k, v in sorted(t.items())} for t in TRANSITIONS]
    described = {
        "format": FORMAT,
        "rules": RULES_VERSION,
        "transitions": machine,
        "fold": sorted(vars(Fold())),
        "records": {cls.__name__: sorted(cls.__slots__) for cls in (DocRecord, ContactRecord, AgreementRecord)},
    }
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The fingerprint of this version of the rules; snapshots with another one are ignored.
FINGERPRINT = fingerprint()


class EventSource(Protocol):
    """Where a restored fold reads the events its snapshot covers (provided by a store)."""

    def events(self) -> list[Event]:
        """Every event the snapshot covers (retractions and retracted ones too), in log order."""
        ...

    def event(self, event_id: str) -> Event | None:
        """The event with this id among those the snapshot covers, or None."""
        ...

    def has(self, event_id: str) -> bool:
        """Whether the snapshot covers an event with this id (retracted and retractions too)."""
        ...


# -- taking a snapshot ----------------------------------------------------------------------
#
# Layout: a magic line, a JSON header line (the small, eagerly read part and the length of
# each section), then the sections, each a JSON document decoded only when first needed. A
# 100,000-event negotiation thus loads in the time it takes to read the header: the ids, the
# documents, the contacts, the deadlines and the positions are decoded and rebuilt on first
# use, each record when it is first looked up.

_MAGIC = b"negotiation-snapshot\n"
_SECTIONS = (
    "ids",
    "stage_before",
    "ref_count",
    "docs",
    "contacts",
    "deadlines",
    "deadlines_by_ref",
    "positions",
    "owed",
)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _doc_row(_key: str, d: DocRecord) -> list[Any]:
    return [
        d.id,
        d.index,
        d.kind,
        d.author,
        d.addressees,
        d.title,
        d.public,
        d.ref,
        d.answers,
        list(d.answered_by),
        d.withdrawn_by,
        d.disclosed_by,
    ]


def _contact_row(_key: str, c: ContactRecord) -> list[Any]:
    return [c.id, c.index, c.proposer, c.to, c.accepted_by, c.declined_by, c.held_by]


def _deadline_row(key: str, r: DeadlineRecord) -> list[Any]:
    return [key, r.met_by, r.lapsed_by]


def _by_ref_row(ref: str | None, records: list[DeadlineRecord]) -> list[Any]:
    return [ref, [r.event.id for r in records]]


def _count_row(_key: str, count: int) -> int:
    return count


def _position_row(key: tuple[str, str], value: tuple[Stance, str]) -> list[Any]:
    return [key[0], key[1], value[0].value, value[1]]


def _owed_row(key: tuple[str, str], is_doc: bool) -> list[Any]:
    return [key[0], key[1], is_doc]


def _prefixed(items: list[T], encode: Callable[[T], Any]) -> list[Any]:
    """The encoded items of a list; a lazy list's unread prefix is copied from its snapshot."""
    if isinstance(items, LazyList) and items._load is not None and items._raw is not None:
        return [*items._raw(), *map(encode, list.__iter__(items))]
    return [encode(item) for item in items]


def _rows(mapping: dict[K, V], encode: Callable[[K, V], Any]) -> list[tuple[K, Any]]:
    """(key, row) of a dict's entries; a lazy dict's untouched entries are copied from its snapshot."""
    if isinstance(mapping, LazyDict) and mapping._lazy:
        made = mapping._made
        rows = [(k, encode(k, made[k]) if k in made else row) for k, row in mapping._raw_map().items()]
        return rows + [(k, encode(k, v)) for k, v in dict.items(mapping)]
    return [(k, encode(k, v)) for k, v in mapping.items()]


def _values(rows: list[tuple[Any, Any]]) -> list[Any]:
    return [row for _key, row in rows]


def take(fold: Fold) -> bytes:
    """The snapshot of ``fold`` (bytes) that :func:`restore` reads back.

    A fold restored from a snapshot is snapshotted again without reading its events or
    building the records nobody looked at: their rows are copied.

    Raises:
        ValueError: the fold holds rejected events (only strictly replayed folds are kept).
    """
    if fold.rejected:
        msg = "a fold with rejected events (a lenient replay) cannot be snapshotted"
        raise ValueError(msg)
    with gc_paused():
        ref_count = _rows(fold.ref_count, _count_row)
        sections = {
            "ids": _prefixed(fold.events, lambda e: e.id),
            "stage_before": "".join(_prefixed(fold.stage_before, _STAGE_CODE.__getitem__)),
            "ref_count": [[k for k, _ in ref_count], [n for _, n in ref_count]],
            "docs": _values(_rows(fold.docs, _doc_row)),
            "contacts": _values(_rows(fold.contacts, _contact_row)),
            "deadlines": _values(_rows(fold.deadlines, _deadline_row)),
            "deadlines_by_ref": _values(_rows(fold.deadlines_by_ref, _by_ref_row)),
            "positions": _values(_rows(fold.positions, _position_row)),
            "owed": _values(_rows(fold.owed, _owed_row)),
        }
        bodies = [_json(sections[name]) for name in _SECTIONS]
    header = {
        "format": FORMAT,
        "fingerprint": FINGERPRINT,
        "negotiation": fold.negotiation,
        "stage": fold.stage.value,
        "paused_from": None if fold.paused_from is None else fold.paused_from.value,
        "any_answered": fold.any_proposal_answered,
        "open_proposals": fold.open_proposals,
        "counts": {
            "ids": len(fold.events),
            "ref_count": len(fold.ref_count),
            "docs": len(fold.docs),
            "contacts": len(fold.contacts),
            "deadlines": len(fold.deadlines),
            "deadlines_by_ref": len(fold.deadlines_by_ref),
            "positions": len(fold.positions),
            "owed": len(fold.owed),
        },
        "sections": {name: len(body) for name, body in zip(_SECTIONS, bodies, strict=True)},
        "retractions": [r.to_dict() for r in fold.retractions],
        "retracted": [e.to_dict() for e in fold.retracted.values()],
        "agreements": [
            [a.id, a.kind, a.title, a.parties, a.signed, a.ratified, a.withdrawn, a.entered_into_force, a.terminated]
            for a in fold.agreements.values()
        ],
        "text": None if fold.text is None else fold.text.id,
        "parties": list(fold.parties.items()),
    }
    return b"".join((_MAGIC, _json(header), b"\n", *bodies))


def snapshot_fingerprint(snapshot: bytes) -> str | None:
    """The fingerprint a snapshot was taken under, or None if it is not a snapshot at all."""
    try:
        return str(_header(snapshot)[0]["fingerprint"])
    except (ValueError, KeyError, TypeError):
        return None


def _header(snapshot: bytes) -> tuple[dict[str, Any], int]:
    if not snapshot.startswith(_MAGIC):
        msg = "not a snapshot"
        raise ValueError(msg)
    end = snapshot.index(b"\n", len(_MAGIC))
    header = json.loads(snapshot[len(_MAGIC) : end])
    if not isinstance(header, dict):
        msg = "not a snapshot header"
        raise ValueError(msg)
    return header, end + 1


# -- restoring one ---------------------------------------------------------------------------


def restore(snapshot: bytes, source: EventSource) -> Fold:
    """The fold a snapshot describes; what it covers is read from ``source`` when needed.

    Raises:
        StoreError: the snapshot is not one :func:`take` wrote in this format.
    """
    try:
        header, start = _header(snapshot)
        if header.get("format") != FORMAT:
            msg = f"snapshot format {header.get('format')!r} is not {FORMAT}"
            raise StoreError(msg)
        return _restore(header, _Sections(snapshot, start, header["sections"]), source)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        msg = f"unreadable snapshot: {type(e).__name__}: {e}"
        raise StoreError(msg) from e


class _Sections:
    """The snapshot's sections, each decoded on first use."""

    __slots__ = ("_data", "_spans")

    def __init__(self, data: bytes, start: int, lengths: dict[str, int]) -> None:
        self._data = memoryview(data)
        self._spans: dict[str, tuple[int, int]] = {}
        for name in _SECTIONS:
            self._spans[name] = (start, start + int(lengths[name]))
            start += int(lengths[name])
        if start != len(data):
            msg = f"snapshot sections end at byte {start}, the snapshot at {len(data)}"
            raise ValueError(msg)

    def decode(self, name: str) -> Any:
        begin, end = self._spans[name]
        with gc_paused():
            return json.loads(bytes(self._data[begin:end]))

    def keyed(self, name: str) -> dict[Any, list[Any]]:
        """A section of rows, by each row's first field."""
        with gc_paused():
            return {row[0]: row for row in self.decode(name)}


def _doc(_key: str, raw: list[Any]) -> DocRecord:
    doc = DocRecord.__new__(DocRecord)
    (
        doc.id,
        doc.index,
        doc.kind,
        doc.author,
        addressees,
        doc.title,
        doc.public,
        doc.ref,
        doc.answers,
        answered_by,
        doc.withdrawn_by,
        doc.disclosed_by,
    ) = raw
    doc.addressees = tuple(addressees)
    doc.answered_by = dict.fromkeys(answered_by)
    return doc


def _contact(_key: str, raw: list[Any]) -> ContactRecord:
    contact = ContactRecord.__new__(ContactRecord)
    contact.id, contact.index, contact.proposer, to, contact.accepted_by, declined_by, contact.held_by = raw
    contact.to = tuple(to)
    contact.declined_by = None if declined_by is None else tuple(declined_by)
    return contact


def _agreement(raw: list[Any]) -> AgreementRecord:
    record = AgreementRecord.__new__(AgreementRecord)
    (
        record.id,
        record.kind,
        record.title,
        parties,
        record.signed,
        record.ratified,
        record.withdrawn,
        record.entered_into_force,
        record.terminated,
    ) = raw
    record.parties = tuple(parties)
    return record


def _restore(header: dict[str, Any], sections: _Sections, source: EventSource) -> Fold:
    fold = Fold(header["negotiation"])  # attributes not restored below keep their fresh values
    fold.stage = Stage(header["stage"])
    fold.paused_from = None if header["paused_from"] is None else Stage(header["paused_from"])
    fold.any_proposal_answered = bool(header["any_answered"])
    fold.open_proposals = int(header["open_proposals"])
    counts = header["counts"]
    fold.retractions = [cast(EventRetracted, Event.from_dict(r)) for r in header["retractions"]]
    fold.retracted = {e.id: e for e in map(Event.from_dict, header["retracted"])}
    excluded = frozenset((*fold.retracted, *(r.id for r in fold.retractions)))
    count = int(counts["ids"])
    prefix = _Prefix(source, excluded, count)
    fold.events = LazyList(count, prefix.events, lambda: sections.decode("ids"))
    fold.stage_before = LazyList(
        count,
        lambda: [_CODE_STAGE[c] for c in sections.decode("stage_before")],
        lambda: sections.decode("stage_before"),
    )
    fold.all_ids = LazySet(count + len(excluded), lambda: (*sections.decode("ids"), *excluded), prefix.has)
    fold.by_id = _LazyById(prefix, fold.all_ids)

    def ref_counts() -> dict[str, Any]:
        ids, numbers = sections.decode("ref_count")
        return dict(zip(ids, numbers, strict=True))

    fold.ref_count = LazyDict(int(counts["ref_count"]), ref_counts, _same)
    fold.docs = LazyDict(int(counts["docs"]), lambda: sections.keyed("docs"), _doc)
    fold.contacts = LazyDict(int(counts["contacts"]), lambda: sections.keyed("contacts"), _contact)
    fold.positions = LazyDict(
        int(counts["positions"]), lambda: {(r[0], r[1]): r for r in sections.decode("positions")}, _position
    )
    fold.owed = LazyDict(int(counts["owed"]), lambda: {(r[0], r[1]): r for r in sections.decode("owed")}, _is_doc)
    agreements = {row[0]: _agreement(row) for row in header["agreements"]}
    fold.agreements = agreements
    fold.text = None if header["text"] is None else agreements[header["text"]]

    def deadline(deadline_id: str, row: list[Any]) -> DeadlineRecord:
        event = prefix.event(deadline_id)
        if not isinstance(event, DeadlineSet):
            msg = f"the snapshot's deadline {deadline_id!r} is not a DeadlineSet the store holds"
            raise StoreError(msg)
        record = DeadlineRecord(event)
        record.met_by, record.lapsed_by = row[1], row[2]
        return record

    deadlines: LazyDict[str, DeadlineRecord] = LazyDict(
        int(counts["deadlines"]), lambda: sections.keyed("deadlines"), deadline, prefix.events
    )
    fold.deadlines = deadlines
    fold.deadlines_by_ref = LazyDict(
        int(counts["deadlines_by_ref"]),
        lambda: sections.keyed("deadlines_by_ref"),
        lambda _ref, row: [deadlines[i] for i in row[1]],
    )
    fold.parties = dict(header["parties"])
    return fold


def _same(_key: object, raw: Any) -> Any:
    return raw


def _position(_key: tuple[str, str], row: list[Any]) -> tuple[Stance, str]:
    return (_STANCES[row[2]], row[3])


def _is_doc(_key: tuple[str, str], row: list[Any]) -> bool:
    return bool(row[2])


class _Prefix:
    """The effective events a snapshot covers, read from the store once, on first need."""

    __slots__ = ("by_id", "count", "excluded", "loaded", "source")

    def __init__(self, source: EventSource, excluded: frozenset[str], count: int) -> None:
        self.source = source
        self.excluded = excluded  # retracted events and retractions: not effective
        self.count = count
        self.loaded: list[Event] | None = None
        self.by_id: dict[str, Event] = {}

    def events(self) -> list[Event]:
        if self.loaded is None:
            with FILL_LOCK, gc_paused():
                events = [e for e in self.source.events() if e.id not in self.excluded]
                if len(events) != self.count:
                    msg = f"the store holds {len(events)} effective events where its snapshot counts {self.count}"
                    raise StoreError(msg)
                self.loaded = events
                self.by_id = {e.id: e for e in events}
        return self.loaded

    def event(self, event_id: str) -> Event | None:
        if event_id in self.excluded:
            return None
        if self.loaded is not None:
            return self.by_id.get(event_id)
        return self.source.event(event_id)

    def has(self, event_id: str) -> bool:
        return event_id in self.excluded or self.source.has(event_id)


class _LazyById(dict[str, Event]):
    """A fold's effective events by id: a lookup reads that one event from the store."""

    __slots__ = ("_all_ids", "_prefix", "_seen")

    def __init__(self, prefix: _Prefix, all_ids: set[str]) -> None:
        super().__init__()
        self._prefix: _Prefix | None = prefix
        self._all_ids = all_ids  # the fold's set: ids folded in later are in the dict itself
        self._seen: dict[str, Event] = {}

    def _materialize(self) -> None:
        with FILL_LOCK:
            self._fill()

    def _fill(self) -> None:
        prefix = self._prefix
        if prefix is not None:
            added = dict(dict.items(self))
            dict.clear(self)
            dict.update(self, {e.id: e for e in prefix.events()})
            dict.update(self, added)
            self._prefix, self._seen = None, {}

    def _lookup(self, key: str) -> Event | None:
        found = dict.get(self, key)
        if found is not None or self._prefix is None:
            return found
        found = self._seen.get(key)
        if found is None and key in self._all_ids:
            found = self._prefix.event(key)
            if found is not None:
                self._seen[key] = found
        return found

    def get(self, key: str, default: Any = None) -> Any:
        found = self._lookup(key)
        return default if found is None else found

    def __getitem__(self, key: str) -> Event:
        found = self._lookup(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not None

    def __len__(self) -> int:
        return dict.__len__(self) + (self._prefix.count if self._prefix is not None else 0)

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (dict, (dict(self),))


materializing(_LazyById, (*DICT_MATERIALIZING, "setdefault"))
