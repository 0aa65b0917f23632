"""negotiation: negotiations as append-only event logs, replayed through a stage machine.

Replay a log to learn its stage, who owes which move and what may happen next, at any date
in the past::

    from negotiation import replay_log
    state = replay_log("events/security-guarantees-2021.jsonl", as_of="2022-02-02")
    state.stage, state.awaiting, state.permitted
"""

import importlib
import typing

from negotiation.codec import dump_event, parse_event
from negotiation.dates import PartialDate
from negotiation.errors import (
    ConcurrencyError,
    DatedBeforeReference,
    DuplicateEventId,
    EventRejected,
    InvalidDate,
    InvalidEvent,
    InvalidPolicy,
    InvalidReference,
    LogSyntaxError,
    NegotiationError,
    NotPermitted,
    StoreError,
    UnknownNegotiation,
    UnknownReference,
    WrongActor,
)
from negotiation.events import (
    EVENT_TYPES,
    AgreementEnteredIntoForce,
    AgreementRatified,
    AgreementSigned,
    AgreementTerminated,
    ConsultationFormat,
    ConsultationHeld,
    ContactAccepted,
    ContactDeclined,
    ContactHeld,
    ContactProposed,
    DeadlineSet,
    DocumentDisclosed,
    Ending,
    Event,
    EventRetracted,
    FrameworkAgreed,
    ImplementationReported,
    InstrumentKind,
    Level,
    Mode,
    ObligationStatus,
    ParticipantJoined,
    ParticipantLeft,
    ParticipationResumed,
    ParticipationSuspended,
    PartyJoined,
    PartyWithdrew,
    PositionStated,
    ProposalPublished,
    ProposalWithdrawn,
    Ratification,
    RatificationRefused,
    ReplyDelivered,
    ReplyStance,
    Role,
    Signature,
    Source,
    Stance,
    TalksBrokenOff,
    TalksLapsed,
    TalksResumed,
    TalksSuspended,
    TextAgreed,
    ViolationAlleged,
)
from negotiation.logfile import (
    Log,
    LoggedEvent,
    UnknownField,
    check_log,
    read_log,
    replay_log,
    unknown_fields,
    write_log,
)
from negotiation.machine import Stage, diagram
from negotiation.replay import replay
from negotiation.state import (
    Agreement,
    Awaiting,
    Contact,
    Deadline,
    Document,
    NegotiationState,
    Permitted,
    Position,
)
from negotiation.store import MemoryStore, NegotiationSummary, SQLiteStore, StoredEvent, Verification

if typing.TYPE_CHECKING:
    from negotiation.simulation import (
        NegotiationMachine,
        Policy,
        ShortestPaths,
        SimulationResult,
        reachable_stages,
        shortest_paths,
        simulate,
    )

__version__ = "0.1.0"

# The simulation needs Hypothesis, whose import costs a third of a second: its names are
# imported on first use, so `import negotiation` and the command line stay quick.
_LAZY = dict.fromkeys(
    (
        "NegotiationMachine",
        "Policy",
        "ShortestPaths",
        "SimulationResult",
        "reachable_stages",
        "shortest_paths",
        "simulate",
    ),
    "negotiation.simulation",
)


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'negotiation' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "EVENT_TYPES",
    "Agreement",
    "AgreementEnteredIntoForce",
    "AgreementRatified",
    "AgreementSigned",
    "AgreementTerminated",
    "Awaiting",
    "ConcurrencyError",
    "ConsultationFormat",
    "ConsultationHeld",
    "Contact",
    "ContactAccepted",
    "ContactDeclined",
    "ContactHeld",
    "ContactProposed",
    "DatedBeforeReference",
    "Deadline",
    "DeadlineSet",
    "Document",
    "DocumentDisclosed",
    "DuplicateEventId",
    "Ending",
    "Event",
    "EventRejected",
    "EventRetracted",
    "FrameworkAgreed",
    "ImplementationReported",
    "InstrumentKind",
    "InvalidDate",
    "InvalidEvent",
    "InvalidPolicy",
    "InvalidReference",
    "Level",
    "Log",
    "LogSyntaxError",
    "LoggedEvent",
    "MemoryStore",
    "Mode",
    "NegotiationError",
    "NegotiationMachine",
    "NegotiationState",
    "NegotiationSummary",
    "NotPermitted",
    "ObligationStatus",
    "PartialDate",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipationResumed",
    "ParticipationSuspended",
    "PartyJoined",
    "PartyWithdrew",
    "Permitted",
    "Policy",
    "Position",
    "PositionStated",
    "ProposalPublished",
    "ProposalWithdrawn",
    "Ratification",
    "RatificationRefused",
    "ReplyDelivered",
    "ReplyStance",
    "Role",
    "SQLiteStore",
    "ShortestPaths",
    "Signature",
    "SimulationResult",
    "Source",
    "Stage",
    "Stance",
    "StoreError",
    "StoredEvent",
    "TalksBrokenOff",
    "TalksLapsed",
    "TalksResumed",
    "TalksSuspended",
    "TextAgreed",
    "UnknownField",
    "UnknownNegotiation",
    "UnknownReference",
    "Verification",
    "ViolationAlleged",
    "WrongActor",
    "__version__",
    "check_log",
    "diagram",
    "dump_event",
    "parse_event",
    "reachable_stages",
    "read_log",
    "replay",
    "replay_log",
    "shortest_paths",
    "simulate",
    "unknown_fields",
    "write_log",
]
