"""The contract's rules per event type: the checks before an event is folded in, and the
updates of the fold's records after (private; :class:`negotiation._fold.Fold` calls them).

A check raises an :class:`~negotiation.errors.EventRejected` subclass naming the culprit and
what was expected; an update changes the fold's records, never its stage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from negotiation._records import AgreementRecord, ContactRecord, DeadlineRecord, DocRecord
from negotiation.errors import EventRejected, InvalidReference, WrongActor
from negotiation.events import (
    AgreementRatified,
    AgreementSigned,
    ContactAccepted,
    ContactDeclined,
    ContactHeld,
    ContactProposed,
    DeadlineSet,
    DocumentDisclosed,
    Event,
    FrameworkAgreed,
    PartyWithdrew,
    PositionStated,
    ProposalPublished,
    ProposalWithdrawn,
    ReplyDelivered,
    TalksLapsed,
    TextAgreed,
)

if TYPE_CHECKING:
    from negotiation._fold import Fold

__all__ = ["CHECKS", "PARTIES_CHECKED", "UPDATES", "actor_of"]


def actor_of(event: Event) -> str | None:
    actor = getattr(event, "actor", None)
    return actor if isinstance(actor, str) else None


# -- per-type checks: run before the stage moves; raise EventRejected ----------------------

Check = Callable[["Fold", Any, "Event | None"], None]


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
    actor = actor_of(event)
    if actor is not None and actor not in fold.parties:
        raise _wrong_actor(fold, event, actor, sorted(fold.parties), "is not a party to these talks")


def _check_lapsed(fold: Fold, event: TalksLapsed, target: Event | None) -> None:
    if event.ref is not None and event.ref not in fold.deadlines:
        what = target.TYPE if target is not None else "nothing"
        raise fold._reject(InvalidReference, f"ref={event.ref!r} is a {what}, expected a DeadlineSet", event)


CHECKS: dict[str, Check] = {
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

#: The types whose check reads the fold's parties (their actor must be one): the only check
#: that does, which Fold.retractable's shortcuts rely on.
PARTIES_CHECKED = frozenset(kind for kind, check in CHECKS.items() if check is _check_talks_actor)


# -- per-type updates: run after the checks, with the event's index in the effective log -------

Update = Callable[["Fold", Any, int], None]


def _answer(fold: Fold, doc: DocRecord, actor: str, event_id: str) -> None:
    if doc.kind == "proposal":
        fold.any_proposal_answered = True
        if not doc.answers and doc.live:
            fold.open_proposals -= 1
    doc.answers.append(event_id)
    doc.answered_by.setdefault(actor, None)
    fold.owed.pop((doc.id, actor), None)


def _positions(fold: Fold, actor: str, positions: Any, event_id: str) -> None:
    if positions:
        for item, stance in positions.items():
            fold.positions[(actor, item)] = (stance, event_id)


def _on_proposal(fold: Fold, event: ProposalPublished, index: int) -> None:
    fold.docs[event.id] = DocRecord(event, event.to, index)
    for party in event.to:
        fold.owed[(event.id, party)] = True
    fold.open_proposals += 1
    if event.ref is not None:
        _answer(fold, fold.docs[event.ref], event.actor, event.id)


def _on_reply(fold: Fold, event: ReplyDelivered, index: int) -> None:
    answered = fold.docs[event.ref]
    fold.docs[event.id] = DocRecord(event, (answered.author,), index)
    fold.owed[(event.id, answered.author)] = True
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
    for party in doc.addressees:
        fold.owed.pop((doc.id, party), None)
    if not doc.answers:
        fold.open_proposals -= 1


def _on_contact_proposed(fold: Fold, event: ContactProposed, index: int) -> None:
    fold.contacts[event.id] = ContactRecord(event, index)
    for party in event.to:
        fold.owed[(event.id, party)] = False


def _on_contact_accepted(fold: Fold, event: ContactAccepted, _index: int) -> None:
    fold.contacts[event.ref].accepted_by[event.actor] = event.id
    fold.owed.pop((event.ref, event.actor), None)


def _on_contact_declined(fold: Fold, event: ContactDeclined, _index: int) -> None:
    contact = fold.contacts[event.ref]
    contact.declined_by = (event.actor, event.id)
    for party in contact.to:
        fold.owed.pop((contact.id, party), None)


def _on_contact_held(fold: Fold, event: ContactHeld, _index: int) -> None:
    if event.ref is not None:
        contact = fold.contacts[event.ref]
        contact.held_by.append(event.id)
        for party in contact.to:
            fold.owed.pop((contact.id, party), None)


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


UPDATES: dict[str, Update] = {
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
