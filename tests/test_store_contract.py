"""The store contract, written once and run against every backend (memory, SQLite in memory and on disk)."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from negotiation import (
    ConcurrencyError,
    ConsultationHeld,
    ContactProposed,
    DuplicateEventId,
    Event,
    EventRejected,
    EventRetracted,
    MemoryStore,
    NotPermitted,
    PositionStated,
    ProposalPublished,
    ReplyDelivered,
    SQLiteStore,
    Stage,
    StoreError,
    TalksSuspended,
    UnknownNegotiation,
    UnknownReference,
    replay,
)
from negotiation.store import EventStore, StoredEvent

N = "talks"


def opening() -> list[Event]:
    """Three events: a consultation, a proposal from A to B, B's reply."""
    return [
        ConsultationHeld(id="round-1", occurred="2022-01-10", parties=["A", "B"]),
        ProposalPublished(id="draft", occurred="2022-01-12", actor="A", to=["B"], title="Draft"),
        ReplyDelivered(
            id="reply", occurred="2022-01-20", actor="B", ref="draft", positions={"z": "reject", "a": "accept"}
        ),
    ]


def later() -> list[Event]:
    """Two events after :func:`opening`: a contact proposal and a statement."""
    return [
        ContactProposed(id="call", occurred="2022-02-01", actor="B", to=["A"], level="leader"),
        PositionStated(id="statement", occurred="2022-02-03", actor="A", summary="We will answer"),
    ]


def snapshot_of(store: EventStore) -> Any:
    """Everything observable about a store, to prove that a failed write changed nothing."""
    return (
        [(s.position, s.negotiation, s.version, s.event.to_dict(), s.hash) for s in store.read_all()],
        [s.to_dict() for s in store.negotiations()],
    )


def run_together(workers: list[threading.Thread]) -> None:
    """Start the threads and wait for them, switching between them as often as the
    interpreter can, so that a race between them shows."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(switch)


class StoreContract:
    """What every store promises. Subclasses provide :meth:`make_store`."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[EventStore]:
        store = self.make_store(tmp_path)
        try:
            yield store
        finally:
            store.close()

    def make_store(self, tmp_path: Path, **options: Any) -> EventStore:
        raise NotImplementedError

    # -- appending -----------------------------------------------------------------------------

    def test_append_returns_the_new_version(self, store: EventStore) -> None:
        """Versions count 1, 2, ... per negotiation; positions count across the store."""
        assert store.append(N, opening()) == 3
        assert store.append("other", [ConsultationHeld(occurred="2022-01-01", parties=["X", "Y"])]) == 1
        assert store.append(N, later()) == 5
        assert [(s.negotiation, s.version, s.position) for s in store.read_all()] == [
            (N, 1, 1),
            (N, 2, 2),
            (N, 3, 3),
            ("other", 1, 4),
            (N, 4, 5),
            (N, 5, 6),
        ]
        assert store.version(N) == 5
        assert store.version("nobody") == 0

    def test_append_fills_in_negotiation_and_recorded(self, store: EventStore) -> None:
        """Stored events carry their negotiation, and the store records the moment of the append
        (UTC), one per call, as its own metadata: the event's ``recorded`` stays as the log gave it."""
        before = dt.datetime.now(dt.UTC)
        store.append(N, opening())
        stored = store.read(N)
        assert {s.event.negotiation for s in stored} == {N}
        assert {s.event.recorded for s in stored} == {None}
        assert len({s.recorded for s in stored}) == 1
        assert before <= stored[0].recorded <= dt.datetime.now(dt.UTC)
        assert stored[0].recorded.tzinfo is not None

    def test_append_keeps_a_recorded_moment_the_event_carries(self, store: EventStore) -> None:
        """An event that says when it was recorded keeps it (a re-imported export keeps its history),
        and known_at reads it as it reads a log file: the store's append time does not move it."""
        event = ConsultationHeld(
            id="c", occurred="2022-01-10", parties=["A", "B"], recorded="2022-01-11T09:00:00+00:00"
        )
        later_one = ConsultationHeld(id="d", occurred="2022-01-12", parties=["A", "B"])
        before = dt.datetime.now(dt.UTC)
        store.append(N, [event, later_one])
        stored = store.read(N)
        assert stored[0].event.recorded == dt.datetime(2022, 1, 11, 9, tzinfo=dt.UTC)
        assert before <= stored[0].recorded == stored[1].recorded
        assert store.load(N, known_at="2022-01-11").version == 1
        assert store.load(N, known_at="2022-01-12").version == 2
        as_filed = replay([s.event for s in store.read(N)], known_at="2022-01-11")
        assert [e.id for e in store.load(N, known_at="2022-01-11").events] == [e.id for e in as_filed.events] == ["c"]

    def test_read_after_version_and_read_all_after_position_with_limit(self, store: EventStore) -> None:
        """read skips versions up to after_version; read_all skips positions and stops at limit."""
        store.append(N, [*opening(), *later()])
        assert [s.event.id for s in store.read(N, after_version=3)] == ["call", "statement"]
        assert [s.position for s in store.read_all(after_position=1, limit=2)] == [2, 3]
        assert store.read_all(after_position=5) == []
        assert store.read("nobody") == []

    def test_the_order_of_positions_survives_the_store(self, store: EventStore) -> None:
        """An event comes back equal to what was appended, positions in their order."""
        store.append(N, opening())
        reply = store.read(N)[2].event
        assert isinstance(reply, ReplyDelivered)
        assert reply.positions is not None
        assert list(reply.positions) == ["z", "a"]

    def test_expected_version_must_match(self, store: EventStore) -> None:
        """A wrong expected_version raises ConcurrencyError naming both versions; nothing is written."""
        store.append(N, opening(), expected_version=0)
        before = snapshot_of(store)
        with pytest.raises(ConcurrencyError, match=r"version 3, not the expected version 2") as caught:
            store.append(N, later(), expected_version=2)
        assert (caught.value.expected, caught.value.actual) == (2, 3)
        assert caught.value.negotiation == N
        assert snapshot_of(store) == before
        assert store.append(N, later(), expected_version=3) == 5

    def test_a_repeated_append_is_a_no_op(self, store: EventStore) -> None:
        """Re-appending stored events (a retry after a lost acknowledgement) writes nothing."""
        store.append(N, opening())
        before = snapshot_of(store)
        assert store.append(N, opening()) == 3
        assert store.append(N, opening(), expected_version=0) == 3  # the retry of the first append
        assert snapshot_of(store) == before

    def test_a_batch_that_repeats_a_prefix_appends_the_rest(self, store: EventStore) -> None:
        """Events already stored are skipped, the new ones appended (a log that has grown)."""
        store.append(N, opening())
        assert store.append(N, [*opening(), *later()]) == 5
        assert [s.event.id for s in store.read(N)] == ["round-1", "draft", "reply", "call", "statement"]

    def test_the_same_id_with_other_content_is_refused(self, store: EventStore) -> None:
        """An id stored with different content raises DuplicateEventId and writes nothing."""
        store.append(N, opening())
        before = snapshot_of(store)
        changed = ProposalPublished(id="draft", occurred="2022-01-12", actor="A", to=["B"], title="Another draft")
        with pytest.raises(DuplicateEventId, match=r"'draft' is already stored .* with other content"):
            store.append(N, [*later(), changed])
        assert snapshot_of(store) == before

    def test_a_refused_event_leaves_the_store_as_it_was(self, store: EventStore) -> None:
        """All or none: a batch whose last event is not permitted writes none of it."""
        store.append(N, opening())
        before = snapshot_of(store)
        bad = ReplyDelivered(id="bad", occurred="2022-02-05", actor="B", ref="nowhere")
        with pytest.raises(UnknownReference) as caught:
            store.append(N, [*later(), bad])
        assert caught.value.event is bad
        assert caught.value.negotiation == N
        assert snapshot_of(store) == before
        assert store.append(N, later()) == 5  # and the store goes on as if nothing happened

    def test_validation_is_strict_replay(self, store: EventStore) -> None:
        """What strict replay refuses, append refuses with the same error."""
        events = [TalksSuspended(id="s", occurred="2022-01-01", actor="A")]
        with pytest.raises(NotPermitted) as by_replay:
            replay(events, negotiation=N)
        with pytest.raises(NotPermitted) as by_store:
            store.append(N, events)
        assert by_store.value.message == by_replay.value.message

    def test_an_event_of_another_negotiation_is_refused(self, store: EventStore) -> None:
        """An event that names another negotiation cannot be appended to this one."""
        event = ConsultationHeld(id="c", occurred="2022-01-10", parties=["A", "B"], negotiation="elsewhere")
        with pytest.raises(EventRejected, match="negotiation='elsewhere'"):
            store.append(N, [event])
        assert store.read_all() == []

    def test_append_many_is_atomic_across_negotiations(self, store: EventStore) -> None:
        """One bad negotiation in an append_many writes nothing for the good ones."""
        bad = [ReplyDelivered(id="r", occurred="2022-01-01", actor="B", ref="nothing")]
        with pytest.raises(EventRejected):
            store.append_many({"good": opening(), "bad": bad})
        assert store.read_all() == []
        assert store.append_many({"good": opening(), "also": later()[1:]}) == {"good": 3, "also": 1}

    def test_a_bad_negotiation_name_is_refused(self, store: EventStore) -> None:
        """The negotiation must be a non-empty string."""
        with pytest.raises(ValueError, match="negotiation=''"):
            store.append("", opening())

    # -- loading -------------------------------------------------------------------------------

    def test_load_equals_replay_of_the_stored_events(self, store: EventStore) -> None:
        """The loaded state is the replayed state."""
        store.append(N, opening())
        store.append(N, later())
        state = store.load(N)
        assert state == replay([s.event for s in store.read(N)], negotiation=N)
        assert state.stage is Stage.TALKS
        assert state.version == 5

    def test_load_as_of_and_known_at(self, store: EventStore) -> None:
        """Time travel works on a store as on a log."""
        store.append(N, [*opening(), *later()])
        events = [s.event for s in store.read(N)]
        assert store.load(N, as_of="2022-01-15") == replay(events, negotiation=N, as_of="2022-01-15")
        assert store.load(N, as_of="2022-01-15").stage is Stage.PROPOSAL_OPEN
        assert store.load(N, known_at="2000-01-01").version == 0

    def test_load_of_an_unknown_negotiation(self, store: EventStore) -> None:
        """Loading a negotiation the store does not hold names those it holds."""
        store.append(N, opening())
        with pytest.raises(UnknownNegotiation, match=r"'nobody' is not in the store; it holds: 'talks'"):
            store.load("nobody")

    def test_a_loaded_state_does_not_change_with_later_appends(self, store: EventStore) -> None:
        """States are immutable: appending after a load leaves the loaded state as it was."""
        store.append(N, opening())
        state = store.load(N)
        store.append(N, later())
        assert state.version == 3
        assert len(state.events) == 3
        assert store.load(N).version == 5

    def test_snapshots_do_not_change_what_load_returns(self, tmp_path: Path) -> None:
        """With a snapshot every 2 events, the loaded state equals a full replay, retractions included."""
        store = self.make_store(tmp_path, snapshot_every=2)
        try:
            store.append(N, opening())
            store.append(N, later())
            retraction = EventRetracted(id="oops", occurred="2022-02-04", ref="statement", reason="misread")
            store.append(N, [retraction])
            store.append(N, [PositionStated(id="again", occurred="2022-02-05", actor="B", summary="No")])
            expected = replay([s.event for s in store.read(N)], negotiation=N)
            assert store.load(N) == expected
            assert store.snapshot(N) == 7
            assert store.load(N) == expected
            assert store.load(N).timeline == expected.timeline
        finally:
            store.close()

    def test_snapshot_of_an_unknown_negotiation(self, store: EventStore) -> None:
        """snapshot() names the negotiation it cannot find."""
        with pytest.raises(UnknownNegotiation):
            store.snapshot("nobody")

    # -- the read model ------------------------------------------------------------------------

    def test_negotiations_lists_stage_version_last_event_and_owed_moves(self, store: EventStore) -> None:
        """The read model follows every append."""
        store.append(N, opening())
        store.append("b-side", [ConsultationHeld(occurred="2021-05", parties=["X", "Y"])])
        store.append(N, later())
        summaries = store.negotiations()
        assert [s.id for s in summaries] == ["b-side", N]
        talks = summaries[1]
        state = store.load(N)
        assert (talks.stage, talks.version, talks.last_event, talks.owed) == (
            Stage.TALKS,
            5,
            "2022-02-03",
            len(state.awaiting),
        )
        assert talks.awaiting == state.awaiting
        assert talks.owed == len(talks.awaiting) > 0
        assert talks.to_dict()["awaiting"] == [a.to_dict() for a in state.awaiting]
        assert summaries[0].awaiting == store.load("b-side").awaiting
        assert talks.head == store.read(N)[-1].hash
        assert summaries[0].last_event == "2021-05"

    def test_the_last_event_date_follows_a_retraction(self, store: EventStore) -> None:
        """Retracting the latest event moves the read model's last event date back."""
        store.append(N, [*opening(), *later()])
        store.append(N, [EventRetracted(id="x", occurred="2022-02-03", ref="statement", reason="wrong")])
        assert store.negotiations()[0].last_event == "2022-02-03"  # the retraction itself is dated so
        store.append(N, [EventRetracted(id="y", occurred="2022-02", ref="call", reason="wrong")])
        assert store.negotiations()[0].last_event == "2022-02"

    # -- follow and subscribers ----------------------------------------------------------------

    def test_follow_catches_up_then_delivers_live(self, store: EventStore) -> None:
        """follow() yields the stored events, then those appended while it waits, in position order."""
        store.append(N, opening())
        seen: list[int] = []
        started = threading.Event()

        def append_later() -> None:
            started.wait(10)
            store.append(N, later())

        writer = threading.Thread(target=append_later)
        writer.start()
        try:
            for stored in store.follow(after_position=1, idle_timeout=2.0, poll_interval=0.01):
                seen.append(stored.position)
                if stored.position == 3:
                    started.set()
                if stored.position == 5:
                    break
        finally:
            started.set()
            writer.join(10)
        assert seen == [2, 3, 4, 5]

    def test_follow_stops_after_the_idle_timeout(self, store: EventStore) -> None:
        """With nothing new, follow() ends after idle_timeout."""
        store.append(N, opening())
        assert [s.position for s in store.follow(idle_timeout=0.05, poll_interval=0.01)] == [1, 2, 3]

    def test_a_subscriber_sees_each_event_once(self, store: EventStore) -> None:
        """subscribe() hands each event to the handler once and moves the checkpoint."""
        seen: list[str] = []
        store.append(N, opening())
        assert store.subscribe("ids", lambda s, _t: seen.append(s.event.id), batch_size=2) == 3
        assert store.checkpoint("ids") == 3
        assert store.subscribe("ids", lambda s, _t: seen.append(s.event.id)) == 0
        store.append(N, later())
        assert store.subscribe("ids", lambda s, _t: seen.append(s.event.id)) == 2
        assert seen == ["round-1", "draft", "reply", "call", "statement"]
        assert store.checkpoint("someone-else") == 0

    def test_append_stream_interleaves_more_negotiations_than_the_fold_cache_holds(self, store: EventStore) -> None:
        """append_stream takes (negotiation, event) pairs as they come, in chunks; negotiations
        whose folds were dropped are replayed inside the transaction; the result is what
        appending each negotiation's events gives."""
        names = [f"n{i}" for i in range(70)]  # more than the 64 folds a store keeps
        events = {name: [*opening(), *later()] for name in names}
        pairs = [(name, events[name][step]) for step in range(5) for name in names]
        versions = store.append_stream(iter(pairs), chunk=2)
        assert versions == dict.fromkeys(names, 5)
        assert store.verify().ok
        assert store.head()[0] == 350
        reference = replay([*opening(), *later()], negotiation="n0")
        for name in (names[0], names[-1]):
            state = store.load(name)
            assert (state.stage, state.awaiting) == (reference.stage, reference.awaiting)

    def test_append_stream_is_all_or_none(self, store: EventStore) -> None:
        """A refused event late in the stream leaves nothing of it behind."""
        bad = ReplyDelivered(id="ghost", occurred="2022-02-01", actor="US", ref="nothing")
        pairs = [*((N, e) for e in opening()), ("other", opening()[0]), (N, bad)]
        with pytest.raises(UnknownReference) as caught:
            store.append_stream(pairs, chunk=1)
        assert caught.value.event is bad
        assert store.negotiations() == []
        assert store.head() == (0, "")

    def test_read_takes_a_limit(self, store: EventStore) -> None:
        """read(after_version, limit) pages through a negotiation in log order."""
        store.append(N, [*opening(), *later()])
        assert [s.version for s in store.read(N, after_version=1, limit=2)] == [2, 3]
        assert [s.version for s in store.read(N, after_version=4, limit=10)] == [5]
        assert store.read(N, after_version=5, limit=10) == []
        assert [s.version for s in store.read(N, limit=0)] == []

    def test_the_store_head_moves_with_each_append_and_verifies_later(self, store: EventStore) -> None:
        """head() is (last position, running hash); a head kept from earlier still verifies after
        more appends, and one that was never the store's does not."""
        assert store.head() == (0, "")
        assert store.verify(head=(0, "")).ok
        store.append(N, opening())
        kept = store.head()
        assert kept[0] == 3
        assert len(kept[1]) == 64
        store.append(N, later())
        assert store.head()[0] == 5
        assert store.head() != kept
        assert store.verify(head=kept).ok
        assert store.verify(head=store.head()).ok
        wrong = store.verify(head=(2, "0" * 64))
        assert not wrong.ok
        assert (wrong.position, wrong.problem) == (
            2,
            "the events up to here do not give the head kept elsewhere (000000000000...)",
        )
        assert not store.verify(head=(9, kept[1])).ok

    def test_a_subscriber_handler_may_read_the_store_but_not_write_to_it(self, store: EventStore) -> None:
        """A handler reads the store (as projections do) inside the delivery's transaction; an
        append from it is refused, with the batch rolled back, the same on every backend."""
        store.append(N, opening())
        stages: list[str] = []
        store.subscribe("reader", lambda s, _t: stages.append(store.load(N, as_of=s.event.occurred).stage.value))
        assert stages == ["exploration", "proposal_open", "talks"]
        assert store.version(N) == 3

        def writer(stored: StoredEvent, _target: Any) -> None:
            store.append(N, later())

        with pytest.raises(StoreError, match="a subscriber's handler may read the store, not write to it"):
            store.subscribe("writer", writer)
        assert store.checkpoint("writer") == 0
        assert store.version(N) == 3

    def test_a_failing_subscriber_handler_rolls_back_its_batch(self, store: EventStore) -> None:
        """When the handler raises, its checkpoint stays; the batch comes again next time."""
        store.append(N, opening())
        calls: list[str] = []

        def flaky(stored: StoredEvent, _target: Any) -> None:
            calls.append(stored.event.id)
            if stored.event.id == "reply":
                raise RuntimeError("projection failed")

        with pytest.raises(RuntimeError, match="projection failed"):
            store.subscribe("flaky", flaky, batch_size=10)
        assert store.checkpoint("flaky") == 0
        assert store.subscribe("flaky", lambda s, _t: calls.append(s.event.id)) == 3
        assert calls == ["round-1", "draft", "reply", "round-1", "draft", "reply"]

    def test_a_live_subscriber_waits_for_new_events(self, store: EventStore) -> None:
        """With live=True the subscriber handles what is appended while it waits."""
        store.append(N, opening())
        seen: list[int] = []

        def handler(stored: StoredEvent, _target: Any) -> None:
            seen.append(stored.position)
            if stored.position == 3:
                threading.Thread(target=store.append, args=(N, later())).start()

        assert store.subscribe("live", handler, live=True, idle_timeout=0.5, poll_interval=0.01) == 5
        assert seen == [1, 2, 3, 4, 5]

    @pytest.mark.extended
    def test_threads_appending_to_one_negotiation_through_one_store_all_land(
        self, store: EventStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Threads sharing a store object append to the same negotiation at once: every append
        lands, in some order, and the chain verifies. Each reads the cached fold and the tip,
        and caches its own fold, under the store's lock: outside it, another thread's append
        could slip in between, and an older fold replace a newer one in the cache."""
        store.append(N, opening())
        threads, each = 4, 60
        errors: list[BaseException] = []
        barrier = threading.Barrier(threads)

        def append(t: int) -> None:
            barrier.wait()
            for i in range(each):
                try:
                    store.append(N, [ConsultationHeld(id=f"t{t}-{i}", occurred="2022-03-01", parties=["A", "B"])])
                except BaseException as e:  # reported below, with the others
                    errors.append(e)

        run_together([threading.Thread(target=append, args=(t,)) for t in range(threads)])
        assert errors == []
        assert store.version(N) == len(opening()) + threads * each
        assert store.verify().ok
        assert store.load(N).version == len(opening()) + threads * each

    def test_a_snapshot_taken_while_another_thread_appends_leaves_the_cache_current(
        self, store: EventStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """snapshot() updates the writer's cached fold under the store's lock: outside it, an
        append by another thread could land in between and the snapshot put back an older
        fold, which the next append would trust."""
        store.append(N, opening())
        errors: list[BaseException] = []

        done = threading.Event()

        def snapshots() -> None:
            while not done.is_set():
                try:
                    store.snapshot(N)
                except BaseException as e:  # reported below
                    errors.append(e)
                time.sleep(0.002)  # the other thread's next append comes first

        def appends() -> None:
            try:
                for i in range(40):
                    store.append(N, [ConsultationHeld(id=f"s{i}", occurred="2022-03-01", parties=["A", "B"])])
                    time.sleep(0.0005)
            except BaseException as e:  # reported below
                errors.append(e)
            finally:
                done.set()

        run_together([threading.Thread(target=snapshots), threading.Thread(target=appends)])
        assert errors == []
        assert store.version(N) == len(opening()) + 40
        assert store.verify().ok

    # -- verification --------------------------------------------------------------------------

    def test_verify_passes_on_an_untouched_store(self, store: EventStore) -> None:
        """verify() recomputes the chains of a store nobody tampered with and finds them whole."""
        assert store.verify().ok
        store.append(N, opening())
        store.append("other", later()[1:])
        result = store.verify()
        assert result.ok
        assert bool(result)
        assert result.events == 4
        assert str(result) == "4 events verified: every hash chain matches"

    def test_verify_reports_its_progress_phase_by_phase(self, store: EventStore) -> None:
        """progress hears of the rows checked, the events replayed and the snapshots checked, in
        that order, each phase counting up to its total."""
        store.append(N, opening())
        store.append("other", later()[1:])
        store.snapshot(N)
        calls: list[tuple[str, int, int]] = []
        assert store.verify(progress=lambda phase, done, total: calls.append((phase, done, total))).ok
        assert calls == [
            ("rows", 4, 4),  # every thousand rows, and at the end
            ("read model", 0, 4),
            ("read model", 1, 4),  # "other" (one event), then "talks" (three)
            ("read model", 4, 4),
            ("snapshots", 0, 2),
            ("snapshots", 1, 2),  # the one snapshot
            ("snapshots", 2, 2),  # and the negotiation without one
        ]
        store.append(
            "long", [ConsultationHeld(id=f"c{i}", occurred="2022-03-01", parties=["A", "B"]) for i in range(2100)]
        )
        calls.clear()
        assert store.verify(progress=lambda phase, done, total: calls.append((phase, done, total))).ok
        assert [c for c in calls if c[0] == "rows"] == [
            ("rows", 1000, 2104),
            ("rows", 2000, 2104),
            ("rows", 2104, 2104),
        ]

    def test_closed_store_refuses_work(self, tmp_path: Path) -> None:
        """After close(), the store raises StoreError instead of working."""
        from negotiation import StoreError

        store = self.make_store(tmp_path)
        store.close()
        store.close()  # idempotent
        with pytest.raises(StoreError, match="closed"):
            store.append(N, opening())


class TestMemoryStore(StoreContract):
    def make_store(self, tmp_path: Path, **options: Any) -> EventStore:
        return MemoryStore(**options)

    def test_a_subscriber_projection_is_its_own_dict(self) -> None:
        """The memory store hands each subscriber a dict that commits with its checkpoint."""
        store = MemoryStore()
        store.append(N, opening())

        def count(stored: StoredEvent, target: dict[str, Any]) -> None:
            target[stored.event.TYPE] = target.get(stored.event.TYPE, 0) + 1

        store.subscribe("counts", count)
        assert store.projection("counts") == {"ConsultationHeld": 1, "ProposalPublished": 1, "ReplyDelivered": 1}


class TestSQLiteStoreInMemory(StoreContract):
    def make_store(self, tmp_path: Path, **options: Any) -> EventStore:
        return SQLiteStore(":memory:", **options)


class TestSQLiteStoreOnDisk(StoreContract):
    def make_store(self, tmp_path: Path, **options: Any) -> EventStore:
        return SQLiteStore(tmp_path / "store.db", **options)

    def test_a_subscriber_writes_its_projection_in_the_same_transaction(self, tmp_path: Path) -> None:
        """The handler writes through sqlite-utils; its rows and the checkpoint commit together."""
        with SQLiteStore(tmp_path / "p.db") as store:
            store.append(N, opening())

            def project(stored: StoredEvent, db: Any) -> None:
                db["types"].insert({"position": stored.position, "type": stored.event.TYPE}, pk="position")
                if stored.position == 3:
                    raise RuntimeError("crash in the middle")

            with pytest.raises(RuntimeError):
                store.subscribe("types", project, batch_size=2)
            # the first batch (1, 2) committed with its checkpoint; the second rolled back
            assert store.checkpoint("types") == 2
            assert [r["position"] for r in store.db["types"].rows] == [1, 2]
            assert store.subscribe("types", lambda s, db: db["types"].insert({"position": s.position})) == 1
            assert [r["position"] for r in store.db["types"].rows] == [1, 2, 3]

    def test_events_survive_reopening(self, tmp_path: Path) -> None:
        """What one store object appended, another opened on the same file reads."""
        path = tmp_path / "again.db"
        with SQLiteStore(path) as store:
            store.append(N, opening())
        with SQLiteStore(path) as store:
            assert store.version(N) == 3
            assert store.load(N).stage is Stage.TALKS
            assert store.verify().ok
