"""The campaign registry: shipped data is valid, and the schema rejects what it must."""

from __future__ import annotations

import copy
import json

import pytest

from chalicelib.domain.registry import CAMPAIGN_DIR, RegistryError, build_campaign, default_registry

ATTACHMENT_4_ORDER = [
    ("原平市", "140981"),
    ("宁武县", "140925"),
    ("保德县", "140931"),
    ("定襄县", "140921"),
    ("繁峙县", "140924"),
    ("神池县", "140927"),
    ("代县", "140923"),
    ("静乐县", "140926"),
    ("岢岚县", "140929"),
    ("五寨县", "140928"),
    ("偏关县", "140932"),
    ("河曲县", "140930"),
    ("五台县", "140922"),
    ("五台山风景区", "140971"),
]


@pytest.fixture
def raw() -> dict:
    return json.loads((CAMPAIGN_DIR / "xinzhou-2023.json").read_text(encoding="utf-8"))


def test_shipped_campaign_has_the_fourteen_units_of_attachment_4_in_order() -> None:
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    assert [(u.name, u.code) for u in campaign.units] == ATTACHMENT_4_ORDER
    for unit in campaign.units:
        assert {c.role for c in unit.contacts} == {"分管领导", "联络员"}
        assert all(c.email.endswith("@example.cn") and c.mobile is None for c in unit.contacts)


def test_shipped_campaign_has_the_deliverables_named_in_the_brief() -> None:
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    assert set(campaign.deliverables) >= {
        "contacts",
        "self-check-report",
        "issue-list",
        "legacy-issue-list",
        "typical-case",
        "progress-report",
        "summary-report",
    }


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("140981", "140981"),
        ("原平市", "140981"),
        ("原平", "140981"),
        (" 原平市 ", "140981"),
        ("五台山", "140971"),
        ("五台山旅发局", "140971"),
        ("五台山风景名胜区", "140971"),
        ("五台", "140922"),
        ("代县", "140923"),
        ("１４０９８１", "140981"),
    ],
)
def test_units_resolve_by_code_name_or_alias(typed: str, code: str) -> None:
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    unit = campaign.unit(typed)
    assert unit is not None and unit.code == code


@pytest.mark.parametrize("typed", ["忻府区", "五", "", "140900", "原平市市"])
def test_unknown_units_do_not_resolve(typed: str) -> None:
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    assert campaign.unit(typed) is None


@pytest.mark.parametrize(
    "mobile",
    ["138１２３４５６７８", "13812345678\n", "1381234567", "12812345678", "+8613812345678"],
)
def test_schema_rejects_mobiles_that_are_not_plain_mainland_numbers(raw: dict, mobile: str) -> None:
    raw["units"][0]["contacts"][0]["mobile"] = mobile
    with pytest.raises(RegistryError, match="mobile"):
        build_campaign(raw)


def test_schema_accepts_a_plain_mobile(raw: dict) -> None:
    raw["units"][0]["contacts"][0]["mobile"] = "13812345678"
    assert build_campaign(raw).units[0].contacts[0].mobile == "13812345678"


def test_a_name_that_points_at_two_units_is_refused(raw: dict) -> None:
    raw["units"][1]["aliases"] = ["原平"]
    with pytest.raises(RegistryError, match="names both"):
        build_campaign(raw)


def test_a_deadline_naming_an_unknown_deliverable_is_refused(raw: dict) -> None:
    broken = copy.deepcopy(raw)
    broken["deadlines"][0]["deliverables"] = ["contact-list"]
    with pytest.raises(RegistryError, match="unknown deliverables"):
        build_campaign(broken)


def test_a_unit_without_contacts_is_refused(raw: dict) -> None:
    raw["units"][0]["contacts"] = []
    with pytest.raises(RegistryError):
        build_campaign(raw)


@pytest.mark.parametrize("bad_id", ["xinzhou-2023\n", "Xinzhou", "xinzhou--2023"])
def test_schema_rejects_ids_that_only_look_like_slugs(raw: dict, bad_id: str) -> None:
    raw["deliverables"][0]["id"] = bad_id
    with pytest.raises(RegistryError):
        build_campaign(raw)
