"""Bad input gets a clear error naming file and line, never an internal error, and writes nothing.

The corpus in ``tests/data/bad/`` (written by ``python -m tests.make_bad_corpus``) holds one
file per way a log can be wrong; ``expected.json`` holds the first line ``check`` prints for
each, reviewed by hand.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiation import (
    EVENT_TYPES,
    InvalidEvent,
    NegotiationError,
    ProposalPublished,
    SQLiteStore,
    check_log,
    read_log,
    replay,
)
from negotiation.cli import cli
from negotiation.codec import MAX_DEPTH, compact_json, dump_event
from negotiation.dates import PartialDate, parse_timestamp
from negotiation.errors import InvalidDate
from tests.make_bad_corpus import CORPUS, HERE

EXPECTED: dict[str, str] = json.loads((HERE / "expected.json").read_text(encoding="utf-8"))
FILES = sorted(HERE.glob("*.jsonl"))


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"internal error: {result.exception!r}\n{result.output}")
    return result


def test_the_corpus_is_on_disk_as_written_and_each_file_has_its_expected_error() -> None:
    assert len(FILES) >= 40
    assert [p.name for p in FILES] == sorted(CORPUS) == sorted(EXPECTED)
    for path in FILES:
        content = CORPUS[path.name]
        assert path.read_bytes() == (
            content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
        )


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_check_names_the_file_the_line_and_the_culprit(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    result = run("check", path.name)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == EXPECTED[path.name]
    assert "internal error" not in result.output


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_append_refuses_the_whole_file_and_leaves_the_store_as_it_was(path: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(json.loads(CORPUS["44-id-used-twice.jsonl"].splitlines()[0])) + "\n")  # type: ignore[union-attr]
    assert run("append", str(store), str(good)).exit_code == 0
    result = run("append", str(store), str(path))
    assert result.exit_code == 1
    message = EXPECTED[path.name].split(": ", 1)[1] if ":" in EXPECTED[path.name] else EXPECTED[path.name]
    assert message in result.output
    with SQLiteStore(store) as s:
        assert [n.id for n in s.negotiations()] == ["good"]
        assert s.verify().ok


# -- the same refusals through the API ----------------------------------------------------------


def proposal(**extra: object) -> ProposalPublished:
    return ProposalPublished(occurred="2022-01-01", id="p1", actor="RU", to=["US"], title="Draft", extra=extra)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"weight": math.nan}, "weight=nan: NaN and infinite numbers are not JSON"),
        ({"weight": -math.inf}, "weight=-inf: NaN and infinite numbers are not JSON"),
        ({"x": "\ud800"}, "x holds a lone surrogate"),
        ({"x": 10**5000}, "Exceeds the limit (4300 digits)"),
    ],
)
def test_an_event_json_cannot_carry_is_refused_before_anything_is_written(
    extra: dict[str, object], reason: str, tmp_path: Path
) -> None:
    event = proposal(**extra)
    for encode in (compact_json, dump_event):
        with pytest.raises(InvalidEvent, match="ProposalPublished: cannot be written as JSON") as caught:
            encode(event)
        assert reason in str(caught.value)
        assert caught.value.event_id == "p1"
    with SQLiteStore(tmp_path / "s.db") as store:
        with pytest.raises(InvalidEvent) as caught:
            store.append(
                "n",
                [
                    proposal(),
                    ProposalPublished(occurred="2022-01-02", id="p2", actor="US", to=["RU"], title="x", extra=extra),
                ],
            )
        assert caught.value.negotiation == "n"
        assert caught.value.event_id == "p2"
        assert store.negotiations() == []


def test_values_nested_deeper_than_the_limit_are_refused_on_both_sides(tmp_path: Path) -> None:
    deep: object = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(InvalidEvent, match="nested more than 64 levels deep"):
        compact_json(proposal(x=deep))
    shallow: object = []
    for _ in range(MAX_DEPTH - 2):
        shallow = [shallow]
    with SQLiteStore(tmp_path / "s.db") as store:  # what is accepted reads back
        store.append("n", [proposal(x=shallow)])
    with SQLiteStore(tmp_path / "s.db") as store:
        assert store.load("n").events[0].extra["x"] == shallow


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_a_date_time_whose_utc_date_leaves_the_calendar_is_an_invalid_date(text: str) -> None:
    with pytest.raises(InvalidDate, match="out of range: its UTC date must lie in the years 1 to 9999"):
        PartialDate.parse(text, field="occurred")
    with pytest.raises(InvalidDate, match="out of range"):
        parse_timestamp(text, field="known_at")
    moment = dt.datetime.fromisoformat(text)
    with pytest.raises(InvalidDate, match="out of range"):
        PartialDate.of(moment)


# -- anything at all ------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
#: Objects shaped like events, so that the reader gets past the JSON and into the fields.
EVENTISH = st.fixed_dictionaries(
    {"type": st.sampled_from([*EVENT_TYPES, "Nothing"]), "occurred": st.text(max_size=30) | JSON},
    optional=dict.fromkeys(
        (
            "id",
            "actor",
            "to",
            "parties",
            "ref",
            "title",
            "public",
            "positions",
            "source",
            "level",
            "mode",
            "recorded",
            "negotiation",
        ),
        JSON,
    ),
)


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


@pytest.mark.extended
@given(
    st.binary(max_size=200)
    | st.lists(EVENTISH | JSON, max_size=5).map(lambda objs: "\n".join(json.dumps(o) for o in objs).encode())
)
def test_the_reader_answers_anything_with_events_or_a_negotiation_error(data: bytes) -> None:
    try:
        log = read_log(lines_of(data), negotiation="n")
        for name in log.ids():
            replay(log.events(name), negotiation=name, strict=False)
    except NegotiationError:
        pass
    with contextlib.suppress(NegotiationError):
        check_log(lines_of(data), negotiation="n")


@pytest.mark.extended
@settings(max_examples=40, deadline=None)
@given(
    st.binary(max_size=200)
    | st.lists(EVENTISH, max_size=4).map(lambda objs: "\n".join(json.dumps(o) for o in objs).encode())
)
def test_the_command_line_answers_anything_with_exit_0_or_1(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log.jsonl"
        log.write_bytes(data)
        for args in (["check", str(log)], ["status", str(log)], ["append", str(Path(tmp) / "s.db"), str(log)]):
            result = run(*args)
            assert result.exit_code in (0, 1), (args, result.output)
            assert "internal error" not in result.output


def test_check_goes_on_listing_past_lines_that_used_to_stop_the_reader(tmp_path: Path) -> None:
    """Each line that once ended in an internal error is one error among others."""
    names = [
        "13-nan.jsonl",
        "16-five-thousand-digits.jsonl",
        "17-nested-1200-deep.jsonl",
        "20-lone-surrogate-in-a-field.jsonl",
        "27-date-time-past-9999-in-utc.jsonl",
    ]
    log = tmp_path / "mixed.jsonl"
    log.write_bytes(b"".join((HERE / name).read_bytes() for name in names))
    result = run("check", str(log))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line.split(":", 2)[1].split()[0] for line in lines[:-1]] == ["1", "2", "3", "4", "5"]
    assert lines[-1] == f"{log}: 5 errors"


@pytest.mark.parametrize("option", ["--as-of", "--known-at"])
def test_a_cut_off_past_the_calendar_in_utc_is_one_line(option: str) -> None:
    result = run(
        "status", str(HERE.parent.parent.parent / "events" / "jcpoa.jsonl"), option, "9999-12-31T23:59:59-12:00"
    )
    assert result.exit_code == 1
    assert "is out of range: its UTC date must lie in the years 1 to 9999" in result.output
