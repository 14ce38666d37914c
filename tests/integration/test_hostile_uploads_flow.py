"""Hostile files through the whole local stack (issue 18): each gets a submission and a receipt, and another
unit's good upload made right after still gets its receipt within seconds (the pump runs workers
concurrently, as Lambda does)."""

from __future__ import annotations

import resource
import time
from typing import Any

import pytest

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests import hostile_files
from tests.conftest import api_get, mails_with_notice_key, wait_for

CAMPAIGN = "xinzhou-2023"


def _put(system: Any, key: str, body: bytes) -> str:
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]


def _submission(unit: str, version: str) -> dict[str, Any] | None:
    status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit=unit)
    assert status == 200, page
    return next((s for s in page["items"] if s["version_id"] == version), None)


def test_hostile_uploads_get_a_verdict_and_a_receipt_without_holding_up_others(
    system: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_SECONDS", "15")  # read per check; one worker would hold the good upload >= 15 s
    hostile = {
        "140924": ("issue-list", "2023-05", "共享串.xlsx", hostile_files.shared_string_amplification(1_000)),
        "140925": ("typical-case", "final", "纵向合并.docx", hostile_files.vertically_merged_docx(970)),
        # pypdf decodes and parses the shared ~1 MB stream once per page: it runs until the deadline.
        "140926": ("self-check-report", "2023-05", "共享内容流.pdf", hostile_files.shared_stream_pdf()),
    }
    expected = {"140924": "FILE_TOO_COMPLEX", "140925": "REPORT_SECTION_MISSING", "140926": "FILE_TOO_COMPLEX"}
    versions = {
        unit: _put(system, f"uploads/{CAMPAIGN}/{unit}/{d}/{p}/{name}", body)
        for unit, (d, p, name, body) in hostile.items()
    }
    good_put = time.monotonic()
    good = _put(
        system,
        f"uploads/{CAMPAIGN}/140981/issue-list/2023-05/原平市5月清单.xlsx",
        issue_list_workbook("原平市", GOOD_ROWS),
    )
    wait_for(lambda: mails_with_notice_key(f"receipt|140981#{good}"), timeout=15)
    good_seconds = time.monotonic() - good_put
    assert good_seconds < 10, f"the good upload waited {good_seconds:.1f} s behind the hostile ones"
    for unit, version in versions.items():
        record = wait_for(lambda u=unit, v=version: _submission(u, v), timeout=40)
        assert record["status"] == "rejected"
        assert record["errors"][0]["code"] == expected[unit]
        assert hostile[unit][2] in record["errors"][0]["message"]
        wait_for(lambda u=unit, v=version: mails_with_notice_key(f"receipt|{u}#{v}"), timeout=15)
    # The readers ran in children: the stack itself (this process) and each child stayed under the function's
    # 1,024 MB (before the sandbox, the 22 KB shared-string file took the stack from 259 MB to 1.2 GB).
    stack_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert stack_mb < 1024 and child_mb < 1024, (stack_mb, child_mb)
