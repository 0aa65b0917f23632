"""Moving JSONL logs into and out of a store, and checking a store as one checks a log.

:func:`import_log` appends a whole file in one transaction (all its events or none), with
errors that name the file and the line; :func:`export_log` writes a negotiation back as JSON
Lines that re-import to the same events (ids, ``negotiation`` and ``recorded`` included);
:func:`check_store` reports what :func:`~negotiation.check_log` reports for a file, plus a
broken hash chain.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import IO

from negotiation.errors import EventRejected, NegotiationError, StoreError, UnknownNegotiation
from negotiation.events import Event
from negotiation.fold import Fold
from negotiation.logfile import Log, LogStream, Source, write_log
from negotiation.store.base import STREAM_CHUNK, EventStore

__all__ = ["EXPORT_CHUNK", "check_store", "export_log", "import_log", "select_negotiation"]


def import_log(
    store: EventStore,
    source: Source | Log | LogStream,
    *,
    negotiation: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Append every event of a log to the store in one transaction; all or none.

    Lines that name no negotiation belong to ``negotiation`` (default: the file's stem), as
    for :func:`~negotiation.read_log`. Events already stored with the same content are
    skipped, so importing a file again, or a file that has grown since, appends only what
    is new. A file (or any source but a :class:`Log` read already) is streamed: read and
    written a chunk at a time (:meth:`~negotiation.store.base.EventStore.append_stream`), so
    a log larger than memory imports. Returns each negotiation's new version.

    Raises:
        LogSyntaxError, InvalidEvent: a line is not an event (file and line named).
        EventRejected: an event is not permitted where it stands (file and line named).
        StoreError: the store cannot write; nothing was written.
    """
    if isinstance(source, Log):
        batches = {name: [logged.event for logged in events] for name, events in source.negotiations.items()}
        try:
            return store.append_many(batches, progress=progress)
        except EventRejected as e:
            raise source.locate(e, e.negotiation or "") from None
    stream = source if isinstance(source, LogStream) else LogStream(source, negotiation=negotiation)
    recent: OrderedDict[int, tuple[Event, int]] = OrderedDict()  # the lines of the events in flight

    def pairs() -> Iterator[tuple[str, Event]]:
        for name, logged in stream:
            recent[id(logged.event)] = (logged.event, logged.line)
            if len(recent) > 2 * STREAM_CHUNK:
                recent.popitem(last=False)
            yield name, logged.event

    try:
        return store.append_stream(pairs(), progress=progress)
    except EventRejected as e:
        found = recent.get(id(e.event))
        raise e.locate(path=stream.name, line=None if found is None else found[1]) from None


#: Events :func:`export_log` reads from the store at a time.
EXPORT_CHUNK = 1000


def export_log(store: EventStore, negotiation: str, out: IO[str]) -> int:
    """Write a negotiation's events as JSON Lines in log order; returns how many.

    The events are read :data:`EXPORT_CHUNK` at a time, so a long negotiation is not held in
    memory whole.

    Raises:
        UnknownNegotiation: the store holds no event of it.
    """
    if not store.version(negotiation):
        select_negotiation(store, negotiation)  # which says what the store holds

    def chunks() -> Iterator[Event]:
        version = 0
        while chunk := store.read(negotiation, after_version=version, limit=EXPORT_CHUNK):
            yield from (stored.event for stored in chunk)
            version = chunk[-1].version

    return write_log(chunks(), out)


def select_negotiation(store: EventStore, negotiation: str | None = None) -> str:
    """The negotiation to work on: the one named, or the only one in the store.

    Raises:
        UnknownNegotiation: the named one is not in the store, or none is named and the store
            holds several (or none).
    """
    names = [s.id for s in store.negotiations()]
    where = getattr(store, "path", None) or "the store"
    if negotiation is not None:
        if negotiation not in names:
            known = ", ".join(map(repr, names)) or "none"
            msg = f"negotiation {negotiation!r} is not in {where}; it holds: {known}"
            raise UnknownNegotiation(msg, negotiation=negotiation)
        return negotiation
    if len(names) == 1:
        return names[0]
    if not names:
        msg = f"{where} holds no negotiation"
    else:
        msg = f"{where} holds several negotiations ({', '.join(map(repr, names))}); name one"
    raise UnknownNegotiation(msg)


def check_store(store: EventStore, negotiation: str | None = None) -> list[NegotiationError]:
    """Every error in a store: a broken hash chain, then what today's rules refuse.

    Each negotiation (or the one named) is replayed leniently, so one refused event does not
    hide the next; an error names the negotiation and the event, and its ``line`` is the
    event's version in the negotiation.
    """
    names = (
        [select_negotiation(store, negotiation)] if negotiation is not None else [s.id for s in store.negotiations()]
    )
    found: list[NegotiationError] = []
    verification = store.verify()
    if not verification.ok:
        found.append(StoreError(str(verification), negotiation=verification.negotiation))
    where = getattr(store, "path", None)
    for name in names:
        fold = Fold(name)
        for stored in store.read(name):
            before = len(fold.rejected)
            fold.apply(stored.event, strict=False)
            for error in fold.rejected[before:]:
                found.append(error.locate(path=where, line=stored.version, negotiation=name))
    return found
