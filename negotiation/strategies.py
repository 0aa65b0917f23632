"""Hypothesis strategies for events, valid and invalid logs, and negotiation states.

Use them to test code built on this library, or to state properties of your own scenarios::

    from hypothesis import given
    from negotiation import replay_log
    from negotiation import strategies as nst

    founding = replay_log("events/security-guarantees-2021.jsonl", as_of="2022-02-02")

    @given(nst.valid_logs(founding, max_events=10))
    def test_no_agreement_in_force_without_a_text(continuation):
        state = founding.extend(continuation)
        ...

* :func:`events` draws well-formed events of the given types (each field drawn from its
  domain; permitted or not is not their concern). Once the package is installed,
  ``st.from_type(ProposalPublished)`` and friends draw from it too: the package registers
  these strategies through Hypothesis' ``hypothesis`` entry point.
* :func:`valid_logs` walks the permitted next steps from a start state (a replayed real log,
  or the empty negotiation): every log it draws replays without error, and it shrinks towards
  fewer events and the first permitted steps.
* :func:`invalid_logs` draws a valid prefix followed by one event that is not permitted,
  with the error that replay must raise on it.
* :func:`states` draws the states those valid logs reach; :func:`dates`, :func:`parties` and
  :func:`sources` draw the parts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st

from negotiation._fold import Fold
from negotiation._moves import Move, build, candidates, fresh_ids, latest_day, moves, moves_of
from negotiation.dates import PartialDate
from negotiation.errors import (
    DatedBeforeReference,
    DuplicateEventId,
    EventRejected,
    InvalidReference,
    NotPermitted,
    UnknownReference,
    WrongActor,
)
from negotiation.events import (
    EVENT_TYPES,
    ConsultationFormat,
    Event,
    Level,
    Mode,
    Source,
    Stance,
)
from negotiation.state import NegotiationState

__all__ = [
    "SIMULATED",
    "InvalidLog",
    "dates",
    "events",
    "invalid_logs",
    "parties",
    "sources",
    "states",
    "valid_logs",
]

#: The negotiation id of the empty start state the strategies use when given none.
SIMULATED = "simulated"

_FIRST_DAY = dt.date(1950, 1, 1)
_LAST_DAY = dt.date(2100, 12, 31)

# -- the parts --------------------------------------------------------------------------

_texts = st.text(
    alphabet=st.characters(codec="utf-8"),
    min_size=1,
    max_size=16,
).filter(lambda s: bool(s.strip()))
_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
_offsets = st.integers(-14 * 4, 14 * 4).map(lambda q: dt.timezone(dt.timedelta(minutes=15 * q)))


def parties() -> st.SearchStrategy[str]:
    """Party names: mostly from a small pool (so that events meet), sometimes any text."""
    return st.one_of(st.sampled_from(("RU", "US", "NATO", "EU", "UA", "IR")), _texts)


@st.composite
def _dates(draw: st.DrawFn, min_day: dt.date, max_day: dt.date) -> PartialDate:
    precision = draw(st.sampled_from(("day", "month", "year", "datetime")))
    day = draw(st.dates(min_day, max_day))
    if precision == "day":
        return PartialDate.of(day)
    if precision == "month":
        return PartialDate.parse(f"{day.year:04d}-{day.month:02d}")
    if precision == "year":
        return PartialDate.parse(f"{day.year:04d}")
    moment = dt.datetime.combine(day, draw(st.times()), tzinfo=draw(_offsets))
    return PartialDate.of(moment)


def dates(min_day: dt.date = _FIRST_DAY, max_day: dt.date = _LAST_DAY) -> st.SearchStrategy[PartialDate]:
    """Dates of every precision: ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` and date-times with a
    UTC offset (whole quarter hours), from days between ``min_day`` and ``max_day``."""
    return _dates(min_day, max_day)


def sources() -> st.SearchStrategy[Source]:
    """Provenance objects: any of title, outlet, url, published, quote."""
    optional = st.none() | _texts
    return st.builds(Source, title=optional, outlet=optional, url=optional, published=optional, quote=optional)


_JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)


def _field_strategies(cls: type[Event]) -> dict[str, st.SearchStrategy[Any]]:
    party_list = 1 if cls.TYPE == "AgreementSigned" else 2
    table: dict[str, st.SearchStrategy[Any]] = {
        "occurred": dates(),
        "id": st.just("") | _ids,
        "negotiation": _texts,
        "source": sources(),
        "note": st.text(max_size=16),
        "recorded": st.datetimes(
            min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
        ),
        "actor": parties(),
        "to": st.lists(parties(), min_size=1, max_size=3, unique=True),
        "parties": st.lists(parties(), min_size=party_list, max_size=4, unique=True),
        "level": st.sampled_from(Level),
        "mode": st.sampled_from(Mode),
        "format": st.sampled_from(ConsultationFormat),
        "items": st.lists(_texts, max_size=4),
        "public": st.booleans(),
        "positions": st.dictionaries(_texts, st.sampled_from(Stance), max_size=3),
        "ref": _ids,
        "deadline": dates(),
        "round": st.integers(1, 20) | _texts,
    }
    names = {f.name for f in attrs.fields(cls)}
    extra_keys = _ids.map(lambda k: f"x-{k}").filter(lambda k: k not in names)
    out: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        if field.name == "extra":
            out["extra"] = st.dictionaries(extra_keys, _JSON_SCALARS, max_size=2)
            continue
        strategy = table.get(field.name, _texts)
        required = field.default is attrs.NOTHING or field.name in ("id", "public")
        out[field.name] = strategy if required else st.none() | strategy
    return out


def _event_strategy(cls: type[Event], fixed: dict[str, Any] | None = None) -> st.SearchStrategy[Event]:
    fields = _field_strategies(cls)
    for name, value in (fixed or {}).items():
        fields[name] = st.just(value)
    return st.builds(cls, **fields)


def events(*types: type[Event] | str) -> st.SearchStrategy[Event]:
    """Well-formed events of the given types (classes or names; default: every type).

    Each field is drawn from its domain (any party, any ref, any date of any precision,
    unknown fields in ``extra``): good for codec and validation tests. The events are not
    meant to be permitted anywhere; :func:`valid_logs` draws those.
    """
    classes = [EVENT_TYPES[t] if isinstance(t, str) else t for t in types] or list(EVENT_TYPES.values())
    return st.one_of([_event_strategy(cls) for cls in classes])


# -- walking the permitted next steps ---------------------------------------------------


@st.composite
def _next_date(draw: st.DrawFn, cursor: dt.date) -> tuple[PartialDate, dt.date]:
    """A date on or after ``cursor`` (mostly a day), and the new cursor: its last day.

    Dates drawn so never go back, so no event is dated before one it references, and the
    events an ``as_of`` replay keeps are a prefix of the log.
    """
    day = cursor + dt.timedelta(days=draw(st.integers(0, 45)))
    precision = draw(st.sampled_from(("day", "day", "month", "year", "datetime")))
    if precision == "day":
        date = PartialDate.of(day)
    elif precision == "month":
        date = PartialDate.parse(f"{day.year:04d}-{day.month:02d}")
    elif precision == "year":
        date = PartialDate.parse(f"{day.year:04d}")
    else:  # the end of the UTC day: never before an event of the same day
        date = PartialDate.of(dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC))
    return date, date.last_day


def _subset(parties: Sequence[str], minimum: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(tuple(parties)), min_size=minimum, max_size=len(parties), unique=True)


def _details(move: Move, cands: tuple[str, ...], occurred: PartialDate) -> st.SearchStrategy[dict[str, Any]]:
    """The fields a move leaves open, drawn: who exactly is addressed, levels, titles, ..."""
    kind = move.type
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {"source": sources(), "note": st.text(max_size=12)}
    if kind in ("ContactProposed", "ProposalPublished") and move.ref is None and move.parties:
        required["to"] = _subset(move.parties, 1)
    if (kind == "ContactHeld" and move.ref is None) or kind in ("ConsultationHeld", "FrameworkAgreed", "TextAgreed"):
        assert move.parties is not None
        required["parties"] = _subset(move.parties, 2)
    if kind == "ContactProposed":
        optional.update(level=st.sampled_from(Level), mode=st.sampled_from(Mode), condition=_texts)
    elif kind == "ContactHeld":
        optional.update(level=st.sampled_from(Level), mode=st.sampled_from(Mode), venue=_texts)
    elif kind == "ConsultationHeld":
        optional.update(
            format=st.sampled_from(ConsultationFormat),
            level=st.sampled_from(Level),
            venue=_texts,
            round=st.integers(1, 20) | _texts,
        )
    elif kind == "ProposalPublished":
        optional.update(title=_texts, items=st.lists(_texts, max_size=3), public=st.booleans())
    elif kind == "ReplyDelivered":
        optional.update(public=st.booleans(), positions=st.dictionaries(_texts, st.sampled_from(Stance), max_size=3))
    elif kind == "PositionStated":
        optional.update(positions=st.dictionaries(_texts, st.sampled_from(Stance), max_size=3), summary=_texts)
    elif kind in ("FrameworkAgreed", "TextAgreed"):
        optional.update(title=_texts, items=st.lists(_texts, max_size=3))
    elif kind in ("AgreementTerminated", "TalksSuspended", "TalksBrokenOff", "EventRetracted"):
        optional["reason"] = _texts
    elif kind == "DeadlineSet":
        optional.update(
            deadline=st.integers(0, 90).map(lambda n: PartialDate.of(occurred.last_day + dt.timedelta(days=n))),
            actor=st.sampled_from(cands),
        )
    return st.fixed_dictionaries(required, optional=optional)


class _Walk:
    """A fold being extended by drawn moves (inside one draw: mutable on purpose)."""

    def __init__(self, start: NegotiationState | None, extra_parties: Iterable[str]) -> None:
        self.start = start if start is not None else NegotiationState.empty(SIMULATED)
        self.fold: Fold = self.start._fold.copy()
        self.cands = candidates(self.fold, extra_parties)
        self.ids = fresh_ids(set(self.fold.all_ids))
        self.cursor = latest_day(self.fold)
        self.events: list[Event] = []

    def step(self, draw: st.DrawFn, exclude: Iterable[str] = ()) -> Event | None:
        """Draw a permitted move (an event type first, then a move of it) and make it."""
        skip = set(exclude)
        kinds = [k for k in self.fold.permitted_type_names() if k not in skip]
        while kinds:
            kind = draw(st.sampled_from(kinds))
            options = moves_of(self.fold, kind, self.cands)
            if options:
                move = draw(st.sampled_from(options))
                break
            kinds.remove(kind)
        else:
            return None
        occurred, self.cursor = draw(_next_date(self.cursor))
        details = draw(_details(move, self.cands, occurred))
        event = build(move, self.fold, id=next(self.ids), occurred=occurred, details=details)
        self.fold.apply(event)
        self.events.append(event)
        return event


@st.composite
def _walk(
    draw: st.DrawFn,
    start: NegotiationState | None,
    min_events: int,
    max_events: int,
    extra_parties: tuple[str, ...],
    exclude: tuple[str, ...],
) -> _Walk:
    walk = _Walk(start, extra_parties)
    for _ in range(draw(st.integers(min_events, max_events))):
        if walk.step(draw, exclude) is None:
            break
    return walk


def _check_bounds(min_events: int, max_events: int) -> None:
    if not 0 <= min_events <= max_events:
        msg = f"min_events={min_events!r}, max_events={max_events!r} must satisfy 0 <= min_events <= max_events"
        raise ValueError(msg)


def valid_logs(
    start: NegotiationState | None = None,
    *,
    min_events: int = 0,
    max_events: int = 20,
    parties: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> st.SearchStrategy[list[Event]]:
    """Continuations of ``start`` made of permitted next steps: ``start.extend(log)`` never fails.

    Args:
        start: the state to continue (a replayed real log); default: the empty negotiation
            ``"simulated"``, so that ``replay(log)`` itself replays.
        min_events, max_events: how many events (fewer only if nothing is permitted).
        parties: parties that may join; moves open to anyone are made by the negotiation's
            participants (see the README), these, and parties ``A``, ``B``, ``C`` while
            fewer than two.
        exclude: event types never to draw (e.g. ``{"EventRetracted"}``).

    Each event is drawn by choosing a permitted event type, then one of its moves (actor,
    ref), then the free fields; events carry the start's negotiation id, fresh ids
    ``sim-1``, ``sim-2``, ... and dates that never go back from the start's latest event.
    Shrinks towards fewer events and the contract's first event types.
    """
    _check_bounds(min_events, max_events)
    return _walk(start, min_events, max_events, tuple(parties), tuple(exclude)).map(lambda walk: walk.events)


def states(
    start: NegotiationState | None = None, *, max_events: int = 12, parties: Iterable[str] = ()
) -> st.SearchStrategy[NegotiationState]:
    """The states that :func:`valid_logs` of ``start`` reach."""
    _check_bounds(0, max_events)
    base = start if start is not None else NegotiationState.empty(SIMULATED)
    return _walk(base, 0, max_events, tuple(parties), ()).map(
        lambda walk: NegotiationState(walk.fold, as_of=base.as_of, known_at=base.known_at)
    )


# -- one step too far -------------------------------------------------------------------


@attrs.frozen
class InvalidLog:
    """A valid continuation followed by one event that replay must refuse.

    Attributes:
        prefix: the valid events (a continuation of the start state).
        event: the event that is not permitted after them.
        error: the exact :class:`~negotiation.EventRejected` subclass replay raises on it.
    """

    prefix: tuple[Event, ...]
    event: Event
    error: type[EventRejected]

    @property
    def events(self) -> list[Event]:
        """The whole log: the prefix, then the refused event."""
        return [*self.prefix, self.event]


#: A way to break one rule after a walk: the strategy of (event, error), or None where it cannot.
Fault = Callable[[_Walk, str, PartialDate], st.SearchStrategy[Any] | None]


def _not_permitted(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    allowed = walk.fold.permitted_type_names()
    kinds = [k for k in EVENT_TYPES if k not in allowed and k != "EventRetracted"]
    if not kinds:
        return None
    fixed = {"id": event_id, "occurred": day, "negotiation": walk.fold.negotiation}
    return st.sampled_from(kinds).flatmap(
        lambda k: _event_strategy(EVENT_TYPES[k], fixed).map(lambda e: (e, NotPermitted))
    )


def _duplicate(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    if not walk.fold.all_ids:
        return None
    taken = sorted(walk.fold.all_ids)
    return st.tuples(st.sampled_from(taken), st.sampled_from(list(EVENT_TYPES.values()))).flatmap(
        lambda pair: _event_strategy(
            pair[1], {"id": pair[0], "occurred": day, "negotiation": walk.fold.negotiation}
        ).map(lambda e: (e, DuplicateEventId))
    )


def _unknown_ref(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    allowed = [*fold.permitted_type_names(), "EventRetracted"]
    kinds = list(dict.fromkeys(k for k in allowed if "ref" in attrs.fields_dict(EVENT_TYPES[k])))
    missing = next(fresh_ids(fold.all_ids, prefix="missing"))
    fixed = {"id": event_id, "occurred": day, "negotiation": fold.negotiation, "ref": missing}
    return st.sampled_from(kinds).flatmap(
        lambda k: _event_strategy(EVENT_TYPES[k], fixed).map(lambda e: (e, UnknownReference))
    )


def _dated_before(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    options = [
        m for m in moves(fold, walk.cands) if m.ref is not None and fold.by_id[m.ref].occurred.first_day > _FIRST_DAY
    ]

    def make(move: Move) -> tuple[Event, type[EventRejected]]:
        before = PartialDate.of(fold.by_id[move.ref or ""].occurred.first_day - dt.timedelta(days=1))
        return build(move, fold, id=event_id, occurred=before), DatedBeforeReference

    return st.sampled_from(options).map(make) if options else None


_ACTOR_CHECKED = frozenset(
    (
        "ContactAccepted",
        "ContactDeclined",
        "ReplyDelivered",
        "ProposalWithdrawn",
        "AgreementSigned",
        "AgreementRatified",
        "PartyWithdrew",
        "TalksSuspended",
        "TalksResumed",
        "TalksBrokenOff",
    )
)


def _wrong_actor(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    options = [
        m
        for m in moves(fold, walk.cands, kinds=(*_ACTOR_CHECKED, "ProposalPublished"))
        if m.type != "ProposalPublished" or m.ref is not None
    ]
    outsider = next(p for p in fresh_ids(set(fold.parties) | set(walk.cands), prefix="Outsider"))

    def make(move: Move) -> tuple[Event, type[EventRejected]]:
        override: dict[str, Any] = {"parties": (outsider,)} if move.type == "AgreementSigned" else {"actor": outsider}
        return build(move, fold, id=event_id, occurred=day, details=override), WrongActor

    return st.sampled_from(options).map(make) if options else None


def _invalid_ref(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    actor = walk.cands[0]
    options: list[tuple[str, str]] = [
        ("DocumentDisclosed", e.id) for e in fold.events if e.id not in fold.docs or fold.docs[e.id].public
    ]
    options += [("ContactAccepted", e.id) for e in fold.events if e.id not in fold.contacts]
    options += [("EventRetracted", r.id) for r in fold.retractions]

    def make(option: tuple[str, str]) -> tuple[Event, type[EventRejected]]:
        kind, ref = option
        move = Move(kind, None if kind == "EventRetracted" else actor, ref)
        return build(move, fold, id=event_id, occurred=day), InvalidReference

    return st.sampled_from(options).map(make) if options else None


def _wrong_negotiation(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    options = moves(fold, walk.cands, kinds=("ContactProposed", "ConsultationHeld", "PositionStated"))
    if fold.negotiation is None or not options:
        return None
    elsewhere = f"not-{fold.negotiation}"

    def make(move: Move) -> tuple[Event, type[EventRejected]]:
        return build(move, fold, id=event_id, occurred=day, details={"negotiation": elsewhere}), EventRejected

    return st.sampled_from(options).map(make)


_FAULTS: tuple[Fault, ...] = (
    _not_permitted,
    _duplicate,
    _unknown_ref,
    _dated_before,
    _wrong_actor,
    _invalid_ref,
    _wrong_negotiation,
)


@st.composite
def _invalid(
    draw: st.DrawFn, start: NegotiationState | None, max_events: int, extra_parties: tuple[str, ...]
) -> InvalidLog:
    walk = draw(_walk(start, 0, max_events, extra_parties, ()))
    event_id = next(walk.ids)
    day = PartialDate.of(latest_day(walk.fold))
    faults = [s for fault in _FAULTS if (s := fault(walk, event_id, day)) is not None]
    event, error = draw(st.one_of(faults))
    return InvalidLog(tuple(walk.events), event, error)


def invalid_logs(
    start: NegotiationState | None = None, *, max_events: int = 12, parties: Iterable[str] = ()
) -> st.SearchStrategy[InvalidLog]:
    """A valid continuation of ``start`` and then one event that is not permitted.

    The last event breaks exactly one rule, chosen among those that can be broken there:
    a type the stage does not permit (:class:`~negotiation.NotPermitted`), an id already
    used (:class:`~negotiation.DuplicateEventId`), a ref to no event
    (:class:`~negotiation.UnknownReference`), a date before the event it references
    (:class:`~negotiation.DatedBeforeReference`), an actor who may not make the move
    (:class:`~negotiation.WrongActor`), a ref to an event of the wrong kind or condition
    (:class:`~negotiation.InvalidReference`), another negotiation's id
    (:class:`~negotiation.EventRejected` itself). ``start.extend(log.events)`` raises
    ``log.error`` naming ``log.event``.
    """
    _check_bounds(0, max_events)
    return _invalid(start, max_events, tuple(parties))


# -- registration with Hypothesis ---------------------------------------------------------


def _hypothesis_setup_hook() -> None:
    """Register the strategies for ``st.from_type`` (run by Hypothesis' entry point)."""
    for cls in EVENT_TYPES.values():
        st.register_type_strategy(cls, events(cls))
    st.register_type_strategy(Event, events())
    st.register_type_strategy(PartialDate, dates())
    st.register_type_strategy(Source, sources())
    st.register_type_strategy(NegotiationState, states())
