"""Snapshots of a fold: restored plus the tail, they equal a full replay; they are only trusted by the same rules."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from negotiation._lazy import MISSING, LazyDict, LazyList, LazySet, keys_of

from negotiation import Event, ReplyDelivered, Stage, StoreError, replay
from negotiation import snapshot as snapshots
from negotiation import strategies as nst
from negotiation.fold import Fold
from negotiation.state import Awaiting, NegotiationState, owed_count
from tests.conftest import ROOT
from tests.test_store_contract import N, later, opening

TABLES = ("ref_count", "docs", "contacts", "deadlines", "deadlines_by_ref", "positions", "owed")


class Source:
    """An EventSource over a list, counting what is read."""

    def __init__(self, events: list[Event]) -> None:
        self._events = events
        self.reads: list[str] = []
        self.asked: list[str] = []  # the ids has() was asked about

    def events(self) -> list[Event]:
        self.reads.append("all")
        return list(self._events)

    def event(self, event_id: str) -> Event | None:
        self.reads.append(event_id)
        return next((e for e in self._events if e.id == event_id), None)

    def has(self, event_id: str) -> bool:
        self.asked.append(event_id)
        return any(e.id == event_id for e in self._events)


def rebuilt_awaiting(fold: Fold) -> tuple[Awaiting, ...]:
    """The owed moves rebuilt from the fold's documents, contacts and text, as awaiting once did."""
    owed: list[tuple[int, Awaiting]] = []
    if fold.stage in (Stage.PROPOSAL_OPEN, Stage.TALKS, Stage.FRAMEWORK_AGREED):
        for doc in fold.docs.values():
            if doc.live:
                owed += [
                    (doc.index, Awaiting(party=p, types=("ReplyDelivered", "ProposalPublished"), ref=doc.id))
                    for p in doc.addressees
                    if p not in doc.answered_by
                ]
    for contact in fold.contacts.values():
        if contact.open:
            owed += [
                (contact.index, Awaiting(party=p, types=("ContactAccepted", "ContactDeclined"), ref=contact.id))
                for p in contact.to
                if p not in contact.accepted_by
            ]
    owed.sort(key=lambda pair: pair[0])
    out = [a for _, a in owed]
    text = fold.text
    if text is not None and fold.stage in (Stage.TEXT_AGREED, Stage.SIGNED):
        out += [
            Awaiting(party=p, types=("AgreementSigned",), ref=text.id) for p in text.remaining if p not in text.signed
        ]
    if text is not None and fold.stage in (Stage.SIGNED, Stage.RATIFYING):
        out += [
            Awaiting(party=p, types=("AgreementRatified",), ref=text.id)
            for p in text.remaining
            if p in text.signed and p not in text.ratified
        ]
    return tuple(out)


def test_the_snapshot_carries_every_attribute_of_the_fold() -> None:
    """A new attribute of Fold must be handled by the snapshot module (and changes the fingerprint)."""
    assert set(vars(Fold())) == snapshots.FOLD_ATTRIBUTES


def test_the_fingerprint_follows_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another rules version or another stage machine gives another fingerprint."""
    assert snapshots.fingerprint() == snapshots.FINGERPRINT
    monkeypatch.setattr(snapshots, "RULES_VERSION", snapshots.RULES_VERSION + 1)
    assert snapshots.fingerprint() != snapshots.FINGERPRINT
    monkeypatch.undo()
    monkeypatch.setattr(snapshots, "TRANSITIONS", snapshots.TRANSITIONS[:-1])
    assert snapshots.fingerprint() != snapshots.FINGERPRINT


def test_the_fingerprint_follows_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots of another layout are ignored: the format is part of the fingerprint."""
    monkeypatch.setattr(snapshots, "FORMAT", snapshots.FORMAT - 1)
    assert snapshots.fingerprint() != snapshots.FINGERPRINT


def test_the_fingerprint_is_the_same_in_another_process() -> None:
    """No memory address or hash seed leaks into the fingerprint."""
    code = "from negotiation.snapshot import FINGERPRINT; print(FINGERPRINT)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == snapshots.FINGERPRINT


def test_restore_reads_no_event_for_the_stage_and_the_owed_moves() -> None:
    """A restored state answers stage, version and awaiting from the snapshot alone."""
    events = [*opening(), *later()]
    expected = replay(events, negotiation=N)
    source = Source(events)
    state = NegotiationState(snapshots.restore(snapshots.take(expected._fold), source))
    assert (state.stage, state.version, state.awaiting) == (expected.stage, expected.version, expected.awaiting)
    assert source.reads == []
    assert state.timeline == expected.timeline  # the timeline needs the events: read once, now
    assert source.reads == ["all"]


def test_folding_after_restore_reads_only_the_events_referenced() -> None:
    """Appending an answer to one document reads that document, not the whole log."""
    events = opening()
    source = Source(events)
    fold = snapshots.restore(snapshots.take(replay(events, negotiation=N)._fold), source)
    fold.apply(ReplyDelivered(id="answer", occurred="2022-01-25", actor="A", ref="reply"))
    assert source.reads == ["reply"]


def test_folding_after_restore_decodes_no_whole_table() -> None:
    """The tail's lookups read single rows: no table, nor the ids, is decoded whole, and a new id is not asked of the store."""
    events = [*opening(), *later()]
    source = Source(events)
    fold = snapshots.restore(snapshots.take(replay(events, negotiation=N)._fold), source)
    fold.apply(ReplyDelivered(id="answer", occurred="2022-02-05", actor="A", ref="reply"))
    for name in TABLES:
        table = getattr(fold, name)
        assert isinstance(table, LazyDict), name
        assert table._lazy, name
        assert table._raw is None, name
    assert isinstance(fold.events, LazyList)
    assert fold.events._load is not None
    assert isinstance(fold.all_ids, LazySet)
    assert fold.all_ids._load is not None
    assert source.asked == []  # "answer" is not among the snapshot's id hashes
    assert fold.docs["reply"].answered_by == {"A": None}  # the snapshot's record, changed in place
    assert ("reply", "A") not in fold.owed
    expected = replay([*events, fold.events[-1]], negotiation=N)
    assert NegotiationState(fold) == expected


@given(nst.valid_logs(max_events=25), st.data())
def test_snapshot_plus_tail_equals_replay(log: list[Event], data: st.DataObject) -> None:
    """Restore a snapshot taken after any prefix, fold the rest: the same state, record for record."""
    cut = data.draw(st.integers(0, len(log)), label="cut")
    prefix, tail = log[:cut], log[cut:]
    source = Source(prefix)
    fold = snapshots.restore(snapshots.take(replay(prefix, negotiation=nst.SIMULATED)._fold), source)
    for event in tail:
        fold.apply(event)
    expected = replay(log, negotiation=nst.SIMULATED)
    assert snapshots.take(fold) == snapshots.take(expected._fold)
    assert NegotiationState(fold) == expected


@given(nst.valid_logs(max_events=25), st.data())
def test_the_owed_moves_kept_by_the_fold_equal_those_rebuilt(log: list[Event], data: st.DataObject) -> None:
    """After every event (retractions, which rebuild the fold, too), on a replayed fold and on
    one restored from a snapshot, the owed index gives the moves rebuilt from the records."""
    fold = Fold(nst.SIMULATED)
    for event in log:
        fold.apply(event)
        assert NegotiationState(fold).awaiting == rebuilt_awaiting(fold)
        assert owed_count(fold) == len(rebuilt_awaiting(fold))
    cut = data.draw(st.integers(0, len(log)), label="cut")
    taken = snapshots.take(replay(log[:cut], negotiation=nst.SIMULATED)._fold)
    for end in range(cut, len(log) + 1):
        restored = snapshots.restore(taken, Source(log[:cut]))
        for event in log[cut:end]:
            restored.apply(event)
        expected = replay(log[:end], negotiation=nst.SIMULATED)._fold
        assert list(restored.owed.items()) == list(expected.owed.items())
        assert NegotiationState(restored).awaiting == rebuilt_awaiting(restored)
        assert owed_count(restored) == len(rebuilt_awaiting(restored))


def answers_and_closings() -> list[Event]:
    """Documents and contacts, then a withdrawal, an acceptance, a decline and a held contact."""
    from negotiation import (
        ConsultationHeld,
        ContactAccepted,
        ContactDeclined,
        ContactHeld,
        ContactProposed,
        ProposalPublished,
        ProposalWithdrawn,
    )

    return [
        ConsultationHeld(id="c", occurred="2022-01-01", parties=["A", "B", "C"]),
        ProposalPublished(id="p1", occurred="2022-01-02", actor="A", to=["B", "C"], title="one"),
        ProposalPublished(id="p2", occurred="2022-01-03", actor="A", to=["B"], title="two"),
        ContactProposed(id="k1", occurred="2022-01-04", actor="A", to=["B", "C"], level="leader"),
        ContactProposed(id="k2", occurred="2022-01-04", actor="B", to=["A"], level="leader"),
        ContactProposed(id="k3", occurred="2022-01-04", actor="C", to=["A"], level="leader"),
        ReplyDelivered(id="r", occurred="2022-01-05", actor="C", ref="p1"),
        ProposalWithdrawn(id="w", occurred="2022-01-05", actor="A", ref="p1"),
        ContactAccepted(id="acc", occurred="2022-01-05", actor="B", ref="k1"),
        ContactDeclined(id="dec", occurred="2022-01-05", actor="A", ref="k2"),
        ContactHeld(id="held", occurred="2022-01-06", parties=["A", "C"], level="leader", mode="phone", ref="k3"),
    ]


@pytest.mark.parametrize("cut", range(12))
def test_the_owed_moves_follow_withdrawals_acceptances_declines_and_holds(cut: int) -> None:
    """Restored at any point of the log and folded to its end, the owed moves are those left open."""
    events = answers_and_closings()
    fold = snapshots.restore(snapshots.take(replay(events[:cut], negotiation=N)._fold), Source(events[:cut]))
    for event in events[cut:]:
        fold.apply(event)
    owed = [(a.party, a.ref) for a in NegotiationState(fold).awaiting]
    assert owed == [("B", "p2"), ("C", "k1"), ("A", "r")]
    assert NegotiationState(fold).awaiting == rebuilt_awaiting(fold)
    assert list(fold.owed) == [("p2", "B"), ("k1", "C"), ("r", "A")]


def test_owed_moves_made_without_the_constructor_are_awaitings_like_any() -> None:
    """The fast path of awaiting makes equal, hashable, frozen Awaiting objects."""
    import attrs

    from negotiation.state import _owed

    made = _owed("A", ("ContactAccepted", "ContactDeclined"), "k1")
    expected = Awaiting(party="A", types=("ContactAccepted", "ContactDeclined"), ref="k1")
    assert type(made) is Awaiting
    assert (made, hash(made), repr(made), made.to_dict()) == (
        expected,
        hash(expected),
        repr(expected),
        expected.to_dict(),
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made.party = "B"  # type: ignore[misc]


def test_a_state_moved_on_leaves_the_owed_moves_of_the_one_before() -> None:
    """apply() folds into a copy: the earlier state's owed moves are not touched."""
    events = answers_and_closings()
    state = replay(events[:-1], negotiation=N)
    owed = dict(state._fold.owed)
    later_state = state.apply(events[-1])
    assert dict(state._fold.owed) == owed
    assert len(later_state.awaiting) == len(state.awaiting) - 1


@given(
    st.one_of(
        st.lists(st.text()),
        st.lists(st.tuples(st.text(), st.text())),
        st.lists(st.one_of(st.none(), st.text())),
        st.lists(st.one_of(st.text(), st.tuples(st.text(), st.text()))),
    )
)
def test_keys_hashed_together_hash_as_one_by_one(keys: list[object]) -> None:
    """take() hashes a table's keys in bulk, a lookup one key: the same hashes (lone surrogates too)."""
    assert snapshots._key_hashes(keys) == [snapshots._key_hash(key) for key in keys]
    assert snapshots._key_hashes(["\ud800", "é"]) == [snapshots._key_hash("\ud800"), snapshots._key_hash("é")]


@given(st.lists(st.lists(st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.just("\x00row\x00")))))
def test_rows_encoded_together_are_encoded_as_one_by_one(rows: list[list[object]]) -> None:
    """take() encodes a table's rows in one call and splits them; a value that holds the
    separator makes it encode them one by one: the same bytes either way."""
    assert snapshots._encoded_rows(rows) == [snapshots._json(row) for row in rows]
    tricky = [["a", "\x00row\x00"], ["x", "\x00row\x00", "y"], ["\x00row\x00"], []]
    assert snapshots._encoded_rows(tricky) == [snapshots._json(row) for row in tricky]


@given(nst.valid_logs(max_events=20), st.data())
def test_tables_whose_keys_all_share_a_hash_still_find_each_row(log: list[Event], data: st.DataObject) -> None:
    """A lookup compares the keys of the rows its hash leads to: colliding hashes change nothing."""
    cut = data.draw(st.integers(0, len(log)), label="cut")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshots, "_key_hash", lambda key: 7)
        patch.setattr(snapshots, "_key_hashes", lambda keys: [7] * len(keys))
        fold = snapshots.restore(snapshots.take(replay(log[:cut], negotiation=nst.SIMULATED)._fold), Source(log[:cut]))
        for event in log[cut:]:
            fold.apply(event)
        expected = replay(log, negotiation=nst.SIMULATED)
        assert snapshots.take(fold) == snapshots.take(expected._fold)
        assert NegotiationState(fold) == expected  # the views look rows up with the same hash


@given(nst.valid_logs(max_events=15))
def test_a_snapshot_of_a_restored_fold_equals_the_original(log: list[Event]) -> None:
    """take(restore(take(fold))) == take(fold), without reading the events the snapshot covers."""
    data = snapshots.take(replay(log, negotiation=nst.SIMULATED)._fold)
    source = Source(log)
    assert snapshots.take(snapshots.restore(data, source)) == data
    assert "all" not in source.reads


def test_a_lenient_fold_is_not_snapshotted() -> None:
    """Only folds without rejected events are kept."""
    from negotiation import TalksResumed

    state = replay([TalksResumed(id="r", occurred="2022-01-01", actor="A")], negotiation=N, strict=False)
    with pytest.raises(ValueError, match="rejected events"):
        snapshots.take(state._fold)


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"negotiation-snapshot\n{}\n", b'negotiation-snapshot\n{"format": 99}\n']
)
def test_an_unreadable_snapshot_raises_store_error(data: bytes) -> None:
    """A damaged snapshot is a StoreError, never a wrong state."""
    with pytest.raises(StoreError):
        snapshots.restore(data, Source([]))
    assert snapshots.snapshot_fingerprint(data) is None


def test_lazy_containers_materialize_in_order() -> None:
    """Lazy containers behave as the plain ones once looked at: snapshot entries first, new ones after."""
    items = LazyList(2, lambda: ["a", "b"])
    items.append("c")
    assert len(items) == 3
    assert items == ["a", "b", "c"]
    assert list(reversed(items)) == ["c", "b", "a"]

    members = LazySet(2, lambda: ["a", "b"])
    members.add("c")
    assert len(members) == 3
    assert "a" in members
    assert members | {"d"} == {"a", "b", "c", "d"}

    built: list[int] = []

    def build(raw: int) -> int:
        built.append(raw)
        return raw * 10

    table: LazyDict[str, int] = LazyDict(2, lambda: {"x": 1, "y": 2}, build)
    table["z"] = 30
    assert table.get("y") == 20
    assert built == [2]
    table["x"] = 11  # reassigning a snapshot entry keeps its place
    assert len(table) == 3
    assert "nope" not in table
    assert list(table.items()) == [("x", 11), ("y", 20), ("z", 30)]
    assert dict(table) == {"x": 11, "y": 20, "z": 30}
    with pytest.raises(StoreError, match="expected 3"):
        list(LazyList(3, lambda: ["a"]))


KEYS = ("a", "b", "c", "d", "e")


@given(
    st.dictionaries(st.sampled_from(KEYS), st.integers(0, 9)),
    st.lists(
        st.tuples(st.sampled_from(("get", "in", "set", "pop", "del", "setdefault", "len")), st.sampled_from(KEYS))
    ),
    st.booleans(),
)
def test_a_lazy_dict_behaves_as_a_plain_one(initial: dict[str, int], steps: list[tuple[str, str]], finds: bool) -> None:
    """Lookups, assignments, pops and deletions touch one key and answer as a dict would; once
    materialized it holds the same entries in the same order (a key popped and set again last)."""
    loads: list[int] = []

    def load() -> dict[str, int]:
        loads.append(1)
        return dict(initial)

    find = (lambda key: initial.get(key, MISSING)) if finds else None
    lazy: LazyDict[str, int] = LazyDict(len(initial), load, lambda raw: raw, find=find)
    plain = dict(initial)
    for number, (step, key) in enumerate(steps):
        for table in (lazy, plain):
            if step == "get":
                result: object = table.get(key, -1)
            elif step == "in":
                result = key in table
            elif step == "set":
                table[key] = 10 + number
                result = None
            elif step == "setdefault":
                result = table.setdefault(key, 10 + number)
            elif step == "len":
                result = len(table)
            else:
                try:
                    result = table.pop(key) if step == "pop" else table.__delitem__(key)
                except KeyError:
                    result = KeyError
            if table is lazy:
                got = result
        assert got == result, (step, key)
    assert lazy._lazy
    assert not finds or not loads  # with find, nothing was loaded whole
    assert keys_of(lazy) == list(plain)  # the keys alone, in order, without materializing
    assert lazy._lazy
    assert list(lazy.items()) == list(plain.items())
    assert not lazy._lazy


def test_threads_reading_one_restored_state_see_the_same_events() -> None:
    """Several threads that first look at a restored state's events fill it once, not once each."""
    import threading

    events = [*opening(), *later()]
    expected = replay(events, negotiation=N)
    state = NegotiationState(snapshots.restore(snapshots.take(expected._fold), Source(events)))
    seen: list[tuple[Event, ...]] = []
    barrier = threading.Barrier(4)

    def read() -> None:
        barrier.wait(10)
        seen.append(state.events)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [expected.events] * 4


def test_the_owed_count_equals_the_owed_moves_on_every_prefix_of_the_real_logs() -> None:
    """The read model's count agrees with awaiting on the real logs, signatures and ratifications
    owed included (the INF Treaty and the JCPOA reach signed, ratifying and in force)."""
    from negotiation import read_log

    stages = set()
    for path in sorted((ROOT / "events").glob("*.jsonl")):
        log = read_log(path)
        for name in log.ids():
            fold = Fold(name)
            for event in log.events(name):
                fold.apply(event, strict=False)
                stages.add(fold.stage)
                assert owed_count(fold) == len(NegotiationState(fold).awaiting)
    assert {Stage.SIGNED, Stage.TALKS} <= stages
