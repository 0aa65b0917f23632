"""Several processes and sudden death: crash safety, optimistic concurrency, follow across processes.

Children are forked (cheap: the parent has imported everything already) and never return into
pytest: each ends with ``os._exit``. The parent holds no open connection while it forks. Loops
are bounded in count and every wait has a deadline.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from negotiation import ConcurrencyError, ConsultationHeld, Event, SQLiteStore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

BATCH = 5


def batch(number: int) -> list[Event]:
    """Batch ``number``: BATCH consultations whose ids say which batch they belong to."""
    return [
        ConsultationHeld(id=f"b{number}-{i}", occurred="2022-01-01", parties=["A", "B"], round=number)
        for i in range(BATCH)
    ]


def fork(child: Callable[[int], None]) -> tuple[int, int]:
    """Run ``child(write_fd)`` in a forked process; returns (pid, read end of its pipe)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(read_fd)
            child(write_fd)
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def drain(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def wait(pid: int, deadline: float) -> int:
    """The exit status of ``pid``; killed if it outlives ``deadline`` (time.monotonic)."""
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


@pytest.mark.slow
def test_appends_survive_sigkill_at_random_moments(tmp_path: Path) -> None:
    """Killed 60 times mid-append: the store opens, verifies, keeps every acknowledged batch and no partial one."""
    path = tmp_path / "crash.db"
    rng = random.Random(20220224)
    acknowledged: set[int] = set()

    def appender(fd: int) -> None:
        with SQLiteStore(path, snapshot_every=2 * BATCH) as store:
            number = store.version("crash") // BATCH
            while True:
                store.append("crash", batch(number))
                os.write(fd, f"{number}\n".encode())  # acknowledged only once append returned
                number += 1

    kills = 0
    for _ in range(60):
        pid, fd = fork(appender)
        time.sleep(rng.uniform(0.0, 0.04))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        acknowledged.update(int(line) for line in drain(fd).split())
        kills += 1
        with SQLiteStore(path) as store:
            result = store.verify()
            assert result.ok, str(result)
            stored = store.read("crash")
            assert [s.version for s in stored] == list(range(1, len(stored) + 1))
            assert len(stored) % BATCH == 0, "a batch is partly there"
            batches = [int(s.event.id[1:].split("-")[0]) for s in stored]
            assert batches == [n for n in range(len(stored) // BATCH) for _ in range(BATCH)]
            assert acknowledged <= set(batches), "an acknowledged batch is missing"
            if stored:
                assert store.load("crash").version == len(stored)
    assert kills >= 50
    assert acknowledged, "the child never got an append done: the kills came too early to prove anything"


def test_concurrent_writers_with_expected_version(tmp_path: Path) -> None:
    """Four processes append 25 events each with expected_version, retrying on conflict: nothing lost or doubled."""
    path = tmp_path / "busy.db"
    with SQLiteStore(path):
        pass  # create the schema before the writers race
    workers, each = 4, 25

    def writer(worker: int) -> Callable[[int], None]:
        def run(fd: int) -> None:
            conflicts = 0
            with SQLiteStore(path, timeout=30) as store:
                for k in range(each):
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
    deadline = time.monotonic() + 60
    for pid, fd in children:
        assert wait(pid, deadline) == 0
        drain(fd)
    with SQLiteStore(path) as store:
        stored = store.read("race")
        assert [s.version for s in stored] == list(range(1, workers * each + 1))
        ids = [s.event.id for s in stored]
        assert sorted(ids) == sorted(f"w{w}-{k}" for w in range(workers) for k in range(each))
        for w in range(workers):  # each writer's events in its own order
            mine = [i for i in ids if i.startswith(f"w{w}-")]
            assert mine == [f"w{w}-{k}" for k in range(each)]
        assert store.verify().ok
        assert store.negotiations()[0].version == workers * each


def test_follow_sees_another_process_append(tmp_path: Path) -> None:
    """follow() delivers events another process appends after it started waiting."""
    path = tmp_path / "live.db"
    with SQLiteStore(path) as store:
        store.append("live", batch(0))

    def later_appender(fd: int) -> None:
        time.sleep(0.2)
        with SQLiteStore(path) as store:
            store.append("live", batch(1))
            time.sleep(0.1)
            store.append("live", batch(2))

    seen: list[str] = []
    with SQLiteStore(path) as store:
        pid, fd = fork(later_appender)
        try:
            for stored in store.follow(idle_timeout=10, poll_interval=0.01):
                seen.append(stored.event.id)
                if len(seen) == 3 * BATCH:
                    break
        finally:
            assert wait(pid, time.monotonic() + 30) == 0
            drain(fd)
    assert seen == [e.id for n in range(3) for e in batch(n)]


def test_a_subscriber_killed_mid_batch_sees_each_event_once(tmp_path: Path) -> None:
    """A projection process killed at random moments never counts an event twice or skips one."""
    path = tmp_path / "projection.db"
    with SQLiteStore(path) as store:
        for n in range(40):
            store.append("p", batch(n))
    rng = random.Random(7)

    def project(fd: int) -> None:
        with SQLiteStore(path) as store:
            store.subscribe(
                "counter",
                lambda stored, db: db["seen"].insert({"position": stored.position}, pk="position"),
                batch_size=7,
            )

    for _ in range(12):
        pid, fd = fork(project)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        drain(fd)
    pid, fd = fork(project)
    assert wait(pid, time.monotonic() + 60) == 0
    drain(fd)
    with SQLiteStore(path) as store:
        positions = [r["position"] for r in store.db["seen"].rows_where(order_by="position")]
        assert positions == list(range(1, 40 * BATCH + 1))
        assert store.checkpoint("counter") == 40 * BATCH


@pytest.mark.extended
def test_eight_processes_creating_one_store_at_once_all_open_it(tmp_path: Path) -> None:
    """Switching a new file to WAL does not wait for a lock by itself: every opener retries."""
    for attempt in range(20):
        path = tmp_path / f"new-{attempt}.db"
        go = tmp_path / f"go-{attempt}"

        def child(fd: int, path: Path = path, go: Path = go) -> None:
            while not go.exists():  # start together
                time.sleep(0.001)
            try:
                with SQLiteStore(path) as store:
                    store.append(f"n{os.getpid()}", batch(os.getpid()))
                os.write(fd, b"ok")
            except Exception as e:
                os.write(fd, f"{type(e).__name__}: {e}".encode())

        children = [fork(child) for _ in range(8)]
        go.touch()
        deadline = time.monotonic() + 30
        outcomes = [drain(fd) for _, fd in children]
        assert [wait(pid, deadline) for pid, _ in children] == [0] * 8
        assert outcomes == ["ok"] * 8, outcomes
        with SQLiteStore(path) as store:
            assert len(store.negotiations()) == 8
            assert store.verify().ok


@pytest.mark.slow
def test_four_large_imports_into_one_store_at_once_all_land(tmp_path: Path) -> None:
    """Four processes import a 150,000-event log each into one store through the command line:
    each waits for the others' transactions (the default --timeout is 30 s; it was a fixed 5 s,
    shorter than three imports of this size) and every event lands."""
    from click.testing import CliRunner

    from negotiation import write_log
    from negotiation.cli import cli

    store = tmp_path / "shared.db"
    logs = []
    for number in range(4):
        log = tmp_path / f"log{number}.jsonl"
        write_log(
            (
                ConsultationHeld(
                    id=f"c{i}", negotiation=f"n{number}-{i // 20}", occurred="2022-01-01", parties=["A", "B"]
                )
                for i in range(150_000)
            ),
            log,
        )
        logs.append(log)
    SQLiteStore(store).close()  # the schema, before the children race
    go = tmp_path / "go"

    def child(fd: int, log: Path) -> None:
        while not go.exists():
            time.sleep(0.001)
        result = CliRunner().invoke(cli, ["append", str(store), str(log)])
        os.write(fd, f"{result.exit_code} {result.output.strip()[-80:]}".encode())

    children = [fork(lambda fd, log=log: child(fd, log)) for log in logs]
    go.touch()
    deadline = time.monotonic() + 120
    outcomes = [drain(fd) for _, fd in children]
    assert [wait(pid, deadline) for pid, _ in children] == [0] * 4
    assert all(outcome.startswith("0 ") for outcome in outcomes), outcomes
    with SQLiteStore(store, readonly=True) as shared:
        assert shared.head()[0] == 4 * 150_000
        assert shared.verify().ok
