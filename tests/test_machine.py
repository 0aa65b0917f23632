"""The stage machine: one definition, a compiled table proven equal to transitions, a diagram."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from negotiation import EVENT_TYPES, EventRejected, Stage
from negotiation import strategies as ns
from negotiation.events import Event
from negotiation.fold import Fold
from negotiation.machine import (
    TABLE,
    TRANSITIONS,
    TableEngine,
    TransitionsEngine,
    build_machine,
    diagram,
    permitted_types,
)
from negotiation.rules import AgreementRecord


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


@st.composite
def sequences(draw: st.DrawFn) -> list[Event]:
    """A valid log (a walk over permitted steps) with arbitrary events mixed in, mostly refused."""
    log = list(draw(ns.valid_logs(max_events=30)))
    for _ in range(draw(st.integers(0, 8))):
        noise = draw(ns.events())
        log.insert(draw(st.integers(0, len(log))), noise)
    return log


@pytest.mark.extended
@given(sequences())
def test_table_replay_equals_transitions_replay(events: list[Event]) -> None:
    """After every event the table and the transitions machine are in the same stage and refuse the same events."""
    table, machine = Fold(None, TableEngine()), Fold(None, TransitionsEngine())
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


def test_transitions_offers_and_refuses_the_triggers_the_table_does() -> None:
    """Per stage, transitions' own ``get_triggers`` and ``may_<type>`` agree with the compiled table.

    For a type the table refuses, ``may_`` answers without evaluating a guard, so it gets no
    fold and no event.
    """
    model = type("Model", (), {})()
    machine = build_machine(model)
    # every type is a trigger but EventRetracted, which replay undoes instead of firing
    assert set(machine.events) == set(EVENT_TYPES) - {"EventRetracted"}
    for stage in Stage:
        assert set(machine.get_triggers(stage.value)) == set(permitted_types(stage)), stage
        machine.set_state(stage.value, model)
        for kind in machine.events:
            if (stage, kind) not in TABLE:
                assert getattr(model, f"may_{kind}")(None, None) is False, (stage, kind)


@pytest.mark.extended
@given(ns.valid_logs(max_events=30))
def test_transitions_may_fire_every_event_the_table_accepts(events: list[Event]) -> None:
    """Before each event of a valid log, transitions' ``may_<type>`` (guards evaluated) says yes:
    in the negotiation's stage, or for an event on a side instrument, in the instrument's own
    life stage (a side instrument agreed, or ended before it entered into force, is not asked)."""
    model = type("Model", (), {})()
    machine = build_machine(model)
    fold = Fold(None)
    for event in events:
        side = fold.side_instrument(event)
        stage = side.life_stage if isinstance(side, AgreementRecord) else fold.stage
        asked = event.TYPE != "EventRetracted" and side is not True  # a retraction is undone by replay
        if isinstance(side, AgreementRecord) and event.TYPE == "AgreementTerminated":
            asked = stage is Stage.IN_FORCE
        if asked:
            assert stage is not None
            machine.set_state(stage.value, model)
            if isinstance(side, AgreementRecord):  # its guards read the instrument, not the talks
                assert (stage, event.TYPE) in TABLE, (stage, event)
            else:
                assert getattr(model, f"may_{event.TYPE}")(fold, event) is True, (fold.stage, event)
        fold.apply(event)
