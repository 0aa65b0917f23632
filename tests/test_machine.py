"""The stage machine: one definition, a compiled table proven equal to transitions, a diagram."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from negotiation import EVENT_TYPES, EventRejected, NotPermitted, Stage
from negotiation._fold import Fold
from negotiation.events import Event
from negotiation.machine import (
    TABLE,
    TRANSITIONS,
    TableEngine,
    TransitionsEngine,
    build_machine,
    diagram,
    permitted_types,
)

PARTIES = ["RU", "US", "NATO", "UA"]


def test_table_is_derived_from_every_transition() -> None:
    """Every (source, trigger) of the transitions definition is in the table, and nothing else."""
    pairs = set()
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        pairs |= {(Stage(s), t["trigger"]) for s in sources}
    assert set(TABLE) == pairs


def test_guarded_branches_are_exhaustive() -> None:
    """Where a transition has a guard, its complement exists, so exactly one branch always applies."""
    for key, branches in TABLE.items():
        guarded = [b for b in branches if b[0]]
        if guarded:
            names = {(g.__name__, target) for conds, _ in guarded for g, target in conds}
            complements = {(n, not t) for n, t in names}
            assert names == complements or key[1] == "TalksResumed", key
    resumed = [dest for conds, dest in TABLE[(Stage.SUSPENDED, "TalksResumed")]]
    assert len(resumed) == len(set(resumed)) == 7


def test_permitted_types_follow_the_contract_order() -> None:
    """permitted_types lists types in the contract's order, and paused stages permit no reply."""
    order = list(EVENT_TYPES)
    for stage in Stage:
        types = permitted_types(stage)
        assert list(types) == sorted(types, key=order.index)
    assert "ReplyDelivered" not in permitted_types(Stage.SUSPENDED)
    assert "TalksResumed" in permitted_types(Stage.BROKEN_OFF)


def test_a_built_machine_starts_idle() -> None:
    """build_machine gives a transitions Machine over the same states, starting idle."""
    machine = build_machine()
    assert machine.initial == "idle"
    assert set(machine.states) == {s.value for s in Stage}


def test_diagram_mentions_every_stage_and_hides_neutral_loops_by_default() -> None:
    """The short diagram has every stage; --full adds the neutral self-loops."""
    short, full = diagram(), diagram(full=True)
    for stage in Stage:
        assert f'state "{stage.value}" as {stage.value}' in short
    assert "talks --> talks: ContactProposed [internal]" not in short
    assert "ContactProposed [internal]" in full


# -- random valid and invalid sequences -------------------------------------------------------


def _build(data: st.DataObject, kind: str, actor: str | None, ref: str | None, day: dt.date, n: int) -> Event:
    """A concrete event of ``kind``: required fields filled from small pools (test-only generator)."""
    cls = EVENT_TYPES[kind]
    fields: dict[str, Any] = {"id": f"e{n}", "occurred": day}
    names = {f.name for f in cls.__attrs_attrs__}  # type: ignore[attr-defined]
    pick = data.draw
    if "actor" in names:
        fields["actor"] = actor or pick(st.sampled_from(PARTIES))
    if "to" in names:
        fields["to"] = pick(st.lists(st.sampled_from(PARTIES), min_size=1, max_size=2, unique=True))
    if "parties" in names and kind == "AgreementSigned" and actor is not None:
        fields["parties"] = [actor]
    elif "parties" in names:
        fields["parties"] = pick(st.lists(st.sampled_from(PARTIES), min_size=2, max_size=3, unique=True))
    if "level" in names:
        fields["level"] = pick(st.sampled_from(["leader", "minister"]))
    if "mode" in names:
        fields["mode"] = pick(st.sampled_from(["phone", "in_person"]))
    if "title" in names:
        fields["title"] = "T"
    if "reason" in names and kind == "EventRetracted":
        fields["reason"] = "r"
    if "deadline" in names:
        fields["deadline"] = day + dt.timedelta(days=pick(st.integers(0, 30)))
    if "ref" in names and ref is not None:
        fields["ref"] = ref
    elif "ref" in names and cls.REF_REQUIRED:
        fields["ref"] = "nowhere"
    return cls(**fields)


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[Event, bool]]:
    """Mostly permitted steps (walking the permitted list), some arbitrary events; flagged."""
    data = draw(st.data())
    fold = Fold("n")
    from negotiation.state import NegotiationState

    events: list[tuple[Event, bool]] = []
    day = dt.date(2021, 1, 1)
    for n in range(draw(st.integers(1, 40))):
        day += dt.timedelta(days=draw(st.integers(0, 20)))
        if draw(st.integers(0, 9)) < 8:
            steps = NegotiationState(fold).permitted
            step = draw(st.sampled_from(steps))
            actor = draw(st.sampled_from(step.actors)) if step.actors else None
            ref = draw(st.sampled_from(step.refs)) if step.refs else None
            event, permitted = _build(data, step.type, actor, ref, day, n), True
        else:
            kind = draw(st.sampled_from(list(EVENT_TYPES)))
            known = [e.id for e, _ in events] or [None]
            event, permitted = _build(data, kind, None, draw(st.sampled_from(known)), day, n), False
        events.append((event, permitted))
        fold.apply(event, strict=False)
    return events


@st.composite
def sequences(draw: st.DrawFn) -> list[Event]:
    """Random valid and invalid sequences of events."""
    return [event for event, _ in draw(steps())]


@given(sequences())
def test_table_replay_equals_transitions_replay(events: list[Event]) -> None:
    """After every event the table and the transitions machine are in the same stage and refuse the same events."""
    table, machine = Fold("n", TableEngine()), Fold("n", TransitionsEngine())
    for event in events:
        outcomes = []
        for fold in (table, machine):
            try:
                fold.apply(event)
                outcomes.append(None)
            except EventRejected as e:
                outcomes.append(type(e))
        assert outcomes[0] == outcomes[1], event
        assert table.stage is machine.stage, event


@given(steps())
def test_permitted_steps_are_accepted(events: list[tuple[Event, bool]]) -> None:
    """An event built from a permitted step is always accepted; a refused one names a permitted list."""
    fold = Fold("n")
    for event, permitted in events:
        if permitted:
            fold.apply(event)
            continue
        stage = fold.stage
        try:
            fold.apply(event)
        except NotPermitted:
            assert event.TYPE not in permitted_types(stage)
        except EventRejected:
            assert event.TYPE == "EventRetracted" or event.TYPE in permitted_types(stage)
