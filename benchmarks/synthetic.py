"""Synthetic negotiations for benchmarks: long, valid, and shaped like real ones.

``synthetic_events(n)`` returns ``n`` events of one negotiation that replays without error:
a repeating round of a proposal, consultations, a reply and a reply to it, a statement, a
contact proposed, accepted and held, a deadline, and a suspension with its resumption.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from negotiation import (
    ConsultationHeld,
    ContactAccepted,
    ContactHeld,
    ContactProposed,
    DeadlineSet,
    Event,
    PositionStated,
    ProposalPublished,
    ReplyDelivered,
    TalksResumed,
    TalksSuspended,
)

START = dt.date(2000, 1, 1)
Round = Callable[[int, dt.date, str], Event]

ROUND: tuple[Round, ...] = (
    lambda i, d, n: ProposalPublished(
        id=f"p{i}", negotiation=n, occurred=d, actor="RU", to=["US", "NATO"], title=f"Draft {i}", items=["a", "b"]
    ),
    lambda i, d, n: ConsultationHeld(
        id=f"c{i}", negotiation=n, occurred=d, parties=["RU", "US"], format="bilateral", round=i
    ),
    lambda i, d, n: ReplyDelivered(
        id=f"r{i}", negotiation=n, occurred=d, actor="US", ref=f"p{i}", positions={"a": "reject", "b": "negotiable"}
    ),
    lambda i, d, n: ReplyDelivered(id=f"n{i}", negotiation=n, occurred=d, actor="NATO", ref=f"p{i}", public=False),
    lambda i, d, n: PositionStated(
        id=f"s{i}", negotiation=n, occurred=d, actor="RU", ref=f"r{i}", summary="unacceptable"
    ),
    lambda i, d, n: ContactProposed(
        id=f"k{i}", negotiation=n, occurred=d, actor="US", to=["RU"], level="minister", mode="phone"
    ),
    lambda i, d, n: ContactAccepted(id=f"a{i}", negotiation=n, occurred=d, actor="RU", ref=f"k{i}"),
    lambda i, d, n: ContactHeld(
        id=f"h{i}", negotiation=n, occurred=d, parties=["US", "RU"], level="minister", mode="phone", ref=f"k{i}"
    ),
    lambda i, d, n: ReplyDelivered(id=f"q{i}", negotiation=n, occurred=d, actor="RU", ref=f"r{i}"),
    lambda i, d, n: DeadlineSet(
        id=f"d{i}", negotiation=n, occurred=d, deadline=d + dt.timedelta(days=30), ref=f"q{i}", actor="US"
    ),
    lambda i, d, n: TalksSuspended(id=f"x{i}", negotiation=n, occurred=d, actor="RU", reason="consultations"),
    lambda i, d, n: TalksResumed(id=f"y{i}", negotiation=n, occurred=d, actor="RU"),
)


def synthetic_events(count: int, negotiation: str = "synthetic") -> Iterator[Event]:
    """``count`` valid events of one negotiation, one day apart."""
    for n in range(count):
        i, step = divmod(n, len(ROUND))
        yield ROUND[step](i, START + dt.timedelta(days=n), negotiation)
