"""Several writers on one store file: each append is checked against what is stored, not
against what the writer folded last.

The regression: two ``SQLiteStore`` objects on one file, the second appending to a negotiation
between two appends of the first. The first used to trust the fold its own last append had left
and refused its next append (a UNIQUE constraint on the version, a ConcurrencyError with the
wrong actual version, or a valid reply to the other writer's proposal as an UnknownReference).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from negotiation import (
    ConcurrencyError,
    ConsultationHeld,
    Event,
    MemoryStore,
    ProposalPublished,
    ReplyDelivered,
    SQLiteStore,
    replay,
)
from negotiation.store.base import EventStore
from tests.test_store_processes import drain, fork, wait


def c(event_id: str) -> Event:
    return ConsultationHeld(id=event_id, occurred="2022-01-10", parties=["A", "B"])


@pytest.fixture(params=["two-sqlite-objects", "one-sqlite-object", "one-memory-store", "two-postgres-objects"])
def writers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[EventStore, EventStore]]:
    """Two writers: two SQLiteStore objects on one file (the regression), two PostgresStore
    objects on one database (whose appends are checked before the lock against the fold each
    object cached, which the other's appends make stale), or one store object playing both
    (the same sequence must hold there too)."""
    with ExitStack() as stack:
        if request.param == "two-postgres-objects":
            from negotiation.store.postgres import PostgresStore

            url = request.getfixturevalue("postgres_url")
            yield stack.enter_context(PostgresStore(url)), stack.enter_context(PostgresStore(url))
        elif request.param == "two-sqlite-objects":
            path = tmp_path / "two.db"
            yield stack.enter_context(SQLiteStore(path)), stack.enter_context(SQLiteStore(path))
        elif request.param == "one-sqlite-object":
            store = stack.enter_context(SQLiteStore(tmp_path / "one.db"))
            yield store, store
        else:
            memory = stack.enter_context(MemoryStore())
            yield memory, memory


def _consistent(store: EventStore, *negotiations: str) -> None:
    """Versions gapless, positions gapless, the chains verify, each load equals its replay."""
    assert [s.position for s in store.read_all()] == list(range(1, len(store.read_all()) + 1))
    for name in negotiations:
        stored = store.read(name)
        assert [s.version for s in stored] == list(range(1, len(stored) + 1))
        assert store.load(name) == replay([s.event for s in stored], negotiation=name)
    assert store.verify().ok


def test_an_append_after_another_writers_append_takes_the_next_version(
    writers: tuple[EventStore, EventStore],
) -> None:
    """The issue's repro: it used to raise StoreError (UNIQUE constraint failed)."""
    a, b = writers
    a.append("S", [c("a1")])
    b.append("S", [c("b1")])
    a.append("O", [c("a2")])
    assert a.append("S", [c("a3")]) == 3
    assert [s.event.id for s in a.read("S")] == ["a1", "b1", "a3"]
    assert [s.event.id for s in b.read("S")] == ["a1", "b1", "a3"]
    _consistent(a, "S", "O")


def test_expected_version_is_checked_against_the_stored_version(writers: tuple[EventStore, EventStore]) -> None:
    """With expected_version, the writer that missed the other's append gets a ConcurrencyError
    naming the stored version (not its stale one), and succeeds with it."""
    a, b = writers
    assert a.append("S", [c("a1")], expected_version=0) == 1
    assert b.append("S", [c("b1")], expected_version=1) == 2
    a.append("O", [c("a2")])
    with pytest.raises(ConcurrencyError) as caught:
        a.append("S", [c("a3")], expected_version=1)
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert a.append("S", [c("a3")], expected_version=2) == 3
    _consistent(a, "S", "O")


def test_a_reply_to_the_other_writers_proposal_is_accepted(writers: tuple[EventStore, EventStore]) -> None:
    """A writer replies to a proposal another writer appended since its own last append: the
    reply is checked against the stored negotiation (it used to be an UnknownReference)."""
    a, b = writers
    a.append("S", [c("a1")])
    b.append("S", [ProposalPublished(id="p", occurred="2022-01-11", actor="A", to=["B"], title="Draft")])
    a.append("O", [c("a2")])
    assert a.append("S", [ReplyDelivered(id="r", occurred="2022-01-12", actor="B", ref="p")]) == 3
    state = b.load("S")
    assert state.stage.value == "talks"
    assert state.documents["p"].answered
    _consistent(b, "S", "O")


def test_a_writer_that_missed_a_snapshot_goes_on_from_the_stored_events(tmp_path: Path) -> None:
    """The other writer's appends take a snapshot: the first writer's next append and load
    still equal the replay of what is stored, and the snapshots verify."""
    path = tmp_path / "snap.db"
    with SQLiteStore(path, snapshot_every=2) as a, SQLiteStore(path, snapshot_every=2) as b:
        a.append("S", [c("a1")])
        b.append("S", [c("b1"), c("b2")])  # a snapshot at 3
        a.append("S", [c("a2")])
        b.append("S", [c("b3")])  # at 5
        assert a.append("S", [c("a3")]) == 6
        _consistent(a, "S")
        _consistent(b, "S")


WRITERS = 4
ROUNDS = 40


def test_processes_appending_alternately_to_two_negotiations(tmp_path: Path) -> None:
    """Four processes, each appending alternately to two negotiations (without
    expected_version), each with its own store object: none fails, versions and positions
    have no gap, every event is stored once, and the store verifies."""
    path = tmp_path / "many.db"
    SQLiteStore(path, snapshot_every=7).close()  # the schema, before the children race for it

    def writer(number: int) -> Callable[[int], None]:
        def child(fd: int) -> None:
            failures = 0
            with SQLiteStore(path, snapshot_every=7, timeout=30) as store:
                for n in range(ROUNDS):
                    name = ("S", "O")[(n + number) % 2]
                    try:
                        store.append(name, [c(f"w{number}-{n}")])
                    except Exception as e:  # reported to the parent, which fails the test
                        failures += 1
                        os.write(fd, f"{type(e).__name__}: {e}\n".encode())
            os.write(fd, f"failures {failures}\n".encode())

        return child

    children = [fork(writer(number)) for number in range(WRITERS)]
    deadline = time.monotonic() + 120
    outputs = []
    for pid, fd in children:
        outputs.append(drain(fd))
        assert wait(pid, deadline) == 0
    assert all(out.endswith("failures 0\n") for out in outputs), outputs
    with SQLiteStore(path) as store:
        ids = sorted(s.event.id for s in store.read_all())
        assert ids == sorted(f"w{w}-{n}" for w in range(WRITERS) for n in range(ROUNDS))
        assert store.version("S") + store.version("O") == WRITERS * ROUNDS
        _consistent(store, "S", "O")
