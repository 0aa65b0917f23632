"""scripts/bench.py runs end to end: every row and every target is reported (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

ROWS = {
    "floor.append_batch",
    "floor.append_durable",
    "floor.read",
    "peer.append_batch",
    "peer.replay",
    "store.append_batch",
    "store.append_durable",
    "store.load",
    "replay.events",
    "replay.jsonl",
    "replay.transitions",
    "replay.many",
    "replay.many_transitions",
    "store.load_long",
    "store.load_long_owed",
    "replay.long_full",
    "simulation",
    *(f"growth.{kind}.{step}" for kind in ("append", "load") for step in ("small", "mid", "large", "huge")),
    "growth.memory",
}


def test_smoke_run_reports_every_row_and_target(tmp_path: Path) -> None:
    """--smoke runs every group, prints the table and writes JSON with a figure or a reason for each row."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--smoke", "--json", str(out), "--tmp", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["mode"] == "smoke"
    assert set(report["rows"]) == ROWS
    for row_id, row in report["rows"].items():
        assert (row["value"] is None) != (row["status"] is None), row_id  # a figure, or why there is none
        assert row["label"] in done.stdout
    assert report["rows"]["growth.append.huge"]["status"] == "skipped: run with --ten-million"
    assert len(report["targets"]) == 11
    for target in report["targets"]:
        assert target["result"] in {"PASS", "MISS", "n/a"}
        assert f"{target['result']:<5} {target['target']}" in done.stdout
    assert {"cpus", "cpu", "python", "sqlite", "load_average"} <= set(report["machine"])
