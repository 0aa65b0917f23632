"""The hash chain: how each event is tied to the one before it, and how that is checked.

Each negotiation's events form a chain: an event's hash is SHA-256 over the previous event's
hash (:data:`GENESIS` for the first) and the event's canonical JSON. Changing, removing or
reordering a stored event breaks the chain from that point on, which :func:`verify_rows`
finds and names by position.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import attrs

from negotiation.errors import InvalidEvent, StoreError
from negotiation.events import Event

__all__ = ["GENESIS", "Row", "Verification", "chain_hash", "parse_head", "store_hash", "verify_rows"]

#: The "previous hash" of a negotiation's first event.
GENESIS = ""


@attrs.frozen(kw_only=True)
class Verification:
    """What :meth:`EventStore.verify` found: ``ok``, or the first position that does not match.

    Attributes:
        ok: every hash chain, column and count matches.
        events: how many events were checked.
        position: the first position that does not match (a missing one included), if any.
        negotiation: the negotiation of that position, if known.
        problem: what does not match, for a person.
    """

    ok: bool
    events: int
    position: int | None = None
    negotiation: str | None = None
    problem: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"{self.events} events verified: every hash chain matches"
        where = f"position {self.position}" if self.position is not None else "the store"
        if self.negotiation is not None:
            where += f" (negotiation {self.negotiation!r})"
        return f"{where}: {self.problem}"


def chain_hash(previous: str, data: str) -> str:
    """SHA-256 (hex) over the previous event's hash and this event's canonical JSON.

    The canonical JSON is :func:`negotiation.events.compact_json`: ``to_dict()`` written
    compact with UTF-8 kept. Keys stay in the codec's order, which is fixed by the event type;
    they are not sorted, because the order of an event's ``positions`` and unknown fields is
    part of its content.
    """
    return hashlib.sha256((previous + data).encode()).hexdigest()


class Row(NamedTuple):
    """An event row as stored: its columns and its JSON text (and the event, when at hand).

    A named tuple, not an attrs class: an import builds one per event, and its first nine
    fields are the columns in the order the backends write them.
    """

    position: int
    negotiation: str
    version: int
    id: str
    type: str
    occurred: str
    recorded: str
    data: str
    hash: str
    event: Event | None = None


_COLUMN_TYPES = (("position", int), ("negotiation", str), ("version", int), *((c, str) for c in Row._fields[3:9]))


#: What a store whose recorded head disagrees with its events says besides the problem, when
#: the problem stops another operation (``verify`` reports the problem alone).
RUN_VERIFY = "; run `negotiation verify`"


def recorded_head(last: int | None, recorded: str | None, *, path: str | None = None) -> tuple[int, str]:
    """The store head recorded in a store's ``meta`` row (``POSITION:HEX``), checked against
    the ``last`` position of its events.

    Raises:
        StoreError: recorded at another position than the events end at (``message`` says
            so, ``path`` names the store where given).
    """
    at, _, head = str(recorded or "0:").partition(":")
    if int(at) != (last or 0):
        msg = (
            f"the store head was recorded at position {at} but the events end at position {last or 0}: "
            f"the store was changed outside this library{RUN_VERIFY}"
        )
        raise StoreError(msg, path=path)
    return int(at), head


def store_hash(previous: str, row: Row) -> str:
    """The store's head after ``row``: SHA-256 over the head before it (:data:`GENESIS` before
    the first row), the row's position, its event hash and its negotiation.

    The negotiations' chains prove each negotiation's order and content; this running hash
    also ties each event to its global position (the order ``follow`` delivers), so that
    positions swapped between negotiations, or a store cut short, no longer give the same head.
    """
    return hashlib.sha256(f"{previous}|{row.position}|{row.hash}|{row.negotiation}".encode()).hexdigest()


def parse_head(text: str) -> tuple[int, str]:
    """A store head as printed by ``negotiation head``: ``POSITION:HEX`` (``0:`` for an empty store).

    Raises:
        ValueError: naming the text and the form expected.
    """
    position, sep, digest = text.strip().partition(":")
    if not sep or not position.isdigit() or not (digest == "" if position == "0" else _is_digest(digest)):
        msg = f"head={text!r} must be POSITION:HEX as `negotiation head` prints it (e.g. 42:9f86d0...)"
        raise ValueError(msg)
    return int(position), digest


def _is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def verify_rows(
    rows: Iterable[Row],
    heads: Mapping[str, tuple[int, str]],
    recorded_head: tuple[int, str] | None = None,
    kept_head: tuple[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Walk stored rows in position order and check what :meth:`EventStore.verify` promises.

    ``heads`` are the read model's (version, head) per negotiation; ``recorded_head`` is the
    store head the store recorded with its last append, ``kept_head`` one kept elsewhere.
    ``progress`` is called with the number of rows checked, every thousand rows.
    """
    chains: dict[str, tuple[int, str]] = {}
    expected_position = 1
    count = 0
    running = GENESIS
    for row in rows:
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
        bad = functools.partial(
            Verification, ok=False, events=count - 1, position=row.position, negotiation=row.negotiation
        )
        for name, kind in _COLUMN_TYPES:
            value = getattr(row, name)
            if type(value) is not kind:  # SQLite keeps whatever type a cell was given
                problem = f"column {name} holds {type(value).__name__} {value!r:.40}, not {kind.__name__}"
                return bad(problem=problem)
        if row.position != expected_position:
            problem = f"missing: positions jump from {expected_position - 1} to {row.position}"
            return bad(problem=problem, position=expected_position, negotiation=None)
        expected_position += 1
        version, previous = chains.get(row.negotiation, (0, GENESIS))
        if row.version != version + 1:
            return bad(problem=f"version {row.version} follows version {version} of its negotiation")
        if chain_hash(previous, row.data) != row.hash:
            return bad(problem="hash does not match the event and the previous hash of its negotiation")
        try:
            data = json.loads(row.data)
        except ValueError:
            return bad(problem="the event is not valid JSON")
        if not isinstance(data, dict):
            return bad(problem="the event is not a JSON object")
        try:  # the validating path: loads decode rows without checking every field again
            Event.from_dict(data)
        except InvalidEvent as e:
            return bad(problem=f"the event does not read back: {e.message}")
        for column in ("negotiation", "id", "type", "occurred"):  # ``recorded``: the store's, not the event's
            value = getattr(row, column)
            if data.get(column) != value:
                return bad(problem=f"column {column}={value!r} but the event says {data.get(column)!r}")
        chains[row.negotiation] = (row.version, row.hash)
        running = store_hash(running, row)
        if kept_head is not None and row.position == kept_head[0] and running != kept_head[1]:
            problem = f"the events up to here do not give the head kept elsewhere ({kept_head[1][:12]}...)"
            return Verification(ok=False, events=count, position=row.position, problem=problem)
    if kept_head is not None and count < kept_head[0]:
        problem = f"the store ends at position {count}, before position {kept_head[0]} of the head kept elsewhere"
        return Verification(ok=False, events=count, position=count + 1, problem=problem)
    if recorded_head is not None and recorded_head != (count, running):
        problem = (
            f"the store recorded its head at position {recorded_head[0]} ({recorded_head[1][:12] or '-'}) "
            f"where its events give position {count} ({running[:12] or '-'}): positions were changed"
        )
        return Verification(ok=False, events=count, position=None, problem=problem)
    for negotiation in sorted(set(heads) | set(chains)):
        version, head = chains.get(negotiation, (0, GENESIS))
        model_version, model_head = heads.get(negotiation, (0, GENESIS))
        if (version, head) != (model_version, model_head):
            problem = (
                f"the read model records version {model_version} (head {model_head[:12] or '-'}) "
                f"where the events end at version {version} (head {head[:12] or '-'})"
            )
            return Verification(
                ok=False, events=count, position=expected_position, negotiation=negotiation, problem=problem
            )
    return Verification(ok=True, events=count)
