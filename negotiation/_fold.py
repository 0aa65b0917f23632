"""Folding events into derived state: the rules of the contract, checked one event at a time.

:class:`Fold` is replay's private, mutable accumulator. It validates an event (id, stage,
reference, actor, dates), asks the engine for the next stage, and updates its records of
documents, contacts, agreements, deadlines and positions, in O(1) per event except for a
retraction, which replays the log without the retracted event. The public, immutable
:class:`~negotiation.state.NegotiationState` wraps a fold that is never mutated again.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from negotiation.errors import (
    DatedBeforeReference,
    DuplicateEventId,
    EventRejected,
    InvalidReference,
    NotPermitted,
    UnknownReference,
    WrongActor,
)
from negotiation.events import (
    _PARTY_FIELDS,
    AgreementRatified,
    AgreementSigned,
    ContactAccepted,
    ContactDeclined,
    ContactHeld,
    ContactProposed,
    DeadlineSet,
    DocumentDisclosed,
    Event,
    EventRetracted,
    FrameworkAgreed,
    PartyWithdrew,
    PositionStated,
    ProposalPublished,
    ProposalWithdrawn,
    ReplyDelivered,
    Stance,
    TalksLapsed,
    TextAgreed,
)
from negotiation.machine import NEUTRAL_TYPES, TABLE, UNGUARDED, Engine, Stage, TableEngine, permitted_types

#: The version of the rules below. Bump it whenever a change makes the same events fold into
#: different records: stores ignore snapshots taken under another version (negotiation.snapshot).
RULES_VERSION = 2

_NEUTRAL = frozenset(NEUTRAL_TYPES)
#: Events whose actor may be an outsider (a statement; a disclosure, e.g. a newspaper's leak):
#: they do not make their actor a party to the talks.
_OUTSIDE_TYPES = frozenset(("PositionStated", "DocumentDisclosed"))
#: The moves that settle a deadline set on what they reference (answers, signatures, ...).
_SETTLING = frozenset(
    (
        "ReplyDelivered",
        "ProposalPublished",
        "ContactAccepted",
        "ContactDeclined",
        "ContactHeld",
        "AgreementSigned",
        "AgreementRatified",
        "AgreementEnteredIntoForce",
    )
)


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


def _actor_of(event: Event) -> str | None:
    actor = getattr(event, "actor", None)
    return actor if isinstance(actor, str) else None


class Fold:
    """The derived state of one negotiation, built event by event (private, mutable)."""

    def __init__(self, negotiation: str | None = None, engine: Engine | None = None) -> None:
        self.negotiation = negotiation
        self.engine: Engine = engine if engine is not None else TableEngine()
        self._table = isinstance(self.engine, TableEngine)  # the hot path reads the table inline
        self.stage: Stage = Stage.IDLE
        self.paused_from: Stage | None = None
        self.any_proposal_answered = False
        self.open_proposals = 0
        self.events: list[Event] = []  # effective events (not retracted, no retractions)
        self.stage_before: list[Stage] = []  # the stage before each effective event
        self.by_id: dict[str, Event] = {}
        self.ref_count: dict[str, int] = {}
        self.all_ids: set[str] = set()
        self.retractions: list[EventRetracted] = []
        self.retracted: dict[str, Event] = {}
        self.docs: dict[str, DocRecord] = {}
        self.contacts: dict[str, ContactRecord] = {}
        self.agreements: dict[str, AgreementRecord] = {}
        self.text: AgreementRecord | None = None  # the agreed text the stages from text_agreed follow
        self.deadlines: dict[str, DeadlineRecord] = {}
        self.deadlines_by_ref: dict[str | None, list[DeadlineRecord]] = {}
        self.positions: dict[tuple[str, str], tuple[Stance, str]] = {}
        self.parties: dict[str, int] = {}  # party at the table -> index of the first event naming it
        self.rejected: list[EventRejected] = []

    def copy(self) -> Fold:
        """An independent copy (records cloned): O(size of the state)."""
        new = Fold.__new__(Fold)
        new.__dict__.update(self.__dict__)
        new.events = list(self.events)
        new.stage_before = list(self.stage_before)
        new.by_id = dict(self.by_id)
        new.ref_count = dict(self.ref_count)
        new.all_ids = set(self.all_ids)
        new.retractions = list(self.retractions)
        new.retracted = dict(self.retracted)
        new.docs = {k: v.clone() for k, v in self.docs.items()}
        new.contacts = {k: v.clone() for k, v in self.contacts.items()}
        new.agreements = {k: v.clone() for k, v in self.agreements.items()}
        new.text = new.agreements[self.text.id] if self.text is not None else None
        new.deadlines = {k: v.clone() for k, v in self.deadlines.items()}
        new.deadlines_by_ref = {}
        for record in new.deadlines.values():
            new.deadlines_by_ref.setdefault(record.event.ref, []).append(record)
        new.positions = dict(self.positions)
        new.parties = dict(self.parties)
        new.rejected = list(self.rejected)
        return new

    # -- guards' questions (see machine.FoldView) ------------------------------------------

    def open_proposals_after(self, event: Event) -> int:
        doc = self.docs.get(event.ref_id or "")
        if doc is not None and doc.kind == "proposal" and doc.live and not doc.answers:
            return self.open_proposals - 1
        return self.open_proposals

    def completes_signatures(self, event: Event) -> bool:
        assert isinstance(event, AgreementSigned)
        assert self.text is not None
        return all(p in self.text.signed or p in event.parties for p in self.text.parties)

    def parties_left_after_withdrawal(self, event: Event) -> int:
        assert self.text is not None
        return len(self.text.remaining) - 1

    # -- applying an event -----------------------------------------------------------------

    def apply(self, event: Event, *, strict: bool = True) -> None:
        """Validate ``event`` and fold it in; in lenient mode a rejection is recorded instead."""
        try:
            self._apply(event)
        except EventRejected as e:
            if strict:
                raise
            self.rejected.append(e)

    def _reject(self, cls: type[EventRejected], message: str, event: Event) -> EventRejected:
        return cls(message, event=event, stage=self.stage.value)

    def _apply(self, event: Event) -> None:
        # The hot path of replay: one dict lookup for the stage, one for the per-type rules.
        kind = event.TYPE
        event_id = event.id
        if event_id in self.all_ids:
            raise self._reject(DuplicateEventId, f"id {event_id!r} is already used in this negotiation", event)
        if self.negotiation is not None and event.negotiation is not None and event.negotiation != self.negotiation:
            msg = f"negotiation={event.negotiation!r} but this log is negotiation {self.negotiation!r}"
            raise self._reject(EventRejected, msg, event)
        if kind == "EventRetracted":
            assert isinstance(event, EventRetracted)
            self._retract(event)
            return
        stage = self.stage
        key = (stage, kind)
        if not (key in TABLE if self._table else self.engine.allows(stage, kind)):
            permitted = self.permitted_type_names()
            msg = f"{kind} is not permitted in stage {stage.value!r}; permitted: {', '.join(permitted)}"
            raise NotPermitted(msg, event=event, stage=stage.value, permitted=permitted)
        ref: str | None = getattr(event, "ref", None)
        target = None
        if ref is not None:
            target = self.by_id.get(ref)
            if target is None:
                if ref in self.retracted:
                    raise self._reject(UnknownReference, f"ref={ref!r} names a retracted event", event)
                raise self._reject(UnknownReference, f"ref={ref!r} names no earlier event of this negotiation", event)
            if event.occurred.definitely_before(target.occurred):
                msg = (
                    f"occurred={str(event.occurred)!r} is before the event it references "
                    f"({ref!r}, occurred {str(target.occurred)!r})"
                )
                raise self._reject(DatedBeforeReference, msg, event)
        check = _CHECKS.get(kind)
        if check is not None:
            check(self, event, target)
        nxt = UNGUARDED.get(key) if self._table else None
        if nxt is None:
            nxt = self.engine.next_stage(stage, self, event)
        index = len(self.events)
        update = _UPDATES.get(kind)
        if update is not None:
            update(self, event, index)
        # record the event
        self.events.append(event)
        self.stage_before.append(stage)
        self.by_id[event_id] = event
        self.all_ids.add(event_id)
        if ref is not None:
            self.ref_count[ref] = self.ref_count.get(ref, 0) + 1
            if self.deadlines_by_ref:
                self._settle_deadlines(event, ref)
        parties = self.parties
        for name in () if kind in _OUTSIDE_TYPES else _PARTY_FIELDS[type(event)]:
            value = getattr(event, name)
            if type(value) is str:
                if value not in parties:
                    parties[value] = index
            elif value is not None:
                for party in value:
                    if party not in parties:
                        parties[party] = index
        self.stage = nxt

    def _settle_deadlines(self, event: Event, ref: str) -> None:
        waiting = self.deadlines_by_ref.get(ref)
        if waiting and event.TYPE in _SETTLING:
            actor = _actor_of(event)
            signers = event.parties if isinstance(event, AgreementSigned) else ()
            for record in waiting:
                wanted = record.event.actor
                if record.met_by is None and (wanted is None or wanted == actor or wanted in signers):
                    record.met_by = event.id

    # -- retraction ------------------------------------------------------------------------

    def _retract(self, event: EventRetracted) -> None:
        ref = event.ref
        if ref in self.retracted:
            raise self._reject(UnknownReference, f"ref={ref!r} names an event already retracted", event)
        if any(r.id == ref for r in self.retractions):
            raise self._reject(
                InvalidReference, f"ref={ref!r} is a retraction; a retraction cannot be retracted", event
            )
        target = self.by_id.get(ref)
        if target is None:
            raise self._reject(UnknownReference, f"ref={ref!r} names no earlier event of this negotiation", event)
        if event.occurred.definitely_before(target.occurred):
            msg = (
                f"occurred={str(event.occurred)!r} is before the event it references "
                f"({ref!r}, occurred {str(target.occurred)!r})"
            )
            raise self._reject(DatedBeforeReference, msg, event)
        rebuilt = self.without(ref)
        if isinstance(rebuilt, EventRejected):
            msg = (
                f"retracting {ref!r} would leave a log that does not replay: {rebuilt.event.id!r} "
                f"({rebuilt.event.TYPE}) would be refused ({rebuilt.message}); retract what depends on it first"
            )
            raise self._reject(InvalidReference, msg, event)
        rebuilt.all_ids = self.all_ids | {event.id}
        rebuilt.retractions = [*self.retractions, event]
        rebuilt.retracted = {**self.retracted, ref: target}
        rebuilt.rejected = self.rejected
        self.__dict__.update(rebuilt.__dict__)

    def without(self, ref: str) -> Fold | EventRejected:
        """The fold of the effective events less ``ref``, or the error that replay meets."""
        rebuilt = Fold(self.negotiation, self.engine.fresh())
        for event in self.events:
            if event.id == ref:
                continue
            try:
                rebuilt._apply(event)
            except EventRejected as e:
                return e
        return rebuilt

    def retractable(self) -> list[str]:
        """The ids whose retraction would be permitted now, in log order.

        Only events nothing references may go (retract what depends on them first). A neutral
        event that did not move the negotiation out of ``idle`` and names no party first is
        safe without a check. Any other candidate is checked by replaying the events after it
        on a copy of the state before it: one pass builds those states in order, and a
        candidate whose removal breaks the log usually fails within a few events.
        """
        events = self.events
        safe: set[int] = set()
        to_check: list[int] = []
        for index, event in enumerate(events):
            if self.ref_count.get(event.id):
                continue
            if (
                event.TYPE in _NEUTRAL
                and self.stage_before[index] is not Stage.IDLE
                and all(self.parties.get(p, -1) < index for p in event.parties_named())
            ):
                safe.add(index)
            else:
                to_check.append(index)
        if to_check:
            prefix = Fold(self.negotiation, self.engine.fresh())
            done = 0
            for index in to_check:
                while done < index:
                    prefix._apply(events[done])
                    done += 1
                trial = prefix.copy()
                try:
                    for later in itertools.islice(events, index + 1, None):
                        trial._apply(later)
                except EventRejected:
                    continue
                safe.add(index)
        return [events[i].id for i in sorted(safe)]

    # -- questions the state views ask -----------------------------------------------------

    def permitted_type_names(self) -> tuple[str, ...]:
        names = permitted_types(self.stage)
        if self.events:
            names = (*names, "EventRetracted")
        return names


# -- per-type checks: run before the stage moves; raise EventRejected ----------------------

Check = Callable[[Fold, Any, Event | None], None]


def _doc_for(fold: Fold, event: Event, target: Event | None) -> DocRecord:
    doc = fold.docs.get(event.ref_id or "")
    if doc is None:
        what = target.TYPE if target is not None else "nothing"
        msg = f"ref={event.ref_id!r} is a {what}, expected a document (ProposalPublished or ReplyDelivered)"
        raise fold._reject(InvalidReference, msg, event)
    return doc


def _contact_for(fold: Fold, event: Event, target: Event | None) -> ContactRecord:
    contact = fold.contacts.get(event.ref_id or "")
    if contact is None:
        what = target.TYPE if target is not None else "nothing"
        raise fold._reject(InvalidReference, f"ref={event.ref_id!r} is a {what}, expected a ContactProposed", event)
    return contact


def _text_for(fold: Fold, event: Event, target: Event | None) -> AgreementRecord:
    if fold.text is None or fold.text.id != event.ref_id:
        what = target.TYPE if target is not None else "nothing"
        expected = f"the agreed text {fold.text.id!r}" if fold.text is not None else "a TextAgreed"
        raise fold._reject(InvalidReference, f"ref={event.ref_id!r} is a {what}, expected {expected}", event)
    return fold.text


def _wrong_actor(fold: Fold, event: Event, actor: str, allowed: tuple[str, ...] | list[str], why: str) -> EventRejected:
    expected = ", ".join(map(repr, allowed)) if allowed else "nobody"
    return fold._reject(WrongActor, f"actor={actor!r} {why}; expected one of: {expected}", event)


def _check_answer(fold: Fold, event: ProposalPublished | ReplyDelivered, target: Event | None) -> None:
    if event.ref is None:
        return
    doc = _doc_for(fold, event, target)
    if not doc.live:
        raise fold._reject(InvalidReference, f"ref={doc.id!r} was withdrawn ({doc.withdrawn_by!r})", event)
    if event.actor not in doc.addressees:
        raise _wrong_actor(fold, event, event.actor, doc.addressees, f"is not an addressee of {doc.id!r}")


def _check_contact_accepted(fold: Fold, event: ContactAccepted, target: Event | None) -> None:
    contact = _contact_for(fold, event, target)
    if event.actor not in contact.to:
        raise _wrong_actor(fold, event, event.actor, contact.to, f"is not an addressee of {contact.id!r}")
    if contact.declined_by is not None:
        raise fold._reject(InvalidReference, f"ref={contact.id!r} was declined ({contact.declined_by[1]!r})", event)
    if contact.held_by:
        raise fold._reject(InvalidReference, f"ref={contact.id!r} was already held ({contact.held_by[0]!r})", event)
    if event.actor in contact.accepted_by:
        msg = f"ref={contact.id!r} was already accepted by {event.actor!r} ({contact.accepted_by[event.actor]!r})"
        raise fold._reject(InvalidReference, msg, event)


def _check_contact_declined(fold: Fold, event: ContactDeclined, target: Event | None) -> None:
    contact = _contact_for(fold, event, target)
    parties = (contact.proposer, *contact.to)
    if event.actor not in parties:
        raise _wrong_actor(fold, event, event.actor, parties, f"is not a party to {contact.id!r}")
    if contact.declined_by is not None:
        raise fold._reject(
            InvalidReference, f"ref={contact.id!r} was already declined ({contact.declined_by[1]!r})", event
        )
    if contact.held_by:
        raise fold._reject(InvalidReference, f"ref={contact.id!r} was already held ({contact.held_by[0]!r})", event)


def _check_contact_held(fold: Fold, event: ContactHeld, target: Event | None) -> None:
    if event.ref is None:
        return
    contact = _contact_for(fold, event, target)
    if contact.declined_by is not None:
        raise fold._reject(InvalidReference, f"ref={contact.id!r} was declined ({contact.declined_by[1]!r})", event)


def _check_disclosed(fold: Fold, event: DocumentDisclosed, target: Event | None) -> None:
    doc = _doc_for(fold, event, target)
    if doc.public:
        raise fold._reject(InvalidReference, f"ref={doc.id!r} is already public", event)


def _check_withdrawn(fold: Fold, event: ProposalWithdrawn, target: Event | None) -> None:
    doc = _doc_for(fold, event, target)
    if doc.kind != "proposal":
        raise fold._reject(InvalidReference, f"ref={doc.id!r} is a reply; only proposals are withdrawn", event)
    if event.actor != doc.author:
        raise _wrong_actor(fold, event, event.actor, (doc.author,), f"is not the author of {doc.id!r}")
    if not doc.live:
        raise fold._reject(InvalidReference, f"ref={doc.id!r} was already withdrawn ({doc.withdrawn_by!r})", event)


def _check_signed(fold: Fold, event: AgreementSigned, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    for party in event.parties:
        if party not in text.parties:
            raise _wrong_actor(fold, event, party, text.parties, f"is not a party to {text.id!r}")
        if party in text.signed:
            unsigned = [p for p in text.parties if p not in text.signed]
            raise _wrong_actor(fold, event, party, unsigned, f"has already signed {text.id!r} ({text.signed[party]!r})")


def _check_ratified(fold: Fold, event: AgreementRatified, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    pending = [p for p in text.remaining if p not in text.ratified]
    if event.actor not in text.parties:
        raise _wrong_actor(fold, event, event.actor, pending, f"is not a party to {text.id!r}")
    if event.actor not in pending:
        raise _wrong_actor(fold, event, event.actor, pending, f"has already ratified {text.id!r}")


def _check_text_ref(fold: Fold, event: Event, target: Event | None) -> None:
    _text_for(fold, event, target)


def _check_party_withdrew(fold: Fold, event: PartyWithdrew, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    if event.actor not in text.remaining:
        raise _wrong_actor(fold, event, event.actor, text.remaining, f"is not a remaining party to {text.id!r}")


def _check_talks_actor(fold: Fold, event: Event, _target: Event | None) -> None:
    actor = _actor_of(event)
    if actor is not None and actor not in fold.parties:
        raise _wrong_actor(fold, event, actor, sorted(fold.parties), "is not a party to these talks")


def _check_lapsed(fold: Fold, event: TalksLapsed, target: Event | None) -> None:
    if event.ref is not None and event.ref not in fold.deadlines:
        what = target.TYPE if target is not None else "nothing"
        raise fold._reject(InvalidReference, f"ref={event.ref!r} is a {what}, expected a DeadlineSet", event)


_CHECKS: dict[str, Check] = {
    "ContactAccepted": _check_contact_accepted,
    "ContactDeclined": _check_contact_declined,
    "ContactHeld": _check_contact_held,
    "ProposalPublished": _check_answer,
    "ReplyDelivered": _check_answer,
    "DocumentDisclosed": _check_disclosed,
    "ProposalWithdrawn": _check_withdrawn,
    "AgreementSigned": _check_signed,
    "AgreementRatified": _check_ratified,
    "AgreementEnteredIntoForce": _check_text_ref,
    "PartyWithdrew": _check_party_withdrew,
    "AgreementTerminated": _check_text_ref,
    "TalksSuspended": _check_talks_actor,
    "TalksResumed": _check_talks_actor,
    "TalksBrokenOff": _check_talks_actor,
    "TalksLapsed": _check_lapsed,
}


# -- per-type updates: run after the checks, with the event's index in the effective log -------

Update = Callable[[Fold, Any, int], None]


def _answer(fold: Fold, doc: DocRecord, actor: str, event_id: str) -> None:
    if doc.kind == "proposal":
        fold.any_proposal_answered = True
        if not doc.answers and doc.live:
            fold.open_proposals -= 1
    doc.answers.append(event_id)
    doc.answered_by.setdefault(actor, None)


def _positions(fold: Fold, actor: str, positions: Any, event_id: str) -> None:
    if positions:
        for item, stance in positions.items():
            fold.positions[(actor, item)] = (stance, event_id)


def _on_proposal(fold: Fold, event: ProposalPublished, index: int) -> None:
    fold.docs[event.id] = DocRecord(event, event.to, index)
    fold.open_proposals += 1
    if event.ref is not None:
        _answer(fold, fold.docs[event.ref], event.actor, event.id)


def _on_reply(fold: Fold, event: ReplyDelivered, index: int) -> None:
    answered = fold.docs[event.ref]
    fold.docs[event.id] = DocRecord(event, (answered.author,), index)
    _answer(fold, answered, event.actor, event.id)
    _positions(fold, event.actor, event.positions, event.id)


def _on_position(fold: Fold, event: PositionStated, _index: int) -> None:
    _positions(fold, event.actor, event.positions, event.id)


def _on_disclosed(fold: Fold, event: DocumentDisclosed, _index: int) -> None:
    doc = fold.docs[event.ref]
    doc.public = True
    doc.disclosed_by = event.id


def _on_withdrawn(fold: Fold, event: ProposalWithdrawn, _index: int) -> None:
    doc = fold.docs[event.ref]
    doc.withdrawn_by = event.id
    if not doc.answers:
        fold.open_proposals -= 1


def _on_contact_proposed(fold: Fold, event: ContactProposed, index: int) -> None:
    fold.contacts[event.id] = ContactRecord(event, index)


def _on_contact_accepted(fold: Fold, event: ContactAccepted, _index: int) -> None:
    fold.contacts[event.ref].accepted_by[event.actor] = event.id


def _on_contact_declined(fold: Fold, event: ContactDeclined, _index: int) -> None:
    fold.contacts[event.ref].declined_by = (event.actor, event.id)


def _on_contact_held(fold: Fold, event: ContactHeld, _index: int) -> None:
    if event.ref is not None:
        fold.contacts[event.ref].held_by.append(event.id)


def _on_agreed(fold: Fold, event: FrameworkAgreed | TextAgreed, _index: int) -> None:
    record = AgreementRecord(event)
    fold.agreements[event.id] = record
    if isinstance(event, TextAgreed):
        fold.text = record
    for deadline in fold.deadlines_by_ref.get(None, ()):
        if deadline.met_by is None and deadline.lapsed_by is None:
            deadline.met_by = event.id


def _on_signed(fold: Fold, event: AgreementSigned, _index: int) -> None:
    assert fold.text is not None
    for party in event.parties:
        fold.text.signed[party] = event.id


def _on_ratified(fold: Fold, event: AgreementRatified, _index: int) -> None:
    assert fold.text is not None
    fold.text.ratified[event.actor] = event.id


def _on_in_force(fold: Fold, event: Event, _index: int) -> None:
    assert fold.text is not None
    fold.text.entered_into_force = event.id


def _on_party_withdrew(fold: Fold, event: PartyWithdrew, _index: int) -> None:
    assert fold.text is not None
    fold.text.withdrawn[event.actor] = event.id
    if len(fold.text.remaining) < 2:
        fold.text.terminated = event.id


def _on_terminated(fold: Fold, event: Event, _index: int) -> None:
    assert fold.text is not None
    fold.text.terminated = event.id


def _on_deadline(fold: Fold, event: DeadlineSet, _index: int) -> None:
    record = DeadlineRecord(event)
    fold.deadlines[event.id] = record
    fold.deadlines_by_ref.setdefault(event.ref, []).append(record)


def _on_suspended(fold: Fold, _event: Event, _index: int) -> None:
    fold.paused_from = fold.stage


def _on_resumed(fold: Fold, _event: Event, _index: int) -> None:
    fold.paused_from = None


def _on_lapsed(fold: Fold, event: TalksLapsed, _index: int) -> None:
    if event.ref is not None:
        fold.deadlines[event.ref].lapsed_by = event.id


_UPDATES: dict[str, Update] = {
    "ContactProposed": _on_contact_proposed,
    "ContactAccepted": _on_contact_accepted,
    "ContactDeclined": _on_contact_declined,
    "ContactHeld": _on_contact_held,
    "ProposalPublished": _on_proposal,
    "ReplyDelivered": _on_reply,
    "PositionStated": _on_position,
    "DocumentDisclosed": _on_disclosed,
    "ProposalWithdrawn": _on_withdrawn,
    "FrameworkAgreed": _on_agreed,
    "TextAgreed": _on_agreed,
    "AgreementSigned": _on_signed,
    "AgreementRatified": _on_ratified,
    "AgreementEnteredIntoForce": _on_in_force,
    "PartyWithdrew": _on_party_withdrew,
    "AgreementTerminated": _on_terminated,
    "DeadlineSet": _on_deadline,
    "TalksSuspended": _on_suspended,
    "TalksResumed": _on_resumed,
    "TalksLapsed": _on_lapsed,
}
