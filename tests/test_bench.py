"""benchmarks/bench.py runs end to end: every row and every target is reported (no timing is asserted);
the profile and instruction-count scripts beside it run too.

One test is run by CI: the smoke run (an extended test, with the ``test`` extra only, so the
eventsourcing rows say "not installed" and their targets n/a). The others are slow tests, run
with ``pytest -m slow``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

BENCH = ROOT / "benchmarks" / "bench.py"

ROWS = {
    "floor.append_batch",
    "floor.append_durable",
    "peer.append_batch",
    "peer.get",
    "store.append_batch",
    "store.append_durable",
    "store.load",
    "replay.many",
    "replay.many_transitions",
    "store.load_long",
    "store.load_long_owed",
    "replay.long_full",
    "simulation",
    *(f"growth.{kind}.{step}" for kind in ("append", "load") for step in ("small", "mid", "large", "huge")),
    "growth.memory",
    "stream.memory",
    *(f"pg.{row}" for row in ("peer.append_batch", "peer.get", "store.append_batch", "store.load")),
    "pg.store.writers1",
    "pg.store.writers4",
}

#: The targets (numerator, denominator, required): the issues' tables, nothing else.
TARGETS = [
    ("store.append_batch", "peer.append_batch", 1.2),
    ("store.append_batch", "floor.append_batch", 0.5),
    ("store.load", "peer.get", 2.0),
    ("store.append_durable", "floor.append_durable", 0.7),
    ("replay.many", "replay.many_transitions", 10.0),
    ("store.load_long", "replay.long_full", 50.0),
    ("growth.append.large", "growth.append.large#ref", 0.8),
    ("growth.load.large", "growth.load.large#ref", 0.8),
    ("growth.memory", None, 100.0),
    ("stream.memory", None, 200.0),
    ("pg.store.append_batch", "pg.peer.append_batch", 1.2),
    ("pg.store.load", "pg.peer.get", 2.0),
    ("pg.store.writers4", "pg.store.writers1", 2.0),
]

#: Runs benchmarks/bench.py as a script, optionally with a module made unimportable first.
RUNNER = """
import runpy, sys
for name in sys.argv[1].split(","):
    if name:
        sys.modules[name] = None
sys.argv = ["benchmarks/bench.py", *sys.argv[2:]]
sys.path.insert(0, "benchmarks")
runpy.run_path("benchmarks/bench.py", run_name="__main__")
"""


def bench(tmp_path: Path, *args: str, block: str = "") -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Runs ``bench.py --smoke`` with ``args`` (and the modules in ``block`` made unimportable)."""
    out = tmp_path / "bench.json"
    command = [sys.executable, "-c", RUNNER, block] if block else [sys.executable, str(BENCH)]
    done = subprocess.run(
        [*command, "--smoke", *args, "--json", str(out), "--tmp", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done, json.loads(out.read_text(encoding="utf-8"))


@pytest.mark.extended
def test_smoke_run_reports_every_row_and_judges_every_target(tmp_path: Path) -> None:
    """``bench.py --smoke`` exits 0, prints the table and writes JSON with a figure or a reason
    for each row, and a verdict (PASS, MISS, or n/a where the peer is not installed) for each
    target of the benchmark's table: the smoke run CI makes."""
    done, report = bench(tmp_path)
    assert report["mode"] == "smoke"
    assert set(report["rows"]) == ROWS
    for row_id, row in report["rows"].items():
        assert (row["value"] is None) != (row["status"] is None), row_id  # a figure, or why there is none
        assert row["label"] in done.stdout
        if row["status"] is not None:  # only the peer (not installed), the --ten-million step, no server
            assert row_id.startswith(("peer.", "pg.")) or row_id.endswith(".huge"), (row_id, row["status"])
    assert [(t["numerator"], t["denominator"], t["required"]) for t in report["targets"]] == TARGETS
    for target in report["targets"]:
        assert target["result"] in {"PASS", "MISS", "n/a"}
        assert f"{target['result']:<5} {target['target']}" in done.stdout
        compared = [target["numerator"], target["denominator"] or ""]
        empty = any(report["rows"].get(row_id, {}).get("status") is not None for row_id in compared)
        assert (target["result"] == "n/a") == empty
    assert {"cpus", "cpu", "python", "sqlite", "load_average"} <= set(report["machine"])
    if Path("/proc/stat").exists():  # how busy the machine was beside each writer row (Linux)
        for row_id in ("pg.store.writers1", "pg.store.writers4"):
            row = report["rows"][row_id]
            if row["status"] is None:
                note = re.fullmatch(r"(\d+\.\d\d) of (\d+) cores busy", row["note"])
                assert note is not None, row["note"]
                assert 0 <= float(note[1]) <= int(note[2]) == os.cpu_count()


@pytest.mark.slow
def test_without_eventsourcing_the_peer_rows_say_not_installed(tmp_path: Path) -> None:
    """Without the bench extra the run still completes; the peer's rows say why they are empty
    and their targets are n/a, not failed."""
    done, report = bench(tmp_path, block="eventsourcing")
    assert "not installed" in done.stdout
    for row_id in ("peer.append_batch", "peer.get"):
        assert report["rows"][row_id]["status"] == "not installed (pip install -e '.[bench]')"
    peer_targets = [
        t for t in report["targets"] if t["denominator"] and t["denominator"].startswith(("peer.", "pg.peer."))
    ]
    assert len(peer_targets) == 4
    assert all(t["result"] == "n/a" for t in peer_targets)
    assert all(t["result"] != "n/a" for t in report["targets"] if t not in peer_targets)
    assert report["rows"]["floor.append_batch"]["value"] is not None


@pytest.mark.slow
def test_the_peer_writes_at_the_stores_durability(tmp_path: Path) -> None:
    """The batched rows compare at the same durability: the floor and the peer at the store's
    ``synchronous`` setting (FULL)."""
    pytest.importorskip("eventsourcing")
    _, report = bench(tmp_path)
    assert report["rows"]["floor.append_batch"]["note"] == "synchronous=FULL, as the store"
    assert report["rows"]["floor.append_durable"]["note"] == "synchronous=FULL, as the store"
    assert report["rows"]["peer.append_batch"]["note"] == "synchronous=FULL"


@pytest.mark.slow
def test_ten_million_adds_a_fourth_growth_step(tmp_path: Path) -> None:
    """--ten-million grows the store one step further (with --smoke, scaled down like the other
    steps: to twice the largest) and measures it against the small store alongside."""
    done, report = bench(tmp_path, "--ten-million")
    for kind in ("append", "load"):
        row = report["rows"][f"growth.{kind}.huge"]
        assert row["status"] is None, row["status"]
        assert row["value"] is not None
        assert row["paired_ratio"] is not None
        assert "at 2,400 stored events" in row["label"]
        assert row["label"] in done.stdout
    assert "skipped" not in done.stdout


def script(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs benchmarks/NAME with ``args``."""
    return subprocess.run(
        [sys.executable, f"benchmarks/{name}", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
        env=env,
    )


def profile(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs benchmarks/profile_targets.py with ``args``."""
    return script("profile_targets.py", *args)


@pytest.mark.slow
def test_the_profile_script_sums_each_workload_into_parts(tmp_path: Path) -> None:
    """benchmarks/profile_targets.py profiles every workload with pyinstrument and splits its time
    into parts that add up to the whole (no timing is asserted); --tree writes the call trees."""
    done = profile("--size", "3", "--long", "1200", "--tree", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    names = ["append_batch", "append_durable", "load", "replay_table", "replay_transitions", "load_long"]
    blocks: dict[str, list[float]] = {}
    for line in done.stdout.splitlines():
        if not line.startswith(" "):
            blocks[line.split(":")[0]] = []
        else:
            blocks[list(blocks)[-1]].append(float(line.split("%")[0]))
    assert list(blocks) == names
    for name, shares in blocks.items():
        assert 90.0 <= sum(shares) <= 100.5, (name, shares)  # parts under 1% are not printed
        assert (tmp_path / f"{name}.txt").read_text(encoding="utf-8").strip()
    assert "transitions triggers" in done.stdout.split("replay_transitions:")[1].split("load_long:")[0]


@pytest.mark.slow
def test_the_profile_script_names_an_unknown_workload() -> None:
    """A workload it does not know is a usage error that lists the ones it knows."""
    done = profile("--size", "1", "--long", "100", "nothing")
    assert done.returncode == 2
    assert "unknown workload nothing; choose from append_batch" in done.stderr


def bench_module(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """benchmarks/bench.py's globals, loaded as a module (not run)."""
    import runpy

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    return runpy.run_path(str(BENCH), run_name="bench_under_test")


@pytest.mark.slow
def test_targets_compare_rows_repetition_by_repetition(monkeypatch: pytest.MonkeyPatch) -> None:
    """A target takes the median of one ratio per repetition of rows measured together (slices
    interleaved: a grown store and its reference, the store and the floor of one group), so
    that drift between repetitions cancels; the ratio of medians does not. Rows of different
    groups fall back to the ratio of their medians."""
    module = bench_module(monkeypatch)
    row = module["Row"]("growth.append.large", "growth", "append")
    row.events, row.ref_events = 100, 100
    # the reference at 100, 60 and 50 events/s as the machine drifts; the grown store at 0.4,
    # 0.9 and 0.9 times it in the same repetitions (one of them disturbed)
    row.ref_seconds = [100 / 100, 100 / 60, 100 / 50]
    row.seconds = [100 / 40, 100 / 54, 100 / 45]
    assert abs(row.paired - 0.9) < 1e-9
    assert abs(row.figure / row.reference - 0.75) < 1e-9  # medians of different repetitions
    bench = module["Bench"]("smoke", module["SCALES"]["smoke"], ROOT, repeat=3, ten_million=False)
    for target in module["TARGETS"]:  # every other row without a figure: its target is n/a
        for row_id in (target.numerator, target.denominator):
            if row_id:
                bench.row(row_id.removesuffix(module["REF"]), "ours", row_id)
    bench.rows[row.id] = row
    ours, floor = bench.rows["store.append_durable"], bench.rows["floor.append_durable"]
    ours.events = floor.events = 100
    floor.seconds = list(row.ref_seconds)
    ours.seconds = list(row.seconds)
    ours.group = floor.group = 1
    targets = {t["numerator"]: t for t in module["evaluate"](bench)}
    assert abs(targets[row.id]["measured"] - 0.9) < 1e-9
    assert targets[row.id]["result"] == "PASS"
    assert abs(targets["store.append_durable"]["measured"] - 0.9) < 1e-9
    assert targets["store.append_durable"]["result"] == "PASS"
    assert targets["store.load"]["result"] == "n/a"
    assert targets["store.load"]["why"] == "no figure for store.load, peer.get"
    floor.group = 2  # not measured together
    again = {t["numerator"]: t for t in module["evaluate"](bench)}
    assert abs(again["store.append_durable"]["measured"] - 0.75) < 1e-9  # 45 / 60: still >= 0.7
    row.ref_seconds.pop()  # a reference repetition lost: no pairs, the ratio of the medians
    again = {t["numerator"]: t for t in module["evaluate"](bench)}
    assert abs(again[row.id]["measured"] - 45 / 80) < 1e-9
    assert again[row.id]["result"] == "MISS"


@pytest.mark.slow
def test_a_verdicts_ratio_is_printed_with_the_digits_that_decide_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two decimals, or more where two would round a miss up to the bound (or a pass down below it)."""
    shown = bench_module(monkeypatch)["ratio_text"]
    assert shown(0.7986, 0.8) == "0.799"  # "0.80" beside a MISS would read as met
    assert shown(0.79996, 0.8) == "0.79996"
    assert shown(0.8, 0.8) == "0.80"
    assert shown(0.8049, 0.8) == "0.80"
    assert shown(3.876, 10.0) == "3.88"
    assert shown(99.97, 100.0, below=True, digits=1) == "99.97"  # "100.0" would read as not below
    assert shown(0.0078, 100.0, below=True, digits=1) == "0.0"
    assert shown(100.0, 100.0, below=True, digits=1) == "100.0"


@pytest.mark.slow
def test_the_bench_uses_only_the_public_api() -> None:
    """The package's internals are rewritten under it: no private module, name or attribute."""
    import ast

    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("negotiation"):
                assert not any(part.startswith("_") for part in node.module.split(".")), (path.name, node.module)
                assert not any(alias.name.startswith("_") for alias in node.names), (path.name, node.lineno)
            elif isinstance(node, ast.Attribute) and not (
                isinstance(node.value, ast.Name) and node.value.id == "os" and node.attr == "_exit"
            ):  # os._exit: how a forked child ends
                assert not node.attr.startswith("_") or node.attr.startswith("__"), (path.name, node.lineno)


@pytest.mark.slow
def test_the_profile_buckets_match_modules_by_name_and_put_the_rest_in_other(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame is bucketed by its module's path inside the package, with or without a leading
    underscore (the modules are being renamed); a path no bucket knows falls into "other"."""
    import runpy

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    module = runpy.run_path(str(ROOT / "benchmarks" / "profile_targets.py"), run_name="profile_under_test")
    bucket, where, package = module["bucket"], module["where"], module["PACKAGE"]
    fold = "the fold (validation, records)"
    assert bucket(("load x ", f"apply {where(str(package / '_fold.py'))} ")) == fold
    assert bucket(("load x ", f"apply {where(str(package / 'fold.py'))} ")) == fold
    assert bucket((f"check {where(str(package / 'rules.py'))} ",)) == fold
    assert bucket((f"x {where(str(package / 'retraction.py'))} ",)) == "next steps (permitted, retractable)"
    assert bucket((f"x {where(str(package / 'codec.py'))} ",)) == "the events' codec"
    assert bucket((f"x {where(str(package / 'store' / 'anything_new.py'))} ",)) == "the store, elsewhere"
    assert bucket((f"x {where(str(package / 'brand_new.py'))} ",)) == "the package, elsewhere"
    assert bucket(("main /somewhere/else/negotiation/benchmarks/x.py ", "f <built-in> ")) == "other"


def instructions(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs benchmarks/instructions.py with ``args``."""
    return script("instructions.py", *args, env=env)


@pytest.mark.slow
def test_the_instruction_counter_names_an_unknown_workload_and_a_missing_valgrind() -> None:
    """A workload it does not know is a usage error; without valgrind it says how to get it."""
    done = instructions("nothing")
    assert done.returncode == 2
    assert "unknown workload nothing; choose from append_one" in done.stderr
    without = instructions("floor_one", env={**os.environ, "PATH": str(Path(sys.executable).parent)})
    assert without.returncode == 2
    assert "valgrind is not installed" in without.stderr


#: Stands in for valgrind: runs the command as it is and reports a made-up count that grows
#: with the workload's weight and the number of negotiations (``kind count tmp`` end it).
FAKE_VALGRIND = """#!{python}
import subprocess, sys
args = sys.argv[1:]
while args[0].startswith("--"):
    args.pop(0)
done = subprocess.run(args, check=False)
kind, count = args[-3], int(args[-2])
weight = {{"synthesis": 1, "synthesis_dicts": 2, "load_setup": 3, "append_batch": 4,
          "append_one": 5, "load": 6, "floor_one": 7, "floor_one_read_model": 9}}[kind]
sys.stderr.write(f"==1== Collected : {{1_000_000 + weight * 1000 * count:,}}\\n")
sys.exit(done.returncode)
"""


@pytest.mark.slow
def test_the_instruction_counter_takes_each_workloads_baseline_off(tmp_path: Path) -> None:
    """Each workload runs (for real) at both sizes beside its baseline, and its count per event
    is its growth less the baseline's over the extra events: with a stand-in for valgrind that
    reports 1,000 x weight per negotiation, that is 50 x (weight - the baseline's weight)."""
    fake = tmp_path / "valgrind"
    fake.write_text(FAKE_VALGRIND.format(python=sys.executable), encoding="utf-8")
    fake.chmod(0o755)
    out = tmp_path / "counts.json"
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    args = ("append_one", "append_batch", "load", "floor_one_read_model", "--small", "1", "--large", "3")
    done = instructions(*args, "--json", str(out), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = json.loads(out.read_text(encoding="utf-8"))
    assert counts == {"append_one": 200, "append_batch": 150, "load": 150, "floor_one_read_model": 350}
    assert "load                         150 instructions per event" in done.stdout
