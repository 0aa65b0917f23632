"""Next steps of a state loaded through a snapshot: the same as replay's, without reading back
the events the snapshot covers (but when a replay must decide a retraction)."""

from __future__ import annotations

import base64
import runpy
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from negotiation._fold import Covered, Fold
from negotiation._lazy import LazyDict

from negotiation import Event, NegotiationState, SQLiteStore, StoreError, read_log, replay
from negotiation import snapshot as snapshots
from negotiation import strategies as nst
from negotiation.store import sqlite as sqlite_store
from tests.conftest import EVENTS, ROOT
from tests.test_retractable import _talks_heavy_logs
from tests.test_store_contract import N, later, opening
from tests.test_store_snapshot import Source


def synthetic(count: int, negotiation: str = N) -> list[Event]:
    module = runpy.run_path(str(ROOT / "scripts" / "synthetic.py"))
    return list(module["synthetic_events"](count, negotiation))


def restored(events: list[Event], cut: int, negotiation: str = N) -> tuple[Fold, Source]:
    """The fold of ``events`` from a snapshot taken after ``cut`` of them, then the rest folded in."""
    source = Source(events[:cut])
    fold = snapshots.restore(snapshots.take(replay(events[:cut], negotiation=negotiation)._fold), source)
    for event in events[cut:]:
        fold.apply(event)
    return fold, source


def unread(fold: Fold) -> bool:
    """Whether the fold is restored and has not read the events its snapshot covers."""
    return isinstance(fold.events, Covered) and fold.events.unread() is not None


def assert_same_next_steps(state: NegotiationState, expected: NegotiationState) -> None:
    assert state._fold.retractable() == expected._fold.retractable()
    assert state.permitted == expected.permitted
    assert [p.to_dict() for p in state.permitted] == [p.to_dict() for p in expected.permitted]


# -- the same answer as replay ----------------------------------------------------------------


@settings(max_examples=80)
@given(st.one_of(nst.valid_logs(max_events=30), _talks_heavy_logs(max_events=30)), st.data())
def test_next_steps_of_a_state_loaded_from_a_snapshot_equal_replay(log: list[Event], data: st.DataObject) -> None:
    """Snapshot after any prefix, the rest appended, the store reopened: the loaded state (restored,
    plus the tail) has the same retractable events and next steps as a replay of the log."""
    cut = data.draw(st.integers(1, len(log)), label="cut") if log else 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.db"
        with SQLiteStore(path, snapshot_every=0) as store:
            if cut:
                store.append(nst.SIMULATED, log[:cut])
                store.snapshot(nst.SIMULATED)
            if log[cut:]:
                store.append(nst.SIMULATED, log[cut:])
        if not log:
            return
        with SQLiteStore(path, snapshot_every=0) as store:
            state = store.load(nst.SIMULATED)
            retracts = any(e.TYPE == "EventRetracted" for e in log[cut:])
            assert unread(state._fold) or retracts  # a retraction in the tail rebuilds the fold
            expected = replay([e.event for e in store.read(nst.SIMULATED)], negotiation=nst.SIMULATED)
            assert_same_next_steps(state, expected)
            assert state == expected  # the stored events (stamped with their recording time)


@settings(max_examples=80)
@given(st.one_of(nst.valid_logs(max_events=30), _talks_heavy_logs(max_events=30)), st.data())
def test_a_snapshot_of_a_restored_fold_keeps_the_digest(log: list[Event], data: st.DataObject) -> None:
    """The digest a restored fold combines from its snapshot and its tail is the one of a replay:
    so is the snapshot taken of it, and the next steps of a state restored from that one."""
    cut = data.draw(st.integers(0, len(log)), label="cut")
    first, _ = restored(log, cut, nst.SIMULATED)
    expected = replay(log, negotiation=nst.SIMULATED)
    ours, theirs = first.digest(), expected._fold.digest()
    assert (ours.ids, ours.kinds, ours.first_answer, ours.exposed) == (
        theirs.ids,
        theirs.kinds,
        theirs.first_answer,
        theirs.exposed,
    )
    data_taken = snapshots.take(first)
    assert data_taken == snapshots.take(expected._fold)
    again = snapshots.restore(data_taken, Source(log))
    assert_same_next_steps(NegotiationState(again), expected)


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.jsonl")), ids=lambda p: p.name)
def test_the_real_logs_restored_at_every_cut_give_the_same_next_steps(path: Path) -> None:
    events = read_log(path).events()
    expected = replay(events)
    negotiation = expected.negotiation
    for cut in range(len(events) + 1):
        fold, _ = restored(events, cut, negotiation or N)
        assert_same_next_steps(NegotiationState(fold), expected)


# -- without reading the events back ------------------------------------------------------------


def test_next_steps_after_a_snapshot_read_no_covered_event() -> None:
    """The benchmark's negotiation, restored with a tail: its next steps (retractions and lapses
    included) come from the snapshot, the tail and single rows, never from the whole log."""
    events = synthetic(600)
    fold, source = restored(events, 550)
    state = NegotiationState(fold)
    assert "TalksLapsed" in fold.permitted_type_names()  # its refs are the deadlines' ids
    assert "EventRetracted" in fold.permitted_type_names()
    assert_same_next_steps(state, replay(events, negotiation=N))
    assert "all" not in source.reads
    assert unread(fold)
    deadlines = fold.deadlines
    assert isinstance(deadlines, LazyDict)
    assert deadlines._lazy  # no deadline was built (each needs its event)


@pytest.mark.parametrize("name", ["jcpoa", "security-guarantees-2021"])
def test_next_steps_of_the_real_logs_after_a_snapshot_read_no_covered_event(name: str) -> None:
    """Their first event, made in idle, is decided without a replay: nothing is read back."""
    events = read_log(EVENTS / f"{name}.jsonl").events()
    for cut in range(1, len(events) + 1):
        fold, source = restored(events, cut, name)
        assert_same_next_steps(NegotiationState(fold), replay(events))
        assert "all" not in source.reads, cut
        assert unread(fold)


def test_a_retraction_a_replay_decides_reads_the_events_back() -> None:
    """The INF log's agreement in principle, followed by the agreed text, is left to a replay:
    that one reads the events back (once), and agrees with replay."""
    events = read_log(EVENTS / "inf-treaty.jsonl").events()
    fold, source = restored(events, len(events) - 2, "inf-treaty")
    assert None in [verdict for _, verdict in fold._verdicts(shortcuts=True)]
    assert_same_next_steps(NegotiationState(fold), replay(events))
    assert source.reads.count("all") == 1


def test_loading_a_long_negotiation_and_its_next_steps_reads_no_event_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the store: a snapshot, a tail, the store reopened; stage, owed moves and next steps
    read the snapshot, the tail and a few single events, never the whole log."""
    events = synthetic(1200)
    path = tmp_path / "long.db"
    with SQLiteStore(path, snapshot_every=0) as store:
        store.append(N, events[:1000])
        store.snapshot(N)
        store.append(N, events[1000:])
    reads: list[int] = []
    whole = sqlite_store._Source.events

    def counted(self: sqlite_store._Source) -> list[Event]:
        reads.append(1)
        return whole(self)

    monkeypatch.setattr(sqlite_store._Source, "events", counted)
    expected = replay(events, negotiation=N)
    with SQLiteStore(path, readonly=True) as store:
        state = store.load(N)
        assert (state.stage, state.awaiting, state.permitted) == (expected.stage, expected.awaiting, expected.permitted)
        assert reads == []
        assert unread(state._fold)


# -- snapshots of the format before ---------------------------------------------------------------

#: ``snapshot.take(replay(opening(), negotiation=N)._fold)`` as format 4 wrote it (the format before
#: the digest; fingerprint 1240e40903274f56).
OLD_SNAPSHOT = """
bmVnb3RpYXRpb24tc25hcHNob3QKeyJmb3JtYXQiOjQsImZpbmdlcnByaW50IjoiMTI0MGU0MDkwMzI3NGY1NiIsIm5lZ290aWF0
aW9uIjoidGFsa3MiLCJzdGFnZSI6InRhbGtzIiwicGF1c2VkX2Zyb20iOm51bGwsImFueV9hbnN3ZXJlZCI6dHJ1ZSwib3Blbl9w
cm9wb3NhbHMiOjAsImNvdW50cyI6eyJpZHMiOjMsInJlZl9jb3VudCI6MSwiZG9jcyI6MiwiY29udGFjdHMiOjAsImRlYWRsaW5l
cyI6MCwiZGVhZGxpbmVzX2J5X3JlZiI6MCwicG9zaXRpb25zIjoyLCJvd2VkIjoxfSwic2VjdGlvbnMiOnsiaWRzIjoyNywiaWRz
LmluZGV4IjoxMiwic3RhZ2VfYmVmb3JlIjo1LCJyZWZfY291bnQiOjEzLCJyZWZfY291bnQuc3RhcnRzIjo4LCJyZWZfY291bnQu
aW5kZXgiOjgsImRvY3MiOjE0MiwiZG9jcy5zdGFydHMiOjEyLCJkb2NzLmluZGV4IjoxNiwiY29udGFjdHMiOjIsImNvbnRhY3Rz
LnN0YXJ0cyI6NCwiY29udGFjdHMuaW5kZXgiOjAsImRlYWRsaW5lcyI6MiwiZGVhZGxpbmVzLnN0YXJ0cyI6NCwiZGVhZGxpbmVz
LmluZGV4IjowLCJkZWFkbGluZXNfYnlfcmVmIjoyLCJkZWFkbGluZXNfYnlfcmVmLnN0YXJ0cyI6NCwiZGVhZGxpbmVzX2J5X3Jl
Zi5pbmRleCI6MCwicG9zaXRpb25zIjo1NSwicG9zaXRpb25zLnN0YXJ0cyI6MTIsInBvc2l0aW9ucy5pbmRleCI6MTYsIm93ZWQi
OjIwLCJvd2VkLnN0YXJ0cyI6OCwib3dlZC5pbmRleCI6OH0sInJldHJhY3Rpb25zIjpbXSwicmV0cmFjdGVkIjpbXSwiYWdyZWVt
ZW50cyI6W10sInRleHQiOm51bGwsInBhcnRpZXMiOltbIkEiLDBdLFsiQiIsMF1dfQpbInJvdW5kLTEiLCJkcmFmdCIsInJlcGx5
Il2UlnxGVXXYy+DGqP0iYWJjIltbImRyYWZ0IiwxXV0BAAAADQAAAAAAAACUlnxGW1siZHJhZnQiLDEsInByb3Bvc2FsIiwiQSIs
WyJCIl0sIkRyYWZ0Iix0cnVlLG51bGwsWyJyZXBseSJdLFsiQiJdLG51bGwsbnVsbF0sWyJyZXBseSIsMiwicmVwbHkiLCJCIixb
IkEiXSxudWxsLHRydWUsImRyYWZ0IixbXSxbXSxudWxsLG51bGxdXQEAAABOAAAAjgAAAAAAAACUlnxGAQAAAODGqP1bXQEAAABb
XQEAAABbXQEAAABbWyJCIiwieiIsInJlamVjdCIsInJlcGx5Il0sWyJCIiwiYSIsImFjY2VwdCIsInJlcGx5Il1dAQAAABwAAAA3
AAAAAQAAAOzfsHsAAAAAABbV8VtbInJlcGx5IiwiQSIsdHJ1ZV1dAQAAABQAAAAAAAAApgQhoQ==
"""
OLD_FINGERPRINT = "1240e40903274f56"


def test_a_snapshot_of_the_format_before_is_ignored_and_replaced(tmp_path: Path) -> None:
    """A store holding a format-4 snapshot replays instead (its fingerprint is not this one's),
    and the next snapshot replaces it."""
    old = base64.b64decode(OLD_SNAPSHOT)
    assert snapshots.snapshot_fingerprint(old) == OLD_FINGERPRINT != snapshots.FINGERPRINT
    with pytest.raises(StoreError, match="format 4 is not"):
        snapshots.restore(old, Source(opening()))
    events = [*opening(), *later()]
    path = tmp_path / "old.db"
    with SQLiteStore(path, snapshot_every=0) as store:
        store.append(N, events)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO snapshots (negotiation, version, fingerprint, taken, data) VALUES (?, ?, ?, ?, ?)",
            (N, len(opening()), OLD_FINGERPRINT, "2024-01-01T00:00:00+00:00", old),
        )
    conn.close()
    with SQLiteStore(path, snapshot_every=0) as store:
        expected = replay([e.event for e in store.read(N)], negotiation=N)
        state = store.load(N)
        assert type(state._fold.events) is list  # replayed: the old snapshot was not used
        assert state == expected
        assert_same_next_steps(state, expected)
        store.snapshot(N)
    with SQLiteStore(path, snapshot_every=0) as store:
        state = store.load(N)
        assert unread(state._fold)  # restored from the new snapshot
        assert state == expected
        assert_same_next_steps(state, expected)
