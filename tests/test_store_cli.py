"""The store's commands: append, export, list, verify; status, timeline and check on a store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from negotiation import SQLiteStore, cli_copy, cli_store, read_log
from negotiation.cli import cli
from tests.conftest import EVENTS, FOUNDING

LOGS = sorted(EVENTS.glob("*.jsonl"))


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def dump(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.iterdump())


@pytest.fixture(scope="module")
def store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store holding every log of events/."""
    path = tmp_path_factory.mktemp("store") / "all.db"
    for log in LOGS:
        code, _, err = run("append", path, log)
        assert code == 0, err
    return path


def test_every_log_round_trips_through_append_and_export(store_db: Path) -> None:
    """append then export gives back each log's events (with negotiation filled in; recorded as
    the log gave it, so known_at reads the store as it reads the file)."""
    assert LOGS
    for log in LOGS:
        original = read_log(log)
        (name,) = original.ids()
        code, out, err = run("export", store_db, name)
        assert code == 0, err
        exported = read_log(out.splitlines(), negotiation=name).events()
        assert len(exported) == len(original.events())
        for before, after in zip(original.events(), exported, strict=True):
            assert after.to_dict() == {**before.to_dict(), "negotiation": name}


def test_an_export_reimports_identically(store_db: Path, tmp_path: Path) -> None:
    """Exporting, importing into a new store and exporting again gives the same lines (and hashes)."""
    name = "security-guarantees-2021"
    _, first, _ = run("export", store_db, name)
    exported = tmp_path / "export.jsonl"
    exported.write_text(first, encoding="utf-8")
    again = tmp_path / "again.db"
    assert run("append", again, exported)[0] == 0
    assert run("export", again, name)[1] == first
    with SQLiteStore(store_db, readonly=True) as a, SQLiteStore(again, readonly=True) as b:
        assert [s.hash for s in a.read(name)] == [s.hash for s in b.read(name)]


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_status_of_the_store_equals_status_of_the_log(store_db: Path, log: Path) -> None:
    """status DB ID prints what status LOG prints (text and JSON, today and in the past)."""
    name = read_log(log).ids()[0]
    assert run("status", store_db, name) == run("status", log)
    assert run("status", store_db, name, "--json", "--detail") == run("status", log, "--json", "--detail")
    assert run("status", store_db, name, "--as-of", "2015-01-01") == run("status", log, "--as-of", "2015-01-01")
    assert run("status", store_db, "--negotiation", name) == run("status", log)
    assert run("timeline", store_db, name) == run("timeline", log)


def test_status_of_the_founding_log_on_the_seed_day_from_a_store(store_db: Path) -> None:
    """The founding example, read from the store as of 2022-02-02: talks."""
    code, out, _ = run("status", store_db, "security-guarantees-2021", "--as-of", "2022-02-02", "--json")
    assert code == 0
    assert json.loads(out)["stage"] == "talks"


def test_check_and_verify_a_store(store_db: Path) -> None:
    """check reports no error; verify names how many events it checked."""
    code, out, _ = run("check", store_db)
    assert (code, out.strip()) == (0, f"{store_db}: 0 errors")
    code, out, _ = run("verify", store_db)
    total = sum(len(read_log(log).events()) for log in LOGS)
    assert (code, out.strip()) == (0, f"{store_db}: {total} events verified: every hash chain matches")


def test_list_shows_each_negotiation(store_db: Path) -> None:
    """list prints a table, or JSON with --json, from the read model."""
    code, out, _ = run("list", store_db)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["negotiation", "stage", "version", "last", "event", "owed"]
    assert any(line.split()[:3] == ["security-guarantees-2021", "broken_off", "27"] for line in lines)
    code, out, _ = run("list", store_db, "--json")
    data = json.loads(out)
    assert {d["id"] for d in data} == {read_log(log).ids()[0] for log in LOGS}
    assert set(data[0]) == {"id", "stage", "version", "last_event", "owed", "awaiting", "head", "updated"}
    assert all(len(d["awaiting"]) == d["owed"] for d in data)


def test_append_again_appends_nothing(tmp_path: Path) -> None:
    """Importing the same log twice is a no-op the second time, and says so."""
    db = tmp_path / "twice.db"
    assert run("append", db, FOUNDING)[1].strip() == "security-guarantees-2021: 27 events appended, now at version 27"
    before = dump(db)
    assert run("append", db, FOUNDING)[1].strip() == "security-guarantees-2021: 0 events appended, now at version 27"
    assert dump(db) == before


def test_append_warns_of_fields_no_type_defines(tmp_path: Path) -> None:
    """Fields a type does not define are imported (kept as extra), and append says how many,
    pointing at check to name them; a log without any gets no warning."""
    log = tmp_path / "typo.jsonl"
    log.write_text(
        '{"type": "ConsultationHeld", "occurred": "2022-01-01", "parties": ["A", "B"], "fromat": "bilateral"}\n'
        '{"type": "ConsultationHeld", "occurred": "2022-01-02", "parties": ["A", "B"], "rnd": 2, "venu": "Oslo"}\n'
    )
    result = CliRunner().invoke(cli, ["append", str(tmp_path / "t.db"), str(log)])
    assert result.exit_code == 0
    assert result.stdout.strip() == "typo: 2 events appended, now at version 2"
    assert result.stderr.strip() == (
        f"warning: {log}: 3 fields that no type defines, kept as extra (negotiation check {log} names them)"
    )
    with SQLiteStore(tmp_path / "t.db") as store:  # stored as they were written
        assert [stored.event.extra for stored in store.read("typo")] == [
            {"fromat": "bilateral"},
            {"rnd": 2, "venu": "Oslo"},
        ]
    assert CliRunner().invoke(cli, ["append", str(tmp_path / "f.db"), str(FOUNDING)]).stderr == ""


def test_append_names_the_negotiation_of_lines_without_one(tmp_path: Path) -> None:
    """--negotiation names the negotiation of lines that name none (default: the file stem)."""
    log = tmp_path / "stem.jsonl"
    log.write_text('{"type": "ConsultationHeld", "occurred": "2022-01-01", "parties": ["A", "B"]}\n')
    db = tmp_path / "n.db"
    assert run("append", db, log)[0] == 0
    assert run("append", db, log, "--negotiation", "named")[0] == 0
    assert [line.split()[0] for line in run("list", db)[1].splitlines()[1:]] == ["named", "stem"]


def test_a_refused_import_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    """A log with a bad line: exit 1, one line on stderr with file and line, the store as it was."""
    db = tmp_path / "bad.db"
    run("append", db, FOUNDING)
    before = dump(db)
    log = tmp_path / "security-guarantees-2021.jsonl"
    log.write_text(
        FOUNDING.read_text(encoding="utf-8")
        + '{"type": "ReplyDelivered", "id": "late", "occurred": "2022-03-01", "actor": "RU", "ref": "nowhere"}\n',
        encoding="utf-8",
    )
    code, out, err = run("append", db, log)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"Error: {log}:28 event 'late': ")
    assert dump(db) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("export", "{db}", "nobody"),
            "Error: negotiation 'nobody' is not in {db}; it holds: 'security-guarantees-2021'",
        ),
        (
            ("status", "{db}", "nobody"),
            "Error: negotiation 'nobody' is not in {db}; it holds: 'security-guarantees-2021'",
        ),
        (("status", "{db}", "a", "--negotiation", "b"), "Error: two negotiations named: 'a' and --negotiation 'b'"),
        (("list", "{other}"), "Error: {other}: a SQLite database, but not an event store"),
        (("verify", "{other}"), "Error: {other}: a SQLite database, but not an event store"),
    ],
)
def test_store_command_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """Library errors become one line on stderr and exit code 1 (usage errors exit 2)."""
    db = tmp_path / "one.db"
    run("append", db, FOUNDING)
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
    code, _, err = run(*(a.format(db=db, other=other) for a in args))
    assert code in (1, 2)
    assert message.format(db=db, other=other) in err
    assert "Traceback" not in err


def test_status_needs_a_negotiation_when_the_store_holds_several(store_db: Path) -> None:
    """Without an id, a store with several negotiations is an error that lists them."""
    code, _, err = run("status", store_db)
    assert code == 1
    assert "holds several negotiations" in err


def test_verify_fails_on_a_tampered_store(tmp_path: Path) -> None:
    """verify exits 1 and names the first position that does not match."""
    db = tmp_path / "tampered.db"
    run("append", db, FOUNDING)
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET data = replace(data, 'Geneva', 'Vienna') WHERE position = 1")
    code, _, err = run("verify", db)
    assert code == 1
    assert (
        err.strip()
        == f"Error: {db}: position 1 (negotiation 'security-guarantees-2021'): hash does not match the event and the previous hash of its negotiation"
    )
    code, _, err = run("check", db)
    assert code == 1
    assert "position 1" in err


def test_a_large_import_shows_a_progress_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From PROGRESS_FROM events on, append draws a progress bar on stderr."""
    monkeypatch.setattr(cli_store, "PROGRESS_FROM", 10)
    code, out, err = run("append", tmp_path / "bar.db", FOUNDING)
    assert code == 0
    assert "Appending" in err
    assert out.strip() == "security-guarantees-2021: 27 events appended, now at version 27"


def test_a_large_verify_and_copy_show_progress_bars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From PROGRESS_FROM events on, verify draws a bar per phase, and copy one for copying
    and one per phase of verifying the copy, on stderr; stdout says what it always says."""
    db = tmp_path / "big.db"
    assert run("append", db, FOUNDING)[0] == 0
    monkeypatch.setattr(cli_store, "PROGRESS_FROM", 10)
    code, out, err = run("verify", db)
    assert code == 0
    assert out.strip() == f"{db}: 27 events verified: every hash chain matches"
    assert [line.strip() for line in err.splitlines() if line.strip()] == list(cli_store.VERIFY_PHASES.values())
    monkeypatch.setattr(cli_copy, "PROGRESS_FROM", 10)
    code, out, err = run("copy", db, tmp_path / "copy.db")
    assert code == 0
    assert out.splitlines()[0].startswith("copied 27 events")
    assert [line.strip() for line in err.splitlines() if line.strip()] == [
        "Copying",
        "Verifying the copy: checking the hash chains",
        "Verifying the copy: replaying the negotiations",
        "Verifying the copy: checking the snapshots",
    ]
    monkeypatch.setattr(cli_store, "PROGRESS_FROM", 10_000)
    assert run("verify", db)[2] == ""  # a small store: no bar
    monkeypatch.setattr(cli_store, "PROGRESS_FROM", 10)
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:  # a head recorded elsewhere than the rows end
        conn.execute("UPDATE meta SET value = '5:abc' WHERE key = 'head'")
    code, _, err = run("verify", db)
    assert code == 1
    assert err.splitlines()[-1] == (
        f"Error: {db}: the store: the store head was recorded at position 5 but the events end at position 27: "
        "the store was changed outside this library"
    )


def test_the_console_script_reads_a_store(store_db: Path) -> None:
    """The installed command detects a store by its header: status DB ID works end to end."""
    done = subprocess.run(
        [sys.executable, "-m", "negotiation.cli", "status", str(store_db), "jcpoa"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("jcpoa: stage ")


def test_a_locked_store_is_one_line(tmp_path: Path) -> None:
    """append while another connection holds the write lock past --timeout: one line, exit 1,
    nothing written."""
    db = tmp_path / "locked.db"
    run("append", db, FOUNDING)
    before = dump(db)
    log = tmp_path / "more.jsonl"
    log.write_text('{"type": "ConsultationHeld", "occurred": "2022-03-01", "parties": ["RU", "US"]}\n')
    with closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        code, _, err = run("append", db, log, "--negotiation", "security-guarantees-2021", "--timeout", "0.05")
        other.execute("ROLLBACK")
    assert code == 1
    assert err == f"Error: {db}: the database is locked by another connection; gave up appending\n"
    assert dump(db) == before


def test_every_subpackage_ships() -> None:
    """pyproject.toml lists every package of the source tree (a wheel would miss negotiation.store)."""
    import tomllib

    from tests.conftest import ROOT

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "negotiation").rglob("__init__.py")}
    assert found <= listed


def test_known_at_reads_a_store_as_it_reads_the_file(store_db: Path) -> None:
    """The store keeps its append time as its own metadata: ``--known-at`` gives the same answer
    on a store holding a log as on the file (the JCPOA in force by 2016, though imported today)."""
    log = EVENTS / "jcpoa.jsonl"
    for moment in ("2014-01-01", "2016-01-01", "2019-01-01"):
        _, from_file, _ = run("status", log, "--known-at", moment, "--json")
        _, from_store, _ = run("status", store_db, "jcpoa", "--known-at", moment, "--json")
        assert json.loads(from_store)["stage"] == json.loads(from_file)["stage"]
    _, in_2016, _ = run("status", store_db, "jcpoa", "--known-at", "2016-01-01", "--json")
    assert json.loads(in_2016)["stage"] == "in_force"
