#!/usr/bin/env python3
"""Replay every log in events/ (or the paths given) and print one line per negotiation.

The example of replaying logs from a script through the public API:

    python scripts/replay.py                      # every log in events/
    python scripts/replay.py my.jsonl --as-of 2022-02-02
    python scripts/replay.py --json               # one JSON object per negotiation

Each line: the negotiation, its stage, how many events, and the moves owed. Exit code 1 if a
log cannot be replayed (the error is printed, one line, and the other logs still are).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from negotiation import NegotiationError, read_log, replay_log

EVENTS = Path(__file__).resolve().parent.parent / "events"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="JSONL logs (default: every log in events/)")
    parser.add_argument("--as-of", help="replay only events that had occurred by this date")
    parser.add_argument("--json", action="store_true", help="print one JSON object per negotiation")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(EVENTS.glob("*.jsonl"))
    failed = False
    for path in paths:
        try:
            log = read_log(path)
            for negotiation in log.ids():
                state = replay_log(log, negotiation=negotiation, as_of=args.as_of)
                if args.json:
                    print(json.dumps(state.to_dict(), ensure_ascii=False))
                    continue
                owed = "; ".join(f"{a.party} owes {a.types[0]} on {a.ref}" for a in state.awaiting) or "nothing owed"
                print(f"{negotiation}: {state.stage.value}, {len(state.events)} events, {owed}")
        except NegotiationError as error:
            print(f"error: {error}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
