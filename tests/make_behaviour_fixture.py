"""Writes tests/data/behaviour.json.gz: what every prefix of a set of logs derives.

Run once at a reference commit (python -m tests.make_behaviour_fixture); tests/test_behaviour.py
replays the same logs with today's code and compares. After a deliberate change of the
contract, ``python -m tests.make_behaviour_fixture --rederive`` keeps the fixture's logs and
derives their prefixes again with today's code (list the change in the contract's changes). The logs are the shipped ones plus logs
drawn once from the valid- and invalid-log strategies with a fixed seed, stored in the fixture
itself so that later changes to the strategies do not change what is compared.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from negotiation import EventRejected, dump_event, parse_event, read_log, replay
from negotiation import strategies as nst

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "behaviour.json.gz"


def derived(lines: list[str]) -> list[dict[str, object]]:
    """For every prefix of the log (1..n events): the state's views, or the refusal."""
    events = [parse_event(line) for line in lines]
    out: list[dict[str, object]] = []
    for k in range(1, len(events) + 1):
        try:
            state = replay(events[:k])
        except EventRejected as e:
            out.append({"refused": type(e).__name__, "event": e.event_id})
            break
        data = state.to_dict(detail=True)
        data["overdue"] = [d.id for d in state.overdue("2100-01-01")]
        data["version"] = state.version
        data["parties"] = list(state.parties)
        for key in ("as_of", "known_at"):
            del data[key]
        out.append(data)
    return out


def drawn_logs() -> list[list[str]]:
    logs: list[list[str]] = []

    @seed(20261205)
    @settings(max_examples=300, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.one_of(nst.valid_logs(max_events=40), nst.invalid_logs(max_events=25).map(lambda x: [*x.prefix, x.event]))
    )
    def collect(log: list) -> None:
        logs.append([dump_event(e) for e in log])

    collect()
    return logs


def rederive() -> None:
    """Derive the prefixes of the fixture's own logs again, with today's code."""
    cases = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    write({name: case["log"] for name, case in cases.items()})


def write(logs: dict[str, list[str]]) -> None:
    fixture = {name: {"log": lines, "prefixes": derived(lines)} for name, lines in logs.items()}
    text = json.dumps(fixture, ensure_ascii=False, sort_keys=True) + "\n"
    FIXTURE.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{len(fixture)} logs, {sum(len(v['prefixes']) for v in fixture.values())} prefixes -> {FIXTURE}")


def main() -> None:
    logs: dict[str, list[str]] = {}
    for path in sorted((ROOT / "events").glob("*.jsonl")):
        log = read_log(path)
        logs[path.name] = [dump_event(item.event) for items in log.negotiations.values() for item in items]
    for n, lines in enumerate(drawn_logs()):
        logs[f"drawn-{n:03d}"] = lines
    write(logs)


if __name__ == "__main__":
    random.seed(0)
    rederive() if sys.argv[1:] == ["--rederive"] else main()
