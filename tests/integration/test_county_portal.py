"""The counties' door over HTTP, against the local stack: the office makes a link, the county opens it,
asks for a presigned POST; forged and expired links get a clear Chinese page; a county link opens no
office route. 五台县 (140922), issue list 2023-08: no other test module uses it."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.deadlines import campaign_deadlines
from chalicelib.domain.links import upload_link
from chalicelib.domain.registry import default_registry
from chalicelib.http.portal_page import local_time_text
from tests.conftest import LOCAL, OFFICE_TOKEN, api_get

CAMPAIGN = "xinzhou-2023"
UNIT, DELIVERABLE, PERIOD = "140922", "issue-list", "2023-08"
PREFIX = f"uploads/{CAMPAIGN}/{UNIT}/{DELIVERABLE}/{PERIOD}/"
CONFIG = Path(__file__).resolve().parents[2] / ".chalice" / "config.json"


def _local_signing_key() -> str:
    return json.loads(CONFIG.read_text(encoding="utf-8"))["stages"]["local"]["environment_variables"][
        "LINK_SIGNING_KEY"
    ]


def _request(method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, dict[str, str], str]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{LOCAL.api_url}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def make_link(body: dict[str, Any] | None = None, token: str | None = OFFICE_TOKEN) -> tuple[int, Any]:
    request = {"unit": "五台县", "deliverable": DELIVERABLE, "period": PERIOD, "valid_days": 2}
    status, _, text = _request("POST", f"/campaigns/{CAMPAIGN}/upload-links", request | (body or {}), token)
    return status, json.loads(text)


@pytest.fixture(scope="module")
def link(system: Any) -> dict[str, Any]:
    status, created = make_link()
    assert status == 201, created
    return created


def _due_at() -> datetime:
    campaign = default_registry().campaign(CAMPAIGN)
    assert campaign is not None
    return next(d.due_at for d in campaign_deadlines(campaign) if d.id == f"rectification/{PERIOD}")


def test_the_office_makes_a_link_with_its_token(link: dict[str, Any]) -> None:
    assert link["path"].startswith("/u/") and link["url"].endswith(link["path"])
    assert link["unit"] == {"code": UNIT, "name": "五台县"}
    assert link["deliverables"] == [
        {"id": DELIVERABLE, "name": "专项整治事项清单（2023年新问题）", "due_at": _due_at().isoformat()}
    ]
    assert link["period_label"] == "2023年8月"


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_without_the_office_token_no_link_is_made(system: Any, token: str | None) -> None:
    status, body = make_link(token=token)
    assert status == 401
    assert body == {"message": "Unauthorized"}


def test_a_bad_request_for_a_link_is_answered_in_chinese(system: Any) -> None:
    status, body = make_link({"unit": "北京市"})
    assert status == 400 and "未找到填报单位" in body["Message"]
    status, body = make_link({"deliverable": "summary-report"})
    assert status == 400 and "这一期" in body["Message"]
    status, body = make_link({"valid_days": None})  # the 2023 deadline's grace period is long over
    assert status == 400 and "valid_days" in body["Message"]


def test_the_county_page_shows_unit_deliverable_and_deadline(link: dict[str, Any]) -> None:
    status, headers, html = _request("GET", link["path"])
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "五台县" in html and "专项整治事项清单（2023年新问题）" in html and "2023年8月" in html
    assert local_time_text(_due_at()) in html
    assert 'type="file"' in html and 'accept=".csv,.et,.json,.pdf,.xls,.xlsx"' in html  # .pdf: a 盖章扫描件 (issue 14)
    # The link is the credential: no caching, no Referer, no framing, scripts only with the page's nonce.
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert LOCAL.aws_endpoint in headers["Content-Security-Policy"]  # the page may POST files to the bucket only


def test_the_county_sees_only_its_own_submissions(link: dict[str, Any]) -> None:
    status, _, text = _request("GET", link["path"] + "/submissions")
    assert status == 200
    body = json.loads(text)
    assert set(body["current"]) == {DELIVERABLE}
    assert all(s["unit"]["code"] == UNIT and s["object_key"].startswith(PREFIX) for s in body["items"])
    status, headers, fragment = _request("GET", link["path"] + "/history")  # the page's refresh after an upload
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "专项整治事项清单（2023年新问题）" in fragment and "<html" not in fragment


def test_presign_fixes_the_key_to_the_units_prefix(link: dict[str, Any]) -> None:
    status, _, text = _request("POST", link["path"] + "/presign", {"file_name": "五台县8月清单.xlsx", "size": 2048})
    assert status == 200, text
    plan = json.loads(text)
    assert plan["key"] == PREFIX + "五台县8月清单.xlsx"
    assert plan["fields"]["key"] == plan["key"]
    assert plan["fields"]["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert plan["url"].startswith(LOCAL.aws_endpoint)
    assert 0 < plan["expires_in"] <= 600
    policy = json.loads(base64.b64decode(plan["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, plan["max_bytes"]] in conditions
    assert {"key": plan["key"]} in conditions  # exact, not starts-with
    assert {"Content-Type": plan["fields"]["Content-Type"]} in conditions


@pytest.mark.parametrize(
    ("request_body", "fragment"),
    [
        ({"file_name": "五台县自查报告.docx"}, "格式不在"),
        ({"file_name": "脚本.exe"}, "格式不在"),
        ({"file_name": "../../140981/issue-list/2023-08/原平市.xlsx"}, "/"),
        ({"file_name": "..\\原平市.xlsx"}, "\\"),
        ({"file_name": ".."}, ""),
        ({"file_name": "清单.xlsx", "deliverable": "typical-case"}, "只能上传"),
        ({"file_name": "清单.xlsx", "size": 500 * 1024 * 1024}, "超过上限"),
        ({"file_name": ""}, "请选择"),
        ({}, "请选择"),
    ],
)
def test_presign_refuses_what_the_link_does_not_allow(
    link: dict[str, Any], request_body: dict[str, Any], fragment: str
) -> None:
    status, _, text = _request("POST", link["path"] + "/presign", request_body)
    assert status == 400, text
    body = json.loads(text)
    assert fragment in body["Message"] and "key" not in body


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\n", "\x85", "\u202e"], ids=lambda c: f"U+{ord(c):04X}")
def test_presign_refuses_a_file_name_with_a_line_break_or_invisible_character(
    link: dict[str, Any], separator: str
) -> None:
    """Issue 18: such a name would break the receipt's Subject; the county is told which character, where."""
    name = f"五台县8月{separator}清单.xlsx"
    status, _, text = _request("POST", link["path"] + "/presign", {"file_name": name, "size": 2048})
    assert status == 400, text
    body = json.loads(text)
    assert "第6个字符" in body["Message"] and f"[U+{ord(separator):04X}]" in body["Message"]
    assert "请将文件重命名" in body["Message"] and "key" not in body and "fields" not in body


def test_a_forged_link_gets_a_clear_page_not_a_stack_trace(link: dict[str, Any]) -> None:
    payload, mac = link["path"].removeprefix("/u/").split(".")
    other_unit = upload_link(
        CAMPAIGN, "140981", DELIVERABLE, PERIOD, base_url="", signing_key="x" * 40,
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    flipped = mac[:5] + ("B" if mac[5] == "A" else "A") + mac[6:]
    last = mac[:-1] + ("B" if mac[-1] != "B" else "C")  # may differ only in unused bits: still refused
    for path in (
        f"/u/{payload}.{flipped}",
        f"/u/{payload}.{last}",
        f"/u/{payload[:-3]}.{mac}",
        other_unit,
        "/u/not-a-token",
    ):
        status, headers, html = _request("GET", path)
        assert status == 403, path
        assert headers["Content-Type"].startswith("text/html")
        assert "链接无效" in html and "Traceback" not in html and "原平市" not in html
        status, _, text = _request("POST", path + "/presign", {"file_name": "x.xlsx"})
        assert status == 403 and json.loads(text)["Reason"] == "LINK_FORGED"
        status, _, text = _request("GET", path + "/submissions")
        assert status == 403


def test_an_expired_link_says_so_and_whose_it_was(system: Any) -> None:
    expired = upload_link(
        CAMPAIGN, UNIT, DELIVERABLE, PERIOD, base_url="", signing_key=_local_signing_key(),
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )  # fmt: skip
    status, _, html = _request("GET", expired)
    assert status == 410
    assert "链接已过期" in html and "五台县" in html and "重新获取" in html and "Traceback" not in html
    status, _, text = _request("POST", expired + "/presign", {"file_name": "x.xlsx"})
    assert status == 410 and json.loads(text)["Reason"] == "LINK_EXPIRED"


def test_a_county_token_opens_no_office_route(link: dict[str, Any]) -> None:
    county_token = link["path"].removeprefix("/u/")
    for path in (f"/campaigns/{CAMPAIGN}/submissions", f"/campaigns/{CAMPAIGN}/packages"):
        status, body = api_get(path, token=county_token, unit=UNIT)
        assert (status, body) == (401, {"message": "Unauthorized"})
    status, body = make_link({"unit": "原平市"}, token=county_token)  # nor can it mint links for others
    assert (status, body) == (401, {"message": "Unauthorized"})
