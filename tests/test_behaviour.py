"""Behaviour pinned at a reference commit: every prefix of the shipped logs and of ~300 drawn
logs derives the same stage, owed moves, next steps and views as it did there.

The fixture was written by ``python -m tests.make_behaviour_fixture`` at the commit before the
core was rewritten (53b10bd), and its prefixes derived again (``--rederive``, the same logs) for
the first part of contract version 2, whose changes docs/contract.md lists: a resumption returns
to where the talks stood, an agreement settles the documents among its parties, break-offs after
an agreed text and from a suspension, ParticipantJoined, ParticipantLeft,
ImplementationReported and ViolationAlleged among the next steps, proposals, replies and
suspensions of participation permitted in force, and an extension superseding the deadline it
extends (only the latest is overdue); and again for the second part: side instruments (a
TextAgreed offered from text_agreed to in_force, as an interim deal, a protocol or a
memorandum), RatificationRefused, a late ratification in force, and each agreement's
instrument, status, signature, partial ratifications and refusals in the views; and for the
third part, which only adds views (a document's initialled_by, summarised_by,
delivery_disputed_by and republished_by, a deadline's disputed_by, an agreement's notices: checked to leave every other
key of every prefix as it was). Derive it again only for a deliberate change of the contract,
and say so there.
"""

from __future__ import annotations

import gzip
import json

import pytest

from tests.make_behaviour_fixture import FIXTURE, derived

CASES = json.loads(gzip.decompress(FIXTURE.read_bytes()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_prefix_derives_what_it_did(name: str) -> None:
    case = CASES[name]
    assert derived(case["log"]) == case["prefixes"]


def test_the_fixture_covers_the_shipped_logs_and_refusals() -> None:
    assert {"security-guarantees-2021.jsonl", "jcpoa.jsonl", "inf-treaty.jsonl"} <= set(CASES)
    refused = {p["refused"] for case in CASES.values() for p in case["prefixes"] if "refused" in p}
    assert {"NotPermitted", "DuplicateEventId", "UnknownReference", "WrongActor", "InvalidReference"} <= refused
