"""Due days on weekends and statutory holidays: keep them, or move them to the next working day."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from chalicelib.domain.deadlines import adjust_due_date, calendar_warnings, campaign_deadlines, periods_for
from chalicelib.domain.registry import CAMPAIGN_DIR, RegistryError, build_campaign, default_registry
from chalicelib.domain.workdays import ChineseHolidayCalendar, default_calendar, next_working_day

NATIONAL_DAY_2023 = [date(2023, 10, d) for d in range(1, 7)]


class WeekendsOnlyKnown:
    """A stand-in calendar that knows some years and treats them as plain Monday-to-Friday weeks."""

    def __init__(self, years: set[int]) -> None:
        self.years = years
        self.asked: list[date] = []

    def knows(self, year: int) -> bool:
        return year in self.years

    def is_workday(self, day: date) -> bool:
        self.asked.append(day)
        return day.weekday() < 5


class Untouchable:
    def knows(self, year: int) -> bool:
        raise AssertionError("the keep policy must not consult a calendar")

    def is_workday(self, day: date) -> bool:
        raise AssertionError("the keep policy must not consult a calendar")


def _campaign(policy: str = "keep"):
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    return replace(campaign, due_day_policy=policy)


def test_national_day_2023_and_its_adjusted_working_days() -> None:
    calendar = ChineseHolidayCalendar()
    assert calendar.knows(2023)
    assert not any(calendar.is_workday(d) for d in NATIONAL_DAY_2023)
    # 调休: Saturday 7 and Sunday 8 October 2023 were working days.
    assert date(2023, 10, 7).weekday() == 5 and calendar.is_workday(date(2023, 10, 7))
    assert date(2023, 10, 8).weekday() == 6 and calendar.is_workday(date(2023, 10, 8))


def test_due_on_national_day_moves_to_the_adjusted_saturday() -> None:
    assert next_working_day(date(2023, 10, 1), default_calendar()) == (date(2023, 10, 7), ())
    assert adjust_due_date(date(2023, 10, 1), "next-working-day") == (date(2023, 10, 7), ())
    assert adjust_due_date(date(2023, 10, 1), "keep") == (date(2023, 10, 1), ())


def test_an_adjusted_working_sunday_is_kept_and_a_working_day_is_kept() -> None:
    assert next_working_day(date(2023, 4, 23), default_calendar()) == (date(2023, 4, 23), ())  # 劳动节调休
    assert next_working_day(date(2023, 6, 20), default_calendar()) == (date(2023, 6, 20), ())  # a Tuesday


def test_dragon_boat_festival_2023_moves_to_the_adjusted_sunday() -> None:
    # 22-24 June off, Sunday 25 June worked.
    assert next_working_day(date(2023, 6, 22), default_calendar()) == (date(2023, 6, 25), ())


def test_unknown_year_falls_back_to_weekends_with_a_warning() -> None:
    saturday = next(date(2099, 10, d) for d in range(1, 8) if date(2099, 10, d).weekday() == 5)
    moved, warnings = next_working_day(saturday, default_calendar())
    assert moved == saturday + timedelta(days=2)
    assert len(warnings) == 1 and "2099" in warnings[0] and "仅按周末" in warnings[0]
    # A weekday of an unknown year stays, but still says the holidays were not checked.
    monday, warnings = next_working_day(saturday + timedelta(days=2), default_calendar())
    assert monday == saturday + timedelta(days=2) and warnings


def test_year_boundary_uses_the_calendar_where_it_knows_and_warns_where_not() -> None:
    calendar = WeekendsOnlyKnown({2023})
    moved, warnings = next_working_day(date(2023, 12, 30), calendar)  # Saturday
    assert moved == date(2024, 1, 1)
    assert len(warnings) == 1 and "2024" in warnings[0]


def test_the_calendar_is_replaceable() -> None:
    fake = WeekendsOnlyKnown({2023})
    campaign = _campaign("next-working-day")
    deadlines = {d.id: d for d in campaign_deadlines(campaign, fake)}
    assert fake.asked
    assert deadlines["rectification/2023-05"].due_date == date(2023, 5, 22)


def test_shipped_campaign_keeps_the_written_dates_and_never_asks_a_calendar() -> None:
    deadlines = campaign_deadlines(_campaign(), Untouchable())
    assert [d.due_date for d in deadlines if d.spec_id == "self-check"] == [date(2023, 4, 8), date(2023, 5, 8)]
    assert all(d.moved_from is None and not d.warnings for d in deadlines)


def test_next_working_day_policy_over_the_2023_campaign() -> None:
    deadlines = {d.id: d for d in campaign_deadlines(_campaign("next-working-day"))}
    moved = {i: (d.moved_from, d.due_date) for i, d in deadlines.items() if d.moved_from}
    assert moved == {
        "self-check/2023-04": (date(2023, 4, 8), date(2023, 4, 10)),  # Saturday
        "progress/2023-05": (date(2023, 5, 20), date(2023, 5, 22)),  # Saturday
        "rectification/2023-05": (date(2023, 5, 20), date(2023, 5, 22)),
        "progress/2023-08": (date(2023, 8, 20), date(2023, 8, 21)),  # Sunday
        "rectification/2023-08": (date(2023, 8, 20), date(2023, 8, 21)),
        "summary/final": (date(2023, 9, 10), date(2023, 9, 11)),  # Sunday
    }
    assert deadlines["summary/final"].due_at.isoformat() == "2023-09-11T23:59:59+08:00"
    assert calendar_warnings(list(deadlines.values())) == []
    # Periods are named by the rule's dates: the policy moves due dates, never adds or drops periods.
    assert [d.period for d in deadlines.values() if d.spec_id == "progress"] == [f"2023-{m:02d}" for m in range(4, 11)]


def test_a_deadline_on_national_day_moves_to_7_october(raw_campaign: dict) -> None:
    raw = copy.deepcopy(raw_campaign)
    raw["due_day_policy"] = "next-working-day"
    raw["deadlines"].append(
        {
            "id": "national-day-check",
            "name": "节日检查",
            "deliverables": ["progress-report"],
            "rule": {"type": "once", "date": "2023-10-01", "period": "national-day"},
        }
    )
    deadline = next(d for d in campaign_deadlines(build_campaign(raw)) if d.spec_id == "national-day-check")
    assert (deadline.moved_from, deadline.due_date) == (date(2023, 10, 1), date(2023, 10, 7))
    assert deadline.due_at.isoformat() == "2023-10-07T23:59:59+08:00"


def test_an_unknown_year_in_campaign_data_warns(raw_campaign: dict) -> None:
    raw = copy.deepcopy(raw_campaign)
    raw["due_day_policy"] = "next-working-day"
    raw["deadlines"] = [
        {
            "id": "far",
            "name": "远期",
            "deliverables": ["progress-report"],
            "rule": {"type": "once", "date": "2099-10-03", "period": "far"},
        }
    ]
    deadlines = campaign_deadlines(build_campaign(raw))
    assert deadlines[0].due_date == date(2099, 10, 5)  # Saturday 3 → Monday 5, weekends only
    assert len(calendar_warnings(deadlines)) == 1


def test_schema_refuses_an_unknown_due_day_policy(raw_campaign: dict) -> None:
    raw = copy.deepcopy(raw_campaign)
    raw["due_day_policy"] = "next-workday"
    with pytest.raises(RegistryError, match="due_day_policy"):
        build_campaign(raw)
    with pytest.raises(ValueError, match="unknown due-day policy"):
        adjust_due_date(date(2023, 10, 1), "previous-working-day")


def test_the_holiday_package_is_imported_only_when_a_policy_needs_it() -> None:
    # Cold start: intake and a keep-policy calendar must not load the holiday table.
    code = (
        "import sys\n"
        "from chalicelib.domain.registry import default_registry\n"
        "from chalicelib.domain.deadlines import campaign_deadlines, periods_for\n"
        "from chalicelib.domain import notice_policy, notice_texts; from chalicelib.cli import calendar_cli\n"
        "c = default_registry().campaign('xinzhou-2023')\n"
        "campaign_deadlines(c); periods_for(c, 'typical-case')\n"
        "assert 'chinese_calendar' not in sys.modules, 'imported eagerly'\n"
        "from dataclasses import replace\n"
        "campaign_deadlines(replace(c, due_day_policy='next-working-day'))\n"
        "assert 'chinese_calendar' in sys.modules\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)


def test_periods_do_not_depend_on_the_policy() -> None:
    campaign = _campaign("next-working-day")
    assert periods_for(campaign, "typical-case") == ["2023-05", "2023-06", "2023-07", "2023-08", "final"]


@pytest.fixture
def raw_campaign() -> dict:
    return json.loads((CAMPAIGN_DIR / "xinzhou-2023.json").read_text(encoding="utf-8"))
