"""The PostgreSQL store under faults: writer processes racing, the server stopped mid-append,
a client killed mid-transaction.

Children are forked as in :mod:`tests.test_store_processes` (the parent holds no open
connection while it forks) and end with ``os._exit``; every wait has a deadline. The server
is stopped on a throwaway cluster of its own (``initdb``/``pg_ctl`` in a temporary directory,
on another port), never on the shared one.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable, Iterator

import pytest

from negotiation import ConcurrencyError, ConsultationHeld, StoreError
from tests.postgres import Cluster, create_database, find_binaries, unavailable
from tests.test_store_processes import BATCH, batch, drain, fork, wait

with contextlib.suppress(ImportError):  # without the postgres extra, the fixtures skip (or fail under CI)
    from negotiation.store.postgres import PostgresStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def read_line(fd: int, deadline: float) -> str | None:
    """The next line a child writes to ``fd`` (None at end of file); fails at ``deadline``."""
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, "the child wrote nothing before the deadline"
        chunk = os.read(fd, 1)
        if not chunk:
            return None
        line += chunk
    return line.decode().strip()


@pytest.mark.extended
def test_four_writer_processes_lose_nothing_and_double_nothing(postgres_url: str) -> None:
    """Four processes append to a shared negotiation (expected_version, retrying on conflict) and
    to their own, at once: every event is there once, positions run without a gap, chains verify."""
    with PostgresStore(postgres_url):
        pass  # the schema, before the writers race
    workers, each = 4, 50

    def writer(worker: int) -> Callable[[int], None]:
        def run(fd: int) -> None:
            conflicts = 0
            with PostgresStore(postgres_url, timeout=30) as store:
                for k in range(each):
                    own = ConsultationHeld(id=f"own{worker}-{k}", occurred="2022-01-01", parties=["A", "B"])
                    store.append(f"own-{worker}", [own])
                    event = ConsultationHeld(id=f"w{worker}-{k}", occurred="2022-01-01", parties=["A", "B"])
                    for _attempt in range(1000):
                        try:
                            store.append("race", [event], expected_version=store.version("race"))
                            break
                        except ConcurrencyError:
                            conflicts += 1
                    else:
                        raise AssertionError("no progress")
            os.write(fd, f"{conflicts}\n".encode())

        return run

    children = [fork(writer(w)) for w in range(workers)]
    deadline = time.monotonic() + 120
    for pid, fd in children:
        assert wait(pid, deadline) == 0
        drain(fd)
    with PostgresStore(postgres_url) as store:
        everything = store.read_all()
        assert [s.position for s in everything] == list(range(1, 2 * workers * each + 1))
        ids = [s.event.id for s in store.read("race")]
        assert sorted(ids) == sorted(f"w{w}-{k}" for w in range(workers) for k in range(each))  # 0 lost, 0 doubled
        for w in range(workers):
            assert [s.event.id for s in store.read(f"own-{w}")] == [f"own{w}-{k}" for k in range(each)]
        assert store.verify().ok


def test_a_client_killed_mid_transaction_leaves_nothing(postgres_url: str) -> None:
    """A writer killed (SIGKILL) after its rows went to the server but before COMMIT: none of them
    is stored, the table lock is released, and the next append goes on from where the log was."""
    with PostgresStore(postgres_url) as store:
        store.append("kept", batch(0))

    def stuck(fd: int) -> None:
        def progress(done: int) -> None:  # called inside the transaction, after a negotiation's rows
            os.write(fd, b"inserted\n")
            time.sleep(60)

        with PostgresStore(postgres_url) as store:
            store.append_many({"lost": batch(1), "also-lost": batch(2)}, progress=progress)

    pid, fd = fork(stuck)
    try:
        assert read_line(fd, time.monotonic() + 30) == "inserted"
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        drain(fd)
    with PostgresStore(postgres_url, timeout=30) as store:
        assert [s.negotiation for s in store.read_all()] == ["kept"] * BATCH
        assert [s.id for s in store.negotiations()] == ["kept"]
        assert store.append("next", batch(3)) == BATCH
        assert [s.position for s in store.read_all()] == list(range(1, 2 * BATCH + 1))
        assert store.verify().ok


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster of this test's own, running."""
    binaries = find_binaries()
    if binaries is None:
        unavailable("initdb and pg_ctl not found: the server-stop test needs a throwaway cluster")
    assert binaries is not None
    try:
        made = Cluster(binaries)
        made.start()
    except (RuntimeError, OSError) as e:
        unavailable(f"cannot start a throwaway cluster: {e}")
        raise
    try:
        yield made
    finally:
        made.remove()


@pytest.mark.extended
def test_the_server_stopped_mid_append_keeps_every_acknowledged_batch(cluster: Cluster) -> None:
    """pg_ctl stop -m immediate (a crash) while a writer appends batches, then a restart: every
    acknowledged batch is there, no batch is there in part, verify is clean, appends go on."""
    url = create_database(cluster.url)
    with PostgresStore(url):
        pass

    def appender(fd: int) -> None:
        with PostgresStore(url, snapshot_every=4 * BATCH, timeout=2) as store:
            number = 0
            try:
                while True:
                    store.append("crash", batch(number))
                    os.write(fd, f"{number}\n".encode())  # acknowledged only once append returned
                    number += 1
            except StoreError as e:
                os.write(fd, f"error {e}\n".encode())

    pid, fd = fork(appender)
    acknowledged: list[int] = []
    error = None
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40:
            line = read_line(fd, deadline)
            assert line is not None, "the writer stopped before the server did"
            assert not line.startswith("error"), line
            acknowledged.append(int(line))
        cluster.stop("immediate")
        while (line := read_line(fd, deadline)) is not None:
            if line.startswith("error"):
                error = line
            else:
                acknowledged.append(int(line))
    finally:
        assert wait(pid, time.monotonic() + 30) == 0
        os.close(fd)
    assert error is not None, "the writer never noticed the server had gone"
    cluster.start()
    with PostgresStore(url) as store:
        result = store.verify()
        assert result.ok, str(result)
        stored = store.read("crash")
        assert len(stored) % BATCH == 0, "a batch is partly there"
        batches = [int(s.event.id[1:].split("-")[0]) for s in stored]
        assert batches == [n for n in range(len(stored) // BATCH) for _ in range(BATCH)]
        assert set(acknowledged) <= set(batches), "an acknowledged batch is missing"
        assert len(set(batches) - set(acknowledged)) <= 1, "more than the one batch in flight was stored"
        assert store.load("crash").version == len(stored)
        assert store.append("crash", batch(len(stored) // BATCH)) == len(stored) + BATCH
