"""Pictures of a negotiation: the data of its timeline, and the self-contained report page.

:func:`report_data` replays a log once and returns, as JSON-ready data, what the pictures
draw: the events (each with its lanes, the event it answers, its details and source), the
lanes (one per party, then the mediators and other roles, then outsiders), the stage over
time, each agreed text's life, and *frames*: the stage, owed moves, next steps and overdue
deadlines as of the dates a reader can move to. :func:`render_report` turns that data into
one HTML page with its script and styles inline; it loads nothing from the network.
``negotiation chart`` draws the same data as a static figure (:mod:`negotiation.figures`).

Every frame is what ``status --as-of`` prints for its date. Where the log is in date order
(each event dated on or after the one before, as most logs are) the frames come from one
pass over it; otherwise each frame is a replay of its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import Any

from negotiation import rules
from negotiation.dates import PartialDate
from negotiation.events import Event
from negotiation.fold import Fold
from negotiation.machine import Stage
from negotiation.replay import named, replay
from negotiation.state import NegotiationState

__all__ = ["FRAMES", "LISTED", "MARKS", "STAGE_COLOURS", "describe", "report_data", "render_report"]

#: How many dates the report's slider can move to, at most, by default: every date an event
#: occurred on, or this many spread evenly over them (the first and the last included).
FRAMES = 500

#: How many owed moves, next steps and refs per step a frame lists (the rest are counted).
LISTED = 50

_EPOCH = dt.date(1970, 1, 1)

#: Each stage's colour in the pictures (colour-blind-safe hues, the live stages lighter).
STAGE_COLOURS: dict[Stage, str] = {
    Stage.IDLE: "#ffffff",
    Stage.EXPLORATION: "#d9e8f5",
    Stage.PROPOSAL_OPEN: "#fde0b2",
    Stage.TALKS: "#fbc582",
    Stage.FRAMEWORK_AGREED: "#cfe8c6",
    Stage.TEXT_AGREED: "#a9d79c",
    Stage.SIGNED: "#7fc47a",
    Stage.RATIFYING: "#5aae61",
    Stage.IN_FORCE: "#1b7837",
    Stage.TERMINATED: "#8c8c8c",
    Stage.SUSPENDED: "#e3d3f0",
    Stage.BROKEN_OFF: "#d6604d",
    Stage.LAPSED: "#f4a582",
}

_CONTACT, _DOCUMENT, _AGREEMENT, _TALKS, _PEOPLE, _RECORD = (
    "#2166ac",
    "#e08214",
    "#1b7837",
    "#b2182b",
    "#777777",
    "#000000",
)

#: Each event type's mark: (colour, shape), the shape one of circle, ring, square, triangle,
#: diamond, star, cross. The colour tells the family (contacts, documents, the agreement's life, the
#: talks themselves, who takes part, the record), the shape the kind within it.
MARKS: dict[str, tuple[str, str]] = {
    "ContactProposed": (_CONTACT, "triangle"),
    "ContactAccepted": (_CONTACT, "diamond"),
    "ContactDeclined": (_CONTACT, "cross"),
    "ContactHeld": (_CONTACT, "circle"),
    "ConsultationHeld": (_CONTACT, "square"),
    "ParticipantJoined": (_PEOPLE, "triangle"),
    "ParticipantLeft": (_PEOPLE, "cross"),
    "ProposalPublished": (_DOCUMENT, "triangle"),
    "ReplyDelivered": (_DOCUMENT, "diamond"),
    "PositionStated": (_DOCUMENT, "circle"),
    "DocumentDisclosed": (_DOCUMENT, "square"),
    "ProposalWithdrawn": (_DOCUMENT, "cross"),
    "FrameworkAgreed": (_AGREEMENT, "diamond"),
    "TextAgreed": (_AGREEMENT, "star"),
    "AgreementSigned": (_AGREEMENT, "square"),
    "AgreementRatified": (_AGREEMENT, "triangle"),
    "RatificationRefused": (_TALKS, "triangle"),
    "AgreementEnteredIntoForce": (_AGREEMENT, "circle"),
    "PartyWithdrew": (_PEOPLE, "star"),
    "ParticipationSuspended": (_PEOPLE, "square"),
    "ParticipationResumed": (_PEOPLE, "circle"),
    "PartyJoined": (_PEOPLE, "diamond"),
    "AgreementTerminated": (_TALKS, "star"),
    "ImplementationReported": (_AGREEMENT, "cross"),
    "ViolationAlleged": (_TALKS, "diamond"),
    "DeadlineSet": (_TALKS, "circle"),
    "TalksSuspended": (_TALKS, "square"),
    "TalksResumed": (_CONTACT, "star"),
    "TalksBrokenOff": (_TALKS, "cross"),
    "TalksLapsed": (_TALKS, "ring"),
    "EventRetracted": (_RECORD, "cross"),
}

#: The types whose ``ref`` is what they answer: the report draws these links strongly.
ANSWERS = frozenset(
    {"ReplyDelivered", "ProposalPublished", "ContactAccepted", "ContactDeclined", "ContactHeld", "RatificationRefused"}
)


def _day(date: dt.date) -> int:
    """Days since 1970-01-01: what the page's script computes with."""
    return (date - _EPOCH).days


def describe(event: Event) -> str:
    """A one-line summary of an event: who, what, to whom, about what."""
    data = event.to_dict()
    who = data.get("actor") or "/".join(data.get("parties", ())) or ""
    parts = [who] if who else []
    if "to" in data:
        parts.append("-> " + ", ".join(data["to"]))
    for key in ("title", "level", "mode", "reason", "summary", "deadline"):
        if key in data:
            parts.append(f"{key}={data[key]!r}" if key != "title" else repr(data[key]))
    if "ref" in data:
        parts.append(f"on {data['ref']!r}")
    return " ".join(parts)


def _frame_dates(dates: Sequence[dt.date], most: int) -> list[dt.date]:
    """All the dates, or ``most`` of them spread evenly (the first and the last included)."""
    if len(dates) <= most:
        return list(dates)
    if most < 2:
        return [dates[-1]]
    step = (len(dates) - 1) / (most - 1)
    return sorted({dates[round(k * step)] for k in range(most)})


def _in_date_order(events: Sequence[Event]) -> bool:
    """Whether each event's last day is on or after the one before's: then the events as of any
    date are a prefix of the log (a ref points back, so it is in the prefix too)."""
    return all(a.occurred.last_day <= b.occurred.last_day for a, b in itertools.pairwise(events))


def _states(
    events: Sequence[Event], negotiation: str, dates: Sequence[dt.date], *, in_order: bool
) -> Iterable[tuple[dt.date, NegotiationState]]:
    """The state as of each date, in date order. In a log in date order (``in_order``, see
    :func:`_in_date_order`) they share one fold, which goes on with the next date's events:
    read each state before taking the next."""
    if not in_order:
        for date in dates:
            yield date, replay(events, negotiation=negotiation, as_of=date)
        return
    fold = Fold(negotiation)
    position = 0
    for date in dates:
        while position < len(events) and events[position].occurred.last_day <= date:
            fold.apply(events[position])
            position += 1
        yield date, NegotiationState(fold, as_of=PartialDate.of(date))


class _Table:
    """Interns JSON-ready entries: a frame lists indices into the table, not the entries."""

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self._index: dict[str, int] = {}

    def __call__(self, entry: Any) -> int:
        key = json.dumps(entry, sort_keys=True)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.entries)
            self.entries.append(entry)
        return index


def _frame(
    state: NegotiationState, date: dt.date, by_id: dict[str, Event], owed: _Table, steps: _Table
) -> dict[str, Any]:
    """What ``status --as-of date`` says, as data for the page (``by_id``: the log's events)."""
    awaiting = []
    for move in state.awaiting[:LISTED]:
        ref = by_id.get(move.ref)
        since = None if ref is None else ref.occurred
        author = None if ref is None else getattr(ref, "actor", None)
        title = None if ref is None else getattr(ref, "title", None)
        awaiting.append(
            owed(
                {
                    "party": move.party,
                    "types": list(move.types),
                    "ref": move.ref,
                    "from": author,
                    "title": title,
                    "since": None if since is None else str(since),
                    "since_day": None if since is None else _day(since.last_day),
                }
            )
        )
    shown = state.next_steps(retractions=False)  # the page says whether any retraction is permitted, not which
    permitted = [
        steps(
            {
                "type": step.type,
                "actors": None if step.actors is None else list(step.actors),
                "refs": list(step.refs[:LISTED]),
                "more_refs": max(0, len(step.refs) - LISTED),
            }
        )
        for step in shown[:LISTED]
    ]
    return {
        "day": _day(date),
        "date": date.isoformat(),
        "stage": state.stage.value,
        "events": len(state.events),
        "awaiting": awaiting,
        "more_awaiting": max(0, len(state.awaiting) - LISTED),
        "permitted": permitted,
        "more_permitted": max(0, len(shown) - LISTED),
        "retractable": bool(state.events),  # the last event may always be retracted
        "overdue": [
            {"id": d.id, "deadline": str(d.deadline), "actor": d.actor}
            for d in state.overdue(PartialDate.of(date))[:LISTED]
        ],
    }


def _lanes(state: NegotiationState, events: Sequence[Event]) -> tuple[list[dict[str, Any]], dict[str | None, int]]:
    """The rows of the timeline: the talks as a whole (events nobody made, if any), one per
    party, one per participant in another role (mediators apart, below the parties), then
    outsiders. The index maps a name (None: nobody) to its row."""
    lanes: list[dict[str, Any]] = []
    if any(not _makers(e) for e in events):
        lanes.append({"name": "(the talks)", "role": "all"})
    lanes += [{"name": party, "role": "party"} for party in state.parties]
    lanes += [{"name": name, "role": role.value} for name, role in state.roles.items()]
    index: dict[str | None, int] = {lane["name"] if lane["role"] != "all" else None: i for i, lane in enumerate(lanes)}
    for name in sorted({name for e in events for name in _makers(e)} - set(index)):
        index[name] = len(lanes)
        lanes.append({"name": name, "role": "outsider"})
    return lanes, index


def _makers(event: Event) -> tuple[str, ...]:
    """Who made the event: its actors, or the parties of a joint record (a contact held, an
    agreement), or nobody (a lapse, an entry into force)."""
    actors = rules.actors_of(event)
    return actors if actors else tuple(getattr(event, "parties", None) or ())


def report_data(
    events: Iterable[Event],
    negotiation: str | None = None,
    *,
    frames: int = FRAMES,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The data of a negotiation's pictures, JSON-ready (see the module's docstring).

    Args:
        events: the negotiation's events in log order (retractions included).
        negotiation: its id (default: the first event's).
        frames: at most this many dates for the slider (see :data:`FRAMES`).
        progress: called with (dates replayed, dates in all) as the work goes on.

    Raises:
        EventRejected: an event the rules refuse (replay is strict).
        ValueError: ``frames`` is less than 1, or there is no event.
    """
    if frames < 1:
        msg = f"frames={frames!r} must be at least 1"
        raise ValueError(msg)
    log = list(events)
    if not log:
        msg = "the log holds no event: there is nothing to draw"
        raise ValueError(msg)
    name = negotiation if negotiation is not None else log[0].negotiation
    final = replay(log, negotiation=name)
    name = final.negotiation or name or "negotiation"
    lanes, lane_of = _lanes(final, log)
    position = {event.id: i for i, event in enumerate(log)}
    retracted = {e.id for e in final.retracted}
    drawn = []
    for i, event in enumerate(log):
        colour, shape = MARKS[event.TYPE]
        refs = [position[r] for r in named(event) if r in position and position[r] < i]
        data = event.to_dict()
        source = data.pop("source", None)
        drawn.append(
            {
                "id": event.id,
                "type": event.TYPE,
                "occurred": str(event.occurred),
                "day": _day(event.occurred.first_day),
                "last_day": _day(event.occurred.last_day),
                "lanes": [lane_of[n] for n in _makers(event)] or [lane_of[None]],
                "refs": refs,
                "answers": event.TYPE in ANSWERS and bool(refs),
                "summary": describe(event),
                "fields": {k: v for k, v in data.items() if k not in ("type", "id", "occurred", "negotiation")},
                "source": source,
                "retracted": event.id in retracted,
                "colour": colour,
                "shape": shape,
            }
        )
    dates = sorted({event.occurred.last_day for event in log})
    chosen = _frame_dates(dates, frames)
    in_order = _in_date_order(log)
    wanted = set(chosen)
    owed, steps = _Table(), _Table()
    stages: list[dict[str, Any]] = []
    lives: dict[str, list[dict[str, Any]]] = {}
    titles: dict[str, dict[str, Any]] = {}
    frame_list = []
    by_id = {event.id: event for event in log}
    walked = dates if in_order else chosen
    for done, (date, state) in enumerate(_states(log, name, walked, in_order=in_order), start=1):
        if not stages or stages[-1]["stage"] != state.stage.value:
            stages.append({"day": _day(date), "stage": state.stage.value})
        for agreement in state.agreements.values():
            if agreement.status is None:  # a framework: no life of its own
                continue
            titles.setdefault(
                agreement.id, {"id": agreement.id, "title": agreement.title, "instrument": agreement.instrument}
            )
            life = lives.setdefault(agreement.id, [])
            if not life or life[-1]["status"] != agreement.status:
                life.append({"day": _day(date), "status": agreement.status})
        if date in wanted:
            frame_list.append(_frame(state, date, by_id, owed, steps))
        if progress is not None:
            progress(done, len(walked))
    return {
        "negotiation": name,
        "first_day": _day(dates[0]),
        "last_day": _day(dates[-1]),
        "first_date": dates[0].isoformat(),
        "last_date": dates[-1].isoformat(),
        "dates": len(dates),
        "in_date_order": in_order,
        "lanes": lanes,
        "events": drawn,
        "stages": stages,
        "stage_colours": {stage.value: colour for stage, colour in STAGE_COLOURS.items()},
        "instruments": [{**titles[i], "life": lives[i]} for i in titles],
        "frames": frame_list,
        "owed": owed.entries,
        "steps": steps.entries,
        "listed": LISTED,
    }


def _script_safe(data: dict[str, Any]) -> str:
    """JSON that cannot end the ``<script>`` element holding it (nor open a comment in it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_report(data: dict[str, Any]) -> str:
    """The report page of :func:`report_data`'s data: one HTML file, nothing fetched."""
    template = resources.files("negotiation").joinpath("report.html").read_text(encoding="utf-8")
    title = str(data["negotiation"]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return template.replace("{{TITLE}}", title).replace("{{DATA}}", _script_safe(data))
