"""The runnable scripts in scripts/ work as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EVENTS, ROOT


def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


def test_replay_script_prints_one_line_per_negotiation() -> None:
    """scripts/replay.py replays every log in events/, one line each, through the public API."""
    done = script("replay.py", "--as-of", "2022-02-02")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(list(EVENTS.glob("*.jsonl")))
    founding = next(line for line in lines if line.startswith("security-guarantees-2021:"))
    assert founding.startswith("security-guarantees-2021: talks, ")
    assert "RU owes ContactAccepted on us-offer-leader-contact" in founding


@pytest.mark.extended
def test_replay_script_json_and_errors(tmp_path: Path) -> None:
    """--json prints status objects; a broken log is reported on stderr with exit 1."""
    done = script("replay.py", "--json", str(EVENTS / "jcpoa.jsonl"))
    assert json.loads(done.stdout)["stage"] == "in_force"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "Nope", "occurred": "2022"}\n', encoding="utf-8")
    done = script("replay.py", str(bad), str(EVENTS / "jcpoa.jsonl"))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {bad}:1: type='Nope' is not an event type")
    assert done.stdout.startswith("jcpoa: in_force")
