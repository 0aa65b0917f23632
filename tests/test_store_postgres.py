"""The PostgreSQL store: the shared contract, and what is particular to a server.

Each test runs in a fresh database (see :mod:`tests.postgres` for how the server is found).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from negotiation import ConsultationHeld, StoredEvent, StoreError, snapshot
from negotiation.cli import cli
from negotiation.store import EventStore, SQLiteStore, is_store_url, open_store
from negotiation.store.chain import GENESIS, Row, store_hash
from negotiation.store.logs import import_log
from tests.conftest import EVENTS, FOUNDING
from tests.test_store_contract import N, StoreContract, later, opening, run_together

try:
    import psycopg

    from negotiation.store.postgres import PostgresStore, display_url
except ImportError:  # without the postgres extra, the postgres_url fixture skips (or fails under CI)
    pass


class TestPostgresStore(StoreContract):
    url: str

    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> None:
        self.url = postgres_url

    def make_store(self, tmp_path: Path, **options: Any) -> EventStore:
        return PostgresStore(self.url, **options)

    @pytest.mark.parametrize(
        ("statement", "operation"),
        [
            ("UPDATE events SET type = 'Forged' WHERE position = 2", "UPDATE"),
            ("DELETE FROM events WHERE position = 3", "DELETE"),
            ("TRUNCATE events", "TRUNCATE"),
        ],
    )
    def test_the_database_refuses_to_change_a_stored_event(self, statement: str, operation: str) -> None:
        """Triggers refuse UPDATE, DELETE and TRUNCATE of events, whoever connects."""
        with PostgresStore(self.url) as store:
            store.append(N, opening())
        with psycopg.connect(self.url) as conn, pytest.raises(psycopg.Error, match=f"{operation} is refused"):
            conn.execute(statement)
        with PostgresStore(self.url) as store:
            assert [s.position for s in store.read_all()] == [1, 2, 3]
            assert store.verify().ok

    def test_a_subscriber_writes_its_projection_in_the_same_transaction(self) -> None:
        """The handler gets the connection; its rows and the checkpoint commit or roll back together."""
        with PostgresStore(self.url) as store:
            store.append(N, opening())
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute("CREATE TABLE types (position BIGINT PRIMARY KEY, type TEXT)")

            def project(stored: StoredEvent, conn: Any) -> None:
                conn.execute("INSERT INTO types VALUES (%s, %s)", (stored.position, stored.event.TYPE))
                if stored.position == 3:
                    raise RuntimeError("crash in the middle")

            with pytest.raises(RuntimeError):
                store.subscribe("types", project, batch_size=2)
            assert store.checkpoint("types") == 2
            with psycopg.connect(self.url) as conn:
                assert [r[0] for r in conn.execute("SELECT position FROM types ORDER BY 1")] == [1, 2]

    def test_two_store_objects_write_one_gapless_log(self) -> None:
        """Writers on separate connections (as on separate machines) queue behind the table lock:
        every append lands, positions run without a gap, each chain verifies."""
        with PostgresStore(self.url) as store:
            store.append(N, opening())
        errors: list[BaseException] = []
        each = 40

        def writer(t: int) -> None:
            try:
                with PostgresStore(self.url) as own:
                    for i in range(each):
                        name = N if i % 2 else f"side-{t}"
                        event = ConsultationHeld(id=f"w{t}-{i}", occurred="2022-03-01", parties=["A", "B"])
                        own.append(name, [event])
            except BaseException as e:  # reported below
                errors.append(e)

        run_together([threading.Thread(target=writer, args=(t,)) for t in range(4)])
        assert errors == []
        with PostgresStore(self.url) as store:
            positions = [s.position for s in store.read_all()]
            assert positions == list(range(1, len(opening()) + 4 * each + 1))
            assert store.verify().ok
            assert store.version(N) == len(opening()) + 4 * each // 2

    def test_another_connections_append_moves_the_change_token(self) -> None:
        """follow() wakes on NOTIFY: an append through another connection moves the token it waits on
        (the token counts notifications only; without one, the wait would end at its timeout with
        the token unmoved)."""
        with PostgresStore(self.url) as follower, PostgresStore(self.url) as writer:
            token = follower._change_token()
            writer.append(N, opening())
            follower._wait(token, timeout=30)
            assert follower._change_token() != token

    def test_a_read_only_store_refuses_to_write(self) -> None:
        """readonly=True makes every transaction read-only; a fresh database is not made a store."""
        with pytest.raises(StoreError, match="no event store in this database"):
            PostgresStore(self.url, readonly=True)
        with PostgresStore(self.url) as store:
            store.append(N, opening())
        with PostgresStore(self.url, readonly=True) as store:
            assert store.version(N) == 3
            for _ in range(7):  # past psycopg's threshold for preparing a statement
                with pytest.raises(StoreError, match="read-only"):
                    store.append(N, later())
                with pytest.raises(StoreError, match="read-only"):
                    store.append("new", opening())
                assert store.load(N).version == 3  # the connection still reads

    def test_a_read_model_written_under_other_rules_is_recomputed_once(self) -> None:
        """A store last written under other rules (an earlier contract version) gets its read
        model recomputed when it is next opened for writing."""
        with PostgresStore(self.url) as store:
            store.append(N, [*opening(), *later()])
            expected = [s.to_dict() for s in store.negotiations()]
        with psycopg.connect(self.url, autocommit=True) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key = 'rules'").fetchone() == (snapshot.FINGERPRINT,)
            conn.execute("UPDATE meta SET value = 'earlier' WHERE key = 'rules'")
            conn.execute("UPDATE negotiations SET stage = 'exploration', owed = 0")
        with PostgresStore(self.url) as store:
            assert [s.to_dict() for s in store.negotiations()] == expected
            assert store.verify().ok
        with psycopg.connect(self.url) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key = 'rules'").fetchone() == (snapshot.FINGERPRINT,)

    def test_a_version_2_schema_gains_the_owed_moves(self) -> None:
        """A schema of version 2 (the read model without ``awaiting``) is read as it is
        read-only, the owed moves derived from the events; opened for writing it gains the
        column, filled from the events, as a SQLite store of schema 3 does."""
        with PostgresStore(self.url) as store:
            store.append(N, [*opening(), *later()])
            expected = [s.to_dict() for s in store.negotiations()]
            awaiting = store.load(N).awaiting
        assert awaiting
        assert expected[0]["awaiting"] == [a.to_dict() for a in awaiting]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("ALTER TABLE negotiations DROP COLUMN awaiting")
            conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        with PostgresStore(self.url, readonly=True) as store:
            assert [s.to_dict() for s in store.negotiations()] == expected
            assert store.head()[0] == 5
            assert store.verify().ok
        with PostgresStore(self.url) as store:
            assert [s.to_dict() for s in store.negotiations()] == expected
            assert store.verify().ok
        with psycopg.connect(self.url) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)
            (stored,) = conn.execute("SELECT awaiting FROM negotiations").fetchone()
        assert json.loads(stored) == [a.to_dict() for a in awaiting]

    def test_a_version_3_schema_gains_the_append_function(self) -> None:
        """A schema of version 3 (no ``negotiation_append``) is read as it is, read model
        included, when opened read-only; opened for writing, it gains the function and appends."""
        with PostgresStore(self.url) as store:
            store.append(N, opening())
            expected = [s.to_dict() for s in store.negotiations()]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("DROP FUNCTION negotiation_append")
            conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
            conn.execute("UPDATE negotiations SET owed = 99")  # read as stored: not derived from the events
        with PostgresStore(self.url, readonly=True) as store:
            assert [s.owed for s in store.negotiations()] == [99]
        with PostgresStore(self.url) as store:
            assert store.append(N, later()) == len(opening()) + len(later())
            assert store.verify().ok
            assert [s.to_dict()["version"] for s in store.negotiations()] == [expected[0]["version"] + len(later())]
        with psycopg.connect(self.url) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)
            assert conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'negotiation_append'").fetchone() == (1,)

    def test_an_append_is_written_by_the_server_in_one_statement(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An append checked before the lock goes to the server as one statement, a call of
        ``negotiation_append``. The server numbers the rows and moves the store head (non-ASCII
        names included) exactly as the client would: ``verify`` and this test recompute both."""
        sent: list[bool] = []
        with PostgresStore(self.url, snapshot_every=len(opening())) as store:
            write = store._write_at_once
            monkeypatch.setattr(store, "_write_at_once", lambda written: sent.append(write(written)) or sent[-1])
            store.append("négociation-東京", opening())
            store.append(N, opening())
            store.append_many({"négociation-東京": later(), "other": opening()})
            assert sent == [True, True, True]
            with psycopg.connect(self.url) as conn:  # the snapshots due, written by the same statement
                taken = conn.execute("SELECT negotiation, version, fingerprint FROM snapshots ORDER BY 1").fetchall()
            assert sorted(taken) == sorted(
                [(name, len(opening()), snapshot.FINGERPRINT) for name in (N, "négociation-東京", "other")]
            )
            assert [s.position for s in store.read_all()] == list(range(1, 3 * len(opening()) + len(later()) + 1))
            assert store.verify().ok
            head = GENESIS
            for stored in store.read_all():
                head = store_hash(head, Row(stored.position, stored.negotiation, 0, "", "", "", "", "", stored.hash))
            assert store.head() == (len(store.read_all()), head)

    def test_an_append_that_waited_too_long_for_the_lock_leaves_the_connection_usable(self) -> None:
        """Another session holds the table lock past the store's timeout: each append gives up
        with a message that says so and writes nothing, again and again (past psycopg's threshold
        for preparing a statement), and the store appends once the lock is free."""
        with PostgresStore(self.url, timeout=0.2) as store:
            store.append(N, opening())
            with psycopg.connect(self.url) as other:
                other.execute("LOCK TABLE events IN EXCLUSIVE MODE")
                for attempt in range(7):
                    name = N if attempt % 2 else f"new-{attempt}"
                    with pytest.raises(StoreError, match="locked by another writer; gave up appending"):
                        store.append(name, later() if name == N else opening())
            assert store.append(N, later()) == len(opening()) + len(later())
            assert store.append("new", opening()) == len(opening())
            assert [s.position for s in store.read_all()] == list(range(1, 2 * len(opening()) + len(later()) + 1))
            assert store.verify().ok

    def test_an_append_checked_at_a_tip_another_writer_went_past_is_checked_again(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The server finds the negotiation past the tip the append was checked at: it writes
        nothing, and the append is checked again under the lock, against what is stored."""
        sent: list[bool] = []
        with PostgresStore(self.url) as first, PostgresStore(self.url) as second:
            first.append(N, opening())
            second.append(N, [ConsultationHeld(id="second", occurred="2022-01-12", parties=["A", "B"])])
            write = first._write_at_once
            monkeypatch.setattr(first, "_write_at_once", lambda written: sent.append(write(written)) or sent[-1])
            assert first.append(N, later()) == len(opening()) + 1 + len(later())
            assert sent == [False]  # checked against its own fold, at version 3: the server refused
            assert [s.event.id for s in first.read(N)][len(opening())] == "second"
            assert first.verify().ok
            assert first.load(N) == second.load(N)

    def test_verify_finds_forged_owed_moves(self) -> None:
        """The read model's owed moves are compared with a replay, as in SQLite."""
        with PostgresStore(self.url) as store:
            store.append(N, [*opening(), *later()])
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("UPDATE negotiations SET awaiting = '[]'")
        with PostgresStore(self.url, readonly=True) as store:
            result = store.verify()
        assert not result.ok
        assert result.problem is not None
        assert result.problem.startswith("the read model records awaiting '[]' where replaying the events gives")

    def test_a_database_that_is_not_a_store_is_refused(self) -> None:
        """A database with an events table of its own is not taken for a store."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE events (x INT)")
        with pytest.raises(StoreError, match="not an event store"):
            PostgresStore(self.url)

    def test_the_store_reconnects_after_its_connection_is_killed(self) -> None:
        """A connection the server ended fails the call in progress with a StoreError; the next
        call opens a new one."""
        with PostgresStore(self.url) as store:
            store.append(N, opening())
            with psycopg.connect(self.url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            with pytest.raises(StoreError, match="connection to PostgreSQL failed"):
                store.append(N, later())
            assert store.append(N, later()) == 5
            assert store.verify().ok

    def test_events_survive_reopening_and_open_store_picks_the_backend(self, tmp_path: Path) -> None:
        """open_store opens a URL as PostgreSQL and a path as SQLite."""
        with open_store(self.url) as store:
            assert isinstance(store, PostgresStore)
            store.append(N, opening())
        with open_store(self.url, readonly=True) as store:
            assert store.load(N).version == 3
        with open_store(tmp_path / "s.db") as store:
            assert isinstance(store, SQLiteStore)


def test_is_store_url() -> None:
    """Only postgresql:// and postgres:// URLs name a server; anything else is a file."""
    assert is_store_url("postgresql://localhost/db")
    assert is_store_url("postgres://u@h:5433/db?sslmode=disable")
    assert not is_store_url("store.db")
    assert not is_store_url("postgresql.db")
    assert not is_store_url(Path("postgresql://x"))


def test_a_url_password_never_appears_in_a_message() -> None:
    """display_url masks the password; an unreachable server's error names the URL without it."""
    pytest.importorskip("psycopg")
    assert display_url("postgresql://ann:s3cret@db.example:5432/talks") == "postgresql://ann:***@db.example:5432/talks"
    assert display_url("postgresql://ann@db/talks") == "postgresql://ann@db/talks"
    with pytest.raises(StoreError, match=r"postgresql://ann:\*\*\*@127.0.0.1:1/x: cannot connect") as caught:
        PostgresStore("postgresql://ann:s3cret@127.0.0.1:1/x", timeout=1)
    assert "s3cret" not in str(caught.value)


# -- the command line ------------------------------------------------------------------------


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_the_store_commands_take_a_url(postgres_url: str, tmp_path: Path) -> None:
    """append, list, status, export and verify work on a postgresql:// URL as on a file."""
    code, out, err = run("append", postgres_url, FOUNDING)
    assert code == 0, err
    assert "security-guarantees-2021: 27 events appended, now at version 27" in out
    code, out, err = run("list", postgres_url, "--json")
    assert code == 0, err
    assert [s["id"] for s in json.loads(out)] == ["security-guarantees-2021"]
    code, out, err = run("status", postgres_url, "security-guarantees-2021", "--json")
    assert code == 0, err
    assert json.loads(out)["stage"] == "broken_off"
    code, out, err = run("export", postgres_url, "security-guarantees-2021", "-o", tmp_path / "out.jsonl")
    assert code == 0, err
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 27
    code, out, err = run("verify", postgres_url)
    assert code == 0, err
    assert out.endswith("27 events verified: every hash chain matches\n")


@pytest.mark.parametrize("command", [("list",), ("verify",), ("status",), ("append", FOUNDING)])
def test_a_server_that_is_down_is_one_line_and_exit_1(command: tuple[str | Path, ...]) -> None:
    """No server at the URL: one line naming it (without its password), no traceback."""
    url = "postgresql://ann:s3cret@127.0.0.1:1/talks"
    code, _out, err = run(command[0], url, *command[1:])
    assert code == 1
    assert err.startswith("Error: postgresql://ann:***@127.0.0.1:1/talks: cannot connect to PostgreSQL")
    assert len(err.strip().splitlines()) == 1
    assert "s3cret" not in err


def test_copy_sqlite_to_postgresql_and_back(postgres_url: str, tmp_path: Path) -> None:
    """copy keeps positions, versions and hashes both ways, with the read model and snapshots."""
    source = tmp_path / "source.db"
    with SQLiteStore(source, snapshot_every=10) as store:
        for log in sorted(EVENTS.glob("*.jsonl"))[:3]:
            import_log(store, log)
        store.append(N, [*opening(), *later()])  # a negotiation that owes moves: they go with the read model
        rows = [(s.position, s.negotiation, s.version, s.hash) for s in store.read_all()]
        summaries = [s.to_dict() for s in store.negotiations()]
    assert any(s["awaiting"] for s in summaries)
    code, out, err = run("copy", source, postgres_url, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["events"], report["negotiations"], report["verified"]) == (len(rows), len(summaries), True)
    assert report["snapshots"] > 0
    with PostgresStore(postgres_url) as store:
        assert [(s.position, s.negotiation, s.version, s.hash) for s in store.read_all()] == rows
        assert [s.to_dict() for s in store.negotiations()] == summaries
        assert store.verify().ok
    back = tmp_path / "back.db"
    code, out, err = run("copy", postgres_url, back)
    assert code == 0, err
    assert f"copied {len(rows)} events ({len(summaries)} negotiations" in out
    assert out.splitlines()[1].endswith(f"{len(rows)} events verified: every hash chain matches")
    with SQLiteStore(back) as store:
        assert [(s.position, s.negotiation, s.version, s.hash) for s in store.read_all()] == rows
        assert [s.to_dict() for s in store.negotiations()] == summaries


def test_copy_into_a_store_that_holds_events_changes_nothing(postgres_url: str, tmp_path: Path) -> None:
    """The target must be empty: a non-empty one is refused as it is; a new file is not left behind."""
    source = tmp_path / "source.db"
    with SQLiteStore(source) as store:
        store.append(N, opening())
    with PostgresStore(postgres_url) as store:
        store.append("other", later()[1:])
    code, _out, err = run("copy", source, postgres_url)
    assert code == 1
    assert "holds 1 events already: copy into an empty store" in err
    with PostgresStore(postgres_url) as store:
        assert [s.negotiation for s in store.read_all()] == ["other"]
    code, _out, err = run("copy", postgres_url, tmp_path / "missing" / "x.db")
    assert code == 1
    assert err.startswith("Error: ")
    assert len(err.strip().splitlines()) == 1


def test_copy_of_a_broken_chain_writes_nothing(postgres_url: str, tmp_path: Path) -> None:
    """A source whose chain does not verify is not copied: the target stays empty."""
    source = tmp_path / "source.db"
    with SQLiteStore(source) as store:
        store.append(N, opening())
    with closing(sqlite3.connect(source)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET data = replace(data, 'Draft', 'Forged') WHERE position = 2")
        conn.commit()
    code, _out, err = run("copy", source, postgres_url)
    assert code == 1
    assert "does not verify, nothing was copied: position 2" in err
    with PostgresStore(postgres_url) as store:
        assert store.read_all() == []
