"""The county page on a phone, as a link opened from WeChat: 360 × 740, mobile, touch.

No sideways scrolling, the deliverables readable without one character a line, our own Chinese label on
the file picker, a file uploaded and its verdict (green when it passed, with its row count).
Screenshots go to test-artifacts/. The browser is launched as in test_browser_upload.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import ARTIFACTS, LOCAL, OFFICE_TOKEN
from tests.e2e.browser import chromium_context
from tests.e2e.test_browser_upload import VERDICT_TIMEOUT_MS

# What WeChat's built-in browser on Android says it is (a Chromium WebView), close enough for layout.
WECHAT_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
    "Chrome/111.0.5563.116 Mobile Safari/537.36 XWEB/5235 MMWEBSDK/20230805 MicroMessenger/8.0.42.2460"
)


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_context(
        tmp_path_factory.mktemp("chromium-phone"),
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        user_agent=WECHAT_UA,
    ) as context:
        yield context


def _link_path(campaign: str) -> str:
    body = {"unit": "140922", "deliverable": "issue-list", "period": "2023-07", "valid_days": 1}
    request = urllib.request.Request(
        f"{LOCAL.api_url}/campaigns/{campaign}/upload-links",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["path"]


def _overflow(page: Any) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_the_county_page_fits_a_phone_and_uploads_from_it(
    system: Any, phone: Any, tmp_path: Path, campaign_of_its_own: Callable[[str], str]
) -> None:
    # A campaign of its own: the real campaign's July ledger is counted exactly by test_office_api, and every
    # unit's problems are followed by some integration module.
    campaign = campaign_of_its_own("xinzhou-2023-phone")
    ARTIFACTS.mkdir(exist_ok=True)
    page = phone.new_page()
    page.goto(LOCAL.api_url + _link_path(campaign))
    assert page.evaluate("window.innerWidth") == 360
    assert _overflow(page) <= 0, "the page scrolls sideways at 360 px"
    # Each due date stays on one or two lines, not one character a line.
    due = page.locator("#due td[data-label='截止时间']").first
    assert due.bounding_box()["height"] < 60
    # The picker speaks Chinese: our label, the browser's own button hidden.
    assert page.inner_text("#pick") == "选择文件" and page.inner_text("#file-name") == "尚未选择文件"
    assert not page.locator("#file").is_visible() or page.locator("#file").bounding_box()["width"] <= 1
    page.screenshot(path=str(ARTIFACTS / "county-portal-phone.png"), full_page=True)

    good = tmp_path / "五台县7月整改清单.xlsx"
    good.write_bytes(issue_list_workbook("五台县交通运输局", GOOD_ROWS))
    page.set_input_files("#file", str(good))
    assert page.inner_text("#file-name") == good.name
    page.tap("#upload-button")
    page.wait_for_selector("#outcome.ok article", timeout=VERDICT_TIMEOUT_MS)
    assert "已通过核验" in page.inner_text("#progress")
    assert f"共{len(GOOD_ROWS)}条" in page.inner_text("#outcome")
    green = page.evaluate("getComputedStyle(document.getElementById('outcome')).borderTopColor")
    assert green == "rgb(17, 97, 46)", green  # success is green, not the error red
    assert _overflow(page) <= 0, "the verdict made the page scroll sideways"
    page.screenshot(path=str(ARTIFACTS / "county-portal-phone-accepted.png"), full_page=True)
