"""A county clerk's afternoon in a real (headless) Chromium: open the link, pick a workbook, see it accepted;
pick a flawed one, see the errors by row and column. Screenshots go to test-artifacts/.

Uses the Debian ``chromium`` (``make test`` installs it); Playwright's own browser downloads are never used.
五台县 (140922), issue list 2023-08, as in test_county_portal (this module only adds submissions).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import ARTIFACTS, LOCAL, OFFICE_TOKEN
from tests.e2e.browser import chromium_context

VERDICT_TIMEOUT_MS = 30_000


def _link_path() -> str:
    body = {"unit": "140922", "deliverable": "issue-list", "period": "2023-08", "valid_days": 1}
    request = urllib.request.Request(
        f"{LOCAL.api_url}/campaigns/xinzhou-2023/upload-links",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["path"]


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium_context(
        tmp_path_factory.mktemp("chromium-profile"), viewport={"width": 1100, "height": 1400}
    ) as context:
        yield context


def _upload(page: Any, path: Path, screenshot: str) -> str:
    page.set_input_files("#file", str(path))
    page.click("#upload-button")
    page.wait_for_selector("#progress.ok, #progress.error", timeout=VERDICT_TIMEOUT_MS)
    page.wait_for_selector("#outcome article", timeout=VERDICT_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True, caret="initial")
    return page.inner_text("#progress")


def test_a_county_uploads_through_its_link_and_sees_the_verdict(
    system: Any, browser_context: Any, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    page = browser_context.new_page()
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(LOCAL.api_url + _link_path())
    assert "五台县" in page.inner_text("#unit")
    page.screenshot(path=str(ARTIFACTS / "county-portal-opened.png"), full_page=True, caret="initial")

    good = tmp_path / "五台县8月整改清单.xlsx"
    good.write_bytes(issue_list_workbook("五台县交通运输局", GOOD_ROWS))
    verdict = _upload(page, good, "county-portal-accepted.png")
    assert "已通过核验" in verdict
    outcome = page.inner_text("#outcome")
    assert "五台县8月整改清单.xlsx" in outcome and "已通过核验" in outcome

    flawed_rows = [replace(GOOD_ROWS[0], deadline="待定"), *GOOD_ROWS[1:]]
    bad = tmp_path / "五台县8月整改清单（修改稿）.xlsx"
    bad.write_bytes(issue_list_workbook("五台县交通运输局", flawed_rows))
    verdict = _upload(page, bad, "county-portal-rejected.png")
    assert "未通过核验" in verdict
    errors = page.inner_text("#outcome table.errors")
    assert "第6行" in errors and "完成时限" in errors and "待定" in errors

    # Both uploads are on record; the accepted one stays the version that counts.
    history = page.inner_text("#history")
    assert "五台县8月整改清单.xlsx" in history and "五台县8月整改清单（修改稿）.xlsx" in history
    assert "现行有效版本" in history
    # The page's own script ran under its Content-Security-Policy without a single complaint.
    assert problems == [], problems
