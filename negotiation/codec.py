"""The encodings of an event: log lines, the compact JSON a store hashes, contract versions.

An event's JSON object is ``Event.to_dict()`` / ``Event.from_dict()`` (:mod:`negotiation.events`).
This module writes and reads it:

* :func:`dump_event` / :func:`parse_event`: one line of a JSON Lines log;
* :func:`compact_json`: the text a store hashes into its chain and keeps (it must never
  change for an event: stored hashes depend on it);
* :func:`from_stored` and :func:`stamped`: what a store reads back and what it fills in.

Contract versions. The contract (the event types and their fields) has a version,
:data:`CONTRACT_VERSION`. A log may declare the version it follows in a first line holding
only ``{"contract": N}``; a log without that line follows the current version, and
:func:`~negotiation.write_log` writes none. The events of an older version are upcast as they
are read: ``UPCASTERS[n]`` turns the JSON object of an event of version ``n`` into one of
version ``n + 1`` (``upcast_v1_v2``, ``upcast_v2_v3``, ..., as eventsourcing's upcasting
does), so that the rest of the library only ever sees the current version. Changing the
contract in a way that older logs cannot be read as they are means bumping
:data:`CONTRACT_VERSION` and adding the upcaster from the previous version.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import types
from collections.abc import Callable, Mapping
from typing import Any

from negotiation.errors import InvalidEvent, LogSyntaxError
from negotiation.events import FIELDS, Ending, Event
from negotiation.stored import decode

__all__ = [
    "CONTRACT_VERSION",
    "MAX_DEPTH",
    "UPCASTERS",
    "Upcaster",
    "check_json",
    "compact_json",
    "contract_header",
    "contract_version",
    "decode_line",
    "dump_event",
    "from_dict",
    "from_stored",
    "isoformat",
    "parse_event",
    "stamped",
    "to_dict",
    "upcast",
    "upcast_v1_v2",
]

#: The version of the contract this library reads and writes.
CONTRACT_VERSION = 2

#: Turns an event's JSON object of one contract version into the next version's.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: The ways an agreement ends that version 1 wrote in ``AgreementTerminated.reason``.
_ENDINGS = frozenset(ending.value for ending in Ending)


def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
    """An event of contract version 1 as version 2 writes it.

    Version 2 only added types, fields and values, with one exception: version 1's
    ``AgreementTerminated.reason`` was the way the agreement ended (``expired``,
    ``denounced``, ``superseded``, ...), which version 2 writes in ``ending``, keeping
    ``reason`` for the log author's words. A ``reason`` that names one of version 2's endings
    becomes ``ending``; any other stays the reason.
    """
    if data.get("type") == "AgreementTerminated" and "ending" not in data and data.get("reason") in _ENDINGS:
        data["ending"] = data.pop("reason")
    return data


#: The upcasters by the version they read: ``UPCASTERS[n]`` is ``upcast_vN_vN+1``, one for
#: every version below :data:`CONTRACT_VERSION`.
UPCASTERS: Mapping[int, Upcaster] = types.MappingProxyType({1: upcast_v1_v2})


# -- writing -------------------------------------------------------------------------------


def to_dict(event: Event) -> dict[str, Any]:
    """The event's JSON object (:meth:`Event.to_dict <negotiation.Event.to_dict>`)."""
    return event.to_dict()


#: ``json.dumps(..., separators=(",", ":"), ensure_ascii=False, allow_nan=False)``, built once
#: (dumps builds an encoder per call when given options).
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

#: How deep JSON values may nest in an event (its unknown fields, a source's): deeper ones are
#: refused as they are read or written, before the interpreter's recursion limit refuses them later.
MAX_DEPTH = 64


def compact_json(event: Event) -> str:
    """The event's compact JSON text, as a store hashes and writes it.

    ``to_dict()`` with no space between items and UTF-8 kept; its keys in ``to_dict``'s
    order, not sorted (the order of positions and unknown fields is part of the content).

    Raises:
        InvalidEvent: the event holds what JSON in UTF-8 cannot carry faithfully: NaN or an
            infinite number, an integer too long to write, a lone surrogate, values nested
            deeper than :data:`MAX_DEPTH`.
    """
    return _written(event, _COMPACT.encode)


def _written(event: Event, encode: Callable[[Any], str]) -> str:
    """``encode(event.to_dict())``, refusing what would not read back as the same event."""
    data = event.to_dict()
    try:
        # only the free-form fields can hold NaN or deep nesting (the typed ones are checked
        # by their converters); a lone surrogate anywhere fails the UTF-8 encoding below
        if event.extra:
            check_json(event.extra, "extra")
        if event.source is not None and event.source.extra:
            check_json(event.source.extra, "source")
        text = encode(data)
        if not text.isascii():
            text.encode()  # raises for a lone surrogate
    except (ValueError, RecursionError) as e:
        reason = e.reason if isinstance(e, UnicodeEncodeError) else str(e).split(";")[0]
        msg = f"{event.TYPE}: cannot be written as JSON: {reason}"
        raise InvalidEvent(msg, event_id=event.id) from None
    return text


def check_json(value: object, where: str = "the value", depth: int = 0) -> None:
    """Check a decoded JSON value: finite numbers, no lone surrogate, at most :data:`MAX_DEPTH` deep.

    Raises:
        ValueError: naming where in ``value`` (``notes[2]``) and what is wrong.
    """
    if depth > MAX_DEPTH:
        msg = f"{where} is nested more than {MAX_DEPTH} levels deep"
        raise ValueError(msg)
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                msg = f"{where} holds a lone surrogate ({value[:40]!r}), which UTF-8 cannot carry"
                raise ValueError(msg) from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            msg = f"{where}={value!r}: NaN and infinite numbers are not JSON"
            raise ValueError(msg)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_json(key, f"a key of {where}", depth + 1)
            check_json(item, key if depth == 0 else f"{where}.{key}" if depth < 3 else where, depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json(item, f"{where}[{index}]" if depth < 3 else where, depth + 1)


# json.dumps escapes the control characters; these three it writes raw.
_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}
_BREAKS = re.compile("[\x85\u2028\u2029]")


#: How :func:`dump_event` writes a line.
_LINE = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def dump_event(event: Event) -> str:
    """Encode an event as one log line (compact JSON, UTF-8 text, no newline).

    Raises:
        InvalidEvent: as :func:`compact_json`.
    """
    line = _written(event, _LINE.encode)
    # Characters that str.splitlines() (and some editors) take for line breaks stay escaped,
    # so one event is always one line whatever splits it.
    return line.translate(_LINE_BREAKS) if _BREAKS.search(line) else line


def isoformat(moment: dt.datetime) -> str:
    """A moment as a store writes it (``recorded``, ``updated``): ISO 8601 with its offset."""
    return moment.isoformat()


# -- reading -------------------------------------------------------------------------------


def decode_line(line: str | bytes) -> dict[str, Any]:
    """Decode one log line into its JSON object.

    Raises:
        LogSyntaxError: the line is not JSON, or not an object; it repeats a key, holds NaN or
            an infinite number, an integer of more than 4,300 digits, a lone surrogate, or
            values nested more than :data:`MAX_DEPTH` levels deep.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as e:
            msg = f"not UTF-8 text: {e.reason} at byte {e.start}"
            raise LogSyntaxError(msg) from None
    # Brackets are what make depth, and escapes what make a lone surrogate: the full checks
    # run on the rare line that has many of the one or any of the other.
    if line.count("[") + line.count("{") > MAX_DEPTH and _nesting(line) > MAX_DEPTH:
        msg = f"values nested more than {MAX_DEPTH} levels deep"
        raise LogSyntaxError(msg)
    try:
        data = json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as e:
        hint = ""
        if line.strip() in ("[", "]") or line.lstrip().startswith(("[{", "[ {")):
            hint = " (a log has one JSON object per line, JSON Lines, not a JSON array)"
        where = "" if e.msg.endswith(" at") else " at"  # "Invalid control character at"
        msg = f"not valid JSON: {e.msg}{where} column {e.colno}{hint}"
        raise LogSyntaxError(msg) from None
    except ValueError as e:  # a repeated key, NaN, an integer too long to read
        raise LogSyntaxError(
            str(e).split(";")[0].replace("Exceeds the limit", "an integer exceeds the limit")
        ) from None
    if not isinstance(data, dict):
        msg = f"expected a JSON object, got {type(data).__name__} {data!r:.60}"
        raise LogSyntaxError(msg)
    if "\\u" in line:
        try:
            check_json(data, "the object")
        except ValueError as e:
            raise LogSyntaxError(str(e)) from None
    return data


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def _nesting(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets in strings do not count)."""
    depth = deepest = 0
    for char in _STRINGS.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):  # a key repeated: name the first
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                msg = f"the key {key!r} appears twice in one object"
                raise ValueError(msg)
            seen.add(key)
    return data


def _no_constant(name: str) -> float:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        msg = f"{text} is too large for a JSON number (it reads as infinity)"
        raise ValueError(msg)
    return value


def contract_version(value: object) -> int:
    """``value`` as a contract version this library reads (1 to :data:`CONTRACT_VERSION`).

    Raises:
        LogSyntaxError: not a whole number from 1, or a version newer than this library's.
    """
    if type(value) is not int or value < 1:
        msg = f"contract={value!r} must be a contract version: a whole number from 1"
        raise LogSyntaxError(msg)
    if value > CONTRACT_VERSION:
        msg = (
            f"the log follows contract version {value}, newer than this library's "
            f"({CONTRACT_VERSION}): upgrade negotiation to read it"
        )
        raise LogSyntaxError(msg)
    return value


def contract_header(data: Mapping[str, Any]) -> int | None:
    """The version a log's header line declares, or None when ``data`` is not a header.

    A header is an object with the one key ``contract``: ``{"contract": 1}``.

    Raises:
        LogSyntaxError: a header whose version this library cannot read (see :func:`contract_version`).
    """
    if len(data) != 1 or "contract" not in data:
        return None
    return contract_version(data["contract"])


def upcast(data: Mapping[str, Any], contract: int | None = None) -> Mapping[str, Any]:
    """An event's JSON object of version ``contract`` (default: the current one) as the current
    version's, through ``UPCASTERS[contract]``, ``UPCASTERS[contract + 1]``, ...

    Each upcaster gets a copy: the object given is not changed.

    Raises:
        LogSyntaxError: ``contract`` is not a version this library reads.
    """
    version = CONTRACT_VERSION if contract is None else contract_version(contract)
    while version < CONTRACT_VERSION:
        data = UPCASTERS[version](dict(data))
        version += 1
    return data


def from_dict(data: Mapping[str, Any], *, contract: int | None = None) -> Event:
    """Build the event a JSON object of version ``contract`` (default: the current one) describes.

    Raises:
        LogSyntaxError: ``contract`` is not a version this library reads.
        InvalidEvent: the object is not a well-formed event (see :meth:`Event.from_dict
            <negotiation.Event.from_dict>`).
    """
    if not isinstance(data, Mapping):
        return Event.from_dict(data)  # which says what is wrong with it
    return Event.from_dict(upcast(data, contract))


def parse_event(line: str | bytes, *, contract: int | None = None) -> Event:
    """Decode one log line (a JSON object) of version ``contract`` (default: the current one).

    Raises:
        LogSyntaxError: the line is not JSON, or not an object; ``contract`` is not a version
            this library reads.
        InvalidEvent: the object is not a well-formed event.
    """
    return Event.from_dict(upcast(decode_line(line), contract))


def from_stored(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from a store's row: JSON this library wrote, in the current version.

    Decoded without checking every field again (:func:`negotiation.stored.decode`); an object
    of another shape goes through :meth:`Event.from_dict <negotiation.Event.from_dict>`,
    whose error names what is wrong.
    """
    return decode(data)


def stamped(event: Event, negotiation: str) -> Event:
    """The event with ``negotiation`` filled in where missing (itself when it is there).

    A copy field by field: the values were validated already, and ``attrs.evolve`` would run
    every converter again (most of a store import's time). ``recorded`` is left as the log
    gave it: when the store appended the event is the store's metadata, not the event's.
    """
    if event.negotiation is not None:
        return event
    copy = object.__new__(type(event))
    for name in FIELDS[type(event)]:
        object.__setattr__(copy, name, getattr(event, name))
    object.__setattr__(copy, "negotiation", negotiation)
    return copy
