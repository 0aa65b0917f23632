#!/usr/bin/env python3
"""Simulate the founding example from where it stood on 2 February 2022.

Replays ``events/security-guarantees-2021.jsonl`` as of 2022-02-02 (stage ``talks``: Russia
owes answers to the US and NATO written replies and to the US offer of a leader-level
contact), then

1. runs a Monte Carlo simulation under the policy in ``scripts/founding-policy.toml``
   (illustrative assumptions, documented in the file: replies and contacts likelier than
   agreement, a Russian break-off likelier than a Western one, the newspaper that leaked
   documents never moving) and prints the distribution of final stages and of the number of
   steps to reach each stage;
2. prints the shortest path (as JSON Lines events) from that state to ``text_agreed``.

Usage::

    python scripts/simulate_founding.py [--runs N] [--steps K] [--seed S] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from negotiation import Policy, SimulationResult, Stage, dump_event, replay_log, shortest_paths, simulate

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "events" / "security-guarantees-2021.jsonl"
POLICY = ROOT / "scripts" / "founding-policy.toml"
AS_OF = "2022-02-02"


def report(result: SimulationResult) -> list[str]:
    """The distribution of final stages, and of the steps taken to first reach each stage."""
    lines = [
        f"{result.runs} runs of at most {result.max_steps} steps from {result.start.value} "
        f"(seed {result.seed}, {result.events} events simulated)",
        "",
        f"{'final stage':<18}{'runs':>7}{'share':>8}",
    ]
    lines += [f"{s.value:<18}{result.final[s]:>7}{result.share(s):>8.1%}" for s in Stage if s in result.final]
    lines += ["", f"{'reached':<18}{'runs':>7}{'share':>8}{'median steps':>14}"]
    for stage, stats in result.to_dict()["reached"].items():
        lines.append(f"{stage:<18}{stats['runs']:>7}{stats['share']:>8.1%}{stats['median']:>14g}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="Monte Carlo runs (default 2000)")
    parser.add_argument("--steps", type=int, default=40, help="at most this many events a run (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random generator (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    state = replay_log(LOG, as_of=AS_OF)
    policy = Policy.load(POLICY)
    result = simulate(state, policy, runs=args.runs, max_steps=args.steps, seed=args.seed)
    path = shortest_paths(state, "text_agreed", limit=1)

    if args.json:
        data = {"simulation": result.to_dict(), "shortest_path_to_text_agreed": path.to_dict()}
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"{state.negotiation} as of {AS_OF}, policy {POLICY.relative_to(ROOT)}: {policy.description}")
    print("\n".join(report(result)))
    print()
    if not path.reachable:
        print(f"text_agreed is unreachable from {state.stage.value}")
        return 0
    print(f"Shortest path to text_agreed ({path.length} event{'s' if path.length != 1 else ''}):")
    for event in path.paths[0]:
        print(dump_event(event))
    return 0


if __name__ == "__main__":
    sys.exit(main())
