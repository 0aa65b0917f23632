"""Reading back the events a store wrote, without validating every field again.

What it buys. A load reads every event of a negotiation back from its rows. Through the
validating constructors (:meth:`Event.from_dict <negotiation.Event.from_dict>`) a stored
event costs about 5.9 µs to decode; here about 3.8 µs, because each field is turned back into its
value by the plainest function its declared type needs (``tuple`` for a list of parties, the
enum member for a level, ``PartialDate.parse`` for a date) and set on a new object, without the
converters' and validators' checks. On the benchmark's loads of 20-event negotiations that is
about a sixth of a load (``benchmarks/bench.py``, the rows ``store.load`` and
``pg.store.load``; see ``docs/performance.md``).

Why it is safe. A store writes only events that passed every check (its append validates them
against the negotiation's state), in JSON that :func:`~negotiation.codec.compact_json` wrote
from the validated object, so reading it back through the checks again finds nothing new.
Rows are append-only (triggers refuse UPDATE and DELETE) and hash-chained, and
:meth:`~negotiation.store.base.EventStore.verify` reads every row through the validating
path. What is still checked here is each value's kind: a string, a list, true or false, a
member of the field's enumeration, a valid date. An object of another shape (not an object,
an unknown type or field, a missing one, a value of another kind) is decoded through the
validating path, so it gets that path's precise error, and no event ever holds a value of the
wrong kind. What is not checked again is content within the kind (an empty list of
addressees, a blank name): a row edited that way behind the store's back loads, and
``verify`` reports it, naming the field and the value.

How. :data:`PLANS` holds, for each event type, the keys its JSON object may have and one
``(field, decode, default)`` per field of the attrs class, in field order. ``decode`` is chosen
from the field's declared type (the annotation text attrs keeps, looked up in
:data:`BY_TYPE`). A type with a field whose declared type has no plain decoder is decoded by
the validating path, so a new field is always decoded correctly, only perhaps not faster
(``tests/test_stored.py`` checks that every type has a plan, and that both paths give equal
events).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from negotiation import events as vocabulary
from negotiation.dates import PartialDate, parse_timestamp
from negotiation.errors import InvalidEvent
from negotiation.events import EVENT_TYPES, Event, FrozenMap, Source, Stance

__all__ = ["BY_TYPE", "PLANS", "decode", "decode_rows"]

Decode = Callable[[Any], Any]


class _Unusual(Exception):
    """An object this module leaves to the validating path."""


def _text(value: Any) -> Any:
    if type(value) is not str:
        raise _Unusual
    return value


def _flag(value: Any) -> Any:
    if type(value) is not bool:
        raise _Unusual
    return value


def _number_or_text(value: Any) -> Any:
    if type(value) is not str and type(value) is not int:
        raise _Unusual
    return value


def _names(value: Any) -> tuple[str, ...]:
    if type(value) is not list:
        raise _Unusual
    return tuple(value)


def _optional(decode: Decode) -> Decode:
    def optional(value: Any) -> Any:
        return None if value is None else decode(value)

    return optional


def _member(kind: type[enum.Enum]) -> Decode:
    members = kind._value2member_map_
    return members.__getitem__


def _positions(value: Mapping[str, str]) -> FrozenMap[str, Stance]:
    if type(value) is not dict:
        raise _Unusual
    return FrozenMap({item: Stance(stance) for item, stance in value.items()})


def _source(value: Mapping[str, Any]) -> Source:
    return Source.from_dict(value)  # rare, and small: the validating path


def _recorded(value: str) -> Any:
    return parse_timestamp(value, field="recorded")


def _extra(value: Mapping[str, Any]) -> FrozenMap[str, Any]:
    return FrozenMap(value)


def _plain_types() -> dict[str, Decode]:
    """The decoder of each declared field type (the annotation text) that has a plain one."""
    plain: dict[str, Decode] = {
        "str": _text,
        "str | None": _optional(_text),
        "bool": _flag,
        "bool | None": _optional(_flag),
        "str | int | None": _optional(_number_or_text),
        "PartialDate": PartialDate.parse,
        "PartialDate | None": _optional(PartialDate.parse),
        "tuple[str, ...]": _names,
        "tuple[str, ...] | None": _optional(_names),
        "FrozenMap[str, Stance] | None": _optional(_positions),
        "FrozenMap[str, Any]": _extra,
        "Source | None": _optional(_source),
        "dt.datetime | None": _optional(_recorded),
    }
    for name, kind in vars(vocabulary).items():  # the vocabulary's enumerations, by name
        if isinstance(kind, type) and issubclass(kind, enum.Enum) and kind.__module__ == vocabulary.__name__:
            plain[name] = _member(kind)
            plain[f"{name} | None"] = _optional(_member(kind))
    return plain


#: The plain decoder of each declared field type that has one.
BY_TYPE: Mapping[str, Decode] = _plain_types()

Plan = tuple[type[Event], frozenset[str], tuple[tuple[str, Decode, Any], ...]]


def _plan(cls: type[Event]) -> Plan | None:
    """The type's plan, or None when a field's type has no plain decoder (then
    :meth:`Event.from_dict <negotiation.Event.from_dict>` decodes the type)."""
    fields = []
    for field in attrs.fields(cls):
        decode = BY_TYPE.get(str(field.type))
        if decode is None:
            return None
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]  # attrs.Factory is a class at runtime
            default = default.factory()
        fields.append((field.name, decode, default))
    keys = frozenset(name for name, _, _ in fields if name != "extra") | {"type"}
    return cls, keys, tuple(fields)


#: For each event type's name: its class, the keys its JSON object may have, and one
#: ``(field, decode, default)`` per field (None for a type the validating path decodes).
PLANS: Mapping[str, Plan | None] = {name: _plan(cls) for name, cls in EVENT_TYPES.items()}

_new = object.__new__
_set = object.__setattr__
_MISSING = attrs.NOTHING


def _trusted(data: dict[str, Any]) -> Event:
    plan = PLANS[data["type"]]
    if plan is None:
        raise _Unusual
    cls, keys, fields = plan
    if not keys.issuperset(data):  # a field the contract does not define goes to ``extra``
        raise _Unusual
    event = _new(cls)
    get = data.get
    for name, decode, default in fields:
        value = get(name, default)
        if value is default:
            if value is _MISSING:  # a required field is missing
                raise _Unusual
            _set(event, name, value)
        else:
            _set(event, name, decode(value))
    if not event.id:
        raise _Unusual
    return event


def decode(data: Any) -> Event:
    """The event of a JSON object a store wrote (see the module's documentation).

    Raises:
        InvalidEvent: the object is not an event: the validating path's message.
    """
    try:
        return _trusted(data)
    except (_Unusual, KeyError, TypeError, ValueError, AttributeError, InvalidEvent):
        return Event.from_dict(data)


def decode_rows(texts: Sequence[str]) -> list[Event]:
    """The events of stored JSON texts, in order: decoded in one ``json.loads``.

    Texts that do not make a JSON array of as many items together are decoded one by one,
    so that a row that is not JSON gets its own error.

    Raises:
        InvalidEvent: a text is not an event.
        ValueError: a text is not JSON.
    """
    try:
        decoded = json.loads("".join(("[", ",".join(texts), "]")))
    except (ValueError, TypeError):  # TypeError: a row that is not text
        decoded = None
    if not isinstance(decoded, list) or len(decoded) != len(texts):
        return [decode(json.loads(text)) for text in texts]
    return [decode(data) for data in decoded]
