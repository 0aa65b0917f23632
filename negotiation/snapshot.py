"""Snapshots of a fold: its derived state in a compact form, restored without replaying.

A store keeps a snapshot of each negotiation next to its events, so that loading a long
negotiation replays only the events after the snapshot (its tail). A snapshot holds the
compact records of :class:`~negotiation._fold.Fold` (documents, contacts, agreements,
deadlines, positions, parties, counters), the ids and types of the effective events, the
stage before each of them and the rest of their :class:`~negotiation._fold.Digest` (what the
check of which events may be retracted reads), but never the events themselves: those are
already in the store. The restored fold reads them back through an :class:`EventSource`
only when something needs them (the timeline, a retraction, a copy of the state, a
retraction check that a replay must decide); a reference to an earlier event reads that one
event.

A snapshot is trusted only by the code that wrote it: :data:`FINGERPRINT` is derived from the
stage machine (:data:`~negotiation.machine.TRANSITIONS`), the fold rules' version
(:data:`~negotiation._fold.RULES_VERSION`), this module's format and the fold's structure,
and a snapshot with another fingerprint is ignored by the store (it replays instead).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import operator
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol, SupportsIndex, TypeVar, cast

from negotiation._fold import RULES_VERSION, Covered, Digest, Fold
from negotiation._lazy import (
    DICT_MATERIALIZING,
    FILL_LOCK,
    MISSING,
    LazyDict,
    LazyList,
    LazySet,
    gc_paused,
    materializing,
)
from negotiation._records import AgreementRecord, ContactRecord, DeadlineRecord, DocRecord
from negotiation.errors import StoreError
from negotiation.events import EVENT_TYPES, DeadlineSet, Event, EventRetracted, Stance
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
FORMAT = 5

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
_TYPE_NAMES = tuple(EVENT_TYPES)


def _type_code(i: int) -> str:
    return chr(ord("A") + i)


_TYPE_CODE = {kind: _type_code(i) for i, kind in enumerate(_TYPE_NAMES)}


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


# -- the layout --------------------------------------------------------------------------------
#
# A magic line, a JSON header line (the small, eagerly read part and the length of each
# section), then the sections. Nothing is decoded at restore but the header: a lookup from
# the tail reads one row, and a section is decoded whole only when a view iterates it.
#
# - ``ids``: the effective events' ids, a JSON array; ``ids.index``: the CRC-32 of each of
#   them, sorted (unsigned 32-bit, little-endian), so that "is this id taken?" is a binary
#   search (an id whose hash is there is then asked of the store).
# - ``stage_before``: one letter per effective event (a JSON string).
# - ``types``: one letter per effective event for its type (a JSON string; the header's
#   ``types`` lists the type of each letter, from ``A`` on).
# - each table of records (see :data:`_TABLES`): its rows as one JSON array in the fold's
#   order (``NAME``); where each row starts in it, and where the array ends (``NAME.starts``,
#   unsigned 32-bit); and ``hash << 32 | row`` for each row, sorted (``NAME.index``,
#   unsigned 64-bit), where ``hash`` is the CRC-32 of the row's key. A lookup by key is a
#   binary search, then the decoding of that one row.

_MAGIC = b"negotiation-snapshot\n"


#: The tables of records: the section's name and how a row's key is read from the row.
_TABLES: dict[str, Callable[[list[Any]], Any]] = {
    "ref_count": operator.itemgetter(0),
    "docs": operator.itemgetter(0),
    "contacts": operator.itemgetter(0),
    "deadlines": operator.itemgetter(0),
    "deadlines_by_ref": operator.itemgetter(0),
    "positions": operator.itemgetter(0, 1),
    "owed": operator.itemgetter(0, 1),
}
#: The tables keyed by an event id (or a pair of an event id and a party, or None): every
#: such id is one of the snapshot's effective events (a record, what a reference names, the
#: record an answer is owed on), so that a table is not searched for an id it cannot hold.
_KEYED_BY_ID = frozenset(("ref_count", "docs", "contacts", "deadlines", "deadlines_by_ref", "owed"))
_SECTIONS = (
    "ids",
    "ids.index",
    "stage_before",
    "types",
    *(f"{name}{part}" for name in _TABLES for part in ("", ".starts", ".index")),
)
_Code = Literal["I", "L", "Q"]
_U32: _Code = "I" if array("I").itemsize == 4 else "L"
_U64: _Code = "Q"  # unsigned long long: 8 bytes wherever CPython runs
_SWAP = sys.byteorder != "little"  # the sections' integers are little-endian
_ROW = 0xFFFFFFFF
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json(value: Any) -> bytes:
    return _encode(value).encode()


def _key_hash(key: Any) -> int:
    """CRC-32 of a table's key (an id, None, or a pair of strings): the same in every process."""
    if type(key) is tuple:
        key = "\x1f".join(key)
    elif key is None:
        return 0
    return zlib.crc32(key.encode("utf-8", "surrogatepass"))


_ENCODE_KEY = operator.methodcaller("encode", "utf-8", "surrogatepass")


def _key_hashes(keys: Sequence[Any]) -> list[int]:
    """``[_key_hash(key) for key in keys]``, without a Python call per key when they are alike."""
    kinds = set(map(type, keys))
    if kinds == {str}:
        return list(map(zlib.crc32, map(_ENCODE_KEY, keys)))
    if kinds == {tuple}:
        return list(map(zlib.crc32, map(_ENCODE_KEY, map("\x1f".join, keys))))
    return [_key_hash(key) for key in keys]  # None among them, or keys of several kinds


def _packed(code: _Code, values: Iterable[int]) -> bytes:
    numbers = array(code, values)
    if _SWAP:
        numbers.byteswap()
    return numbers.tobytes()


def _unpacked(code: _Code, data: memoryview) -> Sequence[int]:
    if _SWAP:
        numbers = array(code, bytes(data))
        numbers.byteswap()
        return numbers
    return data.cast(code)


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


def _count_row(key: str, count: int) -> list[Any]:
    return [key, count]


def _position_row(key: tuple[str, str], value: tuple[Stance, str]) -> list[Any]:
    return [key[0], key[1], value[0].value, value[1]]


def _owed_row(key: tuple[str, str], is_doc: bool) -> list[Any]:
    return [key[0], key[1], is_doc]


_ROWS: dict[str, Callable[[Any, Any], list[Any]]] = {
    "ref_count": _count_row,
    "docs": _doc_row,
    "contacts": _contact_row,
    "deadlines": _deadline_row,
    "deadlines_by_ref": _by_ref_row,
    "positions": _position_row,
    "owed": _owed_row,
}


def _prefixed(items: list[T], encode: Callable[[T], Any]) -> list[Any]:
    """The encoded items of a list; a lazy list's unread prefix is copied from its snapshot."""
    if isinstance(items, LazyList) and items._load is not None and items._raw is not None:
        return [*items._raw(), *map(encode, list.__iter__(items))]
    return list(map(encode, items))


#: Put between the rows of a table to encode them in one call, then split there (a string
#: JSON writes with escapes; a value that holds it only sends its table the slow way).
_BETWEEN = "\x00row\x00"
_BETWEEN_JSON = _json([None, _BETWEEN, None])[len("[null") : -len("null]")]


def _encoded_rows(rows: list[list[Any]]) -> list[bytes]:
    """Each row as JSON, encoded in one call (one per row costs three times as much)."""
    if len(rows) > 1:
        items: list[Any] = [_BETWEEN] * (2 * len(rows) - 1)
        items[::2] = rows
        parts = _json(items)[1:-1].split(_BETWEEN_JSON)
        if len(parts) == len(rows):
            return parts
    return [_json(row) for row in rows]


class _TableWriter:
    """Builds a table's three sections, from rows or from runs of rows copied from a snapshot."""

    __slots__ = ("chunks", "entries", "key_rows", "keys", "pending", "size", "starts")

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []
        self.starts: list[int] = []
        self.entries: list[int] = []  # ``hash << 32 | row`` of every row so far, in any order
        self.size = 1  # the array's "["
        self.pending: list[list[Any]] = []  # the rows added since the last flush, to encode together
        self.keys: list[Any] = []  # the keys of those rows whose entries are still to make
        self.key_rows: list[int] = []  # and their rows

    def add(self, keys: Iterable[Any], rows: Iterable[list[Any]], *, indexed: bool = False) -> None:
        """Add rows after those so far; ``indexed``: their entries are in ``entries`` already."""
        rows = list(rows)
        if not indexed:
            first = len(self.starts) + len(self.pending)
            self.keys.extend(keys)
            self.key_rows.extend(range(first, first + len(rows)))
        self.pending.extend(rows)

    def _flush(self) -> None:
        if self.pending:
            parts = _encoded_rows(self.pending)
            self.chunks.extend(parts)
            if self.keys:
                hashes = _key_hashes(self.keys)
                self.entries.extend([h << 32 | row for h, row in zip(hashes, self.key_rows, strict=True)])
            # each row starts one byte (the comma) after the end of the one before
            starts = list(itertools.accumulate(map((1).__add__, map(len, parts)), initial=self.size))
            self.size = starts.pop()
            self.starts.extend(starts)
            self.keys, self.key_rows, self.pending = [], [], []

    def copy(self, table: _Table, begin: int, end: int, hashes: list[int] | None) -> None:
        """Copy the table's rows ``begin`` to ``end`` (excluded) as they are; their index
        entries from ``hashes`` (by row), or none if they are in ``entries`` already."""
        self._flush()
        if begin < end:
            starts = table.starts
            shift = self.size - starts[begin]
            if hashes is not None:
                moved = len(self.starts) - begin
                self.entries.extend([hashes[row] << 32 | (row + moved) for row in range(begin, end)])
            self.starts.extend([start + shift for start in starts[begin:end]])
            chunk = table.rows[starts[begin] : starts[end] - 1]
            self.chunks.append(chunk)
            self.size += len(chunk) + 1

    def sections(self) -> tuple[bytes, bytes, bytes]:
        self._flush()
        body = b"".join((b"[", b",".join(self.chunks), b"]"))
        # sorting a sorted run (a copied index) with a few entries after it takes one pass
        index = sorted(self.entries)
        return body, _packed(_U32, [*self.starts, self.size]), _packed(_U64, index)


def _table_sections(mapping: dict[Any, Any], encode: Callable[[Any, Any], list[Any]]) -> tuple[bytes, bytes, bytes]:
    """A table's sections; a restored table's rows nobody touched are copied, not decoded."""
    writer = _TableWriter()
    if isinstance(mapping, _LazyTable) and mapping._lazy and mapping._raw is None:
        table, made = mapping.table, mapping._made
        changed = {table.row_of(key): key for key in made}
        if mapping._removed:
            skipped = {table.row_of(key) for key in mapping._removed}
            hashes: list[int] | None = table.hashes()
        else:  # no row goes: each keeps its number and its key, so the table's index stands
            skipped = set()
            hashes = None
            writer.entries.extend(table.index)
        begin = 0
        for row in sorted({*changed, *skipped}):
            writer.copy(table, begin, row, hashes)
            if row in changed:
                key = changed[row]
                writer.add((key,), (encode(key, made[key]),), indexed=hashes is None)
            begin = row + 1
        writer.copy(table, begin, table.count, hashes)
        keys, values = list(dict.keys(mapping)), list(dict.values(mapping))
    else:
        keys, values = list(mapping.keys()), list(mapping.values())
    writer.add(keys, map(encode, keys, values))
    return writer.sections()


def _id_hashes(events: list[Event], ids: list[str]) -> list[int]:
    """The sorted hashes of the effective events' ``ids``; a restored list's are copied, and
    only the ids appended since are hashed."""
    if isinstance(events, _LazyEvents) and events._load is not None:
        return sorted([*events.hashes, *_key_hashes(ids[len(events.hashes) :])])
    return sorted(_key_hashes(ids))


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
        digest = fold.digest()  # a restored fold's without reading its events
        sections = {
            "ids": _json(digest.ids),
            "ids.index": _packed(_U32, _id_hashes(fold.events, digest.ids)),
            "stage_before": _json("".join(_prefixed(fold.stage_before, _STAGE_CODE.__getitem__))),
            "types": _json("".join(map(_TYPE_CODE.__getitem__, digest.kinds))),
        }
        for name, encode in _ROWS.items():
            rows, starts, index = _table_sections(getattr(fold, name), encode)
            sections.update({name: rows, f"{name}.starts": starts, f"{name}.index": index})
        bodies = [sections[name] for name in _SECTIONS]
    header = {
        "format": FORMAT,
        "fingerprint": FINGERPRINT,
        "negotiation": fold.negotiation,
        "stage": fold.stage.value,
        "paused_from": None if fold.paused_from is None else fold.paused_from.value,
        "any_answered": fold.any_proposal_answered,
        "open_proposals": fold.open_proposals,
        "counts": {"ids": len(fold.events), **{name: len(getattr(fold, name)) for name in _TABLES}},
        "sections": {name: len(body) for name, body in zip(_SECTIONS, bodies, strict=True)},
        "retractions": [r.to_dict() for r in fold.retractions],
        "retracted": [e.to_dict() for e in fold.retracted.values()],
        "agreements": [
            [a.id, a.kind, a.title, a.parties, a.signed, a.ratified, a.withdrawn, a.entered_into_force, a.terminated]
            for a in fold.agreements.values()
        ],
        "text": None if fold.text is None else fold.text.id,
        "parties": list(fold.parties.items()),
        "types": _TYPE_NAMES,
        "first_answer": digest.first_answer,
        "exposed": list(digest.exposed.items()),
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

    def view(self, name: str) -> memoryview:
        begin, end = self._spans[name]
        return self._data[begin:end]

    def decode(self, name: str) -> Any:
        with gc_paused():
            return json.loads(bytes(self.view(name)))

    def table(self, name: str, count: int, prefix: _Prefix) -> _Table:
        return _Table(
            self.view(name),
            _unpacked(_U32, self.view(f"{name}.starts")),
            _unpacked(_U64, self.view(f"{name}.index")),
            count,
            _TABLES[name],
            prefix.covers if name in _KEYED_BY_ID else None,
            prefix.covered,
        )


class _Table:
    """A table of the snapshot: a row is found by its key without decoding the others."""

    __slots__ = ("_covered", "_covers", "_found", "_key", "count", "index", "rows", "starts")

    def __init__(
        self,
        rows: memoryview,
        starts: Sequence[int],
        index: Sequence[int],
        count: int,
        key: Callable[[Any], Any],
        covers: Callable[[str], bool] | None = None,
        covered: dict[str, bool] | None = None,
    ) -> None:
        if len(starts) != count + 1 or len(index) != count or (count and starts[count] != len(rows)):
            msg = f"a table of {count} rows has {len(starts) - 1} starts and {len(index)} hashes"
            raise ValueError(msg)
        self.rows = rows
        self.starts = starts
        self.index = index
        self.count = count
        self._key = key
        self._covers = covers  # for a table keyed by ids: False if the id is certainly not a key
        self._covered = {} if covered is None else covered  # what covers() answered so far
        self._found: dict[Any, int] = {}  # the row of each key found so far

    def _row(self, row: int) -> Any:
        return json.loads(bytes(self.rows[self.starts[row] : self.starts[row + 1] - 1]))

    def find(self, key: Any) -> Any:
        """The raw row of ``key``, or MISSING: a binary search, then the decoding of one row."""
        covers = self._covers
        if covers is not None and key is not None:
            event_id = key if type(key) is str else key[0]
            covered = self._covered.get(event_id)  # the tail's ids: known not covered, no call
            if not (covers(event_id) if covered is None else covered):
                return MISSING
        wanted = _key_hash(key)
        index = self.index
        at = bisect.bisect_left(index, wanted << 32)
        while at < len(index) and index[at] >> 32 == wanted:
            row = index[at] & _ROW
            raw = self._row(row)
            if self._key(raw) == key:
                self._found[key] = row
                return raw
            at += 1
        return MISSING

    def row_of(self, key: Any) -> int:
        """The row of a key of the table."""
        row = self._found.get(key)
        if row is None:
            if self.find(key) is MISSING:
                raise KeyError(key)
            row = self._found[key]
        return row

    def load(self) -> dict[Any, Any]:
        """Every raw row by key, in order."""
        with gc_paused():
            rows = json.loads(bytes(self.rows))
            return dict(zip(map(self._key, rows), rows, strict=True))

    def hashes(self) -> list[int]:
        """The hash of each row's key, by row."""
        out = [0] * self.count
        for entry in self.index:
            out[entry & _ROW] = entry >> 32
        return out


class _LazyTable(LazyDict[K, V]):
    """A fold's table restored from a snapshot: its rows are found by key in :class:`_Table`."""

    __slots__ = ("table",)

    def __init__(self, table: _Table, build: Callable[[Any], V], prepare: Callable[[], object] | None = None):
        super().__init__(table.count, table.load, build, prepare, table.find)
        self.table = table


class _LazyEvents(LazyList[Event], Covered):
    """A fold's effective events restored from a snapshot, with the sorted hashes of their ids
    and, until they are read, their digest (decoded on first use)."""

    __slots__ = ("_digest", "_digested", "hashes")

    def __init__(
        self,
        count: int,
        load: Callable[[], list[Event]],
        raw: Callable[[], Any],
        hashes: Sequence[int],
        digest: Callable[[], Digest],
    ) -> None:
        super().__init__(count, load, raw)
        self.hashes = hashes
        self._digest = digest
        self._digested: Digest | None = None

    def unread(self) -> tuple[Digest, list[Event]] | None:
        if self._load is None:
            return None
        digested = self._digested
        if digested is None:
            digested = self._digested = self._digest()
            if len(digested.ids) != self._count or len(digested.kinds) != self._count:
                msg = f"the snapshot's digest holds {len(digested.ids)} ids and {len(digested.kinds)} types for {self._count} events"
                raise StoreError(msg)
        return digested, list(list.__iter__(self))


def _doc(raw: list[Any]) -> DocRecord:
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


def _contact(raw: list[Any]) -> ContactRecord:
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
    hashes = _unpacked(_U32, sections.view("ids.index"))
    if len(hashes) != count:
        msg = f"the snapshot holds {len(hashes)} id hashes for {count} ids"
        raise ValueError(msg)
    prefix = _Prefix(source, excluded, count, hashes)
    codes = {_type_code(i): kind for i, kind in enumerate(header["types"])}

    def digest() -> Digest:
        kinds = list(map(codes.__getitem__, sections.decode("types")))
        exposed = {party: bool(value) for party, value in header["exposed"]}
        return Digest(sections.decode("ids"), kinds, header["first_answer"], exposed)

    fold.events = _LazyEvents(count, prefix.events, lambda: sections.decode("ids"), hashes, digest)
    fold.stage_before = LazyList(
        count,
        lambda: [_CODE_STAGE[c] for c in sections.decode("stage_before")],
        lambda: sections.decode("stage_before"),
    )
    fold.all_ids = LazySet(count + len(excluded), lambda: (*sections.decode("ids"), *excluded), prefix.has)
    fold.by_id = _LazyById(prefix)

    def table(name: str) -> _Table:
        return sections.table(name, int(counts[name]), prefix)

    fold.ref_count = _LazyTable(table("ref_count"), operator.itemgetter(1))
    fold.docs = _LazyTable(table("docs"), _doc)
    fold.contacts = _LazyTable(table("contacts"), _contact)
    fold.positions = _LazyTable(table("positions"), _position)
    fold.owed = _LazyTable(table("owed"), operator.itemgetter(2))
    agreements = {row[0]: _agreement(row) for row in header["agreements"]}
    fold.agreements = agreements
    fold.text = None if header["text"] is None else agreements[header["text"]]

    def deadline(row: list[Any]) -> DeadlineRecord:
        deadline_id = row[0]
        event = prefix.event(deadline_id)
        if not isinstance(event, DeadlineSet):
            msg = f"the snapshot's deadline {deadline_id!r} is not a DeadlineSet the store holds"
            raise StoreError(msg)
        record = DeadlineRecord(event)
        record.met_by, record.lapsed_by = row[1], row[2]
        return record

    deadlines: LazyDict[str, DeadlineRecord] = _LazyTable(table("deadlines"), deadline, prefix.events)
    fold.deadlines = deadlines
    fold.deadlines_by_ref = _LazyTable(table("deadlines_by_ref"), lambda row: [deadlines[i] for i in row[1]])
    fold.parties = dict(header["parties"])
    return fold


def _position(row: list[Any]) -> tuple[Stance, str]:
    return (_STANCES[row[2]], row[3])


class _Prefix:
    """The effective events a snapshot covers, read from the store once, on first need."""

    __slots__ = ("by_id", "count", "covered", "excluded", "hashes", "loaded", "source")

    def __init__(self, source: EventSource, excluded: frozenset[str], count: int, hashes: Sequence[int]) -> None:
        self.source = source
        self.excluded = excluded  # retracted events and retractions: not effective
        self.count = count
        self.hashes = hashes  # of the effective events' ids, sorted
        self.loaded: list[Event] | None = None
        self.by_id: dict[str, Event] = {}
        self.covered: dict[str, bool] = {}  # what covers() answered so far

    def covers(self, event_id: str) -> bool:
        """False if the snapshot certainly holds no effective event with this id (memoized)."""
        covered = self.covered.get(event_id)
        if covered is None:
            wanted = _key_hash(event_id)
            at = bisect.bisect_left(self.hashes, wanted)
            covered = self.covered[event_id] = at < len(self.hashes) and self.hashes[at] == wanted
        return covered

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
        """The effective event with this id, or None (no store read unless its hash is there)."""
        if event_id in self.excluded:
            return None
        if self.loaded is not None:
            return self.by_id.get(event_id)
        return self.source.event(event_id) if self.covers(event_id) else None

    def has(self, event_id: str) -> bool:
        """Whether the snapshot covers the id (no store read unless its hash is there)."""
        covered = self.covered.get(event_id)
        if covered is None:
            covered = self.covers(event_id)
        return (covered and self.source.has(event_id)) or event_id in self.excluded


class _LazyById(dict[str, Event]):
    """A fold's effective events by id: a lookup reads that one event from the store."""

    __slots__ = ("_prefix", "_seen")

    def __init__(self, prefix: _Prefix) -> None:
        super().__init__()
        self._prefix: _Prefix | None = prefix
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
        if found is None and isinstance(key, str):
            found = self._prefix.event(key)
            if found is not None:
                self._seen[key] = found
        return found

    def get(self, key: str, default: Any = None) -> Any:
        found = dict.get(self, key)  # the tail's events: no call further
        if found is None:
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
