"""Contract version 2. The first part: roles, joint acts, reply stances, witnesses,
agreements that settle what they cover, the new stage rules and time rules. The second:
several instruments, ratification in steps and refused.

Each test builds the smallest log that shows one rule of docs/contract.md; the real examples
are in tests/test_real_logs.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from negotiation import (
    AgreementEnteredIntoForce,
    AgreementRatified,
    AgreementSigned,
    AgreementTerminated,
    ConsultationHeld,
    ContactAccepted,
    ContactHeld,
    ContactProposed,
    DatedBeforeReference,
    DeadlineSet,
    DocumentDisclosed,
    EventRetracted,
    FrameworkAgreed,
    ImplementationReported,
    InvalidEvent,
    InvalidReference,
    NegotiationState,
    NotPermitted,
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
    Stage,
    TalksBrokenOff,
    TalksResumed,
    TalksSuspended,
    TextAgreed,
    ViolationAlleged,
    WrongActor,
    dump_event,
    parse_event,
    read_log,
    replay,
)


def owed(events: list, **kwargs: object) -> set[tuple[str, str]]:
    return {(a.party, a.ref) for a in replay(events, negotiation="n", **kwargs).awaiting}


def draft(actor: str = "A", to: tuple[str, ...] = ("B",), id: str = "p") -> ProposalPublished:
    return ProposalPublished(id=id, occurred="2025-04-01", actor=actor, to=list(to), title="Draft")


mediator = ParticipantJoined(id="om", occurred="2025-03-01", actor="OM", role="mediator")


# -- replies with a stance ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "author_owes"),
    [
        ({}, True),  # no stance: the exchange goes on, as in version 1
        ({"stance": "counter"}, True),
        ({"stance": "accept"}, False),
        ({"stance": "reject"}, False),
        ({"stance": "partial"}, False),
        ({"stance": "acknowledge"}, False),
        ({"stance": "accept", "asks_answer": True}, True),
        ({"stance": "counter", "asks_answer": False}, False),
    ],
)
def test_a_reply_is_owed_an_answer_only_when_it_asks_for_one(fields: dict, author_owes: bool) -> None:
    reply = ReplyDelivered(id="r", occurred="2025-04-02", actor="B", ref="p", **fields)
    assert (("A", "r") in owed([draft(), reply])) is author_owes
    assert ("B", "p") not in owed([draft(), reply])


def test_a_stance_must_be_one_of_the_five() -> None:
    with pytest.raises(InvalidEvent, match="stance='maybe' must be one of 'accept'"):
        ReplyDelivered(occurred="2025-04-02", actor="B", ref="p", stance="maybe")
    with pytest.raises(InvalidEvent, match="asks_answer='yes' must be true or false"):
        parse_event('{"type": "ReplyDelivered", "occurred": "2025", "actor": "B", "ref": "p", "asks_answer": "yes"}')


# -- roles -----------------------------------------------------------------------------------


def test_after_a_mediators_proposal_both_parties_owe_replies_and_after_both_accept_nothing() -> None:
    bridging = ProposalPublished(id="m", occurred="2025-04-01", actor="OM", to=["US", "IR"], title="Bridging")
    state = replay([mediator, bridging], negotiation="n")
    assert {(a.party, a.ref) for a in state.awaiting} == {("US", "m"), ("IR", "m")}
    assert state.parties == ("US", "IR")
    assert state.roles == {"OM": "mediator"}
    accepted = [
        ReplyDelivered(id=f"{p}-yes", occurred="2025-04-02", actor=p, ref="m", stance="accept") for p in ("US", "IR")
    ]
    assert owed([mediator, bridging, *accepted]) == set()
    # even a reply that asks for an answer leaves the mediator owing none
    asks = ReplyDelivered(id="asks", occurred="2025-04-02", actor="US", ref="m", asks_answer=True)
    assert ("OM", "asks") not in owed([mediator, bridging, asks])


def test_a_mediator_stays_out_of_the_parties_whatever_names_it() -> None:
    held = ConsultationHeld(occurred="2025-04-12", parties=["US", "IR", "OM"], venue="Muscat")
    state = replay([mediator, held], negotiation="n")
    assert state.parties == ("US", "IR")


@pytest.mark.parametrize("kind", [TalksSuspended, TalksBrokenOff])
def test_a_mediator_may_not_suspend_or_break_off_the_talks(kind: type) -> None:
    log = [mediator, draft("US", ("IR",))]
    with pytest.raises(WrongActor, match="'OM' is a mediator, not a party: it may leave the talks"):
        replay([*log, kind(occurred="2025-05-01", actor="OM")], negotiation="n")
    state = replay([*log, ParticipantLeft(id="out", occurred="2025-05-01", actor="OM")], negotiation="n")
    assert state.roles == {}


def test_a_mediator_is_not_a_party_to_an_agreement_but_signs_as_witness() -> None:
    log = [mediator, draft("EG", ("IL",))]
    with pytest.raises(WrongActor, match="parties='OM' is a mediator of these talks, not a party"):
        replay([*log, TextAgreed(occurred="2025-06", parties=["EG", "IL", "OM"], title="Treaty")], negotiation="n")
    text = TextAgreed(id="t", occurred="2025-06", parties=["EG", "IL"], title="Treaty")
    signed = AgreementSigned(id="s", occurred="2025-07", parties=["EG", "IL"], witnesses=["OM"], ref="t")
    state = replay([*log, text, signed], negotiation="n")
    assert state.stage is Stage.SIGNED
    assert dict(state.agreement.witnesses) == {"OM": "s"}  # type: ignore[union-attr]
    assert {a.party for a in state.awaiting} == {"EG", "IL"}  # ratifications: not the witness
    party_witness = AgreementSigned(occurred="2025-07", parties=["EG"], witnesses=["IL"], ref="t")
    with pytest.raises(WrongActor, match="witnesses='IL' is a party to 't'"):
        replay([*log, text, party_witness], negotiation="n")


def test_a_participant_leaves_owing_nothing_and_rejoins() -> None:
    log = [draft("A", ("B", "C"))]
    left = ParticipantLeft(id="c-out", occurred="2025-04-05", actor="C", reason="walked out")
    state = replay([*log, left], negotiation="n")
    assert {(a.party, a.ref) for a in state.awaiting} == {("B", "p")}
    assert "C" not in state.parties
    with pytest.raises(WrongActor, match="'C' is not a party to these talks"):
        state.apply(TalksSuspended(occurred="2025-04-06", actor="C"))
    back = state.apply(ParticipantJoined(id="c-in", occurred="2025-04-07", actor="C", role="party"))
    assert "C" in back.parties
    with pytest.raises(WrongActor, match="does not take part in these talks"):
        state.apply(ParticipantLeft(occurred="2025-04-06", actor="Z"))


def test_pausing_and_resuming_a_mediation() -> None:
    """Qatar paused its mediation in November 2024 and resumed it in December."""
    paused = ParticipantLeft(id="qa-out", occurred="2024-11-09", actor="OM", reason="paused")
    resumed = ParticipantJoined(id="qa-in", occurred="2024-12-05", actor="OM", role="mediator")
    assert replay([mediator, paused], negotiation="n").roles == {}
    assert replay([mediator, paused, resumed], negotiation="n").roles == {"OM": "mediator"}


# -- joint acts ------------------------------------------------------------------------------


def test_a_joint_reply_counts_for_each_of_its_actors() -> None:
    proposal = draft("IR", ("FR", "DE", "GB"))
    joint = ReplyDelivered(id="e3", occurred="2025-04-02", actor="FR", co_actors=["DE", "GB"], ref="p", stance="reject")
    state = replay([proposal, joint], negotiation="n")
    assert state.awaiting == ()
    assert state.stage is Stage.TALKS
    assert state.parties == ("IR", "FR", "DE", "GB")


def test_every_actor_of_a_joint_act_must_be_allowed_to_make_it() -> None:
    joint = ReplyDelivered(occurred="2025-04-02", actor="B", co_actors=["Z"], ref="p")
    with pytest.raises(WrongActor, match="actor='Z' is not an addressee of 'p'"):
        replay([draft(), joint], negotiation="n")
    with pytest.raises(InvalidEvent, match="co_actors=\\['B'\\] must be parties other than the actor 'B'"):
        ReplyDelivered(occurred="2025-04-02", actor="B", co_actors=["B"], ref="p")


def test_a_joint_proposal_is_answered_to_all_its_authors_and_withdrawn_by_any() -> None:
    joint = ProposalPublished(id="p", occurred="2025-04-01", actor="A", co_actors=["C"], to=["B"], title="Joint")
    reply = ReplyDelivered(id="r", occurred="2025-04-02", actor="B", ref="p")
    assert owed([joint, reply]) == {("A", "r"), ("C", "r")}
    state = replay([joint, ProposalWithdrawn(occurred="2025-04-02", actor="C", ref="p")], negotiation="n")
    assert state.documents["p"].withdrawn_by is not None
    assert state.documents["p"].co_authors == ("C",)


# -- agreements settle what they cover -----------------------------------------------------


def test_an_agreement_settles_the_open_documents_among_its_parties() -> None:
    proposals = [draft("A", ("B",), "p1"), draft("B", ("A",), "p2"), draft("A", ("C",), "p3")]
    framework = FrameworkAgreed(id="f", occurred="2025-05", parties=["A", "B"], title="Framework")
    state = replay([*proposals, framework], negotiation="n")
    assert {(a.party, a.ref) for a in state.awaiting} == {("C", "p3")}  # C is not a party to it
    assert state.documents["p1"].settled_by == "f"
    kept = FrameworkAgreed(id="f", occurred="2025-05", parties=["A", "B"], title="Framework", keeps_open=["p2"])
    assert owed([*proposals, kept]) == {("A", "p2"), ("C", "p3")}
    bad = FrameworkAgreed(occurred="2025-05", parties=["A", "B"], title="Framework", keeps_open=["nothing"])
    with pytest.raises(InvalidReference, match="keeps_open names 'nothing', which is not a live document"):
        replay([*proposals, bad], negotiation="n")


def test_an_agreement_settles_a_mediators_draft_to_its_parties() -> None:
    bridging = ProposalPublished(id="m", occurred="2025-04-01", actor="OM", to=["EG", "IL"], title="Single text")
    framework = FrameworkAgreed(id="f", occurred="2025-05", parties=["EG", "IL"], title="Frameworks")
    assert owed([mediator, bridging, framework]) == set()


# -- stage rules -----------------------------------------------------------------------------


def _treaty() -> list:
    return [
        draft(),
        TextAgreed(id="t", occurred="1979-05", parties=["A", "B"], title="Treaty"),
        AgreementSigned(id="s", occurred="1979-06-18", parties=["A", "B"], ref="t"),
    ]


def test_talks_may_break_off_after_a_signature_and_resume_where_they_stood() -> None:
    """SALT II: signed in June 1979, never ratified; a resumption keeps the signed text."""
    broken = [*_treaty(), TalksBrokenOff(occurred="1980-01-03", actor="A")]
    assert replay(broken, negotiation="n").stage is Stage.BROKEN_OFF
    assert replay([*broken, TalksResumed(occurred="1981", actor="B")], negotiation="n").stage is Stage.SIGNED


def test_a_suspension_may_become_a_break_off() -> None:
    log = [*_treaty(), TalksSuspended(occurred="1980-01-03", actor="A"), TalksBrokenOff(occurred="1986-05", actor="A")]
    assert replay(log, negotiation="n").stage is Stage.BROKEN_OFF
    assert replay([*log, TalksResumed(occurred="1987", actor="A")], negotiation="n").stage is Stage.SIGNED


def test_a_resumption_returns_to_the_exchange_as_it_is() -> None:
    answered = [draft(), ReplyDelivered(id="r", occurred="2025-04-02", actor="B", ref="p")]
    pause = [TalksBrokenOff(occurred="2025-05", actor="A"), TalksResumed(occurred="2025-06", actor="A")]
    assert replay([*answered, *pause], negotiation="n").stage is Stage.TALKS
    assert replay([draft(), *pause], negotiation="n").stage is Stage.PROPOSAL_OPEN


# -- time ------------------------------------------------------------------------------------


def test_an_empty_log_is_idle() -> None:
    assert replay([], negotiation="n").stage is Stage.IDLE


def test_date_times_of_one_utc_day_are_not_before_each_other() -> None:
    text = TextAgreed(id="t", occurred="2025-01-19T15:00:00+00:00", parties=["A", "B"], title="Ceasefire")
    into_force = AgreementEnteredIntoForce(occurred="2025-01-19T09:15:00+00:00", ref="t")
    assert replay([draft(), text, into_force], negotiation="n").stage is Stage.IN_FORCE
    next_day = AgreementEnteredIntoForce(occurred="2025-01-18T23:59:00+00:00", ref="t")
    with pytest.raises(DatedBeforeReference):
        replay([draft(), text, next_day], negotiation="n")


def test_an_acceptance_learned_late_is_logged_after_the_contact_was_held() -> None:
    offer = ContactProposed(id="k", occurred="2025-03-01", actor="A", to=["B"], level="minister", venue="Geneva")
    held = ContactHeld(id="h", occurred="2025-03-10", parties=["A", "B"], level="minister", mode="in_person", ref="k")
    early = ContactAccepted(occurred="2025-03-05", actor="B", ref="k")
    state = replay([offer, held, early], negotiation="n")
    assert state.contacts["k"].accepted_by == ("B",)
    late = ContactAccepted(occurred="2025-03-11", actor="B", ref="k")
    with pytest.raises(InvalidReference, match="was already held \\('h'\\) before this acceptance"):
        replay([offer, held, late], negotiation="n")


def test_the_new_levels_and_fields() -> None:
    for level in ("deputy_minister", "organisation_head", "military", "technical"):
        ContactHeld(occurred="2025", parties=["A", "B"], level=level, mode="video")
    consultation = ConsultationHeld(occurred="2025", parties=["A", "B"], mode="video")
    assert parse_event(dump_event(consultation)) == consultation
    assert parse_event(dump_event(consultation)).mode == "video"


# -- deadlines and ratification -------------------------------------------------------------


def test_an_extension_supersedes_the_deadline_it_extends() -> None:
    """Only the latest of a chain of extensions can be overdue; a deadline set by another party
    on the same thing (a disputed term) supersedes nothing."""
    first = DeadlineSet(id="d1", occurred="2025-04-20", deadline="2025-07-20", ref="p")
    extended = DeadlineSet(id="d2", occurred="2025-07-18", deadline="2025-11-24", ref="p")
    state = replay([draft(), first, extended], negotiation="n")
    assert state.deadlines["d1"].superseded_by == "d2"
    assert [d.id for d in state.overdue("2026-01-01")] == ["d2"]
    claimed = DeadlineSet(id="d3", occurred="2025-07-19", deadline="2025-12-31", ref="p", set_by="B")
    disputed = replay([draft(), first, extended, claimed], negotiation="n")
    assert disputed.deadlines["d2"].superseded_by is None
    assert [d.id for d in disputed.overdue("2026-01-02")] == ["d2", "d3"]


def test_the_jpoa_extensions_leave_only_the_last_overdue() -> None:
    """JCPOA: the interim deal's deadline was extended three times; on 10 July 2015 only the
    last extension (7 July) had passed unmet."""
    from negotiation import replay_log
    from tests.conftest import EVENTS

    state = replay_log(EVENTS / "jcpoa.jsonl", as_of="2015-07-10")
    assert [d.id for d in state.overdue()] == ["deadline-extended-to-jul-7"]


def test_a_text_that_needs_no_ratification_owes_none() -> None:
    """A ceasefire or a political declaration enters into force with no ratification."""
    text = TextAgreed(id="t", occurred="2025-01-15", parties=["A", "B"], title="Ceasefire", ratification="none")
    signed = AgreementSigned(id="s", occurred="2025-01-17", parties=["A", "B"], ref="t")
    state = replay([draft(), text, signed], negotiation="n")
    assert state.stage is Stage.SIGNED
    assert state.awaiting == ()
    assert state.agreement.ratification == "none"  # type: ignore[union-attr]
    required = replay([draft(), attrs.evolve(text, ratification=None), signed], negotiation="n")
    assert {(a.party, a.types) for a in required.awaiting} == {
        ("A", ("AgreementRatified",)),
        ("B", ("AgreementRatified",)),
    }


# -- implementation and endings ---------------------------------------------------------------


def _in_force() -> list:
    return [*_treaty(), AgreementEnteredIntoForce(id="f", occurred="1979-07", ref="t")]


def test_reports_and_allegations_are_recorded_on_the_agreement() -> None:
    report = ImplementationReported(id="ok", occurred="1980", actor="IAEA", ref="t", status="met", obligation="stocks")
    alleged = ViolationAlleged(id="v", occurred="1981", actor="A", co_actors=["C"], against=["B"], ref="t")
    state = replay([*_in_force(), report, alleged], negotiation="n")
    assert state.stage is Stage.IN_FORCE
    assert state.agreement.reports == ("ok",)  # type: ignore[union-attr]
    assert state.agreement.allegations == ("v",)  # type: ignore[union-attr]
    assert "IAEA" not in state.parties  # a monitor reporting does not join the talks
    with pytest.raises(WrongActor, match="against='Z' is not a party to 't'"):
        state.apply(ViolationAlleged(occurred="1981", actor="A", against=["Z"], ref="t"))
    with pytest.raises(InvalidReference, match="expected an agreement"):
        state.apply(ImplementationReported(occurred="2026", actor="A", ref="p", status="missed"))


def test_an_obligation_reported_met_meets_its_deadline() -> None:
    due = DeadlineSet(id="due", occurred="1979-08", deadline="1980-01", ref="t", actor="B")
    missed = ImplementationReported(id="late", occurred="1980-02", actor="B", ref="t", status="missed")
    met = ImplementationReported(id="done", occurred="1980-03", actor="B", ref="t", status="met")
    assert [d.id for d in replay([*_in_force(), due, missed], negotiation="n").overdue("1980-04")] == ["due"]
    state = replay([*_in_force(), due, missed, met], negotiation="n")
    assert state.deadlines["due"].met_by == "done"
    assert state.overdue("1980-04") == ()


def test_an_ending_has_an_actor_and_a_reason() -> None:
    denounced = AgreementTerminated(occurred="2019-08-02", ref="t", actor="A", ending="denounced", reason="violations")
    state = replay([*_in_force(), denounced], negotiation="n")
    assert state.stage is Stage.TERMINATED
    with pytest.raises(WrongActor, match="actor='Z' is not a remaining party to 't'"):
        replay([*_in_force(), AgreementTerminated(occurred="2019", ref="t", actor="Z")], negotiation="n")
    mutual = AgreementTerminated(occurred="2019", ref="t", actor="A", co_actors=["B"], ending="mutually_ended")
    assert replay([*_in_force(), mutual], negotiation="n").stage is Stage.TERMINATED
    with pytest.raises(InvalidEvent, match="ending='lapsed' must be one of 'denounced'"):
        AgreementTerminated(occurred="2019", ref="t", ending="lapsed")


def test_the_e3_allege_iran_violates_the_jcpoa_in_one_joint_act() -> None:
    """JCPOA, 14 January 2020: France, Germany and the UK together trigger the dispute mechanism."""
    from negotiation import replay_log
    from tests.conftest import EVENTS

    state = replay_log(EVENTS / "jcpoa.jsonl", as_of="2020-01-31")
    (allegation,) = [e for e in state.events if e.TYPE == "ViolationAlleged"]
    assert (allegation.actor, allegation.co_actors, allegation.against) == ("FR", ("DE", "UK"), ("IR",))
    assert state.agreement.allegations == (allegation.id,)  # type: ignore[union-attr]
    assert state.stage is Stage.IN_FORCE


# -- life after entry into force ----------------------------------------------------------------


def test_a_party_suspends_its_participation_and_resumes_it() -> None:
    """New START: Russia suspended its participation on 21 February 2023; the treaty stayed in force."""
    suspended = ParticipationSuspended(id="ru-out", occurred="2023-02-21", actor="A", ref="t", reason="sanctions")
    state = replay([*_in_force(), suspended], negotiation="n")
    assert state.stage is Stage.IN_FORCE
    assert dict(state.agreement.suspended) == {"A": "ru-out"}  # type: ignore[union-attr]
    with pytest.raises(WrongActor, match="is not a party taking part in 't'"):
        state.apply(ParticipationSuspended(occurred="2023-03", actor="A", ref="t"))
    with pytest.raises(WrongActor, match="'B' has not suspended its part in 't'"):
        state.apply(ParticipationResumed(occurred="2023-03", actor="B", ref="t"))
    back = state.apply(ParticipationResumed(id="ru-in", occurred="2024", actor="A", ref="t"))
    assert dict(back.agreement.suspended) == {}  # type: ignore[union-attr]


def test_a_party_withdraws_and_rejoins() -> None:
    """The US left the Paris Agreement on 4 November 2020 and rejoined on 19 February 2021."""
    three = [
        draft("A", ("B", "C")),
        TextAgreed(id="t", occurred="2015-12-12", parties=["A", "B", "C"], title="Paris Agreement"),
        AgreementEnteredIntoForce(occurred="2016-11-04", ref="t"),
    ]
    left = PartyWithdrew(id="out", occurred="2020-11-04", actor="A", ref="t")
    state = replay([*three, left], negotiation="n")
    assert state.agreement.remaining == ("B", "C")  # type: ignore[union-attr]
    assert [p.actors for p in state.permitted if p.type == "PartyJoined"] == [("A",)]
    back = state.apply(PartyJoined(id="in", occurred="2021-02-19", actor="A", ref="t"))
    assert back.agreement.remaining == ("A", "B", "C")  # type: ignore[union-attr]
    assert back.stage is Stage.IN_FORCE
    newcomer = back.apply(PartyJoined(occurred="2022", actor="D", ref="t"))
    assert newcomer.agreement.remaining == ("A", "B", "C", "D")  # type: ignore[union-attr]
    with pytest.raises(WrongActor, match="actor='B' is already a party to 't'"):
        back.apply(PartyJoined(occurred="2022", actor="B", ref="t"))


def test_a_joint_withdrawal_that_leaves_one_party_ends_the_agreement() -> None:
    """Two of three parties withdrawing together (one event, a joint act) leave one bound to
    nobody: the agreement ends, as it does when they withdraw one after the other."""
    three = [
        draft("A", ("B", "C")),
        TextAgreed(id="t", occurred="2015-12-12", parties=["A", "B", "C"], title="Treaty"),
        AgreementEnteredIntoForce(occurred="2016-11-04", ref="t"),
    ]
    joint = replay([*three, PartyWithdrew(occurred="2020", actor="A", co_actors=["B"], ref="t")], negotiation="n")
    one_by_one = replay(
        [
            *three,
            PartyWithdrew(occurred="2020", actor="A", ref="t"),
            PartyWithdrew(occurred="2020", actor="B", ref="t"),
        ],
        negotiation="n",
    )
    assert joint.stage is one_by_one.stage is Stage.TERMINATED
    assert joint.agreement.remaining == one_by_one.agreement.remaining == ("C",)  # type: ignore[union-attr]
    assert joint.agreement.status == one_by_one.agreement.status  # type: ignore[union-attr]


def test_talks_go_on_while_an_agreement_is_in_force() -> None:
    amendment = ProposalPublished(id="amend", occurred="2030", actor="A", to=["B"], title="Amendment", ref=None)
    state = replay([*_in_force(), amendment], negotiation="n")
    assert state.stage is Stage.IN_FORCE
    assert {(a.party, a.ref) for a in state.awaiting} == {("B", "amend")}
    answered = state.apply(ReplyDelivered(occurred="2030", actor="B", ref="amend", stance="accept"))
    assert answered.stage is Stage.IN_FORCE
    assert answered.awaiting == ()


def test_a_term_is_not_met_by_a_report_and_ends_with_the_agreement() -> None:
    """New START: its term (a deadline on the text naming nobody) is extended, not met, by the
    parties' reports; when the treaty expires, its term is not left overdue."""
    term = DeadlineSet(id="term", occurred="1979-08", deadline="1985-12-31", ref="t")
    owed_by_b = DeadlineSet(id="limits", occurred="1979-08", deadline="1982", ref="t", actor="B")
    report = ImplementationReported(id="r", occurred="1982", actor="B", ref="t", status="met")
    state = replay([*_in_force(), term, owed_by_b, report], negotiation="n")
    assert state.deadlines["limits"].met_by == "r"
    assert state.deadlines["term"].met_by is None
    assert [d.id for d in state.overdue("1986-02")] == ["term"]
    expired = AgreementTerminated(id="end", occurred="1986-01-01", ref="t", ending="expired")
    assert state.apply(expired).overdue("1986-02") == ()


def test_a_document_an_agreement_keeps_open_is_referenced_by_it() -> None:
    """It may not be retracted before the agreement, and an as_of view that keeps the
    agreement keeps it (as for a ref)."""
    proposals = [
        draft("A", ("B",), "p1"),
        ProposalPublished(id="p2", occurred="2025-04", actor="B", to=["A"], title="Other"),
    ]
    kept = FrameworkAgreed(id="f", occurred="2025-04-20", parties=["A", "B"], title="Framework", keeps_open=["p2"])
    state = replay([*proposals, kept], negotiation="n")
    assert "p2" not in state.copy_fold().retractable()
    with pytest.raises(InvalidReference, match="retract what depends on it first"):
        state.apply(EventRetracted(occurred="2025-05", ref="p2", reason="wrong"))
    assert [e.id for e in replay([*proposals, kept], negotiation="n", as_of="2025-04-25").events] == ["p1", "p2", "f"]


# -- the second part: several instruments, ratification in steps and refused -------------------


def _instrument(
    id: str = "t", kind: str | None = None, parties: tuple[str, ...] = ("A", "B"), **fields: object
) -> TextAgreed:
    return TextAgreed(id=id, occurred="2025-05-01", parties=list(parties), title=id, kind=kind, **fields)


#: Talks under way: an agreement is not permitted in ``idle``.
OPEN = ConsultationHeld(id="opening", occurred="2025-04-01", parties=["A", "B"])


def _signed(
    ref: str = "t", parties: tuple[str, ...] = ("A", "B"), id: str | None = None, occurred: str = "2025-05-02"
) -> AgreementSigned:
    return AgreementSigned(id=id or f"{ref}-signed", occurred=occurred, parties=list(parties), ref=ref)


def _enter(ref: str = "t") -> AgreementEnteredIntoForce:
    return AgreementEnteredIntoForce(id=f"{ref}-in-force", occurred="2025-05-03", ref=ref)


def test_a_side_instrument_lives_its_own_life_and_never_moves_the_stage() -> None:
    """An interim deal agreed, signed and in force while the talks go on: the stage is the
    talks'; its own status follows the table (agreed, signed, in_force, terminated)."""
    interim = _instrument("truce", kind="interim", ratification="none")
    log = [draft(), interim]
    assert replay(log, negotiation="n").stage is Stage.PROPOSAL_OPEN
    assert owed(log) == {("B", "p"), ("A", "truce"), ("B", "truce")}  # it settles nothing; signatures owed
    log += [_signed("truce"), _enter("truce")]
    state = replay(log, negotiation="n")
    assert state.stage is Stage.PROPOSAL_OPEN
    assert owed(log) == {("B", "p")}
    assert (state.agreements["truce"].status, state.agreements["truce"].instrument) == ("in_force", "interim")
    assert state.agreement is None  # no principal text yet
    log.append(AgreementTerminated(id="end", occurred="2025-06-01", ref="truce", ending="superseded"))
    assert replay(log, negotiation="n").agreements["truce"].status == "terminated"
    with pytest.raises(NotPermitted, match="not permitted on interim instrument 'truce', which is terminated"):
        replay([*log, attrs.evolve(_enter("truce"), id="again")], negotiation="n")


def test_a_side_instrument_is_agreed_beside_a_principal_text_in_force() -> None:
    """A protocol to a treaty in force keeps ``in_force``; it may end before it entered into
    force (the CFE adaptation agreement), and what it amends must be an agreed text."""
    log = [OPEN, _instrument(), _signed(), _enter()]
    protocol = TextAgreed(
        id="adapt", occurred="2025-06-01", parties=["A", "B"], title="Adaptation", kind="protocol", amends="t"
    )
    state = replay([*log, protocol, _signed("adapt", occurred="2025-06-02")], negotiation="n")
    assert state.stage is Stage.IN_FORCE
    assert (state.agreements["adapt"].amends, state.agreements["adapt"].status) == ("t", "signed")
    assert owed([*log, protocol, _signed("adapt", occurred="2025-06-02")]) == {
        ("A", "adapt"),
        ("B", "adapt"),
    }  # ratifications
    lapsed = AgreementTerminated(id="lapsed", occurred="2025-07-01", ref="adapt")
    assert owed([*log, protocol, _signed("adapt", occurred="2025-06-02"), lapsed]) == set()
    wrong = attrs.evolve(protocol, amends="t-signed")
    with pytest.raises(InvalidReference, match="amends='t-signed' is a AgreementSigned, expected an agreed text"):
        replay([*log, wrong], negotiation="n")
    with pytest.raises(InvalidEvent, match="amends=None must be the id of the agreed text a protocol amends"):
        TextAgreed(id="x", occurred="2025", parties=["A", "B"], title="x", kind="protocol")
    with pytest.raises(InvalidEvent, match="given only with kind='protocol'"):
        TextAgreed(id="x", occurred="2025", parties=["A", "B"], title="x", amends="t")


def test_a_principal_text_is_not_agreed_twice_but_a_side_one_may_be() -> None:
    """After a text is agreed, `permitted` offers TextAgreed for a side instrument only; a
    second principal text is refused, and a side one is refused where no talks go on."""
    log = [OPEN, _instrument()]
    with pytest.raises(NotPermitted, match=r"TextAgreed is not permitted in stage 'text_agreed' \(a principal text"):
        replay([*log, _instrument("t2")], negotiation="n")
    assert replay([*log, _instrument("memo", kind="memorandum")], negotiation="n").stage is Stage.TEXT_AGREED
    paused = [*log, TalksSuspended(id="s", occurred="2025-05-02", actor="A")]
    with pytest.raises(NotPermitted, match=r"side instrument \(kind 'interim'\) is permitted in stages"):
        replay([*paused, _instrument("truce", kind="interim")], negotiation="n")


def test_a_memorandum_needs_no_ratification_unless_the_log_says_so() -> None:
    memo = _instrument("memo", kind="memorandum")
    assert memo.needs_ratification is False
    assert owed([OPEN, memo, _signed("memo")]) == set()
    required = _instrument("memo", kind="memorandum", ratification="required")
    assert owed([OPEN, required, _signed("memo")]) == {("A", "memo"), ("B", "memo")}


def test_an_event_the_stage_permits_only_on_a_side_instrument_must_name_one() -> None:
    """In force, the principal text's signatures are over: a signature naming it is refused
    as a wrong reference, since the stage permits signatures only on the side instrument."""
    log = [
        OPEN,
        _instrument(),
        _signed(),
        _enter(),
        TextAgreed(id="memo", occurred="2025-06-01", parties=["A", "B"], title="m", kind="memorandum"),
    ]
    with pytest.raises(
        InvalidReference,
        match=r"ref='t' is a TextAgreed on which AgreementSigned is not permitted in stage 'in_force'; expected a side instrument \('memo'\)",
    ):
        replay([*log, _signed("t", ("A",), id="again")], negotiation="n")


def test_a_refusal_by_one_party_of_two_refuses_the_text_and_reopens_the_talks() -> None:
    """The Colombian plebiscite: the text is refused, the talks are back in `talks`, and a
    revised text may be agreed; nothing more may happen on the refused one."""
    log = [OPEN, _instrument(), _signed()]
    no = RatificationRefused(id="no", occurred="2025-06-01", actor="A", ref="t", body="plebiscite")
    state = replay([*log, no], negotiation="n")
    assert state.stage is Stage.TALKS
    assert state.awaiting == ()
    assert (state.agreements["t"].status, state.agreements["t"].refused_by) == ("refused", "no")
    revised = TextAgreed(id="t2", occurred="2025-07-01", parties=["A", "B"], title="Revised")
    assert replay([*log, no, revised], negotiation="n").agreement.id == "t2"  # type: ignore[union-attr]
    late = AgreementRatified(id="late", occurred="2025-07-02", actor="B", ref="t")
    with pytest.raises(InvalidReference, match="expected the agreed text 't2'"):
        replay([*log, no, revised, late], negotiation="n")
    with pytest.raises(WrongActor, match="has already refused 't'"):
        replay(
            [
                OPEN,
                _instrument(parties=("A", "B", "C")),
                RatificationRefused(id="n1", occurred="2025-06-01", actor="A", ref="t"),
                attrs.evolve(no, id="n2"),
            ],
            negotiation="n",
        )


def test_a_refusal_by_one_of_many_leaves_the_text_open_and_its_author_may_ratify_later() -> None:
    """The US Senate and the CTBT: the text stays open to the others, the refusing party owes
    no ratification, and may still ratify (a resubmission)."""
    log = [OPEN, _instrument(parties=("A", "B", "C")), _signed(parties=("A", "B", "C"))]
    senate = RatificationRefused(id="senate", occurred="2025-06-01", actor="A", ref="t", body="the Senate")
    state = replay([*log, senate], negotiation="n")
    assert state.stage is Stage.SIGNED
    assert state.agreements["t"].status == "signed"
    assert owed([*log, senate]) == {("B", "t"), ("C", "t")}
    again = AgreementRatified(id="again", occurred="2025-09-01", actor="A", ref="t")
    assert replay([*log, senate, again], negotiation="n").stage is Stage.RATIFYING


def test_a_ratification_in_steps_keeps_the_ratification_owed() -> None:
    """A lower chamber's vote (``partial``) moves the talks to `ratifying` and the party still
    owes its ratification; the final step settles it."""
    log = [OPEN, _instrument(), _signed()]
    duma = AgreementRatified(id="duma", occurred="2025-06-01", actor="A", ref="t", body="the State Duma", partial=True)
    state = replay([*log, duma], negotiation="n")
    assert state.stage is Stage.RATIFYING
    assert state.agreements["t"].approvals == {"A": ("duma",)}
    assert owed([*log, duma]) == {("A", "t"), ("B", "t")}
    council = AgreementRatified(id="council", occurred="2025-06-10", actor="A", ref="t", body="the Federation Council")
    assert owed([*log, duma, council]) == {("B", "t")}
    with pytest.raises(WrongActor, match="has already ratified 't'"):
        replay([*log, duma, council, attrs.evolve(duma, id="more")], negotiation="n")


def test_a_party_may_ratify_before_it_signs_and_after_entry_into_force() -> None:
    """The FARC's conference approved the text before the signature; a party that had not
    ratified when a multilateral treaty entered into force ratifies later."""
    log = [OPEN, _instrument(), AgreementRatified(id="farc", occurred="2025-05-01", actor="B", ref="t")]
    assert owed(log) == {("A", "t"), ("B", "t")}  # signatures, in ratifying
    log.append(_signed())
    assert replay(log, negotiation="n").stage is Stage.RATIFYING
    assert owed(log) == {("A", "t")}
    log += [_enter(), AgreementRatified(id="late", occurred="2025-06-01", actor="A", ref="t")]
    state = replay(log, negotiation="n")
    assert state.stage is Stage.IN_FORCE
    assert set(state.agreements["t"].ratified) == {"A", "B"}


def test_the_jpoa_is_in_force_while_the_jcpoa_is_negotiated() -> None:
    """The JCPOA log: the Joint Plan of Action's first step is an interim instrument in force
    from 20 January 2014; the talks stand in framework_agreed, then text_agreed, and the JPOA
    ends, superseded, on Implementation Day."""
    from negotiation import replay_log
    from tests.conftest import EVENTS

    state = replay_log(EVENTS / "jcpoa.jsonl", as_of="2014-06-01")
    assert state.stage is Stage.FRAMEWORK_AGREED
    assert (state.agreements["jpoa"].instrument, state.agreements["jpoa"].status) == ("interim", "in_force")
    state = replay_log(EVENTS / "jcpoa.jsonl", as_of="2015-07-20")
    assert state.stage is Stage.TEXT_AGREED
    assert state.agreements["jpoa"].status == "in_force"
    state = replay_log(EVENTS / "jcpoa.jsonl", as_of="2016-02-01")
    assert state.stage is Stage.IN_FORCE
    assert state.agreements["jpoa"].status == "terminated"
    assert state.agreement is not None
    assert state.agreement.id == "jcpoa-text"


def test_the_colombian_plebiscite_refuses_the_agreement_and_a_revised_one_enters_into_force() -> None:
    from negotiation import replay_log
    from tests.conftest import EVENTS

    log = EVENTS / "colombia-farc-2016.jsonl"
    state = replay_log(log, as_of="2016-10-10")
    assert state.stage is Stage.TALKS
    assert state.agreements["final-text-agreed"].status == "refused"
    assert state.agreements["ceasefire-agreement"].status == "in_force"  # the interim ceasefire holds
    state = replay_log(log, as_of="2016-11-29")
    assert state.stage is Stage.RATIFYING
    assert state.agreements["revised-text-agreed"].approvals == {"CO": ("senate-refrendation",)}
    assert replay_log(log, as_of="2016-12-15").stage is Stage.IN_FORCE


def test_an_agreement_settles_the_draft_of_a_mediator_that_has_left() -> None:
    """The ADP's co-chairs ended their work a week before the Paris Agreement was adopted: the
    agreement settles their drafts all the same."""
    left = ParticipantLeft(id="gone", occurred="2025-04-20", actor="OM")
    bridging = ProposalPublished(id="bridge", occurred="2025-04-10", actor="OM", to=["A", "B"], title="Bridging")
    log = [mediator, bridging, left]
    assert owed(log) == {("A", "bridge"), ("B", "bridge")}
    agreed = TextAgreed(id="t", occurred="2025-05-01", parties=["A", "B"], title="Agreement")
    state = replay([*log, agreed], negotiation="n")
    assert state.documents["bridge"].settled_by == "t"
    assert owed([*log, agreed]) == {("A", "t"), ("B", "t")}  # only the signatures


def test_a_text_adopted_without_signature_owes_no_signature() -> None:
    """`signature: none` (the JCPOA, a political commitment): nobody owes a signature; when
    the text needs ratification, every party owes one from its adoption (the CFE Flank
    Document, adopted and then approved by each party)."""
    adopted = _instrument(signature="none")
    assert owed([OPEN, adopted]) == {("A", "t"), ("B", "t")}
    assert {a.types for a in replay([OPEN, adopted], negotiation="n").awaiting} == {("AgreementRatified",)}
    assert owed([OPEN, _instrument(signature="none", ratification="none")]) == set()
    assert replay([OPEN, adopted], negotiation="n").agreements["t"].signature == "none"

    from negotiation import replay_log
    from tests.conftest import EVENTS

    assert replay_log(EVENTS / "jcpoa.jsonl", as_of="2015-07-20").awaiting == ()


def test_the_text_a_protocol_amends_is_named_as_a_ref_is() -> None:
    """``amends`` keeps an imprecisely dated text visible to as_of when the protocol is, keeps
    it from being retracted, and may not name a text dated after the protocol."""
    treaty = TextAgreed(id="t", occurred="1996", parties=["A", "B"], title="Treaty", ratification="none")
    force = AgreementEnteredIntoForce(id="f", occurred="1996-01", ref="t")
    flank = TextAgreed(
        id="flank", occurred="1996-05-31", parties=["A", "B"], title="Flank", kind="protocol", amends="t"
    )
    opening = attrs.evolve(OPEN, occurred="1995-11-01")
    log = [opening, treaty, force, flank]
    state = replay(log, negotiation="n", as_of="1996-06-01")
    assert state.agreements["flank"].amends == "t"
    retractable = next(p.refs for p in state.permitted if p.type == "EventRetracted")
    assert "t" not in retractable
    assert "flank" in retractable
    early = attrs.evolve(flank, occurred="1995-12-31")
    with pytest.raises(DatedBeforeReference, match="is before the text it amends"):
        replay([opening, treaty, force, early], negotiation="n")


def test_a_side_instrument_outlives_a_break_off_and_meets_no_deadline_of_the_talks() -> None:
    """Events on a side instrument already agreed are permitted in any stage (a ceasefire ends
    after the talks broke off), and its agreement meets no deadline of the talks."""
    deadline = DeadlineSet(id="d", occurred="2025-04-02", deadline="2025-06-30")
    truce = _instrument("truce", kind="interim", ratification="none")
    log = [OPEN, deadline, truce]
    assert replay(log, negotiation="n").deadlines["d"].met_by is None
    log += [_signed("truce"), _enter("truce"), TalksBrokenOff(id="off", occurred="2025-06-01", actor="A")]
    ended = AgreementTerminated(id="end", occurred="2025-06-10", ref="truce", actor="B", ending="denounced")
    state = replay([*log, ended], negotiation="n")
    assert state.stage is Stage.BROKEN_OFF
    assert state.agreements["truce"].status == "terminated"


# -- the third part: document variants and disputed terms -------------------------------------

EVENTS = Path(__file__).resolve().parent.parent / "events"


def _real(name: str, **kwargs: Any) -> NegotiationState:
    return replay(read_log(EVENTS / f"{name}.jsonl").events(), **kwargs)


def test_a_text_signed_by_one_side_only_is_initialled_not_agreed() -> None:
    """Rambouillet, 18 March 1999: the Kosovo delegation signs the Interim Agreement alone."""
    state = _real("rambouillet-1999", as_of="1999-03-18")
    accords = state.documents["rambouillet-accords-presented"]
    assert accords.initialled_by == ("KOS",)
    assert state.agreement is None  # no TextAgreed: Yugoslavia never signed
    assert state.stage is Stage.FRAMEWORK_AGREED
    assert _real("rambouillet-1999", as_of="1999-03-17").documents["rambouillet-accords-presented"].initialled_by == ()


def test_an_initialled_reply_accepts_a_proposal() -> None:
    reply = {"id": "r", "occurred": "2025-04-02", "actor": "B", "ref": "p", "initialled": True}
    state = replay([draft(to=("B", "C")), ReplyDelivered(**reply)], negotiation="n")
    assert state.documents["p"].initialled_by == ("B",)
    assert {(a.party, a.ref) for a in state.awaiting} == {("C", "p")}  # C still owes its answer
    assert ReplyDelivered(**reply, stance="accept").initialled
    with pytest.raises(InvalidEvent, match="'accept' \\(or none\\) on an initialled reply"):
        ReplyDelivered(**reply, stance="reject")
    with pytest.raises(InvalidEvent, match="initialled='yes' must be true or false"):
        ReplyDelivered(**{**reply, "initialled": "yes"})
    answer = ReplyDelivered(id="a", occurred="2025-04-03", actor="A", ref="r", initialled=True)
    with pytest.raises(InvalidReference, match="a reply initials the text of a proposal"):
        replay([draft(), ReplyDelivered(id="r", occurred="2025-04-02", actor="B", ref="p"), answer])


def test_an_author_outlining_an_unpublished_document_summarises_it() -> None:
    """The seed article: on 26 January 2022 Blinken and Stoltenberg outlined the written replies
    the US had asked to keep unpublished; El Pais published them on 2 February."""
    state = _real("security-guarantees-2021", as_of="2022-01-27")
    assert state.documents["us-reply"].summarised_by == ("us-outlines-reply",)
    assert state.documents["nato-reply"].summarised_by == ("nato-outlines-reply",)
    assert not state.documents["us-reply"].public
    later = _real("security-guarantees-2021", as_of="2022-02-02")
    assert later.documents["us-reply"].public
    assert later.documents["us-reply"].disclosed_by == "elpais-discloses-us-reply"
    # a statement by someone else naming it is commentary, not a summary; nor is one on a public text
    comment = PositionStated(id="c", occurred="2025-04-02", actor="C", ref="p", summary="a comment")
    own = PositionStated(id="o", occurred="2025-04-02", actor="A", ref="p", summary="outlined")
    public_draft = ProposalPublished(id="p", occurred="2025-04-01", actor="A", to=["B"], title="Draft")
    assert replay([draft(), comment], negotiation="n").documents["p"].summarised_by == ()
    assert replay([public_draft, own], negotiation="n").documents["p"].summarised_by == ()
    hidden = ProposalPublished(id="p", occurred="2025-04-01", actor="A", to=["B"], title="Draft", public=False)
    assert replay([hidden, own], negotiation="n").documents["p"].summarised_by == ("o",)


def test_a_disputed_delivery_is_on_record_and_the_delivery_stands() -> None:
    dispute = {"id": "d", "occurred": "2025-04-02", "actor": "B", "ref": "p", "disputes_delivery": True}
    state = replay([draft(), PositionStated(**dispute)], negotiation="n")
    assert state.documents["p"].delivery_disputed_by == ("d",)
    assert {(a.party, a.ref) for a in state.awaiting} == {("B", "p")}  # B still owes its answer
    with pytest.raises(WrongActor, match="actor='C' is not an addressee of 'p'"):
        replay([draft(), PositionStated(**{**dispute, "actor": "C"})])
    contact = ContactProposed(id="k", occurred="2025-04-01", actor="A", to=["B"], level="minister")
    with pytest.raises(InvalidReference):
        replay([contact, PositionStated(**{**dispute, "ref": "k"})])
    with pytest.raises(InvalidEvent, match="disputes_delivery"):
        PositionStated(id="d", occurred="2025-04-02", actor="B", disputes_delivery=True)


def test_a_public_document_may_be_published_again() -> None:
    """The Russian drafts, public since 17 December 2021, published again: accepted (version 1
    refused it); permitted offers a publication only of what is not public."""
    log = _real("security-guarantees-2021").events
    again = DocumentDisclosed(id="again", occurred="2022-02-25", actor="RU", ref="ru-draft-us")
    state = replay([*log, again])
    doc = state.documents["ru-draft-us"]
    assert (doc.disclosed_by, doc.republished_by) == ("ru-discloses-draft-us", ("again",))
    assert state.stage is Stage.BROKEN_OFF
    assert not [s for s in replay(log).permitted if s.type == "DocumentDisclosed"]  # all four are public
    published = ProposalPublished(id="p", occurred="2025-04-01", actor="A", to=["B"], title="Draft")
    leak = DocumentDisclosed(id="l", occurred="2025-04-02", actor="Le Monde", ref="p")
    assert replay([published, leak], negotiation="n").documents["p"].republished_by == ("l",)


def test_two_setters_naming_different_terms_dispute_them() -> None:
    """Good Friday: the governments' term of May 1998 and Mitchell's of 9 April both stand."""
    deadlines = _real("good-friday-1998").deadlines
    assert deadlines["governments-may-1998-timetable"].disputed_by == ("mitchell-deadline",)
    assert deadlines["mitchell-deadline"].disputed_by == ("governments-may-1998-timetable",)
    unnamed = [
        DeadlineSet(id="d1", occurred="2025-04-01", deadline="2025-05-01", ref="p", set_by="A"),
        DeadlineSet(id="d2", occurred="2025-04-02", deadline="2025-06-01", ref="p"),
        DeadlineSet(id="d3", occurred="2025-04-03", deadline="2025-05-01", ref="p", set_by="B"),
    ]
    views = replay([draft(), *unnamed], negotiation="n").deadlines
    assert [views[k].disputed_by for k in ("d1", "d2", "d3")] == [(), (), ()]  # unnamed; same date


def test_a_withdrawal_notice_leaves_the_party_bound_until_its_withdrawal() -> None:
    """The United States notified its withdrawal from the Paris Agreement on 4 November 2019,
    effective 4 November 2020; it rejoined, and notified again on 27 January 2025."""
    before = _real("paris-agreement", as_of="2020-11-03").agreements["paris-agreement-adopted"]
    assert dict(before.notices) == {"US": "us-withdrawal-notice"}
    assert "US" in before.remaining
    after = _real("paris-agreement", as_of="2020-11-04").agreements["paris-agreement-adopted"]
    assert dict(after.notices) == {}
    assert dict(after.withdrawn) == {"US": "us-withdrawal-effective"}
    again = _real("paris-agreement", as_of="2025-02-01")
    assert dict(again.agreements["paris-agreement-adopted"].notices) == {"US": "us-second-withdrawal-notice"}
    assert again.stage is Stage.IN_FORCE


def test_the_us_notice_of_withdrawal_from_the_inf_treaty_binds_it_for_six_months() -> None:
    """The US delivered its notice of withdrawal from the INF Treaty on 2 February 2019,
    effective 2 August 2019: a party, bound and suspended, until then."""
    during = _real("inf-treaty", as_of="2019-03-04")
    treaty = during.agreements["inf-text"]
    assert dict(treaty.notices) == {"US": "us-withdrawal-notice"}
    assert "US" in treaty.remaining
    assert set(treaty.suspended) == {"US", "SU"}
    assert during.stage is Stage.IN_FORCE
    after = _real("inf-treaty", as_of="2019-08-02").agreements["inf-text"]
    assert dict(after.notices) == {}
    assert after.withdrawn["US"] == "us-withdraws"


def test_a_notice_on_a_bilateral_treaty_ends_nothing_until_the_withdrawal() -> None:
    notice = PartyWithdrew(id="n", occurred="1980-01-01", actor="A", ref="t", effective="1980-07-01")
    state = replay([*_in_force(), notice], negotiation="n")
    assert state.stage is Stage.IN_FORCE  # both parties still bound
    assert dict(state.agreement.notices) == {"A": "n"}  # type: ignore[union-attr]
    with pytest.raises(WrongActor, match="has given notice of its withdrawal from 't' already"):
        state.apply(PartyWithdrew(id="n2", occurred="1980-02-01", actor="A", ref="t", effective="1980-08-01"))
    done = state.apply(PartyWithdrew(id="w", occurred="1980-07-01", actor="A", ref="t", effective="1980-07-01"))
    assert done.stage is Stage.TERMINATED
    assert dict(done.agreement.notices) == {}  # type: ignore[union-attr]
    with pytest.raises(InvalidEvent, match="effective='1979-12-31' must be a date on or after occurred"):
        PartyWithdrew(id="x", occurred="1980-01-01", actor="A", ref="t", effective="1979-12-31")
    assert not PartyWithdrew(id="x", occurred="1980-01", actor="A", ref="t", effective="1980-01-31").notice
