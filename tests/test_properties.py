"""Properties of replay over every log the package's strategies can draw.

Valid logs come from walking the permitted next steps (negotiation.strategies.valid_logs),
invalid ones add one event that breaks exactly one rule (invalid_logs).
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from negotiation import (
    Event,
    EventRejected,
    NegotiationState,
    dump_event,
    parse_event,
    read_log,
    replay,
    replay_log,
    write_log,
)
from negotiation import strategies as nst
from negotiation.replay import visible
from tests.conftest import FOUNDING


@pytest.mark.extended
@given(nst.valid_logs(max_events=25))
def test_every_valid_log_replays_with_both_engines(log: list[Event]) -> None:
    """Strict replay accepts every valid log, and the transitions engine agrees with the table."""
    state = replay(log)
    assert state.version == len(log)
    assert replay(log, engine="transitions") == state


@pytest.mark.extended
@given(nst.valid_logs(max_events=15))
def test_state_after_each_event_equals_the_replay_of_the_prefix(log: list[Event]) -> None:
    """Applying events one by one gives, after each, the state that replaying that prefix gives."""
    state = NegotiationState.empty(nst.SIMULATED)
    for i, event in enumerate(log, start=1):
        state = state.apply(event)
        assert state == replay(log[:i])


@settings(max_examples=30)
@given(st.data())
def test_continuations_of_the_founding_log_equal_their_replay(data: st.DataObject) -> None:
    """The founding log as of 2022-02-02, extended: the same as replaying its visible events and the continuation."""
    log = read_log(FOUNDING)
    start = replay_log(log, as_of="2022-02-02")
    continuation = data.draw(nst.valid_logs(start, max_events=12))
    extended = start.extend(continuation).to_dict(detail=True)
    kept = list(visible(log.events(), as_of=start.as_of))
    replayed = replay([*kept, *continuation]).to_dict(detail=True)
    for key in ("as_of", "overdue"):  # the continuation is dated after the cut; deadlines fall due by it
        del extended[key], replayed[key]
    assert extended == replayed


@given(nst.valid_logs(max_events=20))
def test_whole_logs_survive_a_json_round_trip(log: list[Event]) -> None:
    """write_log then read_log gives back the same events, and so the same state."""
    out = io.StringIO()
    assert write_log(log, out) == len(log)
    lines = out.getvalue().split("\n")[:-1]  # not splitlines(): U+2028 and friends may sit inside strings
    assert [parse_event(line) for line in lines] == log
    parsed = read_log(lines).events(nst.SIMULATED) if log else []
    assert parsed == log
    assert replay(parsed, negotiation=nst.SIMULATED) == replay(log, negotiation=nst.SIMULATED)
    assert [dump_event(e) for e in parsed] == lines


def _day_strategy(log: list[Event]) -> st.SearchStrategy[dt.date]:
    first = min((e.occurred.first_day for e in log), default=dt.date(2000, 1, 1))
    last = max((e.occurred.last_day for e in log), default=dt.date(2000, 1, 1))
    return st.dates(first - dt.timedelta(days=3), last + dt.timedelta(days=3))


@pytest.mark.extended
@given(st.data())
def test_as_of_is_monotonic(data: st.DataObject) -> None:
    """``as_of`` is monotonic in this precise sense.

    For days ``a <= b`` (day precision), the events that a replay as of ``a`` keeps are a
    subsequence of those kept as of ``b``. For a log whose dates never go back (each event's
    last possible day is on or after the previous one's, as in every log ``valid_logs``
    draws), what an ``as_of`` replay keeps is a prefix of the log. Hence, for such a valid
    log, a replay as of any day never fails and equals the replay of that prefix; the
    number of events it folds in never decreases as the day advances; and as of the last
    event's day it is the replay of the whole log. It says nothing about stages: a later
    cut may be in an "earlier" stage (a proposal answered, then a new one opened).
    """
    log = data.draw(nst.valid_logs(max_events=20))
    a, b = sorted(data.draw(st.lists(_day_strategy(log), min_size=2, max_size=2)))
    ids = [e.id for e in log]
    kept_a = [e.id for e in visible(log, as_of=nst.PartialDate.of(a))]
    kept_b = [e.id for e in visible(log, as_of=nst.PartialDate.of(b))]
    assert kept_a == ids[: len(kept_a)]
    assert kept_b == ids[: len(kept_b)]
    assert len(kept_a) <= len(kept_b)
    state_a = replay(log, as_of=a, negotiation=nst.SIMULATED)
    state_b = replay(log, as_of=b, negotiation=nst.SIMULATED)
    assert state_a.version == len(kept_a) <= state_b.version == len(kept_b)
    assert state_a.events == replay(log[: len(kept_a)], negotiation=nst.SIMULATED).events
    if log:
        end = max(e.occurred.last_day for e in log)
        assert replay(log, as_of=end).events == replay(log).events


@pytest.mark.extended
@settings(max_examples=120)
@given(nst.invalid_logs(max_events=15))
def test_every_invalid_log_is_refused_with_the_right_error_at_the_right_event(log: nst.InvalidLog) -> None:
    """Strict replay raises exactly the expected error about the last event; lenient replay skips only it."""
    replay(log.prefix, negotiation=nst.SIMULATED)
    with pytest.raises(EventRejected) as caught:
        replay(log.events, negotiation=nst.SIMULATED)
    assert type(caught.value) is log.error
    assert caught.value.event is log.event
    assert caught.value.event_id == log.event.id
    lenient = replay(log.events, negotiation=nst.SIMULATED, strict=False)
    assert [r.event for r in lenient.rejected] == [log.event]
    assert lenient.events == replay(log.prefix, negotiation=nst.SIMULATED).events


@settings(max_examples=40)
@given(nst.invalid_logs(max_events=10))
def test_an_invalid_log_file_names_the_line_of_the_refused_event(log: nst.InvalidLog) -> None:
    """Read from JSON Lines, the refusal names the last line (the refused event's)."""
    assume(log.error is not EventRejected)  # a file groups another negotiation's line apart: no error
    out = io.StringIO()
    write_log(log.events, out)
    lines = out.getvalue().split("\n")[:-1]
    with pytest.raises(EventRejected) as caught:
        replay_log(read_log(lines, negotiation=nst.SIMULATED), negotiation=nst.SIMULATED)
    assert type(caught.value) is log.error
    assert caught.value.line == len(lines)
