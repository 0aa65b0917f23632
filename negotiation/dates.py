"""Dates that keep their precision, and the time-travel cut-offs built on them.

A log says ``2022``, ``2022-01``, ``2022-01-26`` or ``2022-01-26T15:30:00+03:00``: what the
author knew. :class:`PartialDate` keeps that precision (it is written back as it was read) and
answers the questions replay asks: the first and the last day the date can mean, and a sort
key. A date-time is compared by its UTC date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Literal

import attrs

from negotiation.errors import InvalidDate

__all__ = ["PartialDate", "Precision", "parse_date", "parse_timestamp", "utc_now"]

Precision = Literal["year", "month", "day", "datetime"]

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")


@attrs.frozen(order=False)
class PartialDate:
    """A calendar date of year, month, day or date-time precision.

    Build one with :meth:`parse` (``PartialDate.parse("2022-01")``) or :meth:`of`.

    Attributes:
        precision: ``"year"``, ``"month"``, ``"day"`` or ``"datetime"``.
        first_day: the first UTC day the date can mean.
        last_day: the last UTC day the date can mean; ``as_of`` compares with this.
        moment: the aware date-time, for ``"datetime"`` precision only.
    """

    precision: Precision
    first_day: dt.date
    last_day: dt.date
    moment: dt.datetime | None = None

    @classmethod
    def parse(cls, text: str, *, field: str = "date") -> PartialDate:
        """Read ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or an ISO date-time with a UTC offset.

        Raises:
            InvalidDate: naming ``field`` and the text, for a malformed or impossible date
                (``2022-02-30``) or a date-time without a UTC offset.
        """
        if not isinstance(text, str):
            msg = f"{field}={text!r} must be a date string (YYYY, YYYY-MM, YYYY-MM-DD or an ISO date-time with offset)"
            raise InvalidDate(msg)
        if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.isascii():
            try:  # the common case, parsed in C
                day = dt.date.fromisoformat(text)
            except ValueError:
                pass  # fall through for the precise message
            else:
                return cls("day", day, day)
        try:
            if m := _DAY.match(text):
                day = dt.date(int(m[1]), int(m[2]), int(m[3]))
                return cls("day", day, day)
            if m := _MONTH.match(text):
                year, month = int(m[1]), int(m[2])
                last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
                return cls("month", dt.date(year, month, 1), dt.date(year, month, last))
            if m := _YEAR.match(text):
                year = int(m[1])
                return cls("year", dt.date(year, 1, 1), dt.date(year, 12, 31))
            if _DATETIME.match(text):
                moment = dt.datetime.fromisoformat(text)
                day = moment.astimezone(dt.UTC).date()
                return cls("datetime", day, day, moment)
        except ValueError as e:
            msg = f"{field}={text!r} is not a valid date: {e}"
            raise InvalidDate(msg) from e
        except OverflowError:  # 9999-12-31T23:59:59-12:00 is in year 10000, UTC
            msg = f"{field}={text!r} is out of range: its UTC date must lie in the years 1 to 9999"
            raise InvalidDate(msg) from None
        if re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text):
            msg = f"{field}={text!r} is a date-time without a UTC offset; add one, e.g. {text}+00:00"
        else:
            msg = (
                f"{field}={text!r} is not a date: expected YYYY, YYYY-MM, YYYY-MM-DD "
                "or an ISO 8601 date-time with a UTC offset"
            )
        raise InvalidDate(msg)

    @classmethod
    def of(cls, value: PartialDate | dt.date | dt.datetime | str, *, field: str = "date") -> PartialDate:
        """Coerce a :class:`PartialDate`, a :class:`datetime.date`, an aware date-time or a string."""
        if type(value) is str:
            return cls.parse(value, field=field)
        if isinstance(value, PartialDate):
            return value
        if isinstance(value, dt.datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                msg = f"{field}={value!r} is a naive date-time; give it a UTC offset"
                raise InvalidDate(msg)
            day = _utc(value, field).date()
            return cls("datetime", day, day, value)
        if isinstance(value, dt.date):
            return cls("day", value, value)
        return cls.parse(value, field=field)

    def __str__(self) -> str:
        if self.precision == "year":
            return f"{self.first_day.year:04d}"
        if self.precision == "month":
            return f"{self.first_day.year:04d}-{self.first_day.month:02d}"
        if self.precision == "day":
            return self.first_day.isoformat()
        assert self.moment is not None
        return self.moment.isoformat()

    def __repr__(self) -> str:
        return f"PartialDate({str(self)!r})"

    @property
    def sort_key(self) -> tuple[dt.date, dt.datetime]:
        """Orders dates by the last day they can mean, then by the moment within a day.

        A date of day precision sorts after any moment of that day: it may mean all of it.
        """
        moment = self.moment.astimezone(dt.UTC) if self.moment is not None else _END_OF_DAY(self.last_day)
        return (self.last_day, moment)

    def definitely_before(self, other: PartialDate) -> bool:
        """Whether every UTC day this date can mean lies before every UTC day ``other`` can mean.

        ``2022-01`` is not definitely before ``2022-01-26``; ``2021-12`` is. Date-times are
        compared by their UTC dates: two moments of one day are not "before" each other (the
        hours of a day are seldom on the record, and time zones blur them).
        """
        return self.last_day < other.first_day

    def recorded_by(self) -> dt.datetime:
        """The UTC moment by which an event dated so is known to have occurred.

        An event without ``recorded`` counts as recorded when it occurred: at its moment, or
        at the end of the last day of its period.
        """
        if self.moment is not None:
            return self.moment.astimezone(dt.UTC)
        return _END_OF_DAY(self.last_day)


def _utc(moment: dt.datetime, field: str) -> dt.datetime:
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        msg = f"{field}={moment.isoformat()!r} is out of range: its UTC date must lie in the years 1 to 9999"
        raise InvalidDate(msg) from None


def _END_OF_DAY(day: dt.date) -> dt.datetime:  # noqa: N802 - reads as a constant-like helper
    return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)


def parse_date(value: PartialDate | dt.date | dt.datetime | str, *, field: str = "date") -> PartialDate:
    """Coerce an ``as_of`` or ``deadline`` value into a :class:`PartialDate`."""
    return PartialDate.of(value, field=field)


def parse_timestamp(value: dt.datetime | dt.date | str, *, field: str = "timestamp") -> dt.datetime:
    """Coerce a ``recorded`` or ``known_at`` value into an aware UTC date-time.

    A date (or a date string of any precision) means the end of its last day, UTC: "known at
    2022-02-02" includes everything recorded that day.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            msg = f"{field}={value!r} is a naive date-time; give it a UTC offset"
            raise InvalidDate(msg)
        return _utc(value, field)
    if type(value) is str and len(value) > 10 and _DATETIME.match(value):  # the common case: a stored stamp
        try:
            return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            pass  # an impossible date-time: PartialDate.parse says what is wrong
    return PartialDate.of(value, field=field).recorded_by()


def utc_now() -> dt.datetime:
    """The current moment, UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)
