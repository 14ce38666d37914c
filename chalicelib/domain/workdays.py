"""Which days are working days in mainland China: statutory holidays and adjusted working days (调休).

The data comes from ``chinesecalendar`` (import name ``chinese_calendar``), which tracks the State
Council's yearly announcements. It is imported on first use, not at module import: most sweeps and
every intake run never ask (the shipped campaign keeps due dates as written), and Lambda cold starts
should not pay for a 40 KB table of dates. Anything with ``knows`` and ``is_workday`` can stand in for
it, so tests pin the calendar they mean.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from types import ModuleType
from typing import Protocol

# The longest run of rest days China has had is 9 (Spring Festival with weekends); a scan that finds
# no working day in this many days has a broken calendar, and looping on would hide that.
MAX_REST_RUN_DAYS = 31


class WorkdayCalendar(Protocol):
    def knows(self, year: int) -> bool:
        """Whether holidays and adjusted working days of ``year`` are known (announced and loaded)."""
        ...

    def is_workday(self, day: date) -> bool:
        """Only asked for days of years the calendar knows."""
        ...


class ChineseHolidayCalendar:
    """The ``chinesecalendar`` package, loaded lazily."""

    def __init__(self) -> None:
        self._module: ModuleType | None = None
        self._years: range | None = None

    def _lib(self) -> ModuleType:
        if self._module is None:
            import chinese_calendar

            self._module = chinese_calendar
        return self._module

    def _known_years(self) -> range:
        if self._years is None:
            # The package only has data for the years between its first and last announcement; asking
            # it about others raises, so the range is read off its own table instead.
            years = [day.year for day in self._lib().holidays]
            self._years = range(min(years), max(years) + 1)
        return self._years

    def knows(self, year: int) -> bool:
        return year in self._known_years()

    def is_workday(self, day: date) -> bool:
        return bool(self._lib().is_workday(day))


def is_weekend(day: date) -> bool:
    return day.weekday() >= 5


def unknown_year_warning(year: int, day: date) -> str:
    return f"节假日日历不含{year}年的数据：{day.isoformat()}起仅按周末判断工作日，未计法定节假日和调休。"


def next_working_day(day: date, calendar: WorkdayCalendar) -> tuple[date, tuple[str, ...]]:
    """The first working day on or after ``day``, and a warning for each year the calendar did not know.

    Unknown years fall back to "Saturday and Sunday are rest days", which is right for most of the
    year and wrong around holidays, hence the warning rather than silence.
    """
    warnings: list[str] = []
    cursor = day
    for _ in range(MAX_REST_RUN_DAYS):
        if calendar.knows(cursor.year):
            if calendar.is_workday(cursor):
                return cursor, tuple(warnings)
        else:
            if not any(w.startswith(f"节假日日历不含{cursor.year}年") for w in warnings):
                warnings.append(unknown_year_warning(cursor.year, cursor))
            if not is_weekend(cursor):
                return cursor, tuple(warnings)
        cursor += timedelta(days=1)
    raise ValueError(f"no working day within {MAX_REST_RUN_DAYS} days after {day.isoformat()}")


@cache
def default_calendar() -> ChineseHolidayCalendar:
    """One shared instance per process, so the package's table is scanned once."""
    return ChineseHolidayCalendar()
