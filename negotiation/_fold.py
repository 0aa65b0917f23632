"""Folding events into derived state, one event at a time.

:class:`Fold` is replay's private, mutable accumulator. It checks what every event must
satisfy (a new id, a stage that permits the type, an existing and not earlier ref), runs the
type's own check from :mod:`negotiation._rules`, asks the engine for the next stage, and has
the type's update change its records (:mod:`negotiation._records`), in O(1) per event except
for a retraction, which replays the log without the retracted event. The public, immutable
:class:`~negotiation.state.NegotiationState` wraps a fold that is never mutated again.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator, Sequence

from negotiation._lazy import gc_paused, keys_of
from negotiation._records import AgreementRecord, ContactRecord, DeadlineRecord, DocRecord
from negotiation._rules import CHECKS, PARTIES_CHECKED, UPDATES, actor_of
from negotiation.errors import (
    DatedBeforeReference,
    DuplicateEventId,
    EventRejected,
    InvalidReference,
    NotPermitted,
    UnknownReference,
)
from negotiation.events import (
    _PARTY_FIELDS,
    AgreementSigned,
    Event,
    EventRetracted,
    Stance,
)
from negotiation.machine import NEUTRAL_TYPES, TABLE, UNGUARDED, Engine, Stage, TableEngine, permitted_types

#: The version of the rules below. Bump it whenever a change makes the same events fold into
#: different records: stores ignore snapshots taken under another version (negotiation.snapshot).
RULES_VERSION = 2

_NEUTRAL = frozenset(NEUTRAL_TYPES)
#: The event types each stage permits (EventRetracted aside), for Fold._verdicts.
_PERMITS: dict[Stage, frozenset[str]] = {stage: frozenset(permitted_types(stage)) for stage in Stage}
#: Whether every neutral type keeps every stage but ``idle``, unguarded: the shortcuts of
#: Fold._verdicts rely on it (a test checks that it holds, so that they are used).
_SHORTCUTS = all(
    UNGUARDED.get((stage, kind)) is stage for stage in Stage if stage is not Stage.IDLE for kind in _NEUTRAL
)
#: The types whose removal changes nothing a later check or guard reads when the stage is the
#: same before and after them (see Fold._verdicts).
_INERT_TYPES = frozenset((*NEUTRAL_TYPES, "FrameworkAgreed", "AgreementRatified"))
#: The moves on documents whose removal changes only what the count of open proposals decides
#: (and whether any proposal was answered; see Fold._verdicts).
_ANSWERS = frozenset(("ProposalPublished", "ReplyDelivered", "ProposalWithdrawn"))
#: Stages that permit the same types, and from which the same type leads to alike stages,
#: whatever the count of open proposals (the only guard that tells them apart): a log that
#: replays with the negotiation in one of them replays with it in the other
#: (tests/test_retractable.py checks this on the table).
_ALIKE = frozenset((Stage.PROPOSAL_OPEN, Stage.TALKS))
#: Events whose actor may be an outsider (a statement; a disclosure, e.g. a newspaper's leak):
#: they do not make their actor a party to the talks.
_OUTSIDE_TYPES = frozenset(("PositionStated", "DocumentDisclosed"))
#: The moves that settle a deadline set on what they reference (answers, signatures, ...).
_SETTLING = frozenset(
    (
        "ReplyDelivered",
        "ProposalPublished",
        "ContactAccepted",
        "ContactDeclined",
        "ContactHeld",
        "AgreementSigned",
        "AgreementRatified",
        "AgreementEnteredIntoForce",
    )
)


_TYPE = operator.attrgetter("TYPE")
_ID = operator.attrgetter("id")


class Digest:
    """What :meth:`Fold._verdicts` reads of the effective events, short of the events themselves.

    Each event's id and type, the index of the first that answers a proposal, and for each
    party whether its first move that only parties may make (a suspension, resumption or
    break-off: :data:`~negotiation._rules.PARTIES_CHECKED`) comes before any event names it a
    second time. A snapshot keeps the digest of the events it covers (:mod:`negotiation.snapshot`), so that a
    restored fold tells which events may be retracted without reading them back.
    """

    __slots__ = ("exposed", "first_answer", "ids", "kinds")

    def __init__(self, ids: list[str], kinds: list[str], first_answer: int | None, exposed: dict[str, bool]) -> None:
        self.ids = ids
        self.kinds = kinds
        self.first_answer = first_answer  # None if no event answers a proposal
        # party -> whether its first suspension, resumption or break-off comes before a second
        # event names it (True) or not (False); a party that has done neither is not there
        self.exposed = exposed


class Covered:
    """A fold's effective events restored from a snapshot (see :mod:`negotiation.snapshot`).

    The fold only appends to it; until something reads the events the snapshot covers, it
    gives their digest and the events appended since without reading them.
    """

    __slots__ = ()

    def unread(self) -> tuple[Digest, list[Event]] | None:
        """The covered events' digest and the events appended, or None once the covered ones are read."""
        raise NotImplementedError


class Fold:
    """The derived state of one negotiation, built event by event (private, mutable)."""

    def __init__(self, negotiation: str | None = None, engine: Engine | None = None) -> None:
        self.negotiation = negotiation
        self.engine: Engine = engine if engine is not None else TableEngine()
        self._table = isinstance(self.engine, TableEngine)  # the hot path reads the table inline
        self.stage: Stage = Stage.IDLE
        self.paused_from: Stage | None = None
        self.any_proposal_answered = False
        self.open_proposals = 0
        self.events: list[Event] = []  # effective events (not retracted, no retractions)
        self.stage_before: list[Stage] = []  # the stage before each effective event
        self.by_id: dict[str, Event] = {}
        self.ref_count: dict[str, int] = {}
        self.all_ids: set[str] = set()
        self.retractions: list[EventRetracted] = []
        self.retracted: dict[str, Event] = {}
        self.docs: dict[str, DocRecord] = {}
        self.contacts: dict[str, ContactRecord] = {}
        self.agreements: dict[str, AgreementRecord] = {}
        self.text: AgreementRecord | None = None  # the agreed text the stages from text_agreed follow
        self.deadlines: dict[str, DeadlineRecord] = {}
        self.deadlines_by_ref: dict[str | None, list[DeadlineRecord]] = {}
        self.positions: dict[tuple[str, str], tuple[Stance, str]] = {}
        self.parties: dict[str, int] = {}  # party at the table -> index of the first event naming it
        # (ref, party) -> whether ref is a document (else a contact): each answer owed on a live
        # document or an open contact, in log order (NegotiationState.awaiting reads it)
        self.owed: dict[tuple[str, str], bool] = {}
        self.rejected: list[EventRejected] = []

    def copy(self) -> Fold:
        """An independent copy (records cloned): O(size of the state)."""
        new = Fold.__new__(Fold)
        new.__dict__.update(self.__dict__)
        new.events = list(self.events)
        new.stage_before = list(self.stage_before)
        new.by_id = dict(self.by_id)
        new.ref_count = dict(self.ref_count)
        new.all_ids = set(self.all_ids)
        new.retractions = list(self.retractions)
        new.retracted = dict(self.retracted)
        new.docs = {k: v.clone() for k, v in self.docs.items()}
        new.contacts = {k: v.clone() for k, v in self.contacts.items()}
        new.agreements = {k: v.clone() for k, v in self.agreements.items()}
        new.text = new.agreements[self.text.id] if self.text is not None else None
        new.deadlines = {k: v.clone() for k, v in self.deadlines.items()}
        new.deadlines_by_ref = {}
        for record in new.deadlines.values():
            new.deadlines_by_ref.setdefault(record.event.ref, []).append(record)
        new.positions = dict(self.positions)
        new.parties = dict(self.parties)
        new.owed = dict(self.owed)
        new.rejected = list(self.rejected)
        return new

    # -- guards' questions (see machine.FoldView) ------------------------------------------

    def open_proposals_after(self, event: Event) -> int:
        doc = self.docs.get(event.ref_id or "")
        if doc is not None and doc.kind == "proposal" and doc.live and not doc.answers:
            return self.open_proposals - 1
        return self.open_proposals

    def completes_signatures(self, event: Event) -> bool:
        assert isinstance(event, AgreementSigned)
        assert self.text is not None
        return all(p in self.text.signed or p in event.parties for p in self.text.parties)

    def parties_left_after_withdrawal(self, event: Event) -> int:
        assert self.text is not None
        return len(self.text.remaining) - 1

    # -- applying an event -----------------------------------------------------------------

    def apply(self, event: Event, *, strict: bool = True) -> None:
        """Validate ``event`` and fold it in; in lenient mode a rejection is recorded instead."""
        try:
            self._apply(event)
        except EventRejected as e:
            if strict:
                raise
            self.rejected.append(e)

    def _reject(self, cls: type[EventRejected], message: str, event: Event) -> EventRejected:
        return cls(message, event=event, stage=self.stage.value)

    def _apply(self, event: Event) -> None:
        # The hot path of replay: one dict lookup for the stage, one for the per-type rules.
        kind = event.TYPE
        event_id = event.id
        if event_id in self.all_ids:
            raise self._reject(DuplicateEventId, f"id {event_id!r} is already used in this negotiation", event)
        if self.negotiation is not None and event.negotiation is not None and event.negotiation != self.negotiation:
            msg = f"negotiation={event.negotiation!r} but this log is negotiation {self.negotiation!r}"
            raise self._reject(EventRejected, msg, event)
        if kind == "EventRetracted":
            assert isinstance(event, EventRetracted)
            self._retract(event)
            return
        stage = self.stage
        key = (stage, kind)
        if not (key in TABLE if self._table else self.engine.allows(stage, kind)):
            permitted = self.permitted_type_names()
            msg = f"{kind} is not permitted in stage {stage.value!r}; permitted: {', '.join(permitted)}"
            raise NotPermitted(msg, event=event, stage=stage.value, permitted=permitted)
        ref: str | None = getattr(event, "ref", None)
        target = None
        if ref is not None:
            target = self.by_id.get(ref)
            if target is None:
                if ref in self.retracted:
                    raise self._reject(UnknownReference, f"ref={ref!r} names a retracted event", event)
                raise self._reject(UnknownReference, f"ref={ref!r} names no earlier event of this negotiation", event)
            if event.occurred.definitely_before(target.occurred):
                msg = (
                    f"occurred={str(event.occurred)!r} is before the event it references "
                    f"({ref!r}, occurred {str(target.occurred)!r})"
                )
                raise self._reject(DatedBeforeReference, msg, event)
        check = CHECKS.get(kind)
        if check is not None:
            check(self, event, target)
        nxt = UNGUARDED.get(key) if self._table else None
        if nxt is None:
            nxt = self.engine.next_stage(stage, self, event)
        index = len(self.events)
        update = UPDATES.get(kind)
        if update is not None:
            update(self, event, index)
        # record the event
        self.events.append(event)
        self.stage_before.append(stage)
        self.by_id[event_id] = event
        self.all_ids.add(event_id)
        if ref is not None:
            self.ref_count[ref] = self.ref_count.get(ref, 0) + 1
            if self.deadlines_by_ref:
                self._settle_deadlines(event, ref)
        parties = self.parties
        for name in () if kind in _OUTSIDE_TYPES else _PARTY_FIELDS[type(event)]:
            value = getattr(event, name)
            if type(value) is str:
                if value not in parties:
                    parties[value] = index
            elif value is not None:
                for party in value:
                    if party not in parties:
                        parties[party] = index
        self.stage = nxt

    def _settle_deadlines(self, event: Event, ref: str) -> None:
        waiting = self.deadlines_by_ref.get(ref)
        if waiting and event.TYPE in _SETTLING:
            actor = actor_of(event)
            signers = event.parties if isinstance(event, AgreementSigned) else ()
            for record in waiting:
                wanted = record.event.actor
                if record.met_by is None and (wanted is None or wanted == actor or wanted in signers):
                    record.met_by = event.id

    # -- retraction ------------------------------------------------------------------------

    def _retract(self, event: EventRetracted) -> None:
        ref = event.ref
        if ref in self.retracted:
            raise self._reject(UnknownReference, f"ref={ref!r} names an event already retracted", event)
        if any(r.id == ref for r in self.retractions):
            raise self._reject(
                InvalidReference, f"ref={ref!r} is a retraction; a retraction cannot be retracted", event
            )
        target = self.by_id.get(ref)
        if target is None:
            raise self._reject(UnknownReference, f"ref={ref!r} names no earlier event of this negotiation", event)
        if event.occurred.definitely_before(target.occurred):
            msg = (
                f"occurred={str(event.occurred)!r} is before the event it references "
                f"({ref!r}, occurred {str(target.occurred)!r})"
            )
            raise self._reject(DatedBeforeReference, msg, event)
        rebuilt = self.without(ref)
        if isinstance(rebuilt, EventRejected):
            msg = (
                f"retracting {ref!r} would leave a log that does not replay: {rebuilt.event.id!r} "
                f"({rebuilt.event.TYPE}) would be refused ({rebuilt.message}); retract what depends on it first"
            )
            raise self._reject(InvalidReference, msg, event)
        rebuilt.all_ids = self.all_ids | {event.id}
        rebuilt.retractions = [*self.retractions, event]
        rebuilt.retracted = {**self.retracted, ref: target}
        rebuilt.rejected = self.rejected
        self.__dict__.update(rebuilt.__dict__)

    def without(self, ref: str) -> Fold | EventRejected:
        """The fold of the effective events less ``ref``, or the error that replay meets."""
        rebuilt = Fold(self.negotiation, self.engine.fresh())
        for event in self.events:
            if event.id == ref:
                continue
            try:
                rebuilt._apply(event)
            except EventRejected as e:
                return e
        return rebuilt

    def retractable(self) -> list[str]:
        """The ids whose retraction would be permitted now, in log order.

        Retracting an event is permitted when replaying the effective events without it
        succeeds (see :meth:`_retract`). Only events nothing references may go (retract what
        depends on them first), and the last one always may (what is left is a prefix that
        replayed already). With the stage table, most other candidates are decided in one
        pass over the log without a replay (:meth:`_verdicts`, which says why that is exact);
        the rest are checked by replaying the events after the candidate on a copy of the
        state before it, which one pass builds in order.

        On a fold restored from a snapshot, the pass reads the snapshot's digest of the events
        it covers (:class:`Digest`), not the events: only a candidate left to a replay reads
        them back, all of them (a state before it cannot be rebuilt otherwise). None is left
        on the benchmark's negotiation; on a real log, an agreement or signature followed by
        another move that its stage permits may be.
        """
        if type(self.events) is list:
            return self._retractable(None)
        with gc_paused():  # a restored fold's digest: a burst of lists and tuples that die with the call
            return self._retractable(self._restored_digest())

    def _retractable(self, digest: Digest | None) -> list[str]:
        """:meth:`retractable`, reading the events or, for a restored fold, ``digest``."""
        verdicts = self._judged(self._table and _SHORTCUTS, digest)
        prefix: Fold | None = None
        done = 0
        for n, (index, verdict) in enumerate(verdicts):
            if verdict is not None:
                continue
            events = self.events  # a restored fold reads its events back here
            if prefix is None:
                prefix = Fold(self.negotiation, self.engine.fresh())
            while done < index:
                prefix._apply(events[done])
                done += 1
            trial = prefix.copy()
            try:
                for later in itertools.islice(events, index + 1, None):
                    trial._apply(later)
            except EventRejected:
                verdicts[n] = (index, False)
            else:
                verdicts[n] = (index, True)
        if digest is None:
            events = self.events
            return [events[index].id for index, verdict in verdicts if verdict]
        ids = digest.ids
        return [ids[index] for index, verdict in verdicts if verdict]

    def _verdicts(self, *, shortcuts: bool) -> list[tuple[int, bool | None]]:
        """Each unreferenced event's index, in log order, with whether it is retractable:
        True or False where that is known without a replay, None where it is not.

        The last event is retractable. With ``shortcuts`` (the stage table, whose neutral
        types keep every stage but ``idle``: ``_SHORTCUTS``), one backward pass decides most
        others. Why that is exact: call the state before an unreferenced event ``e`` the
        trial (replay without ``e`` goes on from it) and the state after ``e`` the real one
        (which accepted every later event); ``s0`` is the stage before ``e``, ``s1`` the stage
        after. No later event names ``e`` or reads a record kept under its id, and none has
        its id, so ids, refs and dates check the same in the trial; apart from the stage,
        the later events' checks (:data:`negotiation._rules.CHECKS`) and the guards read only
        what is discussed below.

        * ``s0`` not ``idle`` and only neutral events after ``e``: the trial stays in ``s0``,
          which permits them; their checks read only contacts and whether a document exists
          and is public, which no non-neutral event changes. A non-neutral ``e`` is
          retractable (a neutral one is left to the last rule).
        * ``s0`` not ``idle`` and the first non-neutral event after ``e`` of a type that ``s0``
          does not permit: the trial reaches it still in ``s0`` (unless it refuses a neutral
          event first) and refuses it. Not retractable. This catches a suspension,
          break-off or lapse followed by the resumption, and a resumption followed by any
          move but neutral ones.
        * ``s0`` is ``s1`` and ``e`` is a neutral event, a ratification or a framework
          agreement (``_INERT_TYPES``): it changes nothing a later check or guard reads, so
          the trial and the real replay accept the same events and go on agreeing on all
          that is read; ``e`` is retractable. Besides records under its own id, ``e`` changes:

          - the parties, when it names one first: read only by the check that the actor
            of a suspension, resumption or break-off is a party
            (:data:`~negotiation._rules.PARTIES_CHECKED`); in the trial that party joins at
            the next event that names it, so this is harmless unless the party makes one
            of those moves before another event names it (the digest's ``exposed``);
          - a contact's acceptances, refusal or holdings, or a document's ``public``:
            read only by the checks that refuse a second acceptance by the same party, a
            move on a refused contact, an acceptance or refusal of a held one, a second
            disclosure; the real replay refuses those, so none comes later;
          - for a ratification: who ratified, read only by the check that refuses a second
            ratification by the same party;
          - for a framework agreement or a deadline: which deadlines are met, which
            nothing reads but the views.

        * A proposal, reply or withdrawal that leaves the stage in ``proposal_open`` or
          ``talks`` if it was in one of them (else keeps it) and does not make a proposal
          answered for the first time: then the trial differs from the real replay only in
          the count of open proposals, which documents are answered (read only to update that
          count), whether the withdrawn proposal is live (only its answers and withdrawals
          read that, and the real replay refuses those), the positions stated (which no check
          reads), and ``proposal_open`` for ``talks`` or back, in the stage and in the stage a
          suspension keeps. Those two stages permit the same types and lead on each type to
          alike stages (or the same one), whatever the count of open proposals, the only
          guard that reads it; a resumption leads back to the stage kept (``_ALIKE``, which a
          test checks on the table). So the trial accepts every later event and the
          differences stay of that kind: retractable (unless a party it names first is
          exposed, as above).
        * ``s0`` is ``idle``: ``e`` is the first event (every type that ``idle`` permits leaves
          it, and none leads back), so the trial is the empty fold, and the next event ``f``
          comes first in it, in ``idle``. If ``idle`` does not permit ``f``'s type, the trial
          refuses it: not retractable. If ``e`` is neutral and ``f``'s type leads, unguarded,
          from ``idle`` and from ``s1`` to the same stage: ``e`` changed no counter, no record
          ``f``'s check reads (a first event names no ref) and nothing but records under its
          id and the parties, so after ``f`` the trial is where the third rule leaves it, in
          the same stage as the real replay: retractable (unless a party it names first is
          exposed).

        Whether a proposal, reply or withdrawal answers a proposal for the first time is
        whether it is the first event that answers one (the digest's ``first_answer``). On a
        fold restored from a snapshot the pass reads that, whether parties are exposed, the
        ids and the types from the snapshot's digest and the events appended since, never
        the events the snapshot covers.
        """
        return self._judged(shortcuts, self._restored_digest())

    def _judged(self, shortcuts: bool, digest: Digest | None) -> list[tuple[int, bool | None]]:
        """:meth:`_verdicts`, reading the events or, for a restored fold, ``digest``."""
        events = self.events
        count = len(events)
        stage_before = self.stage_before
        ref_count = self.ref_count
        # every key has a count of at least one: a lazy table's keys are read at once, not one by one
        referenced: dict[str, int] | set[str] = ref_count if type(ref_count) is dict else set(keys_of(ref_count))
        kinds: Iterator[str]
        ids: Iterator[str]
        exposed: dict[str, bool] | None
        if digest is None:
            kinds, ids = map(_TYPE, reversed(events)), map(_ID, reversed(events))
            first_answer = self._first_proposal_answer() if shortcuts else count
            exposed = None  # found on first need
        else:
            kinds, ids = reversed(digest.kinds), reversed(digest.ids)
            first_answer = count if digest.first_answer is None else digest.first_answer
            exposed = digest.exposed
        first_named = set(self.parties.values()) if shortcuts else set()  # indices of events naming a party first
        following = count  # the index of the first non-neutral event after ``index`` (count: none)
        following_kind = ""  # its type
        after = self.stage  # the stage after ``index``
        neutral = _NEUTRAL
        out: list[tuple[int, bool | None]] = []
        for index, kind, event_id, before in zip(
            range(count - 1, -1, -1), kinds, ids, reversed(stage_before), strict=True
        ):
            if event_id not in referenced:
                verdict: bool | None = None
                guarded = False  # whether an exposed party that the event names first undoes a True
                if index == count - 1:
                    verdict = True
                elif not shortcuts:
                    pass
                elif before is Stage.IDLE:
                    verdict, guarded = self._first_verdict(index, kind, digest), True
                elif following == count and kind not in neutral:
                    verdict = True
                elif following < count and following_kind not in _PERMITS[before]:
                    verdict = False
                elif (before is after and kind in _INERT_TYPES) or (
                    kind in _ANSWERS
                    and (before is after or (before in _ALIKE and after in _ALIKE))
                    and index != first_answer
                ):
                    verdict, guarded = True, True
                # unless a party it names first makes a move that only parties may make before
                # another event names it
                if guarded and verdict and index in first_named:
                    if exposed is None:
                        exposed = self._exposed({}, events, 0)
                    if self._names_exposed(index, exposed):
                        verdict = None
                out.append((index, verdict))
            if kind not in neutral:
                following = index
                following_kind = kind
            after = before
        out.reverse()
        return out

    def _names_exposed(self, index: int, exposed: dict[str, bool]) -> bool:
        """Whether the event at ``index`` names first a party that is exposed (see :class:`Digest`)."""
        return any(exposed.get(party) for party, at in self.parties.items() if at == index)

    def _first_verdict(self, index: int, kind: str, digest: Digest | None) -> bool | None:
        """The verdict on the first event, not the last, made in ``idle`` (see :meth:`_verdicts`)."""
        if index != 0:  # cannot be: no stage leads back to idle
            return None
        following = self.events[1].TYPE if digest is None else digest.kinds[1]
        if following not in _PERMITS[Stage.IDLE]:
            return False
        if kind not in _NEUTRAL:
            return None
        after = self.stage_before[2] if len(self.stage_before) > 2 else self.stage
        trial = UNGUARDED.get((Stage.IDLE, following))
        if trial is not None and trial is after and UNGUARDED.get((self.stage_before[1], following)) is after:
            return True
        return None

    def _answers_proposal(self, event: Event) -> bool:
        """Whether ``event`` (a reply or a proposal) answers a proposal."""
        ref = event.ref_id
        return ref is not None and event.TYPE != "ProposalWithdrawn" and self.docs[ref].kind == "proposal"

    def _first_proposal_answer(self) -> int:
        """The index of the first event that answers a proposal (the number of events if none)."""
        first = self._first_answer(self.events, 0)
        return len(self.events) if first is None else first

    def _first_answer(self, events: Sequence[Event], start: int) -> int | None:
        """The index of the first of ``events`` (numbered from ``start``) that answers a proposal."""
        return next((i for i, e in enumerate(events, start) if e.TYPE in _ANSWERS and self._answers_proposal(e)), None)

    # -- the digest of the effective events ------------------------------------------------

    def digest(self) -> Digest:
        """The digest of the effective events (a snapshot keeps it; see :class:`Digest`).

        A restored fold's combines its snapshot's with the events appended since, without
        reading the covered ones.
        """
        digest = self._restored_digest()
        if digest is None:
            digest = self._extended(Digest([], [], None, {}), self.events, 0)
        return digest

    def _restored_digest(self) -> Digest | None:
        """The digest of a restored fold whose covered events are unread; None for any other."""
        events = self.events
        if not isinstance(events, Covered):
            return None
        unread = events.unread()
        if unread is None:
            return None
        covered, appended = unread
        return self._extended(covered, appended, len(covered.kinds))

    def _extended(self, digest: Digest, events: Sequence[Event], start: int) -> Digest:
        """``digest`` (of the effective events before ``start``) followed by that of ``events``."""
        first = digest.first_answer
        if first is None:
            first = self._first_answer(events, start)
        return Digest(
            [*digest.ids, *map(_ID, events)],
            [*digest.kinds, *map(_TYPE, events)],
            first,
            self._exposed(dict(digest.exposed), events, start),
        )

    def _exposed(self, exposed: dict[str, bool], events: Sequence[Event], start: int) -> dict[str, bool]:
        """``exposed`` (see :class:`Digest`) followed by what ``events`` (from index ``start``) settle.

        Stops as soon as every party is settled and named first: the rest settles nothing.
        """
        parties = self.parties
        named = max(parties.values(), default=-1)  # the index of the last event naming a party first
        moves = PARTIES_CHECKED
        for index, event in enumerate(events, start):
            if index > named and len(exposed) == len(parties):
                break
            kind = event.TYPE
            if kind in moves:
                actor = actor_of(event)
                if actor is not None and actor not in exposed:
                    exposed[actor] = True  # checked before the event names it
            if kind not in _OUTSIDE_TYPES:
                for party in event.parties_named():
                    if party not in exposed and parties[party] < index:
                        exposed[party] = False
        return exposed

    # -- questions the state views ask -----------------------------------------------------

    def permitted_type_names(self) -> tuple[str, ...]:
        names = permitted_types(self.stage)
        if self.events:
            names = (*names, "EventRetracted")
        return names
