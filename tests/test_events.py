"""Events: validating constructors, the JSON codec, ids derived from content."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from negotiation import (
    EVENT_TYPES,
    ContactHeld,
    Event,
    InvalidEvent,
    Level,
    PartialDate,
    PositionStated,
    ProposalPublished,
    ReplyDelivered,
    Stance,
    dump_event,
    parse_event,
)
from negotiation import strategies as ns
from negotiation.events import FrozenMap


def test_the_contract_has_31_event_types_in_order() -> None:
    """EVENT_TYPES names the contract's 31 types, in the contract's order."""
    assert len(EVENT_TYPES) == 31
    assert list(EVENT_TYPES)[5:7] == ["ParticipantJoined", "ParticipantLeft"]
    assert list(EVENT_TYPES)[15:17] == ["AgreementRatified", "RatificationRefused"]
    assert list(EVENT_TYPES)[19:25] == [
        "ParticipationSuspended",
        "ParticipationResumed",
        "PartyJoined",
        "AgreementTerminated",
        "ImplementationReported",
        "ViolationAlleged",
    ]
    assert next(iter(EVENT_TYPES)) == "ContactProposed"
    assert list(EVENT_TYPES)[-1] == "EventRetracted"
    assert all(name == cls.TYPE for name, cls in EVENT_TYPES.items())


def test_constructors_convert_friendly_input() -> None:
    """Dates, lists and enum names are converted; the result is frozen and hashable."""
    event = ContactHeld(occurred="2021-06-16", parties=["US", "RU"], level="leader", mode="in_person")
    assert event.occurred == PartialDate.parse("2021-06-16")
    assert event.parties == ("US", "RU")
    assert event.level is Level.LEADER
    assert hash(event) == hash(
        ContactHeld(occurred="2021-06-16", parties=("US", "RU"), level=Level.LEADER, mode="in_person")
    )
    with pytest.raises(AttributeError):
        event.level = Level.ENVOY  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"to": "US"}, "to='US' must be a list of 1+ distinct party names (non-empty strings)"),
        ({"to": ["US", "US"]}, "to=['US', 'US'] must be a list of 1+ distinct party names (non-empty strings)"),
        ({"title": ""}, "title='' must be a non-empty string"),
        ({"public": 1}, "public=1 must be true or false"),
        ({"items": ["a", 2]}, "items=['a', 2] must be a list of non-empty strings"),
        ({"occurred": "2022-02-29"}, "occurred='2022-02-29' is not a valid date: day is out of range for month"),
    ],
)
def test_constructors_refuse_ill_typed_fields(kwargs: dict[str, object], message: str) -> None:
    """An ill-typed field is an InvalidEvent naming the field, the value and what was expected."""
    fields: dict[str, object] = {"occurred": "2021-12-17", "actor": "RU", "to": ["US"], "title": "Draft"} | kwargs
    with pytest.raises(InvalidEvent) as info:
        ProposalPublished(**fields)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_positions_are_validated() -> None:
    """Positions map items to accept, reject or negotiable."""
    reply = ReplyDelivered(occurred="2022-01-26", actor="US", ref="d", positions={"a": "reject"})
    assert reply.positions == {"a": Stance.REJECT}
    with pytest.raises(InvalidEvent, match=r"positions\['a'\]='maybe' must be one of 'accept', 'reject', 'negotiable'"):
        ReplyDelivered(occurred="2022-01-26", actor="US", ref="d", positions={"a": "maybe"})


def test_codec_writes_the_contract_form() -> None:
    """dump_event writes the contract's field names; defaults that are None are left out."""
    event = parse_event('{"type": "ReplyDelivered", "id": "r", "occurred": "2022-01", "actor": "US", "ref": "d"}')
    assert json.loads(dump_event(event)) == {
        "type": "ReplyDelivered",
        "id": "r",
        "occurred": "2022-01",
        "actor": "US",
        "ref": "d",
        "public": True,
    }


def test_content_id_ignores_id_negotiation_and_recorded() -> None:
    """The derived id depends on the content only: the same fact gets the same id in any stream."""
    a = ContactHeld(occurred="2021-06-16", parties=["US", "RU"], level="leader", mode="phone")
    b = ContactHeld(
        occurred="2021-06-16",
        parties=["US", "RU"],
        level="leader",
        mode="phone",
        negotiation="x",
        recorded="2021-06-17",
    )
    c = ContactHeld(occurred="2021-06-16", parties=["US", "RU"], level="leader", mode="video")
    assert a.id == b.id != c.id
    assert a.id.startswith("contact-held-")


@pytest.mark.extended
@pytest.mark.parametrize("kind", list(EVENT_TYPES))
def test_json_round_trip_of_every_event_type(kind: str) -> None:
    """Every event type survives event -> JSON line -> event (Hypothesis, the package's strategies)."""

    @given(ns.events(kind))
    def round_trip(event: Event) -> None:
        line = dump_event(event)
        again = parse_event(line)
        assert again == event
        assert dump_event(again) == line

    round_trip()


def test_dumped_line_is_one_line_for_splitlines() -> None:
    """Characters str.splitlines() breaks on stay escaped, so an event is one line however it is split."""
    event = PositionStated(occurred="2022", actor="US", summary="a\u2028b\x85c\u2029d\x0be")
    line = dump_event(event)
    assert line.splitlines() == [line]
    assert parse_event(line) == event


@given(st.dictionaries(st.text(max_size=3), st.integers(), max_size=5), st.text(max_size=3))
def test_frozen_map_reads_like_the_dict_it_holds(data: dict[str, int], key: str) -> None:
    """FrozenMap's own views and lookups (faster than Mapping's) answer as the dict would, in order."""
    frozen = FrozenMap(data)
    assert list(frozen.items()) == list(data.items())
    assert list(frozen.keys()) == list(data) == list(frozen)
    assert list(frozen.values()) == list(data.values())
    assert (key in frozen) is (key in data)
    assert frozen.get(key) == data.get(key)
    assert frozen.get(key, -1) == data.get(key, -1)
    assert frozen == data
    assert not hasattr(frozen.items(), "__setitem__")  # a view: nothing to write through
