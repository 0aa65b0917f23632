"""The report's data and page (``negotiation report``), without a browser.

Every frame of the slider must be what ``status --as-of`` says for its date: checked against a
replay of its own for every shipped log, on the one-pass path and on the replay-per-date path.
The page itself is tested in a real browser in ``test_report_browser.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from negotiation import SQLiteStore, read_log, replay
from negotiation import report as report_module
from negotiation.cli import cli
from negotiation.events import EVENT_TYPES
from negotiation.machine import Stage
from negotiation.report import MARKS, STAGE_COLOURS, render_report, report_data

EVENTS = Path(__file__).resolve().parent.parent / "events"
LOGS = sorted(EVENTS.glob("*.jsonl"))


def _status(log: list, date: str) -> dict:
    state = replay(log, as_of=date)
    return {
        "stage": state.stage.value,
        "events": len(state.events),
        "awaiting": [(a.party, list(a.types), a.ref) for a in state.awaiting],
        "permitted": [
            (p.type, None if p.actors is None else list(p.actors), list(p.refs))
            for p in state.permitted
            if p.type != "EventRetracted"
        ],
        "overdue": [d.id for d in state.overdue()],
        "retractable": any(p.type == "EventRetracted" for p in state.permitted),
    }


def _frame(data: dict, frame: dict) -> dict:
    return {
        "stage": frame["stage"],
        "events": frame["events"],
        "awaiting": [(o["party"], o["types"], o["ref"]) for o in (data["owed"][k] for k in frame["awaiting"])],
        "permitted": [(s["type"], s["actors"], s["refs"]) for s in (data["steps"][k] for k in frame["permitted"])],
        "overdue": [d["id"] for d in frame["overdue"]],
        "retractable": frame["retractable"],
    }


@pytest.mark.extended
@pytest.mark.parametrize("path", LOGS, ids=[p.stem for p in LOGS])
def test_every_frame_is_what_status_as_of_its_date_says(path: Path) -> None:
    log = read_log(path).events()
    data = report_data(log)
    dates = sorted({e.occurred.last_day.isoformat() for e in log})
    assert [f["date"] for f in data["frames"]] == dates  # a shipped log has fewer dates than FRAMES
    for frame in data["frames"]:
        assert _frame(data, frame) == _status(log, frame["date"]), frame["date"]


@pytest.mark.parametrize("path", [p for p in LOGS if p.stem in ("us-iran-2025", "paris-agreement", "new-start")])
def test_the_one_pass_and_the_replay_per_date_give_the_same_report(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = read_log(path).events()
    one_pass = report_data(log)
    assert one_pass["in_date_order"]
    monkeypatch.setattr(report_module, "_in_date_order", lambda events: False)
    per_date = report_data(log)
    assert {**per_date, "in_date_order": True} == one_pass


def test_a_log_out_of_date_order_is_replayed_per_date() -> None:
    log = read_log(EVENTS / "camp-david-1978.jsonl").events()
    data = report_data(log)
    assert not data["in_date_order"]
    for band in data["stages"]:  # each band starts where the stage as of its day begins
        date = next(f["date"] for f in data["frames"] if f["day"] == band["day"])
        assert replay(log, as_of=date).stage.value == band["stage"]


def test_the_stage_bands_and_instrument_lives_follow_replay() -> None:
    log = read_log(EVENTS / "new-start.jsonl").events()
    data = report_data(log)
    stages = {f["date"]: f["stage"] for f in data["frames"]}
    bands = iter(data["stages"])
    band, following = next(bands), next(bands, None)
    for frame in data["frames"]:
        while following is not None and frame["day"] >= following["day"]:
            band, following = following, next(bands, None)
        assert band["stage"] == stages[frame["date"]]
    (text,) = [i for i in data["instruments"] if i["id"] == "new-start-text"]
    assert [s["status"] for s in text["life"]] == ["agreed", "signed", "ratifying", "in_force", "terminated"]


def test_fewer_frames_than_dates_keep_the_first_and_the_last_date() -> None:
    log = read_log(EVENTS / "paris-agreement.jsonl").events()
    data = report_data(log, frames=5)
    dates = sorted({e.occurred.last_day.isoformat() for e in log})
    assert len(data["frames"]) == 5
    assert data["frames"][0]["date"] == dates[0]
    assert data["frames"][-1]["date"] == dates[-1]
    assert [f["date"] for f in data["frames"]] == sorted(f["date"] for f in data["frames"])
    for frame in data["frames"]:
        assert _frame(data, frame) == _status(log, frame["date"])
    assert report_data(log, frames=1)["frames"][0]["date"] == dates[-1]
    with pytest.raises(ValueError, match="frames=0 must be at least 1"):
        report_data(log, frames=0)


def test_lanes_put_parties_first_then_other_roles_then_outsiders() -> None:
    log = read_log(EVENTS / "paris-agreement.jsonl").events()
    data = report_data(log)
    state = replay(log)
    roles = [lane["role"] for lane in data["lanes"]]
    assert roles == ["all", *(["party"] * len(state.parties)), "facilitator", "outsider"]
    assert [lane["name"] for lane in data["lanes"] if lane["role"] == "party"] == list(state.parties)
    names = [lane["name"] for lane in data["lanes"]]
    for event, drawn in zip(log, data["events"], strict=True):
        assert drawn["id"] == event.id
        makers = {getattr(event, "actor", None), *(getattr(event, "co_actors", None) or ())}
        makers |= set(getattr(event, "parties", None) or ())
        makers.discard(None)
        assert {names[i] for i in drawn["lanes"]} == (makers or {"(the talks)"})


def test_a_reply_links_to_what_it_answers() -> None:
    log = read_log(EVENTS / "security-guarantees-2021.jsonl").events()
    data = report_data(log)
    ids = [e["id"] for e in data["events"]]
    for event, drawn in zip(log, data["events"], strict=True):
        if event.ref_id is not None:
            assert ids[drawn["refs"][0]] == event.ref_id
        assert drawn["answers"] == (event.TYPE in report_module.ANSWERS and event.ref_id is not None)
    reply = data["events"][ids.index("us-reply")]
    assert reply["answers"]
    assert reply["source"]["url"].startswith("http")


def test_every_type_and_stage_has_a_mark_and_a_colour() -> None:
    assert set(MARKS) == set(EVENT_TYPES)
    assert set(STAGE_COLOURS) == set(Stage)
    shapes = {shape for _, shape in MARKS.values()}
    assert shapes <= {"circle", "ring", "square", "triangle", "diamond", "star", "cross"}
    assert len(set(MARKS.values())) == len(MARKS)  # no two types look alike


def test_the_page_embeds_text_as_data_never_as_markup() -> None:
    hostile = "</script><script>alert(1)</script><!-- & ]]>"
    log = read_log(
        [
            json.dumps(
                {"type": "ProposalPublished", "id": "p", "occurred": "2024-01-01", "actor": "A", "to": ["B"]}
                | {"title": hostile, "negotiation": "<b>n</b>"}
            )
        ]
    ).events()
    page = render_report(report_data(log))
    assert page.count("</script>") == 2  # the data's and the script's own
    assert "<b>n</b>" not in page
    assert "&lt;b&gt;n&lt;/b&gt;" in page
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)[1])
    assert data["events"][0]["fields"]["title"] == hostile
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", page)  # nothing to fetch


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_the_command_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, output = _run("report", str(EVENTS / "us-iran-2025.jsonl"), "-o", str(out))
    assert code == 0, output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "us-iran-2025" in page
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_command_reads_a_store(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    log = read_log(EVENTS / "jcpoa.jsonl").events()
    with SQLiteStore(db) as store:
        store.append("jcpoa", log)
        store.append("salt-ii", read_log(EVENTS / "salt-ii.jsonl").events())
    out = tmp_path / "r.html"
    code, output = _run("report", str(db), "jcpoa", "-o", str(out))
    assert code == 0, output
    assert '"negotiation":"jcpoa"' in out.read_text(encoding="utf-8")
    code, output = _run("report", str(db), "-o", str(out))
    assert code == 1
    assert "several negotiations" in output


def test_the_command_names_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"type": "ProposalPublished", "id": "p", "occurred": "2024-01-02", "actor": "A", "to": ["B"], "title": "t"}\n'
        '{"type": "ReplyDelivered", "id": "r", "occurred": "2024-01-03", "actor": "C", "ref": "p"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "r.html"
    code, output = _run("report", str(bad), "-o", str(out))
    assert code == 1
    assert output.startswith(f"Error: {bad}:2 event 'r'")
    assert len(output.splitlines()) == 1
    assert not out.exists()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, output = _run("report", str(empty), "-o", str(out))
    assert code == 1
    assert "holds no event" in output
    code, output = _run("report", str(EVENTS / "jcpoa.jsonl"), "-o", str(tmp_path / "missing" / "r.html"))
    assert code == 1
    assert "does not exist" in output
    copy = tmp_path / "jcpoa.jsonl"
    copy.write_bytes((EVENTS / "jcpoa.jsonl").read_bytes())
    code, output = _run("report", str(copy), "-o", str(copy))
    assert code == 1
    assert "that is the log itself" in output
    assert copy.read_bytes() == (EVENTS / "jcpoa.jsonl").read_bytes()
    code, output = _run("report", str(copy), "-o", str(out), "--frames", "0")
    assert code == 2
    assert "--frames" in output


def test_progress_is_reported_per_date(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log = read_log(EVENTS / "us-iran-2025.jsonl").events()
    seen: list[tuple[int, int]] = []
    report_data(log, progress=lambda done, total: seen.append((done, total)))
    dates = len({e.occurred.last_day for e in log})
    assert seen == [(i, dates) for i in range(1, dates + 1)]
    monkeypatch.setattr("negotiation.cli_report.PROGRESS_FROM", 10)
    result = CliRunner().invoke(cli, ["report", str(EVENTS / "us-iran-2025.jsonl"), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0
    assert "Replaying" in result.output


def test_without_a_browser_the_browser_tests_skip_but_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import browser

    monkeypatch.setenv("NEGOTIATION_CHROMIUM", "/nonexistent/chromium")
    assert browser.chromium_path() is None
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no browser test: no chromium"):
        browser.unavailable("no chromium found")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI: no chromium"):
        browser.unavailable("no chromium found")
