"""The city office's afternoon in a real (headless) Chromium: sign in, read the board for 2023-05-21 after
the demo's uploads, open a unit, download an original, issue a link; a wrong token and a form without its
CSRF token are refused. Screenshots of each page go to test-artifacts/ (CJK fonts come with `make browser`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, LOCAL, OFFICE_TOKEN
from tests.e2e.browser import chromium_context

BOARD_DAY = "2023-05-21"


@pytest.fixture(scope="module")
def office_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_context(
        tmp_path_factory.mktemp("chromium-office-profile"),
        viewport={"width": 1400, "height": 1000},
        accept_downloads=True,
    ) as context:
        yield context


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True, caret="initial")


def test_the_office_signs_in_reads_the_board_and_issues_a_link(
    demo_month: list[str], office_browser: Any, tmp_path: Path
) -> None:
    from chalicelib.domain.registry import default_registry

    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    problems: list[str] = []
    page = office_browser.new_page()
    # The refused sign-in (401) and form (403) are expected; anything else (a CSP violation, a script error) is not.
    expected = ("status of 401", "status of 403")
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error"
            and not msg.text.endswith(expected[0] + " (Unauthorized)")
            and not msg.text.endswith(expected[1] + " (Forbidden)")
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    # Not signed in: the board sends the browser to the sign-in form.
    page.goto(f"{LOCAL.api_url}/office?as_of={BOARD_DAY}")
    assert page.url.endswith("/office/login")
    _shot(page, "console-login.png")

    # A wrong token is refused.
    page.fill("#token", "not-the-office-token")
    page.click("button[type=submit]")
    assert "令牌不正确" in page.inner_text("#flash")
    _shot(page, "console-login-refused.png")

    page.fill("#token", OFFICE_TOKEN)
    page.click("button[type=submit]")
    page.goto(f"{LOCAL.api_url}/office?as_of={BOARD_DAY}")
    board = page.inner_text("#board")
    for unit in campaign.units:
        assert unit.name in board
    cells = page.locator('#board td[data-deadline="rectification/2023-05"]')
    labels = {cells.nth(i).inner_text() for i in range(cells.count())}
    assert {"按时", "逾期", "未报", "未通过", "不完整"} <= labels, labels
    _shot(page, "console-board.png")

    # Open a unit from its cell: 宁武县 (late, with a rejected first version).
    page.click('#board tr[data-unit="140925"] td[data-deadline="rectification/2023-05"] a')
    text = page.inner_text("main")
    assert "宁武县5月清单.xlsx" in text and "待定" in text and "逾期" in text
    _shot(page, "console-unit.png")
    with page.expect_download() as download_info:
        page.click('a.download:text-is("宁武县5月清单（修改后）.xlsx")')
    download = download_info.value
    saved = tmp_path / "original.xlsx"
    download.save_as(saved)
    assert download.suggested_filename == "宁武县5月清单（修改后）.xlsx"
    assert saved.read_bytes()[:2] == b"PK"

    page.goto(f"{LOCAL.api_url}/office/refused")
    assert "忻府区5月清单.xlsx" in page.inner_text("#refused")
    _shot(page, "console-refused.png")
    page.goto(f"{LOCAL.api_url}/office/ledger?period=2023-05")
    assert "原平市" in page.inner_text("#ledger")
    _shot(page, "console-ledger.png")
    page.goto(f"{LOCAL.api_url}/office/charts?as_of={BOARD_DAY}")
    assert page.locator("svg").count() == 4  # on-time rate, by aspect, by unit, open vs closed over the months
    _shot(page, "console-charts.png")

    # Issue a link: the page shows it and its QR code.
    page.goto(f"{LOCAL.api_url}/office/links")
    page.select_option("select[name=unit]", "140981")
    page.select_option("select[name=deliverable]", "issue-list")
    page.fill("input[name=period]", "2023-06")
    page.click("form[action='/office/links'] button[type=submit]")
    url = page.inner_text("#link-url")
    assert url.startswith(f"{LOCAL.api_url}/u/") and page.locator("#issued svg").count() == 1
    _shot(page, "console-link-issued.png")

    # The same form without its CSRF token changes nothing.
    page.goto(f"{LOCAL.api_url}/office/links")
    page.evaluate("document.querySelector(\"form[action='/office/links'] input[name=csrf]\").remove()")
    page.click("form[action='/office/links'] button[type=submit]")
    assert "缺少校验码" in page.inner_text("main") and page.locator("#link-url").count() == 0
    _shot(page, "console-csrf-refused.png")

    # No page ran a script or broke its Content-Security-Policy.
    assert problems == [], problems
