"""Which events may be retracted now, and why one backward pass decides most of them.

Retracting an event is permitted when the effective events without it replay. Only events
nothing references may go (retract what depends on them first), and the last one always may
(what is left is a prefix that replayed already). Replaying the log once per candidate costs
O(n²) (1,000 events: 0.8 s); :func:`retractable` decides most candidates in one backward pass
over the log instead (1,000 events: 0.4 ms) and replays only the rest, each from a copy of the
state before it, which one forward pass builds in order.

Why the pass is exact. Call the state before an unreferenced event ``e`` the *trial* (replay
without ``e`` goes on from it) and the state after ``e`` the *real* one (which accepted every
later event); ``s0`` is the stage before ``e``, ``s1`` the stage after. No later event names
``e`` or reads a record kept under its id, and none has its id, so ids, refs and dates check
the same in the trial; apart from the stage, the later events' checks
(:data:`negotiation.rules.RULES`) and the machine's guards read only what is discussed below.
The pass needs the machine's neutral types to keep every stage but ``idle``, unguarded
(:data:`SHORTCUTS`, which a test checks); with a ``transitions``-driven engine every candidate
is replayed.

* ``s0`` not ``idle`` and only neutral events after ``e``: the trial stays in ``s0``, which
  permits them; their checks read only contacts and whether a document exists and is public,
  which no non-neutral event changes. A non-neutral ``e`` is retractable (a neutral one is
  left to the third rule).
* ``s0`` not ``idle`` and the first non-neutral event after ``e`` of a type that ``s0`` does
  not permit: the trial reaches it still in ``s0`` (unless it refuses a neutral event first)
  and refuses it. Not retractable. This catches a suspension, break-off or lapse followed by
  the resumption, and a resumption followed by any move but neutral ones.
* ``s0`` is ``s1`` and ``e`` is a neutral event, a ratification or a framework agreement
  (:data:`INERT_TYPES`): it changes nothing a later check or guard reads, so the trial and the
  real replay accept the same events and go on agreeing on all that is read; ``e`` is
  retractable. Besides records under its own id, ``e`` changes:

  - the parties, when it names one first: read only by the check that the actor of a move
    only parties may make (a suspension, resumption or break-off) is a party; in the trial
    that party joins at the next event that names it, so this is harmless unless the party
    makes one of those moves before another event names it (the party is *exposed*);
  - a contact's acceptances, refusal or holdings, or a document's ``public``: read only by
    the checks that refuse a second acceptance by the same party, a move on a refused
    contact, an acceptance or refusal of a held one, a second disclosure; the real replay
    refuses those, so none comes later;
  - for a ratification: who ratified, read only by the check that refuses a second
    ratification by the same party;
  - for a framework agreement or a deadline: which deadlines are met, which nothing reads
    but the views.

* A proposal, reply or withdrawal (:data:`ANSWERS`) that leaves the stage in
  ``proposal_open`` or ``talks`` if it was in one of them (else keeps it) and does not make a
  proposal answered for the first time (a guard of contract version 1 read that; the pass
  still leaves those to a replay, which costs little): the trial differs from the real replay only in the
  count of open proposals, which documents are answered (read only to update that count),
  whether the withdrawn proposal is live (only its answers and withdrawals read that, and the
  real replay refuses those), the positions stated (which no check reads), and
  ``proposal_open`` for ``talks`` or back, in the stage and in the stage a suspension keeps.
  Those two stages permit the same types and lead on each type to alike stages (or the same
  one), whatever the count of open proposals, the only guard that reads it; a resumption
  leads back to the stage kept (:data:`ALIKE`, which a test checks on the machine). So the
  trial accepts every later event and the differences stay of that kind: retractable (unless
  a party it names first is exposed, as above).
* ``s0`` is ``idle``: ``e`` is the first event (every type that ``idle`` permits leaves it,
  and none leads back), so the trial is the empty fold and the next event ``f`` comes first
  in it, in ``idle``. If ``idle`` does not permit ``f``'s type, the trial refuses it: not
  retractable. If ``e`` is neutral and ``f``'s type leads, unguarded, from ``idle`` and from
  ``s1`` to the same stage: ``e`` changed no counter, no record ``f``'s check reads (a first
  event names no ref) and nothing but records under its id and the parties, so after ``f``
  the trial is where the third rule leaves it, in the same stage as the real replay:
  retractable (unless a party it names first is exposed).

Whatever the pass leaves undecided is replayed.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from negotiation.errors import EventRejected
from negotiation.events import Event
from negotiation.machine import NEUTRAL_TYPES, UNGUARDED, Stage, permitted_types
from negotiation.rules import RULES, actor_of

if TYPE_CHECKING:
    from negotiation.fold import Fold

__all__ = ["ALIKE", "ANSWERS", "INERT_TYPES", "SHORTCUTS", "retractable", "verdicts"]

_NEUTRAL = frozenset(NEUTRAL_TYPES)
_PERMITS: dict[Stage, frozenset[str]] = {stage: frozenset(permitted_types(stage)) for stage in Stage}
#: Whether every neutral type keeps every stage but ``idle``, unguarded: what the pass needs.
SHORTCUTS = all(
    UNGUARDED.get((stage, kind)) is stage for stage in Stage if stage is not Stage.IDLE for kind in _NEUTRAL
)
#: The types whose removal changes nothing a later check or guard reads when the stage is the
#: same before and after them.
INERT_TYPES = frozenset((*NEUTRAL_TYPES, "FrameworkAgreed", "AgreementRatified"))
#: The moves on documents whose removal changes only the count of open proposals.
ANSWERS = frozenset(("ProposalPublished", "ReplyDelivered", "ProposalWithdrawn"))
#: Stages that permit the same types, and from which the same type leads to alike stages,
#: whatever the count of open proposals.
ALIKE = frozenset((Stage.PROPOSAL_OPEN, Stage.TALKS))
#: The types only a party to the talks may make (the only checks that read the parties).
_PARTY_ONLY = frozenset(kind for kind, rule in RULES.items() if rule.party_only)


#: Types whose removal changes who is a party, or for whom a move counts, beyond what the pass
#: follows: a log holding one is judged by replay alone.
_BEYOND = frozenset(("ParticipantJoined", "ParticipantLeft", "RatificationRefused"))


def _plain(fold: Fold) -> bool:
    """Whether the pass may judge ``fold``: no roles declared, no joint act (``co_actors``), no
    side instrument (whose events the stage table does not decide) and no refused or partial
    ratification."""
    return not any(
        e.TYPE in _BEYOND or getattr(e, "co_actors", None) or getattr(e, "partial", None) for e in fold.events
    ) and not any(a.side for a in fold.agreements.values())


def retractable(fold: Fold) -> list[str]:
    """The ids of ``fold``'s effective events whose retraction would be permitted now, in log order."""
    judged = verdicts(fold, shortcuts=fold.table and SHORTCUTS and _plain(fold))
    events = fold.events
    prefix: Fold | None = None
    done = 0
    for n, (index, verdict) in enumerate(judged):
        if verdict is not None:
            continue
        if prefix is None:
            prefix = fold.fresh()
        while done < index:
            prefix.apply(events[done])
            done += 1
        trial = prefix.copy()
        try:
            for later_event in itertools.islice(events, index + 1, None):
                trial.apply(later_event)
        except EventRejected:
            judged[n] = (index, False)
        else:
            judged[n] = (index, True)
    return [events[index].id for index, verdict in judged if verdict]


def verdicts(fold: Fold, *, shortcuts: bool) -> list[tuple[int, bool | None]]:
    """Each unreferenced event's index, in log order, with whether it is retractable: True or
    False where the pass decides it, None where a replay must."""
    events = fold.events
    count = len(events)
    referenced = fold.ref_count
    first_answer = _first_answer(fold) if shortcuts else count
    first_named = set(fold.parties.values()) if shortcuts else set()  # events naming a party first
    exposed: dict[str, bool] | None = None  # found on first need
    following = count  # the index of the first non-neutral event after ``index`` (count: none)
    following_kind = ""  # its type
    after = fold.stage  # the stage after ``index``
    out: list[tuple[int, bool | None]] = []
    for index in range(count - 1, -1, -1):
        event = events[index]
        kind = event.TYPE
        before = fold.stage_before[index]
        if event.id not in referenced:
            verdict: bool | None = None
            guarded = False  # whether an exposed party that the event names first undoes a True
            if index == count - 1:
                verdict = True
            elif not shortcuts:
                pass
            elif before is Stage.IDLE:
                verdict, guarded = _first_verdict(fold, index, kind), True
            elif following == count and kind not in _NEUTRAL:
                verdict = True
            elif following < count and following_kind not in _PERMITS[before]:
                verdict = False
            elif (before is after and kind in INERT_TYPES) or (
                kind in ANSWERS and (before is after or (before in ALIKE and after in ALIKE)) and index != first_answer
            ):
                verdict, guarded = True, True
            if guarded and verdict and index in first_named:
                if exposed is None:
                    exposed = _exposed(fold)
                if any(exposed.get(party) for party, at in fold.parties.items() if at == index):
                    verdict = None
            out.append((index, verdict))
        if kind not in _NEUTRAL:
            following = index
            following_kind = kind
        after = before
    out.reverse()
    return out


def _first_verdict(fold: Fold, index: int, kind: str) -> bool | None:
    """The verdict on the first event, when it is not the last (see the module's argument)."""
    if index != 0:  # cannot be: no stage leads back to idle
        return None
    following = fold.events[1].TYPE
    if following not in _PERMITS[Stage.IDLE]:
        return False
    if kind not in _NEUTRAL:
        return None
    after = fold.stage_before[2] if len(fold.stage_before) > 2 else fold.stage
    trial = UNGUARDED.get((Stage.IDLE, following))
    if trial is not None and trial is after and UNGUARDED.get((fold.stage_before[1], following)) is after:
        return True
    return None


def _answers_proposal(fold: Fold, event: Event) -> bool:
    ref = event.ref_id
    return ref is not None and event.TYPE != "ProposalWithdrawn" and fold.docs[ref].kind == "proposal"


def _first_answer(fold: Fold) -> int:
    """The index of the first event that answers a proposal (the number of events if none)."""
    found = (i for i, e in enumerate(fold.events) if e.TYPE in ANSWERS and _answers_proposal(fold, e))
    return next(found, len(fold.events))


def _exposed(fold: Fold) -> dict[str, bool]:
    """Each party that made a move only parties may make: whether its first such move comes
    before any event names it a second time (True: exposed)."""
    parties = fold.parties
    named = max(parties.values(), default=-1)  # the index of the last event naming a party first
    exposed: dict[str, bool] = {}
    for index, event in enumerate(fold.events):
        if index > named and len(exposed) == len(parties):
            break  # every party settled and named first: the rest settles nothing
        kind = event.TYPE
        if kind in _PARTY_ONLY:
            actor = actor_of(event)
            if actor is not None and actor not in exposed:
                exposed[actor] = True  # checked before the event names it
        if not RULES[kind].outsider:
            for party in event.parties_named():
                if party not in exposed and parties[party] < index:
                    exposed[party] = False
    return exposed
