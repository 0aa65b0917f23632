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

from negotiation._records import AgreementRecord, ContactRecord, DeadlineRecord, DocRecord
from negotiation._rules import CHECKS, UPDATES, actor_of
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

        Only events nothing references may go (retract what depends on them first). A neutral
        event that did not move the negotiation out of ``idle`` and names no party first is
        safe without a check. Any other candidate is checked by replaying the events after it
        on a copy of the state before it: one pass builds those states in order, and a
        candidate whose removal breaks the log usually fails within a few events.
        """
        events = self.events
        safe: set[int] = set()
        to_check: list[int] = []
        for index, event in enumerate(events):
            if self.ref_count.get(event.id):
                continue
            if (
                event.TYPE in _NEUTRAL
                and self.stage_before[index] is not Stage.IDLE
                and all(self.parties.get(p, -1) < index for p in event.parties_named())
            ):
                safe.add(index)
            else:
                to_check.append(index)
        if to_check:
            prefix = Fold(self.negotiation, self.engine.fresh())
            done = 0
            for index in to_check:
                while done < index:
                    prefix._apply(events[done])
                    done += 1
                trial = prefix.copy()
                try:
                    for later in itertools.islice(events, index + 1, None):
                        trial._apply(later)
                except EventRejected:
                    continue
                safe.add(index)
        return [events[i].id for i in sorted(safe)]

    # -- questions the state views ask -----------------------------------------------------

    def permitted_type_names(self) -> tuple[str, ...]:
        names = permitted_types(self.stage)
        if self.events:
            names = (*names, "EventRetracted")
        return names
