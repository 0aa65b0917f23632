"""The error family: one root, :class:`NegotiationError`, and subclasses people can act on.

Every error names the offending value, what was expected and, where known, where it came
from: the file and line of a log, the negotiation and the event id. The location is filled
in by whoever knows it (the log reader knows lines, replay knows event ids), so the message
is composed when it is printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from negotiation.events import Event

__all__ = [
    "ConcurrencyError",
    "DatedBeforeReference",
    "DuplicateEventId",
    "EventRejected",
    "InvalidDate",
    "InvalidEvent",
    "InvalidPolicy",
    "InvalidReference",
    "LogSyntaxError",
    "NegotiationError",
    "NotPermitted",
    "StoreError",
    "StoreWarning",
    "UnknownNegotiation",
    "UnknownReference",
    "WrongActor",
]


class NegotiationError(Exception):
    """The root of every error this library raises on purpose.

    Attributes:
        message: what went wrong, without the location.
        path: the log file the culprit came from, if any.
        line: its 1-based line number in that file, if any.
        event_id: the id of the culprit event, if known.
        negotiation: the negotiation it belongs to, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        event_id: str | None = None,
        negotiation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.event_id = event_id
        self.negotiation = negotiation

    def locate(
        self, *, path: str | None = None, line: int | None = None, negotiation: str | None = None
    ) -> NegotiationError:
        """Fill in where the culprit came from (keeps what is already known); returns self."""
        if self.path is None:
            self.path = path
        if self.line is None:
            self.line = line
        if self.negotiation is None:
            self.negotiation = negotiation
        return self

    @property
    def where(self) -> str:
        """``file:line: event 'id'`` as far as known, or an empty string."""
        parts = []
        if self.path is not None:
            parts.append(f"{self.path}:{self.line}" if self.line is not None else self.path)
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.event_id is not None:
            parts.append(f"event {self.event_id!r}")
        return " ".join(parts)

    def __str__(self) -> str:
        where = self.where
        return f"{where}: {self.message}" if where else self.message


class LogSyntaxError(NegotiationError, ValueError):
    """A log line is not a JSON object."""


class InvalidEvent(NegotiationError, ValueError):
    """An event is malformed: unknown type, missing or ill-typed field."""


class InvalidDate(InvalidEvent):
    """A date or timestamp that does not exist or is not in a supported form."""


class EventRejected(NegotiationError, ValueError):
    """A well-formed event that may not be appended where it stands.

    Attributes:
        event: the rejected event.
        stage: the stage of the negotiation when it was rejected.
    """

    def __init__(self, message: str, *, event: Event, stage: str, **where: object) -> None:
        super().__init__(
            message,
            event_id=event.id,
            negotiation=event.negotiation,
            **where,  # type: ignore[arg-type]
        )
        self.event = event
        self.stage = stage


class DuplicateEventId(EventRejected):
    """An event id that is already used in the negotiation."""


class InvalidReference(EventRejected):
    """A ``ref`` naming an event of the wrong kind or in the wrong condition."""


class UnknownReference(InvalidReference):
    """A ``ref`` naming no earlier event of the negotiation (or a retracted one)."""


class WrongActor(EventRejected):
    """An actor (or party) who may not make this move."""


class DatedBeforeReference(EventRejected):
    """An event dated before an event it references."""


class NotPermitted(EventRejected):
    """An event type that the stage does not permit.

    Attributes:
        permitted: the event types the stage permitted at that point.
    """

    def __init__(self, message: str, *, event: Event, stage: str, permitted: Sequence[str], **where: object) -> None:
        super().__init__(message, event=event, stage=stage, **where)
        self.permitted = tuple(permitted)


class InvalidPolicy(NegotiationError, ValueError):
    """A simulation policy that cannot be used: unreadable, an unknown key or event type, a bad weight."""


class UnknownNegotiation(NegotiationError, LookupError):
    """A negotiation id that is not in the log or store, or an ambiguous choice."""


class StoreError(NegotiationError, RuntimeError):
    """The store cannot do what was asked: a locked or unreadable database, a bad schema."""


class ConcurrencyError(StoreError):
    """An append whose ``expected_version`` is not the negotiation's current version."""

    def __init__(self, message: str, *, expected: int, actual: int, **where: object) -> None:
        super().__init__(message, **where)  # type: ignore[arg-type]
        self.expected = expected
        self.actual = actual


class StoreWarning(UserWarning):
    """Something a store did that its user should know of, though nothing failed: a migration
    that left out of the read model the events today's rules refuse."""
