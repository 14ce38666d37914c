"""The notice policy in campaign data: shipped values, defaults, and what the schema refuses."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta

import pytest

from chalicelib.domain.registry import CAMPAIGN_DIR, NoticePolicy, RegistryError, build_campaign, default_registry


@pytest.fixture
def raw() -> dict:
    return json.loads((CAMPAIGN_DIR / "xinzhou-2023.json").read_text(encoding="utf-8"))


def test_shipped_campaign_policy() -> None:
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    assert campaign.due_day_policy == "keep"
    assert campaign.notice_policy == NoticePolicy((3, 1, 0), 3, 7, True)


def test_defaults_when_absent(raw: dict) -> None:
    raw = copy.deepcopy(raw)
    del raw["notice_policy"], raw["due_day_policy"]
    campaign = build_campaign(raw)
    assert campaign.notice_policy == NoticePolicy() == NoticePolicy((3, 1, 0), 3, 7, True)
    assert campaign.due_day_policy == "keep"


def test_partial_policy_keeps_the_other_defaults(raw: dict) -> None:
    raw = copy.deepcopy(raw)
    raw["notice_policy"] = {"reminder_days_before": [0, 7, 2], "escalate_after_days": None}
    policy = build_campaign(raw).notice_policy
    assert policy == NoticePolicy(reminder_days_before=(7, 2, 0), overdue_every_days=3, escalate_after_days=None)


@pytest.mark.parametrize(
    "bad",
    [
        {"overdue_every_days": 0},
        {"reminder_days_before": [-1]},
        {"reminder_days_before": [3, 3]},
        {"escalate_after_days": 0},
        {"digest": "yes"},
        {"remind": [3]},
    ],
)
def test_schema_refuses_bad_policies(raw: dict, bad: dict) -> None:
    raw = copy.deepcopy(raw)
    raw["notice_policy"] = bad
    with pytest.raises(RegistryError, match="notice_policy"):
        build_campaign(raw)


# --- the notice read exactly (忻交发〔2023〕56号, issued 2023-04-07) ---------------------------------


def _notices_of(spec_period: str, first: date, last: date) -> list[tuple[str, date]]:
    """(kind, day) of every notice a unit that never delivers gets for one deadline of the real campaign."""
    from chalicelib.domain.deadlines import campaign_deadlines
    from chalicelib.domain.notice_policy import decide_notices
    from chalicelib.domain.registry import default_registry

    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    [deadline] = [d for d in campaign_deadlines(campaign) if d.id == spec_period]
    found = []
    day = first
    while day <= last:
        for decision in decide_notices(campaign, [deadline], {}, day):
            if decision.unit_code == "140981":
                found.append((decision.kind, day))
        day += timedelta(days=1)
    return found


def test_nothing_is_sent_before_the_notice_was_issued() -> None:
    notices = _notices_of("self-check/2023-04", date(2023, 3, 15), date(2023, 4, 30))
    assert notices and min(day for _, day in notices) >= date(2023, 4, 7)


def test_the_contacts_list_is_due_a_few_working_days_after_issue() -> None:
    notices = _notices_of("setup-contacts/setup", date(2023, 3, 15), date(2023, 4, 30))
    reminders = [day for kind, day in notices if kind == "reminder"]
    assert reminders[-1] == date(2023, 4, 12) and reminders[0] >= date(2023, 4, 7)


def test_the_april_self_check_report_is_soft_and_the_may_one_escalates() -> None:
    april = _notices_of("self-check/2023-04", date(2023, 4, 1), date(2023, 5, 31))
    assert {kind for kind, _ in april} == {"reminder"}  # received if sent, never chased
    may = _notices_of("self-check/2023-05", date(2023, 5, 1), date(2023, 6, 30))
    assert ("escalation", date(2023, 5, 15)) in may  # 7 days late, past the stage's end (05-10)


def test_the_september_package_holds_the_final_2023_list_and_the_office_contact_is_the_notices() -> None:
    from chalicelib.domain.registry import default_registry

    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    [summary] = [spec for spec in campaign.deadline_specs if spec.id == "summary"]
    assert dict(summary.package) == {
        "summary-report": 1,
        "issue-list": 1,
        "legacy-issue-list": 1,
        "typical-case": 3,
        "accountability-statement": 1,
    }
    liaison = campaign.office.liaison
    assert liaison is not None and (liaison.name, liaison.mobile, liaison.email) == (
        "张海峰",
        "13935011611",
        "xzjtzfd@163.com",
    )
