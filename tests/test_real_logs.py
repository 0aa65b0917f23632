"""Every log in events/ replays, and reaches the stages its README promises on each date."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from negotiation import check_log, read_log, replay_log
from tests.conftest import EVENTS


def _checkpoints() -> list[tuple[str, str, str]]:
    """(file, date, stage) rows of the checkpoint tables in events/README.md."""
    rows: list[tuple[str, str, str]] = []
    current = None
    for line in (EVENTS / "README.md").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^## `([\w.-]+\.jsonl)`", line):
            current = m[1]
        elif current and (m := re.match(r"^\| (\d{4}(?:-\d{2}){0,2}) \| `(\w+)` \|", line)):
            rows.append((current, m[1], m[2]))
    return rows


LOGS = sorted(EVENTS.glob("*.jsonl"))
CHECKPOINTS = _checkpoints()


def test_there_are_real_logs_with_checkpoints() -> None:
    """The founding log and at least two others are there, each with at least four checkpoints."""
    names = {p.name for p in LOGS}
    assert "security-guarantees-2021.jsonl" in names
    assert len(names) >= 3
    for name in names:
        assert sum(1 for f, _, _ in CHECKPOINTS if f == name) >= 4, name


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_log_is_clean_and_sourced(path: Path) -> None:
    """check finds no error; every event has an explicit id and a source."""
    assert check_log(path) == []
    log = read_log(path)
    for logged in log.negotiations[log.select()]:
        assert logged.event.source is not None, f"{path.name}:{logged.line} has no source"


@pytest.mark.parametrize(("name", "date", "stage"), CHECKPOINTS, ids=[f"{f}@{d}" for f, d, _ in CHECKPOINTS])
def test_stage_at_checkpoint(name: str, date: str, stage: str) -> None:
    """Replayed as of the checkpoint's date, the log is at the stage its README gives."""
    assert replay_log(EVENTS / name, as_of=date).stage == stage


def test_real_logs_reach_the_stages_the_founding_one_does_not() -> None:
    """Between them, the other logs reach signed, ratifying, in_force and terminated."""
    reached = set()
    for path in LOGS:
        log = read_log(path)
        dates = sorted({str(le.event.occurred) for le in log.negotiations[log.select()]})
        reached |= {replay_log(log, as_of=d).stage.value for d in dates}
    assert {"framework_agreed", "text_agreed", "signed", "ratifying", "in_force", "terminated"} <= reached


def test_founding_log_as_of_the_seed_briefing() -> None:
    """On 2022-02-02 the founding log is in talks and Russia owes the three moves of the seed."""
    state = replay_log(EVENTS / "security-guarantees-2021.jsonl", as_of="2022-02-02")
    assert state.stage == "talks"
    owed = {(a.party, a.ref, a.types) for a in state.awaiting}
    assert owed == {
        ("RU", "us-reply", ("ReplyDelivered", "ProposalPublished")),
        ("RU", "nato-reply", ("ReplyDelivered", "ProposalPublished")),
        ("RU", "us-offer-leader-contact", ("ContactAccepted", "ContactDeclined")),
    }
    assert state.documents["us-reply"].disclosed_by == "elpais-discloses-us-reply"
    before = replay_log(EVENTS / "security-guarantees-2021.jsonl", as_of="2022-02-01")
    assert not before.documents["us-reply"].public
    assert not before.documents["nato-reply"].public
    kinds = {p.type for p in state.permitted}
    assert {
        "ReplyDelivered",
        "ContactHeld",
        "ConsultationHeld",
        "ProposalPublished",
        "FrameworkAgreed",
        "TalksSuspended",
        "TalksBrokenOff",
    } <= kinds
