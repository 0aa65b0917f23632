"""The event vocabulary of the contract: 23 frozen event types and their JSON form.

Each event type is a frozen attrs class named as in the contract (``ProposalPublished``,
``ReplyDelivered``, ...). Constructors are keyword-only, convert friendly input (a date
string, a list of parties, a level name) and validate it, so an event that exists is
well-formed; whether it is *permitted* is replay's question.

``Event.from_dict`` / ``Event.to_dict`` and :func:`parse_event` / :func:`dump_event` are the
codec of a log line. Fields a type does not define are kept in ``extra`` and written back, so
an analyst's own annotations survive a round trip.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import inspect
import json
import re
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from typing import Any, ClassVar, Generic, TypeVar, overload

import attrs

from negotiation.dates import PartialDate, parse_timestamp
from negotiation.errors import InvalidEvent, LogSyntaxError

__all__ = [
    "EVENT_TYPES",
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
    "EventRetracted",
    "FrameworkAgreed",
    "FrozenMap",
    "Level",
    "Mode",
    "PartyWithdrew",
    "PositionStated",
    "ProposalPublished",
    "ProposalWithdrawn",
    "ReplyDelivered",
    "Source",
    "Stance",
    "TalksBrokenOff",
    "TalksLapsed",
    "TalksResumed",
    "TalksSuspended",
    "TextAgreed",
    "decode_line",
    "dump_event",
    "parse_event",
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
    ENVOY = "envoy"
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


_ENVELOPE = ("type", "id", "negotiation", "occurred", "recorded", "source", "note")


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
        for key in _PARTY_FIELDS[type(self)]:
            value = getattr(self, key)
            if isinstance(value, str):
                names.append(value)
            elif value is not None:
                names.extend(value)
        return tuple(names)

    # -- codec -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready object, in the contract's field names.

        Fields left at their default ``None`` are omitted; ``public`` is always written.
        Keys come in a fixed order: ``type``, ``id``, ``negotiation``, ``occurred``, the
        type's own fields, ``recorded``, ``source``, ``note``, then the unknown ones.
        """
        return _TO_DICT[type(self)](self)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Event:
        """Build the event a JSON object describes.

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
        """Rebuild an event from JSON this library wrote after validating it (a store's row).

        The trusted twin of :meth:`from_dict`: the same event, without running the
        validators again (a store reads back what it checked on append; its hash chain and
        ``verify()`` guard the rows). Never use it on input from outside.
        """
        return _FROM_STORED[data["type"]](data)


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


# -- the 23 event types, in the order of the contract --------------------------------------


@attrs.frozen(kw_only=True)
class ContactProposed(Event):
    """A party proposes a contact (a call, a meeting) to others."""

    TYPE: ClassVar[str] = "ContactProposed"
    actor: str = _required_text()
    to: tuple[str, ...] = attrs.field(converter=_to)
    level: Level = attrs.field(converter=_level)
    mode: Mode | None = attrs.field(default=None, converter=_opt_mode)
    condition: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class ContactAccepted(Event):
    """An addressee accepts a proposed contact."""

    TYPE: ClassVar[str] = "ContactAccepted"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class ContactDeclined(Event):
    """A party to a proposed contact refuses or cancels it."""

    TYPE: ClassVar[str] = "ContactDeclined"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
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
    ref: str = _required_text()
    public: bool = attrs.field(default=True, converter=_public)
    positions: FrozenMap[str, Stance] | None = attrs.field(default=None, converter=_positions)


@attrs.frozen(kw_only=True)
class PositionStated(Event):
    """A party states its position in public (a briefing, a statement)."""

    TYPE: ClassVar[str] = "PositionStated"
    actor: str = _required_text()
    ref: str | None = _optional_text()
    positions: FrozenMap[str, Stance] | None = attrs.field(default=None, converter=_positions)
    summary: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class DocumentDisclosed(Event):
    """A document that was not public becomes public (published by a party, or leaked)."""

    TYPE: ClassVar[str] = "DocumentDisclosed"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class ProposalWithdrawn(Event):
    """The author withdraws a proposal."""

    TYPE: ClassVar[str] = "ProposalWithdrawn"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class FrameworkAgreed(Event):
    """Agreement in principle; the details stay open."""

    TYPE: ClassVar[str] = "FrameworkAgreed"
    parties: tuple[str, ...] = attrs.field(converter=_parties)
    title: str = _required_text()
    items: tuple[str, ...] | None = attrs.field(default=None, converter=_items)


@attrs.frozen(kw_only=True)
class TextAgreed(Event):
    """The text is final (initialled, concluded, adopted)."""

    TYPE: ClassVar[str] = "TextAgreed"
    parties: tuple[str, ...] = attrs.field(converter=_parties)
    title: str = _required_text()
    items: tuple[str, ...] | None = attrs.field(default=None, converter=_items)


@attrs.frozen(kw_only=True)
class AgreementSigned(Event):
    """Some parties of an agreed text sign it."""

    TYPE: ClassVar[str] = "AgreementSigned"
    REF_REQUIRED: ClassVar[bool] = True
    parties: tuple[str, ...] = attrs.field(converter=_signers)
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class AgreementRatified(Event):
    """A party ratifies an agreement."""

    TYPE: ClassVar[str] = "AgreementRatified"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class AgreementEnteredIntoForce(Event):
    """The agreement enters into force."""

    TYPE: ClassVar[str] = "AgreementEnteredIntoForce"
    REF_REQUIRED: ClassVar[bool] = True
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class PartyWithdrew(Event):
    """A party withdraws from an agreement in force."""

    TYPE: ClassVar[str] = "PartyWithdrew"
    REF_REQUIRED: ClassVar[bool] = True
    actor: str = _required_text()
    ref: str = _required_text()


@attrs.frozen(kw_only=True)
class AgreementTerminated(Event):
    """The agreement ends (expired, denounced, superseded, ...)."""

    TYPE: ClassVar[str] = "AgreementTerminated"
    REF_REQUIRED: ClassVar[bool] = True
    ref: str = _required_text()
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class DeadlineSet(Event):
    """A deadline (optionally for what ``ref`` names, optionally owed by ``actor``)."""

    TYPE: ClassVar[str] = "DeadlineSet"
    deadline: PartialDate = attrs.field(converter=_deadline)
    ref: str | None = _optional_text()
    actor: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class TalksSuspended(Event):
    """A party pauses the talks."""

    TYPE: ClassVar[str] = "TalksSuspended"
    actor: str = _required_text()
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class TalksResumed(Event):
    """Talks resume after a suspension, a break-off or a lapse."""

    TYPE: ClassVar[str] = "TalksResumed"
    actor: str = _required_text()


@attrs.frozen(kw_only=True)
class TalksBrokenOff(Event):
    """A party ends the talks without agreement."""

    TYPE: ClassVar[str] = "TalksBrokenOff"
    actor: str = _required_text()
    reason: str | None = _optional_text()


@attrs.frozen(kw_only=True)
class TalksLapsed(Event):
    """A deadline passed without agreement (``ref``: the DeadlineSet)."""

    TYPE: ClassVar[str] = "TalksLapsed"
    ref: str | None = _optional_text()


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
        ProposalPublished,
        ReplyDelivered,
        PositionStated,
        DocumentDisclosed,
        ProposalWithdrawn,
        FrameworkAgreed,
        TextAgreed,
        AgreementSigned,
        AgreementRatified,
        AgreementEnteredIntoForce,
        PartyWithdrew,
        AgreementTerminated,
        DeadlineSet,
        TalksSuspended,
        TalksResumed,
        TalksBrokenOff,
        TalksLapsed,
        EventRetracted,
    )
}

_FIELD_NAMES: dict[type[Event], frozenset[str]] = {
    cls: frozenset(f.name for f in attrs.fields(cls) if f.name != "extra") for cls in EVENT_TYPES.values()
}
_BODY_FIELDS: dict[type[Event], tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls) if f.name not in _ENVELOPE and f.name != "extra")
    for cls in EVENT_TYPES.values()
}
_PARTY_FIELDS: dict[type[Event], tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls) if f.name in ("actor", "to", "parties"))
    for cls in EVENT_TYPES.values()
}
#: The fields of each type that name parties (actor, addressees, parties).
PARTY_FIELDS = _PARTY_FIELDS
_REQUIRED: dict[type[Event], tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING) for cls in EVENT_TYPES.values()
}


_REQUIRED_SET: dict[type[Event], frozenset[str]] = {cls: frozenset(names) for cls, names in _REQUIRED.items()}

_ToDict = Callable[[Event], dict[str, Any]]

# The last ``recorded`` written and its text: a store stamps one moment on every event of an
# append, and ``isoformat`` was a quarter of encoding one. One tuple, swapped atomically; it
# holds its datetime, so ``is`` cannot match another object at a recycled address.
_LAST_ISO: list[tuple[dt.datetime | None, str]] = [(None, "")]


def _isoformat(moment: dt.datetime) -> str:
    last = _LAST_ISO[0]
    if last[0] is moment:
        return last[1]
    text = moment.isoformat()
    _LAST_ISO[0] = (moment, text)
    return text


def _compile_to_dict(cls: type[Event]) -> _ToDict:
    """``to_dict`` for one type, generated with its fields unrolled (like attrs' own methods).

    The loop over a type's fields, with a ``getattr`` each, was most of the cost of encoding
    an event; the generated code reads each attribute once, in the same order, and leaves
    out what is ``None`` exactly as the loop did.
    """
    lines = [
        "def to_dict(e):",
        f"    out = {{'type': {cls.TYPE!r}}}",
        "    v = e.id",
        "    if v:",
        "        out['id'] = v",
        "    v = e.negotiation",
        "    if v is not None:",
        "        out['negotiation'] = v",
        "    out['occurred'] = str(e.occurred)",
    ]
    for name in _BODY_FIELDS[cls]:
        assert name.isidentifier()
        # text, the commonest value, needs no conversion (an enum member is a str subclass)
        lines += [
            f"    v = e.{name}",
            "    if v is not None:",
            f"        out[{name!r}] = v if type(v) is str else jsonable(v)",
        ]
    lines += [
        "    v = e.recorded",
        "    if v is not None:",
        "        out['recorded'] = isoformat(v)",
        "    v = e.source",
        "    if v is not None:",
        "        out['source'] = v.to_dict()",
        "    v = e.note",
        "    if v is not None:",
        "        out['note'] = v",
        "    v = e.extra",
        "    if v:",
        "        for key, value in v.items():",
        "            out.setdefault(key, value)",
        "    return out",
    ]
    namespace: dict[str, Any] = {"jsonable": _jsonable, "isoformat": _isoformat}
    exec(compile("\n".join(lines), f"<{cls.__name__}.to_dict>", "exec"), namespace)
    function: _ToDict = namespace["to_dict"]
    return function


_TO_DICT: dict[type[Event], _ToDict] = {cls: _compile_to_dict(cls) for cls in EVENT_TYPES.values()}

# The compact encoding a store hashes and writes (compact_json below): json's own encoder for
# the rare values written whole, and its string escaping for text written piece by piece.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_QUOTE: Callable[[str], str] = json.encoder.encode_basestring


def _compact_value(value: object) -> str:
    """The compact JSON of a field's value: the common kinds written directly, the rest by json."""
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)  # what json writes for an int (bool is taken above)
    if kind is PartialDate:
        return _QUOTE(str(value))
    if kind is tuple and all(type(v) is str for v in value):  # type: ignore[attr-defined]
        return "[" + ",".join([_QUOTE(v) for v in value]) + "]"  # type: ignore[attr-defined]
    if isinstance(value, enum.StrEnum):
        return _QUOTE(value.value)
    if kind is FrozenMap:
        return _compact_map(value)  # type: ignore[arg-type]
    return _COMPACT(_jsonable(value))


def _compact_map(value: FrozenMap[Any, Any]) -> str:
    """The compact JSON of a FrozenMap: positions (text keys, stances as values) written
    directly, anything else by json."""
    parts = []
    for key, item in value._data.items():
        if type(key) is not str or not isinstance(item, str):
            return _COMPACT(_jsonable(value))
        parts.append(_QUOTE(key) + ":" + _QUOTE(item.value if isinstance(item, enum.Enum) else item))
    return "{" + ",".join(parts) + "}"


def _compile_compact(cls: type[Event]) -> Callable[[Event], str]:
    """``compact_json`` for one type: the text of ``to_dict()``, written without the dict."""
    opening = '{"type":' + json.dumps(cls.TYPE)
    lines = [
        "def compact(e):",
        "    if e.extra._data:  # (a FrozenMap: its converter makes one)",
        "        return encode(to_dict(e))  # unknown fields may shadow known ones: the general path",
        f"    out = [{opening!r}]",
        "    v = e.id",
        "    if v:",
        "        out.append(',\"id\":' + quote(v))",
        "    v = e.negotiation",
        "    if v is not None:",
        "        out.append(',\"negotiation\":' + quote(v))",
        "    out.append(',\"occurred\":' + quote(str(e.occurred)))",
    ]
    fields = attrs.fields_dict(cls)
    for name in _BODY_FIELDS[cls]:
        assert name.isidentifier()
        key = "," + json.dumps(name) + ":"
        # A required field's converter guarantees its kind (never None): written inline. The
        # annotations are text here (postponed evaluation); any other kind takes the general path.
        kind = str(fields[name].type) if fields[name].default is attrs.NOTHING else None
        if kind == "str":
            lines.append(f"    out.append({key!r} + quote(e.{name}))")
        elif kind == "tuple[str, ...]":
            lines.append(f"    out.append({key!r} + '[' + ','.join([quote(x) for x in e.{name}]) + ']')")
        elif kind in ("Level", "Mode"):
            lines.append(f"    out.append({key!r} + quote(e.{name}.value))")
        elif str(fields[name].type) == "bool":  # optional, converted to a bool
            lines += [
                f"    v = e.{name}",
                "    if v is True:",
                f"        out.append({key!r} + 'true')",
                "    elif v is False:",
                f"        out.append({key!r} + 'false')",
                "    elif v is not None:",
                f"        out.append({key!r} + value(v))",
            ]
        elif str(fields[name].type).startswith("FrozenMap["):  # positions
            lines += [
                f"    v = e.{name}",
                "    if v is not None:",
                f"        out.append({key!r} + compact_map(v))",
            ]
        else:
            lines += [
                f"    v = e.{name}",
                "    if v is not None:",
                f"        out.append({key!r} + (quote(v) if type(v) is str else value(v)))",
            ]
    lines += [
        "    v = e.recorded",
        "    if v is not None:",
        "        out.append(',\"recorded\":' + quote(isoformat(v)))",
        "    v = e.source",
        "    if v is not None:",
        "        out.append(',\"source\":' + encode(v.to_dict()))",
        "    v = e.note",
        "    if v is not None:",
        "        out.append(',\"note\":' + quote(v))",
        "    out.append('}')",
        "    return ''.join(out)",
    ]
    namespace: dict[str, Any] = {
        "encode": _COMPACT,
        "to_dict": _TO_DICT[cls],
        "quote": _QUOTE,
        "value": _compact_value,
        "compact_map": _compact_map,
        "isoformat": _isoformat,
    }
    exec(compile("\n".join(lines), f"<{cls.__name__}.compact_json>", "exec"), namespace)
    function: Callable[[Event], str] = namespace["compact"]
    return function


_COMPACT_JSON: dict[type[Event], Callable[[Event], str]] = {cls: _compile_compact(cls) for cls in EVENT_TYPES.values()}


def compact_json(event: Event) -> str:
    """The event's compact JSON text, as a store hashes and writes it.

    Equal to ``json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False)``,
    written piece by piece by code generated per type, without building the dict.
    """
    return _COMPACT_JSON[type(event)](event)


def _member_of(kind: type[enum.StrEnum]) -> Callable[[str], Any]:
    """The member of a string enum by value, by a dict lookup (calling the enum is ~20x slower);
    an unknown value raises ``KeyError``, and the store takes the validating path."""
    return {member.value: member for member in kind}.__getitem__


_STANCE = _member_of(Stance)


def _stored_positions(value: Mapping[str, str]) -> FrozenMap[str, Stance]:
    return FrozenMap({item: _STANCE(stance) for item, stance in value.items()})


# The last ``recorded`` text read and its moment: the events of one append share it.
_LAST_RECORDED: list[tuple[str, dt.datetime | None]] = [("", None)]


def _stored_recorded(value: str) -> dt.datetime:
    last = _LAST_RECORDED[0]
    if last[0] == value and last[1] is not None:
        return last[1]
    moment = dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    _LAST_RECORDED[0] = (value, moment)
    return moment


_STORED_DECODERS: dict[str, Callable[[Any], Any]] = {
    "occurred": PartialDate.parse,
    "deadline": PartialDate.parse,
    "recorded": _stored_recorded,
    "to": tuple,
    "parties": tuple,
    "items": tuple,
    "level": _member_of(Level),
    "mode": _member_of(Mode),
    "format": _member_of(ConsultationFormat),
    "positions": _stored_positions,
    "source": Source.from_dict,
}
#: Per type: field name -> how to decode its stored JSON value (None: as it is).
_TRUSTED: dict[type[Event], dict[str, Callable[[Any], Any] | None]] = {
    cls: {f.name: _STORED_DECODERS.get(f.name) for f in attrs.fields(cls) if f.name != "extra"}
    for cls in EVENT_TYPES.values()
}
#: Per type: the defaults of its optional fields (every field that may be absent from JSON).
_DEFAULTS: dict[type[Event], dict[str, Any]] = {
    cls: {f.name: f.default for f in attrs.fields(cls) if f.name != "extra" and f.default is not attrs.NOTHING}
    for cls in EVENT_TYPES.values()
}
_NO_EXTRA: FrozenMap[str, Any] = FrozenMap()


def _slot_setters(cls: type[Event]) -> dict[str, Callable[[Event, Any], None]]:
    """``set_NAME`` for each field of an event type: its slot's ``__set__``, which sets the
    field of a new (frozen) instance as ``object.__setattr__`` does, without looking the
    name up along the class's MRO on every call (code generated per type uses them)."""
    setters: dict[str, Callable[[Event, Any], None]] = {}
    for field in attrs.fields(cls):
        slot = inspect.getattr_static(cls, field.name)
        if not inspect.ismemberdescriptor(slot):
            msg = f"{cls.__name__}.{field.name} is not a slot"
            raise TypeError(msg)
        setters[f"set_{field.name}"] = slot.__set__
    return setters


def _compile_from_stored(cls: type[Event]) -> Callable[[Mapping[str, Any]], Event]:
    """``from_stored`` for one type, unrolled: each field read, decoded and set once.

    A required field that is missing raises ``KeyError`` (the store then takes the validating
    path for the precise error); keys the type does not know go to ``extra``, as in
    ``from_dict``.
    """
    fields = [f.name for f in attrs.fields(cls) if f.name != "extra"]
    defaults = _DEFAULTS[cls]
    namespace: dict[str, Any] = {
        "new_object": object.__new__,
        "cls": cls,
        "MISSING": object(),
        "known": frozenset(("type", *fields)),
        "FrozenMap": FrozenMap,
        "NO_EXTRA": _NO_EXTRA,
    }
    # each field set through its slot's own descriptor (what object.__setattr__ finds by name,
    # found once here): the instance is frozen, and a decode sets every field
    namespace.update(_slot_setters(cls))
    lines = ["def from_stored(d):", "    e = new_object(cls)", "    n = 1  # 'type'"]
    for name in fields:
        assert name.isidentifier()
        decode = _TRUSTED[cls][name]
        if decode is not None:
            namespace[f"decode_{name}"] = decode
        value = f"decode_{name}(v)" if decode is not None else "v"
        if name in defaults:
            namespace[f"default_{name}"] = defaults[name]
            lines += [
                f"    v = d.get({name!r}, MISSING)",
                "    if v is MISSING:",
                f"        set_{name}(e, default_{name})",
                "    else:",
                f"        set_{name}(e, {value})",
                "        n += 1",
            ]
        else:
            lines += [f"    v = d[{name!r}]", f"    set_{name}(e, {value})", "    n += 1"]
    lines += [
        "    if n == len(d):",
        "        set_extra(e, NO_EXTRA)",
        "    else:",
        "        set_extra(e, FrozenMap({k: v for k, v in d.items() if k not in known}))",
        "    return e",
    ]
    exec(compile("\n".join(lines), f"<{cls.__name__}.from_stored>", "exec"), namespace)
    function: Callable[[Mapping[str, Any]], Event] = namespace["from_stored"]
    return function


_FROM_STORED: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    name: _compile_from_stored(cls) for name, cls in EVENT_TYPES.items()
}


def decode_line(line: str | bytes) -> dict[str, Any]:
    """Decode one log line into its JSON object.

    Raises:
        LogSyntaxError: the line is not JSON, or not an object.
    """
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        msg = f"not valid JSON: {e.msg} at column {e.colno}"
        raise LogSyntaxError(msg) from None
    if not isinstance(data, dict):
        msg = f"expected a JSON object, got {type(data).__name__} {data!r:.60}"
        raise LogSyntaxError(msg)
    return data


def parse_event(line: str | bytes) -> Event:
    """Decode one log line (a JSON object) into an event.

    Raises:
        LogSyntaxError: the line is not JSON, or not an object.
        InvalidEvent: the object is not a well-formed event.
    """
    return Event.from_dict(decode_line(line))


# json.dumps escapes the control characters; these three it writes raw.
_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}
_BREAKS = re.compile("[\x85\u2028\u2029]")


def dump_event(event: Event) -> str:
    """Encode an event as one log line (compact JSON, UTF-8 text, no newline)."""
    line = json.dumps(event.to_dict(), ensure_ascii=False, separators=(", ", ": "))
    # Characters that str.splitlines() (and some editors) take for line breaks stay escaped,
    # so one event is always one line whatever splits it.
    return line.translate(_LINE_BREAKS) if _BREAKS.search(line) else line
