"""Reading and writing JSON Lines logs, with errors that name the file and the line.

A log file may hold several negotiations, told apart by each line's ``negotiation``; a line
without one belongs to the negotiation the caller names, or else to the file's stem
(``events/jcpoa.jsonl`` -> ``jcpoa``). An event without an ``id`` gets one derived from its
content, so reading the same file twice gives the same ids; identical lines get ``-2``,
``-3``, ... in the order they appear.

A log may declare the contract version it follows in a first line holding only
``{"contract": N}``; a log without one follows the current version
(:data:`negotiation.codec.CONTRACT_VERSION`), and :func:`write_log` writes none. Events of an
older version are upcast as they are read (:mod:`negotiation.codec`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import os
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

import attrs

from negotiation import codec
from negotiation.codec import contract_header, decode_line, dump_event, upcast
from negotiation.dates import PartialDate
from negotiation.errors import EventRejected, LogSyntaxError, NegotiationError, UnknownNegotiation
from negotiation.events import Event
from negotiation.fold import Fold
from negotiation.replay import replay
from negotiation.state import NegotiationState

__all__ = [
    "Log",
    "LogStream",
    "LoggedEvent",
    "UnknownField",
    "check_log",
    "errors_in",
    "read_log",
    "replay_log",
    "unknown_fields",
    "write_log",
]

Source = str | os.PathLike[str] | Iterable[str] | Iterable[bytes]


@attrs.frozen
class LoggedEvent:
    """An event and the line of the log it was read from."""

    event: Event
    line: int


@attrs.frozen
class Log:
    """A parsed log: its events grouped by negotiation, each with its line.

    Attributes:
        name: the file's path as given, or ``"<lines>"``.
        negotiations: negotiation id -> its events in log order.
        errors: the lines that could not be read (only when read with ``collect_errors``).
    """

    name: str
    negotiations: dict[str, list[LoggedEvent]]
    errors: tuple[NegotiationError, ...] = ()
    _lines: dict[str, dict[int, int]] = attrs.field(factory=dict, init=False, eq=False, repr=False)

    def ids(self) -> list[str]:
        """The negotiations in the log, in order of first appearance."""
        return list(self.negotiations)

    def select(self, negotiation: str | None = None) -> str:
        """The negotiation to work on: the one named, or the only one in the log.

        Raises:
            UnknownNegotiation: the named one is not in the log, or none is named and the log
                holds several (or none).
        """
        if negotiation is not None:
            if negotiation not in self.negotiations:
                known = ", ".join(map(repr, self.negotiations)) or "none"
                msg = f"negotiation {negotiation!r} is not in this log; it holds: {known}"
                raise UnknownNegotiation(msg, path=self.name)
            return negotiation
        if len(self.negotiations) == 1:
            return next(iter(self.negotiations))
        if not self.negotiations:
            msg = "the log holds no event"
        else:
            msg = f"the log holds several negotiations ({', '.join(map(repr, self.negotiations))}); name one"
        raise UnknownNegotiation(msg, path=self.name)

    def events(self, negotiation: str | None = None) -> list[Event]:
        """The events of one negotiation (see :meth:`select`), in log order."""
        return [le.event for le in self.negotiations[self.select(negotiation)]]

    def locate(self, error: NegotiationError, negotiation: str) -> NegotiationError:
        """Fill in the file and line of the event an error is about."""
        line = None
        if isinstance(error, EventRejected):
            lines = self._lines.get(negotiation)
            if lines is None:  # built once per negotiation, however many errors it has
                lines = self._lines[negotiation] = {
                    id(le.event): le.line for le in self.negotiations.get(negotiation, ())
                }
            line = lines.get(id(error.event))
        return error.locate(path=self.name, line=line, negotiation=negotiation)


def _lines(source: Source) -> tuple[str, str | None, Iterator[tuple[int, str | bytes]], IO[bytes] | None]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            handle = path.open("rb")
        except OSError as e:
            msg = f"cannot read the log: {e.strerror}"
            raise NegotiationError(msg, path=os.fspath(source)) from e
        return os.fspath(source), _stem(path), enumerate(handle, start=1), handle
    name = getattr(source, "name", None)  # an open file: named by its path, if it has one
    if isinstance(name, str) and not name.startswith("<"):
        return name, _stem(Path(name)), enumerate(source, start=1), None
    return "<lines>", None, enumerate(source, start=1), None


def _stem(path: Path) -> str | None:
    """The file's stem, the default negotiation of its lines; None when the name is not valid
    UTF-8 (its undecodable bytes would make an id that cannot be stored or printed)."""
    try:
        path.stem.encode()
    except UnicodeEncodeError:
        return None
    return path.stem


def read_log(
    source: Source, *, negotiation: str | None = None, collect_errors: bool = False, name: str | None = None
) -> Log:
    """Parse a JSONL log (a path, an open file, or any iterable of lines) into a :class:`Log`.

    Args:
        source: a file path, an open file (text or binary), or lines (str or bytes).
        negotiation: the negotiation of lines that name none (default: the file's stem).
        collect_errors: keep reading past bad lines and return them in :attr:`Log.errors`
            instead of raising the first.
        name: what errors call the source (default: its path, or ``"<lines>"``).

    The first line that is not blank may declare the log's contract version
    (``{"contract": 1}``); the events of an older version are upcast to the current one.

    Raises:
        LogSyntaxError: a line is not UTF-8 or not a JSON object; the log declares a contract
            version this library cannot read, or declares one after its first line (with
            file and line).
        InvalidEvent: a line is not a well-formed event (with file, line and event id).
        UnknownNegotiation: lines of iterable input name no negotiation and none was given.
    """
    groups: dict[str, list[LoggedEvent]] = {}
    errors: list[NegotiationError] = []
    stream = LogStream(source, negotiation=negotiation, name=name, errors=errors if collect_errors else None)
    for group, logged in stream:
        groups.setdefault(group, []).append(logged)
    return Log(stream.name, groups, tuple(errors))


class LogStream(Iterator[tuple[str, LoggedEvent]]):
    """The events of a JSONL log one at a time, each with its negotiation: what :func:`read_log`
    reads, without holding the log in memory (``append`` of a large file streams through it).

    ``name`` is what errors call the source (default: its path, or ``"<lines>"``). Bad lines
    raise as in :func:`read_log`; with an ``errors`` list they are added to it instead, and
    reading goes on. The file is closed when the iteration ends, or by :meth:`close` (or
    ``with``) before that. :attr:`unknown` counts the fields read so far that their types do
    not define (kept in each event's ``extra``; :func:`unknown_fields` names them).
    """

    def __init__(
        self,
        source: Source,
        *,
        negotiation: str | None = None,
        name: str | None = None,
        errors: list[NegotiationError] | None = None,
    ) -> None:
        found, stem, self._numbered, self._handle = _lines(source)
        self.name = name or found
        self.unknown = 0
        self._events = self._read(negotiation or stem, errors)
        self._ahead: list[tuple[str, LoggedEvent]] = []

    def __next__(self) -> tuple[str, LoggedEvent]:
        return self._ahead.pop() if self._ahead else next(self._events)

    def close(self) -> None:
        """Close the file (also done when the iteration ends)."""
        self._events.close()
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> LogStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def empty(self) -> bool:
        """Whether no event is left (reads one ahead, which the iteration then gives first)."""
        if not self._ahead:
            self._ahead.extend(itertools.islice(self._events, 1))
        return not self._ahead

    def _read(self, default: str | None, errors: list[NegotiationError] | None) -> Generator[tuple[str, LoggedEvent]]:
        generated: dict[str, dict[str, int]] = {}
        contract = codec.CONTRACT_VERSION  # unless the first line declares another
        first = True
        try:
            for number, raw in self._numbered:
                try:
                    text = _decode(raw, first=number == 1)
                    if not text.strip():
                        continue
                    header, first = first, False
                    data = decode_line(text)
                    declared = contract_header(data)
                    if declared is not None:
                        if not header:
                            msg = 'the contract version ({"contract": N}) may be declared on the first line only'
                            raise LogSyntaxError(msg)
                        contract = declared
                        continue
                    event = Event.from_dict(upcast(data, contract))
                    group = event.negotiation or default
                    if group is None:
                        msg = "the event names no negotiation and none was given (name one with -n)"
                        raise UnknownNegotiation(msg, event_id=event.id)
                    if "id" not in data:
                        seen = generated.setdefault(group, {})
                        count = seen[event.id] = seen.get(event.id, 0) + 1
                        if count > 1:
                            event = attrs.evolve(event, id=f"{event.id}-{count}")
                except NegotiationError as e:
                    e.locate(path=self.name, line=number)
                    if errors is None:
                        raise
                    errors.append(e)
                    continue
                self.unknown += len(event.extra)
                yield group, LoggedEvent(event, number)
        finally:
            if self._handle is not None:
                self._handle.close()


def _decode(raw: str | bytes, *, first: bool) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError as e:
        msg = f"not UTF-8 text: {e.reason} at byte {e.start}"
        raise LogSyntaxError(msg) from None


def replay_log(
    source: Source | Log,
    *,
    negotiation: str | None = None,
    as_of: PartialDate | dt.date | dt.datetime | str | None = None,
    known_at: dt.datetime | dt.date | str | None = None,
    strict: bool = True,
) -> NegotiationState:
    """Read a log and replay one of its negotiations (see :meth:`Log.select`).

    Errors name the file, the line, the event id and the culprit.
    """
    log = source if isinstance(source, Log) else read_log(source, negotiation=negotiation)
    chosen = log.select(negotiation)
    try:
        state = replay(log.events(chosen), negotiation=chosen, as_of=as_of, known_at=known_at, strict=strict)
    except EventRejected as e:
        raise log.locate(e, chosen) from None
    for rejection in state.rejected:
        log.locate(rejection, chosen)
    return state


def check_log(source: Source, *, negotiation: str | None = None, name: str | None = None) -> list[NegotiationError]:
    """Every error in a log, in line order: unreadable lines, then what replay refuses.

    Each negotiation is replayed leniently, so one refused event does not hide the next
    (an event that depends on a refused one is reported too).
    """
    return errors_in(read_log(source, negotiation=negotiation, collect_errors=True, name=name), negotiation)


def errors_in(log: Log, negotiation: str | None = None) -> list[NegotiationError]:
    """What :func:`check_log` reports, for a log already read with ``collect_errors``."""
    found: list[NegotiationError] = list(log.errors)
    chosen: Sequence[str] = [log.select(negotiation)] if negotiation is not None else log.ids()
    for name in chosen:
        fold = Fold(name)
        for logged in log.negotiations[name]:
            fold.apply(logged.event, strict=False)
        found += [log.locate(e, name) for e in fold.rejected]
    return sorted(found, key=lambda e: e.line or 0)


@attrs.frozen
class UnknownField:
    """A field of a log line that the contract does not define for the line's type: kept in
    the event's ``extra`` (so that the line writes back as it was), and often a typo."""

    path: str
    line: int
    event_id: str
    type: str
    field: str
    suggestion: str | None  # the type's field it most resembles, if any

    def __str__(self) -> str:
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        return (
            f"{self.path}:{self.line} event {self.event_id!r}: {self.type} has no field "
            f"{self.field!r} (kept in extra){hint}"
        )


def unknown_fields(log: Log, negotiation: str | None = None) -> list[UnknownField]:
    """The fields of the log's lines (of ``negotiation`` only, if named) that their types do
    not define, in line order, each with the defined field it most resembles."""
    chosen = [log.select(negotiation)] if negotiation is not None else log.ids()
    found = []
    for name in chosen:
        for logged in log.negotiations[name]:
            event = logged.event
            if not event.extra:
                continue
            known = [f.name for f in attrs.fields(type(event)) if f.name != "extra"]
            for key in event.extra:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
                found.append(
                    UnknownField(log.name, logged.line, event.id, event.TYPE, key, close[0] if close else None)
                )
    return sorted(found, key=lambda u: u.line)


def write_log(events: Iterable[Event], out: IO[str] | str | os.PathLike[str]) -> int:
    """Write events as JSON Lines to an open text file or a path (created or replaced, UTF-8);
    returns how many were written."""
    if isinstance(out, str | os.PathLike):
        with Path(out).open("w", encoding="utf-8") as handle:
            return write_log(events, handle)
    count = 0
    for event in events:
        out.write(dump_event(event))
        out.write("\n")
        count += 1
    return count
