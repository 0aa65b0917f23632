"""The command line: status, timeline, check, diagram; errors are one line and exit code 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from negotiation.cli import cli
from tests.conftest import FOUNDING
from tests.test_logfile import BAD_LINES, DRAFT


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_status_json_of_the_founding_log_on_the_seed_day() -> None:
    """status --json as of 2022-02-02: talks, Russia owes moves on the US and NATO replies and the US offer."""
    code, out, _ = run("status", str(FOUNDING), "--as-of", "2022-02-02", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["negotiation"] == "security-guarantees-2021"
    assert data["stage"] == "talks"
    assert {(a["party"], a["ref"]) for a in data["awaiting"]} == {
        ("RU", "us-reply"),
        ("RU", "nato-reply"),
        ("RU", "us-offer-leader-contact"),
    }
    assert all(set(a) == {"party", "types", "ref"} for a in data["awaiting"])
    assert all(set(p) >= {"type", "actors", "refs"} for p in data["permitted"])
    assert {"type": "ReplyDelivered", "actors": ["RU"], "refs": ["us-reply", "nato-reply"]} in data["permitted"]


def test_status_text_names_stage_owed_moves_and_steps() -> None:
    """The text form has the stage line, the owed moves and the permitted steps."""
    code, out, _ = run("status", str(FOUNDING), "--as-of", "2022-02-02")
    assert code == 0
    assert out.startswith("security-guarantees-2021 as of 2022-02-02: stage talks (")
    assert "  RU owes ContactAccepted or ContactDeclined on 'us-offer-leader-contact'" in out
    assert "Permitted next steps:" in out


def test_status_detail_and_known_at() -> None:
    """--detail adds documents and the timeline; --known-at cuts by recording time."""
    code, out, _ = run("status", str(FOUNDING), "--json", "--detail", "--as-of", "2022-02-02")
    data = json.loads(out)
    assert code == 0
    assert {"documents", "contacts", "agreements", "positions", "deadlines", "timeline"} <= set(data)
    code, out, _ = run("status", str(FOUNDING), "--json", "--known-at", "2021-12-16")
    assert json.loads(out)["stage"] == "proposal_open"


def test_timeline_is_sorted_and_json_lines_reimport() -> None:
    """timeline prints events by date; --json prints lines that read back as the same events."""
    code, out, _ = run("timeline", str(FOUNDING), "--json")
    assert code == 0
    dates = [json.loads(line)["occurred"][:10] for line in out.splitlines()]
    assert dates == sorted(dates)
    code, text, _ = run("timeline", str(FOUNDING), "--as-of", "2021-06-16")
    assert text.splitlines() == [text.splitlines()[0]]
    assert "ContactHeld" in text


@pytest.mark.parametrize(("line", "error", "message"), BAD_LINES, ids=[e.__name__ for _, e, _ in BAD_LINES])
def test_errors_are_one_line_exit_1(tmp_path: Path, line: str, error: type, message: str) -> None:
    """Each kind of bad input: one line on stderr naming file, line and culprit; exit 1."""
    log = tmp_path / "log.jsonl"
    log.write_text(f"{DRAFT}\n{line}\n", encoding="utf-8")
    code, out, err = run("status", str(log))
    assert code == 1
    assert out == ""
    assert err.startswith(f"Error: {log}:2{message}")
    assert err.count("\n") == 1


def test_check_exit_codes(tmp_path: Path) -> None:
    """check exits 0 on a clean log and 1 with every error listed otherwise."""
    assert run("check", str(FOUNDING))[0] == 0
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join([DRAFT, BAD_LINES[0][0], BAD_LINES[7][0]]) + "\n", encoding="utf-8")
    code, out, err = run("check", str(log), "--json")
    assert code == 1
    assert [(e["line"], e["error"]) for e in json.loads(out)] == [(2, "LogSyntaxError"), (3, "UnknownReference")]
    code, _, err = run("check", str(log))
    assert code == 1
    assert err.splitlines()[-1] == f"{log}: 2 errors"


def test_check_warns_of_fields_the_contract_does_not_define(tmp_path: Path) -> None:
    """A misspelt optional field is kept (in extra) and replays, so check names it as a warning,
    with the field it most resembles, and still exits 0; --json lists only errors."""
    from negotiation import read_log
    from negotiation.logfile import unknown_fields

    reply = '{"id": "r", "type": "ReplyDelivered", "occurred": "2022-01-02", "actor": "US", "ref": "draft", '
    log = tmp_path / "typo.jsonl"
    log.write_text(DRAFT + "\n" + reply + '"stnace": "reject", "desk": "Europe"}\n', encoding="utf-8")
    code, out, err = run("check", str(log))
    assert code == 0
    assert err.splitlines() == [
        f"warning: {log}:2 event 'r': ReplyDelivered has no field 'stnace' (kept in extra); did you mean 'stance'?",
        f"warning: {log}:2 event 'r': ReplyDelivered has no field 'desk' (kept in extra)",
    ]
    assert out.strip() == f"{log}: 0 errors, 2 unknown fields"
    code, out, err = run("check", str(log), "--json")
    assert (code, json.loads(out)) == (0, [])
    assert "did you mean 'stance'?" in err
    assert [(u.line, u.field, u.suggestion) for u in unknown_fields(read_log(log))] == [
        (2, "stnace", "stance"),
        (2, "desk", None),
    ]
    assert unknown_fields(read_log(FOUNDING)) == []
    piped = CliRunner().invoke(cli, ["check", "-", "-n", "typo"], input=log.read_bytes())
    assert piped.exit_code == 0
    assert "warning: <stdin>:2 event 'r': ReplyDelivered has no field 'stnace'" in piped.stderr


def test_diagram_is_mermaid() -> None:
    """diagram prints a Mermaid state diagram with every stage."""
    code, out, _ = run("diagram")
    assert code == 0
    assert "stateDiagram-v2" in out
    assert "talks --> framework_agreed: FrameworkAgreed" in out
    assert "suspended --> text_agreed: TalksResumed [paused_in_text_agreed]" in out


@pytest.mark.extended
def test_console_script_never_shows_a_traceback(tmp_path: Path) -> None:
    """Through ``python -m negotiation``, a missing file gives one line, no traceback."""
    missing = subprocess.run(
        [sys.executable, "-m", "negotiation", "status", str(tmp_path / "none.jsonl")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert missing.stderr == f"Error: {tmp_path / 'none.jsonl'}: cannot read the log: No such file or directory\n"
    assert (
        "Usage:"
        in subprocess.run(
            [sys.executable, "-m", "negotiation", "--help"], capture_output=True, text=True, check=True
        ).stdout
    )


def test_unexpected_error_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A bug surfacing as an unexpected exception still gives one line and exit 1, no traceback."""
    import negotiation.cli as module

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "load_state", broken)
    monkeypatch.setattr(sys, "argv", ["negotiation", "status", str(FOUNDING)])
    with pytest.raises(SystemExit) as info:
        module.main()
    assert info.value.code == 1
    assert capsys.readouterr().err == "Error: internal error: RuntimeError: boom (please report this)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2022-02-30"], "Error: as_of='2022-02-30' is not a valid date: day is out of range for month\n"),
        (
            ["--known-at", "yesterday"],
            "Error: known_at='yesterday' is not a date: expected YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time with a UTC offset\n",
        ),
        (
            ["-n", "nope"],
            f"Error: {FOUNDING}: negotiation 'nope' is not in this log; it holds: 'security-guarantees-2021'\n",
        ),
    ],
)
def test_bad_options_are_one_line(args: list[str], message: str) -> None:
    """A bad --as-of, --known-at or --negotiation is one line naming the value, exit 1."""
    code, out, err = run("status", str(FOUNDING), *args)
    assert (code, out, err) == (1, "", message)


@pytest.mark.parametrize("command", [None, *sorted(cli.commands)])
def test_help_fits_80_columns(command: str | None) -> None:
    """Click rewraps help to the terminal's width, unless a paragraph is marked to be kept as
    written: only command examples are kept, and only they may run past 80 columns."""
    args = [command, "--help"] if command else ["--help"]
    out = CliRunner().invoke(cli, args, terminal_width=80).output
    wide = [line for line in out.splitlines() if len(line) > 80 and not line.lstrip().startswith("negotiation ")]
    assert wide == []
