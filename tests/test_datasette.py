"""Browsing a store with Datasette: the metadata `negotiation datasette-metadata` prints, and
its canned queries run by Datasette itself (in process) against a store of the shipped logs,
each returning what the library says."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from negotiation import SQLiteStore, Stage, read_log
from negotiation.cli import cli
from negotiation.datasette import EVENT_FIELDS, QUERIES, metadata
from negotiation.store.schema import SCHEMA_VERSION
from tests.conftest import EVENTS

datasette_app = pytest.importorskip(
    "datasette.app", reason="Datasette is not installed (pip install 'negotiation[datasette]')"
)

LOGS = sorted(EVENTS.glob("*.jsonl"))

#: Logs appended only up to a point where moves are owed (every shipped log ends owing none):
#: the negotiation's first N events.
CUT = {"security-guarantees-2021": 18, "gaza-ceasefire-2024": 14, "cfe-treaty": 53}


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def build_store(path: Path) -> None:
    """Every shipped log in the store at ``path``: whole with `negotiation append`, or the first
    events of those in :data:`CUT` through the library."""
    for log in LOGS:
        if log.stem in CUT:
            parsed = read_log(log)
            (name,) = parsed.ids()
            with SQLiteStore(path) as store:
                store.append(name, parsed.events(name)[: CUT[log.stem]])
        else:
            code, _, err = run("append", path, log)
            assert code == 0, err


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("datasette") / "negotiations.db"
    build_store(path)
    return path


def served(path: Path, *urls: str, meta: dict[str, Any] | None = None) -> list[tuple[int, Any]]:
    """Start Datasette on the store with its metadata, in process, and GET each URL: the status
    code and the JSON body of each."""

    async def fetch() -> list[tuple[int, Any]]:
        ds = datasette_app.Datasette([str(path)], metadata=meta if meta is not None else metadata(path.stem))
        await ds.invoke_startup()
        return [((response := await ds.client.get(url)).status_code, response.json()) for url in urls]

    return asyncio.run(fetch())


def browse(path: Path, *urls: str, meta: dict[str, Any] | None = None) -> list[Any]:
    """The JSON bodies of the URLs, each of which must answer 200."""
    found = served(path, *urls, meta=meta)
    assert [status for status, _ in found] == [200] * len(urls), found
    return [body for _, body in found]


def query(path: Path, name: str, **params: str) -> list[dict[str, Any]]:
    """The rows of a canned query, as Datasette returns them."""
    extra = "".join(f"&{key}={value}" for key, value in params.items())
    (rows,) = browse(path, f"/{path.stem}/{name}.json?_shape=array{extra}")
    assert isinstance(rows, list)
    return rows


# -- the canned queries ------------------------------------------------------------------------


def test_negotiations_by_stage_is_the_read_model_in_stage_order(store_db: Path) -> None:
    """One row per negotiation: its stage, version, latest date and owed count, as
    store.negotiations() gives them, in the stage machine's order, then by id."""
    with SQLiteStore(store_db, readonly=True) as store:
        summaries = store.negotiations()
    order = list(Stage)
    expected = [
        {
            "stage": s.stage.value,
            "in_stage": sum(1 for other in summaries if other.stage is s.stage),
            "negotiation": s.id,
            "version": s.version,
            "last_event": s.last_event,
            "owed": s.owed,
        }
        for s in sorted(summaries, key=lambda s: (order.index(s.stage), s.id))
    ]
    assert query(store_db, "negotiations_by_stage") == expected
    assert len({row["stage"] for row in expected}) > 2  # several stages, so the order is tested


def test_owed_by_party_lists_each_owed_move_once(store_db: Path) -> None:
    """One row per move owed, as store.load(id).awaiting gives them, by party, then negotiation,
    then in the order the negotiation owes them; with what the ref names."""
    expected = []
    with SQLiteStore(store_db, readonly=True) as store:
        for summary in store.negotiations():
            state = store.load(summary.id)
            events = {e.id: e for e in state.events}
            for index, owed in enumerate(state.awaiting):
                ref = events[owed.ref]
                row = {
                    "party": owed.party,
                    "negotiation": summary.id,
                    "ref": owed.ref,
                    "types": json.dumps(list(owed.types), separators=(",", ":")),
                    "ref_type": ref.TYPE,
                    "ref_title": ref.to_dict().get("title"),
                    "stage": summary.stage.value,
                }
                expected.append(((owed.party, summary.id, index), row))
    rows = query(store_db, "owed_by_party")
    assert rows == [row for _, row in sorted(expected, key=lambda pair: pair[0])]
    assert {row["negotiation"] for row in rows} == set(CUT)
    assert {row["ref_type"] for row in rows} >= {"ProposalPublished", "ContactProposed", "TextAgreed"}


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_negotiation_events_are_the_log_in_order(store_db: Path, log: Path) -> None:
    """The negotiation's events in log order, with their position, version, id, type, date and
    the fields of their JSON (a list as JSON text), as the log holds them."""
    parsed = read_log(log)
    (name,) = parsed.ids()
    events = parsed.events(name)[: CUT.get(name)]
    with SQLiteStore(store_db, readonly=True) as store:
        stored = store.read(name)
    assert [s.event.id for s in stored] == [e.id for e in events]
    expected = []
    for held, event in zip(stored, events, strict=True):
        data = event.to_dict()
        fields = {}
        for column, path, _ in EVENT_FIELDS:
            value: Any = data
            for key in path.removeprefix("$.").split("."):
                value = value.get(key) if isinstance(value, dict) else None
            fields[column] = (
                json.dumps(value, ensure_ascii=False, separators=(",", ":")) if isinstance(value, list) else value
            )
        expected.append(
            {
                "position": held.position,
                "version": held.version,
                "id": event.id,
                "type": event.TYPE,
                "occurred": str(event.occurred),
                **fields,
                "recorded": held.recorded.isoformat(),
            }
        )
    assert query(store_db, "negotiation_events", negotiation=name) == expected


def test_negotiation_events_of_an_unknown_negotiation_is_empty(store_db: Path) -> None:
    assert query(store_db, "negotiation_events", negotiation="no-such-talks") == []


# -- the tables --------------------------------------------------------------------------------


def test_tables_are_described_and_the_derived_ones_hidden(store_db: Path) -> None:
    """/-/metadata.json carries the titles, descriptions and column descriptions; the database
    page lists snapshots, checkpoints and meta as hidden; the table page shows a column's description."""
    name = store_db.stem
    shown, database, table = browse(store_db, "/-/metadata.json", f"/{name}.json", f"/{name}/negotiations.json")
    assert shown == metadata(name)
    tables = shown["databases"][name]["tables"]
    assert tables["negotiations"]["title"] == "Negotiations"
    assert "owed" in tables["negotiations"]["columns"]["awaiting"]
    assert tables["events"]["columns"]["position"].startswith("its place in the whole store")
    hidden = {t["name"]: t["hidden"] for t in database["tables"]}
    assert hidden == {"events": False, "negotiations": False, "snapshots": True, "checkpoints": True, "meta": True}
    assert "awaiting" in table["columns"]


def test_every_table_and_column_of_the_schema_is_described(tmp_path: Path) -> None:
    """The metadata names exactly the tables and columns a new store has (a schema change
    without its description fails here)."""
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        schema = {t: {r[1] for r in conn.execute(f"PRAGMA table_info('{t}')")} for t in names}
    tables = metadata("new")["databases"]["new"]["tables"]
    assert {t: set(tables[t]["columns"]) for t in tables} == schema


def test_the_canned_queries_run_on_an_empty_store(tmp_path: Path) -> None:
    """A store with no events yet: every query runs and returns no row."""
    path = tmp_path / "empty.db"
    SQLiteStore(path).close()
    assert query(path, "negotiations_by_stage") == []
    assert query(path, "owed_by_party") == []
    assert set(QUERIES) == {"negotiations_by_stage", "owed_by_party", "negotiation_events"}


# -- the migration -----------------------------------------------------------------------------


def test_a_version_3_store_is_migrated_and_its_owed_moves_filled(tmp_path: Path, store_db: Path) -> None:
    """A store of schema 3 has no awaiting column: the command warns, owed_by_party fails in
    Datasette; opened for writing once, the column is filled from the events and the query
    returns every owed move."""
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(store_db)) as source, closing(sqlite3.connect(path)) as target:
        source.backup(target)
    expected = query(path, "owed_by_party")
    assert expected
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("ALTER TABLE negotiations DROP COLUMN awaiting")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        conn.commit()
    code, out, err = run("datasette-metadata", path)
    assert code == 0
    assert json.loads(out) == metadata("old")
    assert err.startswith(f"Warning: {path} is a store of schema version 3 (this version writes {SCHEMA_VERSION})")
    ((status, body),) = served(path, "/old/owed_by_party.json")
    assert (status, body["error"]) == (400, "no such column: negotiations.awaiting")
    SQLiteStore(path).close()  # opened for writing: migrated
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert query(path, "owed_by_party") == expected
    assert run("datasette-metadata", path)[2] == ""


# -- the command -------------------------------------------------------------------------------


def test_the_command_prints_the_metadata_for_the_files_stem(store_db: Path, tmp_path: Path) -> None:
    """The database name is the file's stem, as Datasette names it; -o writes the same JSON."""
    code, out, err = run("datasette-metadata", store_db)
    assert (code, err) == (0, "")
    assert json.loads(out) == metadata("negotiations")
    output = tmp_path / "metadata.json"
    assert run("datasette-metadata", store_db, "-o", output) == (0, "", "")
    assert output.read_text(encoding="utf-8") == out
    assert browse(store_db, "/-/metadata.json", meta=json.loads(out))[0]["databases"]["negotiations"]


def _not_a_store(tmp_path: Path, kind: str) -> tuple[Path | str, str]:
    """A path (or URL) that is not a SQLite store, and what the error says about it."""
    if kind == "log":
        return EVENTS / "jcpoa.jsonl", "not a SQLite store"
    if kind == "missing":
        return tmp_path / "missing.db", "no such file"
    if kind == "directory":
        return tmp_path, "a directory, not a store"
    if kind == "empty":
        path = tmp_path / "empty.db"
        sqlite3.connect(path).close()  # a file of no bytes: not even SQLite's header
        return path, "not a SQLite store"
    if kind == "empty-database":
        path = tmp_path / "vacuumed.db"
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("CREATE TABLE t (x)")
            conn.execute("DROP TABLE t")
        return path, "an empty SQLite database, not a store"
    if kind == "other-database":
        path = tmp_path / "people.db"
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("CREATE TABLE people (name TEXT)")
        return path, "a SQLite database, but not an event store"
    assert kind == "url"
    return "postgresql://ann:s3cret@db.example/talks", "a PostgreSQL URL: Datasette serves SQLite files"


@pytest.mark.parametrize("kind", ["log", "missing", "directory", "empty", "empty-database", "other-database", "url"])
def test_the_command_refuses_what_is_not_a_sqlite_store(tmp_path: Path, kind: str) -> None:
    """One line on stderr, exit code 1, no traceback, nothing on stdout."""
    target, said = _not_a_store(tmp_path, kind)
    code, out, err = run("datasette-metadata", target)
    assert (code, out) == (1, "")
    assert err.startswith("Error: ")
    assert said in err
    assert len(err.strip().splitlines()) == 1
    assert "s3cret" not in err


def test_the_command_refuses_to_write_over_the_store(store_db: Path) -> None:
    """-o naming the store itself is refused before anything is written."""
    before = store_db.read_bytes()
    code, out, err = run("datasette-metadata", store_db, "-o", store_db)
    assert (code, out) == (1, "")
    assert err.startswith("Error: --output")
    assert store_db.read_bytes() == before
