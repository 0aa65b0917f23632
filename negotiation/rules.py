"""The contract's rules, one definition per event type.

A :class:`Rule` says, for one event type, what the event must satisfy beyond the envelope
(``check``: raise an :class:`~negotiation.errors.EventRejected` naming the culprit and what
was expected), what it changes in the fold's records (``effect``; never the stage, which the
machine in :mod:`negotiation.machine` decides) and the next steps of its type that a fold
offers (``steps``). Everything else reads :data:`RULES`: replay checks and folds events
through it (:mod:`negotiation.fold`), :func:`permitted` is every type's steps grouped,
:func:`awaiting` is the moves owed, and the simulations turn steps into concrete moves
(:mod:`negotiation.moves`).

The records a fold keeps (documents, contacts, agreements, deadlines) are defined here too:
they are what the rules read and write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import attrs

from negotiation.dates import PartialDate
from negotiation.errors import DatedBeforeReference, EventRejected, InvalidReference, WrongActor
from negotiation.events import (
    AgreementRatified,
    AgreementSigned,
    AgreementTerminated,
    ContactAccepted,
    ContactDeclined,
    ContactHeld,
    ContactProposed,
    DeadlineSet,
    DocumentDisclosed,
    Event,
    FrameworkAgreed,
    ImplementationReported,
    ObligationStatus,
    ParticipantJoined,
    ParticipantLeft,
    ParticipationResumed,
    ParticipationSuspended,
    PartyJoined,
    PartyWithdrew,
    PositionStated,
    ProposalPublished,
    ProposalWithdrawn,
    RatificationRefused,
    ReplyDelivered,
    Role,
    Signature,
    TalksLapsed,
    TextAgreed,
    ViolationAlleged,
)
from negotiation.machine import OWES_RATIFICATION, OWES_REPLIES, OWES_SIGNATURE, TABLE, Stage

if TYPE_CHECKING:
    from negotiation.fold import Fold

__all__ = [
    "RULES",
    "AgreementRecord",
    "Awaiting",
    "ContactRecord",
    "DeadlineRecord",
    "DocRecord",
    "INSTRUMENT_TYPES",
    "Permitted",
    "Rule",
    "Step",
    "actor_of",
    "actors_of",
    "awaiting",
    "owed",
    "permitted",
    "side_permits",
]


# -- the records a fold keeps ------------------------------------------------------------


@attrs.define
class DocRecord:
    """A proposal or a reply, with its thread."""

    id: str
    kind: str  # "proposal" or "reply"
    author: str
    addressees: tuple[str, ...]
    title: str | None
    public: bool
    ref: str | None
    answers: list[str] = attrs.Factory(list)  # the replies and counter-proposals, in log order
    withdrawn_by: str | None = None
    disclosed_by: str | None = None
    co_authors: tuple[str, ...] = ()  # a joint document's other authors
    settled_by: str | None = None  # the agreement that settled it, unanswered
    by_participant: bool = False  # written by mediators, facilitators...: settled as their parties' own
    initialled_by: list[str] = attrs.Factory(list)  # the parties whose replies initialled its text
    summarised_by: list[str] = attrs.Factory(list)  # its authors' statements on it while not public
    delivery_disputed_by: list[str] = attrs.Factory(list)  # addressees' statements disputing its delivery
    republished_by: list[str] = attrs.Factory(list)  # the publications after the first

    @property
    def authors(self) -> tuple[str, ...]:
        return (self.author, *self.co_authors)

    @property
    def open(self) -> bool:
        """A live proposal that nothing has answered or settled yet."""
        return self.kind == "proposal" and self.withdrawn_by is None and not self.answers and self.settled_by is None

    @property
    def live(self) -> bool:
        return self.withdrawn_by is None


@attrs.define
class ContactRecord:
    """A proposed contact and what became of it."""

    id: str
    proposer: str
    to: tuple[str, ...]
    accepted_by: dict[str, str] = attrs.Factory(dict)  # party -> event
    declined_by: tuple[str, str] | None = None  # (party, event)
    held_by: list[str] = attrs.Factory(list)
    co_proposers: tuple[str, ...] = ()  # a joint proposal's other proposers

    @property
    def proposers(self) -> tuple[str, ...]:
        return (self.proposer, *self.co_proposers)

    @property
    def open(self) -> bool:
        return self.declined_by is None and not self.held_by


#: The types whose ``ref`` names an agreed text and move it along its life cycle.
INSTRUMENT_TYPES = frozenset(
    (
        "AgreementSigned",
        "AgreementRatified",
        "RatificationRefused",
        "AgreementEnteredIntoForce",
        "PartyWithdrew",
        "ParticipationSuspended",
        "ParticipationResumed",
        "PartyJoined",
        "AgreementTerminated",
    )
)
#: An agreed text's life, named as the stage the machine gives the principal text there.
_LIFE_STAGES = {
    "agreed": Stage.TEXT_AGREED,
    "signed": Stage.SIGNED,
    "ratifying": Stage.RATIFYING,
    "in_force": Stage.IN_FORCE,
    "terminated": Stage.TERMINATED,
}


@attrs.define
class AgreementRecord:
    """An agreed framework or text, with signatures, ratifications and withdrawals (party -> event)."""

    id: str
    kind: str  # "framework" or "text"
    title: str
    parties: tuple[str, ...]
    signed: dict[str, str] = attrs.Factory(dict)
    ratified: dict[str, str] = attrs.Factory(dict)
    withdrawn: dict[str, str] = attrs.Factory(dict)
    entered_into_force: str | None = None
    terminated: str | None = None
    witnesses: dict[str, str] = attrs.Factory(dict)  # who signed as witness or guarantor -> event
    ratified_required: bool = True  # False: it enters into force without ratification (a ceasefire)
    suspended: dict[str, str] = attrs.Factory(dict)  # party -> the ParticipationSuspended in effect
    notices: dict[str, str] = attrs.Factory(dict)  # party -> its PartyWithdrew notice not yet in effect
    joined: dict[str, str] = attrs.Factory(dict)  # party -> the PartyJoined that made it one (again)
    reports: list[str] = attrs.Factory(list)  # ImplementationReported on it, in log order
    allegations: list[str] = attrs.Factory(list)  # ViolationAlleged on it, in log order
    instrument: str = "agreement"  # a text's kind: agreement (the principal), interim, protocol, memorandum
    amends: str | None = None  # the text a protocol amends
    approvals: dict[str, tuple[str, ...]] = attrs.Factory(dict)  # party -> its partial ratifications
    refused: dict[str, str] = attrs.Factory(dict)  # party -> the RatificationRefused
    refused_by: str | None = None  # the refusal that left fewer than two parties able to ratify
    signature_required: bool = True  # False: adopted without signature (the JCPOA)

    @property
    def remaining(self) -> tuple[str, ...]:
        members = (*self.parties, *(p for p in self.joined if p not in self.parties))
        return tuple(p for p in members if p not in self.withdrawn)

    @property
    def principal(self) -> bool:
        """A text the stages follow (not an interim deal, a protocol or a memorandum)."""
        return self.instrument == "agreement"

    @property
    def side(self) -> bool:
        """A side instrument: an agreed text that is not principal (a framework is neither)."""
        return self.kind == "text" and not self.principal

    @property
    def life(self) -> str | None:
        """Where an agreed text stands: agreed, signed, ratifying, in_force, terminated or
        refused (None for a framework)."""
        if self.kind != "text":
            return None
        if self.terminated is not None:
            return "terminated"
        if self.entered_into_force is not None:
            return "in_force"
        if self.refused_by is not None:
            return "refused"
        if self.ratified or self.approvals:
            return "ratifying"
        if all(p in self.signed for p in self.parties):
            return "signed"
        return "agreed"

    @property
    def life_stage(self) -> Stage | None:
        """The stage whose transitions an event on this text follows (None: refused, or a framework)."""
        life = self.life
        return None if life is None else _LIFE_STAGES.get(life)


@attrs.define
class DeadlineRecord:
    """A deadline and the event that met it or recorded its lapse."""

    id: str
    deadline: PartialDate
    ref: str | None
    actor: str | None
    met_by: str | None = None
    lapsed_by: str | None = None
    set_by: str | None = None
    superseded_by: str | None = None  # a later deadline on the same thing, by the same setter

    @property
    def standing(self) -> bool:
        """Neither met, nor lapsed, nor superseded."""
        return self.met_by is None and self.lapsed_by is None and self.superseded_by is None


Record = DocRecord | ContactRecord | AgreementRecord | DeadlineRecord

#: The mutable fields of each record type, which a fold's copy must not share.
MUTABLE: dict[type[Any], tuple[str, ...]] = {
    DocRecord: ("answers", "initialled_by", "summarised_by", "delivery_disputed_by", "republished_by"),
    ContactRecord: ("accepted_by", "held_by"),
    AgreementRecord: (
        "signed",
        "ratified",
        "withdrawn",
        "witnesses",
        "suspended",
        "notices",
        "joined",
        "reports",
        "allegations",
        "approvals",
        "refused",
    ),
    DeadlineRecord: (),
}


def clone(record: Record) -> Record:
    """A copy of ``record`` that shares none of its mutable fields."""
    return attrs.evolve(record, **{name: getattr(record, name).copy() for name in MUTABLE[type(record)]})


# -- the public views of steps and owed moves ---------------------------------------------


@attrs.frozen(kw_only=True)
class Awaiting:
    """A move owed: ``party`` owes one of ``types`` on ``ref`` (the ball is in their court)."""

    party: str
    types: tuple[str, ...]
    ref: str

    def to_dict(self) -> dict[str, Any]:
        return {"party": self.party, "types": list(self.types), "ref": self.ref}


@attrs.frozen(kw_only=True)
class Permitted:
    """A permitted next step: an event of ``type`` by one of ``actors`` naming one of ``refs``.

    ``actors`` is None when anyone may make it (party or not, or the type has no actor).
    ``refs`` is empty for the form of the event that names no ref.
    """

    type: str
    actors: tuple[str, ...] | None
    refs: tuple[str, ...]

    def allows(self, event: Event) -> bool:
        """Whether ``event`` fits this step (type, actor and ref; not every rule)."""
        if self.type != event.TYPE:
            return False
        actor = getattr(event, "actor", None)
        if self.actors is not None and actor is not None and actor not in self.actors:
            return False
        ref = event.ref_id
        return ref in self.refs if self.refs else ref is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "actors": None if self.actors is None else list(self.actors),
            "refs": list(self.refs),
        }


class Step(NamedTuple):
    """One next step a rule offers: who may take it, what it names.

    Attributes:
        actors: the parties who may make it, or None for anyone (or a type without actor).
        ref: the event it names, or None for the form of the event that names none.
        to: the parties the event must name (the author a counter-proposal goes to, the
            parties of a proposed contact that is held), when the rule fixes them.
    """

    actors: tuple[str, ...] | None
    ref: str | None
    to: tuple[str, ...] | None = None


# -- helpers of the checks ----------------------------------------------------------------


def actor_of(event: Event) -> str | None:
    """The event's actor, if its type has one and it is set."""
    actor = getattr(event, "actor", None)
    return actor if isinstance(actor, str) else None


def actors_of(event: Event) -> tuple[str, ...]:
    """Who made the event: its actor and its co-actors (a joint act), or nobody."""
    actor = actor_of(event)
    if actor is None:
        return ()
    co_actors = getattr(event, "co_actors", None)
    return (actor, *co_actors) if co_actors else (actor,)


def _non_party(fold: Fold, names: Iterable[str], event: Event, field: str) -> None:
    """Refuse naming a mediator, facilitator, guarantor or observer where only parties belong."""
    for name in names:
        role = fold.roles.get(name)
        if role is not None:
            msg = f"{field}={name!r} is a {role.value} of these talks, not a party"
            raise fold.reject(WrongActor, msg, event)


def _what(target: Event | None) -> str:
    return target.TYPE if target is not None else "nothing"


R = TypeVar("R")


def _record_for(fold: Fold, records: dict[str, R], event: Event, target: Event | None, expected: str) -> R:
    """The record the event's ref names, or the refusal saying what the ref is instead."""
    record = records.get(event.ref_id or "")
    if record is None:
        raise fold.reject(InvalidReference, f"ref={event.ref_id!r} is a {_what(target)}, expected {expected}", event)
    return record


def _doc_for(fold: Fold, event: Event, target: Event | None) -> DocRecord:
    return _record_for(fold, fold.docs, event, target, "a document (ProposalPublished or ReplyDelivered)")


def _contact_for(fold: Fold, event: Event, target: Event | None) -> ContactRecord:
    return _record_for(fold, fold.contacts, event, target, "a ContactProposed")


def _text_for(fold: Fold, event: Event, target: Event | None) -> AgreementRecord:
    """The agreed text the event names: the principal text the stages follow, or a side
    instrument (an earlier principal text, refused, is no longer one)."""
    record = fold.agreements.get(event.ref_id or "")
    if record is None or record.kind != "text" or (record.principal and record is not fold.text):
        texts = [t.id for t in _texts(fold)]
        if len(texts) == 1:
            expected = f"the agreed text {texts[0]!r}"
        else:
            expected = "an agreed text (" + ", ".join(map(repr, texts)) + ")" if texts else "a TextAgreed"
        raise fold.reject(InvalidReference, f"ref={event.ref_id!r} is a {_what(target)}, expected {expected}", event)
    return record


def _texts(fold: Fold) -> Iterator[AgreementRecord]:
    """The texts events may name: the principal one, then the side instruments, in log order."""
    if fold.text is not None:
        yield fold.text
    for record in fold.agreements.values():
        if record.side:
            yield record


def side_permits(record: AgreementRecord, kind: str) -> bool:
    """Whether an event of ``kind`` may name the side instrument ``record`` now: where the
    machine permits ``kind`` in the instrument's life stage, as it would on the principal
    text; and, unlike the principal text, it may end before it enters into force."""
    life = record.life_stage
    if kind == "AgreementTerminated" and life is not None and life is not Stage.TERMINATED:
        return True
    return (life, kind) in TABLE


def _texts_open_to(fold: Fold, kind: str) -> Iterator[AgreementRecord]:
    """The texts an event of ``kind`` may name now: the principal one where the stage permits
    ``kind``, a side instrument where :func:`side_permits` says so."""
    for record in _texts(fold):
        if (fold.stage, kind) in TABLE if record.principal else side_permits(record, kind):
            yield record


def _wrong_actor(fold: Fold, event: Event, actor: str, allowed: Iterable[str], why: str) -> EventRejected:
    expected = ", ".join(map(repr, allowed)) or "nobody"
    return fold.reject(WrongActor, f"actor={actor!r} {why}; expected one of: {expected}", event)


def _settled_contact(fold: Fold, event: Event, contact: ContactRecord, *, already: bool = False) -> None:
    """Refuse a move on a contact that was declined or held."""
    if contact.declined_by is not None:
        again = "already " if already else ""
        raise fold.reject(
            InvalidReference, f"ref={contact.id!r} was {again}declined ({contact.declined_by[1]!r})", event
        )
    if contact.held_by:
        raise fold.reject(InvalidReference, f"ref={contact.id!r} was already held ({contact.held_by[0]!r})", event)


# -- the rules of each type: check, effect, steps ------------------------------------------
# A check runs before the stage moves, with the referenced event (``target``, if any); an
# effect after it, and only if the check passed.


def _anyone(fold: Fold) -> Iterator[Step]:
    yield Step(None, None)


# contacts


def _contact_proposed(fold: Fold, event: ContactProposed) -> None:
    fold.contacts[event.id] = ContactRecord(event.id, event.actor, event.to, co_proposers=event.co_actors or ())
    for party in event.to:
        fold.owed[(event.id, party)] = False


def _check_contact_accepted(fold: Fold, event: ContactAccepted, target: Event | None) -> None:
    contact = _contact_for(fold, event, target)
    for actor in actors_of(event):
        if actor not in contact.to:
            raise _wrong_actor(fold, event, actor, contact.to, f"is not an addressee of {contact.id!r}")
    if contact.held_by and contact.declined_by is None:
        held = fold.by_id.get(contact.held_by[0])
        if held is None or held.occurred.definitely_before(event.occurred):
            msg = f"ref={contact.id!r} was already held ({contact.held_by[0]!r}) before this acceptance"
            raise fold.reject(InvalidReference, msg, event)
    else:
        _settled_contact(fold, event, contact)
    for actor in actors_of(event):
        if actor in contact.accepted_by:
            msg = f"ref={contact.id!r} was already accepted by {actor!r} ({contact.accepted_by[actor]!r})"
            raise fold.reject(InvalidReference, msg, event)


def _contact_accepted(fold: Fold, event: ContactAccepted) -> None:
    for actor in actors_of(event):
        fold.contacts[event.ref].accepted_by[actor] = event.id
        fold.owed.pop((event.ref, actor), None)


def _contact_accepted_steps(fold: Fold) -> Iterator[Step]:
    for c in fold.contacts.values():
        if c.open:
            pending = tuple(p for p in c.to if p not in c.accepted_by)
            if pending:
                yield Step(pending, c.id)


def _check_contact_declined(fold: Fold, event: ContactDeclined, target: Event | None) -> None:
    contact = _contact_for(fold, event, target)
    parties = (*contact.proposers, *contact.to)
    for actor in actors_of(event):
        if actor not in parties:
            raise _wrong_actor(fold, event, actor, parties, f"is not a party to {contact.id!r}")
    _settled_contact(fold, event, contact, already=True)


def _contact_declined(fold: Fold, event: ContactDeclined) -> None:
    contact = fold.contacts[event.ref]
    contact.declined_by = (event.actor, event.id)
    for party in contact.to:
        fold.owed.pop((contact.id, party), None)


def _contact_declined_steps(fold: Fold) -> Iterator[Step]:
    for c in fold.contacts.values():
        if c.open:
            yield Step(tuple(dict.fromkeys((*c.proposers, *c.to))), c.id)


def _check_contact_held(fold: Fold, event: ContactHeld, target: Event | None) -> None:
    if event.ref is not None:
        contact = _contact_for(fold, event, target)
        if contact.declined_by is not None:
            raise fold.reject(InvalidReference, f"ref={contact.id!r} was declined ({contact.declined_by[1]!r})", event)


def _contact_held(fold: Fold, event: ContactHeld) -> None:
    if event.ref is not None:
        contact = fold.contacts[event.ref]
        contact.held_by.append(event.id)
        for party in contact.to:
            fold.owed.pop((contact.id, party), None)


def _contact_held_steps(fold: Fold) -> Iterator[Step]:
    yield Step(None, None)
    for c in fold.contacts.values():
        if c.declined_by is None:
            yield Step(None, c.id, tuple(dict.fromkeys((*c.proposers, *c.to))))


# participants and their roles


def _participant_joined(fold: Fold, event: ParticipantJoined) -> None:
    for actor in actors_of(event):
        if event.role is Role.PARTY:
            fold.roles.pop(actor, None)
            fold.parties.setdefault(actor, len(fold.events))
        else:
            fold.roles[actor] = event.role
            fold.parties.pop(actor, None)


def _check_participant_left(fold: Fold, event: ParticipantLeft, _target: Event | None) -> None:
    present = (*fold.parties, *fold.roles)
    for actor in actors_of(event):
        if actor not in present:
            raise _wrong_actor(fold, event, actor, present, "does not take part in these talks")


def _participant_left(fold: Fold, event: ParticipantLeft) -> None:
    for actor in actors_of(event):
        fold.roles.pop(actor, None)
        fold.parties.pop(actor, None)
        for key in [key for key in fold.owed if key[1] == actor]:
            del fold.owed[key]


def _left_steps(fold: Fold) -> Iterator[Step]:
    present = (*fold.parties, *fold.roles)
    if present:
        yield Step(present, None)


# documents


def _check_answer(fold: Fold, event: ProposalPublished | ReplyDelivered, target: Event | None) -> None:
    if event.ref is None:
        return
    doc = _doc_for(fold, event, target)
    if not doc.live:
        raise fold.reject(InvalidReference, f"ref={doc.id!r} was withdrawn ({doc.withdrawn_by!r})", event)
    for actor in actors_of(event):
        if actor not in doc.addressees:
            raise _wrong_actor(fold, event, actor, doc.addressees, f"is not an addressee of {doc.id!r}")


def _answer(fold: Fold, doc: DocRecord, event: Event) -> None:
    if doc.open:
        fold.open_proposals -= 1
    doc.answers.append(event.id)
    for actor in actors_of(event):
        fold.owed.pop((doc.id, actor), None)


def _state_positions(fold: Fold, event: Event, positions: Any) -> None:
    if positions:
        for actor in actors_of(event):
            for item, stance in positions.items():
                fold.positions[(actor, item)] = (stance, event.id)


def _proposal_published(fold: Fold, event: ProposalPublished) -> None:
    co_authors = event.co_actors or ()
    by_participant = all(a in fold.roles for a in (event.actor, *co_authors))
    fold.docs[event.id] = DocRecord(
        event.id,
        "proposal",
        event.actor,
        event.to,
        event.title,
        event.public,
        event.ref,
        co_authors=co_authors,
        by_participant=by_participant,
    )
    for party in event.to:
        fold.owed[(event.id, party)] = True
    fold.open_proposals += 1
    if event.ref is not None:
        _answer(fold, fold.docs[event.ref], event)


def _answers_to_live_documents(fold: Fold, counter: bool) -> Iterator[Step]:
    for d in fold.docs.values():
        if d.live:
            yield Step(d.addressees, d.id, d.authors if counter else None)


def _proposal_steps(fold: Fold) -> Iterator[Step]:
    yield Step(None, None)
    yield from _answers_to_live_documents(fold, counter=True)


def _reply_delivered(fold: Fold, event: ReplyDelivered) -> None:
    answered = fold.docs[event.ref]
    co_authors = event.co_actors or ()
    fold.docs[event.id] = DocRecord(
        event.id, "reply", event.actor, answered.authors, None, event.public, event.ref, co_authors=co_authors
    )
    if event.wants_answer:  # a reply that asks (a counter, no stance, asks_answer); never of a mediator
        for author in answered.authors:
            if author not in fold.roles:
                fold.owed[(event.id, author)] = True
    _answer(fold, answered, event)
    _state_positions(fold, event, event.positions)
    if event.initialled:
        answered.initialled_by.extend(a for a in actors_of(event) if a not in answered.initialled_by)


def _check_reply(fold: Fold, event: ReplyDelivered, target: Event | None) -> None:
    _check_answer(fold, event, target)
    if event.initialled and fold.docs[event.ref].kind != "proposal":
        msg = f"ref={event.ref!r} is a reply; a reply initials the text of a proposal (initialled=true)"
        raise fold.reject(InvalidReference, msg, event)


def _reply_steps(fold: Fold) -> Iterator[Step]:
    return _answers_to_live_documents(fold, counter=False)


def _check_position(fold: Fold, event: PositionStated, target: Event | None) -> None:
    """A statement that disputes a delivery names a document delivered to its actors."""
    if not event.disputes_delivery:
        return
    doc = _doc_for(fold, event, target)
    for actor in actors_of(event):
        if actor not in doc.addressees:
            raise _wrong_actor(fold, event, actor, doc.addressees, f"is not an addressee of {doc.id!r}")


def _position_stated(fold: Fold, event: PositionStated) -> None:
    _state_positions(fold, event, event.positions)
    doc = fold.docs.get(event.ref) if event.ref is not None else None
    if doc is None:
        return
    if event.disputes_delivery:
        doc.delivery_disputed_by.append(event.id)
    elif not doc.public and set(actors_of(event)) & set(doc.authors):  # its author outlines it
        doc.summarised_by.append(event.id)


def _check_disclosed(fold: Fold, event: DocumentDisclosed, target: Event | None) -> None:
    _doc_for(fold, event, target)


def _document_disclosed(fold: Fold, event: DocumentDisclosed) -> None:
    doc = fold.docs[event.ref]
    if doc.public:  # published at delivery, or already disclosed: a second publication
        doc.republished_by.append(event.id)
    else:
        doc.public = True
        doc.disclosed_by = event.id


def _disclosed_steps(fold: Fold) -> Iterator[Step]:
    return (Step(None, d.id) for d in fold.docs.values() if not d.public)


def _check_withdrawn(fold: Fold, event: ProposalWithdrawn, target: Event | None) -> None:
    doc = _doc_for(fold, event, target)
    if doc.kind != "proposal":
        raise fold.reject(InvalidReference, f"ref={doc.id!r} is a reply; only proposals are withdrawn", event)
    for actor in actors_of(event):
        if actor not in doc.authors:
            raise _wrong_actor(fold, event, actor, doc.authors, f"is not an author of {doc.id!r}")
    if not doc.live:
        raise fold.reject(InvalidReference, f"ref={doc.id!r} was already withdrawn ({doc.withdrawn_by!r})", event)


def _proposal_withdrawn(fold: Fold, event: ProposalWithdrawn) -> None:
    doc = fold.docs[event.ref]
    if doc.open:
        fold.open_proposals -= 1
    doc.withdrawn_by = event.id
    for party in doc.addressees:
        fold.owed.pop((doc.id, party), None)


def _withdrawn_steps(fold: Fold) -> Iterator[Step]:
    return (Step(d.authors, d.id) for d in fold.docs.values() if d.live and d.kind == "proposal")


# agreements


def _check_agreed(fold: Fold, event: FrameworkAgreed | TextAgreed, _target: Event | None) -> None:
    _non_party(fold, event.parties, event, "parties")
    for ref in event.keeps_open or ():
        doc = fold.docs.get(ref)
        if doc is None or not doc.live:
            msg = f"keeps_open names {ref!r}, which is not a live document (ProposalPublished or ReplyDelivered)"
            raise fold.reject(InvalidReference, msg, event)
    amends = getattr(event, "amends", None)
    if amends is not None:
        amended = fold.agreements.get(amends)
        if amended is None or amended.kind != "text":
            what = _what(fold.by_id.get(amends)) if amends in fold.by_id else "no earlier event of this negotiation"
            msg = f"amends={amends!r} is {'a ' if amends in fold.by_id else ''}{what}, expected an agreed text (TextAgreed)"
            raise fold.reject(InvalidReference, msg, event)
        amended_on = fold.by_id[amends].occurred
        if event.occurred.definitely_before(amended_on):
            msg = f"occurred={str(event.occurred)!r} is before the text it amends ({amends!r}, occurred {str(amended_on)!r})"
            raise fold.reject(DatedBeforeReference, msg, event)


def _agreed(fold: Fold, event: FrameworkAgreed | TextAgreed) -> None:
    if isinstance(event, TextAgreed):
        record = AgreementRecord(
            event.id,
            "text",
            event.title,
            event.parties,
            ratified_required=event.needs_ratification,
            instrument=event.instrument.value,
            amends=event.amends,
            signature_required=event.signature is not Signature.NONE,
        )
        if event.amends is not None:
            fold.ref_count[event.amends] = fold.ref_count.get(event.amends, 0) + 1
    else:
        record = AgreementRecord(event.id, "framework", event.title, event.parties)
    fold.agreements[event.id] = record
    if not record.principal:  # a side instrument settles nothing of the talks
        return
    if record.kind == "text":
        fold.text = record
    for deadline in fold.deadlines_by_ref.get(None, ()):
        if deadline.met_by is None and deadline.lapsed_by is None:
            deadline.met_by = event.id
    # the agreement settles the documents among its parties (a mediator's draft to them
    # included, even once the mediator has left), unless the log keeps one open; those it
    # keeps open it names, as a ref does
    parties, kept = set(event.parties), set(event.keeps_open or ())
    for ref in kept:
        fold.ref_count[ref] = fold.ref_count.get(ref, 0) + 1
    for doc in fold.docs.values():
        if (
            doc.live
            and doc.id not in kept
            and parties.issuperset(doc.addressees)
            and (doc.by_participant or all(a in parties or a in fold.roles for a in doc.authors))
        ):
            if doc.open:
                fold.open_proposals -= 1
                doc.settled_by = event.id
            for party in doc.addressees:
                fold.owed.pop((doc.id, party), None)


def _check_signed(fold: Fold, event: AgreementSigned, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    for party in event.parties:
        if party not in text.parties:
            raise _wrong_actor(fold, event, party, text.parties, f"is not a party to {text.id!r}")
        if party in text.signed:
            unsigned = [p for p in text.parties if p not in text.signed]
            raise _wrong_actor(fold, event, party, unsigned, f"has already signed {text.id!r} ({text.signed[party]!r})")
    for witness in event.witnesses or ():
        if witness in text.parties or witness in event.parties:
            msg = f"witnesses={witness!r} is a party to {text.id!r}: it signs as a party, not as a witness"
            raise fold.reject(WrongActor, msg, event)


def _agreement_signed(fold: Fold, event: AgreementSigned) -> None:
    text = fold.agreements[event.ref]
    for party in event.parties:
        text.signed[party] = event.id
    for witness in event.witnesses or ():
        text.witnesses.setdefault(witness, event.id)


def _signed_steps(fold: Fold) -> Iterator[Step]:
    for text in _texts_open_to(fold, "AgreementSigned"):
        unsigned = tuple(p for p in text.parties if p not in text.signed)
        if unsigned:
            yield Step(unsigned, text.id)


def _unratified(text: AgreementRecord) -> tuple[str, ...]:
    """The remaining parties of ``text`` that have not ratified it (those that refused may yet)."""
    return tuple(p for p in text.remaining if p not in text.ratified)


def _check_ratified(fold: Fold, event: AgreementRatified, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    pending = _unratified(text)
    for actor in actors_of(event):
        if actor not in text.parties and actor not in text.joined:
            raise _wrong_actor(fold, event, actor, pending, f"is not a party to {text.id!r}")
        if actor not in pending:
            raise _wrong_actor(fold, event, actor, pending, f"has already ratified {text.id!r}")


def _agreement_ratified(fold: Fold, event: AgreementRatified) -> None:
    text = fold.agreements[event.ref]
    for actor in actors_of(event):
        if event.partial:  # one step of the party's ratification: it has not ratified yet
            text.approvals[actor] = (*text.approvals.get(actor, ()), event.id)
        else:
            text.ratified[actor] = event.id


def _ratified_steps(fold: Fold) -> Iterator[Step]:
    for text in _texts_open_to(fold, "AgreementRatified"):
        pending = _unratified(text)
        if pending:
            yield Step(pending, text.id)


def _undecided(text: AgreementRecord) -> tuple[str, ...]:
    """The remaining parties of ``text`` that have neither ratified nor refused it."""
    return tuple(p for p in text.remaining if p not in text.ratified and p not in text.refused)


def _check_refused(fold: Fold, event: RatificationRefused, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    pending = _undecided(text)
    for actor in actors_of(event):
        if actor not in text.parties and actor not in text.joined:
            raise _wrong_actor(fold, event, actor, pending, f"is not a party to {text.id!r}")
        if actor in text.ratified:
            raise _wrong_actor(fold, event, actor, pending, f"has already ratified {text.id!r}")
        if actor in text.refused:
            raise _wrong_actor(
                fold, event, actor, pending, f"has already refused {text.id!r} ({text.refused[actor]!r})"
            )


def _ratification_refused(fold: Fold, event: RatificationRefused) -> None:
    text = fold.agreements[event.ref]
    for actor in actors_of(event):
        text.refused[actor] = event.id
    if fold.refuses_text(event):
        text.refused_by = event.id


def _refused_steps(fold: Fold) -> Iterator[Step]:
    for text in _texts_open_to(fold, "RatificationRefused"):
        pending = _undecided(text)
        if pending:
            yield Step(pending, text.id)


def _check_text_ref(fold: Fold, event: Event, target: Event | None) -> None:
    _text_for(fold, event, target)


def _entered_into_force(fold: Fold, event: Event) -> None:
    fold.agreements[event.ref_id or ""].entered_into_force = event.id


def _on_text_steps(kind: str) -> Callable[[Fold], Iterator[Step]]:
    def steps(fold: Fold) -> Iterator[Step]:
        for text in _texts_open_to(fold, kind):
            yield Step(None, text.id)

    return steps


def _check_party_withdrew(fold: Fold, event: PartyWithdrew, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    for actor in actors_of(event):
        if actor not in text.remaining:
            raise _wrong_actor(fold, event, actor, text.remaining, f"is not a remaining party to {text.id!r}")
        if event.notice and actor in text.notices:
            waiting = tuple(p for p in text.remaining if p not in text.notices)
            why = f"has given notice of its withdrawal from {text.id!r} already ({text.notices[actor]!r})"
            raise _wrong_actor(fold, event, actor, waiting, why)


def _party_withdrew(fold: Fold, event: PartyWithdrew) -> None:
    text = fold.agreements[event.ref]
    if event.notice:  # the party stays bound until the withdrawal takes effect
        for actor in actors_of(event):
            text.notices[actor] = event.id
        return
    for actor in actors_of(event):
        text.withdrawn[actor] = event.id
        text.suspended.pop(actor, None)
        text.notices.pop(actor, None)
    if len(text.remaining) < 2:
        text.terminated = event.id


def _party_withdrew_steps(fold: Fold) -> Iterator[Step]:
    for text in _texts_open_to(fold, "PartyWithdrew"):
        yield Step(text.remaining, text.id)


def _check_terminated(fold: Fold, event: AgreementTerminated, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    for actor in actors_of(event):
        if actor not in text.remaining:
            raise _wrong_actor(fold, event, actor, text.remaining, f"is not a remaining party to {text.id!r}")


def _check_suspended(fold: Fold, event: ParticipationSuspended, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    active = tuple(p for p in text.remaining if p not in text.suspended)
    for actor in actors_of(event):
        if actor not in active:
            raise _wrong_actor(fold, event, actor, active, f"is not a party taking part in {text.id!r}")


def _participation_suspended(fold: Fold, event: ParticipationSuspended) -> None:
    text = fold.agreements[event.ref]
    for actor in actors_of(event):
        text.suspended[actor] = event.id


def _check_resumed(fold: Fold, event: ParticipationResumed, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    for actor in actors_of(event):
        if actor not in text.suspended:
            raise _wrong_actor(fold, event, actor, list(text.suspended), f"has not suspended its part in {text.id!r}")


def _participation_resumed(fold: Fold, event: ParticipationResumed) -> None:
    text = fold.agreements[event.ref]
    for actor in actors_of(event):
        del text.suspended[actor]


def _suspension_steps(fold: Fold) -> Iterator[Step]:
    for text in _texts_open_to(fold, "ParticipationSuspended"):
        active = tuple(p for p in text.remaining if p not in text.suspended)
        if active:
            yield Step(active, text.id)


def _resumption_steps(fold: Fold) -> Iterator[Step]:
    for text in _texts_open_to(fold, "ParticipationResumed"):
        if text.suspended:
            yield Step(tuple(text.suspended), text.id)


def _check_joined(fold: Fold, event: PartyJoined, target: Event | None) -> None:
    text = _text_for(fold, event, target)
    _non_party(fold, actors_of(event), event, "actor")
    for actor in actors_of(event):
        if actor in text.remaining:
            raise fold.reject(WrongActor, f"actor={actor!r} is already a party to {text.id!r}", event)


def _rejoin_steps(fold: Fold) -> Iterator[Step]:
    # the parties that withdrew may rejoin; a newcomer may accede too, but "anyone who is not a
    # party" is not a list of actors
    for text in _texts_open_to(fold, "PartyJoined"):
        if text.withdrawn:
            yield Step(tuple(text.withdrawn), text.id)


def _party_joined(fold: Fold, event: PartyJoined) -> None:
    text = fold.agreements[event.ref]
    for actor in actors_of(event):
        text.withdrawn.pop(actor, None)
        text.joined[actor] = event.id


def _agreement_terminated(fold: Fold, event: Event) -> None:
    text = fold.agreements[event.ref_id or ""]
    text.terminated = event.id
    for record in fold.deadlines_by_ref.get(text.id, ()):  # its term and obligations end with it
        if record.standing:
            record.met_by = event.id


# implementation


def _agreement_for(fold: Fold, event: Event, target: Event | None) -> AgreementRecord:
    return _record_for(fold, fold.agreements, event, target, "an agreement (FrameworkAgreed or TextAgreed)")


def _check_reported(fold: Fold, event: ImplementationReported, target: Event | None) -> None:
    _agreement_for(fold, event, target)


def _implementation_reported(fold: Fold, event: ImplementationReported) -> None:
    fold.agreements[event.ref].reports.append(event.id)
    if event.status is ObligationStatus.MET:  # an obligation performed meets the deadlines it owed
        actors = actors_of(event)
        for record in fold.deadlines_by_ref.get(event.ref, ()):  # not a term, which owes nobody
            if record.met_by is None and record.actor is not None and record.actor in actors:
                record.met_by = event.id


def _check_alleged(fold: Fold, event: ViolationAlleged, target: Event | None) -> None:
    agreement = _agreement_for(fold, event, target)
    members = (*agreement.parties, *(p for p in agreement.joined if p not in agreement.parties))
    for party in event.against:
        if party not in members:
            msg = f"against={party!r} is not a party to {agreement.id!r}; expected one of: " + ", ".join(
                map(repr, members)
            )
            raise fold.reject(WrongActor, msg, event)


def _violation_alleged(fold: Fold, event: ViolationAlleged) -> None:
    fold.agreements[event.ref].allegations.append(event.id)


def _on_agreements_steps(fold: Fold) -> Iterator[Step]:
    return (Step(None, a) for a in fold.agreements)


# deadlines and the course of the talks


def _deadline_set(fold: Fold, event: DeadlineSet) -> None:
    record = DeadlineRecord(event.id, event.deadline, event.ref, event.actor, set_by=event.set_by)
    # a new deadline for the same thing, owed by the same party and set by the same party,
    # supersedes the standing ones (an extension): only the latest can be overdue
    for earlier in fold.deadlines_by_ref.get(event.ref, ()):
        if earlier.standing and earlier.actor == event.actor and earlier.set_by == event.set_by:
            earlier.superseded_by = event.id
    fold.deadlines[event.id] = record
    fold.deadlines_by_ref.setdefault(event.ref, []).append(record)


def _check_party_of_talks(fold: Fold, event: Event, _target: Event | None) -> None:
    for actor in actors_of(event):
        if actor in fold.roles:
            role = fold.roles[actor].value
            msg = f"is a {role}, not a party: it may leave the talks (ParticipantLeft), not {event.TYPE}"
            raise _wrong_actor(fold, event, actor, sorted(fold.parties), msg)
        if actor not in fold.parties:
            raise _wrong_actor(fold, event, actor, sorted(fold.parties), "is not a party to these talks")


def _talks_steps(fold: Fold) -> Iterator[Step]:
    if fold.parties:
        yield Step(tuple(fold.parties), None)


def _talks_paused(fold: Fold, _event: Event) -> None:
    if fold.stage not in (Stage.SUSPENDED, Stage.BROKEN_OFF, Stage.LAPSED):
        fold.paused_from = fold.stage  # a break-off during a suspension keeps the stage before it


def _talks_resumed(fold: Fold, _event: Event) -> None:
    fold.paused_from = None


def _check_lapsed(fold: Fold, event: TalksLapsed, target: Event | None) -> None:
    if event.ref is not None and event.ref not in fold.deadlines:
        raise fold.reject(InvalidReference, f"ref={event.ref!r} is a {_what(target)}, expected a DeadlineSet", event)


def _talks_lapsed(fold: Fold, event: TalksLapsed) -> None:
    _talks_paused(fold, event)
    if event.ref is not None:
        fold.deadlines[event.ref].lapsed_by = event.id


def _lapsed_steps(fold: Fold) -> Iterator[Step]:
    yield Step(None, None)
    for deadline in fold.deadlines:
        yield Step(None, deadline)


def _retraction_steps(fold: Fold) -> Iterator[Step]:
    return (Step(None, ref) for ref in fold.retractable())


Check = Callable[["Fold", Any, "Event | None"], None]
Effect = Callable[["Fold", Any], None]


@attrs.frozen
class Rule:
    """The rule of one event type (the stage it may occur in is the machine's business).

    Attributes:
        type: the event type.
        steps: the next steps of this type the fold offers (when its stage permits the type).
        check: raises when the event may not be folded in (beyond the checks every event
            gets: a new id, a permitted stage, an earlier ref not dated after it).
        effect: what the event changes in the fold's records.
        party_only: only a party to the talks may make it (its actor must be one).
        outsider: its actor may be an outsider (a statement; a newspaper's leak): it does
            not make its actor a party to the talks.
        settles: it meets a deadline set on what it references (by its actor, if the
            deadline names one).
    """

    type: str
    steps: Callable[[Fold], Iterable[Step]]
    check: Check | None = None
    effect: Effect | None = None
    party_only: bool = False
    outsider: bool = False
    settles: bool = False


#: Every event type's rule, in the contract's order of types.
RULES: dict[str, Rule] = {
    rule.type: rule
    for rule in (
        Rule("ContactProposed", _anyone, effect=_contact_proposed),
        Rule("ContactAccepted", _contact_accepted_steps, _check_contact_accepted, _contact_accepted, settles=True),
        Rule("ContactDeclined", _contact_declined_steps, _check_contact_declined, _contact_declined, settles=True),
        Rule("ContactHeld", _contact_held_steps, _check_contact_held, _contact_held, settles=True),
        Rule("ConsultationHeld", _anyone),
        Rule("ParticipantJoined", _anyone, effect=_participant_joined, outsider=True),
        Rule("ParticipantLeft", _left_steps, _check_participant_left, _participant_left, outsider=True),
        Rule("ProposalPublished", _proposal_steps, _check_answer, _proposal_published, settles=True),
        Rule("ReplyDelivered", _reply_steps, _check_reply, _reply_delivered, settles=True),
        Rule("PositionStated", _anyone, _check_position, _position_stated, outsider=True),
        Rule("DocumentDisclosed", _disclosed_steps, _check_disclosed, _document_disclosed, outsider=True),
        Rule("ProposalWithdrawn", _withdrawn_steps, _check_withdrawn, _proposal_withdrawn),
        Rule("FrameworkAgreed", _anyone, _check_agreed, _agreed),
        Rule("TextAgreed", _anyone, _check_agreed, _agreed),
        Rule("AgreementSigned", _signed_steps, _check_signed, _agreement_signed, settles=True),
        Rule("AgreementRatified", _ratified_steps, _check_ratified, _agreement_ratified, settles=True),
        Rule("RatificationRefused", _refused_steps, _check_refused, _ratification_refused),
        Rule(
            "AgreementEnteredIntoForce",
            _on_text_steps("AgreementEnteredIntoForce"),
            _check_text_ref,
            _entered_into_force,
            settles=True,
        ),
        Rule("PartyWithdrew", _party_withdrew_steps, _check_party_withdrew, _party_withdrew),
        Rule("ParticipationSuspended", _suspension_steps, _check_suspended, _participation_suspended),
        Rule("ParticipationResumed", _resumption_steps, _check_resumed, _participation_resumed),
        Rule("PartyJoined", _rejoin_steps, _check_joined, _party_joined),
        Rule("AgreementTerminated", _on_text_steps("AgreementTerminated"), _check_terminated, _agreement_terminated),
        Rule("ImplementationReported", _on_agreements_steps, _check_reported, _implementation_reported, outsider=True),
        Rule("ViolationAlleged", _on_agreements_steps, _check_alleged, _violation_alleged, outsider=True),
        Rule("DeadlineSet", _anyone, effect=_deadline_set),
        Rule("TalksSuspended", _talks_steps, _check_party_of_talks, _talks_paused, party_only=True),
        Rule("TalksResumed", _talks_steps, _check_party_of_talks, _talks_resumed, party_only=True),
        Rule("TalksBrokenOff", _talks_steps, _check_party_of_talks, _talks_paused, party_only=True),
        Rule("TalksLapsed", _lapsed_steps, _check_lapsed, _talks_lapsed),
        # replay handles a retraction itself (it rewrites history: see negotiation.fold)
        Rule("EventRetracted", _retraction_steps),
    )
}


# -- what a fold derives from the rules ----------------------------------------------------

_ANSWER_TYPES = ("ReplyDelivered", "ProposalPublished")
_CONTACT_ANSWERS = ("ContactAccepted", "ContactDeclined")


def owed(fold: Fold) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """The moves owed, as (party, types, ref), in the log order of what they answer.

    While the stage permits replies, a reply (or counter-proposal) from each addressee of a
    live document who has not answered it; in every stage, an answer from each addressee of
    an open contact proposal; then, for each agreed text (the principal one, then the side
    instruments, each in the stage the principal one is in or its own life stage), a
    signature from each party that has not signed (``text_agreed``, ``signed``) and a
    ratification from each signatory that has neither ratified nor refused (``signed``,
    ``ratifying``).
    """
    stage = fold.stage
    replies = stage in OWES_REPLIES
    for (ref, party), is_doc in fold.owed.items():
        if is_doc and replies:
            yield party, _ANSWER_TYPES, ref
        elif not is_doc:
            yield party, _CONTACT_ANSWERS, ref
    for text in _texts(fold):
        life = stage if text.principal else text.life_stage
        signing = text.signature_required
        if signing and life in OWES_SIGNATURE:
            for p in text.remaining:
                if p not in text.signed:
                    yield p, ("AgreementSigned",), text.id
        # a text adopted without signature is owed ratifications by every party from its adoption
        ratifying = life in OWES_RATIFICATION or (not signing and life is Stage.TEXT_AGREED)
        if ratifying and text.ratified_required:
            for p in text.remaining:
                if (p in text.signed or not signing) and p not in text.ratified and p not in text.refused:
                    yield p, ("AgreementRatified",), text.id


def awaiting(fold: Fold) -> list[Awaiting]:
    """The moves owed (see :func:`owed`) as :class:`Awaiting` views."""
    return [Awaiting(party=party, types=types, ref=ref) for party, types, ref in owed(fold)]


def permitted(fold: Fold, *, retractions: bool = True) -> list[Permitted]:
    """Every permitted next step: each permitted type's steps, grouped.

    In the contract's order of types. A type gives its step that names no ref first (if it
    has one), then one step per distinct set of actors (sorted), each with the refs they may
    name, in the order the rule offers them, each once. Without ``retractions``, the
    ``EventRetracted`` step is left out, and so is the pass over the whole log that finds
    which events it may name.
    """
    out: list[Permitted] = []
    ordered: dict[tuple[str, ...], tuple[str, ...]] = {}  # each set of actors, sorted once
    for kind in fold.permitted_type_names():
        if kind == "EventRetracted" and not retractions:
            continue
        grouped: dict[tuple[str, ...] | None, dict[str, None]] = {}
        for step in RULES[kind].steps(fold):
            actors = step.actors
            if actors is not None:
                actors = ordered.get(actors) or ordered.setdefault(actors, tuple(sorted(set(actors))))
            if step.ref is None:
                out.append(Permitted(type=kind, actors=actors, refs=()))
            else:
                grouped.setdefault(actors, {})[step.ref] = None
        for actors, refs in grouped.items():
            out.append(Permitted(type=kind, actors=actors, refs=tuple(refs)))
    return out
