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
import json
import re
from collections.abc import Callable, Collection, Iterable
from typing import Any, ClassVar, NamedTuple

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from negotiation.dates import PartialDate
from negotiation.errors import (
    DatedBeforeReference,
    DuplicateEventId,
    EventRejected,
    InvalidDate,
    InvalidEvent,
    InvalidReference,
    LogSyntaxError,
    NegotiationError,
    NotPermitted,
    UnknownReference,
    WrongActor,
)
from negotiation.events import (
    EVENT_TYPES,
    ConsultationFormat,
    Ending,
    Event,
    InstrumentKind,
    Level,
    Mode,
    ObligationStatus,
    Ratification,
    ReplyStance,
    Role,
    Signature,
    Source,
    Stance,
)
from negotiation.fold import Fold
from negotiation.machine import TABLE
from negotiation.moves import Move, build, candidates, fresh_ids, latest_day, moves, moves_of
from negotiation.state import NegotiationState

__all__ = [
    "MALFORMED",
    "RULES_BROKEN",
    "SIMULATED",
    "InvalidLog",
    "MalformedLine",
    "NegotiationMachine",
    "register_types",
    "dates",
    "events",
    "invalid_logs",
    "malformed_lines",
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
    if precision == "datetime":
        return PartialDate.of(dt.datetime.combine(day, draw(st.times()), tzinfo=draw(_offsets)))
    return _date(day, 0, precision)


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
        "role": st.sampled_from(Role),
        "ratification": st.sampled_from(Ratification),
        "set_by": parties(),
        "status": st.sampled_from(ObligationStatus),
        "against": st.lists(parties(), min_size=1, max_size=2, unique=True),
        "ending": st.sampled_from(Ending),
        "stance": st.sampled_from(ReplyStance),
        "asks_answer": st.booleans(),
        "co_actors": st.lists(parties(), min_size=1, max_size=2, unique=True),
        "witnesses": st.lists(parties(), min_size=1, max_size=2, unique=True),
        "keeps_open": st.lists(_ids, min_size=1, max_size=2),
        "kind": st.sampled_from(InstrumentKind),
        "amends": _ids,
        "partial": st.booleans(),
        "signature": st.sampled_from(Signature),
        "effective": dates(),
        "initialled": st.booleans(),
        "disputes_delivery": st.booleans(),
    }
    names = {f.name for f in attrs.fields(cls)}
    extra_keys = _ids.map(lambda k: f"x-{k}").filter(lambda k: k not in names)
    table["extra"] = st.dictionaries(extra_keys, _JSON_SCALARS, max_size=2)
    out: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        strategy = table.get(field.name, _texts)
        required = field.default is attrs.NOTHING or field.name in ("id", "public", "extra")
        out[field.name] = strategy if required else st.none() | strategy
    return out


_FIELDS: dict[type[Event], dict[str, st.SearchStrategy[Any]]] = {}


def _event_strategy(cls: type[Event], fixed: dict[str, Any] | None = None) -> st.SearchStrategy[Event]:
    if cls not in _FIELDS:
        _FIELDS[cls] = _field_strategies(cls)
    just = {name: st.just(value) for name, value in (fixed or {}).items()}
    return st.fixed_dictionaries(_FIELDS[cls] | just).map(lambda fields: cls(**_apart(fields)))


def _apart(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with the actor left out of the co-actors (drawn apart, they may meet), no
    co-actors without an actor, ``amends`` exactly on a protocol, an initialled reply that
    accepts, and a disputed delivery that names a ref."""
    if fields.get("initialled"):
        fields["stance"] = ReplyStance.ACCEPT
    if fields.get("disputes_delivery") and fields.get("ref") is None:
        fields["disputes_delivery"] = None
    effective, occurred = fields.get("effective"), fields.get("occurred")
    if effective is not None and occurred is not None and effective.last_day < occurred.first_day:
        fields["effective"] = occurred  # a withdrawal takes effect on or after its day
    if "amends" in fields:  # a protocol names the text it amends, and only a protocol does
        if fields.get("kind") is InstrumentKind.PROTOCOL:
            fields["amends"] = fields["amends"] or "amended-text"
        else:
            fields["amends"] = None
    co_actors = fields.get("co_actors")
    if co_actors:
        actor = fields.get("actor")
        fields["co_actors"] = [p for p in co_actors if p != actor] or None if actor is not None else None
    return fields


def events(*types: type[Event] | str) -> st.SearchStrategy[Event]:
    """Well-formed events of the given types (classes or names; default: every type).

    Each field is drawn from its domain (any party, any ref, any date of any precision,
    unknown fields in ``extra``): good for codec and validation tests. The events are not
    meant to be permitted anywhere; :func:`valid_logs` draws those.
    """
    classes = [EVENT_TYPES[t] if isinstance(t, str) else t for t in types] or list(EVENT_TYPES.values())
    return st.one_of([_event_strategy(cls) for cls in classes])


# -- walking the permitted next steps ---------------------------------------------------


# A log is drawn as its length, then two lists fixed before the state is known. The first
# holds one number per event: the event type (an agreement's steps weigh more, see _INTENDED)
# and which of its moves (an index, taken modulo the moves there are). The second holds the
# cosmetic choices, paired by position: how many days later, the date's precision, which
# addressees or parties (a bit mask over the first four; 0 means all) and the free fields. The
# lists are then played against the state: a type with no move there gives way to one of the
# types that have one, chosen evenly by the same number. One number per event is what
# Hypothesis' shrinker handles best: it deletes events one by one and lowers types towards the
# contract's first, so a failing log shrinks to its shortest form; the cosmetic list, which no
# rule depends on, shrinks away on its own.

_KINDS = tuple(EVENT_TYPES)
#: The types an intent names: every type once, a reply again, then the steps of an agreement's
#: life again (the text twice, the signature five times, the ratification twice, the entry into
#: force three times, the termination three times: ratification and entry into force may also
#: follow an agreed text directly, a signature may come after a ratification, and talks may
#: break off on the way), so that drawn logs reach the stages after an agreed text about as
#: often as the others (at least 5 % of logs reach each stage; see the tests).
_INTENDED = (
    *_KINDS,
    "ReplyDelivered",
    "TextAgreed",
    "TextAgreed",
    "AgreementSigned",
    "AgreementSigned",
    "AgreementSigned",
    "AgreementSigned",
    "AgreementSigned",
    "AgreementRatified",
    "AgreementRatified",
    "AgreementEnteredIntoForce",
    "AgreementEnteredIntoForce",
    "AgreementEnteredIntoForce",
    "AgreementTerminated",
    "AgreementTerminated",
    "AgreementTerminated",
)
_MOVES_PER_TYPE = 16
#: The types whose moves name an agreed text: the principal text or a side instrument.
_ON_TEXTS = frozenset(("AgreementSigned", "AgreementRatified", "AgreementEnteredIntoForce", "AgreementTerminated"))
_CHOICES = st.integers(0, len(_INTENDED) * _MOVES_PER_TYPE - 1)
_DAYS_LATER = st.integers(0, 30)
_SMALL = st.integers(0, 15)
_PRECISIONS = st.sampled_from(("day", "day", "month", "year", "datetime"))
_EMPTY: st.SearchStrategy[dict[str, Any]] = st.just({})
_POSITIONS = st.dictionaries(_texts, st.sampled_from(Stance), max_size=3)
#: Every free field of any type (a type takes those it has); ``deadline_days`` and
#: ``deadline_actor`` are DeadlineSet's, relative to its date and among the parties.
_FREE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "source": sources(),
        "note": st.text(max_size=12),
        "level": st.sampled_from(Level),
        "mode": st.sampled_from(Mode),
        "condition": _texts,
        "venue": _texts,
        "format": st.sampled_from(ConsultationFormat),
        "round": st.integers(1, 20) | _texts,
        "title": _texts,
        "items": st.lists(_texts, max_size=3),
        "public": st.booleans(),
        "positions": _POSITIONS,
        "stance": st.sampled_from(ReplyStance),
        "asks_answer": st.booleans(),
        "role": st.sampled_from(Role),
        "ratification": st.sampled_from(Ratification),
        "ending": st.sampled_from(Ending),
        "obligation": _texts,
        "summary": _texts,
        "reason": _texts,
        "deadline_days": st.integers(0, 90),
        "deadline_actor": _SMALL,
    },
)
#: One event in four gets free fields; the rest keep the plain defaults (free fields cost more
#: to draw than everything else and matter little to the stage machine).
_DECOR = st.tuples(
    _DAYS_LATER, _PRECISIONS, _SMALL, st.integers(0, 3).flatmap(lambda d: _FREE_FIELDS if d == 3 else _EMPTY)
)
_PLAIN: tuple[int, str, int, dict[str, Any]] = (0, "day", 0, {})
_FIELD_NAMES = {name: frozenset(f.name for f in attrs.fields(cls)) for name, cls in EVENT_TYPES.items()}


class _Intent(NamedTuple):
    kind: str
    move: int
    days: int
    precision: str
    mask: int
    details: dict[str, Any]


def _intent(choice: int, decor: tuple[int, str, int, dict[str, Any]]) -> _Intent:
    return _Intent(_INTENDED[choice % len(_INTENDED)], choice // len(_INTENDED), *decor)


def _date(cursor: dt.date, days: int, precision: str) -> PartialDate:
    """A date ``days`` after ``cursor`` at ``precision``; its last day is the next cursor.

    Dates made so never go back, so no event is dated before one it references, and the
    events an ``as_of`` replay keeps are a prefix of the log.
    """
    day = cursor + dt.timedelta(days=days)
    if precision == "month":
        return PartialDate.parse(f"{day.year:04d}-{day.month:02d}")
    if precision == "year":
        return PartialDate.parse(f"{day.year:04d}")
    if precision == "datetime":  # the end of the UTC day: never before an event of the same day
        return PartialDate.of(dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC))
    return PartialDate.of(day)


def _make(
    fold: Fold, cands: tuple[str, ...], intent: _Intent, event_id: str, cursor: dt.date, exclude: Collection[str]
) -> Event | None:
    """The event an intent makes in ``fold`` (not applied), or None if nothing is possible."""
    kind = intent.kind
    options = moves_of(fold, kind, cands) if kind not in exclude else []
    if not options:  # the intent's type has no move here: one of the types that do, evenly
        possible = [k for k in _KINDS if k not in exclude and moves_of(fold, k, cands)]
        if not possible:
            return None
        kind = possible[intent.move % len(possible)]
        options = moves_of(fold, kind, cands)
    if kind == "RatificationRefused" and intent.move % 4 and moves_of(fold, "AgreementRatified", cands):
        # three times in four a ratification instead: one refusal of a bilateral text refuses
        # it, and drawn logs would seldom get past it
        kind, options = "AgreementRatified", moves_of(fold, "AgreementRatified", cands)
    if kind in _ON_TEXTS and intent.move % 2 == 0:  # half the time on the first text offered:
        options = [m for m in options if m.ref == options[0].ref]  # the principal one, if any
    move = options[intent.move % len(options)]
    if kind == "AgreementSigned" and intent.move % 2 == 0:
        move = options[-1]  # and every party still to sign it, together: the text is signed
    occurred = _date(cursor, intent.days, intent.precision)
    names = _FIELD_NAMES[kind]
    details = {k: v for k, v in intent.details.items() if k in names and k not in ("actor", "deadline")}
    joint = (kind == "ContactHeld" and move.ref is None) or kind in (
        "ConsultationHeld",
        "FrameworkAgreed",
        "TextAgreed",
    )
    addressed = kind in ("ContactProposed", "ProposalPublished") and move.ref is None
    if (joint or addressed) and move.parties:
        chosen = [p for i, p in enumerate(move.parties) if intent.mask >> i & 1]
        if len(chosen) >= (2 if joint else 1):
            details["parties" if joint else "to"] = chosen
    # the document variants, from bits drawn already: one reply to a proposal in three initials
    # it; one statement by an addressee of a document in five disputes its delivery
    if kind == "ReplyDelivered" and intent.move % 3 == 1 and fold.docs[str(move.ref)].kind == "proposal":
        details.update(initialled=True, stance=ReplyStance.ACCEPT)
    if kind == "PositionStated" and intent.move % 5 == 2 and move.actor and not move.co_actors:
        delivered = [d.id for d in fold.docs.values() if move.actor in d.addressees]
        if delivered:
            details.update(disputes_delivery=True, ref=delivered[-1])
    if kind == "PartyWithdrew" and intent.move % 3 == 1:  # one withdrawal in three is a notice
        text = fold.agreements[str(move.ref)]
        if move.actor not in text.notices and not set(move.co_actors or ()) & set(text.notices):
            details["effective"] = PartialDate.of(occurred.last_day + dt.timedelta(days=30))
    if kind == "DeadlineSet":
        if "deadline_days" in intent.details:
            details["deadline"] = PartialDate.of(occurred.last_day + dt.timedelta(days=intent.details["deadline_days"]))
        if "deadline_actor" in intent.details:
            details["actor"] = cands[intent.details["deadline_actor"] % len(cands)]
    return build(move, fold, id=event_id, occurred=occurred, details=details)


class _Walk:
    """A fold being extended by intents (inside one draw: mutable on purpose)."""

    def __init__(self, start: NegotiationState | None, extra_parties: Iterable[str]) -> None:
        self.start = start if start is not None else NegotiationState.empty(SIMULATED)
        self.fold: Fold = self.start.copy_fold()
        self.cands = candidates(self.fold, extra_parties)
        self.ids = fresh_ids(set(self.fold.all_ids))
        self.cursor = latest_day(self.fold)
        self.events: list[Event] = []

    def play(self, intents: Iterable[_Intent], exclude: Collection[str]) -> _Walk:
        for intent in intents:
            event = _make(self.fold, self.cands, intent, next(self.ids), self.cursor, exclude)
            if event is None:
                break
            self.fold.apply(event)
            self.cursor = event.occurred.last_day
            self.events.append(event)
        return self


def _walk(
    start: NegotiationState | None,
    min_events: int,
    max_events: int,
    extra_parties: tuple[str, ...],
    exclude: tuple[str, ...],
) -> st.SearchStrategy[_Walk]:
    skip = frozenset(exclude)

    def play(lists: tuple[list[int], list[tuple[int, str, int, dict[str, Any]]]]) -> _Walk:
        choices, decors = lists
        intents = [_intent(c, decors[i] if i < len(decors) else _PLAIN) for i, c in enumerate(choices)]
        return _Walk(start, extra_parties).play(intents, skip)

    # the length is drawn first, evenly: lists of their own would mostly be a few events long,
    # too short to reach the stages after an agreed text
    lengths = st.integers(min_events, max_events)
    return lengths.flatmap(
        lambda n: st.tuples(st.lists(_CHOICES, min_size=n, max_size=n), st.lists(_DECOR, max_size=n))
    ).map(play)


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

    Each event is an event type and one of its moves (actor, ref), played against the state
    (a type with no move there gives way to one of those that have one), with dates and free
    fields drawn apart; events carry the start's negotiation id, fresh ids ``sim-1``,
    ``sim-2``, ... and dates that never go back from the start's latest event. Shrinks
    towards fewer events and the contract's first event types.
    """
    _check_bounds(min_events, max_events)
    return _walk(start, min_events, max_events, tuple(parties), tuple(exclude)).map(lambda walk: walk.events)


def states(
    start: NegotiationState | None = None, *, max_events: int = 12, parties: Iterable[str] = ()
) -> st.SearchStrategy[NegotiationState]:
    """The states that :func:`valid_logs` of ``start`` reach."""
    _check_bounds(0, max_events)
    return _walk(start, 0, max_events, tuple(parties), ()).map(
        lambda walk: NegotiationState(walk.fold, as_of=walk.start.as_of, known_at=walk.start.known_at)
    )


# -- one step too far -------------------------------------------------------------------


@attrs.frozen
class InvalidLog:
    """A valid continuation followed by one event that replay must refuse.

    Attributes:
        prefix: the valid events (a continuation of the start state).
        event: the event that is not permitted after them.
        error: the exact :class:`~negotiation.EventRejected` subclass replay raises on it.
        rule: the rule the event breaks, in a few words (``"a second acceptance"``): one of
            :data:`RULES_BROKEN`.
    """

    prefix: tuple[Event, ...]
    event: Event
    error: type[EventRejected]
    rule: str = ""

    @property
    def events(self) -> list[Event]:
        """The whole log: the prefix, then the refused event."""
        return [*self.prefix, self.event]


#: A way to break one rule after a walk: the strategy of (event, error, rule), or None where it
#: cannot.
Fault = Callable[[_Walk, str, PartialDate], st.SearchStrategy[Any] | None]

#: The rules :func:`invalid_logs` breaks, each named as :attr:`InvalidLog.rule` names it.
RULES_BROKEN: tuple[str, ...] = (
    "a type the stage does not permit",
    "an id already used",
    "a ref to no event",
    "a date before the event it references",
    "an actor who may not make the move",
    "a ref to an event of the wrong kind",
    "another negotiation's event",
    "a second acceptance",
    "a reply to a withdrawn document",
    "a second signature",
    "a second ratification",
    "a lapse naming what is not a deadline",
    "a retraction that breaks the log",
    "a second refusal of a ratification",
)


def _of_kinds(kinds: list[str], fixed: dict[str, Any], error: type[EventRejected], rule: str) -> st.SearchStrategy[Any]:
    """Events of one of ``kinds`` with the ``fixed`` fields, each paired with ``error`` and ``rule``."""
    return st.sampled_from(kinds).flatmap(
        lambda k: _event_strategy(EVENT_TYPES[k], fixed).map(lambda e: (e, error, rule))
    )


def _not_permitted(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    allowed = walk.fold.permitted_type_names()
    kinds = [k for k in EVENT_TYPES if k not in allowed and k != "EventRetracted"]
    if not kinds:
        return None
    fixed = {"id": event_id, "occurred": day, "negotiation": walk.fold.negotiation}
    return _of_kinds(kinds, fixed, NotPermitted, RULES_BROKEN[0])


def _duplicate(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    if not walk.fold.all_ids:
        return None
    taken = sorted(walk.fold.all_ids)
    return st.tuples(st.sampled_from(taken), st.sampled_from(list(EVENT_TYPES.values()))).flatmap(
        lambda pair: _event_strategy(
            pair[1], {"id": pair[0], "occurred": day, "negotiation": walk.fold.negotiation}
        ).map(lambda e: (e, DuplicateEventId, RULES_BROKEN[1]))
    )


def _unknown_ref(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    allowed = [*fold.permitted_type_names(), "EventRetracted"]
    kinds = list(dict.fromkeys(k for k in allowed if "ref" in attrs.fields_dict(EVENT_TYPES[k])))
    missing = next(fresh_ids(fold.all_ids, prefix="missing"))
    fixed = {"id": event_id, "occurred": day, "negotiation": fold.negotiation, "ref": missing}
    return _of_kinds(kinds, fixed, UnknownReference, RULES_BROKEN[2])


def _dated_before(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    kinds = [k for k in EVENT_TYPES if k != "EventRetracted"]  # listing retractions replays the log per candidate
    options = [
        m
        for m in moves(fold, walk.cands, kinds)
        if m.ref is not None and fold.by_id[m.ref].occurred.first_day > _FIRST_DAY
    ]

    def make(move: Move) -> tuple[Event, type[EventRejected], str]:
        before = PartialDate.of(fold.by_id[move.ref or ""].occurred.first_day - dt.timedelta(days=1))
        return build(move, fold, id=event_id, occurred=before), DatedBeforeReference, RULES_BROKEN[3]

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
    outsider = next(fresh_ids(set(fold.parties) | set(walk.cands), prefix="Outsider"))

    def make(move: Move) -> tuple[Event, type[EventRejected], str]:
        override: dict[str, Any] = {"parties": (outsider,)} if move.type == "AgreementSigned" else {"actor": outsider}
        return build(move, fold, id=event_id, occurred=day, details=override), WrongActor, RULES_BROKEN[4]

    return st.sampled_from(options).map(make) if options else None


def _invalid_ref(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    actor = walk.cands[0]
    options: list[tuple[str, str]] = [("DocumentDisclosed", e.id) for e in fold.events if e.id not in fold.docs]
    options += [("ContactAccepted", e.id) for e in fold.events if e.id not in fold.contacts]
    options += [("EventRetracted", r.id) for r in fold.retractions]

    def make(option: tuple[str, str]) -> tuple[Event, type[EventRejected], str]:
        kind, ref = option
        move = Move(kind, None if kind == "EventRetracted" else actor, ref)
        return build(move, fold, id=event_id, occurred=day), InvalidReference, RULES_BROKEN[5]

    return st.sampled_from(options).map(make) if options else None


def _wrong_negotiation(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    options = moves(fold, walk.cands, kinds=("ContactProposed", "ConsultationHeld", "PositionStated"))
    if fold.negotiation is None or not options:
        return None
    elsewhere = f"not-{fold.negotiation}"

    def make(move: Move) -> tuple[Event, type[EventRejected], str]:
        details = {"negotiation": elsewhere}
        return build(move, fold, id=event_id, occurred=day, details=details), EventRejected, RULES_BROKEN[6]

    return st.sampled_from(options).map(make)


def _repeated(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    """A move a party already made and may make once: an acceptance, a signature, a ratification,
    a refusal of a ratification."""
    fold = walk.fold
    allowed = fold.permitted_type_names()
    options: list[tuple[Move, type[EventRejected], str]] = []
    if "ContactAccepted" in allowed:
        for c in fold.contacts.values():
            if c.open:
                options += [
                    (Move("ContactAccepted", p, c.id), InvalidReference, RULES_BROKEN[7]) for p in c.accepted_by
                ]
    text = fold.text  # the principal text, where the stage permits its signature or ratification
    if text is not None and (fold.stage, "AgreementSigned") in TABLE:
        options += [(Move("AgreementSigned", None, text.id, (p,)), WrongActor, RULES_BROKEN[9]) for p in text.signed]
    if text is not None and (fold.stage, "AgreementRatified") in TABLE:
        options += [(Move("AgreementRatified", p, text.id), WrongActor, RULES_BROKEN[10]) for p in text.ratified]
    if text is not None and (fold.stage, "RatificationRefused") in TABLE:
        options += [(Move("RatificationRefused", p, text.id), WrongActor, RULES_BROKEN[13]) for p in text.refused]

    def make(option: tuple[Move, type[EventRejected], str]) -> tuple[Event, type[EventRejected], str]:
        move, error, rule = option
        return build(move, fold, id=event_id, occurred=day), error, rule

    return st.sampled_from(options).map(make) if options else None


def _refused(
    walk: _Walk, moves: list[Move], event_id: str, day: PartialDate, rule: str
) -> st.SearchStrategy[Any] | None:
    """One of ``moves`` as an event its rule refuses with InvalidReference, or None if there is none."""
    if not moves:
        return None
    fold = walk.fold
    return st.sampled_from(moves).map(
        lambda move: (build(move, fold, id=event_id, occurred=day), InvalidReference, rule)
    )


def _answer_to_withdrawn(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    if "ReplyDelivered" not in fold.permitted_type_names():
        return None
    options = [Move("ReplyDelivered", p, d.id) for d in fold.docs.values() if not d.live for p in d.addressees]
    return _refused(walk, options, event_id, day, RULES_BROKEN[8])


def _lapse_of_no_deadline(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    fold = walk.fold
    if "TalksLapsed" not in fold.permitted_type_names():
        return None
    options = [Move("TalksLapsed", None, e.id) for e in fold.events if e.id not in fold.deadlines]
    return _refused(walk, options, event_id, day, RULES_BROKEN[11])


def _breaking_retraction(walk: _Walk, event_id: str, day: PartialDate) -> st.SearchStrategy[Any] | None:
    """The retraction of an event a later one references: the log without it would not replay."""
    fold = walk.fold
    retracted = {r.ref for r in fold.retractions}
    options = [
        Move("EventRetracted", None, e.id) for e in fold.events if fold.ref_count.get(e.id) and e.id not in retracted
    ]
    return _refused(walk, options, event_id, day, RULES_BROKEN[12])


_FAULTS: tuple[Fault, ...] = (
    _not_permitted,
    _duplicate,
    _unknown_ref,
    _dated_before,
    _wrong_actor,
    _invalid_ref,
    _wrong_negotiation,
    _repeated,
    _answer_to_withdrawn,
    _lapse_of_no_deadline,
    _breaking_retraction,
)


@st.composite
def _invalid(
    draw: st.DrawFn, start: NegotiationState | None, max_events: int, extra_parties: tuple[str, ...]
) -> InvalidLog:
    walk = draw(_walk(start, 0, max_events, extra_parties, ()))
    event_id = next(walk.ids)
    day = PartialDate.of(latest_day(walk.fold))
    faults = [s for fault in _FAULTS if (s := fault(walk, event_id, day)) is not None]
    event, error, rule = draw(st.one_of(faults))
    return InvalidLog(tuple(walk.events), event, error, rule)


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
    (:class:`~negotiation.EventRejected` itself), a second acceptance, signature or
    ratification, a reply to a withdrawn document, a lapse naming what is not a deadline, a
    retraction that would break the log (:data:`RULES_BROKEN`, named in ``log.rule``).
    ``start.extend(log.events)`` raises ``log.error`` naming ``log.event``.
    """
    _check_bounds(0, max_events)
    return _invalid(start, max_events, tuple(parties))


# -- lines that are not events ----------------------------------------------------------------


@attrs.frozen
class MalformedLine:
    """A log line that is not a well-formed event, and the error reading it raises.

    Attributes:
        line: the text of the line.
        error: :class:`~negotiation.LogSyntaxError` (not a JSON object),
            :class:`~negotiation.InvalidDate` or :class:`~negotiation.InvalidEvent`.
        rule: what is wrong, in a few words: one of :data:`MALFORMED`.
    """

    line: str
    error: type[NegotiationError]
    rule: str


#: What :func:`malformed_lines` breaks, as :attr:`MalformedLine.rule` names it.
MALFORMED: tuple[str, ...] = ("not JSON", "not an object", "a missing field", "a bad date", "an unknown type")


def _malformed(event: Event, how: int, cut: int) -> MalformedLine:
    data = event.to_dict()
    text = json.dumps(data, ensure_ascii=False)
    if how == 0:  # cut short, or a trailing comma: not JSON
        return MalformedLine(
            text[: 1 + cut % (len(text) - 1)] if cut % 2 else text[:-1] + ",}", LogSyntaxError, MALFORMED[0]
        )
    if how == 1:
        return MalformedLine(json.dumps([data]), LogSyntaxError, MALFORMED[1])
    if how == 2:
        required = [f.name for f in attrs.fields(type(event)) if f.default is attrs.NOTHING]
        del data[required[cut % len(required)]]
        return MalformedLine(json.dumps(data, ensure_ascii=False), InvalidEvent, MALFORMED[2])
    if how == 3:
        data["occurred"] = ("2022-02-30", "2022-13", "22-01-01", "2022-01-26T10:00", "soon")[cut % 5]
        return MalformedLine(json.dumps(data, ensure_ascii=False), InvalidDate, MALFORMED[3])
    data["type"] = ("ProposalTabled", "replydelivered", "")[cut % 3]
    return MalformedLine(json.dumps(data, ensure_ascii=False), InvalidEvent, MALFORMED[4])


def malformed_lines() -> st.SearchStrategy[MalformedLine]:
    """Log lines that are not well-formed events, each with the error reading it raises: text
    that is not JSON, JSON that is not an object, a missing required field, an impossible or
    offset-less date, an unknown type (:data:`MALFORMED`). Built from well-formed events, so
    the line is otherwise like a real one."""
    return st.builds(_malformed, events(), st.integers(0, len(MALFORMED) - 1), st.integers(0, 1000))


# -- registration with Hypothesis ---------------------------------------------------------


def register_types() -> None:
    """Register the strategies for ``st.from_type`` (Hypothesis' entry point calls this)."""
    for cls in EVENT_TYPES.values():
        st.register_type_strategy(cls, events(cls))
    st.register_type_strategy(Event, events())
    st.register_type_strategy(PartialDate, dates())
    st.register_type_strategy(Source, sources())
    st.register_type_strategy(NegotiationState, states())


# -- the stateful base class ----------------------------------------------------------------


class NegotiationMachine(RuleBasedStateMachine):
    """A Hypothesis state machine whose rules are the permitted next steps of a negotiation.

    Subclass it, set :attr:`start` (default: the empty negotiation) and state invariants of
    your scenarios with ``@invariant()`` over :attr:`state` (the current
    :class:`~negotiation.NegotiationState`) and :attr:`events` (the events made so far)::

        class Scenario(NegotiationMachine):
            start = replay_log("events/security-guarantees-2021.jsonl", as_of="2022-02-02")

            @invariant()
            def nothing_in_force_without_a_text(self):
                if self.state.stage is Stage.IN_FORCE:
                    assert self.state.agreement is not None

        TestScenario = Scenario.TestCase

    There is one rule per event type (``contact_proposed``, ``reply_delivered``, ...), whose
    precondition is that the type has a move now; each draws one of its moves and the
    event's free fields, as :func:`negotiation.strategies.valid_logs` does. Hypothesis shrinks
    a failing run to a short sequence of steps.

    Attributes:
        start: the state every run starts from.
        parties: parties that may join, besides the negotiation's participants.
        exclude: event types never to make (e.g. ``frozenset({"EventRetracted"})``).
    """

    start: ClassVar[NegotiationState | None] = None
    parties: ClassVar[tuple[str, ...]] = ()
    exclude: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self._walk = _Walk(self.start, self.parties)  # its fold is kept in step with the state
        self.state: NegotiationState = self._walk.start
        self.events: list[Event] = self._walk.events
        self._moves: dict[str, list[Move]] = {}

    def moves_of(self, kind: str) -> list[Move]:
        """The moves of an event type permitted now (cached until the next event)."""
        found = self._moves.get(kind)
        if found is None:
            found = [] if kind in self.exclude else moves_of(self._walk.fold, kind, self._walk.cands)
            self._moves[kind] = found
        return found

    def apply(self, event: Event) -> None:
        """Make an event: the state moves on (strictly: a refused event fails the test)."""
        self.state = self.state.apply(event)
        self._walk.fold.apply(event)
        self.events.append(event)
        self._moves = {}

    def _step(self, kind: str, data: st.DataObject) -> None:
        # One draw per step: an intent of this type (which move, dates, free fields).
        move, decor = data.draw(_STEP, label=kind)
        walk = self._walk
        event = _make(walk.fold, walk.cands, _Intent(kind, move, *decor), next(walk.ids), walk.cursor, self.exclude)
        assert event is not None  # the precondition: this type has a move now
        walk.cursor = event.occurred.last_day
        self.apply(event)


#: A step of the state machine: which move of the type, and the cosmetic choices.
_STEP = st.tuples(_SMALL, _DECOR)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _rule_for(kind: str) -> Callable[..., None]:
    def step(self: NegotiationMachine, data: st.DataObject) -> None:
        self._step(kind, data)

    step.__name__ = step.__qualname__ = _snake(kind)
    step.__doc__ = f"Make a permitted {kind}."
    return precondition(lambda self: bool(self.moves_of(kind)))(rule(data=st.data())(step))


for _kind in EVENT_TYPES:
    setattr(NegotiationMachine, _snake(_kind), _rule_for(_kind))
del _kind


register_types()
