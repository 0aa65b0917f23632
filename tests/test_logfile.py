"""Reading logs: every kind of bad input is refused with the file, the line and the culprit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from negotiation import (
    DatedBeforeReference,
    DuplicateEventId,
    InvalidDate,
    InvalidEvent,
    LogSyntaxError,
    NegotiationError,
    NotPermitted,
    UnknownNegotiation,
    UnknownReference,
    WrongActor,
    check_log,
    dump_event,
    read_log,
    replay_log,
)

DRAFT = '{"id": "draft", "type": "ProposalPublished", "occurred": "2021-12-17", "actor": "RU", "to": ["US", "NATO"], "title": "Draft"}'

# (second line of a two-line log, error type, message after "log.jsonl:2")
BAD_LINES = [
    ("{not json", LogSyntaxError, ": not valid JSON: Expecting property name enclosed in double quotes at column 2"),
    ("[1, 2]", LogSyntaxError, ": expected a JSON object, got list [1, 2]"),
    (
        '{"id": "x", "type": "Proposal", "occurred": "2022"}',
        InvalidEvent,
        " event 'x': type='Proposal' is not an event type; expected one of: ContactProposed",
    ),
    (
        '{"id": "x", "type": "ReplyDelivered", "occurred": "2022", "actor": "US"}',
        InvalidEvent,
        " event 'x': ReplyDelivered: missing field 'ref'",
    ),
    (
        '{"id": "x", "type": "ReplyDelivered", "occurred": "2022", "actor": "US", "ref": "draft", "public": "no"}',
        InvalidEvent,
        " event 'x': ReplyDelivered: public='no' must be true or false",
    ),
    (
        '{"id": "x", "type": "ReplyDelivered", "occurred": "2022-02-30", "actor": "US", "ref": "draft"}',
        InvalidDate,
        " event 'x': ReplyDelivered: occurred='2022-02-30' is not a valid date: day is out of range for month",
    ),
    (
        '{"id": "draft", "type": "ReplyDelivered", "occurred": "2022-01-26", "actor": "US", "ref": "draft"}',
        DuplicateEventId,
        " event 'draft': id 'draft' is already used in this negotiation",
    ),
    (
        '{"id": "x", "type": "ReplyDelivered", "occurred": "2022-01-26", "actor": "US", "ref": "drafts"}',
        UnknownReference,
        " event 'x': ref='drafts' names no earlier event of this negotiation",
    ),
    (
        '{"id": "x", "type": "ReplyDelivered", "occurred": "2022-01-26", "actor": "UA", "ref": "draft"}',
        WrongActor,
        " event 'x': actor='UA' is not an addressee of 'draft'; expected one of: 'US', 'NATO'",
    ),
    (
        '{"id": "x", "type": "AgreementSigned", "occurred": "2022-01-26", "parties": ["US"], "ref": "draft"}',
        NotPermitted,
        " event 'x': AgreementSigned is not permitted in stage 'proposal_open'; permitted: ContactProposed, ",
    ),
    (
        '{"id": "x", "type": "ReplyDelivered", "occurred": "2021-12-16", "actor": "US", "ref": "draft"}',
        DatedBeforeReference,
        " event 'x': occurred='2021-12-16' is before the event it references ('draft', occurred '2021-12-17')",
    ),
]


@pytest.mark.parametrize(("line", "error", "message"), BAD_LINES, ids=[e.__name__ for _, e, _ in BAD_LINES])
def test_bad_input_is_refused_with_file_line_and_culprit(
    tmp_path: Path, line: str, error: type[NegotiationError], message: str
) -> None:
    """The library raises a specific error whose message starts with file:line and names the culprit."""
    log = tmp_path / "log.jsonl"
    log.write_text(f"{DRAFT}\n{line}\n", encoding="utf-8")
    with pytest.raises(error) as info:
        replay_log(log)
    assert str(info.value).startswith(f"{log}:2{message}")
    assert (info.value.path, info.value.line) == (str(log), 2)


def test_not_utf8_is_a_syntax_error_with_line(tmp_path: Path) -> None:
    """A line that is not UTF-8 is refused with its line number."""
    log = tmp_path / "log.jsonl"
    log.write_bytes(DRAFT.encode() + b"\n\n" + b'{"type": "\xff"}\n')
    with pytest.raises(LogSyntaxError, match=r"log.jsonl:3: not UTF-8 text"):
        read_log(log)


def test_check_reports_every_error_in_line_order(tmp_path: Path) -> None:
    """check_log reports each bad line, not only the first."""
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join([DRAFT, *(line for line, _, _ in BAD_LINES)]) + "\n", encoding="utf-8")
    errors = check_log(log)
    assert [e.line for e in errors] == list(range(2, 2 + len(BAD_LINES)))
    assert [type(e) for e in errors] == [error for _, error, _ in BAD_LINES]


def test_several_negotiations_in_one_file(tmp_path: Path) -> None:
    """Lines are told apart by negotiation; one must be named when there are several."""
    log = tmp_path / "many.jsonl"
    a = json.loads(DRAFT) | {"negotiation": "a"}
    b = {"type": "ConsultationHeld", "occurred": "2022-01-10", "parties": ["RU", "US"], "negotiation": "b"}
    log.write_text(f"{json.dumps(a)}\n{json.dumps(b)}\n", encoding="utf-8")
    assert read_log(log).ids() == ["a", "b"]
    assert replay_log(log, negotiation="a").stage == "proposal_open"
    assert replay_log(log, negotiation="b").stage == "exploration"
    with pytest.raises(UnknownNegotiation, match="holds several negotiations \\('a', 'b'\\); name one"):
        replay_log(log)
    with pytest.raises(UnknownNegotiation, match="negotiation 'c' is not in"):
        replay_log(log, negotiation="c")


def test_default_negotiation_is_the_file_stem(tmp_path: Path) -> None:
    """Lines without negotiation belong to the file's stem."""
    log = tmp_path / "talks-2022.jsonl"
    log.write_text(DRAFT + "\n", encoding="utf-8")
    assert replay_log(log).negotiation == "talks-2022"


def test_generated_ids_are_stable_and_distinct(tmp_path: Path) -> None:
    """Events without id get the same ids on every read; identical lines get -2, -3."""
    line = '{"type": "ConsultationHeld", "occurred": "2022-01-10", "parties": ["RU", "US"]}'
    log = tmp_path / "log.jsonl"
    log.write_text(f"{line}\n{line}\n{line}\n", encoding="utf-8")
    first = [e.id for e in read_log(log).events()]
    assert first == [e.id for e in read_log(log).events()]
    assert first[0].startswith("consultation-held-")
    assert first[1:] == [f"{first[0]}-2", f"{first[0]}-3"]


def test_unknown_fields_survive_a_round_trip(tmp_path: Path) -> None:
    """An analyst's own fields are kept and written back."""
    data = json.loads(DRAFT) | {"confidence": 0.8, "tags": ["draft"]}
    event = read_log([json.dumps(data)], negotiation="n").events()[0]
    assert event.extra == {"confidence": 0.8, "tags": ["draft"]}
    assert json.loads(dump_event(event)) == data | {"public": True}


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    """A log that cannot be read is a NegotiationError naming the path."""
    with pytest.raises(NegotiationError, match=r"nope\.jsonl: cannot read the log: No such file or directory"):
        read_log(tmp_path / "nope.jsonl")


def test_lenient_replay_locates_rejections(tmp_path: Path) -> None:
    """A lenient replay reports each skipped event with its line."""
    log = tmp_path / "log.jsonl"
    log.write_text(DRAFT + "\n" + BAD_LINES[8][0] + "\n", encoding="utf-8")
    state = replay_log(log, strict=False)
    assert [(e.line, e.event_id) for e in state.rejected] == [(2, "x")]


def test_unknown_source_keys_survive_a_round_trip() -> None:
    """A source's own keys (an access date, say) are kept too."""
    data = json.loads(DRAFT) | {"source": {"title": "T", "accessed": "2026-01-01"}}
    event = read_log([json.dumps(data)], negotiation="n").events()[0]
    assert event.source is not None
    assert event.source.title == "T"
    assert json.loads(dump_event(event))["source"] == {"title": "T", "accessed": "2026-01-01"}
