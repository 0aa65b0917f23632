"""Folding events into derived state, one event at a time.

:class:`Fold` is replay's mutable accumulator. For each event it checks what every event must
satisfy (a new id, a stage that permits the type, an existing ref not dated after it), runs
the type's check from :data:`negotiation.rules.RULES`, asks the engine for the next stage and
lets the type's effect change the records: O(1) per event, except a retraction, which replays
the log without the retracted event. The public, immutable
:class:`~negotiation.state.NegotiationState` wraps a fold that is not changed again.

A fold restored from a snapshot (:mod:`negotiation.snapshot`) holds the records and the stage
but not the events the snapshot covers: its ``history`` reads them back, and
:meth:`Fold.complete` replays them when something needs them (a retraction, the list of
events, which events may be retracted, a copy to go on from).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from negotiation.dates import PartialDate
from negotiation.errors import (
    DatedBeforeReference,
    DuplicateEventId,
    EventRejected,
    InvalidReference,
    NotPermitted,
    UnknownReference,
)
from negotiation.events import (
    EVENT_TYPES,
    PARTY_FIELDS,
    AgreementSigned,
    Event,
    EventRetracted,
    PartyWithdrew,
    Role,
    Stance,
    TextAgreed,
)
from negotiation.machine import TABLE, UNGUARDED, Engine, Stage, TableEngine, permitted_types
from negotiation.retraction import retractable
from negotiation.rules import (
    INSTRUMENT_TYPES,
    RULES,
    AgreementRecord,
    ContactRecord,
    DeadlineRecord,
    DocRecord,
    actors_of,
    clone,
    side_permits,
)

__all__ = ["SIDE_TEXT_STAGES", "Fold", "later"]

#: Where a side instrument (an interim deal, a protocol, a memorandum) may be agreed: while the
#: talks are live, from their first contacts to the principal text's life in force.
SIDE_TEXT_STAGES: frozenset[Stage] = frozenset(
    (
        Stage.EXPLORATION,
        Stage.PROPOSAL_OPEN,
        Stage.TALKS,
        Stage.FRAMEWORK_AGREED,
        Stage.TEXT_AGREED,
        Stage.SIGNED,
        Stage.RATIFYING,
        Stage.IN_FORCE,
    )
)


#: The types that move an agreed text along its life, in the contract's order.
INSTRUMENT_TYPES_ORDERED = tuple(t for t in EVENT_TYPES if t in INSTRUMENT_TYPES)


def later(date: PartialDate, than: PartialDate) -> bool:
    """Whether ``date`` sorts after ``than`` (the last days decide unless they are equal)."""
    if date.last_day != than.last_day:
        return date.last_day > than.last_day
    return date.sort_key > than.sort_key


class Fold:
    """The derived state of one negotiation, built event by event (mutable)."""

    def __init__(self, negotiation: str | None = None, engine: Engine | None = None) -> None:
        self.negotiation = negotiation
        self.engine: Engine = engine if engine is not None else TableEngine()
        self.table = isinstance(self.engine, TableEngine)  # the hot path reads the table inline
        self.stage: Stage = Stage.IDLE
        self.paused_from: Stage | None = None  # the stage the talks were in before a pause
        self.open_proposals = 0
        self.count = 0  # events folded in: effective, retracted and retractions
        self.latest: PartialDate | None = None  # the latest date of the effective events and retractions
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
        self.roles: dict[str, Role] = {}  # participant in another role than party (a mediator) -> role
        # (ref, party) -> whether ref is a document (else a contact): each answer owed on a live
        # document or an open contact, in log order (negotiation.rules.awaiting reads it)
        self.owed: dict[tuple[str, str], bool] = {}
        self.rejected: list[EventRejected] = []
        # a fold restored from a snapshot: reads back the events it covers (see complete())
        self.history: Callable[[], Iterable[Event]] | None = None

    def fresh(self) -> Fold:
        """An empty fold of the same negotiation and engine."""
        return Fold(self.negotiation, self.engine.fresh())

    def copy(self) -> Fold:
        """An independent copy (records cloned): O(size of the state). Completes a restored fold."""
        self.complete()
        new = Fold.__new__(Fold)
        new.__dict__.update(self.__dict__)
        for name in ("events", "stage_before", "retractions", "rejected"):
            setattr(new, name, list(getattr(self, name)))
        for name in ("by_id", "ref_count", "retracted", "positions", "parties", "roles", "owed"):
            setattr(new, name, dict(getattr(self, name)))
        new.all_ids = set(self.all_ids)
        new.docs = {k: clone(v) for k, v in self.docs.items()}  # type: ignore[misc]
        new.contacts = {k: clone(v) for k, v in self.contacts.items()}  # type: ignore[misc]
        new.agreements = {k: clone(v) for k, v in self.agreements.items()}  # type: ignore[misc]
        new.text = new.agreements[self.text.id] if self.text is not None else None
        new.deadlines = {k: clone(v) for k, v in self.deadlines.items()}  # type: ignore[misc]
        new.deadlines_by_ref = {}
        for record in new.deadlines.values():
            new.deadlines_by_ref.setdefault(record.ref, []).append(record)
        return new

    def complete(self) -> None:
        """Make a fold restored from a snapshot whole: replay the events it covers, then those
        folded in since. A no-op on any other fold."""
        history, tail = self.history, self.events  # both taken at once: another thread may complete it too
        if history is None:
            return
        full = self.fresh()
        for event in history():
            full._apply(event)
        for event in tail:  # folded in after the snapshot (never a retraction: see _retract)
            full._apply(event)
        full.rejected = self.rejected
        self.__dict__.update(full.__dict__)

    # -- the guards' questions (see machine.FoldView) ------------------------------------------

    def open_proposals_after(self, event: Event) -> int:
        doc = self.docs.get(event.ref_id or "")
        if doc is not None and doc.open:
            return self.open_proposals - 1
        return self.open_proposals

    def completes_signatures(self, event: Event) -> bool:
        assert isinstance(event, AgreementSigned)
        assert self.text is not None
        return all(p in self.text.signed or p in event.parties for p in self.text.parties)

    def parties_left_after_withdrawal(self, event: Event) -> int:
        assert self.text is not None
        if isinstance(event, PartyWithdrew) and event.notice:  # the parties stay bound for now
            return len(self.text.remaining)
        leaving = set(actors_of(event))  # a joint withdrawal: every party making it leaves
        return sum(1 for party in self.text.remaining if party not in leaving)

    def refuses_text(self, event: Event) -> bool:
        """After this refusal, fewer than two of the text's remaining parties have not refused it."""
        text = self.agreements[event.ref_id or ""]
        actors = actors_of(event)
        return sum(1 for p in text.remaining if p not in text.refused and p not in actors) < 2

    # -- side instruments ------------------------------------------------------------------------

    def side_instrument(self, event: Event) -> AgreementRecord | bool:
        """The side instrument (interim deal, protocol, memorandum) ``event`` agrees (True) or
        names (its record), whose life never moves the stage; False for any other event."""
        if isinstance(event, TextAgreed):
            return not event.principal
        if event.TYPE in INSTRUMENT_TYPES:
            record = self.agreements.get(event.ref_id or "")
            if record is not None and record.side:
                return record
        return False

    def _not_on_a_side_instrument(self, event: Event) -> None:
        """Refuse an event the stage permits only on a side instrument and that names none."""
        ref = event.ref_id or ""
        target = self._target(event, ref)
        sides = [a.id for a in self.agreements.values() if a.side and a.id != ref]
        msg = (
            f"ref={ref!r} is a {target.TYPE} on which {event.TYPE} is not permitted in stage "
            f"{self.stage.value!r}; expected a side instrument ({', '.join(map(repr, sides))})"
        )
        raise self.reject(InvalidReference, msg, event)

    def _check_side(self, event: Event, side: AgreementRecord | bool) -> None:
        """Refuse an event on a side instrument that its own life stage does not permit (or a
        side text agreed where no talks go on)."""
        kind = event.TYPE
        if side is True:
            if self.stage not in SIDE_TEXT_STAGES:
                stages = ", ".join(s.value for s in Stage if s in SIDE_TEXT_STAGES)
                msg = (
                    f"TextAgreed of a side instrument (kind {event.kind.value!r}) is permitted in stages "  # type: ignore[attr-defined]
                    f"{stages}, not in {self.stage.value!r}"
                )
                raise NotPermitted(msg, event=event, stage=self.stage.value, permitted=self.permitted_type_names())
            return
        assert isinstance(side, AgreementRecord)
        if not side_permits(side, kind):
            names = tuple(t for t in INSTRUMENT_TYPES_ORDERED if side_permits(side, t))
            msg = (
                f"{kind} is not permitted on {side.instrument} instrument {side.id!r}, which is {side.life}; "
                f"permitted on it: {', '.join(names) or 'nothing'}"
            )
            raise NotPermitted(msg, event=event, stage=self.stage.value, permitted=names)

    # -- folding an event in -------------------------------------------------------------------

    def apply(self, event: Event, *, strict: bool = True) -> None:
        """Validate ``event`` and fold it in; in lenient mode a rejection is recorded instead."""
        try:
            self._apply(event)
        except EventRejected as e:
            if strict:
                raise
            self.rejected.append(e)

    def reject(self, cls: type[EventRejected], message: str, event: Event) -> EventRejected:
        """The error refusing ``event`` in the current stage (for the rules to raise)."""
        return cls(message, event=event, stage=self.stage.value)

    def _apply(self, event: Event) -> None:
        # The hot path of replay: one dict lookup for the stage, one for the type's rule.
        kind = event.TYPE
        event_id = event.id
        if event_id in self.all_ids:
            raise self.reject(DuplicateEventId, f"id {event_id!r} is already used in this negotiation", event)
        if self.negotiation is not None and event.negotiation is not None and event.negotiation != self.negotiation:
            msg = f"negotiation={event.negotiation!r} but this log is negotiation {self.negotiation!r}"
            raise self.reject(EventRejected, msg, event)
        if kind == "EventRetracted":
            assert isinstance(event, EventRetracted)
            self._retract(event)
            return
        stage = self.stage
        key = (stage, kind)
        side = self.side_instrument(event) if self.agreements or kind == "TextAgreed" else False
        if side is not False:
            self._check_side(event, side)
        elif not (key in TABLE if self.table else self.engine.allows(stage, kind)):
            names = self.permitted_type_names()
            if kind in names and kind in INSTRUMENT_TYPES:  # permitted on a side instrument only
                self._not_on_a_side_instrument(event)
            side_only = " (a principal text: only a side instrument may be agreed here)" if kind in names else ""
            msg = f"{kind} is not permitted in stage {stage.value!r}{side_only}; permitted: {', '.join(names)}"
            raise NotPermitted(msg, event=event, stage=stage.value, permitted=names)
        ref = event.ref_id
        target = None
        if ref is not None:
            target = self._target(event, ref)
        rule = RULES[kind]
        if rule.check is not None:
            rule.check(self, event, target)
        nxt = stage if side is not False else UNGUARDED.get(key) if self.table else None
        if nxt is None:
            nxt = self.engine.next_stage(stage, self, event)
        if rule.effect is not None:
            rule.effect(self, event)
        index = len(self.events)
        self.events.append(event)
        self.stage_before.append(stage)
        self.by_id[event_id] = event
        self.all_ids.add(event_id)
        self.count += 1
        if self.latest is None or later(event.occurred, self.latest):
            self.latest = event.occurred
        if ref is not None:
            self.ref_count[ref] = self.ref_count.get(ref, 0) + 1
            if rule.settles and self.deadlines_by_ref:
                self._settle_deadlines(event, ref)
        if not rule.outsider:
            parties, roles = self.parties, self.roles
            for name in PARTY_FIELDS[type(event)]:
                value = getattr(event, name)
                if type(value) is str:
                    if value not in parties and value not in roles:
                        parties[value] = index
                elif value is not None:
                    for party in value:
                        if party not in parties and party not in roles:
                            parties[party] = index
        self.stage = nxt

    def _target(self, event: Event, ref: str) -> Event:
        """The earlier event ``ref`` names, checked to exist and not to be dated after ``event``."""
        target = self.by_id.get(ref)
        if target is None:
            if ref in self.retracted:
                raise self.reject(UnknownReference, f"ref={ref!r} names a retracted event", event)
            raise self.reject(UnknownReference, f"ref={ref!r} names no earlier event of this negotiation", event)
        if event.occurred.definitely_before(target.occurred):
            msg = (
                f"occurred={str(event.occurred)!r} is before the event it references "
                f"({ref!r}, occurred {str(target.occurred)!r})"
            )
            raise self.reject(DatedBeforeReference, msg, event)
        return target

    def _settle_deadlines(self, event: Event, ref: str) -> None:
        waiting = self.deadlines_by_ref.get(ref)
        if waiting:
            actors = event.parties if isinstance(event, AgreementSigned) else actors_of(event)
            for record in waiting:
                wanted = record.actor
                if record.met_by is None and (wanted is None or wanted in actors):
                    record.met_by = event.id

    # -- retraction ------------------------------------------------------------------------------

    def _retract(self, event: EventRetracted) -> None:
        self.complete()
        ref = event.ref
        if ref in self.retracted:
            raise self.reject(UnknownReference, f"ref={ref!r} names an event already retracted", event)
        if any(r.id == ref for r in self.retractions):
            raise self.reject(InvalidReference, f"ref={ref!r} is a retraction; a retraction cannot be retracted", event)
        target = self._target(event, ref)
        rebuilt = self.without(ref)
        if isinstance(rebuilt, EventRejected):
            msg = (
                f"retracting {ref!r} would leave a log that does not replay: {rebuilt.event.id!r} "
                f"({rebuilt.event.TYPE}) would be refused ({rebuilt.message}); retract what depends on it first"
            )
            raise self.reject(InvalidReference, msg, event)
        rebuilt.all_ids = self.all_ids | {event.id}
        rebuilt.count = self.count + 1
        rebuilt.retractions = [*self.retractions, event]
        rebuilt.retracted = {**self.retracted, ref: target}
        rebuilt.rejected = self.rejected
        for retraction in rebuilt.retractions:
            if rebuilt.latest is None or later(retraction.occurred, rebuilt.latest):
                rebuilt.latest = retraction.occurred
        self.__dict__.update(rebuilt.__dict__)

    def without(self, ref: str) -> Fold | EventRejected:
        """The fold of the effective events less ``ref``, or the error that replay meets."""
        self.complete()
        rebuilt = self.fresh()
        for event in self.events:
            if event.id == ref:
                continue
            try:
                rebuilt._apply(event)
            except EventRejected as e:
                return e
        return rebuilt

    def retractable(self) -> list[str]:
        """The ids whose retraction would be permitted now, in log order (see
        :mod:`negotiation.retraction`)."""
        self.complete()
        return retractable(self)

    # -- what the state's views ask -----------------------------------------------------------

    def permitted_type_names(self) -> tuple[str, ...]:
        """The types the stage permits, and EventRetracted when there is an event to retract."""
        self.complete()
        stage = self.stage
        names = permitted_types(stage)
        sides = [a for a in self.agreements.values() if a.side]
        if stage in SIDE_TEXT_STAGES or sides:  # a side instrument may be agreed, or moved on
            more = {"TextAgreed"} if stage in SIDE_TEXT_STAGES else set()
            more.update(t for a in sides for t in INSTRUMENT_TYPES if side_permits(a, t))
            if not more.issubset(names):
                names = tuple(t for t in EVENT_TYPES if t in names or t in more)
        if self.events:
            names = (*names, "EventRetracted")
        return names
