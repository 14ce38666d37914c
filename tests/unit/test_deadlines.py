"""The calendar derived from the shipped due rules matches the notice."""

from __future__ import annotations

from datetime import date

from chalicelib.domain.deadlines import campaign_deadlines, period_label, periods_for
from chalicelib.domain.registry import default_registry


def _campaign():
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    return campaign


def _dates(spec_id: str) -> list[date]:
    return [d.due_date for d in campaign_deadlines(_campaign()) if d.spec_id == spec_id]


def test_self_inspection_reports_are_due_on_the_8th_of_april_and_may() -> None:
    assert _dates("self-check") == [date(2023, 4, 8), date(2023, 5, 8)]


def test_issue_lists_and_cases_are_due_on_the_20th_from_may_to_august() -> None:
    assert _dates("rectification") == [date(2023, m, 20) for m in (5, 6, 7, 8)]


def test_progress_is_due_on_the_20th_of_every_campaign_month_from_april() -> None:
    assert _dates("progress") == [date(2023, m, 20) for m in range(4, 11)]


def test_one_off_deadlines() -> None:
    assert _dates("setup-contacts") == [date(2023, 4, 12)]  # the notice (04-07) sets none: three working days
    assert _dates("summary") == [date(2023, 9, 10)]


def test_due_instant_is_the_end_of_the_day_in_shanghai() -> None:
    first = campaign_deadlines(_campaign())[0]
    assert first.due_at.isoformat() == "2023-04-08T23:59:59+08:00"


def test_periods_of_a_deliverable_include_monthly_and_named_periods() -> None:
    assert periods_for(_campaign(), "typical-case") == ["2023-05", "2023-06", "2023-07", "2023-08", "final"]


def test_period_labels() -> None:
    assert period_label("2023-05") == "2023年5月"
    assert period_label("final") == "实地督导阶段（总结报告）"
