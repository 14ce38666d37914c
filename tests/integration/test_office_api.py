"""The office's window: ledger, export, cases, stats, filters; every list a Query, never a Scan."""

from __future__ import annotations

import io
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import LOCAL, OFFICE_TOKEN, api_get, wait_for

CAMPAIGN = "xinzhou-2023"
PERIOD = "2023-07"
FORMULA = '=HYPERLINK("http://evil.example","点此查看")'
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _put(system: Any, unit: str, deliverable: str, period: str, name: str, body: bytes) -> str:
    key = f"uploads/{CAMPAIGN}/{unit}/{deliverable}/{period}/{name}"
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]


@pytest.fixture(scope="module")
def ledger(system: Any) -> dict[str, Any]:
    """代县 and 岢岚县 deliver July lists; one of 代县's cells carries a formula payload."""
    daixian = [replace(GOOD_ROWS[0], symptom=FORMULA + "，群众反映强烈"), *GOOD_ROWS[1:]]
    _put(system, "140923", "issue-list", PERIOD, "代县7月清单.xlsx", issue_list_workbook("代县交通运输局", daixian))
    _put(
        system,
        "140929",
        "issue-list",
        PERIOD,
        "岢岚县7月清单.xlsx",
        issue_list_workbook("岢岚县交通运输局", GOOD_ROWS[:2]),
    )
    return wait_for(lambda: (body := api_get(f"/campaigns/{CAMPAIGN}/issues", period=PERIOD)[1])["count"] == 5 and body)


def test_the_ledger_lists_every_units_current_rows(ledger: dict[str, Any]) -> None:
    units = [item["unit"]["name"] for item in ledger["items"]]
    assert units == ["代县"] * 3 + ["岢岚县"] * 2  # registry order, then Excel row order
    first = ledger["items"][0]
    assert first["symptom"].startswith(FORMULA)  # stored as text, as typed
    assert (first["row"], first["aspect"], first["deadline"]) == (6, "“逐利执法”问题", "2023-06-30")


def test_ledger_filters(ledger: dict[str, Any]) -> None:
    status, by_unit = api_get(f"/campaigns/{CAMPAIGN}/issues", period=PERIOD, unit="岢岚")
    assert status == 200 and by_unit["count"] == 2
    status, by_aspect = api_get(f"/campaigns/{CAMPAIGN}/issues", period=PERIOD, aspect="逐利执法")
    assert {i["unit"]["code"] for i in by_aspect["items"]} == {"140923", "140929"} and by_aspect["count"] == 2
    status, overdue = api_get(f"/campaigns/{CAMPAIGN}/issues", period=PERIOD, overdue="true", as_of="2023-07-15")
    # Only the 2023-06-30 items: 长期坚持 is never overdue, 2023-08-31 is not yet.
    assert [i["deadline"] for i in overdue["items"]] == ["2023-06-30", "2023-06-30"]
    status, body = api_get(f"/campaigns/{CAMPAIGN}/issues", period="2023-13")
    assert status == 400 and "2023-05" in body["Message"]


def _download(path: str, **params: str) -> tuple[int, bytes, str]:
    query = urllib.parse.urlencode(params)
    request = urllib.request.Request(
        f"{LOCAL.api_url}{path}?{query}",
        headers={
            "Authorization": f"Bearer {OFFICE_TOKEN}",
            "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read(), response.headers["Content-Type"]


def test_the_export_matches_the_ledger_when_read_by_another_reader(ledger: dict[str, Any]) -> None:
    from python_calamine import CalamineWorkbook

    status, body, content_type = _download(f"/campaigns/{CAMPAIGN}/issues.xlsx", period=PERIOD)
    assert status == 200 and content_type.startswith("application/vnd.openxmlformats")
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(body))
    assert workbook.sheet_names == ["2023年7月"]
    grid = workbook.get_sheet_by_index(0).to_python()
    # Title, subtitle, the 填报单位 / 填报时间 line, then the two header rows (attachment 2's layout).
    assert grid[2][0].startswith("填报单位") and "填报时间" in grid[2][6]
    assert grid[3][:3] == ["填报单位", "序号", "问题方面"] and grid[3][3] == "问题清单"
    assert grid[4][3:6] == ["问题表现", "原因剖析", "整改措施"]
    exported = [(r[0], r[3], r[6]) for r in grid[5:]]
    expected = [(i["unit"]["name"], i["symptom"], i["deadline"]) for i in ledger["items"]]
    assert exported == expected


def test_the_export_without_an_accept_header_redirects_to_the_same_file(ledger: dict[str, Any]) -> None:
    """Issue 19 item 7: Python's urllib sends no Accept; API Gateway would hand it base64 text, so the API
    answers 303 to a presigned GET of the same workbook under exports/ (urllib follows it)."""
    query = urllib.parse.urlencode({"period": PERIOD})
    bare = urllib.request.Request(
        f"{LOCAL.api_url}/campaigns/{CAMPAIGN}/issues.xlsx?{query}", headers={"Authorization": f"Bearer {OFFICE_TOKEN}"}
    )
    with urllib.request.urlopen(bare, timeout=10) as response:
        followed, body = response.geturl(), response.read()
    assert "/exports/" in urllib.parse.unquote(followed) and "X-Amz-Signature" in followed
    _, direct, _ = _download(f"/campaigns/{CAMPAIGN}/issues.xlsx", period=PERIOD)
    from python_calamine import CalamineWorkbook

    def grid(data: bytes) -> Any:
        return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()

    assert grid(body) == grid(direct)
    # A client asking for JSON first is redirected as well, never answered 400.
    asking_json = urllib.request.Request(
        bare.full_url, headers={"Authorization": f"Bearer {OFFICE_TOKEN}", "Accept": "application/json"}
    )
    with urllib.request.urlopen(asking_json, timeout=10) as response:
        assert response.status == 200 and response.read(2) == b"PK"


def test_formula_payloads_come_out_neutralised(ledger: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    _, body, _ = _download(f"/campaigns/{CAMPAIGN}/issues.xlsx", period=PERIOD)
    sheet = load_workbook(io.BytesIO(body)).active
    cell = sheet.cell(row=6, column=4)
    assert str(cell.value).startswith("=HYPERLINK")
    assert cell.data_type == "s"  # text, not a formula
    assert cell.quotePrefix  # and Excel keeps it text when the cell is edited
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_stats_count_by_aspect_unit_and_period(ledger: dict[str, Any]) -> None:
    status, stats = api_get(f"/campaigns/{CAMPAIGN}/stats", period=PERIOD)
    assert status == 200 and stats["total"] == 5
    counts = {(s["aspect"], s["unit"]["code"]): s["count"] for s in stats["by_aspect_unit_period"]}
    assert counts[("“逐利执法”问题", "140923")] == 1 and counts[("执法不规范问题", "140929")] == 1


def test_cases_list_one_item_per_case(system: Any) -> None:
    body = (FIXTURES / "tables" / "typical-case.xlsx").read_bytes()
    _put(system, "140981", "typical-case", "2023-06", "原平市典型案例.xlsx", body)
    cases = wait_for(
        lambda: (b := api_get(f"/campaigns/{CAMPAIGN}/cases", unit="原平市", period="2023-06")[1])["count"] and b
    )
    assert cases["count"] == 3
    assert all(c["facts"] and c["measures"] and c["effect"] and c["comment"] for c in cases["items"])


def test_submission_filters(ledger: dict[str, Any]) -> None:
    status, page = api_get(
        f"/campaigns/{CAMPAIGN}/submissions", unit="代县", deliverable="issue-list", status="accepted"
    )
    assert status == 200 and page["items"]
    assert all(s["deliverable"]["id"] == "issue-list" and s["status"] == "accepted" for s in page["items"])
    status, body = api_get(f"/campaigns/{CAMPAIGN}/submissions", status="lost")
    assert status == 400 and "accepted" in body["Message"]
    status, body = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="原" * 500)
    assert status == 400 and "过长" in body["Message"]
    status, body = api_get(f"/campaigns/{CAMPAIGN}/submissions", sort="desc")
    assert status == 400 and "不支持" in body["Message"]


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """Every DynamoDB operation the API sends (it runs in-process in the tests; the event pump's
    thread, handling uploads meanwhile, is left out)."""
    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call
    lock = threading.Lock()

    def record(self: Any, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "dynamodb" and not threading.current_thread().name.startswith(
            "event-pump"
        ):
            with lock:
                calls.append(operation)
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = record  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def test_lists_are_queries_never_scans(ledger: dict[str, Any]) -> None:
    with dynamodb_calls() as calls:
        assert api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="代县")[0] == 200
    # one unit's history: one Query, and one for the office's decisions on it (issue 14: docs/decisions.md)
    assert calls == ["Query", "Query"]
    with dynamodb_calls() as calls:
        status, page = api_get(f"/campaigns/{CAMPAIGN}/issues", period=PERIOD)
    assert status == 200
    # A page of units (issue 17): the pointer index, then per delivering unit on the page its rows and its
    # problems (问题编号 and status, issue 15). Other modules of the session may deliver for the same period.
    delivering = {item["unit"]["code"] for item in page["items"]}
    assert set(calls) == {"Query"} and len(calls) <= 1 + 2 * len(delivering), (calls, delivering)
    with dynamodb_calls() as calls:
        for path in ("/submissions", "/packages", "/stats", "/cases"):
            api_get(f"/campaigns/{CAMPAIGN}{path}")
    assert "Scan" not in calls and calls


def test_the_openapi_description_lists_exactly_the_routes(system: Any) -> None:
    status, document = api_get("/openapi.json", token=None)
    assert status == 200
    described = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    routed = {(path, method) for path, methods in system.app_module.app.routes.items() for method in methods}
    assert described == routed


def test_the_status_board_shows_every_unit_for_every_deadline_due(ledger: dict[str, Any]) -> None:
    from chalicelib.domain.deadlines import campaign_deadlines
    from chalicelib.domain.packages import required_parts
    from chalicelib.domain.registry import default_registry

    with dynamodb_calls() as calls:
        status, board = api_get(f"/campaigns/{CAMPAIGN}/status")
    assert status == 200
    campaign = default_registry().campaign(CAMPAIGN)
    assert campaign is not None
    due = [d for d in campaign_deadlines(campaign)]  # all are past by now (2023)
    assert [d["id"] for d in board["deadlines"]] == [d.id for d in due]
    july = next(d for d in board["deadlines"] if d["id"] == "rectification/2023-07")
    by_id = {d.id: d for d in due}

    def campaign_deadline(entry: dict[str, Any]) -> Any:
        return by_id[entry["id"]]

    assert sum(july["counts"].values()) == len(campaign.units) == len(july["units"])
    daixian = next(u for u in july["units"] if u["unit"]["code"] == "140923")
    # The list arrived (late, in 2026) but the July typical cases did not: incomplete, saying what is missing.
    assert daixian["outcome"] == "incomplete" and daixian["missing"] == ["典型案例"]
    assert daixian["parts"][0]["deliverable"] == "issue-list" and daixian["parts"][0]["current_version"]
    wutaishan = next(u for u in july["units"] if u["unit"]["code"] == "140971")
    assert wutaishan["outcome"] == "missing"
    # Every missing deliverable is listed in every outcome, not only for an incomplete package.
    assert wutaishan["missing"] == [campaign.deliverable(d).name for d, _ in required_parts(campaign_deadline(july))]
    # One Query per (deliverable, period), not per unit; never a Scan.
    pairs = {(d, x.period) for x in due for d, _ in required_parts(x)}
    assert "Scan" not in calls and calls.count("Query") <= len(pairs) + len(campaign.units)
    # The contact list is due a few working days after the notice (04-12), the April self-check on 04-08.
    status, board = api_get(f"/campaigns/{CAMPAIGN}/status", as_of="2023-04-09")
    assert [d["id"] for d in board["deadlines"]] == ["self-check/2023-04"]
    status, board = api_get(f"/campaigns/{CAMPAIGN}/status", as_of="2023-04-12")
    assert [d["id"] for d in board["deadlines"]] == ["self-check/2023-04", "setup-contacts/setup"]
