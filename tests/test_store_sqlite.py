"""The SQLite store: schema and migrations, error translation, tampering, failures that change nothing."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from negotiation import (
    ConcurrencyError,
    ConsultationHeld,
    DatedBeforeReference,
    DuplicateEventId,
    InvalidEvent,
    LogSyntaxError,
    NegotiationError,
    NotPermitted,
    PositionStated,
    ProposalPublished,
    ReplyDelivered,
    SQLiteStore,
    StoreError,
    UnknownReference,
    WrongActor,
    replay,
)
from negotiation import snapshot as snapshots
from negotiation import strategies as nst
from negotiation.codec import compact_json
from negotiation.dates import utc_now
from negotiation.errors import StoreWarning
from negotiation.fold import Fold
from negotiation.store import sqlite as sqlite_module
from negotiation.store.base import FoldCache, summary_of
from negotiation.store.chain import Row, chain_hash, parse_head, store_hash
from negotiation.store.logs import check_store, import_log
from negotiation.store.schema import MIGRATIONS, SCHEMA_VERSION
from negotiation.store.sqlite import translate_error
from tests.test_store_contract import N, later, opening


def dump(path: Path) -> list[str]:
    """The whole database as SQL, read through a connection of its own."""
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.iterdump())


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store file holding :func:`opening` and :func:`later` of negotiation ``talks``."""
    path = tmp_path / "store.db"
    with SQLiteStore(path) as store:
        store.append(N, opening())
        store.append(N, later())
    return path


# -- schema ------------------------------------------------------------------------------------


def test_the_schema(db: Path) -> None:
    """The tables, unique indexes, triggers and schema version the README describes."""
    with closing(raw(db)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"meta", "events", "negotiations", "snapshots", "checkpoints"} <= tables
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert triggers == {"events_no_update", "events_no_delete"}
        unique = {
            tuple(c[2] for c in conn.execute(f"PRAGMA index_info('{index[1]}')"))
            for index in conn.execute("PRAGMA index_list('events')")
            if index[2]
        }
        assert {("negotiation", "version"), ("negotiation", "id")} <= unique
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        row = conn.execute("SELECT stage, version, owed FROM negotiations WHERE id = ?", (N,)).fetchone()
        assert row[:2] == ("talks", 5)


def test_a_database_from_a_newer_version_is_refused(db: Path) -> None:
    """A schema version above ours is refused with a message that says what to do."""
    with closing(raw(db)) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match=r"newer version of negotiation \(schema version 99; .*upgrade"):
        SQLiteStore(db)


def test_a_version_1_database_is_migrated_and_its_read_model_rebuilt(db: Path) -> None:
    """A database holding only the log (schema 1) gains the derived tables; the read model is rebuilt."""
    with SQLiteStore(db) as store:
        expected = [s.to_dict() for s in store.negotiations()]
    with closing(raw(db)) as conn:
        for table in ("negotiations", "snapshots", "checkpoints"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with SQLiteStore(db, readonly=True) as store:  # read as it is, the read model derived
        assert [s.to_dict() for s in store.negotiations()] == expected
        assert store.verify().ok
    with SQLiteStore(db) as store:
        assert [s.to_dict() for s in store.negotiations()] == expected
        assert store.verify().ok
    with closing(raw(db)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)


def test_a_read_model_written_under_other_rules_is_recomputed_once(db: Path) -> None:
    """A store last written under other rules (an earlier contract version) gets its read model
    recomputed on the first open for writing; read-only, it is derived from the events."""
    with SQLiteStore(db) as store:
        expected = [s.to_dict() for s in store.negotiations()]
    with closing(raw(db)) as conn:  # as an earlier version left it: other rules, another stage
        assert conn.execute("SELECT value FROM meta WHERE key = 'rules'").fetchone() == (snapshots.FINGERPRINT,)
        conn.execute("UPDATE meta SET value = 'earlier' WHERE key = 'rules'")
        conn.execute("UPDATE negotiations SET stage = 'exploration', owed = 0")
    with SQLiteStore(db, readonly=True) as store:
        assert [s.to_dict() for s in store.negotiations()] == expected
        assert store.verify().ok
    with closing(raw(db)) as conn:
        assert conn.execute("SELECT stage FROM negotiations").fetchone() == ("exploration",)  # untouched
    with SQLiteStore(db) as store:
        assert [s.to_dict() for s in store.negotiations()] == expected
        assert store.verify().ok
    with closing(raw(db)) as conn:
        assert conn.execute("SELECT stage FROM negotiations").fetchone() == (expected[0]["stage"],)
        assert conn.execute("SELECT value FROM meta WHERE key = 'rules'").fetchone() == (snapshots.FINGERPRINT,)


def test_a_version_3_database_gains_the_owed_moves(db: Path) -> None:
    """A database of schema 3 (the read model without ``awaiting``) is read as it is read-only,
    the owed moves derived; opened for writing it gains the column, filled from the events."""
    with SQLiteStore(db) as store:
        expected = [s.to_dict() for s in store.negotiations()]
        awaiting = store.load(N).awaiting
    assert awaiting
    assert expected[0]["awaiting"] == [a.to_dict() for a in awaiting]
    with closing(raw(db)) as conn:
        conn.execute("ALTER TABLE negotiations DROP COLUMN awaiting")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with SQLiteStore(db, readonly=True) as store:
        assert [s.to_dict() for s in store.negotiations()] == expected
        assert store.verify().ok
    with SQLiteStore(db) as store:
        assert [s.to_dict() for s in store.negotiations()] == expected
        assert store.verify().ok
    with closing(raw(db)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        (stored,) = conn.execute("SELECT awaiting FROM negotiations WHERE id = ?", (N,)).fetchone()
    assert json.loads(stored) == [a.to_dict() for a in awaiting]


def _as_version_1_with_a_refused_event(db: Path) -> None:
    """Make ``db`` a schema-1 store whose last event today's rules refuse (a reply to nothing)."""
    with closing(raw(db)) as conn:
        for table in ("negotiations", "snapshots", "checkpoints"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        position, version, head = conn.execute(
            "SELECT position, version, hash FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        event = ReplyDelivered(
            id="ghost",
            negotiation=N,
            occurred="2022-03-01",
            actor="US",
            ref="nothing",
            recorded="2022-03-01T00:00:00+00:00",
        )
        data = compact_json(event)
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                position + 1,
                N,
                version + 1,
                "ghost",
                event.TYPE,
                "2022-03-01",
                event.recorded.isoformat(),
                data,
                chain_hash(head, data),
            ),
        )


def test_an_old_store_holding_an_event_todays_rules_refuse_is_read_and_migrated_leniently(db: Path) -> None:
    """Read-only use works on any schema version; the migration leaves the refused event out of
    the read model and says so."""
    with SQLiteStore(db) as store:
        before = store.negotiations()[0]
    _as_version_1_with_a_refused_event(db)
    with SQLiteStore(db, readonly=True) as store:
        with pytest.warns(StoreWarning, match="event 'ghost'.*the read model leaves it out"):
            (summary,) = store.negotiations()
        assert (summary.stage, summary.version, summary.owed) == (before.stage, 6, before.owed)
        with pytest.warns(StoreWarning):
            assert store.verify().ok
        assert [e.event.id for e in store.read(N)][-1] == "ghost"
        assert store.load(N, strict=False).rejected[0].event_id == "ghost"
    with pytest.warns(StoreWarning, match="event 'ghost'"):
        store = SQLiteStore(db)
    with store:
        assert store.negotiations()[0].stage == before.stage
    with SQLiteStore(db) as store:  # migrated once: no warning any more
        assert store.verify().ok
        assert store.checkpoint("anyone") == 0


def test_migrations_build_the_current_schema_from_nothing(tmp_path: Path) -> None:
    """Running the migrations one by one gives the schema a new store gets."""
    import sqlite_utils

    with closing(sqlite3.connect(tmp_path / "steps.db")) as conn:
        db = sqlite_utils.Database(conn)
        for migrate in MIGRATIONS:
            migrate(db)
        steps = sorted(r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
    with SQLiteStore(tmp_path / "new.db"):
        pass
    with closing(sqlite3.connect(tmp_path / "new.db")) as conn:
        new = sorted(r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
    assert steps == new


def test_a_sqlite_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    """Another program's database is not taken over."""
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="a SQLite database, but not an event store"):
        SQLiteStore(path)
    assert dump(path) == ["BEGIN TRANSACTION;", "CREATE TABLE people (name TEXT);", "COMMIT;"]
    assert path.read_bytes() == before  # not even switched to write-ahead logging
    assert not Path(f"{path}-wal").exists()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    """A text file opened as a store raises StoreError, not sqlite3.DatabaseError."""
    path = tmp_path / "log.jsonl"
    path.write_text('{"type": "ContactHeld"}\n' * 200)
    with pytest.raises(StoreError, match="not a usable SQLite database") as caught:
        SQLiteStore(path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_readonly_needs_an_existing_file(tmp_path: Path) -> None:
    """Opening a missing file read-only does not create it."""
    with pytest.raises(StoreError, match="no such database file"):
        SQLiteStore(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


# -- sqlite3 errors are translated -----------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sqlite3.OperationalError("database is locked"), "locked by another connection"),
        (sqlite3.OperationalError("database table is locked"), "locked by another connection"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
        (sqlite3.OperationalError("database or disk is full"), "disk is full"),
        (sqlite3.OperationalError("disk I/O error"), "disk I/O error"),
        (sqlite3.DatabaseError("file is not a database"), "not a usable SQLite database"),
        (sqlite3.DatabaseError("database disk image is malformed"), "not a usable SQLite database"),
        (sqlite3.OperationalError("unable to open database file"), "cannot open the database file"),
        (sqlite3.IntegrityError("events are append-only: UPDATE is refused"), "refused by the database"),
        (sqlite3.OperationalError("no such table: events"), "SQLite error while testing: no such table"),
    ],
)
def test_sqlite_errors_are_translated(error: sqlite3.Error, expected: str) -> None:
    """Each sqlite3 error becomes a StoreError (a NegotiationError and a RuntimeError) that says what it means."""
    translated = translate_error(error, path="x.db", doing="testing")
    assert type(translated) is StoreError
    assert isinstance(translated, NegotiationError)
    assert isinstance(translated, RuntimeError)
    assert str(translated).startswith("x.db: ")
    assert expected in str(translated)


# -- tampering ---------------------------------------------------------------------------------


def test_update_and_delete_are_refused_by_sql(db: Path) -> None:
    """Even with a SQL shell, the events table is append-only."""
    with closing(raw(db)) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only: UPDATE is refused"):
            conn.execute("UPDATE events SET data = '{}' WHERE position = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only: DELETE is refused"):
            conn.execute("DELETE FROM events WHERE position = 2")
    with SQLiteStore(db) as store:
        assert store.verify().ok


def _tamper(db: Path, *statements: str) -> None:
    with closing(raw(db)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("DROP TRIGGER events_no_delete")
        for statement in statements:
            conn.execute(statement)


def _verify(db: Path) -> tuple[bool, int | None, str | None]:
    with SQLiteStore(db, readonly=True) as store:
        result = store.verify()
    return result.ok, result.position, result.problem


def test_verify_finds_a_changed_row(db: Path) -> None:
    """A row whose event was edited is named by its position."""
    _tamper(db, "UPDATE events SET data = replace(data, '\"Draft\"', '\"Forged\"') WHERE position = 2")
    ok, position, problem = _verify(db)
    assert (ok, position) == (False, 2)
    assert problem is not None
    assert "hash does not match" in problem


def test_verify_finds_a_changed_column(db: Path) -> None:
    """A column that no longer agrees with its event's JSON is named too."""
    _tamper(db, "UPDATE events SET occurred = '2030-01-01' WHERE position = 4")
    assert _verify(db)[:2] == (False, 4)


def test_verify_finds_a_deleted_row(db: Path) -> None:
    """A deleted row leaves a gap in the positions: the missing position is named."""
    _tamper(db, "DELETE FROM events WHERE position = 3")
    ok, position, problem = _verify(db)
    assert (ok, position) == (False, 3)
    assert problem == "missing: positions jump from 2 to 4"


def test_verify_finds_a_deleted_last_row(db: Path) -> None:
    """Removing the tail leaves no gap, but the read model remembers the chain's head."""
    _tamper(db, "DELETE FROM events WHERE position = 5")
    ok, position, problem = _verify(db)
    assert (ok, position) == (False, 5)
    assert problem is not None
    assert "read model records version 5" in problem


def test_verify_finds_two_swapped_rows(db: Path) -> None:
    """Two rows whose contents were exchanged break the chain at the first of them."""
    _tamper(
        db,
        "UPDATE events SET position = -2 WHERE position = 2",
        "UPDATE events SET position = 2 WHERE position = 4",
        "UPDATE events SET position = 4 WHERE position = -2",
    )
    with closing(raw(db)) as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM events ORDER BY position")] == [
            "round-1",
            "call",
            "reply",
            "draft",
            "statement",
        ]
    assert _verify(db)[:2] == (False, 2)


@pytest.mark.parametrize(
    ("statement", "reported"),
    [
        (
            "UPDATE negotiations SET stage = 'in_force'",
            "the read model records stage 'in_force' where replaying the events gives 'talks'",
        ),
        ("UPDATE negotiations SET owed = 0", "the read model records owed 0 where replaying the events gives"),
        ("UPDATE negotiations SET last_event = '2031-01-01'", "the read model records last_event '2031-01-01'"),
        ("UPDATE negotiations SET stage = 'on_the_moon'", "holds stage 'on_the_moon', which is not a stage"),
        (
            "UPDATE negotiations SET awaiting = '[]'",
            'the read model records awaiting \'[]\' where replaying the events gives \'[{"party":"A"',
        ),
        ("UPDATE negotiations SET awaiting = '{\"A\": 1}'", "which is not a JSON array of owed moves"),
        ('UPDATE negotiations SET awaiting = \'[{"party": "A"}]\'', "which is not a JSON array of owed moves"),
        ("UPDATE events SET data = CAST(data AS BLOB) WHERE position = 3", "column data holds bytes"),
        ("UPDATE events SET version = 'two' WHERE position = 2", "column version holds str 'two', not int"),
    ],
)
def test_verify_reports_a_forged_read_model_or_a_cell_of_the_wrong_type(
    db: Path, statement: str, reported: str
) -> None:
    """The read model is recomputed from the events; a cell of an unexpected type is a finding, not a crash."""
    assert _verify(db)[0]
    _tamper(db, statement)
    ok, _position, problem = _verify(db)
    assert not ok
    assert problem is not None
    assert reported in problem


def test_verify_finds_positions_swapped_between_negotiations(tmp_path: Path) -> None:
    """Each negotiation's chain survives two negotiations' events exchanging positions; the
    store head, which ties every event to its position, does not."""
    path = tmp_path / "two.db"
    with SQLiteStore(path) as store:
        store.append(N, opening()[:1])
        store.append("other", [ConsultationHeld(id="o1", occurred="2022-01-10", parties=["A", "B"])])
    _tamper(
        path,
        "UPDATE events SET position = -1 WHERE position = 1",
        "UPDATE events SET position = 1 WHERE position = 2",
        "UPDATE events SET position = 2 WHERE position = -1",
    )
    ok, _position, problem = _verify(path)
    assert not ok
    assert problem is not None
    assert "where its events give position 2" in problem
    assert "positions were changed" in problem


def test_a_head_kept_elsewhere_finds_a_tail_removed_with_every_record_of_it(db: Path) -> None:
    """A forger who removes the last event and rewrites the read model and the store head to
    match leaves a store that verifies by itself; a head kept elsewhere still shows the loss."""
    with SQLiteStore(db) as store:
        kept = store.head()
        assert kept[0] == 5
        assert store.verify(head=kept).ok
        rows = [Row(s.position, s.negotiation, s.version, "", "", "", "", "", s.hash) for s in store.read_all()][:4]
        fold = Fold(N)
        for stored in store.read(N)[:4]:
            fold.apply(stored.event)
    forged = summary_of(N, fold, rows[-1].hash, utc_now())
    running = ""
    for row in rows:
        running = store_hash(running, row)
    _tamper(
        db,
        "DELETE FROM events WHERE position = 5",
        f"UPDATE meta SET value = '4:{running}' WHERE key = 'head'",
    )
    with closing(raw(db)) as conn:
        conn.execute(
            "UPDATE negotiations SET version = 4, head = ?, stage = ?, owed = ?, last_event = ?, awaiting = ?",
            (forged.head, forged.stage.value, forged.owed, forged.last_event, forged.awaiting_json()),
        )
    with SQLiteStore(db, readonly=True) as store:
        assert store.verify().ok  # nothing inside the file contradicts the forgery
        against = store.verify(head=kept)
    assert not against.ok
    assert against.problem == "the store ends at position 4, before position 5 of the head kept elsewhere"


def test_a_head_kept_elsewhere_finds_an_event_rewritten_before_it(db: Path) -> None:
    """An event before the kept head's position rewritten, chains and all, no longer gives it."""
    with SQLiteStore(db) as store:
        kept = store.head()
    _tamper(db, "UPDATE events SET data = replace(data, '\"Draft\"', '\"Forged\"') WHERE position = 2")
    with SQLiteStore(db, readonly=True) as store:
        assert not store.verify(head=kept).ok
        assert not store.verify().ok


def test_check_reports_a_broken_chain(db: Path) -> None:
    """check_store puts a failed verification first."""
    _tamper(db, "UPDATE events SET hash = 'x' WHERE position = 1")
    with SQLiteStore(db, readonly=True) as store:
        errors = check_store(store)
    assert [type(e) for e in errors] == [StoreError]
    assert str(errors[0]).startswith("position 1 (negotiation 'talks'):")


# -- failures change nothing -------------------------------------------------------------------


def test_a_lock_held_by_another_connection_changes_nothing(db: Path) -> None:
    """An append that cannot get the write lock raises StoreError; the database is as it was."""
    before = dump(db)
    with closing(raw(db)) as other:
        other.execute("BEGIN IMMEDIATE")
        with SQLiteStore(db, timeout=0.05) as store:
            with pytest.raises(StoreError, match="locked by another connection") as caught:
                store.append(N, [ProposalPublished(id="p2", occurred="2022-03-01", actor="A", to=["B"], title="T")])
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        other.execute("ROLLBACK")
    assert dump(db) == before


def test_a_full_disk_changes_nothing(db: Path) -> None:
    """SQLITE_FULL in the middle of an append (a page limit reached) rolls the whole append back."""
    before = dump(db)
    with SQLiteStore(db) as store:
        assert store._conn is not None
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        big = [
            ConsultationHeld(id=f"c{i}", occurred="2022-03-01", parties=["A", "B"], note="n" * 5000) for i in range(20)
        ]
        with pytest.raises(StoreError, match="disk is full"):
            store.append(N, big)
        assert store.version(N) == 5
    assert dump(db) == before


def test_a_read_only_database_changes_nothing(db: Path) -> None:
    """Writing through a read-only store raises StoreError."""
    before = dump(db)
    with SQLiteStore(db, readonly=True) as store:
        with pytest.raises(StoreError, match="read-only"):
            store.append(N, [ConsultationHeld(id="c9", occurred="2022-03-01", parties=["A", "B"])])
        assert store.load(N).version == 5
    assert dump(db) == before


def test_a_failing_write_in_the_middle_changes_nothing(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk error after the events were inserted (while writing the read model) rolls them back too."""
    before = dump(db)

    def broken(self: object, *summary: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite_module._Transaction, "put_summary", broken)
    with SQLiteStore(db) as store:
        with pytest.raises(StoreError, match="disk I/O error") as caught:
            store.append(N, [ConsultationHeld(id="c9", occurred="2022-03-01", parties=["A", "B"])])
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        monkeypatch.undo()
        assert store.append(N, [ConsultationHeld(id="c9", occurred="2022-03-01", parties=["A", "B"])]) == 6
    assert dump(db) != before


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (
            ['{"type": "ConsultationHeld", "occurred": "2022-03-01", "parties": ["A", "B"]}', "{not json"],
            LogSyntaxError,
        ),
        (['{"type": "ConsultationHeld", "occurred": "2022-13-01", "parties": ["A", "B"]}'], InvalidEvent),
        (['{"type": "TalksResumed", "id": "r", "occurred": "2022-03-01", "actor": "A"}'], NotPermitted),
        (
            ['{"type": "ReplyDelivered", "id": "r", "occurred": "2022-03-01", "actor": "B", "ref": "x"}'],
            UnknownReference,
        ),
        (['{"type": "ReplyDelivered", "id": "r", "occurred": "2022-03-01", "actor": "C", "ref": "draft"}'], WrongActor),
        (
            ['{"type": "ReplyDelivered", "id": "r", "occurred": "2021-03-01", "actor": "B", "ref": "draft"}'],
            DatedBeforeReference,
        ),
        (
            ['{"type": "ConsultationHeld", "id": "draft", "occurred": "2022-03-01", "parties": ["A", "B"]}'],
            DuplicateEventId,
        ),
    ],
)
def test_a_failed_import_changes_nothing(db: Path, tmp_path: Path, lines: list[str], error: type[Exception]) -> None:
    """Whatever the core refuses, an import writes none of the file; the error names file and line."""
    log = tmp_path / f"{N}.jsonl"
    good = '{"type": "ConsultationHeld", "id": "ok", "occurred": "2022-03-01", "parties": ["A", "B"]}'
    log.write_text("\n".join([good, *lines]) + "\n")
    before = dump(db)
    with SQLiteStore(db) as store, pytest.raises(error) as caught:
        import_log(store, log)
    assert isinstance(caught.value, NegotiationError)
    assert caught.value.path == str(log)
    assert caught.value.line == 1 + len(lines)
    assert dump(db) == before


def test_a_concurrency_error_changes_nothing(db: Path) -> None:
    """An append with a stale expected_version writes nothing."""
    before = dump(db)
    with SQLiteStore(db) as store, pytest.raises(ConcurrencyError):
        store.append(N, [ConsultationHeld(id="c9", occurred="2022-03-01", parties=["A", "B"])], expected_version=4)
    assert dump(db) == before


@pytest.mark.extended
@given(nst.invalid_logs(max_events=8))
def test_any_refused_log_leaves_the_store_as_it_was(bad: nst.InvalidLog) -> None:
    """For any log replay refuses, appending it writes nothing and raises the same error."""
    with SQLiteStore(":memory:") as store:
        store.append("other", opening())
        assert store._conn is not None
        before = list(store._conn.iterdump())
        with pytest.raises(bad.error):
            store.append(nst.SIMULATED, bad.events)
        assert list(store._conn.iterdump()) == before


# -- snapshots -----------------------------------------------------------------------------------


def _applied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the id of every event folded from now on."""
    applied: list[str] = []
    original = Fold.apply

    def counting(self: Fold, event: object, **options: bool) -> None:
        applied.append(getattr(event, "id", "?"))
        original(self, event, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(Fold, "apply", counting)
    return applied


def test_a_snapshot_is_written_with_the_events_it_covers(tmp_path: Path) -> None:
    """An append that makes snapshot_every events since the last snapshot writes one, in its transaction."""
    with SQLiteStore(tmp_path / "s.db", snapshot_every=3) as store:
        store.append(N, opening()[:2])
        assert store.db.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)
        store.append(N, opening()[2:])
        assert store.db.execute("SELECT version FROM snapshots").fetchall() == [(3,)]
        store.append(N, later())
        assert store.db.execute("SELECT version FROM snapshots").fetchall() == [(3,)]


def test_automatic_snapshots_count_from_an_explicit_one(tmp_path: Path) -> None:
    """After snapshot(), the next automatic snapshot comes snapshot_every events later, not
    snapshot_every events after the last automatic one (the writer's cached fold knows)."""
    with SQLiteStore(tmp_path / "s.db", snapshot_every=2) as store:
        store.append(N, opening()[:2])  # automatic, at 2
        store.append(N, opening()[2:])
        assert store.snapshot(N) == 3
        store.append(N, later()[:1])  # 4 - 3 < 2: none
        assert store.db.execute("SELECT version FROM snapshots").fetchall() == [(3,)]
        store.append(N, later()[1:])  # 5 - 3 = 2
        assert store.db.execute("SELECT version FROM snapshots").fetchall() == [(5,)]


def test_an_append_after_a_restart_keeps_the_latest_date_in_the_read_model(tmp_path: Path) -> None:
    """A writer opened anew appends an event dated before the latest one: the read model still
    names the latest date, and a load equals the replay of what is stored."""
    path = tmp_path / "s.db"
    with SQLiteStore(path, snapshot_every=3) as store:
        store.append(N, opening())
        store.append(N, later())  # latest: the statement of 2022-02-03
    early = PositionStated(id="early", occurred="2022-01-15", actor="B", summary="Still reading")
    with SQLiteStore(path, snapshot_every=3) as store:
        assert store.append(N, [early]) == 6
        (summary,) = store.negotiations()
    assert summary.last_event == "2022-02-03"
    with SQLiteStore(path) as store:
        assert store.load(N) == replay([s.event for s in store.read(N)], negotiation=N)


def test_load_replays_only_the_tail_after_the_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a snapshot at version 3, loading folds only versions 4 and 5."""
    path = tmp_path / "s.db"
    with SQLiteStore(path, snapshot_every=3) as store:
        store.append(N, opening())
        store.append(N, later())
    applied = _applied(monkeypatch)
    with SQLiteStore(path) as store:
        state = store.load(N)
    assert applied == ["call", "statement"]
    assert state.stage.value == "talks"


def test_a_snapshot_of_other_rules_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot taken under another fingerprint is never trusted: load replays everything."""
    path = tmp_path / "s.db"
    with SQLiteStore(path, snapshot_every=3) as store:
        store.append(N, opening())
        store.append(N, later())
        expected = replay([s.event for s in store.read(N)], negotiation=N)
    monkeypatch.setattr(snapshots, "FINGERPRINT", "another-machine")
    with SQLiteStore(path) as store:  # opened under other rules: the read model is recomputed first
        applied = _applied(monkeypatch)
        state = store.load(N)
    assert applied == ["round-1", "draft", "reply", "call", "statement"]
    assert state == expected  # (after: comparing next steps folds trial copies too)


def test_a_state_loaded_from_a_snapshot_reads_its_events_after_close(tmp_path: Path) -> None:
    """The events a snapshot covers are read when needed, even after the store was closed."""
    path = tmp_path / "s.db"
    with SQLiteStore(path, snapshot_every=2) as store:
        store.append(N, [*opening(), *later()])
        expected = replay([s.event for s in store.read(N)], negotiation=N)
    with SQLiteStore(path) as store:
        state = store.load(N)
    assert state.timeline == expected.timeline
    assert state == expected


def test_a_memory_database_cannot_read_after_close() -> None:
    """A ':memory:' store's lazily loaded events are gone with it: StoreError, not a crash."""
    store = SQLiteStore(":memory:", snapshot_every=2)
    store.append(N, [*opening(), *later()])
    store.load(N)  # takes the fold the append left: the next load restores the snapshot
    state = store.load(N)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        _ = state.timeline


@pytest.mark.extended
@given(st.integers(min_value=1, max_value=6), nst.valid_logs(max_events=14))
def test_snapshot_and_tail_equal_replay_at_any_interval(every: int, log: list[object]) -> None:
    """Whatever the snapshot interval, a loaded state equals the replay of the stored events:
    the one the writer hands over (appending in chunks, it went on from each snapshot it
    took), and the one restored from the store."""
    with SQLiteStore(":memory:", snapshot_every=every) as store:
        for start in range(0, len(log), 3):
            store.append(nst.SIMULATED, log[start : start + 3])  # type: ignore[arg-type]
        if not log:
            return
        expected = replay([s.event for s in store.read(nst.SIMULATED)], negotiation=nst.SIMULATED)
        assert store.load(nst.SIMULATED) == expected  # the fold the writer left
        assert store.load(nst.SIMULATED) == expected  # from the store's snapshot and tail


def test_the_fold_cache_is_bounded_and_trusts_a_fold_only_at_its_tip() -> None:
    """The writer's cache keeps the folds of at most ``size`` negotiations, the latest used,
    and hands one back only for the tip (version and head) it was folded up to."""
    cache = FoldCache(size=2)
    folds = {name: Fold(name) for name in ("a", "b", "c")}
    for name, fold in folds.items():
        cache.put(name, (1, f"head-{name}"), fold, 0)
    assert cache.take("a", (1, "head-a")) is None  # dropped: the least recently used
    assert cache.take("b", (2, "head-b")) is None  # another writer went on: not trusted
    assert cache.take("b", (1, "head-b")) is None  # and forgotten
    assert cache.take("c", (1, "head-c")) == (folds["c"], 0)


def test_a_tampered_row_that_is_not_an_event_is_reported_not_crashed_on(tmp_path: Path) -> None:
    """Rows are read back on a trusted path; one it cannot read gets the validating path's error."""
    import sqlite3

    from negotiation import ConsultationHeld, InvalidEvent, SQLiteStore

    path = tmp_path / "t.db"
    with SQLiteStore(str(path)) as store:
        store.append("n", [ConsultationHeld(id="c", occurred="2022-01-10", parties=["RU", "US"])])
    db = sqlite3.connect(path)
    try:
        db.execute("DROP TRIGGER IF EXISTS events_no_update")
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute(
            """UPDATE events SET data = '{"type": "ConsultationHeld", "id": "c", "occurred": "2022-01-10", "parties": ["RU", "US"], "level": "boss"}'"""
        )
        db.commit()
    finally:
        db.close()
    with SQLiteStore(str(path), readonly=True) as store:
        with pytest.raises(InvalidEvent, match="level='boss' must be one of"):
            store.read("n")
        assert not store.verify().ok


def test_the_write_ahead_log_shrinks_back_after_a_large_import(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large append grows the WAL to hold its transaction; after the next checkpoint the file
    is cut back to WAL_SIZE_LIMIT instead of staying that large beside the database."""
    monkeypatch.setattr(sqlite_module, "WAL_SIZE_LIMIT", 32 * 1024)
    wal = db.with_name(db.name + "-wal")
    note = "x" * 2000
    with SQLiteStore(db) as store:
        events = [
            ConsultationHeld(id=f"c{i}", occurred="2022-01-10", parties=["A", "B"], note=note) for i in range(600)
        ]
        store.append("big", events)
        grown = wal.stat().st_size
        store.append("small", opening())
        store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        store.append("small", later())
        assert grown > 1024 * 1024
        assert wal.stat().st_size <= 32 * 1024
        assert store.version("big") == 600


def test_rows_decoded_together_equal_rows_decoded_one_by_one(tmp_path: Path) -> None:
    """The tail's rows are decoded in one call; rows that do not make one item each are decoded one by one."""
    with SQLiteStore(tmp_path / "d.db") as store:
        store.append(N, [*opening(), *later()])
        rows = store.db.execute("SELECT data FROM events ORDER BY position").fetchall()
    one_by_one = [sqlite_module._event(row[0]) for row in rows]
    assert sqlite_module._events(rows) == one_by_one
    assert sqlite_module._events([]) == []
    # two rows that make a JSON array of three items: each row is decoded, and the first is not JSON
    split = [('{"type": "ConsultationHeld", "id": "x", "occurred": "2022-01-10", "parties": ["A", "B"]}, 1',), ("2",)]
    with pytest.raises(ValueError, match="Extra data"):
        sqlite_module._events(split)
    with pytest.raises(ValueError, match="Expecting property name"):
        sqlite_module._events([rows[0], ("{not json",)])


def test_a_writer_sees_what_another_connection_appended_between_its_appends(tmp_path: Path) -> None:
    """Another store object's appends between a writer's appends (to the same negotiation or
    another one) are seen, so positions stay unique and each event is checked against the
    real state."""
    path = tmp_path / "two.db"
    with SQLiteStore(path) as first, SQLiteStore(path) as second:
        first.append(N, opening())
        second.append("other", [ConsultationHeld(id="o1", occurred="2022-01-10", parties=["A", "B"])])
        first.append(N, later())  # the next position is after the other store's event
        second.append(N, [PositionStated(id="s2", occurred="2022-02-05", actor="B", ref="statement")])
        # refers to what the other store appended: refused if the writer trusted its cache
        first.append(N, [PositionStated(id="s3", occurred="2022-02-06", actor="A", ref="s2")])
        with pytest.raises(DuplicateEventId):  # and a repeat of the other store's id is one
            first.append(N, [PositionStated(id="s2", occurred="2022-02-07", actor="A")])
        assert first.version(N) == 7
        assert [s.position for s in first.read_all()] == list(range(1, 9))
        assert first.verify().ok
    with SQLiteStore(path) as store:
        assert store.load(N) == replay([s.event for s in store.read(N)], negotiation=N)


def test_a_writer_refuses_to_go_on_after_rows_written_behind_its_back(tmp_path: Path) -> None:
    """A row inserted through the store's own connection between two appends (outside the
    library) is seen: the store head no longer matches, so the next append is refused, nothing
    is written, and verify names the problem."""
    path = tmp_path / "own.db"
    with SQLiteStore(path) as store:
        store.append(N, opening())
        with SQLiteStore(tmp_path / "source.db") as other:
            other.append("other", [ConsultationHeld(id="o1", occurred="2022-01-10", parties=["A", "B"])])
        with closing(raw(tmp_path / "source.db")) as source:
            row = source.execute(
                "SELECT negotiation, version, id, type, occurred, recorded, data, hash FROM events"
            ).fetchone()
        store.db.execute(
            "INSERT INTO events (position, negotiation, version, id, type, occurred, recorded, data, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (4, *row),
        )
        with pytest.raises(StoreError, match="store head was recorded at position 3 but the events end at position 4"):
            store.append(N, later())
        assert [s.position for s in store.read_all()] == [1, 2, 3, 4]
        assert [s.version for s in store.read(N)] == [1, 2, 3]
        result = store.verify()
        assert not result.ok
        assert result.problem is not None
        assert "read model records version 0" in result.problem  # the negotiation it does not know


class _FailingCommit:
    """A store's connection whose next COMMIT fails as a full disk would (the transaction is
    rolled back by the store); everything else goes to the real connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.armed = True

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)


@pytest.mark.parametrize("many", [False, True])
def test_an_append_whose_commit_fails_leaves_no_trace_in_the_writer(db: Path, many: bool) -> None:
    """The commit of an append fails after its fold was cached: the store is as it was, and the
    next append through the same store object goes on from what is stored, not from the fold
    of the append that failed."""
    with SQLiteStore(db) as store:
        version = store.append(N, [ConsultationHeld(id="c8", occurred="2022-03-01", parties=["A", "B"])])
        real = store._conn
        assert real is not None
        store._conn = _FailingCommit(real)  # type: ignore[assignment]
        lost = ConsultationHeld(id="c9", occurred="2022-03-02", parties=["A", "B"])
        append = (lambda: store.append_many({N: [lost]})) if many else (lambda: store.append(N, [lost]))
        with pytest.raises(StoreError, match="disk is full"):
            append()
        store._conn = real
        assert store.version(N) == version
        again = ConsultationHeld(id="c10", occurred="2022-03-03", parties=["A", "B"])
        assert store.append(N, [again]) == version + 1
        ids = [e.id for e in store.load(N).events]
        assert ids[-2:] == ["c8", "c10"]
        assert store.verify().ok


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_store_in_a_directory_nobody_may_write_to_is_read(db: Path) -> None:
    """A copy on someone else's share: read commands work; SQLite cannot create the files of its
    write-ahead log there, so the store is read as a file that does not change. (As root, the
    check runs in a child that has become ``nobody``: root may write anywhere.)"""
    from click.testing import CliRunner

    from negotiation.cli import cli

    share = Path(tempfile.mkdtemp(prefix="share-"))
    shutil.copy(db, share / "s.db")
    (share / "s.db").chmod(0o444)
    share.chmod(0o555)
    CliRunner().invoke(cli, ["list", str(db)])  # everything the child needs is imported before it forks
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            if os.geteuid() == 0:
                import pwd

                nobody = pwd.getpwnam("nobody")
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
            with SQLiteStore(share / "s.db", readonly=True) as store:
                found = [store.version(N), store.verify().ok, store.load(N).stage.value]
            found += [
                CliRunner().invoke(cli, [cmd, str(share / "s.db"), *extra]).exit_code
                for cmd, extra in (("list", []), ("status", [N]), ("export", [N]))
            ]
            os.write(write_fd, json.dumps(found).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        found = pipe.read()
    _, status = os.waitpid(pid, 0)
    share.chmod(0o755)
    shutil.rmtree(share)
    assert status == 0
    assert json.loads(found) == [5, True, "talks", 0, 0, 0]


@pytest.mark.parametrize("text", ["", "5", "5:", "x:ab", "0:ab", "3:" + "g" * 64, "3:" + "a" * 63])
def test_a_malformed_head_is_refused_with_the_form_expected(text: str) -> None:
    with pytest.raises(ValueError, match="must be POSITION:HEX as `negotiation head` prints it"):
        parse_head(text)


def test_a_head_reads_back_as_printed() -> None:
    assert parse_head("0:") == (0, "")
    assert parse_head(" 12:" + "ab" * 32 + "\n") == (12, "ab" * 32)
