"""Reports and the September package through the stack: bucket → handler → table → API → email."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import api_get, mails_with_notice_key, wait_for

CAMPAIGN = "xinzhou-2023"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _upload(
    system: Any,
    unit: str,
    deliverable: str,
    period: str,
    fixture: str,
    name: str | None = None,
    campaign: str = CAMPAIGN,
) -> str:
    path = FIXTURES / fixture
    key = f"uploads/{campaign}/{unit}/{deliverable}/{period}/{name or path.name}"
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=path.read_bytes())["VersionId"]


def _record(unit: str, version: str, campaign: str = CAMPAIGN) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        status, page = api_get(f"/campaigns/{campaign}/submissions", unit=unit)
        assert status == 200
        return next((s for s in page["items"] if s["version_id"] == version), None)

    return wait_for(find)


def test_a_complete_self_inspection_report_is_accepted(system: Any) -> None:
    version = _upload(
        system, "140926", "self-check-report", "2023-04", "reports/self-check-complete.docx", "静乐县自查报告.docx"
    )
    record = _record("140926", version)
    assert record["status"] == "accepted"
    [mail] = wait_for(lambda: mails_with_notice_key(f"receipt|140926#{version}"))
    assert "已通过核验" in mail["Subject"]


def test_a_report_missing_a_section_is_rejected_with_what_is_missing(system: Any) -> None:
    version = _upload(system, "140926", "self-check-report", "2023-05", "reports/self-check-missing-section.docx")
    record = _record("140926", version)
    assert record["status"] == "rejected"
    [error] = record["errors"]
    assert error["section"] == "存在的问题及原因"
    [mail] = wait_for(lambda: mails_with_notice_key(f"receipt|140926#{version}"))
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "缺少“存在的问题及原因”部分" in text and "系统识别到的标题" in text


def test_a_scanned_pdf_is_received_for_review(system: Any) -> None:
    version = _upload(
        system, "140929", "self-check-report", "2023-05", "reports/self-check-scan.pdf", "岢岚县自查报告（盖章）.pdf"
    )
    record = _record("140929", version)
    assert record["status"] == "received-for-review"
    assert [w["code"] for w in record["warnings"]] == ["PDF_NO_TEXT_LAYER"]
    [mail] = wait_for(lambda: mails_with_notice_key(f"receipt|140929#{version}"))
    assert "人工审阅" in mail.get_body(preferencelist=("plain",)).get_content()


def _package(unit: str, campaign: str) -> dict[str, Any]:
    status, body = api_get(f"/campaigns/{campaign}/packages", unit=unit)
    assert status == 200, body
    [package] = body["items"]
    return package


def _package_with_pieces(unit: str, pieces: int, campaign: str) -> dict[str, Any] | None:
    package = _package(unit, campaign)
    return package if sum(part["have"] > 0 for part in package["parts"]) == pieces else None


def test_the_summary_package_assembles_from_five_uploads_in_any_order(
    system: Any, campaign_of_its_own: Callable[[str], str]
) -> None:
    # The package is judged against the unit's problem ledger (issue 15): in the shared campaign other modules
    # list problems for every unit, which a final list made from a fixture would leave out (dropped).
    campaign = campaign_of_its_own("xinzhou-2023-package")
    unit = "140981"
    pieces = [
        ("summary-report", "reports/summary-report.docx"),
        ("issue-list", "tables/issue-list-good.xlsx"),  # the final 2023 list (附件2), beside the 2022 one
        ("legacy-issue-list", "tables/legacy-issue-list.xlsx"),
        ("typical-case", "reports/typical-cases-3.docx"),
        ("accountability-statement", "reports/accountability-statement.docx"),
    ]
    random.Random(20230910).shuffle(pieces)
    assert _package(unit, campaign)["status"] == "incomplete"

    for count, (deliverable, fixture) in enumerate(pieces, 1):
        version = _upload(system, unit, deliverable, "final", fixture, campaign=campaign)
        record = _record(unit, version, campaign)
        assert record["status"] == "accepted", (fixture, record["errors"])
        package = wait_for(lambda n=count: _package_with_pieces(unit, n, campaign))
        if count < len(pieces):
            assert package["status"] == "incomplete"
            assert package["missing"], package
    assert package["status"] == "complete", package["missing"]
    assert package["missing"] == []
    assert {p["deliverable"]: p["have"] for p in package["parts"]}["typical-case"] == 3
