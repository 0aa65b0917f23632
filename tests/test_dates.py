"""Dates keep their precision and answer replay's questions (first/last day, order)."""

from __future__ import annotations

import datetime as dt

import pytest

from negotiation import InvalidDate, PartialDate
from negotiation.dates import parse_timestamp


@pytest.mark.parametrize(
    ("text", "precision", "first", "last"),
    [
        ("2022", "year", dt.date(2022, 1, 1), dt.date(2022, 12, 31)),
        ("2022-02", "month", dt.date(2022, 2, 1), dt.date(2022, 2, 28)),
        ("2024-02", "month", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
        ("2022-01-26", "day", dt.date(2022, 1, 26), dt.date(2022, 1, 26)),
        ("2022-01-26T01:30:00+03:00", "datetime", dt.date(2022, 1, 25), dt.date(2022, 1, 25)),
    ],
)
def test_parse_keeps_precision(text: str, precision: str, first: dt.date, last: dt.date) -> None:
    """Each accepted form keeps its precision, its text, and its first and last UTC day."""
    date = PartialDate.parse(text)
    assert (date.precision, date.first_day, date.last_day) == (precision, first, last)
    assert str(date) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2022-02-30", "date='2022-02-30' is not a valid date: day is out of range for month"),
        ("2022-13", "date='2022-13' is not a valid date: month must be in 1..12"),
        (
            "2022-01-26T10:00",
            "date='2022-01-26T10:00' is a date-time without a UTC offset; add one, e.g. 2022-01-26T10:00+00:00",
        ),
        (
            "26/01/2022",
            "date='26/01/2022' is not a date: expected YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time with a UTC offset",
        ),
    ],
)
def test_parse_refuses_impossible_and_malformed(text: str, message: str) -> None:
    """An impossible or malformed date is an InvalidDate naming the text."""
    with pytest.raises(InvalidDate) as info:
        PartialDate.parse(text)
    assert str(info.value) == message


def test_definitely_before_respects_precision() -> None:
    """A month is not definitely before a day inside it; an earlier month is."""
    jan, jan26, dec = PartialDate.parse("2022-01"), PartialDate.parse("2022-01-26"), PartialDate.parse("2021-12")
    assert not jan.definitely_before(jan26)
    assert not jan26.definitely_before(jan)
    assert dec.definitely_before(jan26)


def test_sort_key_orders_moments_within_a_day_before_the_whole_day() -> None:
    """A date-time sorts before the plain date of its day, which may mean all of that day."""
    moment, day = PartialDate.parse("2022-01-26T10:00:00+00:00"), PartialDate.parse("2022-01-26")
    assert moment.sort_key < day.sort_key


def test_timestamp_of_a_date_is_the_end_of_that_day() -> None:
    """known_at=2022-02-02 includes everything recorded that day."""
    assert parse_timestamp("2022-02-02") == dt.datetime(2022, 2, 2, 23, 59, 59, 999999, tzinfo=dt.UTC)
    with pytest.raises(InvalidDate, match="naive"):
        parse_timestamp(dt.datetime(2022, 2, 2, 12, 0))
