"""An accepted 联系人名单 changes who the unit's notices go to."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.contacts import merge_contacts
from chalicelib.domain.registry import default_registry
from tests.conftest import mails_with_notice_key, wait_for


def _campaign():
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    return campaign


def test_uploaded_contacts_replace_the_registry_role_by_role() -> None:
    campaign = _campaign()
    unit = campaign.unit("定襄县")
    assert unit is not None
    rows = [
        {
            "unit": "定襄县",
            "role": "联络员",
            "name": "赵六",
            "title": "办公室主任",
            "mobile": "13935010009",
            "email": "",
        }
    ]
    merged = merge_contacts(campaign, unit, rows)
    [liaison] = merged.liaisons
    assert (liaison.name, liaison.mobile) == ("赵六", "13935010009")
    assert liaison.email == "liaison.140921@example.cn"  # no email in the row: the registry's stays
    assert merged.leaders == unit.leaders  # a role the upload does not name is kept


def test_rows_of_another_unit_are_ignored() -> None:
    campaign = _campaign()
    unit = campaign.unit("定襄县")
    assert unit is not None
    rows = [{"unit": "原平市", "role": "联络员", "name": "别人", "title": "", "mobile": "", "email": "x@example.cn"}]
    assert merge_contacts(campaign, unit, rows) == unit


def test_a_contacts_upload_with_emails_redirects_the_next_receipts(system: Any) -> None:
    csv = (
        "单位,联系人,姓名,职务,手机号,电子邮箱,备注\n"
        "五寨县,分管领导,钱七,副局长,13935010011,,\n"
        "五寨县,联络员,孙八,法规股股长,13935010012,sunba@wuzhai.example.cn,\n"
    ).encode("gb18030")
    s3 = system.client("s3")
    key = "uploads/xinzhou-2023/140928/contacts/setup/五寨县联系人名单.csv"
    version = s3.put_object(Bucket=system.outputs.bucket, Key=key, Body=csv)["VersionId"]
    [receipt] = wait_for(lambda: mails_with_notice_key(f"receipt|140928#{version}"))
    assert "已通过核验" in receipt["Subject"], receipt.get_body(preferencelist=("plain",)).get_content()
    # The contacts it just delivered already address its own receipt.
    assert receipt["To"] == "sunba@wuzhai.example.cn"
