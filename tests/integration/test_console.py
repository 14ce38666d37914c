"""The office console over HTTP against the local stack: sign-in, session cookie, CSRF, the board on
the demo's own dates, escaping, the link form; the monthly report and the circular recomputed from the API."""

from __future__ import annotations

import io
import re
import urllib.parse
from typing import Any

import pytest
import requests

from tests.conftest import LOCAL, OFFICE_TOKEN, api_get

CAMPAIGN = "xinzhou-2023"
BOARD_DAY = "2023-05-21"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form carries no CSRF token"
    return match.group(1)


def _signed_in() -> requests.Session:
    browser = requests.Session()
    form = browser.get(f"{LOCAL.api_url}/office/login", timeout=10)
    answer = browser.post(
        f"{LOCAL.api_url}/office/login",
        data={"csrf": _csrf(form.text), "token": OFFICE_TOKEN},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/office"
    return browser


@pytest.fixture(scope="module")
def office(demo_month: list[str]) -> requests.Session:
    return _signed_in()


def test_pages_need_a_session_and_the_bearer_api_is_unchanged(system: Any) -> None:
    answer = requests.get(f"{LOCAL.api_url}/office", allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"] == "/office/login"
    assert api_get(f"/campaigns/{CAMPAIGN}/status", token="wrong")[0] == 401
    assert api_get(f"/campaigns/{CAMPAIGN}/status", as_of=BOARD_DAY)[0] == 200


def test_sign_in_refuses_a_wrong_token_and_a_missing_csrf_token(system: Any) -> None:
    browser = requests.Session()
    form = browser.get(f"{LOCAL.api_url}/office/login", timeout=10)
    assert "default-src 'none'" in form.headers["Content-Security-Policy"]
    wrong = browser.post(
        f"{LOCAL.api_url}/office/login", data={"csrf": _csrf(form.text), "token": "guess"}, allow_redirects=False
    )
    assert wrong.status_code == 401 and "令牌不正确" in wrong.text and "Set-Cookie" not in wrong.headers
    no_csrf = browser.post(f"{LOCAL.api_url}/office/login", data={"token": OFFICE_TOKEN}, allow_redirects=False)
    assert no_csrf.status_code == 403  # and a fresh form (new anonymous session, new token) comes back
    ok = browser.post(
        f"{LOCAL.api_url}/office/login",
        data={"csrf": _csrf(no_csrf.text), "token": OFFICE_TOKEN},
        allow_redirects=False,
    )
    cookie = ok.headers["Set-Cookie"]
    assert ok.status_code == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # the local stage is plain http on loopback; Secure elsewhere (unit test)
    # A forged or expired cookie is no session.
    forged = requests.get(
        f"{LOCAL.api_url}/office", cookies={"office_session": "eyJzaWQiOiJ4In0.AAAA"}, allow_redirects=False
    )
    assert forged.status_code == 303


def test_the_board_on_the_campaigns_own_dates(office: requests.Session) -> None:
    from chalicelib.domain.registry import default_registry

    page = office.get(f"{LOCAL.api_url}/office", params={"as_of": BOARD_DAY}, timeout=20)
    assert page.status_code == 200
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]
    campaign = default_registry().campaign(CAMPAIGN)
    assert campaign is not None
    for unit in campaign.units:
        assert f'data-unit="{unit.code}"' in page.text and unit.name in page.text
    _, board = api_get(f"/campaigns/{CAMPAIGN}/status", as_of=BOARD_DAY)
    may = next(d for d in board["deadlines"] if d["id"] == "rectification/2023-05")
    outcome = {u["unit"]["name"]: u["outcome"] for u in may["units"]}
    # The demo's May, each upload at its own 2023 moment: on time, late, rejected, incomplete, missing.
    assert outcome["原平市"] == "on-time" and outcome["宁武县"] == "late"
    assert outcome["保德县"] == "rejected" and outcome["代县"] == "incomplete" and outcome["五寨县"] == "missing"
    row = re.search(r'<tr data-unit="140925">(.*?)</tr>', page.text, re.S)
    assert row and 'data-deadline="rectification/2023-05"' in row.group(1) and "逾期" in row.group(1)


def test_a_units_page_shows_versions_errors_and_downloads_the_original(office: requests.Session) -> None:
    page = office.get(f"{LOCAL.api_url}/office/unit", params={"unit": "140925", "as_of": BOARD_DAY}, timeout=20)
    assert page.status_code == 200
    assert "宁武县5月清单.xlsx" in page.text and "宁武县5月清单（修改后）.xlsx" in page.text
    assert "待定" in page.text and "DEADLINE_INVALID" in page.text
    link = re.search(r'class="download" href="([^"]+)">宁武县5月清单.xlsx<', page.text)
    assert link
    href = link.group(1).replace("&amp;", "&")
    redirect = office.get(LOCAL.api_url + href, allow_redirects=False, timeout=10)
    assert redirect.status_code == 303 and "X-Amz-Expires=60" in redirect.headers["Location"]
    original = requests.get(redirect.headers["Location"], timeout=10)
    assert original.status_code == 200 and original.content[:2] == b"PK"
    # A key outside the campaign's uploads is refused.
    assert (
        office.get(f"{LOCAL.api_url}/office/download", params={"key": "other/x"}, allow_redirects=False).status_code
        == 400
    )


def test_refused_uploads_are_listed_escaped(office: requests.Session, system: Any) -> None:
    hostile = f"uploads/{CAMPAIGN}/140900/issue-list/2023-05/<img src=x onerror=alert(1)>.xlsx"
    system.client("s3").put_object(Bucket=system.outputs.bucket, Key=hostile, Body=b"x")
    from tests.conftest import wait_for

    page = wait_for(
        lambda: (p := office.get(f"{LOCAL.api_url}/office/refused", timeout=10)) and "onerror" in p.text and p,
        timeout=30,
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text and "<img src=x" not in page.text
    assert "忻府区5月清单.xlsx" in page.text


def test_issuing_a_link_needs_the_csrf_token(office: requests.Session) -> None:
    form = office.get(f"{LOCAL.api_url}/office/links", timeout=10)
    fields = {"unit": "140981", "deliverable": "issue-list", "period": "2023-06", "valid_days": "7"}
    refused = office.post(f"{LOCAL.api_url}/office/links", data=fields, allow_redirects=False)
    assert refused.status_code == 403 and "/u/" not in refused.text
    # Another session's token does not fit this session.
    stranger = _csrf(requests.get(f"{LOCAL.api_url}/office/login", timeout=10).text)
    assert office.post(f"{LOCAL.api_url}/office/links", data=fields | {"csrf": stranger}).status_code == 403
    issued = office.post(f"{LOCAL.api_url}/office/links", data=fields | {"csrf": _csrf(form.text)}, timeout=10)
    assert issued.status_code == 201 and "<svg" in issued.text
    url = re.search(r'id="link-url">([^<]+)<', issued.text)
    assert url and urllib.parse.urlsplit(url.group(1)).path.startswith("/u/")
    assert requests.get(url.group(1).replace("&amp;", "&"), timeout=10).status_code == 200


def test_ledger_and_charts_pages(office: requests.Session) -> None:
    ledger = office.get(f"{LOCAL.api_url}/office/ledger", params={"period": "2023-05", "unit": "140981"}, timeout=20)
    _, api = api_get(f"/campaigns/{CAMPAIGN}/issues", period="2023-05", unit="140981")
    assert ledger.status_code == 200 and f"共 {api['count']} 条" in ledger.text
    charts = office.get(f"{LOCAL.api_url}/office/charts", params={"as_of": BOARD_DAY}, timeout=20)
    assert charts.status_code == 200 and charts.text.count("<svg") == 4
    # Issue 15: open vs closed over the months, one point per month of the 2023 list.
    assert "问题整改情况" in charts.text and "<polyline" in charts.text


def test_the_problem_ledger_closes_a_problem_through_a_csrf_form(office: requests.Session) -> None:
    _, listed = api_get(f"/campaigns/{CAMPAIGN}/problems", status="open", limit="1")
    [problem] = listed["items"]
    unit = problem["unit"]
    page = office.get(f"{LOCAL.api_url}/office/ledger", params={"unit": unit}, timeout=20)
    assert page.status_code == 200 and 'id="problems"' in page.text
    _, mine = api_get(f"/campaigns/{CAMPAIGN}/problems", unit=unit, limit="50")
    assert all(item["id"] in page.text for item in mine["items"])
    assert 'action="/office/problems/close"' in page.text
    form = {"id": problem["id"], "note": "现场核查，已整改到位", "force": "true"}
    refused = office.post(f"{LOCAL.api_url}/office/problems/close", data=form, timeout=20)
    assert refused.status_code == 403
    assert api_get(f"/campaigns/{CAMPAIGN}/problems/{problem['id']}")[1]["status"] == "open"
    done = office.post(f"{LOCAL.api_url}/office/problems/close", data={**form, "csrf": _csrf(page.text)}, timeout=20)
    assert done.status_code == 200 and f"问题{problem['id']}已销号" in done.text
    _, after = api_get(f"/campaigns/{CAMPAIGN}/problems/{problem['id']}")
    last = after["history"][-1]
    assert after["status"] == "closed" and last["forced"] and "现场核查" in last["note"] and last["who"]
    again = office.post(f"{LOCAL.api_url}/office/problems/close", data={**form, "csrf": _csrf(page.text)}, timeout=20)
    assert again.status_code == 409 and "无需重复销号" in again.text


def test_the_ledger_download_follows_a_link_whatever_the_browser_accepts(office: requests.Session) -> None:
    """A browser's Accept starts with text/html; API Gateway would hand it base64 text, so the console
    answers 303 to a presigned GET of the workbook under exports/ (issue 17)."""
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    answer = office.get(
        f"{LOCAL.api_url}/office/ledger.xlsx", params={"period": "2023-05"}, headers={"Accept": accept}, timeout=20
    )
    assert answer.history and answer.history[0].status_code == 303
    assert "/exports/" in answer.url and answer.status_code == 200 and answer.content[:2] == b"PK"


def _docx_text(body: bytes) -> str:
    from docx import Document

    document = Document(io.BytesIO(body))
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def _get_bytes(path: str, **params: str) -> requests.Response:
    return requests.get(
        LOCAL.api_url + path, params=params, headers={"Authorization": f"Bearer {OFFICE_TOKEN}"}, timeout=30
    )


def test_the_monthly_report_recomputed_from_the_api(demo_month: list[str]) -> None:
    answer = _get_bytes(f"/campaigns/{CAMPAIGN}/reports/monthly", period="2023-05")
    assert answer.status_code == 200
    text = _docx_text(answer.content)
    for heading in ("本月总体情况", "问题整改情况", "典型案例", "下一步工作"):
        assert heading in text
    # Figure 1: units on time for the May lists, as the status board says at the month's end.
    _, board = api_get(f"/campaigns/{CAMPAIGN}/status", as_of="2023-05-31")
    may = next(d for d in board["deadlines"] if d["id"] == "rectification/2023-05")
    assert f"按时报送{may['counts'].get('on-time', 0)}个，逾期报送{may['counts'].get('late', 0)}个" in text
    # Figure 2: the month's new problems, as the ledger lists them.
    _, ledger = api_get(f"/campaigns/{CAMPAIGN}/issues", period="2023-05")
    assert f"本月各单位新报送问题{ledger['count']}个" in text
    listing = _get_bytes(f"/campaigns/{CAMPAIGN}/reports/monthly.xlsx", period="2023-05")
    assert listing.status_code == 200 and listing.content[:2] == b"PK"
    assert _get_bytes(f"/campaigns/{CAMPAIGN}/reports/monthly", period="2023-13").status_code == 400


def test_the_circular_lists_late_and_missing_units_with_days_overdue(demo_month: list[str]) -> None:
    answer = _get_bytes(f"/campaigns/{CAMPAIGN}/reports/circular", as_of="2023-05-25")
    assert answer.status_code == 200
    text = _docx_text(answer.content)
    assert "草稿" in text and "专项整治事项清单和典型案例" in text
    _, board = api_get(f"/campaigns/{CAMPAIGN}/status", as_of="2023-05-25")
    may = next(d for d in board["deadlines"] if d["id"] == "rectification/2023-05")
    listed = [u["unit"]["name"] for u in may["units"] if u["outcome"] != "on-time"]
    assert all(name in text for name in listed)
    assert re.search(r"五寨县\n未报送\n5\n", text)  # due 05-20, as of 05-25: 5 days
    assert re.search(r"宁武县\n逾期报送\n1\n", text)  # delivered 05-21
