"""Replay follows the contract: stages, owed moves, permitted steps, retractions, time travel."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from negotiation import (
    AgreementEnteredIntoForce,
    AgreementRatified,
    AgreementSigned,
    AgreementTerminated,
    ConsultationHeld,
    ContactAccepted,
    ContactDeclined,
    ContactHeld,
    ContactProposed,
    DatedBeforeReference,
    DeadlineSet,
    DocumentDisclosed,
    DuplicateEventId,
    Event,
    EventRejected,
    EventRetracted,
    FrameworkAgreed,
    InvalidReference,
    NegotiationState,
    NotPermitted,
    PartyWithdrew,
    PositionStated,
    ProposalPublished,
    ProposalWithdrawn,
    ReplyDelivered,
    Stage,
    TalksBrokenOff,
    TalksLapsed,
    TalksResumed,
    TalksSuspended,
    TextAgreed,
    UnknownReference,
    WrongActor,
    replay,
)
from negotiation import strategies as ns


def draft(
    id: str = "draft", occurred: str = "2021-12-17", to: tuple[str, ...] = ("US", "NATO"), **kw: object
) -> ProposalPublished:
    return ProposalPublished(id=id, occurred=occurred, actor=kw.pop("actor", "RU"), to=list(to), title="Draft", **kw)  # type: ignore[arg-type]


def reply(id: str, actor: str, ref: str, occurred: str = "2022-01-26", **kw: object) -> ReplyDelivered:
    return ReplyDelivered(id=id, occurred=occurred, actor=actor, ref=ref, **kw)  # type: ignore[arg-type]


def example() -> list[Event]:
    """The worked example of the contract."""
    return [
        draft(),
        reply("reply-us", "US", "draft", public=False),
        ContactProposed(id="offer", occurred="2022-02-02", actor="US", to=["RU"], level="leader"),
    ]


def treaty(parties: tuple[str, ...] = ("US", "SU")) -> list[Event]:
    return [
        ConsultationHeld(id="c1", occurred="1985-03-12", parties=list(parties)),
        TextAgreed(id="text", occurred="1987-12-01", parties=list(parties), title="Treaty"),
    ]


def test_worked_example_of_the_contract() -> None:
    """The contract's worked example: talks; NATO and RU owe replies, RU owes an answer to the offer."""
    state = replay(example(), negotiation="example")
    assert state.stage is Stage.TALKS
    assert [a.to_dict() for a in state.awaiting] == [
        {"party": "NATO", "types": ["ReplyDelivered", "ProposalPublished"], "ref": "draft"},
        {"party": "RU", "types": ["ReplyDelivered", "ProposalPublished"], "ref": "reply-us"},
        {"party": "RU", "types": ["ContactAccepted", "ContactDeclined"], "ref": "offer"},
    ]
    steps = [p.to_dict() for p in state.permitted]
    for expected in (
        {"type": "ReplyDelivered", "actors": ["NATO", "US"], "refs": ["draft"]},
        {"type": "ReplyDelivered", "actors": ["RU"], "refs": ["reply-us"]},
        {"type": "ContactAccepted", "actors": ["RU"], "refs": ["offer"]},
        {"type": "DocumentDisclosed", "actors": None, "refs": ["reply-us"]},
        {"type": "TalksSuspended", "actors": ["NATO", "RU", "US"], "refs": []},
    ):
        assert expected in steps


@pytest.mark.parametrize(
    ("events", "stage"),
    [
        ([], Stage.IDLE),
        ([ConsultationHeld(occurred="2022-01-10", parties=["RU", "US"])], Stage.EXPLORATION),
        ([draft()], Stage.PROPOSAL_OPEN),
        ([draft(), reply("r", "NATO", "draft")], Stage.TALKS),
        ([draft(), draft("d2"), reply("r", "NATO", "draft")], Stage.PROPOSAL_OPEN),
        ([draft(), reply("r", "NATO", "draft"), draft("d2", "2022-02-01")], Stage.PROPOSAL_OPEN),
        (
            [
                draft(),
                ProposalPublished(
                    id="counter", occurred="2022-01-01", actor="US", to=["RU"], title="Counter", ref="draft"
                ),
            ],
            Stage.PROPOSAL_OPEN,
        ),
        ([draft(), ProposalWithdrawn(occurred="2022-01-01", actor="RU", ref="draft")], Stage.TALKS),
        ([draft(), FrameworkAgreed(occurred="2022-03", parties=["RU", "US"], title="F")], Stage.FRAMEWORK_AGREED),
        (
            [draft(), FrameworkAgreed(occurred="2022-03", parties=["RU", "US"], title="F"), draft("d2", "2022-04-01")],
            Stage.FRAMEWORK_AGREED,
        ),
        (treaty(), Stage.TEXT_AGREED),
        ([*treaty(), AgreementSigned(occurred="1987-12-08", parties=["US"], ref="text")], Stage.TEXT_AGREED),
        ([*treaty(), AgreementSigned(occurred="1987-12-08", parties=["US", "SU"], ref="text")], Stage.SIGNED),
        ([*treaty(), AgreementRatified(occurred="1988-05-27", actor="US", ref="text")], Stage.RATIFYING),
        ([*treaty(), AgreementEnteredIntoForce(occurred="1988-06-01", ref="text")], Stage.IN_FORCE),
        (
            [
                *treaty(),
                AgreementEnteredIntoForce(occurred="1988-06-01", ref="text"),
                PartyWithdrew(occurred="2019-08-02", actor="US", ref="text"),
            ],
            Stage.TERMINATED,
        ),
        (
            [
                *treaty(("A", "B", "C")),
                AgreementEnteredIntoForce(occurred="1988-06-01", ref="text"),
                PartyWithdrew(occurred="2019-08-02", actor="A", ref="text"),
            ],
            Stage.IN_FORCE,
        ),
        (
            [
                *treaty(),
                AgreementEnteredIntoForce(occurred="1988-06-01", ref="text"),
                AgreementTerminated(occurred="2019", ref="text", reason="denounced"),
            ],
            Stage.TERMINATED,
        ),
        ([draft(), TalksSuspended(occurred="2022-01", actor="RU")], Stage.SUSPENDED),
        (
            [draft(), TalksSuspended(occurred="2022-01", actor="RU"), TalksResumed(occurred="2022-02", actor="US")],
            Stage.PROPOSAL_OPEN,
        ),
        (
            [*treaty(), TalksSuspended(occurred="1988", actor="SU"), TalksResumed(occurred="1989", actor="SU")],
            Stage.TEXT_AGREED,
        ),
        (  # back where the talks stood: the draft is still unanswered
            [draft(), TalksBrokenOff(occurred="2022-01", actor="RU"), TalksResumed(occurred="2022-02", actor="RU")],
            Stage.PROPOSAL_OPEN,
        ),
        (  # a break-off during a suspension: the resumption returns to the stage before both
            [
                *treaty(),
                TalksSuspended(occurred="1988", actor="SU"),
                TalksBrokenOff(occurred="1989", actor="US"),
                TalksResumed(occurred="1990", actor="SU"),
            ],
            Stage.TEXT_AGREED,
        ),
        (
            [
                draft(),
                reply("r", "US", "draft"),
                TalksBrokenOff(occurred="2022-02", actor="RU"),
                TalksResumed(occurred="2022-03", actor="RU"),
            ],
            Stage.TALKS,
        ),
        (
            [
                draft(),
                DeadlineSet(id="dl", occurred="2021-12-20", deadline="2022-01-15"),
                TalksLapsed(occurred="2022-01-16", ref="dl"),
            ],
            Stage.LAPSED,
        ),
    ],
)
def test_stage_after_events(events: list[Event], stage: Stage) -> None:
    """Each stage of the contract is entered by the events the contract names."""
    assert replay(events, negotiation="n").stage is stage


def test_neutral_events_change_no_stage_but_idle() -> None:
    """Contacts, consultations, statements, disclosures and deadlines keep the stage (except out of idle)."""
    base = replay([draft()], negotiation="n")
    for event in (
        ContactProposed(occurred="2022-01-01", actor="US", to=["RU"], level="minister"),
        ContactHeld(occurred="2022-01-02", parties=["US", "RU"], level="leader", mode="phone"),
        ConsultationHeld(occurred="2022-01-03", parties=["US", "RU"]),
        PositionStated(occurred="2022-01-04", actor="US", summary="no"),
        DocumentDisclosed(occurred="2022-01-05", actor="El Pais", ref="draft")
        if False
        else DeadlineSet(occurred="2022-01-05", deadline="2022-02"),
    ):
        assert base.apply(event).stage is Stage.PROPOSAL_OPEN


def test_paused_stages_permit_only_neutral_events_resumption_and_retraction() -> None:
    """While suspended, a reply is not permitted and the error lists what is."""
    state = replay([draft(), TalksSuspended(id="s", occurred="2022-01", actor="RU")], negotiation="n")
    with pytest.raises(NotPermitted) as info:
        state.apply(reply("r", "US", "draft"))
    assert info.value.stage == "suspended"
    assert "TalksResumed" in info.value.permitted
    assert "ReplyDelivered" not in info.value.permitted
    assert str(info.value).startswith(
        "event 'r': ReplyDelivered is not permitted in stage 'suspended'; permitted: ContactProposed"
    )


def test_terminated_is_final() -> None:
    """After termination no agreement event is permitted."""
    events = [
        *treaty(),
        AgreementEnteredIntoForce(occurred="1988-06-01", ref="text"),
        AgreementTerminated(occurred="2019", ref="text"),
    ]
    state = replay(events, negotiation="n")
    assert {p.type for p in state.permitted} <= {
        "ContactProposed", "ContactAccepted", "ContactDeclined", "ContactHeld", "ConsultationHeld",
        "ParticipantJoined", "ParticipantLeft", "PositionStated", "DocumentDisclosed", "DeadlineSet",
        "ImplementationReported", "ViolationAlleged", "EventRetracted",
    }  # fmt: skip
    with pytest.raises(NotPermitted):
        state.apply(TalksResumed(occurred="2020", actor="US"))


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        (reply("x", "US", "nope"), UnknownReference, "ref='nope' names no earlier event of this negotiation"),
        (
            reply("x", "RU", "draft"),
            WrongActor,
            "actor='RU' is not an addressee of 'draft'; expected one of: 'US', 'NATO'",
        ),
        (
            reply("x", "US", "draft", occurred="2021-12-01"),
            DatedBeforeReference,
            "occurred='2021-12-01' is before the event it references ('draft', occurred '2021-12-17')",
        ),
        (reply("draft", "US", "draft"), DuplicateEventId, "id 'draft' is already used in this negotiation"),
        (
            ContactAccepted(id="x", occurred="2022-01-01", actor="US", ref="draft"),
            InvalidReference,
            "ref='draft' is a ProposalPublished, expected a ContactProposed",
        ),
        (
            ProposalWithdrawn(id="x", occurred="2022-01-01", actor="US", ref="draft"),
            WrongActor,
            "actor='US' is not an author of 'draft'; expected one of: 'RU'",
        ),
        (
            TalksSuspended(id="x", occurred="2022-01-01", actor="UA"),
            WrongActor,
            "actor='UA' is not a party to these talks; expected one of: 'NATO', 'RU', 'US'",
        ),
        (
            AgreementSigned(id="x", occurred="2022-01-01", parties=["US"], ref="draft"),
            NotPermitted,
            "AgreementSigned is not permitted in stage 'proposal_open'",
        ),
    ],
)
def test_refusals_name_event_culprit_and_expectation(event: Event, error: type[Exception], message: str) -> None:
    """Each refusal is its own error type, and its message names the event, the value and what was expected."""
    state = replay([draft()], negotiation="n")
    with pytest.raises(error) as info:
        state.apply(event)
    assert str(info.value).startswith(f"event {event.id!r}: {message}")


def test_contacts_answered_declined_held() -> None:
    """A contact proposal is owed an answer until accepted by the addressee, declined or held."""
    offer = ContactProposed(id="offer", occurred="2022-02-17", actor="RU", to=["US"], level="minister")
    state = replay([offer], negotiation="n")
    assert [(a.party, a.types) for a in state.awaiting] == [("US", ("ContactAccepted", "ContactDeclined"))]
    accepted = state.apply(ContactAccepted(id="yes", occurred="2022-02-18", actor="US", ref="offer"))
    assert accepted.awaiting == ()
    assert accepted.contacts["offer"].status == "accepted"
    cancelled = accepted.apply(ContactDeclined(id="no", occurred="2022-02-22", actor="US", ref="offer"))
    assert cancelled.contacts["offer"].status == "declined"
    with pytest.raises(InvalidReference, match="was declined"):
        cancelled.apply(
            ContactHeld(occurred="2022-02-25", parties=["US", "RU"], level="minister", mode="in_person", ref="offer")
        )
    with pytest.raises(WrongActor):
        state.apply(ContactAccepted(occurred="2022-02-18", actor="RU", ref="offer"))


def test_signatures_and_ratifications_are_owed() -> None:
    """In text_agreed every party owes a signature; in signed every signatory owes a ratification."""
    state = replay(treaty(), negotiation="n")
    assert [(a.party, a.types) for a in state.awaiting] == [("US", ("AgreementSigned",)), ("SU", ("AgreementSigned",))]
    signed = state.apply(AgreementSigned(occurred="1987-12-08", parties=["US", "SU"], ref="text"))
    assert [(a.party, a.types) for a in signed.awaiting] == [
        ("US", ("AgreementRatified",)),
        ("SU", ("AgreementRatified",)),
    ]
    with pytest.raises(WrongActor, match="has already signed"):
        signed.apply(AgreementSigned(occurred="1987-12-09", parties=["US"], ref="text"))
    ratified = signed.apply(AgreementRatified(occurred="1988-05-27", actor="US", ref="text"))
    assert ratified.stage is Stage.RATIFYING
    assert [a.party for a in ratified.awaiting] == ["SU"]
    assert ratified.agreement is not None
    assert dict(ratified.agreement.ratified) == {"US": ratified.events[-1].id}


def test_documents_thread_and_disclosure() -> None:
    """Documents keep their thread, addressees, and whether they are public."""
    state = replay(
        [*example(), DocumentDisclosed(id="leak", occurred="2022-02-02", actor="El Pais", ref="reply-us")],
        negotiation="n",
    )
    docs = state.documents
    assert docs["draft"].answers == ("reply-us",)
    assert docs["reply-us"].addressees == ("RU",)
    assert docs["reply-us"].public
    assert docs["reply-us"].disclosed_by == "leak"
    again = state.apply(DocumentDisclosed(id="again", occurred="2022-02-03", actor="RU", ref="reply-us"))
    assert again.documents["reply-us"].disclosed_by == "leak"  # a second publication
    assert again.documents["reply-us"].republished_by == ("again",)
    with pytest.raises(InvalidReference, match="expected a document"):
        state.apply(DocumentDisclosed(occurred="2022-02-03", actor="RU", ref="offer"))


def test_positions_follow_the_latest_statement() -> None:
    """Positions are per party and item; a later statement replaces an earlier one."""
    state = replay(
        [
            draft(items=["no enlargement", "no deployments"]),
            reply("r", "US", "draft", positions={"no enlargement": "reject", "no deployments": "negotiable"}),
            PositionStated(id="p", occurred="2022-02-01", actor="US", positions={"no deployments": "accept"}),
        ],
        negotiation="n",
    )
    assert {k: (p.stance.value, p.event) for k, p in state.positions.items()} == {
        ("US", "no enlargement"): ("reject", "r"),
        ("US", "no deployments"): ("accept", "p"),
    }


def test_deadlines_met_and_overdue() -> None:
    """A deadline for a reply is met by that reply; an unmet one is overdue after its date."""
    events = [draft(), DeadlineSet(id="dl", occurred="2021-12-20", deadline="2022-01", ref="draft", actor="US")]
    state = replay(events, negotiation="n")
    assert [d.id for d in state.overdue("2022-02-01")] == ["dl"]
    assert state.overdue("2022-01-31") == ()
    met = state.apply(reply("r", "US", "draft", occurred="2022-02-05"))
    assert met.deadlines["dl"].met_by == "r"
    assert met.overdue("2022-03-01") == ()


def test_retraction_counts_as_never_logged() -> None:
    """A retracted event counts as if never logged; what depends on it must go first."""
    state = replay(example(), negotiation="n")
    with pytest.raises(InvalidReference, match="would leave a log that does not replay"):
        state.apply(EventRetracted(occurred="2022-02-03", ref="draft", reason="wrong"))
    retracted = state.apply(EventRetracted(id="oops", occurred="2022-02-03", ref="reply-us", reason="misdated"))
    assert retracted.stage is Stage.PROPOSAL_OPEN
    assert [e.id for e in retracted.events] == ["draft", "offer"]
    assert [e.id for e in retracted.retracted] == ["reply-us"]
    assert "oops" in [e.id for e in retracted.timeline]
    with pytest.raises(UnknownReference, match="retracted"):
        retracted.apply(reply("r2", "RU", "reply-us", occurred="2022-02-04"))
    with pytest.raises(DuplicateEventId):
        retracted.apply(reply("reply-us", "US", "draft", occurred="2022-02-04"))
    equal = replay([example()[0], example()[2]], negotiation="n")
    assert retracted.stage == equal.stage
    assert retracted.awaiting == equal.awaiting


def test_permitted_retractions_are_exactly_the_valid_ones() -> None:
    """EventRetracted is permitted for exactly the refs whose retraction is accepted."""
    events = [
        ConsultationHeld(id="c", occurred="2021-12-01", parties=["RU", "US"]),
        *example(),
        TalksSuspended(id="s", occurred="2022-02-03", actor="RU"),
        TalksResumed(id="r", occurred="2022-02-04", actor="RU"),
    ]
    state = replay(events, negotiation="n")
    listed = {ref for p in state.permitted if p.type == "EventRetracted" for ref in p.refs}
    accepted = {
        e.id for e in state.events if state.permits(EventRetracted(occurred="2022-03-01", ref=e.id, reason="test"))
    }
    assert listed == accepted
    assert "s" not in listed  # without the suspension the resumption would be refused
    assert "r" in listed


def test_as_of_cuts_by_date_and_drops_dependants() -> None:
    """as_of keeps what had occurred by then; month precision counts at the month's end, unless
    a kept event references the imprecise one: the reference proves it had happened."""
    events = [
        draft(),
        reply("r", "US", "draft", occurred="2022-01"),
        PositionStated(id="p", occurred="2022-01-20", actor="RU", ref="r"),
    ]
    assert replay(events, negotiation="n", as_of="2022-01-15").stage is Stage.PROPOSAL_OPEN
    assert [e.id for e in replay(events, negotiation="n", as_of="2022-01-15").events] == ["draft"]
    # the statement of the 20th names the reply of "January": by the 30th, it had been delivered
    assert [e.id for e in replay(events, negotiation="n", as_of="2022-01-30").events] == ["draft", "r", "p"]
    assert replay(events, negotiation="n", as_of="2022-01-30").stage is Stage.TALKS
    assert replay(events, negotiation="n", as_of="2022-01-31").stage is Stage.TALKS
    assert replay(events, negotiation="n", as_of="2022").stage is Stage.TALKS
    # an event dated after the cut is not proven by a reference: "2022-02" cannot be before the 30th
    late = [
        draft(),
        reply("r", "US", "draft", occurred="2022-02"),
        PositionStated(occurred="2022-02-02", actor="RU", ref="r"),
    ]
    assert [e.id for e in replay(late, negotiation="n", as_of="2022-01-30").events] == ["draft"]


def test_known_at_cuts_by_recording_time() -> None:
    """known_at keeps what was recorded by then; an event without recorded counts when it occurred."""
    late = reply("r", "US", "draft", occurred="2022-01-26", recorded="2022-03-01T09:00:00+00:00")
    events = [draft(), late]
    assert replay(events, negotiation="n", known_at="2022-02-15").stage is Stage.PROPOSAL_OPEN
    assert replay(events, negotiation="n", known_at=dt.datetime(2022, 3, 1, 9, tzinfo=dt.UTC)).stage is Stage.TALKS
    both = replay(events, negotiation="n", as_of="2022-01-31", known_at="2022-02-15")
    assert both.stage is Stage.PROPOSAL_OPEN


def test_lenient_replay_skips_and_reports() -> None:
    """Lenient replay skips events that are not permitted and reports each one."""
    events = [draft(), reply("bad", "RU", "draft"), reply("good", "US", "draft")]
    with pytest.raises(WrongActor):
        replay(events, negotiation="n")
    state = replay(events, negotiation="n", strict=False)
    assert state.stage is Stage.TALKS
    assert [(e.event_id, type(e).__name__) for e in state.rejected] == [("bad", "WrongActor")]


def test_apply_leaves_the_state_unchanged() -> None:
    """States are immutable: apply returns a new state and a refusal changes nothing."""
    state = replay(example(), negotiation="n")
    before = state.to_dict(detail=True)
    state.apply(reply("x", "RU", "reply-us", occurred="2022-02-17"))
    with pytest.raises(WrongActor):
        state.apply(reply("y", "NATO", "reply-us", occurred="2022-02-17"))
    assert state.to_dict(detail=True) == before


def test_empty_state_and_timeline_order() -> None:
    """The timeline is sorted by occurred, stable on log order, whatever the log order."""
    events = [
        ConsultationHeld(id="b", occurred="2022-01-10", parties=["RU", "US"]),
        ConsultationHeld(id="a", occurred="2022-01-05", parties=["RU", "US"]),
        ConsultationHeld(id="c", occurred="2022-01-10", parties=["RU", "NATO"]),
    ]
    assert NegotiationState.empty("n").stage is Stage.IDLE
    assert [e.id for e in replay(events, negotiation="n").timeline] == ["a", "b", "c"]


def test_transitions_engine_gives_the_same_state() -> None:
    """Replay driven by transitions triggers gives the same state as the table."""
    events = [
        *example(),
        reply("ru", "RU", "reply-us", occurred="2022-02-17"),
        TalksBrokenOff(occurred="2022-02-24", actor="RU"),
    ]
    assert replay(events, negotiation="n", engine="transitions") == replay(events, negotiation="n")


def test_choices_documented_in_the_readme() -> None:
    """README choices: withdrawn documents take no reply; contacts may be held twice; streams do not mix."""
    state = replay(
        [draft(), ProposalWithdrawn(id="w", occurred="2022-01-01", actor="RU", ref="draft")], negotiation="n"
    )
    with pytest.raises(InvalidReference, match="was withdrawn"):
        state.apply(reply("r", "US", "draft"))
    offer = ContactProposed(id="offer", occurred="2022-01-01", actor="US", to=["RU"], level="envoy")
    held = [
        ContactHeld(id=f"h{i}", occurred="2022-01-02", parties=["US", "RU"], level="envoy", mode="video", ref="offer")
        for i in (1, 2)
    ]
    assert replay([offer, *held], negotiation="n").contacts["offer"].held_by == ("h1", "h2")
    with pytest.raises(EventRejected, match="negotiation='other' but this log is negotiation 'n'"):
        replay([draft(negotiation="other")], negotiation="n")
    twin = ConsultationHeld(occurred="2022-01-10", parties=["RU", "US"])
    assert twin.id == ConsultationHeld(occurred="2022-01-10", parties=["RU", "US"]).id
    with pytest.raises(DuplicateEventId):
        replay([twin, ConsultationHeld(occurred="2022-01-10", parties=["RU", "US"])], negotiation="n")
    with pytest.raises(InvalidReference, match="a retraction cannot be retracted"):
        replay(
            [
                draft(),
                EventRetracted(id="x", occurred="2022", ref="draft", reason="r"),
                EventRetracted(occurred="2022", ref="x", reason="r"),
            ],
            negotiation="n",
        )


@pytest.mark.extended
@given(ns.valid_logs(max_events=25), st.integers(0, 400))
def test_as_of_on_or_after_the_last_event_equals_a_full_replay(log: list[Event], days: int) -> None:
    """Replaying as of any date on or after the last event's date gives the full replay."""
    full = replay(log)
    last = max((e.occurred.last_day for e in log), default=dt.date(2000, 1, 1))
    assert replay(log, as_of=last + dt.timedelta(days=days)) == full


def test_outsiders_who_leak_or_comment_do_not_sit_at_the_table() -> None:
    """A newspaper that discloses a document is not offered, nor allowed, to suspend the talks."""
    state = replay(
        [*example(), DocumentDisclosed(occurred="2022-02-02", actor="El Pais", ref="reply-us")], negotiation="n"
    )
    assert "El Pais" not in state.parties
    suspend = next(p for p in state.permitted if p.type == "TalksSuspended")
    assert suspend.actors == ("NATO", "RU", "US")
    with pytest.raises(WrongActor, match="actor='El Pais' is not a party to these talks"):
        state.apply(TalksSuspended(occurred="2022-02-03", actor="El Pais"))
    joined = state.apply(ContactHeld(occurred="2022-02-04", parties=["El Pais", "RU"], level="working", mode="phone"))
    assert "El Pais" in joined.parties


@pytest.mark.extended
@given(ns.valid_logs(max_events=30))
def test_permitted_retractions_match_what_apply_accepts(log: list[Event]) -> None:
    """For random logs, EventRetracted is permitted for exactly the refs whose retraction apply accepts."""
    state = replay(log)
    listed = {ref for p in state.permitted if p.type == "EventRetracted" for ref in p.refs}
    last = max((e.occurred.last_day for e in log), default=dt.date(2000, 1, 1))
    accepted = {e.id for e in state.events if state.permits(EventRetracted(occurred=last, ref=e.id, reason="test"))}
    assert listed == accepted
