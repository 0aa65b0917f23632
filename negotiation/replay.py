"""Replay: fold a negotiation's events into its state, at any point in the past.

``as_of`` keeps the events that had occurred by a date; ``known_at`` keeps those recorded by a
moment; together they answer "what did we know on day T about day D". An event that
references an event left out is left out too: nobody can have known the answer before the
question.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Literal

from negotiation.dates import PartialDate, parse_date, parse_timestamp
from negotiation.events import Event
from negotiation.fold import Fold
from negotiation.machine import Engine, TableEngine, TransitionsEngine
from negotiation.state import NegotiationState

__all__ = ["EngineName", "named", "replay", "visible"]

EngineName = Literal["table", "transitions"]


def _engine(name: EngineName) -> Engine:
    if name == "table":
        return TableEngine()
    if name == "transitions":
        return TransitionsEngine()
    msg = f"engine={name!r} must be 'table' or 'transitions'"
    raise ValueError(msg)


def visible(
    events: Iterable[Event],
    *,
    as_of: PartialDate | None = None,
    known_at: dt.datetime | None = None,
) -> Iterator[Event]:
    """The events a replay with these cut-offs keeps, in log order.

    ``as_of``: events whose ``occurred`` lies on or before it (an event of month or year
    precision counts at the last day of its period; two date-times compare exactly), and the
    events a kept event references that may have occurred by then (``2019-09`` named by an
    event of 10 September is kept as of 15 September: the reference proves it had happened).
    ``known_at``: events whose ``recorded`` (or, without one, ``occurred``: see
    :meth:`PartialDate.recorded_by`) lies on or before it. An event referencing a left-out
    event is left out.
    """
    if as_of is None and known_at is None:
        yield from events
        return
    events = list(events)
    by_date = [as_of is None or _occurred_by(event.occurred, as_of) for event in events]
    by_record = [known_at is None or _recorded_by(event, known_at) for event in events]
    # an imprecise event that may have occurred by ``as_of`` is kept when a kept event names it:
    # the reference proves it had happened (refs point back, so one backward pass finds them)
    proven: set[str] = set()
    if as_of is not None:
        for event, dated, recorded in zip(reversed(events), reversed(by_date), reversed(by_record), strict=True):
            possible = dated or (event.id in proven and event.occurred.first_day <= as_of.last_day)
            if possible and recorded:
                proven.update(named(event))
    left_out: set[str] = set()
    for event, dated, recorded in zip(events, by_date, by_record, strict=True):
        if not dated and as_of is not None:
            dated = event.id in proven and event.occurred.first_day <= as_of.last_day
        if dated and recorded and left_out.isdisjoint(named(event)):
            yield event
        else:
            left_out.add(event.id)


def named(event: Event) -> tuple[str, ...]:
    """The ids an event names: its ``ref``, the documents an agreement ``keeps_open`` and the
    text a protocol ``amends``."""
    named: tuple[str, ...] = getattr(event, "keeps_open", None) or ()
    amends = getattr(event, "amends", None)
    if amends is not None:
        named = (*named, amends)
    return named if event.ref_id is None else (event.ref_id, *named)


def _occurred_by(occurred: PartialDate, as_of: PartialDate) -> bool:
    if as_of.moment is not None and occurred.moment is not None:
        return occurred.moment <= as_of.moment
    return occurred.last_day <= as_of.last_day


def _recorded_by(event: Event, known_at: dt.datetime) -> bool:
    recorded = event.recorded if event.recorded is not None else event.occurred.recorded_by()
    return recorded <= known_at


def replay(
    events: Iterable[Event],
    *,
    negotiation: str | None = None,
    as_of: PartialDate | dt.date | dt.datetime | str | None = None,
    known_at: dt.datetime | dt.date | str | None = None,
    strict: bool = True,
    engine: EngineName = "table",
) -> NegotiationState:
    """Replay one negotiation's events (in log order) into its immutable state.

    Args:
        events: the negotiation's events, in the order they were logged.
        negotiation: its id (default: the first event's ``negotiation``).
        as_of: keep only events that had occurred by this date.
        known_at: keep only events recorded by this moment (a date means the end of it, UTC).
        strict: raise on the first event that is not permitted (default); when False, skip
            it and report it in :attr:`NegotiationState.rejected`.
        engine: ``"table"`` (the compiled stage table, default) or ``"transitions"`` (a
            ``transitions`` Machine fired per event: the slow reference).

    Raises:
        EventRejected: (strict) naming the event, the stage and what was expected.
    """
    cut = None if as_of is None else parse_date(as_of, field="as_of")
    known = None if known_at is None else parse_timestamp(known_at, field="known_at")
    fold: Fold | None = None if negotiation is None else Fold(negotiation, _engine(engine))
    for event in visible(events, as_of=cut, known_at=known):
        if fold is None:
            fold = Fold(event.negotiation, _engine(engine))
        fold.apply(event, strict=strict)
    if fold is None:
        fold = Fold(negotiation, _engine(engine))
    return NegotiationState(fold, as_of=cut, known_at=known)
