"""The notice policy in campaign data: shipped values, defaults, and what the schema refuses."""

from __future__ import annotations

import copy
import json

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
