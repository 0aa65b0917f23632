"""Abstract moves: the permitted next steps as concrete choices, and the events that make them.

A :class:`Move` is one way to take a permitted next step: an event type, the party making it,
the ref it names and the other parties it names (addressees, or the parties of a joint
event). :func:`moves` lists the moves a fold permits now, in the contract's order of event
types, from the steps each type's rule offers (:data:`negotiation.rules.RULES`) and a set of
candidate parties for the steps open to anyone; :func:`build` turns a move into an event that
the fold accepts. The strategies (:mod:`negotiation.strategies`), Monte Carlo and the
shortest-path search (:mod:`negotiation.simulation`) share these, so they agree on what "the
next step" is; their public faces are there.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, cast

import attrs

from negotiation.dates import PartialDate
from negotiation.events import EVENT_TYPES, ContactProposed, Event, InstrumentKind, Level, Mode, ObligationStatus, Role
from negotiation.fold import Fold
from negotiation.machine import NEUTRAL_TYPES, TABLE, Stage
from negotiation.rules import RULES, Step

__all__ = [
    "DEFAULT_DAY",
    "POOL",
    "Move",
    "build",
    "candidates",
    "changes_nothing",
    "fresh_ids",
    "latest_day",
    "listed",
    "moves",
    "moves_of",
    "participants",
    "signature",
]

#: Party names used when a negotiation names fewer than two parties of its own.
POOL: tuple[str, ...] = ("A", "B", "C")
#: The date simulated events start from when the start state has no event.
DEFAULT_DAY = dt.date(2000, 1, 1)
#: How long after it is set a simulated deadline falls due.
DEADLINE_AFTER = dt.timedelta(days=30)

#: Event types whose parties sit at the table: they name addressees or joint parties.
_TABLE_TYPES = frozenset(
    ("ContactProposed", "ContactHeld", "ConsultationHeld", "ProposalPublished", "FrameworkAgreed", "TextAgreed")
)
_NEUTRAL = frozenset(NEUTRAL_TYPES)
_AGREEMENTS = frozenset(("FrameworkAgreed", "TextAgreed"))
#: Moves no stage is ever reached through: suspending or resuming a participation, and joining
#: an agreement in force (it only adds parties, and a stage is reached by fewer).
_NEVER_NEEDED = frozenset(("ParticipationSuspended", "ParticipationResumed", "PartyJoined"))
#: The talks that go on in force keep the stage, and no guard reads them there.
_TALKS_IN_FORCE = frozenset(("ProposalPublished", "ReplyDelivered", "ProposalWithdrawn"))
#: Event types whose moves offered to several actors are also made by all of them together
#: (``co_actors``): a joint reply, ratification, suspension, resumption or break-off.
_JOINT_ACTS = frozenset(
    ("ReplyDelivered", "AgreementRatified", "PartyWithdrew", "TalksSuspended", "TalksResumed", "TalksBrokenOff")
)


class Move(NamedTuple):
    """One way to take a permitted next step.

    Attributes:
        type: the event type.
        actor: the party making the move; None for a joint event or one without an actor
            (AgreementEnteredIntoForce, TalksLapsed, DeadlineSet, EventRetracted, several
            parties signing together).
        ref: the event it names, if any.
        parties: the addressees (``to``) of a proposal or contact proposal, or the parties of
            a joint event (a contact or consultation held, an agreement, a signature).
        co_actors: the parties making a joint act with ``actor`` (a reply, a ratification,
            a suspension by several parties together).
    """

    type: str
    actor: str | None = None
    ref: str | None = None
    parties: tuple[str, ...] | None = None
    co_actors: tuple[str, ...] | None = None


# -- who may be moved -------------------------------------------------------------------


def participants(fold: Fold) -> list[str]:
    """The parties that sat at the table: named as author, addressee or party of a proposal,
    a contact, a consultation or an agreement, in order of first mention.

    A party named only as the actor of a statement or a disclosure (a newspaper that leaked a
    document) is not a participant: simulations do not invite it to agree or to sign.
    """
    return list(dict.fromkeys(p for e in fold.events if e.TYPE in _TABLE_TYPES for p in e.parties_named()))


def candidates(fold: Fold, extra: Iterable[str] = (), exclude: Collection[str] = ()) -> tuple[str, ...]:
    """The parties simulated moves open to anyone are made by (and joint events name).

    The participants of the fold, then ``extra``, less ``exclude`` and the participants in
    another role than party (a mediator is not invited to agree); while fewer than two, every
    party the fold names, then :data:`POOL`, are added (a negotiation needs two).
    """
    names = dict.fromkeys(p for p in (*participants(fold), *extra) if p not in exclude and p not in fold.roles)
    spare = (f"{POOL[0]}{n}" for n in itertools.count(2))  # when the pool's names play other roles
    for party in itertools.chain(fold.parties, POOL, spare):
        if len(names) >= 2:
            break
        if party not in exclude and party not in fold.roles:
            names.setdefault(party, None)
    return tuple(names)


def latest_day(fold: Fold) -> dt.date:
    """The last day any event of the fold can mean (retracted ones too), or :data:`DEFAULT_DAY`.

    An event dated on or after it is never dated before an event it references.
    """
    days = [e.occurred.last_day for e in (*fold.events, *fold.retractions, *fold.retracted.values())]
    return max(days, default=DEFAULT_DAY)


def fresh_ids(taken: Collection[str], prefix: str = "sim") -> Iterator[str]:
    """``prefix-1``, ``prefix-2``, ... skipping the ids in ``taken``: endless."""
    names = (f"{prefix}-{n}" for n in itertools.count(1))
    return (name for name in names if name not in taken)


# -- the moves a fold permits -----------------------------------------------------------


def _shape(cls: type[Event]) -> str:
    """How a step of this type becomes moves: by the fields that name its parties."""
    fields = attrs.fields_dict(cls)
    if "to" in fields:
        return "addressed"  # an actor and addressees
    if "parties" in fields:
        return "joint"  # several parties together
    if "actor" in fields and fields["actor"].default is attrs.NOTHING:
        return "by actor"
    return "alone"  # no actor, or an optional one that simulations leave out


_SHAPES = {kind: _shape(cls) for kind, cls in EVENT_TYPES.items()}


def _expand(kind: str, step: Step, cands: tuple[str, ...]) -> list[Move]:
    """The concrete moves that take ``step``: who makes it and whom it names.

    A step open to anyone is made by each candidate (or, for a joint event, by the
    candidates together); a step with its own actors by each of them (a signature also by
    all of them together), except that moves only parties may make are made by the
    candidates among the parties when there are any.
    """
    shape = _SHAPES[kind]
    if shape == "alone":
        return [Move(kind, None, step.ref)]
    if shape == "joint":
        if step.actors is None:
            parties = cands if step.to is None else step.to
            return [Move(kind, None, step.ref, parties)] if len(parties) >= 2 else []
        out = [Move(kind, p, step.ref, (p,)) for p in step.actors]
        if len(step.actors) > 1:
            out.append(Move(kind, None, step.ref, step.actors))
        return out
    if step.actors is None:
        if shape == "addressed":
            return [Move(kind, p, step.ref, tuple(q for q in cands if q != p)) for p in cands]
        return [Move(kind, p, step.ref) for p in cands]
    actors = step.actors
    if RULES[kind].party_only:
        actors = tuple(p for p in cands if p in step.actors) or actors
    out = [Move(kind, p, step.ref, step.to) for p in actors]
    if kind in _JOINT_ACTS and len(actors) > 1:  # and all of them together
        out.append(Move(kind, actors[0], step.ref, step.to, tuple(actors[1:])))
    return out


def listed(fold: Fold, kind: str, cands: tuple[str, ...]) -> list[Move]:
    """The moves of one event type that its rule offers (whether the stage permits it or not)."""
    if kind in _AGREEMENTS and fold.roles:  # a mediator is not a party to an agreement
        cands = tuple(p for p in cands if p not in fold.roles)
    return [move for step in RULES[kind].steps(fold) for move in _expand(kind, step, cands)]


def moves_of(fold: Fold, kind: str, cands: tuple[str, ...]) -> list[Move]:
    """The moves of one event type that the fold permits now (none if the stage forbids it)."""
    return listed(fold, kind, cands) if kind in fold.permitted_type_names() else []


def moves(fold: Fold, cands: tuple[str, ...], kinds: Collection[str] | None = None) -> list[Move]:
    """Every move the fold permits now, in the contract's order of event types.

    ``cands`` make the moves open to anyone (see :func:`candidates`); ``kinds`` restricts
    the event types (default: all).
    """
    permitted = fold.permitted_type_names()
    return [move for kind in permitted if kinds is None or kind in kinds for move in listed(fold, kind, cands)]


# -- the event that makes a move --------------------------------------------------------


def build(
    move: Move,
    fold: Fold,
    *,
    id: str,
    occurred: PartialDate,
    details: Mapping[str, Any] | None = None,
) -> Event:
    """The event that makes ``move`` in ``fold``, with plain values for the fields a move
    does not choose (a level, a title); ``details`` overrides them (strategies draw them).

    The event carries the fold's negotiation. It is accepted by ``fold`` when ``move`` came
    from :func:`moves` of that fold and ``occurred`` is on or after :func:`latest_day`.
    """
    kind = move.type
    fields: dict[str, Any] = {"id": id, "occurred": occurred, "negotiation": fold.negotiation}
    if kind in ("ContactProposed", "ProposalPublished"):
        assert move.actor is not None
        assert move.parties is not None
        fields.update(actor=move.actor, to=move.parties)
        if kind == "ContactProposed":
            fields["level"] = Level.ENVOY
        else:
            title = f"Proposal by {move.actor}" if move.ref is None else f"Counter-proposal by {move.actor}"
            fields.update(title=title, ref=move.ref)
    elif kind == "ContactHeld":
        level, mode = Level.ENVOY, Mode.IN_PERSON
        proposed = fold.by_id.get(move.ref) if move.ref is not None else None
        if isinstance(proposed, ContactProposed):
            level, mode = proposed.level, proposed.mode or mode
        fields.update(parties=move.parties, level=level, mode=mode, ref=move.ref)
    elif kind in ("ConsultationHeld", "FrameworkAgreed", "TextAgreed"):
        fields["parties"] = move.parties
        if kind != "ConsultationHeld":
            fields["title"] = "Agreed framework" if kind == "FrameworkAgreed" else "Agreed text"
        if kind == "TextAgreed" and (fold.stage, kind) not in TABLE:  # only a side instrument may be agreed
            fields.update(title="Interim agreement", kind=InstrumentKind.INTERIM)
    elif kind == "AgreementSigned":
        fields.update(parties=move.parties, ref=move.ref)
    elif kind == "DeadlineSet":
        last = occurred.last_day  # a month on, or the calendar's last day for a log dated at its end
        fields["deadline"] = PartialDate.of(
            last + DEADLINE_AFTER if last <= dt.date.max - DEADLINE_AFTER else dt.date.max
        )
    elif kind == "EventRetracted":
        fields.update(ref=move.ref, reason="simulated retraction")
    else:
        if move.actor is not None:
            fields["actor"] = move.actor
        if move.ref is not None:
            fields["ref"] = move.ref
        if kind == "ParticipantJoined":  # an outsider joins as a mediator; a party declares itself one
            fields["role"] = Role.PARTY if move.actor in fold.parties else Role.MEDIATOR
        elif kind == "ImplementationReported":
            fields["status"] = ObligationStatus.MET
        elif kind == "ViolationAlleged":  # against another party of the agreement
            parties = fold.agreements[move.ref or ""].parties
            fields["against"] = [next((p for p in parties if p != move.actor), parties[0])]
    if move.co_actors:
        fields["co_actors"] = move.co_actors
    if details:
        fields.update(details)
    make = cast(Callable[..., Event], EVENT_TYPES[kind])  # each type's own keyword fields
    return make(**fields)


# -- what decides the stages still reachable ----------------------------------------------


def signature(fold: Fold) -> tuple[object, ...]:
    """What the stages reachable from ``fold`` depend on, for the shortest-path search.

    The stage machine's guards read the stage held before a pause, how many live proposals
    are unanswered and the agreed text's parties, signatures, ratifications and withdrawals;
    which parties may suspend, resume or break off depends on the parties named and the
    participants' roles. Two folds with the same signature reach the same stages by
    the same numbers of stage-changing moves.
    """
    text = fold.text
    text_sig = (
        None
        if text is None
        else (
            text.parties,
            tuple(sorted(text.signed)),
            tuple(sorted(text.ratified)),
            tuple(sorted(text.withdrawn)),
            tuple(sorted(text.joined)),
        )
    )
    return (
        fold.stage,
        fold.paused_from,
        fold.open_proposals,
        tuple(sorted(fold.parties)),
        tuple(sorted(fold.roles.items())),
        text_sig,
    )


def changes_nothing(kind: str, fold: Fold) -> bool:
    """Whether an event of ``kind`` can neither move the fold's stage nor matter later.

    Contacts, consultations, statements, disclosures and deadlines change no stage outside
    ``idle`` and no guard reads them; they matter only by naming the first parties (talks are
    suspended, resumed or broken off by a named party). Once the stage is past ``idle`` and
    some party is named, a shortest path to a stage never needs one. Nor does it need a
    suspended or resumed participation, a party joining an agreement (it only adds parties), or
    the talks that go on in force (they keep ``in_force`` and no guard reads them there).
    """
    if kind in _NEVER_NEEDED:
        return True
    if fold.stage is Stage.IN_FORCE and kind in _TALKS_IN_FORCE:
        return True
    return kind in _NEUTRAL and fold.stage is not Stage.IDLE and bool(fold.parties)
