"""Snapshots of a fold: its records as versioned JSON, restored without replaying.

A store keeps the latest snapshot of each negotiation beside its events, so that loading a
long negotiation replays only the events after it (its tail). A snapshot is two lines of
UTF-8 JSON: a header ``{"format": 7, "fingerprint": ..., "sha256": ...}`` and the body, the
fold's stage, counters and records (documents, contacts, agreements, deadlines, positions,
parties, owed moves), but not the events, which are in the store already: the restored fold
reads them back when something needs them (:meth:`negotiation.fold.Fold.complete`).

A snapshot is trusted only by the rules that wrote it: :data:`FINGERPRINT` is derived from the
stage machine (:data:`~negotiation.machine.TRANSITIONS`), :data:`RULES_VERSION`, the format
and the records' fields, and a snapshot with another fingerprint is ignored (the store replays
instead). ``sha256`` is the body's checksum: :func:`check` verifies it, and ``verify`` checks
every stored snapshot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from negotiation.dates import PartialDate
from negotiation.errors import StoreError
from negotiation.events import Event, Role, Stance
from negotiation.fold import Fold
from negotiation.machine import TRANSITIONS, Stage
from negotiation.rules import AgreementRecord, ContactRecord, DeadlineRecord, DocRecord

__all__ = ["FINGERPRINT", "FORMAT", "RULES_VERSION", "check", "fingerprint", "restore", "take"]

#: The layout of a snapshot; bump it with any change to what :func:`take` writes.
FORMAT = 8
#: The version of the rules: bump it whenever a change makes the same events fold into
#: different records (the fingerprint covers the machine and the records' fields already).
RULES_VERSION = 8


def _named(value: object) -> object:
    """A transition definition's value, with guards replaced by their names."""
    if callable(value):
        return getattr(value, "__qualname__", repr(value))
    if isinstance(value, list | tuple):
        return [_named(v) for v in value]
    return value


def fingerprint() -> str:
    """The identity of the rules a snapshot is taken under (16 hex digits)."""
    described = {
        "format": FORMAT,
        "rules": RULES_VERSION,
        "transitions": [{k: _named(v) for k, v in sorted(t.items())} for t in TRANSITIONS],
        "records": {
            cls.__name__: sorted(attrs.fields_dict(cls))
            for cls in (DocRecord, ContactRecord, AgreementRecord, DeadlineRecord)
        },
    }
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The fingerprint of this version of the rules; snapshots with another one are ignored.
FINGERPRINT = fingerprint()


#: The record classes a snapshot holds, by section; each section is stored by columns (one list
#: per field, in the class's field order), which JSON reads back about twice as fast as one
#: list per record, and which :func:`restore` turns into records with ``map``.
_SECTIONS: dict[str, type[Any]] = {
    "docs": DocRecord,
    "contacts": ContactRecord,
    "agreements": AgreementRecord,
    "deadlines": DeadlineRecord,
}

#: How a column is read back where its JSON value is not the field's value.
_READ_BACK: dict[tuple[type[Any], str], Callable[[Any], Any]] = {
    (DocRecord, "addressees"): tuple,
    (DocRecord, "co_authors"): tuple,
    (ContactRecord, "to"): tuple,
    (ContactRecord, "co_proposers"): tuple,
    (ContactRecord, "declined_by"): lambda value: None if value is None else tuple(value),
    (AgreementRecord, "parties"): tuple,
    (AgreementRecord, "approvals"): lambda value: {party: tuple(ids) for party, ids in value.items()},
    (DeadlineRecord, "deadline"): PartialDate.parse,
}


def _columns(cls: type[Any], records: Iterable[Any]) -> list[list[Any]]:
    rows = list(records)
    columns = []
    for field in attrs.fields(cls):
        column = [getattr(r, field.name) for r in rows]
        columns.append([str(v) for v in column] if field.name == "deadline" else column)  # a PartialDate
    return columns


def _records(cls: type[Any], columns: list[list[Any]]) -> list[Any]:
    read = [_READ_BACK.get((cls, f.name)) for f in attrs.fields(cls)]
    return list(map(cls, *(column if r is None else map(r, column) for r, column in zip(read, columns, strict=True))))


def take(fold: Fold) -> bytes:
    """The snapshot of ``fold`` (a whole fold: not one restored and still missing its events)."""
    if fold.history is not None:
        msg = "a fold restored from a snapshot is completed before it is snapshotted"
        raise ValueError(msg)
    text = fold.text
    held: dict[str, dict[str, Any]] = {
        "docs": fold.docs,
        "contacts": fold.contacts,
        "agreements": fold.agreements,
        "deadlines": fold.deadlines,
    }
    body = {
        "negotiation": fold.negotiation,
        "count": fold.count,
        "stage": fold.stage.value,
        "paused_from": None if fold.paused_from is None else fold.paused_from.value,
        "open_proposals": fold.open_proposals,
        "latest": None if fold.latest is None else str(fold.latest),
        **{name: _columns(cls, held[name].values()) for name, cls in _SECTIONS.items()},
        "text": None if text is None else text.id,
        "positions": [[party, item, stance.value, event] for (party, item), (stance, event) in fold.positions.items()],
        "parties": fold.parties,
        "roles": {name: role.value for name, role in fold.roles.items()},
        "owed": [[ref, party, is_doc] for (ref, party), is_doc in fold.owed.items()],
    }
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    header = {"format": FORMAT, "fingerprint": FINGERPRINT, "sha256": hashlib.sha256(data).hexdigest()}
    return json.dumps(header, separators=(",", ":")).encode() + b"\n" + data


def _split(snapshot: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and the body of a snapshot, the body checked against its checksum."""
    head, sep, body = bytes(snapshot).partition(b"\n")
    try:
        header = json.loads(head) if sep else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("sha256"), str):
        msg = "the snapshot has no header line (format 6 or later)"
        raise StoreError(msg)
    if hashlib.sha256(body).hexdigest() != header["sha256"]:
        msg = f"the snapshot's body does not match its checksum {header['sha256'][:12]}..."
        raise StoreError(msg)
    return header, body


def check(snapshot: bytes) -> str:
    """The fingerprint of a snapshot whose body matches its checksum.

    Raises:
        StoreError: the header is missing or the body does not match its checksum.
    """
    header, _ = _split(snapshot)
    return str(header.get("fingerprint"))


def restore(snapshot: bytes, history: Callable[[], Iterable[Event]], negotiation: str | None = None) -> Fold | None:
    """The fold a snapshot holds, or None if it was taken under other rules or in another format.

    The fold lacks the events the snapshot covers: ``history`` reads them back when they are
    needed (see :meth:`~negotiation.fold.Fold.complete`).

    Raises:
        StoreError: the body does not match its checksum.
    """
    header, body = _split(snapshot)
    if header.get("format") != FORMAT or header.get("fingerprint") != FINGERPRINT:
        return None
    data = json.loads(body)
    fold = Fold(negotiation if negotiation is not None else data["negotiation"])
    fold.count = data["count"]
    fold.stage = Stage(data["stage"])
    fold.paused_from = None if data["paused_from"] is None else Stage(data["paused_from"])
    fold.open_proposals = data["open_proposals"]
    fold.latest = None if data["latest"] is None else PartialDate.parse(data["latest"])
    fold.docs = {r.id: r for r in _records(DocRecord, data["docs"])}
    fold.contacts = {r.id: r for r in _records(ContactRecord, data["contacts"])}
    fold.agreements = {r.id: r for r in _records(AgreementRecord, data["agreements"])}
    fold.text = None if data["text"] is None else fold.agreements[data["text"]]
    for record in _records(DeadlineRecord, data["deadlines"]):
        fold.deadlines[record.id] = record
        fold.deadlines_by_ref.setdefault(record.ref, []).append(record)
    stances = {s.value: s for s in Stance}
    fold.positions = {(party, item): (stances[stance], event) for party, item, stance, event in data["positions"]}
    fold.parties = data["parties"]
    fold.roles = {name: Role(role) for name, role in data["roles"].items()}
    fold.owed = {(ref, party): is_doc for ref, party, is_doc in data["owed"]}
    fold.history = history
    return fold
