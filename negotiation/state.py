"""The immutable state of a negotiation and its derived views.

A :class:`NegotiationState` is what replay returns: the stage, the moves owed
(:attr:`~NegotiationState.awaiting`), the permitted next steps
(:attr:`~NegotiationState.permitted`), documents with their threads, contacts, agreements,
positions, deadlines and the timeline. Views are computed on first access and cached; the
state never changes. :meth:`~NegotiationState.apply` returns the next state.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from negotiation import rules
from negotiation.dates import PartialDate, parse_date, utc_now
from negotiation.errors import EventRejected
from negotiation.events import Event, EventRetracted, FrozenMap, Role, Stance
from negotiation.fold import Fold
from negotiation.machine import Stage
from negotiation.rules import Awaiting, Permitted

__all__ = [
    "Agreement",
    "Awaiting",
    "Contact",
    "Deadline",
    "Document",
    "NegotiationState",
    "Permitted",
    "Position",
]


def _plain(value: object) -> object:
    """A view's field as JSON-ready data."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, FrozenMap):
        return dict(value)
    if isinstance(value, Stance):
        return value.value
    if isinstance(value, PartialDate):
        return str(value)
    return value


class _View:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The view's fields as JSON-ready data, in the order they are declared."""
        view: Any = self  # an attrs class
        return {field.name: _plain(getattr(view, field.name)) for field in attrs.fields(type(view))}


@attrs.frozen(kw_only=True)
class Document(_View):
    """A proposal or a reply with its thread.

    Attributes:
        kind: ``"proposal"`` or ``"reply"``.
        addressees: ``to`` for a proposal; the author of the answered document for a reply.
        ref: the document this one answers, if any.
        answers: the ids of the replies and counter-proposals that answer it, in log order.
        answered_by: the parties who answered it.
        withdrawn_by: the ProposalWithdrawn, if withdrawn.
        disclosed_by: the DocumentDisclosed that made it public, if any.
        co_authors: the other authors of a joint document (``co_actors``).
        settled_by: the FrameworkAgreed or TextAgreed among its parties that closed it while
            it was unanswered (nobody owes an answer on it any more).
        initialled_by: the parties whose replies initialled (or signed) its text, ad
            referendum: they accept it as final on their side; it is agreed only by a TextAgreed.
        summarised_by: the statements (PositionStated) by its authors naming it while it was
            not public: public summaries of a text that stays unpublished.
        delivery_disputed_by: the statements of addressees who dispute its delivery (they say
            they never received it, or that it is no answer); the log's delivery stands.
        republished_by: the publications (DocumentDisclosed) after the first: a document
            published again (officially after a leak, in full after a summary, ...).
    """

    id: str
    kind: str
    author: str
    addressees: tuple[str, ...]
    title: str | None
    public: bool
    ref: str | None
    answers: tuple[str, ...]
    answered_by: tuple[str, ...]
    withdrawn_by: str | None
    disclosed_by: str | None
    co_authors: tuple[str, ...] = ()
    settled_by: str | None = None
    initialled_by: tuple[str, ...] = ()
    summarised_by: tuple[str, ...] = ()
    delivery_disputed_by: tuple[str, ...] = ()
    republished_by: tuple[str, ...] = ()

    @property
    def answered(self) -> bool:
        return bool(self.answers)

    @property
    def live(self) -> bool:
        return self.withdrawn_by is None


@attrs.frozen(kw_only=True)
class Contact(_View):
    """A proposed contact: who proposed it to whom, and what became of it."""

    id: str
    proposer: str
    to: tuple[str, ...]
    accepted_by: tuple[str, ...]
    declined_by: str | None
    held_by: tuple[str, ...]
    co_proposers: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``"held"``, ``"declined"``, ``"accepted"`` (by all addressees) or ``"proposed"``."""
        if self.held_by:
            return "held"
        if self.declined_by is not None:
            return "declined"
        if all(p in self.accepted_by for p in self.to):
            return "accepted"
        return "proposed"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "status": self.status}


@attrs.frozen(kw_only=True)
class Agreement(_View):
    """An agreed framework or text; signatures, ratifications and withdrawals map a party to
    the event that recorded it; ``notices`` maps a party that gave notice of a withdrawal not
    yet in effect to its notice (it is still bound)."""

    id: str
    kind: str
    title: str
    parties: tuple[str, ...]
    signed: FrozenMap[str, str]
    ratified: FrozenMap[str, str]
    withdrawn: FrozenMap[str, str]
    entered_into_force: str | None
    terminated: str | None
    witnesses: FrozenMap[str, str] = attrs.field(factory=FrozenMap)
    ratification: str = "required"
    suspended: FrozenMap[str, str] = attrs.field(factory=FrozenMap)
    joined: FrozenMap[str, str] = attrs.field(factory=FrozenMap)
    reports: tuple[str, ...] = ()
    allegations: tuple[str, ...] = ()
    instrument: str | None = None
    amends: str | None = None
    approvals: FrozenMap[str, tuple[str, ...]] = attrs.field(factory=FrozenMap)
    refused: FrozenMap[str, str] = attrs.field(factory=FrozenMap)
    refused_by: str | None = None
    status: str | None = None
    signature: str | None = None
    notices: FrozenMap[str, str] = attrs.field(factory=FrozenMap)

    @property
    def remaining(self) -> tuple[str, ...]:
        """The parties bound now: the text's and those that joined it, less those that withdrew."""
        members = (*self.parties, *(p for p in self.joined if p not in self.parties))
        return tuple(p for p in members if p not in self.withdrawn)


@attrs.frozen(kw_only=True)
class Deadline(_View):
    """A deadline, and the event that met it or that recorded its lapse.

    A deadline with a ``ref`` is met by the first later move that settles it: a reply,
    counter-proposal, contact answer, contact held, signature, ratification or entry into force
    naming the same ref (made by ``actor``, when the deadline names one). A deadline without a
    ``ref`` is met by an agreement (FrameworkAgreed or TextAgreed). ``disputed_by`` names the
    deadlines another named setter put on the same ref and actor at another date: a disputed
    term, where both stand.
    """

    id: str
    deadline: PartialDate
    ref: str | None
    actor: str | None
    met_by: str | None
    lapsed_by: str | None
    set_by: str | None = None
    superseded_by: str | None = None
    disputed_by: tuple[str, ...] = ()

    def overdue(self, on: PartialDate | dt.date | str) -> bool:
        """Whether the deadline had passed, unmet and not superseded, on that date (the whole
        deadline period)."""
        day = parse_date(on, field="on")
        return self.met_by is None and self.superseded_by is None and self.deadline.last_day < day.last_day


@attrs.frozen(kw_only=True)
class Position(_View):
    """A party's latest stance on an item, and the event that stated it."""

    party: str
    item: str
    stance: Stance
    event: str


@attrs.frozen(eq=False)
class NegotiationState:
    """A negotiation as replayed: immutable; views are computed on first use.

    Build one with :func:`negotiation.replay` (or :meth:`empty` and :meth:`apply`).

    Attributes:
        negotiation: the negotiation's id, if known.
        as_of: the ``as_of`` cut-off of the replay, if any.
        known_at: the ``known_at`` cut-off of the replay, if any.
    """

    _fold: Fold = attrs.field(alias="fold", repr=False)
    as_of: PartialDate | None = None
    known_at: dt.datetime | None = None

    @classmethod
    def empty(cls, negotiation: str | None = None) -> NegotiationState:
        """The state of a negotiation with no event yet (stage ``idle``)."""
        return cls(Fold(negotiation))

    # -- identity ----------------------------------------------------------------------------

    @property
    def negotiation(self) -> str | None:
        return self._fold.negotiation

    @property
    def stage(self) -> Stage:
        """The current stage."""
        return self._fold.stage

    @property
    def version(self) -> int:
        """How many events this state folds in (effective events, retracted ones and retractions)."""
        return self._fold.count

    @property
    def events(self) -> tuple[Event, ...]:
        """The effective events in log order: neither retracted nor retractions."""
        return tuple(self._history().events)

    @property
    def retractions(self) -> tuple[EventRetracted, ...]:
        """The EventRetracted events, in log order."""
        return tuple(self._history().retractions)

    @property
    def retracted(self) -> tuple[Event, ...]:
        """The events that were retracted (they count as never logged)."""
        return tuple(self._history().retracted.values())

    @property
    def rejected(self) -> tuple[EventRejected, ...]:
        """The events a lenient replay skipped, each with why."""
        return tuple(self._fold.rejected)

    @property
    def parties(self) -> tuple[str, ...]:
        """The parties at the table, in order of first mention: every party an effective event
        names, except the actors of statements and disclosures (who may be outsiders, like a
        newspaper that leaks a document) until another event names them."""
        return tuple(self._fold.parties)

    @property
    def roles(self) -> Mapping[str, Role]:
        """The participants in another role than party (mediators, facilitators, guarantors,
        observers), in the order they joined: they are never among :attr:`parties`."""
        return FrozenMap(self._fold.roles)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NegotiationState):
            return NotImplemented
        return (
            self.negotiation == other.negotiation
            and self.events == other.events
            and self.retractions == other.retractions
            and self._comparable() == other._comparable()
        )

    def _comparable(self) -> dict[str, Any]:
        # Equal states fold the same events into the same views; the cut-offs that produced
        # them (and ``overdue``, which defaults to ``as_of``) are not part of the state.
        data = self.to_dict(detail=True)
        for key in ("as_of", "known_at", "overdue"):
            del data[key]
        return data

    __hash__ = None  # type: ignore[assignment]

    def copy_fold(self) -> Fold:
        """A copy of the fold behind this state, to fold more events into (simulations do)."""
        return self._fold.copy()

    def _history(self) -> Fold:
        """The fold, with the events a snapshot covers read back if it was restored from one."""
        self._fold.complete()
        return self._fold

    # -- derived views -----------------------------------------------------------------------

    @functools.cached_property
    def timeline(self) -> tuple[Event, ...]:
        """Effective events and retractions sorted by ``occurred`` (stable on log order)."""
        fold = self._history()
        return tuple(sorted((*fold.events, *fold.retractions), key=lambda e: e.occurred.sort_key))

    @functools.cached_property
    def awaiting(self) -> tuple[Awaiting, ...]:
        """The moves owed, in the log order of what they answer.

        While replies are permitted, a reply (or counter-proposal) from each addressee of a
        live document who has not answered it; an answer from each addressee of an open
        contact proposal; a signature from each party of the agreed text that has not signed
        (``text_agreed``, ``signed``); a ratification from each signatory that has not
        ratified (``signed``, ``ratifying``).
        """
        return tuple(rules.awaiting(self._fold))

    @functools.cached_property
    def permitted(self) -> tuple[Permitted, ...]:
        """Every permitted next step: type, who may make it, which refs it may name.

        In the contract's order of event types. ``PositionStated`` and ``DeadlineSet`` may
        also name any earlier event as their optional ref; those refs are not listed. A type
        gives the step that names no ref first (if it has one), then one step per distinct
        set of actors, each with the refs they may name in log order.
        """
        return tuple(rules.permitted(self._fold))

    def next_steps(self, *, retractions: bool = True) -> tuple[Permitted, ...]:
        """The permitted next steps (:attr:`permitted`), or without ``retractions`` all but
        the ``EventRetracted`` step.

        Which events a retraction may name takes a pass over the whole log, the larger part
        of the work on a long one; a view that lists the other steps can skip it. Whether some
        event may be retracted needs no such pass: one may whenever :attr:`events` is not
        empty (the last of them always may).
        """
        if retractions:
            return self.permitted
        return tuple(rules.permitted(self._fold, retractions=False))

    def permits(self, event: Event) -> bool:
        """Whether :meth:`apply` would accept ``event`` now (every rule is checked)."""
        try:
            self.apply(event)
        except EventRejected:
            return False
        return True

    @functools.cached_property
    def documents(self) -> Mapping[str, Document]:
        """Every proposal and reply by id, in log order."""
        docs = self._fold.docs
        return FrozenMap(
            {
                d.id: Document(
                    id=d.id,
                    kind=d.kind,
                    author=d.author,
                    addressees=d.addressees,
                    title=d.title,
                    public=d.public,
                    ref=d.ref,
                    answers=tuple(d.answers),
                    answered_by=tuple(dict.fromkeys(docs[a].author for a in d.answers)),
                    withdrawn_by=d.withdrawn_by,
                    disclosed_by=d.disclosed_by,
                    co_authors=d.co_authors,
                    settled_by=d.settled_by,
                    initialled_by=tuple(d.initialled_by),
                    summarised_by=tuple(d.summarised_by),
                    delivery_disputed_by=tuple(d.delivery_disputed_by),
                    republished_by=tuple(d.republished_by),
                )
                for d in docs.values()
            }
        )

    @functools.cached_property
    def contacts(self) -> Mapping[str, Contact]:
        """Every proposed contact by id, in log order."""
        return FrozenMap(
            {
                c.id: Contact(
                    id=c.id,
                    proposer=c.proposer,
                    to=c.to,
                    accepted_by=tuple(c.accepted_by),
                    declined_by=c.declined_by[0] if c.declined_by else None,
                    held_by=tuple(c.held_by),
                    co_proposers=c.co_proposers,
                )
                for c in self._fold.contacts.values()
            }
        )

    @functools.cached_property
    def agreements(self) -> Mapping[str, Agreement]:
        """Agreed frameworks and texts by id, in log order."""
        return FrozenMap(
            {
                a.id: Agreement(
                    id=a.id,
                    kind=a.kind,
                    title=a.title,
                    parties=a.parties,
                    signed=FrozenMap(a.signed),
                    ratified=FrozenMap(a.ratified),
                    withdrawn=FrozenMap(a.withdrawn),
                    entered_into_force=a.entered_into_force,
                    terminated=a.terminated,
                    witnesses=FrozenMap(a.witnesses),
                    ratification="required" if a.ratified_required else "none",
                    suspended=FrozenMap(a.suspended),
                    notices=FrozenMap(a.notices),
                    joined=FrozenMap(a.joined),
                    reports=tuple(a.reports),
                    allegations=tuple(a.allegations),
                    instrument=a.instrument if a.kind == "text" else None,
                    amends=a.amends,
                    approvals=FrozenMap(a.approvals),
                    refused=FrozenMap(a.refused),
                    refused_by=a.refused_by,
                    status=a.life,
                    signature=None if a.kind != "text" else "required" if a.signature_required else "none",
                )
                for a in self._fold.agreements.values()
            }
        )

    @property
    def agreement(self) -> Agreement | None:
        """The agreed text the stages from ``text_agreed`` on follow, if any."""
        text = self._fold.text
        return None if text is None else self.agreements[text.id]

    @functools.cached_property
    def deadlines(self) -> Mapping[str, Deadline]:
        """Every deadline by id, in log order; ``disputed_by`` names the deadlines that another
        named setter put on the same thing at another date (a disputed term: both stand)."""
        records = self._fold.deadlines
        same: dict[tuple[str | None, str | None], list[str]] = {}
        for key, record in records.items():
            same.setdefault((record.ref, record.actor), []).append(key)
        return FrozenMap(
            {
                k: Deadline(
                    id=k,
                    deadline=r.deadline,
                    ref=r.ref,
                    actor=r.actor,
                    met_by=r.met_by,
                    lapsed_by=r.lapsed_by,
                    set_by=r.set_by,
                    superseded_by=r.superseded_by,
                    disputed_by=tuple(
                        o
                        for o in same[(r.ref, r.actor)]
                        if None not in (r.set_by, records[o].set_by)
                        and records[o].set_by != r.set_by
                        and records[o].deadline != r.deadline
                    ),
                )
                for k, r in records.items()
            }
        )

    def overdue(self, on: PartialDate | dt.date | str | None = None) -> tuple[Deadline, ...]:
        """The deadlines passed unmet on ``on`` (default: ``as_of``, else today, UTC)."""
        day = parse_date(on, field="on") if on is not None else self.as_of or PartialDate.of(utc_now().date())
        return tuple(d for d in self.deadlines.values() if d.overdue(day))

    @functools.cached_property
    def positions(self) -> Mapping[tuple[str, str], Position]:
        """Each party's latest stance on each item, by ``(party, item)``."""
        return FrozenMap(
            {(p, i): Position(party=p, item=i, stance=s, event=e) for (p, i), (s, e) in self._fold.positions.items()}
        )

    # -- moving on ---------------------------------------------------------------------------

    def apply(self, event: Event, *, strict: bool = True) -> NegotiationState:
        """The state after ``event``, validated as strict replay validates it.

        Raises:
            EventRejected: (strict) a subclass naming the event, the stage and what was
                expected; the state itself is unchanged (it is immutable).
        """
        return self.extend((event,), strict=strict)

    def extend(self, events: Iterable[Event], *, strict: bool = True) -> NegotiationState:
        """The state after ``events``, in order (one copy of the state, however many events)."""
        fold = self._fold.copy()
        for event in events:
            fold.apply(event, strict=strict)
        return NegotiationState(fold, as_of=self.as_of, known_at=self.known_at)

    # -- output ------------------------------------------------------------------------------

    def to_dict(self, *, detail: bool = False) -> dict[str, Any]:
        """The state as JSON-ready data: the keys of ``status --json``.

        Always ``negotiation``, ``stage``, ``awaiting``, ``permitted``, ``overdue`` and
        ``rejected``; with ``detail`` also documents, contacts, agreements, positions,
        deadlines and the timeline (event ids).
        """
        out: dict[str, Any] = {
            "negotiation": self.negotiation,
            "stage": self.stage.value,
            "as_of": None if self.as_of is None else str(self.as_of),
            "known_at": None if self.known_at is None else self.known_at.isoformat(),
            "events": len(self._history().events),
            "awaiting": [a.to_dict() for a in self.awaiting],
            "permitted": [p.to_dict() for p in self.permitted],
            "overdue": [d.id for d in self.overdue()],
            "roles": {name: role.value for name, role in self.roles.items()},
            "rejected": [{"id": e.event_id, "type": e.event.TYPE, "error": e.message} for e in self.rejected],
        }
        if detail:
            out.update(
                documents=[d.to_dict() for d in self.documents.values()],
                contacts=[c.to_dict() for c in self.contacts.values()],
                agreements=[a.to_dict() for a in self.agreements.values()],
                positions=[p.to_dict() for p in self.positions.values()],
                deadlines=[d.to_dict() for d in self.deadlines.values()],
                timeline=[e.id for e in self.timeline],
            )
        return out
