"""Issue 17 item 2 through the local stack: a ledger export above ``EXPORT_SYNC_MAX_ROWS`` is answered 202
with a job, the export worker (``build_export``, fed by the local pump from the export queue) builds it, the
status route links it, and the workbook downloaded by that presigned link holds the ledger's rows. A
redelivered job message writes nothing; the console shows a self-refreshing progress page, then the link.

The threshold is forced down to one row for these tests (the demo month's ledger is small)."""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import CAMPAIGN_ID, LOCAL, OFFICE_TOKEN, api_get, wait_for

AUTH = {"Authorization": f"Bearer {OFFICE_TOKEN}"}


@pytest.fixture
def small_threshold(system: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import chalicelib.config

    monkeypatch.setenv("EXPORT_SYNC_MAX_ROWS", "1")
    chalicelib.config.settings.cache_clear()
    yield
    monkeypatch.undo()
    chalicelib.config.settings.cache_clear()  # the other modules' tests run with the stage's threshold


def _whole_ledger() -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        status, page = api_get(f"/campaigns/{CAMPAIGN_ID}/issues", **({"cursor": cursor} if cursor else {}))
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _workbook_rows(body: bytes) -> list[tuple[str, str, str]]:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(body))
    rows = []
    for name in book.sheet_names:
        grid = book.get_sheet_by_name(name).to_python()
        rows += [(str(r[0]), str(r[3]), str(r[6])) for r in grid[5:] if any(str(c) for c in r)]
    return rows


def _done(status_url: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        answer = requests.get(f"{LOCAL.api_url}{status_url}", headers=AUTH, timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] in ("queued", "running", "done"), body
        return body if body["status"] == "done" else None

    return wait_for(finished, timeout=60, interval=0.2)


def test_a_big_export_is_a_job_whose_link_gives_the_ledgers_rows_and_a_redelivery_writes_nothing(
    system: Any, demo_month: list[str], small_threshold: None
) -> None:
    ledger = _whole_ledger()
    assert len(ledger) > 1  # above the forced threshold

    started = requests.get(f"{LOCAL.api_url}/campaigns/{CAMPAIGN_ID}/issues.xlsx", headers=AUTH, timeout=30)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] == "queued" and job["estimated_rows"] >= len(ledger)
    assert started.headers["Location"] == job["status_url"] == f"/campaigns/{CAMPAIGN_ID}/exports/{job['job']}"
    assert "后台生成" in job["Message"]

    done = _done(job["status_url"])
    assert "X-Amz-Signature" in done["url"] and f"/exports/{CAMPAIGN_ID}/" in urllib.parse.unquote(done["url"])
    download = requests.get(done["url"], timeout=30)
    assert download.status_code == 200 and download.content[:2] == b"PK"
    exported = _workbook_rows(download.content)
    expected = [(i["unit"]["name"], i["symptom"], i["deadline"]) for i in ledger]
    assert Counter(exported) == Counter(expected) and done["rows"] == len(ledger)

    # SQS delivers at least once: the same job's message again is handled and writes no second object.
    s3, bucket = system.client("s3"), system.outputs.bucket
    key = f"exports/{CAMPAIGN_ID}/{job['job']}.xlsx"
    assert len(s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])) == 1
    assert system.export_pump is not None
    handled = system.export_pump.delivered
    system.client("sqs").send_message(
        QueueUrl=system.outputs.export_queue_url, MessageBody=json.dumps({"campaign": CAMPAIGN_ID, "job": job["job"]})
    )
    wait_for(lambda: system.export_pump.delivered > handled, timeout=30)
    assert len(s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])) == 1
    assert _done(job["status_url"])["updated_at"] == done["updated_at"]


def test_small_exports_stay_synchronous_and_unknown_jobs_are_404(system: Any, demo_month: list[str]) -> None:
    accept = {**AUTH, "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    answer = requests.get(f"{LOCAL.api_url}/campaigns/{CAMPAIGN_ID}/issues.xlsx", headers=accept, timeout=30)
    assert answer.status_code == 200 and answer.content[:2] == b"PK"
    status, body = api_get(f"/campaigns/{CAMPAIGN_ID}/exports/no-such-job")
    assert status == 404 and "导出任务" in body["Message"]
    status, _ = api_get(f"/campaigns/{CAMPAIGN_ID}/issues.xlsx", period="2023-13")
    assert status == 400


def _signed_in() -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{LOCAL.api_url}/office/login", timeout=10)
    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert match
    answer = browser.post(
        f"{LOCAL.api_url}/office/login",
        data={"csrf": match.group(1), "token": OFFICE_TOKEN},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303
    return browser


def test_the_console_shows_a_refreshing_progress_page_then_the_download(
    system: Any, demo_month: list[str], small_threshold: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold the worker until the waiting page has been seen (otherwise a small job may finish first).
    gate = threading.Event()
    pump = system.export_pump
    real = pump._handler

    def held(event: Any, context: Any) -> Any:
        gate.wait(30)
        return real(event, context)

    monkeypatch.setattr(pump, "_handler", held)
    browser = _signed_in()
    try:
        started = browser.get(f"{LOCAL.api_url}/office/ledger.xlsx?period=2023-05", allow_redirects=False, timeout=30)
        assert started.status_code == 303
        progress_path = started.headers["Location"]
        assert re.fullmatch(r"/office/exports/[0-9a-f]{32}", progress_path), progress_path
        waiting = browser.get(f"{LOCAL.api_url}{progress_path}", timeout=10)
        assert waiting.status_code == 200
        assert '<meta http-equiv="refresh" content="2">' in waiting.text
        assert "script-src 'none'" in waiting.headers["Content-Security-Policy"]
        assert re.search(r'id="export-status" data-status="(queued|running)"', waiting.text)
        assert 'id="export-download"' not in waiting.text
    finally:
        gate.set()

    def linked() -> str | None:
        page = browser.get(f"{LOCAL.api_url}{progress_path}", timeout=10)
        found = re.search(r'id="export-download" href="([^"]+)"', page.text)
        if found:
            assert 'http-equiv="refresh"' not in page.text  # done: no more reloading
        return found.group(1) if found else None

    link = wait_for(linked, timeout=60, interval=0.3).replace("&amp;", "&")
    download = requests.get(link, timeout=30)
    assert download.status_code == 200 and download.content[:2] == b"PK"
    status, page = api_get(f"/campaigns/{CAMPAIGN_ID}/issues", period="2023-05")
    assert status == 200 and len(_workbook_rows(download.content)) == page["count"] > 0
