"""Nobody left in silence: a refused key reaches its unit, the office lists refusals, receipts link back.

Through the doors users use: objects put into the bucket, the office API, emails in the SMTP sink.
"""

from __future__ import annotations

import re
import urllib.request
from dataclasses import replace
from typing import Any

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import LOCAL, api_get, mails_with_notice_key, wait_for

CAMPAIGN = "xinzhou-2023"


def _put(system: Any, key: str, body: bytes) -> str:
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]


def test_a_refused_key_naming_a_known_unit_tells_that_unit_and_the_office_can_list_it(system: Any) -> None:
    wrong_period = f"uploads/{CAMPAIGN}/140981/issue-list/2023-13/原平市清单.xlsx"
    unknown_unit = f"uploads/{CAMPAIGN}/140999/issue-list/2023-05/x.xlsx"
    body = issue_list_workbook("原平市交通运输局", GOOD_ROWS)
    told = _put(system, wrong_period, body)
    nobody = _put(system, unknown_unit, body)

    [mail] = wait_for(lambda: mails_with_notice_key(f"N#refused|140981#{told}"), timeout=30)
    text = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "liaison.140981@example.cn"
    assert "原平市清单.xlsx" in mail["Subject"] and "未能登记" in mail["Subject"]
    assert text.startswith("原平市交通运输局：")
    assert "“2023-13”" in text  # what was wrong, in the refusal's own words
    assert f"uploads/{CAMPAIGN}/140981/issue-list/2023-05/原平市清单.xlsx" in text  # what the right key looks like

    def listed() -> dict[str, Any] | None:
        status, page = api_get(f"/campaigns/{CAMPAIGN}/refused", limit="100")
        assert status == 200
        found = {i["version_id"]: i for i in page["items"]}
        return found if told in found and nobody in found else None

    found = wait_for(listed, timeout=30)
    assert found[told]["unit"] == {"code": "140981", "name": "原平市"}
    assert found[told]["code"] == "UNKNOWN_PERIOD" and "2023-13" in found[told]["reason"]
    assert found[nobody]["unit"] is None and found[nobody]["code"] == "UNKNOWN_UNIT"
    assert mails_with_notice_key(f"#{nobody}") == []  # no unit to tell

    # Paging: one at a time, newest first, every item once.
    seen, cursor = [], None
    for _ in range(50):
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        status, page = api_get(f"/campaigns/{CAMPAIGN}/refused", **params)
        assert status == 200 and len(page["items"]) <= 1
        seen += [i["version_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert {told, nobody} <= set(seen) and len(seen) == len(set(seen))


def test_submissions_carry_their_row_count(system: Any) -> None:
    key = f"uploads/{CAMPAIGN}/140928/issue-list/2023-05/五寨县清单.xlsx"
    version = _put(system, key, issue_list_workbook("五寨县交通运输局", GOOD_ROWS))

    def item() -> dict[str, Any] | None:
        _status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="140928")
        return next((i for i in page["items"] if i["version_id"] == version), None)

    assert wait_for(item)["rows"] == len(GOOD_ROWS)


def test_a_rejection_receipt_links_to_the_units_own_upload_page(system: Any) -> None:
    first = GOOD_ROWS[0]
    key = f"uploads/{CAMPAIGN}/140932/issue-list/2023-06/偏关县清单.xlsx"
    version = _put(system, key, issue_list_workbook("偏关县交通运输局", [replace(first, deadline="待定")]))
    [mail] = wait_for(lambda: mails_with_notice_key(f"N#receipt|140932#{version}"), timeout=30)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    found = re.search(re.escape(LOCAL.api_url) + r"/u/[A-Za-z0-9_.=-]+", text)
    assert found, text
    link = found.group(0)
    assert f'<a href="{link}">' in html and ">点击打开本单位上传页面</a>" in html
    assert link not in html.replace(f'href="{link}"', "")  # the URL is the target, not the link text
    with urllib.request.urlopen(link, timeout=10) as page:
        assert "偏关县" in page.read().decode()
    assert text.startswith("偏关县交通运输局：") and "忻交发〔2023〕56号" in text
    assert "2023年" in text and "-" not in text.split("收到时间：", 1)[1].split("\n", 1)[0]
