"""The stage machine: defined once with ``transitions``, compiled into a table for replay.

:data:`TRANSITIONS` is the single, readable source of truth: which event types each stage
permits and where each leads, with guards over the derived state where the destination
depends on it (does this reply leave no proposal unanswered? does this signature complete
the agreement?). Everything else is derived from it at import time:

* :data:`TABLE`, ``(stage, event type) -> ((guards, destination), ...)``, which replay reads
  with one dict lookup per event instead of calling ``transitions`` (building a Machine costs
  hundreds of microseconds and a trigger several; a lookup costs tens of nanoseconds);
* :func:`diagram`, the Mermaid state diagram drawn by ``transitions``' own diagram support;
* :class:`TransitionsEngine`, replay driven by real ``transitions`` triggers, which the tests
  prove equal to the table and the benchmark measures against it.

``EventRetracted`` is deliberately not a transition: a retraction rewrites history, and replay
handles it by replaying the log without the retracted event.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from transitions import Machine, MachineError

from negotiation.events import EVENT_TYPES, Event

__all__ = [
    "ACTIVE_STAGES",
    "NEGOTIATING_STAGES",
    "NEUTRAL_TYPES",
    "OWES_RATIFICATION",
    "OWES_REPLIES",
    "OWES_SIGNATURE",
    "TABLE",
    "TRANSITIONS",
    "UNGUARDED",
    "Engine",
    "Stage",
    "TableEngine",
    "TransitionsEngine",
    "diagram",
    "permitted_types",
    "stages_permitting",
]


class Stage(enum.StrEnum):
    """The stages of a negotiation, in the order it usually moves."""

    IDLE = "idle"
    EXPLORATION = "exploration"
    PROPOSAL_OPEN = "proposal_open"
    TALKS = "talks"
    FRAMEWORK_AGREED = "framework_agreed"
    TEXT_AGREED = "text_agreed"
    SIGNED = "signed"
    RATIFYING = "ratifying"
    IN_FORCE = "in_force"
    TERMINATED = "terminated"
    SUSPENDED = "suspended"
    BROKEN_OFF = "broken_off"
    LAPSED = "lapsed"


S = Stage

#: Contacts, consultations, statements, disclosures and deadlines: recorded in every stage,
#: they change none (except out of ``idle``, into ``exploration``).
NEUTRAL_TYPES: tuple[str, ...] = (
    "ContactProposed",
    "ContactAccepted",
    "ContactDeclined",
    "ContactHeld",
    "ConsultationHeld",
    "ParticipantJoined",
    "ParticipantLeft",
    "PositionStated",
    "DocumentDisclosed",
    "DeadlineSet",
    "ImplementationReported",
    "ViolationAlleged",
)
#: Where agreement is still being sought: agreements, break-offs and lapses happen here.
NEGOTIATING_STAGES: tuple[Stage, ...] = (S.EXPLORATION, S.PROPOSAL_OPEN, S.TALKS, S.FRAMEWORK_AGREED)
#: The active pre-agreement stages up to ``ratifying``: talks may be suspended in these.
ACTIVE_STAGES: tuple[Stage, ...] = (*NEGOTIATING_STAGES, S.TEXT_AGREED, S.SIGNED, S.RATIFYING)
#: Where talks stand still: a resumption returns to the stage they were in.
PAUSED_STAGES: tuple[Stage, ...] = (S.SUSPENDED, S.BROKEN_OFF, S.LAPSED)


class FoldView(Protocol):
    """What the guards read of the derived state (implemented by replay's fold)."""

    paused_from: Stage | None
    open_proposals: int

    def open_proposals_after(self, event: Event) -> int: ...
    def completes_signatures(self, event: Event) -> bool: ...
    def parties_left_after_withdrawal(self, event: Event) -> int: ...
    def refuses_text(self, event: Event) -> bool: ...


Guard = Callable[[FoldView, "Event"], bool]


# -- guards: pure functions of (derived state, event); named so the diagram reads well ---


def leaves_no_open_proposal(fold: FoldView, event: Event) -> bool:
    """After this answer or withdrawal, every live proposal has been answered."""
    return fold.open_proposals_after(event) == 0


def completes_signatures(fold: FoldView, event: Event) -> bool:
    """After this signature, every party of the agreed text has signed."""
    return fold.completes_signatures(event)


def leaves_fewer_than_two_parties(fold: FoldView, event: Event) -> bool:
    """After this withdrawal, fewer than two parties remain in the agreement."""
    return fold.parties_left_after_withdrawal(event) < 2


def refuses_the_text(fold: FoldView, event: Event) -> bool:
    """After this refusal, fewer than two parties of the text are left that have not refused it."""
    return fold.refuses_text(event)


def a_proposal_unanswered(fold: FoldView, _event: Event) -> bool:
    """Some live proposal has had no answer yet."""
    return fold.open_proposals > 0


def paused_in_exchange(fold: FoldView, _event: Event) -> bool:
    """The talks stood in ``proposal_open`` or ``talks`` when they were paused."""
    return fold.paused_from in (S.PROPOSAL_OPEN, S.TALKS)


def _paused_in(stage: Stage) -> Guard:
    def guard(fold: FoldView, _event: Event) -> bool:
        return fold.paused_from == stage

    guard.__name__ = guard.__qualname__ = f"paused_in_{stage.value}"
    guard.__doc__ = f"The talks were suspended in stage {stage.value!r}."
    return guard


def _t(trigger: str, source: Stage | Sequence[Stage], dest: Stage | None, **guards: list[Guard]) -> dict[str, Any]:
    """One transition in ``transitions``' terms: stage values, and None for "stay"."""
    names = source.value if isinstance(source, Stage) else [s.value for s in source]
    return {"trigger": trigger, "source": names, "dest": None if dest is None else dest.value, **guards}


def _either(
    trigger: str, source: Stage | Sequence[Stage], guard: Guard, then: Stage, otherwise: Stage | None = None
) -> list[dict[str, Any]]:
    """To ``then`` if ``guard`` holds, else to ``otherwise`` (default: stay)."""
    return [_t(trigger, source, then, conditions=[guard]), _t(trigger, source, otherwise, unless=[guard])]


def _definition() -> list[dict[str, Any]]:
    t: list[dict[str, Any]] = []
    for kind in NEUTRAL_TYPES:
        t += [_t(kind, S.IDLE, S.EXPLORATION), _t(kind, [s for s in Stage if s != S.IDLE], None)]
    t += [
        _t("ProposalPublished", (S.IDLE, *NEGOTIATING_STAGES[:3]), S.PROPOSAL_OPEN),
        _t("ProposalPublished", (S.FRAMEWORK_AGREED, S.IN_FORCE), None),  # in force: talks go on
    ]
    for kind in ("ReplyDelivered", "ProposalWithdrawn"):
        t += _either(kind, S.PROPOSAL_OPEN, leaves_no_open_proposal, S.TALKS)
        t.append(_t(kind, (S.TALKS, S.FRAMEWORK_AGREED, S.IN_FORCE), None))
    t += [
        _t("FrameworkAgreed", NEGOTIATING_STAGES, S.FRAMEWORK_AGREED),
        _t("TextAgreed", NEGOTIATING_STAGES, S.TEXT_AGREED),
        *_either("AgreementSigned", S.TEXT_AGREED, completes_signatures, S.SIGNED),
        # a party may approve a text before it signs it (the FARC's conference, 23 September
        # 2016, three days before Cartagena); one that had not ratified when the text entered
        # into force may ratify later (a multilateral treaty enters into force on a threshold)
        _t("AgreementSigned", (S.SIGNED, S.RATIFYING), None),
        _t("AgreementRatified", (S.TEXT_AGREED, S.SIGNED, S.RATIFYING), S.RATIFYING),
        _t("AgreementRatified", S.IN_FORCE, None),
        # a refused text sends the parties back to the exchange (to renegotiate, or break off)
        _t(
            "RatificationRefused",
            (S.TEXT_AGREED, S.SIGNED, S.RATIFYING),
            S.PROPOSAL_OPEN,
            conditions=[refuses_the_text, a_proposal_unanswered],
        ),
        _t(
            "RatificationRefused",
            (S.TEXT_AGREED, S.SIGNED, S.RATIFYING),
            S.TALKS,
            conditions=[refuses_the_text],
            unless=[a_proposal_unanswered],
        ),
        _t("RatificationRefused", (S.TEXT_AGREED, S.SIGNED, S.RATIFYING), None, unless=[refuses_the_text]),
        _t("AgreementEnteredIntoForce", (S.TEXT_AGREED, S.SIGNED, S.RATIFYING), S.IN_FORCE),
        *_either("PartyWithdrew", S.IN_FORCE, leaves_fewer_than_two_parties, S.TERMINATED),
        _t("ParticipationSuspended", S.IN_FORCE, None),
        _t("ParticipationResumed", S.IN_FORCE, None),
        _t("PartyJoined", S.IN_FORCE, None),
        _t("AgreementTerminated", S.IN_FORCE, S.TERMINATED),
        _t("TalksSuspended", ACTIVE_STAGES, S.SUSPENDED),
        _t("TalksBrokenOff", (*ACTIVE_STAGES, S.SUSPENDED), S.BROKEN_OFF),
        _t("TalksLapsed", NEGOTIATING_STAGES, S.LAPSED),
    ]
    # a resumption returns to where the talks stood, keeping what was agreed; to the exchange
    # of proposals as it is now: proposal_open while a live proposal is unanswered
    exchange = (S.PROPOSAL_OPEN, S.TALKS)
    t += [
        _t("TalksResumed", PAUSED_STAGES, stage, conditions=[_paused_in(stage)])
        for stage in ACTIVE_STAGES
        if stage not in exchange
    ]
    t += [
        _t("TalksResumed", PAUSED_STAGES, S.PROPOSAL_OPEN, conditions=[paused_in_exchange, a_proposal_unanswered]),
        _t("TalksResumed", PAUSED_STAGES, S.TALKS, conditions=[paused_in_exchange], unless=[a_proposal_unanswered]),
    ]
    return t


#: The stage machine, as ``transitions`` transition definitions. The single source of truth.
TRANSITIONS: tuple[Mapping[str, Any], ...] = tuple(_definition())
STATES: tuple[str, ...] = tuple(s.value for s in Stage)


class _Model:
    """The model object a ``transitions`` machine drives (it only holds ``state``)."""

    state: str


def build_machine(model: object | None = None) -> Machine:
    """Build a ``transitions`` Machine from :data:`TRANSITIONS` (for a reference, not replay)."""
    return Machine(
        model=model if model is not None else _Model(),
        states=list(STATES),
        transitions=[dict(t) for t in TRANSITIONS],
        initial=S.IDLE.value,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )


# -- the table, derived from the machine ---------------------------------------------------

Conditions = tuple[tuple[Guard, bool], ...]
Branches = tuple[tuple[Conditions, Stage | None], ...]


def _guard(func: object) -> Guard:
    if not callable(func):  # a condition given by name would need a model to resolve it
        msg = f"stage machine conditions must be guard functions, not {func!r}"
        raise TypeError(msg)
    return cast(Guard, func)


def _compile() -> dict[tuple[Stage, str], Branches]:
    machine = build_machine()
    table: dict[tuple[Stage, str], Branches] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            branches = []
            for transition in transitions:
                conditions: Conditions = tuple((_guard(c.func), bool(c.target)) for c in transition.conditions)
                dest = None if transition.dest is None else Stage(transition.dest)
                branches.append((conditions, dest))
            table[(Stage(source), trigger)] = tuple(branches)
    return table


#: ``(stage, event type) -> ((conditions, destination or None for "stay"), ...)``, tried in order.
TABLE: Mapping[tuple[Stage, str], Branches] = _compile()

#: ``(stage, event type) -> destination`` where the table has one branch and no guard: replay's
#: shortcut past the guard loop (the stage itself for "stay").
UNGUARDED: Mapping[tuple[Stage, str], Stage] = {
    key: (key[0] if dest is None else dest)
    for key, branches in TABLE.items()
    if len(branches) == 1
    for conditions, dest in branches
    if not conditions
}

#: The event types each stage permits (before EventRetracted, which every stage but ``idle``
#: permits when something can be retracted), in the contract's order.
_TYPES_BY_STAGE: dict[Stage, tuple[str, ...]] = {
    stage: tuple(t for t in EVENT_TYPES if (stage, t) in TABLE) for stage in Stage
}


def permitted_types(stage: Stage) -> tuple[str, ...]:
    """The event types the machine permits in ``stage``, in the contract's order (no EventRetracted)."""
    return _TYPES_BY_STAGE[stage]


def stages_permitting(kind: str) -> frozenset[Stage]:
    """The stages in which the machine permits events of type ``kind``."""
    return frozenset(stage for stage, types in _TYPES_BY_STAGE.items() if kind in types)


# -- who owes what, by stage -----------------------------------------------------------------

#: Where a live document's addressees owe it a reply: wherever replies are permitted.
OWES_REPLIES: frozenset[Stage] = stages_permitting("ReplyDelivered")
#: Where the agreed text's parties owe their signatures: wherever signatures are permitted.
OWES_SIGNATURE: frozenset[Stage] = stages_permitting("AgreementSigned")
#: Where signatories owe their ratification: once every party has signed (``signed``), and
#: while ratifications come in. In ``text_agreed`` a first signatory owes nothing yet: the
#: others may still refuse to sign.
OWES_RATIFICATION: frozenset[Stage] = frozenset((S.SIGNED, S.RATIFYING))


class Engine(Protocol):
    """How replay finds a stage's transition: the compiled table or a ``transitions`` Machine."""

    def allows(self, stage: Stage, kind: str) -> bool:
        """Whether ``stage`` has a transition for the event type ``kind``."""

    def next_stage(self, stage: Stage, fold: FoldView, event: Event) -> Stage:
        """The stage after ``event`` (which :meth:`allows`), guards evaluated on ``fold``."""

    def fresh(self) -> Engine:
        """An engine for another replay from ``idle`` (a rebuild after a retraction)."""


class TableEngine:
    """Replay's engine: one dict lookup per event, guards called directly."""

    __slots__ = ()

    def allows(self, stage: Stage, kind: str) -> bool:
        return (stage, kind) in TABLE

    def next_stage(self, stage: Stage, fold: FoldView, event: Event) -> Stage:
        for conditions, dest in TABLE[(stage, event.TYPE)]:
            for guard, target in conditions:
                if guard(fold, event) is not target:
                    break
            else:
                return stage if dest is None else dest
        # Unreachable while every guarded transition has its complement (checked by a test).
        msg = f"no transition of {event.TYPE} from {stage.value!r} passes its guards"
        raise AssertionError(msg)

    def fresh(self) -> TableEngine:
        return self


class TransitionsEngine:
    """Replay driven by ``transitions`` triggers: the reference the table is proven against.

    It builds one Machine (as an application using ``transitions`` directly would, per
    negotiation) and fires one trigger per event. Slow by design; never used by default.
    """

    def __init__(self) -> None:
        self._model = _Model()
        self._machine = build_machine(self._model)

    def allows(self, stage: Stage, kind: str) -> bool:
        # transitions' own record of the trigger's transitions (get_triggers would rebuild a
        # list per call and make this reference look slower than transitions is)
        event = self._machine.events.get(kind)
        return event is not None and stage.value in event.transitions

    def next_stage(self, stage: Stage, fold: FoldView, event: Event) -> Stage:
        if self._model.state != stage.value:
            self._machine.set_state(stage.value, self._model)
        try:
            self._machine.events[event.TYPE].trigger(self._model, fold, event)
        except MachineError as e:  # translated: the table engine raises the same
            msg = f"no transition of {event.TYPE} from {stage.value!r}: {e.value}"
            raise AssertionError(msg) from e
        return Stage(self._model.state)

    def fresh(self) -> TransitionsEngine:
        return TransitionsEngine()


def diagram(*, full: bool = False) -> str:
    """The stage machine as a Mermaid state diagram (``stateDiagram-v2``).

    Drawn by ``transitions``' Mermaid backend from :data:`TRANSITIONS`. Unless ``full``, the
    neutral events that stay in every stage (contacts, consultations, statements, disclosures,
    deadlines) are drawn only out of ``idle``, to keep the picture readable.
    """
    from transitions.extensions import GraphMachine

    definitions = [dict(t) for t in TRANSITIONS if full or not (t["trigger"] in NEUTRAL_TYPES and t["dest"] is None)]
    machine = GraphMachine(
        model=_Model(),
        states=list(STATES),
        transitions=definitions,
        initial=S.IDLE.value,
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title="negotiation stages",
    )
    text: str = machine.get_graph().draw(None)
    lines = [ln for ln in text.splitlines() if "classDef" not in ln and not ln.strip().startswith("Class ")]
    if not full:
        lines.append(
            "  note right of exploration: contacts, consultations, statements, disclosures"
            " and deadlines are recorded in every stage and change none"
        )
    return "\n".join(lines) + "\n"
