"""The command line at its edges: outputs that could destroy a store, standard input, odd
terminals and locales, interrupts, long lists, and the store head."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from negotiation import ConsultationHeld, ProposalPublished, SQLiteStore, Stage, read_log, write_log
from negotiation import cli_store as cli_store_module
from negotiation.cli import cli
from negotiation.cli import main as console_main
from tests.conftest import FOUNDING

FOUNDING_ID = FOUNDING.stem


def run(*args: str | Path, input: bytes | str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"internal error: {result.exception!r}")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    assert run("append", path, FOUNDING)[0] == 0
    return path


# -- export: never over the store, whole or not at all ----------------------------------------------


@pytest.mark.parametrize("name", ["{db}", "./{db}", "{db}-wal", "{db}-shm", "link"])
def test_export_refuses_to_write_over_the_store(db: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db.parent)
    os.link(db, db.parent / "link")  # the same file under another name
    before = db.read_bytes()
    code, _, err = run("export", db.name, FOUNDING_ID, "-o", name.format(db=db.name))
    assert code == 1
    assert "that is the store" in err
    assert db.read_bytes() == before
    with SQLiteStore(db, readonly=True) as store:
        assert store.verify().ok


def test_a_failed_export_leaves_the_output_file_as_it_was(db: Path) -> None:
    keep = db.parent / "keep.jsonl"
    keep.write_text("precious\n")
    code, _, err = run("export", db, "no-such-negotiation", "-o", keep)
    assert code == 1
    assert "'no-such-negotiation' is not in" in err
    assert keep.read_text() == "precious\n"
    assert sorted(p.name for p in db.parent.iterdir() if p.name.startswith(".keep")) == []  # no temporary left


def test_an_export_replaces_the_output_whole_and_re_imports_identically(db: Path) -> None:
    out = db.parent / "out.jsonl"
    out.write_text("old content\n")
    out.chmod(0o640)
    assert run("export", db, FOUNDING_ID, "-o", out)[0] == 0
    assert out.stat().st_mode & 0o777 == 0o640  # the file it replaced kept its permissions
    fresh = db.parent / "fresh.jsonl"
    umask = os.umask(0o022)
    try:
        assert run("export", db, FOUNDING_ID, "-o", fresh)[0] == 0
    finally:
        os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o644  # a new file: what open() would have made
    again = db.parent / "again.db"
    assert run("append", again, out)[0] == 0
    with SQLiteStore(db) as a, SQLiteStore(again) as b:
        assert [s.event for s in a.read(FOUNDING_ID)] == [s.event for s in b.read(FOUNDING_ID)]


def test_an_export_into_a_missing_directory_is_one_clear_line(db: Path) -> None:
    code, _, err = run("export", db, FOUNDING_ID, "-o", "/nonexistent/dir/x.jsonl")
    assert code == 1
    assert (
        err
        == "Error: --output /nonexistent/dir/x.jsonl: cannot write there: the directory /nonexistent/dir does not exist\n"
    )


# -- what append refuses ---------------------------------------------------------------------------


def test_an_empty_log_is_refused_and_creates_no_store(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    code, _, err = run("append", tmp_path / "new.db", empty)
    assert code == 1
    assert "the log holds no event; nothing was appended" in err
    assert not (tmp_path / "new.db").exists()


def test_a_file_name_that_is_not_utf8_does_not_become_a_negotiation_id(tmp_path: Path) -> None:
    log = Path(os.fsdecode(bytes(tmp_path) + b"/\xff\xfe.jsonl"))
    log.write_text(json.dumps({"type": "ConsultationHeld", "occurred": "2022-01-01", "parties": ["A", "B"]}) + "\n")
    code, _, err = run("append", tmp_path / "s.db", log)
    assert code == 1
    assert "names no negotiation and none was given (name one with -n)" in err
    assert run("append", tmp_path / "s.db", log, "-n", "talks")[0] == 0


# -- standard input ------------------------------------------------------------------------------------


def test_a_dash_reads_the_log_from_standard_input(tmp_path: Path) -> None:
    text = FOUNDING.read_bytes()
    code, out, _ = run("status", "-", "-n", FOUNDING_ID, "--as-of", "2022-02-02", input=text)
    assert code == 0
    assert out.startswith(f"{FOUNDING_ID} as of 2022-02-02: stage talks")
    code, _, err = run("check", "-", input=text)
    assert (code, err) == (0, "")
    assert run("append", tmp_path / "s.db", "-", "-n", FOUNDING_ID, input=text)[0] == 0
    code, _, err = run("check", "-", input=b'{"type": "Nope", "occurred": "2022"}\n')
    assert code == 1
    assert err.startswith("<stdin>:1: type='Nope' is not an event type")


# -- what reaches a terminal ---------------------------------------------------------------------------


def test_control_characters_in_ids_and_titles_are_escaped(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    events = [
        ProposalPublished(
            id="p\x1b[31m1", negotiation="n\x9b2J", occurred="2022-01-01", actor="RU", to=["US"], title="T\x07"
        ),
    ]
    write_log(events, log)
    code, out, _ = run("append", tmp_path / "s.db", log)
    assert code == 0
    assert out == "n\\x9b2J: 1 event appended, now at version 1\n"
    for args in (("list", tmp_path / "s.db"), ("status", log), ("timeline", log), ("status", log, "--json")):
        code, out, _ = run(*args)
        assert code == 0
        assert not any(c in out for c in "\x1b\x9b\x07"), args
    assert "p\\x1b[31m1" in run("status", log)[1]


@pytest.mark.extended
def test_output_is_utf8_whatever_the_locale(db: Path, tmp_path: Path) -> None:
    """With a cp1252 stdout (what Windows gives a redirected stdout) an export still re-imports
    and Cyrillic names print."""
    log = tmp_path / "ru.jsonl"
    write_log(
        [ConsultationHeld(id="к1", negotiation="переговоры", occurred="2022-01-01", parties=["Россия", "США"])], log
    )
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"}
    store = tmp_path / "ru.db"
    assert run("append", store, log)[0] == 0
    for args in (["export", str(store), "переговоры"], ["timeline", str(log)], ["status", str(log)]):
        done = subprocess.run([sys.executable, "-m", "negotiation", *args], capture_output=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        assert "Россия" in done.stdout.decode("utf-8")
    exported = tmp_path / "exported.jsonl"
    exported.write_bytes(
        subprocess.run(
            [sys.executable, "-m", "negotiation", "export", str(store), "переговоры"],
            capture_output=True,
            env=env,
            check=True,
        ).stdout
    )
    assert [le.event for le in read_log(exported).negotiations["переговоры"]] == [
        s.event for s in SQLiteStore(store).read("переговоры")
    ]


# -- interrupts ------------------------------------------------------------------------------------


def test_ctrl_c_after_the_commit_reports_the_import_as_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = cli_store_module.import_log

    def then_interrupted(*args: object, **kwargs: object) -> dict[str, int]:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_store_module, "import_log", then_interrupted)
    code, out, err = run("append", tmp_path / "s.db", FOUNDING)
    assert code == 0
    assert err == f"Interrupted after the import of {FOUNDING} was complete:\n"
    assert out.startswith(f"{FOUNDING_ID}: ")


def test_ctrl_c_before_the_commit_says_nothing_was_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> dict[str, int]:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_store_module, "import_log", interrupted)
    code, _, err = run("append", tmp_path / "s.db", FOUNDING)
    assert code == 130
    assert "Interrupted: nothing was appended." in err


def test_ctrl_c_anywhere_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", interrupted)
    with pytest.raises(SystemExit) as exit_:
        console_main()
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "Interrupted.\n"


def test_timeout_is_how_long_append_waits_for_another_writer(db: Path) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        code, _, err = run("append", db, FOUNDING, "--timeout", "0.2")
        other.execute("ROLLBACK")
    assert code == 1
    assert "locked" in err


# -- long lists ---------------------------------------------------------------------------------------


def test_status_caps_long_lists_and_lists_retractions_only_with_all(tmp_path: Path) -> None:
    log = tmp_path / "many.jsonl"
    write_log(
        [
            ProposalPublished(
                id=f"p{i}", negotiation="many", occurred="2022-01-01", actor="RU", to=["US"], title=f"Draft {i}"
            )
            for i in range(40)
        ],
        log,
    )
    code, out, _ = run("status", log, "--as-of", "2022-01-31")
    assert code == 0
    owed = [line for line in out.splitlines() if " owes " in line]
    assert len(owed) == 30
    assert "  ... and 10 more owed moves (--all shows them)" in out
    assert "US owes ReplyDelivered or ProposalPublished on 'p0' ('Draft 0', from RU, since 2022-01-01, 30 days)" in out
    assert "EventRetracted" not in out
    assert "(and retractions: --all lists the events that may be retracted)" in out
    code, everything, _ = run("status", log, "--as-of", "2022-01-31", "--all")
    assert len([line for line in everything.splitlines() if " owes " in line]) == 40
    assert "EventRetracted" in everything


# -- the store head ---------------------------------------------------------------------------------------


def test_head_then_verify_head_finds_a_store_cut_short(db: Path) -> None:
    code, out, _ = run("head", db)
    assert code == 0
    kept = out.strip()
    position, _, digest = kept.partition(":")
    assert int(position) == len(FOUNDING.read_text().splitlines())
    assert len(digest) == 64
    assert json.loads(run("head", db, "--json")[1]) == {"position": int(position), "head": digest}
    assert run("verify", db, "--head", kept)[0] == 0
    code, _, err = run("verify", db, "--head", "nonsense")
    assert code == 2
    assert "must be POSITION:HEX" in err
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TRIGGER events_no_delete")
        conn.execute("DELETE FROM events WHERE position = ?", (int(position),))
        conn.commit()
    code, _, err = run("verify", db, "--head", kept)
    assert code == 1


# -- simulate and paths take what status takes -----------------------------------------------------------


def test_simulate_and_paths_take_a_store_and_a_negotiation_like_status(db: Path) -> None:
    from_file = run("simulate", FOUNDING, "--as-of", "2022-02-02", "--runs", "20", "--steps", "5", "--json")
    from_store = run("simulate", db, FOUNDING_ID, "--as-of", "2022-02-02", "--runs", "20", "--steps", "5", "--json")
    assert from_file[0] == from_store[0] == 0
    assert json.loads(from_file[1]) == json.loads(from_store[1])
    paths_file = run("paths", FOUNDING, "--to", "text_agreed", "--as-of", "2022-02-02", "--json")
    paths_store = run("paths", db, FOUNDING_ID, "--to", "text_agreed", "--as-of", "2022-02-02", "--json")
    assert paths_file[0] == paths_store[0] == 0
    assert json.loads(paths_file[1]) == json.loads(paths_store[1])
    piped = run(
        "paths",
        "-",
        "-n",
        FOUNDING_ID,
        "--to",
        "text_agreed",
        "--as-of",
        "2022-02-02",
        "--json",
        input=FOUNDING.read_bytes(),
    )
    assert json.loads(piped[1]) == json.loads(paths_file[1])


def test_a_log_dated_at_the_end_of_the_calendar_simulates(tmp_path: Path) -> None:
    log = tmp_path / "late.jsonl"
    write_log(
        [ProposalPublished(id="p1", negotiation="late", occurred="9999-12-31", actor="RU", to=["US"], title="x")], log
    )
    code, out, _ = run("simulate", log, "--runs", "40", "--steps", "20", "--seed", "3", "--json")
    assert code == 0
    assert json.loads(out)["runs"] == 40


def test_export_reads_the_store_a_chunk_at_a_time(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = run("export", db, FOUNDING_ID)[1]
    from negotiation.store import logs

    monkeypatch.setattr(logs, "EXPORT_CHUNK", 3)
    assert run("export", db, FOUNDING_ID)[1] == whole
    assert len(whole.splitlines()) > 3


def test_a_streamed_import_names_the_line_of_a_refused_event_far_into_the_file(tmp_path: Path) -> None:
    from negotiation.store import base

    log = tmp_path / "long.jsonl"
    events = [
        ConsultationHeld(id=f"c{i}", negotiation="long", occurred="2022-01-01", parties=["A", "B"])
        for i in range(3 * base.STREAM_CHUNK)
    ]
    events.append(
        ProposalPublished(id="c5", negotiation="long", occurred="2022-01-02", actor="A", to=["B"], title="Again")
    )
    write_log(events, log)
    code, _, err = run("append", tmp_path / "s.db", log)
    assert code == 1
    assert (
        err
        == f"Error: {log}:{len(events)} event 'c5': id 'c5' is already stored in negotiation 'long' with other content\n"
    )
    with SQLiteStore(tmp_path / "s.db", readonly=True) as store:
        assert store.negotiations() == []


@pytest.mark.extended
def test_ctrl_c_during_start_up_never_shows_a_traceback() -> None:
    """The installed command, interrupted at moments spread over its start-up (the package being
    imported) and its work: one line or a quiet exit, never a traceback. (An entry point
    generated from ``[project.scripts]`` imports the package before any of its code runs, and
    showed a traceback about two times in three here.)

    Each interrupt comes once the script runs: a Ctrl-C during Python's own start-up (the
    ``site`` module, which an editable install's finder makes slow) is CPython's "Fatal Python
    error", and one before the script's first line is a traceback of "line 0", both before any
    code of ours exists. ``-X importtime`` writes a line as each import ends: the first after
    ``site`` is one the script started.
    """
    import signal
    import time

    script = Path(sys.executable).parent / "negotiation"
    assert script.exists(), "the project is installed (pip install -e .)"
    for step in range(20):
        child = subprocess.Popen(
            [sys.executable, "-X", "importtime", script, "status", FOUNDING],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stderr is not None
        after_site = False
        for line in child.stderr:
            if after_site:
                break
            after_site = line.rstrip().endswith(b"| site")
        time.sleep(step * 0.012)
        child.send_signal(signal.SIGINT)
        _, rest = child.communicate(timeout=30)
        err = b"".join(line + b"\n" for line in rest.splitlines() if not line.startswith(b"import time:"))
        assert b"Traceback" not in err, err.decode(errors="replace")
        assert child.returncode in (0, 130, -signal.SIGINT), (child.returncode, err)


def test_a_ctrl_c_python_cannot_raise_during_the_import_ends_the_command_as_one_line(tmp_path: Path) -> None:
    """A Ctrl-C that lands in one of the import system's callbacks cannot be raised there:
    Python prints "Exception ignored in ..." with a traceback, unless the script takes it. A
    stand-in ``negotiation.cli`` whose import runs such a callback shows it every time."""
    fake = tmp_path / "negotiation"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "cli.py").write_text(
        "import weakref\n"
        "class Held: pass\n"
        "def interrupt(_): raise KeyboardInterrupt\n"
        "held = Held()\n"
        "ref = weakref.ref(held, interrupt)\n"
        "del held\n"
        "def main(): print('ran')\n"
    )
    script = Path(__file__).parents[1] / "bin" / "negotiation"
    done = subprocess.run(
        [sys.executable, script],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, b"", b"Interrupted.\n")


def test_a_line_repeated_a_chunk_later_is_refused_as_replay_refuses_it(tmp_path: Path) -> None:
    """An exact repeat of a line written earlier in the same import is an error in the log
    (check says so), however far apart the two are; importing the file again once it is
    stored is a retry that adds nothing."""
    from negotiation.store import base

    log = tmp_path / "long.jsonl"
    events = [
        ConsultationHeld(id=f"c{i}", negotiation="long", occurred="2022-01-01", parties=["A", "B"])
        for i in range(2 * base.STREAM_CHUNK)
    ]
    write_log([*events, events[5]], log)
    code, _, err = run("append", tmp_path / "s.db", log)
    assert code == 1
    assert err == f"Error: {log}:{len(events) + 1} event 'c5': id 'c5' is already used in this negotiation\n"
    assert run("check", log)[2].startswith(
        f"{log}:{len(events) + 1} event 'c5': id 'c5' is already used in this negotiation"
    )
    with SQLiteStore(tmp_path / "s.db", readonly=True) as store:
        assert store.negotiations() == []
    write_log(events, log)
    assert run("append", tmp_path / "s.db", log)[0] == 0
    assert run("append", tmp_path / "s.db", log)[1] == "long: 0 events appended, now at version 2000\n"


# -- the contract from the command line ----------------------------------------------------------


def test_types_lists_every_type_and_describes_one_from_the_machine_and_the_rules() -> None:
    from negotiation import EVENT_TYPES
    from negotiation.machine import TABLE, permitted_types

    code, out, _ = run("types")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(EVENT_TYPES)
    listed = json.loads(run("types", "--json")[1])
    assert [d["type"] for d in listed] == list(EVENT_TYPES)
    for described in listed:
        name = described["type"]
        if name == "EventRetracted":
            continue
        # the stages it is permitted in are the machine's, and each transition is a table branch
        assert described["rule"]["stages"] == [
            s for s in (st.value for st in Stage) if name in permitted_types(Stage(s))
        ]
        assert len(described["rule"]["transitions"]) == sum(len(b) for (_, kind), b in TABLE.items() if kind == name)
    signed = json.loads(run("types", "AgreementSigned", "--json")[1])
    assert [f["name"] for f in signed["fields"] if f["required"]] == ["occurred", "parties", "ref"]
    assert signed["parties"] == ["parties"]
    assert {"from": "text_agreed", "to": "signed", "when": ["completes_signatures"]} in signed["rule"]["transitions"]
    assert signed["rule"]["meets_deadlines"] is True
    code, out, _ = run("types", "AgreementSigned")
    assert "  in text_agreed: -> signed when completes_signatures" in out
    code, _, err = run("types", "TreatyFeasted")
    assert code == 2
    assert "'TreatyFeasted' is not an event type" in err


def test_types_names_each_field_as_a_log_line_writes_it() -> None:
    """Every field of every type gets a kind in the contract's words, never a Python annotation;
    an enumeration's field lists exactly its values, a party field says party."""
    import enum

    import attrs

    from negotiation import EVENT_TYPES
    from negotiation import events as vocabulary
    from negotiation.events import PARTY_FIELDS

    plain = {
        "text", "text or integer", "true or false", "date", "list of texts", "party", "list of parties",
        "event id", "list of event ids", "date-time with a UTC offset",
    }  # fmt: skip
    for described in json.loads(run("types", "--json")[1]):
        cls = EVENT_TYPES[described["type"]]
        for field in described["fields"]:
            kind = field["json"]
            declared = str(attrs.fields_dict(cls)[field["name"]].type).removesuffix(" | None")
            values = getattr(vocabulary, declared, None)
            if isinstance(values, type) and issubclass(values, enum.Enum):
                assert kind == "one of: " + ", ".join(v.value for v in values), (described["type"], field)
            elif field["name"] in PARTY_FIELDS[cls]:
                assert kind in ("party", "list of parties"), (described["type"], field)
            else:
                assert kind in plain or kind.startswith("object: "), (described["type"], field)
    _, out, _ = run("types", "ReplyDelivered")
    assert "  * ref          event id" in out
    assert "    stance       one of: accept, reject, counter, partial, acknowledge" in out


def test_status_names_the_participants_in_other_roles() -> None:
    """A mediator is named under the stage line, with its role; a log without roles says nothing of them."""
    from click.testing import CliRunner

    from negotiation.cli import cli
    from tests.conftest import EVENTS

    result = CliRunner().invoke(cli, ["status", str(EVENTS / "us-iran-2025.jsonl"), "--as-of", "2025-05-24"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == "Also taking part: OM (mediator)"
    founding = CliRunner().invoke(cli, ["status", str(EVENTS / "security-guarantees-2021.jsonl")])
    assert "Also taking part" not in founding.stdout


def test_status_names_the_instruments_where_there_are_several() -> None:
    """Where a negotiation has a side instrument or several texts, status lists each with its
    kind and status under the stage line; a single principal text goes without saying."""
    from click.testing import CliRunner

    from negotiation.cli import cli
    from tests.conftest import EVENTS

    result = CliRunner().invoke(cli, ["status", str(EVENTS / "jcpoa.jsonl"), "--as-of", "2014-06-01"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == "Instruments: jpoa (interim, in_force)"
    colombia = CliRunner().invoke(cli, ["status", str(EVENTS / "colombia-farc-2016.jsonl"), "--as-of", "2016-10-10"])
    assert "final-text-agreed (agreement, refused)" in colombia.stdout
    new_start = CliRunner().invoke(cli, ["status", str(EVENTS / "new-start.jsonl")])
    assert "Instruments" not in new_start.stdout
