"""The records a fold keeps: documents, contacts, agreements and deadlines (private, mutable).

Each record has ``clone()`` for :meth:`negotiation._fold.Fold.copy`; the public, frozen views of
them are in :mod:`negotiation.state`.
"""

from __future__ import annotations

from negotiation.events import (
    ContactProposed,
    DeadlineSet,
    FrameworkAgreed,
    ProposalPublished,
    ReplyDelivered,
    TextAgreed,
)

__all__ = ["AgreementRecord", "ContactRecord", "DeadlineRecord", "DocRecord"]


class DocRecord:
    """A proposal or a reply, with its thread."""

    __slots__ = (
        "addressees",
        "answered_by",
        "answers",
        "author",
        "disclosed_by",
        "id",
        "index",
        "kind",
        "public",
        "ref",
        "title",
        "withdrawn_by",
    )

    def __init__(self, event: ProposalPublished | ReplyDelivered, addressees: tuple[str, ...], index: int) -> None:
        self.id = event.id
        self.index = index
        self.kind = "proposal" if isinstance(event, ProposalPublished) else "reply"
        self.author = event.actor
        self.addressees = addressees
        self.title = event.title if isinstance(event, ProposalPublished) else None
        self.public = event.public
        self.ref = event.ref
        self.answers: list[str] = []
        self.answered_by: dict[str, None] = {}
        self.withdrawn_by: str | None = None
        self.disclosed_by: str | None = None

    def clone(self) -> DocRecord:
        new = object.__new__(DocRecord)
        for name in DocRecord.__slots__:
            setattr(new, name, getattr(self, name))
        new.answers = list(self.answers)
        new.answered_by = dict(self.answered_by)
        return new

    @property
    def live(self) -> bool:
        return self.withdrawn_by is None


class ContactRecord:
    """A proposed contact and what became of it."""

    __slots__ = ("accepted_by", "declined_by", "held_by", "id", "index", "proposer", "to")

    def __init__(self, event: ContactProposed, index: int) -> None:
        self.id = event.id
        self.index = index
        self.proposer = event.actor
        self.to = event.to
        self.accepted_by: dict[str, str] = {}
        self.declined_by: tuple[str, str] | None = None
        self.held_by: list[str] = []

    def clone(self) -> ContactRecord:
        new = object.__new__(ContactRecord)
        for name in ContactRecord.__slots__:
            setattr(new, name, getattr(self, name))
        new.accepted_by = dict(self.accepted_by)
        new.held_by = list(self.held_by)
        return new

    @property
    def open(self) -> bool:
        return self.declined_by is None and not self.held_by


class AgreementRecord:
    """An agreed framework or text, with signatures, ratifications and withdrawals."""

    __slots__ = (
        "entered_into_force",
        "id",
        "kind",
        "parties",
        "ratified",
        "signed",
        "terminated",
        "title",
        "withdrawn",
    )

    def __init__(self, event: FrameworkAgreed | TextAgreed) -> None:
        self.id = event.id
        self.kind = "framework" if isinstance(event, FrameworkAgreed) else "text"
        self.title = event.title
        self.parties = event.parties
        self.signed: dict[str, str] = {}
        self.ratified: dict[str, str] = {}
        self.withdrawn: dict[str, str] = {}
        self.entered_into_force: str | None = None
        self.terminated: str | None = None

    def clone(self) -> AgreementRecord:
        new = object.__new__(AgreementRecord)
        for name in AgreementRecord.__slots__:
            setattr(new, name, getattr(self, name))
        new.signed = dict(self.signed)
        new.ratified = dict(self.ratified)
        new.withdrawn = dict(self.withdrawn)
        return new

    @property
    def remaining(self) -> tuple[str, ...]:
        return tuple(p for p in self.parties if p not in self.withdrawn)


class DeadlineRecord:
    """A deadline and whether it was met or lapsed."""

    __slots__ = ("event", "lapsed_by", "met_by")

    def __init__(self, event: DeadlineSet) -> None:
        self.event = event
        self.met_by: str | None = None
        self.lapsed_by: str | None = None

    def clone(self) -> DeadlineRecord:
        new = DeadlineRecord(self.event)
        new.met_by, new.lapsed_by = self.met_by, self.lapsed_by
        return new
