"""The codec: byte for byte what it wrote before it was rewritten, and its behaviour."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given

from negotiation import (
    EVENT_TYPES,
    AgreementTerminated,
    Ending,
    Event,
    InvalidEvent,
    LogSyntaxError,
    ProposalPublished,
    check_log,
    codec,
    dump_event,
    parse_event,
    read_log,
    write_log,
)
from negotiation import strategies as ns
from negotiation.codec import compact_json, from_stored, stamped

FIXTURE = Path(__file__).resolve().parent / "data" / "codec-fixture.jsonl.gz"


@cache
def _fixture() -> list[dict[str, Any]]:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _event(row: dict[str, Any]) -> Event:
    event = Event.from_dict(row["fields"])
    return attrs.evolve(event, extra=row["extra"]) if row["extra"] else event


def _chunks() -> list[int]:
    return list(range(0, len(_fixture()), 200))


def test_the_fixture_is_broad() -> None:
    """The fixture (tests/make_codec_fixture.py) holds every type, unknown fields, stamps, odd text."""
    rows = _fixture()
    assert len(rows) > 2000
    assert {row["fields"]["type"] for row in rows} == set(EVENT_TYPES)
    assert sum(1 for row in rows if any(k in row["fields"] for k in row["extra"])) > 100  # shadowed
    assert sum(1 for row in rows if "recorded" in row["fields"]) > 1000
    assert sum(1 for row in rows if "\u2028" in row["compact"]) > 100


@pytest.mark.parametrize("start", _chunks())
def test_the_codec_writes_what_it_wrote_before(start: int) -> None:
    """compact_json (what a store hashes), dump_event, to_dict and ids are byte-identical to the
    fixture taken from the code generators the plain codec replaced."""
    for row in _fixture()[start : start + 200]:
        event = _event(row)
        assert compact_json(event) == row["compact"]
        assert json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False) == row["compact"]
        assert dump_event(event) == row["dump"]
        assert event.id == row["id"]
        assert event.content_id() == row["content_id"]


@pytest.mark.parametrize("start", _chunks())
def test_stored_rows_decode_to_the_event(start: int) -> None:
    """A store's row (compact JSON) decodes to the event it was written from, trusted or validated."""
    for row in _fixture()[start : start + 200]:
        event = _event(row)
        if any(k in attrs.fields_dict(type(event)) or k == "type" for k in row["extra"]):
            continue  # an unknown field named like a known one: no round trip (see below)
        data = json.loads(row["compact"])
        trusted, checked = Event.from_stored(data), Event.from_dict(data)
        assert trusted == checked == event
        assert compact_json(trusted) == row["compact"]


def _json_only(value: object) -> bool:
    """Whether a value is made of JSON's own kinds only (no tuple, enum member, FrozenMap, date)."""
    if type(value) is dict:
        return all(type(k) is str and _json_only(v) for k, v in value.items())
    if type(value) is list:
        return all(_json_only(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


@pytest.mark.extended
@pytest.mark.parametrize("kind", list(EVENT_TYPES))
def test_to_dict_writes_the_contract_order_in_json_kinds(kind: str) -> None:
    """to_dict: type, id, negotiation, occurred, the type's fields, recorded, source, note, then
    the unknown fields; values of JSON's own kinds; None left out."""

    @given(ns.events(kind))
    def check(event: Event) -> None:
        data = event.to_dict()
        assert _json_only(data)
        body = [f.name for f in attrs.fields(type(event))[7:]]  # after the envelope and extra
        order = ["type", "id", "negotiation", "occurred", *body, "recorded", "source", "note", *event.extra]
        present = [k for k in order if k in data]
        assert list(data) == list(dict.fromkeys(present))
        left_out = [f.name for f in attrs.fields(type(event)) if f.name not in data and f.name != "extra"]
        assert all(getattr(event, name) is None for name in left_out)

    check()


@pytest.mark.extended
@pytest.mark.parametrize("kind", list(EVENT_TYPES))
def test_a_stored_row_reads_back_as_the_event(kind: str) -> None:
    """compact_json -> json.loads -> from_stored gives the event back, its values of the same kinds."""

    @given(ns.events(kind))
    def same(event: Event) -> None:
        again = from_stored(json.loads(compact_json(event)))
        assert again == event
        assert {f.name: type(getattr(again, f.name)) for f in attrs.fields(type(event))} == {
            f.name: type(getattr(event, f.name)) for f in attrs.fields(type(event))
        }
        assert Event.from_stored(json.loads(compact_json(event))) == event

    same()


def test_stamped_fills_in_only_the_negotiation() -> None:
    """A store's stamp sets negotiation where the event has none, and keeps the rest: recorded
    stays as the log gave it (the append time is the store's metadata)."""
    bare = ProposalPublished(id="p", occurred="2021-12-17", actor="RU", to=["US"], title="Draft", extra={"x": 1})
    filled = stamped(bare, "n")
    assert (filled.negotiation, filled.recorded) == ("n", None)
    assert attrs.evolve(filled, negotiation=None) == bare
    assert filled.extra == {"x": 1}
    own = attrs.evolve(bare, negotiation="mine", recorded=dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC))
    assert stamped(own, "n") is own  # nothing missing: itself


# -- contract versions ---------------------------------------------------------------------

#: A negotiation of contract version 1: its AgreementTerminated says how the text ended in
#: ``reason`` (version 2 writes that in ``ending``).
V1_LOG: list[dict[str, Any]] = [
    {"type": "TextAgreed", "id": "t", "occurred": "1979-06-18", "parties": ["US", "SU"], "title": "Treaty"},
    {"type": "AgreementEnteredIntoForce", "id": "f", "occurred": "1979-07-01", "ref": "t"},
    {"type": "AgreementTerminated", "id": "x", "occurred": "1985-12-31", "ref": "t", "reason": "expired"},
]

V2_EVENTS: list[dict[str, Any]] = [
    {"type": "ProposalPublished", "id": "p", "occurred": "2021-12-17", "actor": "RU", "to": ["US"], "heading": "Draft"},
    {"type": "ReplyDelivered", "id": "r", "occurred": "2022-01-26", "actor": "US", "ref": "p"},
]


def upcast_v2_v3(data: dict[str, Any]) -> dict[str, Any]:
    """A made-up change for the tests: version 2 called a proposal's title ``heading``."""
    if data.get("type") == "ProposalPublished" and "heading" in data:
        data["title"] = data.pop("heading")
    return data


@pytest.fixture
def version_3(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract at a made-up version 3, with the upcasters from versions 1 and 2."""
    monkeypatch.setattr(codec, "CONTRACT_VERSION", 3)
    monkeypatch.setattr(codec, "UPCASTERS", {1: codec.upcast_v1_v2, 2: upcast_v2_v3})


def test_the_contract_is_at_version_2_with_an_upcaster_for_every_older_version() -> None:
    """CONTRACT_VERSION and UPCASTERS agree: one upcaster per version below the current one."""
    assert codec.CONTRACT_VERSION == 2
    assert set(codec.UPCASTERS) == set(range(1, codec.CONTRACT_VERSION))
    with pytest.raises(TypeError):
        codec.UPCASTERS[2] = upcast_v2_v3  # type: ignore[index]  # built once, read-only


def test_a_v1_log_reads_the_way_its_agreement_ended_from_reason() -> None:
    """Version 1 wrote how an agreement ended in ``reason``; declared as version 1, it is ``ending``."""
    lines = [json.dumps({"contract": 1}), *map(json.dumps, V1_LOG)]
    ended = read_log(lines, negotiation="n").events()[-1]
    assert isinstance(ended, AgreementTerminated)
    assert (ended.ending, ended.reason) == (Ending.EXPIRED, None)
    undeclared = read_log([json.dumps(e) for e in V1_LOG], negotiation="n").events()[-1]
    assert (undeclared.ending, undeclared.reason) == (None, "expired")  # type: ignore[attr-defined]


def test_a_v1_reason_that_is_not_an_ending_stays_the_reason() -> None:
    data = {**V1_LOG[2], "reason": "withdrawn from the Senate"}
    ended = codec.from_dict(data, contract=1)
    assert (ended.ending, ended.reason) == (None, "withdrawn from the Senate")  # type: ignore[attr-defined]
    both = codec.from_dict({**V1_LOG[2], "ending": "denounced"}, contract=1)
    assert (both.ending, both.reason) == (Ending.DENOUNCED, "expired")  # type: ignore[attr-defined]


@pytest.mark.usefixtures("version_3")
def test_an_old_log_is_upcast_on_read_through_every_version_since() -> None:
    """A log that declares version 2 is read through the upcaster to 3; one of version 1 through both."""
    lines = [json.dumps({"contract": 2}), *map(json.dumps, V2_EVENTS)]
    log = read_log(lines, negotiation="n")
    events = log.events()
    assert [e.id for e in events] == ["p", "r"]
    assert isinstance(events[0], ProposalPublished)
    assert events[0].title == "Draft"
    assert "heading" not in events[0].extra
    assert [le.line for le in log.negotiations["n"]] == [2, 3]  # lines keep their numbers
    oldest = read_log([json.dumps({"contract": 1}), *map(json.dumps, V1_LOG)], negotiation="n").events()[-1]
    assert oldest.ending is Ending.EXPIRED  # type: ignore[attr-defined]


@pytest.mark.usefixtures("version_3")
def test_a_log_without_a_header_follows_the_current_version() -> None:
    """No header: the current version (3 here), so a version 2 field is an unknown field."""
    current = {**V2_EVENTS[0], "title": "Draft"}
    del current["heading"]
    log = read_log([json.dumps(current), json.dumps(V2_EVENTS[1])], negotiation="n")
    assert log.events()[0] == parse_event(json.dumps(current))
    with pytest.raises(InvalidEvent, match="missing field 'title'"):
        read_log([json.dumps(V2_EVENTS[0])], negotiation="n")


@pytest.mark.usefixtures("version_3")
def test_parse_event_and_from_dict_take_a_contract_version() -> None:
    """parse_event and codec.from_dict upcast from the version given, and do not change their input."""
    line = json.dumps(V2_EVENTS[0])
    assert parse_event(line, contract=2).title == "Draft"  # type: ignore[attr-defined]
    data = dict(V2_EVENTS[0])
    assert codec.from_dict(data, contract=2) == parse_event(line, contract=2)
    assert data == V2_EVENTS[0]
    with pytest.raises(InvalidEvent, match="missing field 'title'"):
        parse_event(line)  # the current version


def test_an_unreadable_contract_version_names_the_file_and_line(tmp_path: Path) -> None:
    """A declared version newer than the library's, or not a whole number, is a LogSyntaxError at its line."""
    event = json.dumps(V2_EVENTS[1])
    for header, message in [
        ({"contract": 3}, "contract version 3, newer than this library's (2)"),
        ({"contract": "1"}, "contract='1' must be a contract version"),
        ({"contract": 1.0}, "contract=1.0 must be a contract version"),
        ({"contract": True}, "contract=True must be a contract version"),
        ({"contract": 0}, "contract=0 must be a contract version"),
    ]:
        log = tmp_path / "log.jsonl"
        log.write_text(f"\n{json.dumps(header)}\n{event}\n", encoding="utf-8")
        with pytest.raises(LogSyntaxError, match=re.escape(message)) as info:
            read_log(log)
        assert (info.value.path, info.value.line) == (str(log), 2)
        assert f"{log}:2" in str(info.value)
        assert [e.line for e in check_log(log)][:1] == [2]
    with pytest.raises(LogSyntaxError, match="newer than this library's"):
        parse_event(event, contract=3)


def test_the_contract_may_be_declared_on_the_first_line_only() -> None:
    """A header after the first event is an error at its line, not an event."""
    lines = [json.dumps(V2_EVENTS[1]), json.dumps({"contract": 1})]
    with pytest.raises(LogSyntaxError, match="first line only") as info:
        read_log(lines, negotiation="n")
    assert info.value.line == 2
    assert read_log([json.dumps({"contract": 1}), lines[0]], negotiation="n").events()[0].id == "r"
    # an object with other keys besides "contract" is an event with an unknown field
    with pytest.raises(InvalidEvent, match="missing field 'type'"):
        read_log([json.dumps({"contract": 1, "id": "x"})], negotiation="n")


def test_write_log_writes_no_header() -> None:
    """write_log's output is unchanged: no header line (a log without one follows the current version)."""
    event = parse_event(json.dumps(V2_EVENTS[1]))
    out = io.StringIO()
    write_log([event], out)
    assert out.getvalue() == dump_event(event) + "\n"


def test_the_names_that_moved_are_still_importable_from_events() -> None:
    """dump_event, parse_event, decode_line and compact_json, once in negotiation.events, are the codec's."""
    from negotiation import events

    for name in ("compact_json", "decode_line", "dump_event", "parse_event"):
        assert getattr(events, name) is getattr(codec, name)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        events.nothing  # noqa: B018
