"""Snapshots: versioned JSON of a fold's records, restored to what replay gives, checked by verify."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from negotiation import Event, MemoryStore, SQLiteStore, StoreError, read_log, replay
from negotiation import snapshot as snapshots
from negotiation import strategies as nst
from negotiation.fold import Fold
from negotiation.state import NegotiationState
from tests.conftest import EVENTS, ROOT

LOGS = sorted(EVENTS.glob("*.jsonl"))


def _fold(events: Iterable[Event], negotiation: str = nst.SIMULATED) -> Fold:
    fold = Fold(negotiation)
    for event in events:
        fold.apply(event)
    return fold


def _unread() -> list[Event]:
    raise AssertionError("the events a snapshot covers were read back")


def _real(path: Path) -> tuple[str, list[Event]]:
    log = read_log(path)
    name = log.select()
    return name, [item.event for item in log.negotiations[name]]


# -- the format -------------------------------------------------------------------------------


def test_a_snapshot_is_a_header_and_a_body_of_json_with_its_checksum() -> None:
    name, events = _real(LOGS[0])
    data = snapshots.take(_fold(events, name))
    head, body = data.split(b"\n", 1)
    header = json.loads(head)
    assert header == {
        "format": snapshots.FORMAT,
        "fingerprint": snapshots.FINGERPRINT,
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    assert json.loads(body)["stage"] == replay(events).stage.value
    assert snapshots.check(data) == snapshots.FINGERPRINT


@given(st.binary(max_size=200))
def test_bytes_that_are_not_a_snapshot_raise_store_error(data: bytes) -> None:
    with pytest.raises(StoreError):
        snapshots.check(data)


def test_the_fingerprint_follows_the_rules_and_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    today = snapshots.fingerprint()
    monkeypatch.setattr(snapshots, "RULES_VERSION", snapshots.RULES_VERSION + 1)
    assert snapshots.fingerprint() != today
    monkeypatch.undo()
    monkeypatch.setattr(snapshots, "FORMAT", snapshots.FORMAT + 1)
    assert snapshots.fingerprint() != today


def test_the_fingerprint_is_the_same_in_another_process() -> None:
    code = "from negotiation import snapshot; print(snapshot.FINGERPRINT)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == snapshots.FINGERPRINT


# -- restoring --------------------------------------------------------------------------------


@pytest.mark.extended
@given(nst.valid_logs(max_events=25))
def test_a_restored_fold_gives_what_replay_gives(log: list[Event]) -> None:
    """The stage, owed moves and records come from the snapshot alone; the events, the next
    steps and anything else that needs the history read it back, and then all is equal."""
    expected = replay(log, negotiation=nst.SIMULATED)
    data = snapshots.take(_fold(log))
    restored = snapshots.restore(data, _unread, nst.SIMULATED)
    assert restored is not None
    quick = NegotiationState(restored)
    assert quick.stage == expected.stage
    assert quick.awaiting == expected.awaiting
    assert quick.version == expected.version
    assert (quick.documents, quick.contacts, quick.agreements) == (
        expected.documents,
        expected.contacts,
        expected.agreements,
    )
    assert (quick.deadlines, quick.positions, quick.parties) == (
        expected.deadlines,
        expected.positions,
        expected.parties,
    )
    full = snapshots.restore(data, lambda: log, nst.SIMULATED)
    assert full is not None
    assert NegotiationState(full) == expected
    assert NegotiationState(full).permitted == expected.permitted


def test_a_restored_fold_is_completed_before_it_is_snapshotted_again() -> None:
    name, events = _real(LOGS[0])
    data = snapshots.take(_fold(events, name))
    restored = snapshots.restore(data, lambda: events, name)
    assert restored is not None
    with pytest.raises(ValueError, match="completed"):
        snapshots.take(restored)
    restored.complete()
    assert snapshots.take(restored) == data


def test_a_snapshot_of_other_rules_is_not_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    name, events = _real(LOGS[0])
    data = snapshots.take(_fold(events, name))
    monkeypatch.setattr(snapshots, "FINGERPRINT", "another-machine")
    assert snapshots.restore(data, _unread, name) is None


@pytest.mark.extended
@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_the_real_logs_loaded_from_a_snapshot_at_every_cut_equal_replay(path: Path, tmp_path: Path) -> None:
    """A snapshot at every version of the log, then the rest as its tail: the state loaded,
    its owed moves and its next steps are those of the replay."""
    name, logged = _real(path)
    with MemoryStore() as reference:
        reference.append(name, logged)
        events = [stored.event for stored in reference.read(name)]  # stamped as a store stamps them
    expected = replay(events, negotiation=name)
    for cut in range(1, len(events)):
        with MemoryStore(snapshot_every=0) as store:
            store.append(name, events[:cut])
            store.snapshot(name)
            store.append(name, events[cut:])
            store.load(name)  # takes the fold the append left: the next load restores
            state = store.load(name)
            assert (state.stage, state.awaiting) == (expected.stage, expected.awaiting)
            assert state.permitted == expected.permitted
            assert state == expected


@pytest.mark.extended
@given(st.integers(min_value=1, max_value=5), nst.valid_logs(max_events=20))
def test_the_read_model_counts_the_owed_moves(every: int, log: list[Event]) -> None:
    with SQLiteStore(":memory:", snapshot_every=every) as store:
        for event in log:
            store.append(nst.SIMULATED, [event])
            (summary,) = store.negotiations()
            state = replay(log[: summary.version], negotiation=nst.SIMULATED)
            assert summary.owed == len(state.awaiting)
            assert summary.stage == state.stage


def test_threads_reading_one_restored_state_see_the_same_events(tmp_path: Path) -> None:
    name, events = _real(LOGS[0])
    with SQLiteStore(tmp_path / "s.db", snapshot_every=5) as store:
        store.append(name, events)
        events = [stored.event for stored in store.read(name)]
        store.load(name)
        state = store.load(name)
        seen: list[tuple[Event, ...]] = []
        threads = [threading.Thread(target=lambda: seen.append(state.events)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert seen == [tuple(events)] * 4


# -- checking -----------------------------------------------------------------------------------


def _stored_snapshot(path: Path) -> bytes:
    with SQLiteStore(path) as store:
        return bytes(store.db.execute("SELECT data FROM snapshots").fetchone()[0])


def _replace_snapshot(path: Path, data: bytes) -> None:
    with SQLiteStore(path) as store:
        store.db.execute("UPDATE snapshots SET data = ?", (data,))


@pytest.fixture
def snapshotted(tmp_path: Path) -> tuple[Path, str, list[Event]]:
    name, events = _real(LOGS[0])
    path = tmp_path / "s.db"
    with SQLiteStore(path, snapshot_every=len(events) - 2) as store:
        store.append(name, events)
    return path, name, events


def test_verify_checks_the_snapshots(snapshotted: tuple[Path, str, list[Event]]) -> None:
    path, _, _ = snapshotted
    with SQLiteStore(path) as store:
        assert store.verify().ok


def test_a_damaged_snapshot_is_not_used_and_verify_reports_it(snapshotted: tuple[Path, str, list[Event]]) -> None:
    path, name, _ = snapshotted
    data = _stored_snapshot(path)
    _replace_snapshot(path, data.replace(b'"stage":"', b'"stage":"x', 1))
    with SQLiteStore(path) as store:
        assert store.load(name) == replay([s.event for s in store.read(name)], negotiation=name)
        found = store.verify()
    assert not found.ok
    assert "checksum" in str(found.problem)


def test_a_forged_snapshot_with_its_checksum_recomputed_is_reported(
    snapshotted: tuple[Path, str, list[Event]],
) -> None:
    """Someone edits the stage in a snapshot and writes a matching checksum: verify replays the
    events it covers and finds the records differ."""
    path, _, _ = snapshotted
    head, body = _stored_snapshot(path).split(b"\n", 1)
    state = json.loads(body)
    state["stage"] = "in_force" if state["stage"] != "in_force" else "talks"
    forged = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
    header = {**json.loads(head), "sha256": hashlib.sha256(forged).hexdigest()}
    _replace_snapshot(path, json.dumps(header, separators=(",", ":")).encode() + b"\n" + forged)
    with SQLiteStore(path) as store:
        found = store.verify()
    assert not found.ok
    assert "differ" in str(found.problem)
