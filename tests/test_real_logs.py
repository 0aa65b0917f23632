"""Every log in events/ replays, and reaches the stages its README promises on each date."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from negotiation import TalksSuspended, WrongActor, check_log, read_log, replay_log
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


def _dated() -> list[tuple[str, dict[str, Any]]]:
    """(file, checkpoint) from each log's ``NAME.checkpoints.json``: the stage and every owed
    move an expert names on a date, and why."""
    return [
        (path.name.replace(".checkpoints.json", ".jsonl"), checkpoint)
        for path in sorted(EVENTS.glob("*.checkpoints.json"))
        for checkpoint in json.loads(path.read_text(encoding="utf-8"))
    ]


LOGS = sorted(EVENTS.glob("*.jsonl"))
CHECKPOINTS = _checkpoints()
DATED = _dated()


def test_there_are_real_logs_with_checkpoints() -> None:
    """The founding log and six others are there, each with at least four checkpoints (a table
    in events/README.md, or a checkpoints file naming the owed moves too)."""
    names = {p.name for p in LOGS}
    assert "security-guarantees-2021.jsonl" in names
    assert len(names) >= 7
    for name in names:
        count = sum(1 for f, _, _ in CHECKPOINTS if f == name) + sum(1 for f, _ in DATED if f == name)
        assert count >= 4, name
    assert all(c["why"].strip() for _, c in DATED)


@pytest.mark.parametrize(("name", "checkpoint"), DATED, ids=[f"{f}@{c['as_of']}" for f, c in DATED])
def test_stage_and_owed_moves_at_dated_checkpoint(name: str, checkpoint: dict[str, Any]) -> None:
    """As of the checkpoint's date, the log is at the stage the checkpoint names, and exactly
    the owed moves it names are owed (party, ref)."""
    state = replay_log(EVENTS / name, as_of=checkpoint["as_of"])
    assert state.stage == checkpoint["stage"], checkpoint["why"]
    owed = sorted((a.party, a.ref) for a in state.awaiting)
    assert owed == sorted(tuple(pair) for pair in checkpoint["owed"]), checkpoint["why"]


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


def test_a_mediator_tables_a_proposal_but_may_not_suspend_the_talks() -> None:
    """US-Iran 2025: Oman, the mediator, put its own proposal to both parties, who owed it
    replies; Oman is never a party, and may not suspend the talks."""
    state = replay_log(EVENTS / "us-iran-2025.jsonl", as_of="2025-05-24")
    assert state.roles == {"OM": "mediator"}
    assert "OM" not in state.parties
    assert {(a.party, a.ref) for a in state.awaiting} >= {("US", "om-rome-proposals"), ("IR", "om-rome-proposals")}
    suspension = TalksSuspended(occurred="2025-05-25", actor="OM")
    with pytest.raises(WrongActor, match="is a mediator, not a party"):
        state.apply(suspension)
    assert state.permits(TalksSuspended(occurred="2025-05-25", actor="IR"))


def test_a_witness_signs_without_becoming_a_party() -> None:
    """Camp David: Carter signed the Egypt-Israel treaty as witness: the US owes no ratification."""
    state = replay_log(EVENTS / "camp-david-1978.jsonl", as_of="1979-03-26")
    text = state.agreement
    assert text is not None
    assert "US" in text.witnesses
    assert "US" not in text.parties
    assert {a.party for a in state.awaiting if a.types == ("AgreementRatified",)} == {"EG", "IL"}


def test_a_paused_mediation_and_its_return() -> None:
    """Gaza 2024-25: Qatar paused its mediation on 9 November 2024 and came back in December."""
    log = EVENTS / "gaza-ceasefire-2024.jsonl"
    assert "QA" not in replay_log(log, as_of="2024-11-20").roles
    assert replay_log(log, as_of="2025-01-14").roles["QA"] == "mediator"
    assert replay_log(log, as_of="2025-01-14").roles["EG"] == "mediator"
