"""The event vocabulary of the contract: 31 frozen event types and their JSON object.

Each event type is a frozen attrs class named as in the contract (``ProposalPublished``,
``ReplyDelivered``, ...). Constructors are keyword-only, convert friendly input (a date
string, a list of parties, a level name) and validate it, so an event that exists is
well-formed; whether it is *permitted* is replay's question.

``Event.from_dict`` builds an event from its JSON object (in the current contract version)
and ``Event.to_dict`` writes it back. Fields a type does not define are kept in ``extra`` and
written back, so an analyst's own annotations survive a round trip. Log lines, the compact
JSON a store hashes and older contract versions are :mod:`negotiation.codec`'s.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import Any, ClassVar, Generic, TypeVar, overload

import attrs

from negotiation.dates import PartialDate, parse_timestamp
from negotiation.errors import InvalidEvent

__all__ = [
    "EVENT_TYPES",
    "FIELDS",
    "PARTY_FIELDS",
    "AgreementEnteredIntoForce",
    "AgreementRatified",
    "AgreementSigned",
    "AgreementTerminated",
    "ConsultationFormat",
    "ConsultationHeld",
    "ContactAccepted",
    "ContactDeclined",
    "ContactHeld",
    "ContactProposed",
    "DeadlineSet",
    "DocumentDisclosed",
    "Event",
    "Ending",
    "EventRetracted",
    "FrameworkAgreed",
    "FrozenMap",
    "ImplementationReported",
    "InstrumentKind",
    "Level",
    "Mode",
    "ObligationStatus",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipationResumed",
    "ParticipationSuspended",
    "PartyJoined",
    "PartyWithdrew",
    "PositionStated",
    "ProposalPublished",
    "ProposalWithdrawn",
    "Ratification",
    "RatificationRefused",
    "ReplyDelivered",
    "ReplyStance",
    "Role",
    "Signature",
    "Source",
    "Stance",
    "TalksBrokenOff",
    "TalksLapsed",
    "TalksResumed",
    "TalksSuspended",
    "TextAgreed",
    "ViolationAlleged",
]

K = TypeVar("K")
V = TypeVar("V")
_T = TypeVar("_T")


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """An immutable, ordered mapping (for ``positions`` and unknown fields)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[K, V] | None = None) -> None:
        self._data: dict[K, V] = dict(data or {})

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    # The dict's own views and lookups (read-only): Mapping's generic ones go through
    # __iter__ and __getitem__ in Python, and replay reads every reply's positions.

    def __contains__(self, key: object) -> bool:
        return key in self._data

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, /, default: V | _T) -> V | _T: ...
    def get(self, key: K, /, default: object = None) -> object:
        return self._data.get(key, default)

    def keys(self) -> KeysView[K]:
        return self._data.keys()

    def values(self) -> ValuesView[V]:
        return self._data.values()

    def items(self) -> ItemsView[K, V]:
        return self._data.items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(json.dumps(self._data, sort_keys=True, default=str))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


class Level(enum.StrEnum):
    """The level of a contact."""

    LEADER = "leader"
    MINISTER = "minister"
    DEPUTY_MINISTER = "deputy_minister"
    ORGANISATION_HEAD = "organisation_head"
    ENVOY = "envoy"
    MILITARY = "military"
    TECHNICAL = "technical"
    WORKING = "working"


class Mode(enum.StrEnum):
    """How a contact is (to be) held."""

    PHONE = "phone"
    VIDEO = "video"
    IN_PERSON = "in_person"


class ConsultationFormat(enum.StrEnum):
    """Bilateral or multilateral consultations."""

    BILATERAL = "bilateral"
    MULTILATERAL = "multilateral"


class Stance(enum.StrEnum):
    """A party's position on an item."""

    ACCEPT = "accept"
    REJECT = "reject"
    NEGOTIABLE = "negotiable"


class ReplyStance(enum.StrEnum):
    """What a reply says to the document it answers, as a whole."""

    ACCEPT = "accept"
    REJECT = "reject"
    COUNTER = "counter"
    PARTIAL = "partial"
    ACKNOWLEDGE = "acknowledge"


class Ratification(enum.StrEnum):
    """Whether an agreed text needs ratification before it enters into force."""

    REQUIRED = "required"
    NONE = "none"


class Signature(enum.StrEnum):
    """Whether an agreed text is signed, or adopted without signature (a political commitment)."""

    REQUIRED = "required"
    NONE = "none"


class InstrumentKind(enum.StrEnum):
    """What an agreed text is for: the principal instrument, or one beside it."""

    AGREEMENT = "agreement"
    INTERIM = "interim"
    PROTOCOL = "protocol"
    MEMORANDUM = "memorandum"


class Ending(enum.StrEnum):
    """How an agreement ended."""

    DENOUNCED = "denounced"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    PERFORMED = "performed"
    MUTUALLY_ENDED = "mutually_ended"


class ObligationStatus(enum.StrEnum):
    """What a report on an obligation says of it."""

    MET = "met"
    PARTLY_MET = "partly_met"
    MISSED = "missed"


class Role(enum.StrEnum):
    """The part a participant plays in the talks (see ``ParticipantJoined``)."""

    PARTY = "party"
    MEDIATOR = "mediator"
    FACILITATOR = "facilitator"
    GUARANTOR = "guarantor"
    OBSERVER = "observer"


# -- converters: friendly input in, validated values out; errors name the field ----------
#
# Each field kind has a named converter with typed input, so that type checkers (the attrs
# mypy plugin) see what a constructor accepts: ``occurred="2022-01-26"``, ``to=["US"]``,
# ``level="leader"``.


def _fail(field: str, value: object, expected: str) -> InvalidEvent:
    return InvalidEvent(f"{field}={value!r} must be {expected}")


def _text(value: object, _self: object, field: attrs.Attribute[Any]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(field.name, value, "a non-empty string")
    return value


def _opt_text(value: object, _self: object, field: attrs.Attribute[Any]) -> str | None:
    return None if value is None else _text(value, _self, field)


_TEXT = attrs.Converter(_text, takes_self=True, takes_field=True)
_OPT_TEXT = attrs.Converter(_opt_text, takes_self=True, takes_field=True)


def _required_text() -> Any:
    return attrs.field(converter=_TEXT)


def _optional_text() -> Any:
    return attrs.field(default=None, converter=_OPT_TEXT)


def _party_tuple(field: str, value: object, minimum: int) -> tuple[str, ...]:
    expected = f"a list of {minimum}+ distinct party names (non-empty strings)"
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail(field, value, expected)
    parties = tuple(value)
    if (
        len(parties) < minimum
        or not all(isinstance(p, str) and p.strip() for p in parties)
        or len(set(parties)) != len(parties)
    ):
        raise _fail(field, value, expected)
    return parties


def _to(value: Sequence[str]) -> tuple[str, ...]:
    return _party_tuple("to", value, 1)


def _signers(value: Sequence[str]) -> tuple[str, ...]:
    return _party_tuple("parties", value, 1)


def _parties(value: Sequence[str]) -> tuple[str, ...]:
    return _party_tuple("parties", value, 2)


E = TypeVar("E", bound=enum.StrEnum)


def _member(kind: type[E], field: str, value: object) -> E:
    try:
        return kind(value)  # type: ignore[arg-type]  # any value: the enum refuses what it lacks
    except ValueError:
        choices = ", ".join(repr(m.value) for m in kind)
        raise _fail(field, value, f"one of {choices}") from None


def _level(value: Level | str) -> Level:
    return _member(Level, "level", value)


def _opt_level(value: Level | str | None) -> Level | None:
    return None if value is None else _member(Level, "level", value)


def _mode(value: Mode | str) -> Mode:
    return _member(Mode, "mode", value)


def _opt_mode(value: Mode | str | None) -> Mode | None:
    return None if value is None else _member(Mode, "mode", value)


def _opt_reply_stance(value: ReplyStance | str | None) -> ReplyStance | None:
    return None if value is None else _member(ReplyStance, "stance", value)


def _opt_ratification(value: Ratification | str | None) -> Ratification | None:
    return None if value is None else _member(Ratification, "ratification", value)


def _opt_signature(value: Signature | str | None) -> Signature | None:
    return None if value is None else _member(Signature, "signature", value)


def _opt_instrument(value: InstrumentKind | str | None) -> InstrumentKind | None:
    return None if value is None else _member(InstrumentKind, "kind", value)


def _partial(value: bool | None) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _fail("partial", value, "true or false")
    return value


def _opt_ending(value: Ending | str | None) -> Ending | None:
    return None if value is None else _member(Ending, "ending", value)


def _status(value: ObligationStatus | str) -> ObligationStatus:
    return _member(ObligationStatus, "status", value)


def _against(value: Sequence[str]) -> tuple[str, ...]:
    return _party_tuple("against", value, 1)


def _role(value: Role | str) -> Role:
    return _member(Role, "role", value)


def _flag(name: str, value: bool | None) -> bool | None:
    """An optional true/false field: absent (None) or a bool."""
    if value is not None and not isinstance(value, bool):
        raise _fail(name, value, "true or false")
    return value


def _asks_answer(value: bool | None) -> bool | None:
    return _flag("asks_answer", value)


def _initialled(value: bool | None) -> bool | None:
    return _flag("initialled", value)


def _disputes_delivery(value: bool | None) -> bool | None:
    return _flag("disputes_delivery", value)


def _co_actors(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else _party_tuple("co_actors", value, 1)


def _witnesses(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else _party_tuple("witnesses", value, 1)


def _keeps_open(value: Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail("keeps_open", value, "a list of document ids")
    if not all(isinstance(i, str) and i.strip() for i in value):
        raise _fail("keeps_open", value, "a list of document ids (non-empty strings)")
    return tuple(value)


def _opt_format(value: ConsultationFormat | str | None) -> ConsultationFormat | None:
    return None if value is None else _member(ConsultationFormat, "format", value)


def _public(value: bool) -> bool:
    if not isinstance(value, bool):
        raise _fail("public", value, "true or false")
    return value


def _occurred(value: PartialDate | dt.date | str) -> PartialDate:
    return PartialDate.of(value, field="occurred")


def _deadline(value: PartialDate | dt.date | str) -> PartialDate:
    return PartialDate.of(value, field="deadline")


def _effective(value: PartialDate | dt.date | str | None) -> PartialDate | None:
    return None if value is None else PartialDate.of(value, field="effective")


def _recorded(value: dt.datetime | str | None) -> dt.datetime | None:
    return None if value is None else parse_timestamp(value, field="recorded")


def _positions(value: Mapping[str, Stance | str] | None) -> FrozenMap[str, Stance] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _fail("positions", value, "an object mapping items to 'accept', 'reject' or 'negotiable'")
    out: dict[str, Stance] = {}
    for item, stance in value.items():
        if not isinstance(item, str) or not item.strip():
            raise _fail("positions item", item, "a non-empty string")
        out[item] = _member(Stance, f"positions[{item!r}]", stance)
    return FrozenMap(out)


def _items(value: Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail("items", value, "a list of strings")
    if not all(isinstance(i, str) and i.strip() for i in value):
        raise _fail("items", value, "a list of non-empty strings")
    return tuple(value)


def _source(value: Source | Mapping[str, Any] | None) -> Source | None:
    if value is None or isinstance(value, Source):
        return value
    if not isinstance(value, Mapping):
        raise _fail("source", value, "an object with any of title, outlet, url, published, quote")
    return Source.from_dict(value)


def _extra(value: Mapping[str, Any]) -> FrozenMap[str, Any]:
    if isinstance(value, FrozenMap):
        return value
    if not isinstance(value, Mapping):
        raise _fail("extra", value, "a mapping of field names to JSON values")
    return FrozenMap(value)


@attrs.frozen(kw_only=True)
class Source:
    """Where an event was read: any of title, outlet, url, published, quote (all text).

    Unknown keys are kept in ``extra`` like an event's.
    """

    title: str | None = _optional_text()
    outlet: str | None = _optional_text()
    url: str | None = _optional_text()
    published: str | None = _optional_text()
    quote: str | None = _optional_text()
    extra: FrozenMap[str, Any] = attrs.field(factory=FrozenMap, converter=_extra)

    _KEYS: ClassVar[tuple[str, ...]] = ("title", "outlet", "url", "published", "quote")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        """Build a source from its JSON object."""
        known = {k: v for k, v in data.items() if k in cls._KEYS}
        extra = {k: v for k, v in data.items() if k not in cls._KEYS}
        try:
            return cls(**known, extra=extra)
        except InvalidEvent as e:
            raise InvalidEvent(f"source: {e.message}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this source (absent keys left out)."""
        out = {k: getattr(self, k) for k in self._KEYS if getattr(self, k) is not None}
        out.update(self.extra)
        return out


#: The fields every event has (and ``extra``): ``to_dict`` writes them in its own order.
_ENVELOPE = frozenset(("type", "id", "negotiation", "occurred", "recorded", "source", "note", "extra"))


@attrs.frozen(kw_only=True)
class Event:
    """The envelope every event carries; never instantiated itself.

    Attributes:
        occurred: when it happened in the world, at the precision the log gave.
        id: unique within the negotiation. When not given it is derived from the content
            (a hash), so reading the same file twice gives the same ids.
        negotiation: the stream the event belongs to, if the event names it.
        source: provenance.
        note: free text.
        recorded: when the event entered the log (aware UTC date-time), if known.
        extra: fields the contract does not define, kept for a round trip.
    """

    TYPE: ClassVar[str] = ""
    #: The fields that name earlier events (all events here have at most ``ref``).
    REF_REQUIRED: ClassVar[bool] = False

    occurred: PartialDate = attrs.field(converter=_occurred)
    id: str = attrs.field(default="", eq=True)
    negotiation: str | None = _optional_text()
    source: Source | None = attrs.field(default=None, converter=_source)
    note: str | None = attrs.field(default=None)
    recorded: dt.datetime | None = attrs.field(default=None, converter=_recorded)
    extra: FrozenMap[str, Any] = attrs.field(factory=FrozenMap, converter=_extra, repr=False)

    def __attrs_post_init__(self) -> None:
        if type(self) is Event:
            msg = "Event is abstract: build one of the event types (ProposalPublished, ...)"
            raise TypeError(msg)
        if not isinstance(self.id, str):
            raise _fail("id", self.id, "a string")
        if self.note is not None and not isinstance(self.note, str):
            raise _fail("note", self.note, "a string")
        co_actors = getattr(self, "co_actors", None)
        if co_actors and getattr(self, "actor", None) is None:
            raise _fail("co_actors", list(co_actors), "given with an actor (the co-actors act with it)")
        if co_actors and getattr(self, "actor", None) in co_actors:
            raise _fail("co_actors", list(co_actors), f"parties other than the actor {self.actor!r}")  # type: ignore[attr-defined]
        if not self.id:
            object.__setattr__(self, "id", self.content_id())

    @property
    def type(self) -> str:
        """The event type's name, as in the log (``"ProposalPublished"``)."""
        return self.TYPE

    @property
    def ref_id(self) -> str | None:
        """The id this event references, or None."""
        return getattr(self, "ref", None)

    def content_id(self) -> str:
        """The id derived from this event's content (without id, negotiation and recorded)."""
        body = self.to_dict()
        for key in ("id", "negotiation", "recorded"):
            body.pop(key, None)
        digest = hashlib.sha256(_canonical(body).encode()).hexdigest()[:12]
        return f"{_kebab(self.TYPE)}-{digest}"

    def parties_named(self) -> tuple[str, ...]:
        """Every party this event names: actor, addressees, parties."""
        names: list[str] = []
        for key in PARTY_FIELDS[type(self)]:
            value = getattr(self, key)
            if isinstance(value, str):
                names.append(value)
            elif value is not None:
                names.extend(value)
        return tuple(names)

    # -- the JSON object -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready object, in the contract's field names.

        Fields left at their default ``None`` are omitted; ``public`` is always written.
        Keys come in a fixed order: ``type``, ``id``, ``negotiation``, ``occurred``, the
        type's own fields, ``recorded``, ``source``, ``note``, then the unknown ones (an
        unknown field named like a known one is written only where the known one is absent).
        This order is part of the hash a store chains (:func:`negotiation.codec.compact_json`).
        """
        out: dict[str, Any] = {"type": self.TYPE}
        if self.id:
            out["id"] = self.id
        if self.negotiation is not None:
            out["negotiation"] = self.negotiation
        out["occurred"] = str(self.occurred)
        for name in _OWN_FIELDS[type(self)]:
            value = getattr(self, name)
            if value is not None:
                out[name] = _jsonable(value)
        if self.recorded is not None:
            out["recorded"] = self.recorded.isoformat()
        if self.source is not None:
            out["source"] = self.source.to_dict()
        if self.note is not None:
            out["note"] = self.note
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Event:
        """Build the event a JSON object describes.

        The object is read as the current contract version; :func:`negotiation.codec.from_dict`
        reads an older one.

        Raises:
            InvalidEvent: for an unknown type, a missing field or an ill-typed value; the
                message names the field, the value and what was expected, and the error's
                ``event_id`` is the object's ``id`` when it has one.
        """
        if not isinstance(data, Mapping):
            raise _fail("event", data, "a JSON object")
        event_id = data.get("id") if isinstance(data.get("id"), str) else None
        kind = data.get("type")
        cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
        if cls is None:
            if kind is None:
                msg = "missing field 'type'"
            else:
                msg = f"type={kind!r} is not an event type; expected one of: {', '.join(EVENT_TYPES)}"
            raise InvalidEvent(msg, event_id=event_id)
        names = _FIELD_NAMES[cls]
        if not _REQUIRED_SET[cls].issubset(data):
            missing = [n for n in _REQUIRED[cls] if n not in data]
            msg = f"{kind}: missing field{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}"
            raise InvalidEvent(msg, event_id=event_id)
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in names:
                known[key] = value
            elif key != "type":
                extra[key] = value
        if extra:
            known["extra"] = extra
        if "id" in known and (not isinstance(known["id"], str) or not known["id"]):
            msg = f"{kind}: id={known['id']!r} must be a non-empty string"
            raise InvalidEvent(msg)
        try:
            return cls(**known)
        except InvalidEvent as e:
            raise type(e)(f"{kind}: {e.message}", event_id=event_id) from None

    @staticmethod
    def from_stored(data: Mapping[str, Any]) -> Event:
        """Rebuild an event from a store's row (JSON this library wrote): see
        :func:`negotiation.stored.decode`."""
        from negotiation.stored import decode  # the stores' decoder is built on this module

        return decode(data)


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _jsonable(value: object) -> Any:
    kind = type(value)
    if kind is str or kind is bool or kind is int:  # most fields: no conversion (enums are str subclasses)
        return value
    if kind is tuple:  # parties, items: tuples of plain strings
        return list(value)  # type: ignore[call-overload]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, PartialDate):
        return str(value)
    return value


def _canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- the 31 event types, in the order of the contract --------------------------------------


@attrs.frozen(kw_only=True)
class ContactProposed(Event):
    """A party proposes a contact (a call, a meeting) to others."""

    TYPE: ClassVar[str] = "ContactProposed"
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    to: tuple[str, ...] = attrs.field(converter=_to)
    level: Level = attrs.field(converter=_level)
    mode: Mode | None = attrs.field(default=None, converter=_opt_mode)
    venue: str | None = _optional_text()
    condition: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class ContactAccepted(Event):
    """An addressee accepts a proposed contact."""

    TYPE: ClassVar[str] = "ContactAccepted"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class ContactDeclined(Event):
    """A party to a proposed contact refuses or cancels it."""

    TYPE: ClassVar[str] = "ContactDeclined"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class ContactHeld(Event):
    """A contact took place (optionally the one a ContactProposed proposed)."""

    TYPE: ClassVar[str] = "ContactHeld"
    parties: tuple[str, ...] = attrs.field(converter=_parties)
    level: Level = attrs.field(converter=_level)
    mode: Mode = attrs.field(converter=_mode)
    venue: str | None = _optional_text()
    ref: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class ConsultationHeld(Event):
    """A round of consultations between delegations."""

    TYPE: ClassVar[str] = "ConsultationHeld"
    parties: tuple[str, ...] = attrs.field(converter=_parties)
    format: ConsultationFormat | None = attrs.field(default=None, converter=_opt_format)
    level: Level | None = attrs.field(default=None, converter=_opt_level)
    mode: Mode | None = attrs.field(default=None, converter=_opt_mode)
    venue: str | None = _optional_text()
    round: str | int | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.round is not None and (isinstance(self.round, bool) or not isinstance(self.round, str | int)):
            raise _fail("round", self.round, "a number or a string")


@attrs.frozen(kw_only=True)
class ProposalPublished(Event):
    """A proposal (a draft, an offer); with ``ref`` a counter-proposal to that document."""

    TYPE: ClassVar[str] = "ProposalPublished"
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    to: tuple[str, ...] = attrs.field(converter=_to)
    title: str = _required_text()
    items: tuple[str, ...] | None = attrs.field(default=None, converter=_items)
    public: bool = attrs.field(default=True, converter=_public)
    ref: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class ReplyDelivered(Event):
    """An addressee answers a document (a proposal or a reply)."""

    TYPE: ClassVar[str] = "ReplyDelivered"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()
    stance: ReplyStance | None = attrs.field(default=None, converter=_opt_reply_stance)
    asks_answer: bool | None = attrs.field(default=None, converter=_asks_answer)
    public: bool = attrs.field(default=True, converter=_public)
    positions: FrozenMap[str, Stance] | None = attrs.field(default=None, converter=_positions)
    initialled: bool | None = attrs.field(default=None, converter=_initialled)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.initialled and self.stance not in (None, ReplyStance.ACCEPT):
            raise _fail(
                "stance", self.stance.value if self.stance else None, "'accept' (or none) on an initialled reply"
            )

    @property
    def wants_answer(self) -> bool:
        """Whether the author of what it answers owes an answer to this reply.

        ``asks_answer`` when given; else an initialled reply accepts and asks for none, a
        reply with a stance asks for one only if it is a counter, and a reply with no stance
        continues the exchange, and asks (as in version 1).
        """
        if self.asks_answer is not None:
            return self.asks_answer
        if self.initialled:  # an initialled text is accepted, stance or not
            return False
        return self.stance is None or self.stance is ReplyStance.COUNTER


@attrs.frozen(kw_only=True)
class PositionStated(Event):
    """A party states its position in public (a briefing, a statement)."""

    TYPE: ClassVar[str] = "PositionStated"
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str | None = _optional_text()
    positions: FrozenMap[str, Stance] | None = attrs.field(default=None, converter=_positions)
    summary: str | None = _optional_text()
    disputes_delivery: bool | None = attrs.field(default=None, converter=_disputes_delivery)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.disputes_delivery and self.ref is None:
            raise _fail("disputes_delivery", True, "given with the ref of the document whose delivery is disputed")


@attrs.frozen(kw_only=True)
class DocumentDisclosed(Event):
    """A document is published (by a party, or leaked), or published again."""

    TYPE: ClassVar[str] = "DocumentDisclosed"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class ProposalWithdrawn(Event):
    """The author withdraws a proposal."""

    TYPE: ClassVar[str] = "ProposalWithdrawn"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class FrameworkAgreed(Event):
    """Agreement in principle; the details stay open."""

    TYPE: ClassVar[str] = "FrameworkAgreed"
    parties: tuple[str, ...] = attrs.field(converter=_parties)
    title: str = _required_text()
    items: tuple[str, ...] | None = attrs.field(default=None, converter=_items)
    keeps_open: tuple[str, ...] | None = attrs.field(default=None, converter=_keeps_open)


@attrs.frozen(kw_only=True)
class TextAgreed(Event):
    """The text is final (initialled, concluded, adopted)."""

    TYPE: ClassVar[str] = "TextAgreed"
    parties: tuple[str, ...] = attrs.field(converter=_parties)
    title: str = _required_text()
    items: tuple[str, ...] | None = attrs.field(default=None, converter=_items)
    keeps_open: tuple[str, ...] | None = attrs.field(default=None, converter=_keeps_open)
    ratification: Ratification | None = attrs.field(default=None, converter=_opt_ratification)
    kind: InstrumentKind | None = attrs.field(default=None, converter=_opt_instrument)
    amends: str | None = _optional_text()
    signature: Signature | None = attrs.field(default=None, converter=_opt_signature)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.kind is InstrumentKind.PROTOCOL and self.amends is None:
            raise _fail("amends", None, "the id of the agreed text a protocol amends (kind='protocol')")
        if self.amends is not None and self.kind is not InstrumentKind.PROTOCOL:
            raise _fail("amends", self.amends, "given only with kind='protocol'")

    @property
    def instrument(self) -> InstrumentKind:
        """What the text is for (``kind``, ``agreement`` when not given)."""
        return InstrumentKind.AGREEMENT if self.kind is None else self.kind

    @property
    def principal(self) -> bool:
        """Whether it is the principal instrument (not an interim deal, protocol or memorandum)."""
        return self.kind is None or self.kind is InstrumentKind.AGREEMENT

    @property
    def needs_ratification(self) -> bool:
        """``ratification`` when given; else required, except for a memorandum."""
        if self.ratification is not None:
            return self.ratification is Ratification.REQUIRED
        return self.kind is not InstrumentKind.MEMORANDUM


@attrs.frozen(kw_only=True)
class AgreementSigned(Event):
    """Some parties of an agreed text sign it."""

    TYPE: ClassVar[str] = "AgreementSigned"
    REF_REQUIRED: ClassVar[bool] = True
    parties: tuple[str, ...] = attrs.field(converter=_signers)
    witnesses: tuple[str, ...] | None = attrs.field(default=None, converter=_witnesses)
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class AgreementRatified(Event):
    """A party ratifies an agreement (or, ``partial``, takes one step of its ratification)."""

    TYPE: ClassVar[str] = "AgreementRatified"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()
    body: str | None = _optional_text()
    # None (omitted) is false: a field every stored ratification would write changes their hashes
    partial: bool | None = attrs.field(default=None, converter=_partial)


@attrs.frozen(kw_only=True)
class RatificationRefused(Event):
    """A party's ratifying body, or its people, refuses an agreement."""

    TYPE: ClassVar[str] = "RatificationRefused"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()
    body: str | None = _optional_text()
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class AgreementEnteredIntoForce(Event):
    """The agreement enters into force."""

    TYPE: ClassVar[str] = "AgreementEnteredIntoForce"
    REF_REQUIRED: ClassVar[bool] = True
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class PartyWithdrew(Event):
    """A party withdraws from an agreement in force, or gives notice of a withdrawal that
    takes effect later (``effective``)."""

    TYPE: ClassVar[str] = "PartyWithdrew"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()
    effective: PartialDate | None = attrs.field(default=None, converter=_effective)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.effective is not None and self.effective.last_day < self.occurred.first_day:
            raise _fail("effective", str(self.effective), f"a date on or after occurred={str(self.occurred)!r}")

    @property
    def notice(self) -> bool:
        """A notice: the withdrawal takes effect after the day it is given."""
        return self.effective is not None and self.effective.first_day > self.occurred.last_day


@attrs.frozen(kw_only=True)
class ParticipationSuspended(Event):
    """A party suspends its participation in an agreement in force (it stays a party)."""

    TYPE: ClassVar[str] = "ParticipationSuspended"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class ParticipationResumed(Event):
    """A party resumes its participation in an agreement in force."""

    TYPE: ClassVar[str] = "ParticipationResumed"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class PartyJoined(Event):
    """A party joins an agreement in force: an accession, or a return after a withdrawal."""

    TYPE: ClassVar[str] = "PartyJoined"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class AgreementTerminated(Event):
    """The agreement ends (expired, denounced, superseded, ...)."""

    TYPE: ClassVar[str] = "AgreementTerminated"
    REF_REQUIRED: ClassVar[bool] = True
    ref: str = _required_text()
    actor: str | None = _optional_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ending: Ending | None = attrs.field(default=None, converter=_opt_ending)
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class ImplementationReported(Event):
    """A report that an obligation under an agreement was met, partly met or missed."""

    TYPE: ClassVar[str] = "ImplementationReported"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    ref: str = _required_text()
    status: ObligationStatus = attrs.field(converter=_status)
    obligation: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class ViolationAlleged(Event):
    """A participant alleges that parties to an agreement violate it."""

    TYPE: ClassVar[str] = "ViolationAlleged"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    against: tuple[str, ...] = attrs.field(converter=_against)
    ref: str = _required_text()
    summary: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class DeadlineSet(Event):
    """A deadline (optionally for what ``ref`` names, optionally owed by ``actor``)."""

    TYPE: ClassVar[str] = "DeadlineSet"
    deadline: PartialDate = attrs.field(converter=_deadline)
    ref: str | None = _optional_text()
    actor: str | None = _optional_text()
    set_by: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class TalksSuspended(Event):
    """A party pauses the talks."""

    TYPE: ClassVar[str] = "TalksSuspended"
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class TalksResumed(Event):
    """Talks resume after a suspension, a break-off or a lapse."""

    TYPE: ClassVar[str] = "TalksResumed"
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)


@attrs.frozen(kw_only=True)
class TalksBrokenOff(Event):
    """A party ends the talks without agreement."""

    TYPE: ClassVar[str] = "TalksBrokenOff"
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class TalksLapsed(Event):
    """A deadline passed without agreement (``ref``: the DeadlineSet)."""

    TYPE: ClassVar[str] = "TalksLapsed"
    ref: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class ParticipantJoined(Event):
    """A participant joins the talks in a role: a party, a mediator, a facilitator, a guarantor
    or an observer."""

    TYPE: ClassVar[str] = "ParticipantJoined"
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    role: Role = attrs.field(converter=_role)


@attrs.frozen(kw_only=True)
class ParticipantLeft(Event):
    """A participant leaves the talks, or stops playing its role (a mediator pausing its mediation)."""

    TYPE: ClassVar[str] = "ParticipantLeft"
    actor: str = _required_text()
    co_actors: tuple[str, ...] | None = attrs.field(default=None, converter=_co_actors)
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class EventRetracted(Event):
    """The log's author retracts an earlier event: it counts as never logged."""

    TYPE: ClassVar[str] = "EventRetracted"
    REF_REQUIRED: ClassVar[bool] = True
    ref: str = _required_text()
    reason: str = _required_text()


#: Every event type by its name in the log, in the contract's order.
EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        ContactProposed,
        ContactAccepted,
        ContactDeclined,
        ContactHeld,
        ConsultationHeld,
        ParticipantJoined,
        ParticipantLeft,
        ProposalPublished,
        ReplyDelivered,
        PositionStated,
        DocumentDisclosed,
        ProposalWithdrawn,
        FrameworkAgreed,
        TextAgreed,
        AgreementSigned,
        AgreementRatified,
        RatificationRefused,
        AgreementEnteredIntoForce,
        PartyWithdrew,
        ParticipationSuspended,
        ParticipationResumed,
        PartyJoined,
        AgreementTerminated,
        ImplementationReported,
        ViolationAlleged,
        DeadlineSet,
        TalksSuspended,
        TalksResumed,
        TalksBrokenOff,
        TalksLapsed,
        EventRetracted,
    )
}

#: Every field of each type, in attrs' order (the envelope's first).
FIELDS: Mapping[type[Event], tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls)) for cls in EVENT_TYPES.values()
}
_OWN_FIELDS = {cls: tuple(name for name in names if name not in _ENVELOPE) for cls, names in FIELDS.items()}
_FIELD_NAMES: Mapping[type[Event], frozenset[str]] = {
    cls: frozenset(f.name for f in attrs.fields(cls) if f.name != "extra") for cls in EVENT_TYPES.values()
}
#: The fields of each type that name parties (actor, addressees, parties).
PARTY_FIELDS: Mapping[type[Event], tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls) if f.name in ("actor", "co_actors", "to", "parties"))
    for cls in EVENT_TYPES.values()
}
_REQUIRED: Mapping[type[Event], tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING) for cls in EVENT_TYPES.values()
}
_REQUIRED_SET: Mapping[type[Event], frozenset[str]] = {cls: frozenset(names) for cls, names in _REQUIRED.items()}

#: Names this module had before the codec moved to :mod:`negotiation.codec`, still importable
#: from here (the codec imports this module, so they are looked up there on first use).
_MOVED = frozenset(("compact_json", "decode_line", "dump_event", "parse_event"))


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from negotiation import codec

        return getattr(codec, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
