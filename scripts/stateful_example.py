#!/usr/bin/env python3
"""State properties of your own scenarios and let Hypothesis check them.

Subclass ``NegotiationMachine`` (its rules are the permitted next steps), choose where every
run starts, and write invariants over ``self.state`` (the current NegotiationState) and
``self.events`` (the events made so far). Hypothesis runs many continuations and, if an
invariant fails, shrinks the failing run to a short one.

Run it directly (``python scripts/stateful_example.py``), or collect ``TestFoundingScenario``
with pytest.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import settings
from hypothesis.stateful import invariant, run_state_machine_as_test

from negotiation import NegotiationMachine, Stage, replay_log

LOG = Path(__file__).resolve().parent.parent / "events" / "security-guarantees-2021.jsonl"


class FoundingScenario(NegotiationMachine):
    """Continuations of the founding example from 2 February 2022."""

    start = replay_log(LOG, as_of="2022-02-02")

    @invariant()
    def no_agreement_in_force_without_an_agreed_text(self) -> None:
        if self.state.stage in (Stage.SIGNED, Stage.RATIFYING, Stage.IN_FORCE):
            assert self.state.agreement is not None

    @invariant()
    def a_reply_is_owed_only_while_replies_are_permitted(self) -> None:
        permitted = {step.type for step in self.state.permitted}
        for owed in self.state.awaiting:
            assert set(owed.types) & (permitted | {"AgreementSigned", "AgreementRatified"}), owed


TestFoundingScenario = FoundingScenario.TestCase


def main() -> int:
    run_state_machine_as_test(FoundingScenario, settings=settings(max_examples=25, stateful_step_count=20))
    print("FoundingScenario: every invariant held over 25 runs of up to 20 steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
