"""The stores' decoder of their own rows (negotiation.stored): the same events as the validating
path, that path's errors for anything unusual, and verify still validating every row."""

from __future__ import annotations

import json
from typing import Any

import pytest

from negotiation import Event, InvalidEvent, ProposalPublished, SQLiteStore
from negotiation.codec import compact_json
from negotiation.events import EVENT_TYPES
from negotiation.store.chain import GENESIS, Row, chain_hash, store_hash, verify_rows
from negotiation.stored import PLANS, decode, decode_rows

PROPOSAL = ProposalPublished(
    id="p1", negotiation="n", occurred="2021-12-17", actor="RU", to=["US", "NATO"], title="Draft", items=["a"]
)


def test_every_event_type_has_a_plan_with_a_plain_decoder_for_each_field() -> None:
    """A type left without a plan would still decode (through from_dict), only slower: this
    names the type whose field's declared type needs an entry in stored.BY_TYPE."""
    assert [name for name, plan in PLANS.items() if plan is None] == []
    assert set(PLANS) == set(EVENT_TYPES)


def _either(data: Any, decoder: Any) -> Any:
    try:
        return decoder(data)
    except InvalidEvent as e:
        return ("error", e.message, e.event_id)


@pytest.mark.parametrize(
    "change",
    [
        {"lobbyist": "X"},  # a field the contract does not define: kept in extra
        {"to": "US"},  # a string where a list belongs
        {"occurred": "2021-13-01"},
        {"public": "yes"},
        {"items": None},
        {"id": ""},
        {"type": "ProposalPublishd"},
        {"type": None},
        {"source": {"url": "https://example.org", "x": 1}},
        {"recorded": "2021-12-18T10:00:00+01:00"},
    ],
)
def test_an_unusual_object_decodes_as_the_validating_path_decodes_it(change: dict[str, Any]) -> None:
    data = {**PROPOSAL.to_dict(), **change}
    assert _either(dict(data), decode) == _either(dict(data), Event.from_dict)


def test_content_within_a_values_kind_is_trusted_and_verify_checks_it() -> None:
    """An empty list of addressees is a list: the decoder trusts the store that wrote it (the
    validating path refuses it, and verify uses that path: see below)."""
    data = {**PROPOSAL.to_dict(), "to": []}
    assert decode(dict(data)).to == ()  # type: ignore[attr-defined]
    with pytest.raises(InvalidEvent, match="to="):
        Event.from_dict(data)


@pytest.mark.parametrize("missing", ["actor", "to", "title", "occurred", "type"])
def test_a_missing_field_gets_the_validating_paths_error(missing: str) -> None:
    data = PROPOSAL.to_dict()
    del data[missing]
    with pytest.raises(InvalidEvent) as error:
        decode(data)
    assert missing in error.value.message


def test_not_an_object_gets_the_validating_paths_error() -> None:
    with pytest.raises(InvalidEvent, match="a JSON object"):
        decode(["ProposalPublished"])


def test_rows_that_do_not_join_into_one_array_are_decoded_one_by_one() -> None:
    good = compact_json(PROPOSAL)
    assert decode_rows([good]) == [PROPOSAL]
    with pytest.raises(json.JSONDecodeError, match="Expecting property name"):
        decode_rows([good, "{not json"])
    with pytest.raises(InvalidEvent, match="missing field"):
        decode_rows([good, '{"type": "ProposalPublished", "id": "p2"}'])


def test_verify_reads_every_row_through_the_validating_path() -> None:
    """A row with a consistent hash chain whose event does not validate (it was written by
    something else than this library) is reported by verify, with the field that is wrong."""
    data = json.dumps({**PROPOSAL.to_dict(), "to": []}, separators=(",", ":"), ensure_ascii=False)
    event_hash = chain_hash(GENESIS, data)
    row = Row(1, "n", 1, "p1", "ProposalPublished", "2021-12-17", "2021-12-18T00:00:00+00:00", data, event_hash)
    found = verify_rows([row], {"n": (1, event_hash)}, recorded_head=(1, store_hash(GENESIS, row)))
    assert not found.ok
    assert found.problem is not None
    assert "does not read back" in found.problem
    assert "to=[]" in found.problem


def test_a_store_loads_what_it_appended_through_the_decoder(tmp_path: Any) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        store.append("n", [PROPOSAL])
    with SQLiteStore(tmp_path / "s.db") as store:
        (stored,) = store.read("n")
        state = store.load("n")
    assert stored.event == PROPOSAL
    assert state.events == (PROPOSAL,)
    assert type(state.events[0].to) is tuple
