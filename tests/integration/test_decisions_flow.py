"""The office decides, through the real local stack (issue 14): files put into the bucket, the office API,
the status board and the ledger, the email in the SMTP sink.

五台县 (140922): issue list and cases for 2023-06, cases for 2023-08 (no other flow test uses them).
Emailed files are filed by the office with ``cli upload --received-at`` (the S3 event time is today,
years after the campaign), so the board judges by the time each file really arrived.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from chalicelib.cli import main as cli
from infra.local.samples import GOOD_ROWS, issue_list_workbook, typical_case_docx
from tests.conftest import CAMPAIGN_ID as CAMPAIGN
from tests.conftest import LOCAL, OFFICE_TOKEN, api_get, dynamo_store, mails_with_notice_key, wait_for

UNIT, NAME = "140922", "五台县"
BUREAU = "五台县交通运输局"
BAD_ROWS = (GOOD_ROWS[0], replace(GOOD_ROWS[1], deadline="待定"), GOOD_ROWS[2])  # row 7 names no time


def _post(path: str, body: Any, token: str = OFFICE_TOKEN) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{LOCAL.api_url}{urllib.parse.quote(path)}",
        data=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _file(tmp: Path, name: str, body: bytes, deliverable: str, period: str, *extra: str) -> dict[str, Any]:
    """``cli upload`` as the office runs it; then the recorded submission."""
    path = tmp / name
    path.write_bytes(body)
    assert cli(["upload", str(path), "--unit", NAME, "--deliverable", deliverable, "--period", period, *extra]) == 0
    return _recorded(name, period)


def _history(period: str) -> list[dict[str, Any]]:
    status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit=UNIT, period=period, limit="100")
    assert status == 200
    return page["items"]


def _recorded(name: str, period: str, count: int = 1) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        items = [i for i in _history(period) if i["file_name"] == name]
        return items if len(items) >= count else []

    return wait_for(found, timeout=60)[0]


def _board(as_of: str, deadline: str) -> dict[str, Any]:
    status, board = api_get(f"/campaigns/{CAMPAIGN}/status", as_of=as_of)
    assert status == 200
    [entry] = [d for d in board["deadlines"] if d["id"] == deadline]
    [unit] = [u for u in entry["units"] if u["unit"]["code"] == UNIT]
    return unit


def _ledger(period: str) -> list[dict[str, Any]]:
    status, page = api_get(f"/campaigns/{CAMPAIGN}/issues", period=period, unit=UNIT)
    assert status == 200
    return page["items"]


def test_accept_a_rejected_list_then_return_it(system: Any, tmp_path: Path) -> None:
    period, deadline = "2023-06", "rectification/2023-06"
    case = _file(
        tmp_path, "典型案例.docx", typical_case_docx(BUREAU, "治超站规范执法"), "typical-case", period,
        "--received-at", "2023-06-19T16:30+08:00", "--note", "邮件报送",
    )  # fmt: skip
    assert case["status"] == "accepted" and case["received_at"]["utc"].startswith("2023-06-19T08:30")
    assert case["office_filing"]["note"] == "邮件报送" and not case["office_filing"]["uploaded_at"].startswith("2023")
    [receipt] = wait_for(lambda: mails_with_notice_key(f"N#receipt|{UNIT}#{case['version_id']}"))
    text = receipt.get_body(("plain",)).get_content()
    assert "收到时间：2023年6月19日 16:30:00" in text and "市专项办代为上传：" in text and "邮件报送" in text
    bad = _file(
        tmp_path, "五台县6月清单.xlsx", issue_list_workbook(BUREAU, BAD_ROWS), "issue-list", period,
        "--received-at", "2023-06-18T10:00+08:00", "--note", "邮件报送",
    )  # fmt: skip
    assert bad["status"] == "rejected" and _ledger(period) == []
    assert _board("2023-06-25", deadline)["outcome"] in ("rejected", "incomplete")

    path = f"/campaigns/{CAMPAIGN}/submissions/{UNIT}/{bad['version_id']}/decision"
    status, outcome = _post(path, {"decision": "accept", "note": "完成时限经电话核实为2023年9月底前"})
    assert status == 201 and outcome["changed"] and outcome["status"] == "accepted"
    assert outcome["decision"]["by"] == "local-dev"  # the name configured for the token
    assert [r["row"] for r in _ledger(period)] == [6, 8]  # the rows the checker could read
    board = _board("2023-06-25", deadline)
    # Complete when its last part arrived: the case, emailed on 06-19 (the list came on 06-18).
    assert board["outcome"] == "on-time" and board["delivered_at"].startswith("2023-06-19T08:30")
    notice = f"N#decision|{UNIT}#{bad['version_id']}#1"
    [mail] = wait_for(lambda: mails_with_notice_key(notice))
    assert "予以接收" in str(mail["Subject"]) and "完成时限经电话核实" in mail.get_body(("plain",)).get_content()

    # The same decision twice: nothing changes, nothing is sent again.
    status, again = _post(path, {"decision": "accept", "note": "重复提交"})
    assert status == 200 and not again["changed"]
    assert len(mails_with_notice_key(notice)) == 1

    status, returned = _post(path, {"decision": "return", "note": "第6行责任单位与实际不符"})
    assert status == 201 and returned["status"] == "returned" and returned["current_version"] is None
    assert _ledger(period) == []
    assert _board("2023-06-25", deadline)["outcome"] in ("rejected", "incomplete")
    wait_for(lambda: mails_with_notice_key(f"N#decision|{UNIT}#{bad['version_id']}#2"))
    [item] = [i for i in _history(period) if i["version_id"] == bad["version_id"]]
    assert (item["status"], item["checked_status"]) == ("returned", "rejected")
    assert [(d["decision"], d["note"]) for d in item["decisions"]] == [
        ("accept", "完成时限经电话核实为2023年9月底前"),
        ("return", "第6行责任单位与实际不符"),
    ]

    # The corrected list, emailed after the deadline: the board says late, by the time it arrived.
    fixed = _file(
        tmp_path, "五台县6月清单（修改）.xlsx", issue_list_workbook(BUREAU, GOOD_ROWS), "issue-list", period,
        "--received-at", "2023-06-22T09:15+08:00", "--note", "邮件报送（修改稿）",
    )  # fmt: skip
    assert fixed["status"] == "accepted"
    late = wait_for(lambda: (b := _board("2023-06-25", deadline))["outcome"] == "late" and b)
    assert late["parts"][0]["current_version"] == fixed["version_id"]

    # A stamped scan is listed beside its Excel and never replaces it.
    scan = _file(tmp_path, "清单盖章页.pdf", b"%PDF-1.4\n% scanned\n", "issue-list", period, "--stamped")
    assert (scan["kind"], scan["deliverable"]["id"], scan["status"]) == ("stamped-scan", "issue-list", "accepted")
    assert _board("2023-06-25", deadline)["parts"][0]["current_version"] == fixed["version_id"]

    # Wrong requests say so in Chinese; no token, no decision.
    assert _post(path, {"decision": "approve", "note": "x"})[0] == 400
    assert (
        _post(
            f"/campaigns/{CAMPAIGN}/submissions/{UNIT}/no-such-version/decision", {"decision": "accept", "note": "x"}
        )[0]
        == 404
    )
    assert _post(path, {"decision": "accept", "note": "x"}, token="wrong")[0] in (401, 403)


def test_three_typical_case_files_are_three_cases(system: Any, tmp_path: Path) -> None:
    period = "2023-08"
    for n, title in enumerate(("治超站规范执法", "首违不罚", "源头治超"), 1):
        _file(tmp_path, f"案例{n}.docx", typical_case_docx(BUREAU, title), "typical-case", period)

    def cases() -> list[dict[str, Any]]:
        status, page = api_get(f"/campaigns/{CAMPAIGN}/cases", period=period, unit=UNIT)
        assert status == 200
        return page["items"]

    wait_for(lambda: len(cases()) == 3)
    # A re-upload of the same file name replaces itself.
    path = tmp_path / "案例2.docx"
    path.write_bytes(typical_case_docx(BUREAU, "首违不罚（修改稿）"))
    assert cli(["upload", str(path), "--unit", NAME, "--deliverable", "typical-case", "--period", period]) == 0
    newest = wait_for(
        lambda: (v := [i for i in _history(period) if i["file_name"] == "案例2.docx"]) and len(v) == 2 and v
    )
    store = dynamo_store()

    def current_sources() -> set[str]:
        return {str(r.fields["source_version"]) for r in store.current_rows(CAMPAIGN, UNIT, "typical-case", period)}

    wait_for(lambda: newest[0]["version_id"] in current_sources())
    assert len(cases()) == 3 and newest[1]["version_id"] not in current_sources()

    # The operator's CLI returns one file: two cases remain; the same command again changes nothing.
    third = next(i for i in _history(period) if i["file_name"] == "案例3.docx")
    decide = [
        "decide",
        "--unit",
        NAME,
        "--version",
        third["version_id"],
        "--decision",
        "return",
        "--note",
        "不属于本期",
    ]
    assert cli([*decide, "--by", "operator"]) == 0
    assert len(cases()) == 2 and third["version_id"] not in current_sources()
    assert cli([*decide, "--by", "operator"]) == 0
    [item] = [i for i in _history(period) if i["version_id"] == third["version_id"]]
    assert [(d["decision"], d["by"]) for d in item["decisions"]] == [("return", "operator")]


def test_the_console_unit_page_accepts_and_returns_with_a_note(system: Any, tmp_path: Path) -> None:
    from tests.integration.test_console import _csrf, _signed_in

    period = "2023-06"
    bad = _file(tmp_path, "五台县6月清单（控制台）.xlsx", issue_list_workbook(BUREAU, BAD_ROWS), "issue-list", period)
    office = _signed_in()
    page = office.get(f"{LOCAL.api_url}/office/unit", params={"unit": UNIT}, timeout=10)
    assert page.status_code == 200 and 'action="/office/decision"' in page.text
    form = {"unit": UNIT, "version": bad["version_id"], "decision": "accept", "note": "经复核予以接收"}
    # Without the session's CSRF token nothing changes.
    assert office.post(f"{LOCAL.api_url}/office/decision", data=form, allow_redirects=False).status_code == 403
    done = office.post(
        f"{LOCAL.api_url}/office/decision", data=form | {"csrf": _csrf(page.text)}, allow_redirects=False, timeout=60
    )
    assert done.status_code == 303 and done.headers["Location"].startswith("/office/unit?unit=")
    [item] = [i for i in _history(period) if i["version_id"] == bad["version_id"]]
    assert item["status"] == "accepted" and item["decisions"][0]["note"] == "经复核予以接收"
    shown = office.get(f"{LOCAL.api_url}/office/unit", params={"unit": UNIT}, timeout=10).text
    assert "经复核予以接收" in shown and "退回</button>" in shown

    # Its readable rows are problems (issue 15): the problem ledger offers their forms, and 销号 works.
    listed = _unit_problems_of(bad["version_id"])
    assert len(listed) == 2
    ledger = office.get(f"{LOCAL.api_url}/office/ledger", params={"unit": UNIT}, timeout=10)
    assert ledger.status_code == 200 and all(f'value="{p["id"]}"' in ledger.text for p in listed)
    # The list's rows may continue problems other modules listed for 五台县 (same text): take one still open.
    target = next(p["id"] for p in listed if p["status"] != "closed")
    form = {"id": target, "note": "现场核查整改到位", "force": "true", "csrf": _csrf(ledger.text)}
    closed = office.post(f"{LOCAL.api_url}/office/problems/close", data=form, timeout=20)
    assert closed.status_code == 200 and f"问题{target}已销号" in closed.text, closed.text[:2000]
    # The month's ledger shows the rows' 问题编号 and status.
    month = office.get(f"{LOCAL.api_url}/office/ledger", params={"unit": UNIT, "period": period}, timeout=10)
    assert month.status_code == 200 and target in month.text and "已销号" in month.text

    # 退回 and 接收 again from the unit page: the problems follow, same ids, one listing each.
    for decision, note in (("return", "经复核退回"), ("accept", "经复核再次接收")):
        page = office.get(f"{LOCAL.api_url}/office/unit", params={"unit": UNIT}, timeout=10)
        form = {"unit": UNIT, "version": bad["version_id"], "decision": decision, "note": note}
        done = office.post(
            f"{LOCAL.api_url}/office/decision", data=form | {"csrf": _csrf(page.text)}, allow_redirects=False
        )
        assert done.status_code == 303
        if decision == "return":
            assert _unit_problems_of(bad["version_id"]) == []
    again = _unit_problems_of(bad["version_id"])
    assert sorted(p["id"] for p in again) == sorted(p["id"] for p in listed)
    assert all([e["version"] for e in p["history"]].count(bad["version_id"]) == 1 for p in again)
    ledger = office.get(f"{LOCAL.api_url}/office/ledger", params={"unit": UNIT}, timeout=10)
    assert ledger.status_code == 200 and 'action="/office/problems/' in ledger.text


def _unit_problems_of(version: str) -> list[dict[str, Any]]:
    """The unit's problems that ``version`` lists (through the office API)."""
    status, page = api_get(f"/campaigns/{CAMPAIGN}/problems", unit=UNIT, limit="100")
    assert status == 200 and page["next_cursor"] is None
    return [p for p in page["items"] if any(e["version"] == version for e in p["history"])]


def test_the_county_link_page_files_a_stamped_scan_beside_its_material(system: Any) -> None:
    import base64

    import requests

    from tests.integration.test_county_portal import _request

    status, _, text = _request(
        "POST",
        f"/campaigns/{CAMPAIGN}/upload-links",
        {"unit": NAME, "deliverable": "issue-list", "period": "2023-06", "valid_days": 2},
        OFFICE_TOKEN,
    )
    assert status == 201, text
    path = json.loads(text)["path"]
    page = _request("GET", path)[2]
    assert 'id="stamped"' in page and ".pdf" in page
    # Without the box a PDF is not an issue list; with it, the key goes under 盖章/ and the policy pins it.
    assert _request("POST", path + "/presign", {"file_name": "盖章页.pdf", "size": 20})[0] == 400
    status, _, text = _request("POST", path + "/presign", {"file_name": "盖章页.pdf", "size": 20, "stamped": True})
    assert status == 200, text
    plan = json.loads(text)
    assert plan["key"].endswith("/issue-list/2023-06/盖章/盖章页.pdf") and plan["content_type"] == "application/pdf"
    conditions = json.loads(base64.b64decode(plan["fields"]["policy"]))["conditions"]
    assert not any("x-amz-meta" in json.dumps(c) for c in conditions)  # no back-dating from a county form
    assert _request("POST", path + "/presign", {"file_name": "盖章页.docx", "size": 20, "stamped": True})[0] == 400
    body = b"%PDF-1.4\n% stamped page\n"
    posted = requests.post(plan["url"], data=plan["fields"], files={"file": ("盖章页.pdf", body)}, timeout=10)
    assert posted.status_code in (200, 204), posted.text
    scan = _recorded("盖章页.pdf", "2023-06")
    assert (scan["kind"], scan["deliverable"]["id"], scan["status"]) == ("stamped-scan", "issue-list", "accepted")
    assert "盖章扫描件" in _request("GET", path)[2]  # the county page lists it beside the list
