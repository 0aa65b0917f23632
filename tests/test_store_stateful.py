"""A Hypothesis state machine drives the SQLite store and the memory store side by side.

Appends (valid, refused, retried, with a stale expected_version), reads, loads (now and in
the past), snapshots and verification, each run against both stores and against the simplest
model there is: a list of events per negotiation, replayed. They must always agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from negotiation import (
    ConcurrencyError,
    Event,
    EventRejected,
    MemoryStore,
    NegotiationState,
    SQLiteStore,
    replay,
)
from negotiation import strategies as nst
from negotiation.store import EventStore

NAMES = ("alpha", "beta")
RECORDED = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def _outcome(store: EventStore, call: Any) -> Any:
    try:
        return ("ok", call(store))
    except (EventRejected, ConcurrencyError) as e:
        return ("error", type(e).__name__)


def _rows(store: EventStore, **kwargs: Any) -> list[Any]:
    return [(s.position, s.negotiation, s.version, s.event.to_dict(), s.hash) for s in store.read_all(**kwargs)]


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sqlite = SQLiteStore(":memory:", snapshot_every=3)
        self.memory = MemoryStore(snapshot_every=5)
        self.model: dict[str, list[Event]] = {name: [] for name in NAMES}
        self.batches: list[tuple[str, list[Event]]] = []
        self.recorded = RECORDED

    def teardown(self) -> None:
        self.sqlite.close()
        self.memory.close()

    def state(self, name: str) -> NegotiationState:
        return replay(self.model[name], negotiation=name) if self.model[name] else NegotiationState.empty(name)

    def both(self, call: Any) -> Any:
        sqlite, memory = _outcome(self.sqlite, call), _outcome(self.memory, call)
        assert sqlite == memory
        return sqlite

    def stamp(self, events: list[Event]) -> list[Event]:
        # one recorded moment per batch, the same in both stores, so their hashes agree too
        self.recorded += dt.timedelta(minutes=1)
        return [attrs.evolve(e, recorded=self.recorded) for e in events]

    @rule(name=st.sampled_from(NAMES), data=st.data())
    def append_valid(self, name: str, data: st.DataObject) -> None:
        events = data.draw(nst.valid_logs(self.state(name), min_events=1, max_events=4), label="events")
        events = self.stamp(events)
        version = len(self.model[name])
        expected = data.draw(st.sampled_from([None, version]), label="expected_version")
        outcome = self.both(lambda s: s.append(name, events, expected_version=expected))
        assert outcome == ("ok", version + len(events))
        self.model[name] += events
        self.batches.append((name, events))

    @rule(name=st.sampled_from(NAMES), data=st.data())
    def append_refused(self, name: str, data: st.DataObject) -> None:
        bad = data.draw(nst.invalid_logs(self.state(name), max_events=2), label="invalid")
        before = _rows(self.sqlite)
        outcome = self.both(lambda s: s.append(name, self.stamp(bad.events)))
        assert outcome == ("error", bad.error.__name__)
        assert _rows(self.sqlite) == before

    @precondition(lambda self: bool(self.batches))
    @rule(data=st.data())
    def append_again(self, data: st.DataObject) -> None:
        name, events = data.draw(st.sampled_from(self.batches), label="batch")
        assert self.both(lambda s: s.append(name, events, expected_version=0)) == ("ok", len(self.model[name]))

    @precondition(lambda self: any(self.model.values()))
    @rule(name=st.sampled_from(NAMES), data=st.data())
    def append_stale(self, name: str, data: st.DataObject) -> None:
        version = len(self.model[name])
        stale = data.draw(st.integers(0, version + 2).map(lambda v: v if v != version else version + 3), label="stale")
        events = self.stamp(data.draw(nst.valid_logs(self.state(name), min_events=1, max_events=2)))
        assert self.both(lambda s: s.append(name, events, expected_version=stale)) == ("error", "ConcurrencyError")

    @rule(name=st.sampled_from(NAMES), after=st.integers(0, 12))
    def read(self, name: str, after: int) -> None:
        def rows(store: EventStore) -> list[Any]:
            return [(s.version, s.event.to_dict(), s.hash) for s in store.read(name, after_version=after)]

        assert rows(self.sqlite) == rows(self.memory)
        assert [r[1]["id"] for r in rows(self.sqlite)] == [e.id for e in self.model[name][after:]]

    @rule(after=st.integers(0, 20), limit=st.none() | st.integers(0, 5))
    def read_all(self, after: int, limit: int | None) -> None:
        assert _rows(self.sqlite, after_position=after, limit=limit) == _rows(
            self.memory, after_position=after, limit=limit
        )

    @precondition(lambda self: any(self.model.values()))
    @rule(name=st.sampled_from(NAMES), data=st.data())
    def load(self, name: str, data: st.DataObject) -> None:
        if not self.model[name]:
            return
        expected = replay(self.model[name], negotiation=name)
        assert self.sqlite.load(name) == expected
        assert self.memory.load(name) == expected
        day = data.draw(st.sampled_from([e.occurred for e in self.model[name]]), label="as_of")
        past = replay(self.model[name], negotiation=name, as_of=day)
        assert self.sqlite.load(name, as_of=day) == past
        assert self.memory.load(name, as_of=day) == past

    @precondition(lambda self: any(self.model.values()))
    @rule(name=st.sampled_from(NAMES))
    def snapshot(self, name: str) -> None:
        if not self.model[name]:
            return
        assert self.both(lambda s: s.snapshot(name)) == ("ok", len(self.model[name]))

    @rule()
    def verify(self) -> None:
        assert self.sqlite.verify().ok
        assert self.memory.verify().ok

    @invariant()
    def read_models_agree(self) -> None:
        def summaries(store: EventStore) -> list[Any]:
            return [{k: v for k, v in s.to_dict().items() if k != "updated"} for s in store.negotiations()]

        assert summaries(self.sqlite) == summaries(self.memory)
        assert [s.id for s in self.sqlite.negotiations()] == [n for n in NAMES if self.model[n]]


TestStoreMachine = pytest.mark.extended(StoreMachine.TestCase)
TestStoreMachine.settings = settings(
    max_examples=40,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
