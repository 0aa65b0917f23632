"""Retractions and next steps: the fast Fold.retractable and NegotiationState.permitted give
exactly what the straightforward definitions give.

The references live here: a retraction is permitted when replaying the effective events
without the retracted one succeeds (``_replayed``, from scratch, one replay per event), and
``_old_retractable`` and ``_old_permitted`` are the implementations the fast ones replaced,
kept verbatim (but for the names).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiation import (
    ConsultationHeld,
    Event,
    EventRetracted,
    FrameworkAgreed,
    NegotiationState,
    ProposalPublished,
    ReplyDelivered,
    TalksBrokenOff,
    TalksResumed,
    TalksSuspended,
    read_log,
    replay,
    retraction,
)
from negotiation import strategies as nst
from negotiation.dates import PartialDate
from negotiation.errors import EventRejected
from negotiation.events import EVENT_TYPES
from negotiation.fold import Fold
from negotiation.machine import ACTIVE_STAGES, NEUTRAL_TYPES, TABLE, Stage, TableEngine
from negotiation.moves import build, moves
from negotiation.rules import AgreementRecord
from negotiation.state import Permitted
from tests.conftest import EVENTS, ROOT

LOGS = sorted(EVENTS.glob("*.jsonl"))
_UNENDED = ("agreed", "signed", "ratifying", "in_force")
_NEUTRAL = frozenset(NEUTRAL_TYPES)


# -- the references ---------------------------------------------------------------------


def _replayed(fold: Fold) -> list[str]:
    """For every effective event nothing references, replay the effective events without it
    from scratch: the ids of those whose replay succeeds, in log order."""
    out = []
    for event in fold.events:
        if fold.ref_count.get(event.id):
            continue
        rebuilt = Fold(fold.negotiation, fold.engine.fresh())
        try:
            for other in fold.events:
                if other.id != event.id:
                    rebuilt.apply(other)
        except EventRejected:
            continue
        out.append(event.id)
    return out


def _old_retractable(self: Fold) -> list[str]:
    events = self.events
    # roles and joint acts change who is a party beyond what the neutral shortcut follows
    plain = not any(e.TYPE in ("ParticipantJoined", "ParticipantLeft") or getattr(e, "co_actors", None) for e in events)
    safe: set[int] = set()
    to_check: list[int] = []
    for index, event in enumerate(events):
        if self.ref_count.get(event.id):
            continue
        if (
            plain
            and event.TYPE in _NEUTRAL
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
                prefix.apply(events[done])
                done += 1
            trial = prefix.copy()
            try:
                for later in itertools.islice(events, index + 1, None):
                    trial.apply(later)
            except EventRejected:
                continue
            safe.add(index)
    return [events[i].id for i in sorted(safe)]


def _group(entries: Iterable[tuple[str, tuple[str, ...] | None, str | None]]) -> list[Permitted]:
    merged: dict[tuple[str, tuple[str, ...] | None, bool], list[str]] = {}
    for kind, actors, ref in entries:
        refs = merged.setdefault((kind, actors, ref is not None), [])
        if ref is not None and ref not in refs:
            refs.append(ref)
    return [Permitted(type=k, actors=a, refs=tuple(r)) for (k, a, _), r in merged.items()]


def _texts(fold: Fold, kind: str) -> list[AgreementRecord]:
    """The agreed texts a ``kind`` event may name: the principal one if the negotiation's stage
    permits ``kind``, then each side instrument whose own life stage does (and any side
    instrument neither ended nor refused may be terminated)."""
    texts = [fold.text] if fold.text is not None and (fold.stage, kind) in TABLE else []
    sides = [a for a in fold.agreements.values() if a.kind == "text" and a.instrument != "agreement"]
    ends = kind == "AgreementTerminated"
    return texts + [a for a in sides if (a.life_stage, kind) in TABLE or (ends and a.life in _UNENDED)]


def _old_permitted(state: NegotiationState) -> tuple[Permitted, ...]:
    fold = state.copy_fold()
    parties = tuple(sorted(fold.parties)) or None
    live_docs = [d for d in fold.docs.values() if d.live]
    steps: list[tuple[str, tuple[str, ...] | None, str | None]] = []
    for kind in fold.permitted_type_names():
        if kind == "ContactAccepted":
            for c in fold.contacts.values():
                pending = tuple(sorted(p for p in c.to if p not in c.accepted_by))
                if c.open and pending:
                    steps.append((kind, pending, c.id))
        elif kind == "ContactDeclined":
            steps += [(kind, tuple(sorted({*c.proposers, *c.to})), c.id) for c in fold.contacts.values() if c.open]
        elif kind == "ContactHeld":
            steps.append((kind, None, None))
            steps += [(kind, None, c.id) for c in fold.contacts.values() if c.declined_by is None]
        elif kind == "ProposalPublished":
            steps.append((kind, None, None))
            steps += [(kind, tuple(sorted(d.addressees)), d.id) for d in live_docs]
        elif kind == "ReplyDelivered":
            steps += [(kind, tuple(sorted(d.addressees)), d.id) for d in live_docs]
        elif kind == "DocumentDisclosed":
            steps += [(kind, None, d.id) for d in fold.docs.values() if not d.public]
        elif kind == "ProposalWithdrawn":
            steps += [(kind, tuple(sorted(d.authors)), d.id) for d in live_docs if d.kind == "proposal"]
        elif kind == "AgreementSigned":
            for text in _texts(fold, kind):
                unsigned = tuple(sorted(p for p in text.parties if p not in text.signed))
                if unsigned:
                    steps.append((kind, unsigned, text.id))
        elif kind == "AgreementRatified":
            for text in _texts(fold, kind):
                pending = tuple(sorted(p for p in text.remaining if p not in text.ratified))
                if pending:
                    steps.append((kind, pending, text.id))
        elif kind == "RatificationRefused":
            for text in _texts(fold, kind):
                pending = tuple(sorted(p for p in text.remaining if p not in text.ratified and p not in text.refused))
                if pending:
                    steps.append((kind, pending, text.id))
        elif kind in ("AgreementEnteredIntoForce", "AgreementTerminated"):
            steps += [(kind, None, text.id) for text in _texts(fold, kind)]
        elif kind == "PartyWithdrew":
            steps += [(kind, tuple(sorted(text.remaining)), text.id) for text in _texts(fold, kind)]
        elif kind in ("TalksSuspended", "TalksResumed", "TalksBrokenOff"):
            if parties is not None:
                steps.append((kind, parties, None))
        elif kind == "ParticipationSuspended":
            for text in _texts(fold, kind):
                active = tuple(sorted(p for p in text.remaining if p not in text.suspended))
                if active:
                    steps.append((kind, active, text.id))
        elif kind == "ParticipationResumed":
            steps += [(kind, tuple(sorted(t.suspended)), t.id) for t in _texts(fold, kind) if t.suspended]
        elif kind == "PartyJoined":
            steps += [(kind, tuple(sorted(t.withdrawn)), t.id) for t in _texts(fold, kind) if t.withdrawn]
        elif kind in ("ImplementationReported", "ViolationAlleged"):
            steps += [(kind, None, a) for a in fold.agreements]
        elif kind == "ParticipantLeft":
            present = tuple(sorted({*fold.parties, *fold.roles}))
            if present:
                steps.append((kind, present, None))
        elif kind == "TalksLapsed":
            steps.append((kind, None, None))
            steps += [(kind, None, d) for d in fold.deadlines]
        elif kind == "EventRetracted":
            steps += [(kind, None, r) for r in _old_retractable(fold)]
        else:
            steps.append((kind, None, None))
    return tuple(_group(steps))


def _assert_like_the_references(state: NegotiationState) -> None:
    fold = state.copy_fold()
    expected = _replayed(fold)
    assert fold.retractable() == expected
    assert _old_retractable(fold) == expected  # the old one was right: the references agree
    assert state.permitted == _old_permitted(state)
    assert [p.to_dict() for p in state.permitted] == [p.to_dict() for p in _old_permitted(state)]
    # the steps without the retraction pass, and the shortcut the report takes: a retraction
    # is permitted exactly when there is an effective event (the last one may always go)
    assert state.next_steps() == state.permitted
    assert state.next_steps(retractions=False) == tuple(p for p in state.permitted if p.type != "EventRetracted")
    assert any(p.type == "EventRetracted" for p in state.permitted) == bool(state.events)


def _synthetic(count: int, negotiation: str = "n0") -> list[Event]:
    import runpy

    module = runpy.run_path(str(ROOT / "benchmarks" / "synthetic.py"))
    return list(module["synthetic_events"](count, negotiation))


#: Types a talks-heavy walk prefers (each listed once more than the others): valid_logs draws
#: the type first and rarely meets a live document, so it makes few replies.
_FAVOURED = ("ProposalPublished", "ReplyDelivered", "ReplyDelivered", "TalksSuspended", "TalksResumed")


@st.composite
def _talks_heavy_logs(draw: st.DrawFn, max_events: int = 40) -> list[Event]:
    """Valid logs rich in proposals, replies (first and later answers), withdrawals,
    suspensions and resumptions, with every other move possible too (retractions included)."""
    fold = Fold(nst.SIMULATED)
    cands = ("RU", "US", "NATO")
    day = dt.date(2000, 1, 1)
    log: list[Event] = []
    for n in range(draw(st.integers(0, max_events), label="length")):
        options = moves(fold, cands)
        if not options:
            break
        kinds = list(dict.fromkeys(m.type for m in options))
        kinds += [k for k in _FAVOURED if k in kinds]
        kind = draw(st.sampled_from(kinds), label="type")
        move = draw(st.sampled_from([m for m in options if m.type == kind]), label="move")
        day += dt.timedelta(days=draw(st.integers(0, 3), label="days"))
        event = build(move, fold, id=f"e{n}", occurred=PartialDate.of(day))
        fold.apply(event)
        log.append(event)
    return log


# -- properties -------------------------------------------------------------------------


@pytest.mark.extended
@settings(max_examples=150)
@given(nst.valid_logs(min_events=5, max_events=40))
def test_retractable_and_permitted_equal_the_references(log: list[Event]) -> None:
    """On any valid log (retractions, suspensions, agreements, deadlines...): the same retractable
    ids as replaying without each candidate, the same steps as the old implementation."""
    _assert_like_the_references(replay(log))


@pytest.mark.slow
@settings(max_examples=150)
@given(_talks_heavy_logs())
def test_retractable_and_permitted_on_talks_heavy_logs_equal_the_references(log: list[Event]) -> None:
    """The same on logs rich in proposals, answers and pauses."""
    _assert_like_the_references(replay(log))


@pytest.mark.extended
@settings(max_examples=100)
@given(nst.valid_logs(min_events=10, max_events=40, exclude={"EventRetracted"}), st.data())
def test_retractable_equals_the_reference_after_a_retraction(log: list[Event], data: st.DataObject) -> None:
    """After retracting one of the events that may go (the fold is rebuilt), still the same."""
    state = replay(log)
    _assert_like_the_references(state)
    ids = state.copy_fold().retractable()
    if ids:
        ref = data.draw(st.sampled_from(ids), label="retracted")
        last = max(e.occurred.last_day for e in log)
        _assert_like_the_references(state.apply(EventRetracted(occurred=last, ref=ref, reason="test")))


@pytest.mark.extended
@settings(max_examples=60)
@given(nst.invalid_logs(max_events=20))
def test_retractable_equals_the_reference_after_a_lenient_replay(log: nst.InvalidLog) -> None:
    """A lenient replay that skipped an event: the effective events decide."""
    _assert_like_the_references(replay(log.events, negotiation=nst.SIMULATED, strict=False))


@settings(max_examples=15)
@given(nst.valid_logs(max_events=15))
def test_retractable_with_the_transitions_engine_equals_the_reference(log: list[Event]) -> None:
    """The transitions engine takes no shortcut, and gets the same answer."""
    state = replay(log, engine="transitions")
    assert state.copy_fold().retractable() == _replayed(state.copy_fold()) == replay(log).copy_fold().retractable()


@pytest.mark.extended
@settings(max_examples=40)
@given(st.data())
def test_continuations_of_the_real_logs_equal_the_references(data: st.DataObject) -> None:
    """A real log, then more moves: same retractable ids, same steps."""
    path = data.draw(st.sampled_from(LOGS), label="log")
    start = replay(read_log(path).events())
    _assert_like_the_references(start.extend(data.draw(nst.valid_logs(start, max_events=12), label="more")))


# -- the real logs and the synthetic ones -------------------------------------------------


@pytest.mark.extended
@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_real_logs_at_every_prefix_equal_the_references(path: Path) -> None:
    """Each real log, cut after every event, and with each retraction it permits at the end
    (the CFE log's 97 cuts and 83 retractions take 25 s: the reference replays the log once
    per candidate)."""
    events = read_log(path).events()
    for cut in range(len(events) + 1):
        _assert_like_the_references(replay(events[:cut]))
    state = replay(events)
    last = max(e.occurred.last_day for e in events)
    for ref in state.copy_fold().retractable():
        _assert_like_the_references(state.apply(EventRetracted(occurred=last, ref=ref, reason="test")))


def test_synthetic_logs_equal_the_references() -> None:
    """The benchmark's negotiation at every length up to a few rounds."""
    events = _synthetic(40)
    for cut in range(len(events) + 1):
        _assert_like_the_references(replay(events[:cut], negotiation="n0"))


# -- the shortcuts are taken ----------------------------------------------------------------


def _undecided(fold: Fold) -> list[str]:
    return [fold.events[i].id for i, verdict in retraction.verdicts(fold, shortcuts=True) if verdict is None]


def test_the_table_lets_the_shortcuts_be_taken() -> None:
    """Neutral types keep every stage but idle: without that, retractable would replay every candidate."""
    assert retraction.SHORTCUTS
    assert replay(_synthetic(20), negotiation="n0").copy_fold().table


def test_the_synthetic_negotiation_needs_no_replay() -> None:
    """Every candidate of the benchmark's negotiation is decided by a shortcut: statements,
    contacts, consultations and deadlines; replies that are not the first answer; a suspension
    followed by its resumption, a resumption followed by a proposal (both refused)."""
    fold = replay(_synthetic(20), negotiation="n0").copy_fold()
    verdicts = dict(retraction.verdicts(fold, shortcuts=True))
    ids = {fold.events[i].id: v for i, v in verdicts.items()}
    assert ids == {
        **dict.fromkeys(("c0", "n0", "s0", "a0", "h0", "d0", "c1", "n1", "s1", "a1", "h1"), True),
        **dict.fromkeys(("x0", "y0"), False),
    }
    assert fold.retractable() == [i for i, v in ids.items() if v]


def test_each_shortcut_decides_what_a_replay_would() -> None:
    """Small logs where each rule applies, checked against the reference."""
    d = dt.date(2022, 1, 1)
    opening = [
        ProposalPublished(id="p", occurred=d, actor="RU", to=["US", "NATO"], title="Draft"),
        ReplyDelivered(id="r", occurred=d, actor="US", ref="p"),
    ]
    cases: list[tuple[list[Event], dict[str, bool | None]]] = [
        # a suspension with only neutral events after it may go; without it the resumption is refused
        (
            [
                *opening,
                TalksSuspended(id="x", occurred=d, actor="RU"),
                ConsultationHeld(id="c", occurred=d, parties=["RU", "US"]),
            ],
            {"r": None, "x": True, "c": True},
        ),
        (
            [*opening, TalksSuspended(id="x", occurred=d, actor="RU"), TalksResumed(id="y", occurred=d, actor="RU")],
            {"r": None, "x": False, "y": True},
        ),
        # the first answer moved the stage: a replay decides; the second answer changes nothing read
        (
            [
                *opening,
                ReplyDelivered(id="r2", occurred=d, actor="NATO", ref="p"),
                ConsultationHeld(id="c", occurred=d, parties=["RU", "US"]),
            ],
            {"r": None, "r2": True, "c": True},
        ),
        # a party named first by a consultation, then suspending: a replay decides (and refuses)
        (
            [
                *opening,
                ConsultationHeld(id="c", occurred=d, parties=["RU", "UA"]),
                TalksSuspended(id="x", occurred=d, actor="UA"),
            ],
            {"r": None, "c": None, "x": True},
        ),
    ]
    # proposals and answers: only the first answer to any proposal needs a replay
    rounds = [
        ProposalPublished(id="p0", occurred=d, actor="RU", to=["US"], title="Draft"),
        ReplyDelivered(id="r0", occurred=d, actor="US", ref="p0"),
        ProposalPublished(id="p1", occurred=d, actor="RU", to=["US"], title="Draft"),
        ReplyDelivered(id="r1", occurred=d, actor="US", ref="p1"),
        ProposalPublished(id="p2", occurred=d, actor="RU", to=["US"], title="Draft"),
        ProposalPublished(id="p3", occurred=d, actor="US", to=["RU"], title="Other"),
        ReplyDelivered(id="r3", occurred=d, actor="RU", ref="p3"),
        ConsultationHeld(id="c", occurred=d, parties=["RU", "US"]),
    ]
    cases.append((rounds, {"r0": None, "r1": True, "p2": True, "r3": True, "c": True}))
    # a first answer keeps framework_agreed, and the resumption after a break-off returns there
    # with or without it: the later reply is accepted either way
    talks = [
        ConsultationHeld(id="c", occurred=d, parties=["RU", "US"]),
        FrameworkAgreed(id="f", occurred=d, parties=["RU", "US"], title="Framework"),
        ProposalPublished(id="p", occurred=d, actor="RU", to=["US"], title="Draft"),
        ReplyDelivered(id="r", occurred=d, actor="US", ref="p"),
        TalksBrokenOff(id="b", occurred=d, actor="RU"),
        TalksResumed(id="y", occurred=d, actor="RU"),
        ReplyDelivered(id="r2", occurred=d, actor="US", ref="p"),
    ]
    cases.append((talks, {"c": False, "f": None, "r": None, "b": False, "y": False, "r2": True}))
    # the first event, made in idle: the next one comes first without it
    meeting = ConsultationHeld(id="c0", occurred=d, parties=["RU", "US"])
    cases += [
        # in idle a proposal leads where it leads from exploration: the rest goes as before
        (
            [meeting, *opening, ConsultationHeld(id="c", occurred=d, parties=["RU", "US"])],
            {"c0": True, "r": True, "c": True},
        ),
        (
            [meeting, ConsultationHeld(id="c", occurred=d, parties=["RU", "US"]), *opening],
            {"c0": True, "c": True, "r": True},
        ),
        # a framework agreement is not permitted in idle
        ([meeting, FrameworkAgreed(id="f", occurred=d, parties=["RU", "US"], title="F")], {"c0": False, "f": True}),
        # a first proposal is not neutral: a replay decides
        (
            [
                ProposalPublished(id="p", occurred=d, actor="RU", to=["US"], title="Draft"),
                ConsultationHeld(id="c", occurred=d, parties=["RU", "US"]),
                ProposalPublished(id="p2", occurred=d, actor="US", to=["RU"], title="Other"),
            ],
            {"p": None, "c": True, "p2": True},
        ),
    ]
    # a party named first by the candidate may suspend once another event has named it
    cases += [
        (
            [
                *opening,
                ConsultationHeld(id="c", occurred=d, parties=["RU", "UA"]),
                ConsultationHeld(id="c2", occurred=d, parties=["UA", "US"]),
                TalksSuspended(id="x", occurred=d, actor="UA"),
            ],
            {"r": None, "c": True, "c2": True, "x": True},
        ),
        (
            [
                ConsultationHeld(id="c0", occurred=d, parties=["RU", "UA"]),
                *opening,
                TalksSuspended(id="x", occurred=d, actor="UA"),
                TalksResumed(id="y", occurred=d, actor="RU"),
            ],
            {"c0": None, "r": None, "x": False, "y": True},
        ),
    ]
    assert replay(talks, negotiation="n").copy_fold().retractable() == ["f", "r", "r2"]
    for events, expected in cases:
        fold = replay(events, negotiation="n").copy_fold()
        verdicts = {fold.events[i].id: v for i, v in retraction.verdicts(fold, shortcuts=True)}
        assert verdicts == expected, events
        assert fold.retractable() == _replayed(fold)


class _View:
    """What the guards may read, given outright (see negotiation.machine.FoldView)."""

    def __init__(
        self, paused_from: Stage | None, unanswered: bool, open_after: int, completes: bool, left: int, refuses: bool
    ) -> None:
        self.paused_from = paused_from
        self.open_proposals = int(unanswered)
        self._open_after, self._completes, self._left, self._refuses = open_after, completes, left, refuses

    def open_proposals_after(self, event: object) -> int:
        return self._open_after

    def completes_signatures(self, event: object) -> bool:
        return self._completes

    def parties_left_after_withdrawal(self, event: object) -> int:
        return self._left

    def refuses_text(self, event: object) -> bool:
        return self._refuses


def test_proposal_open_and_talks_are_alike_in_the_table() -> None:
    """What the shortcut for proposals, replies and withdrawals relies on (retraction.ALIKE).

    Relate each stage to itself and proposal_open to talks, both as the stage and as the stage a
    suspension keeps. For related stages, every type the one permits the other permits, and it
    leads to related stages whatever the count of open proposals on either side, as long as
    everything else the guards read is the same.
    """
    alike = retraction.ALIKE
    assert alike == {Stage.PROPOSAL_OPEN, Stage.TALKS}
    related = [(s, s) for s in Stage] + [(a, b) for a in alike for b in alike if a != b]
    kept: list[tuple[Stage | None, Stage | None]] = [(None, None), *((s, s) for s in ACTIVE_STAGES)]
    kept += [(a, b) for a in alike for b in alike if a != b]
    engine = TableEngine()

    def next_stage(stage: Stage, kind: str, view: _View) -> Stage | None:
        try:
            return engine.next_stage(stage, view, SimpleNamespace(TYPE=kind))  # type: ignore[arg-type]
        except AssertionError:  # no branch passes: the guards' values cannot be so there
            return None

    def like(a: Stage | None, b: Stage) -> bool:
        return a == b or (a in alike and b in alike)

    checked = 0
    for (trial, real), kind in itertools.product(related, EVENT_TYPES):
        if (real, kind) not in TABLE:
            continue
        assert (trial, kind) in TABLE, (trial, real, kind)
        for (
            p_trial,
            p_real,
        ), unanswered_trial, unanswered_real, completes, left, open_trial, open_real, refuses in itertools.product(
            kept, (False, True), (False, True), (False, True), (1, 3), (0, 1), (0, 1), (False, True)
        ):
            real_view = _View(p_real, unanswered_real, open_real, completes, left, refuses)
            trial_view = _View(p_trial, unanswered_trial, open_trial, completes, left, refuses)
            after_real = next_stage(real, kind, real_view)
            after_trial = next_stage(trial, kind, trial_view)
            if after_real is not None:
                assert like(after_trial, after_real), (trial, real, kind, p_trial, p_real)
                checked += 1
    assert checked > 10_000
