"""Where a deadline stands on a given day, computed in Asia/Shanghai, and how long late units are chased."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.domain.deadlines import campaign_deadlines, campaign_end, deadline_status
from chalicelib.domain.registry import default_registry


def _deadlines():
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    return campaign, {d.id: d for d in campaign_deadlines(campaign)}


@pytest.mark.parametrize(
    ("as_of", "status"),
    [
        (date(2023, 5, 1), "open"),
        (date(2023, 5, 16), "open"),
        (date(2023, 5, 17), "due-soon"),  # three days before: the first reminder
        (date(2023, 5, 19), "due-soon"),
        (date(2023, 5, 20), "due-today"),
        (date(2023, 5, 21), "past"),
        (date(2023, 10, 31), "past"),
    ],
)
def test_status_as_of_a_local_date(as_of: date, status: str) -> None:
    _, deadlines = _deadlines()
    assert deadline_status(deadlines["rectification/2023-05"], as_of, window_days=3) == status


def test_an_instant_is_read_in_shanghai() -> None:
    _, deadlines = _deadlines()
    deadline = deadlines["rectification/2023-05"]
    # 15:59:59 UTC is 23:59:59 in Shanghai, the last second of the due date; a second later is the 21st.
    assert deadline.status(datetime(2023, 5, 20, 15, 59, 59, tzinfo=UTC), 3) == "due-today"
    assert deadline.status(datetime(2023, 5, 20, 16, 0, 0, tzinfo=UTC), 3) == "past"
    # 17:00 UTC on the 16th is already the 17th in Shanghai.
    assert deadline.status(datetime(2023, 5, 16, 17, 0, tzinfo=UTC), 3) == "due-soon"
    with pytest.raises(ValueError, match="aware"):
        deadline.status(datetime(2023, 5, 20, 12, 0), 3)  # naive: refused


def test_window_of_zero_days_has_no_due_soon() -> None:
    _, deadlines = _deadlines()
    assert deadlines["progress/2023-06"].status(date(2023, 6, 19), 0) == "open"


def test_before_the_8th_means_by_the_end_of_the_8th_in_shanghai() -> None:
    _, deadlines = _deadlines()
    assert deadlines["self-check/2023-04"].due_at.isoformat() == "2023-04-08T23:59:59+08:00"


def test_chase_ends_with_the_stage_or_for_one_off_deadlines_the_campaign() -> None:
    campaign, deadlines = _deadlines()
    assert campaign_end(campaign) == date(2023, 10, 31)
    assert deadlines["self-check/2023-05"].chase_until == date(2023, 5, 31)  # past 自查自纠's end: escalates
    assert deadlines["self-check/2023-04"].chase_until == date(2023, 4, 8)  # soft: never chased as overdue
    assert deadlines["rectification/2023-08"].chase_until == date(2023, 8, 31)  # 深入整改 ends
    assert deadlines["progress/2023-04"].chase_until == date(2023, 10, 31)  # runs the whole campaign
    assert deadlines["setup-contacts/setup"].chase_until == date(2023, 10, 31)
    assert deadlines["summary/final"].chase_until == date(2023, 10, 31)
