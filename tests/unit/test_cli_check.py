"""`python -m chalicelib.cli check`: the same validation offline, with exit codes for scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "check", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_an_accepted_file_exits_0_with_its_row_count() -> None:
    result = _check(
        str(FIXTURES / "tables/issue-list-good.xlsx"), "--deliverable", "issue-list", "--unit", "原平市", "--json"
    )
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["accepted"] is True and verdict["rows"] == 5 and verdict["errors"] == []


def test_a_rejected_file_exits_1_with_located_chinese_errors() -> None:
    result = _check(
        str(FIXTURES / "tables/issue-list-errors.xlsx"), "--deliverable", "issue-list", "--unit", "原平市", "--json"
    )
    assert result.returncode == 1
    verdict = json.loads(result.stdout)
    assert verdict["accepted"] is False
    deadline = next(e for e in verdict["errors"] if e["code"] == "DEADLINE_INVALID")
    assert (deadline["row"], deadline["column"]) == (7, "完成时限") and "待定" in deadline["message"]
    assert {"sheet", "row", "column", "code", "message"} <= set(deadline)


def test_a_report_missing_a_section_exits_1() -> None:
    result = _check(str(FIXTURES / "reports/self-check-missing-section.docx"), "--deliverable", "self-check-report")
    assert result.returncode == 1
    assert "存在的问题及原因" in result.stdout


@pytest.mark.parametrize("content", [b"", b"just text, not a workbook"])
def test_an_unusable_file_exits_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "清单.xlsx"
    path.write_bytes(content)
    result = _check(str(path), "--deliverable", "issue-list")
    assert result.returncode == 2, result.stdout


def test_unknown_deliverable_or_missing_file_exit_2(tmp_path: Path) -> None:
    assert _check(str(FIXTURES / "tables/issue-list-good.xlsx"), "--deliverable", "issues").returncode == 2
    assert _check(str(tmp_path / "nothing.xlsx"), "--deliverable", "issue-list").returncode == 2


def test_people_read_the_verdict_in_chinese_and_scripts_keep_the_english_id() -> None:
    args = (str(FIXTURES / "tables/issue-list-good.xlsx"), "--deliverable", "issue-list", "--unit", "原平市")
    person = _check(*args)
    assert person.returncode == 0 and "通过" in person.stdout and "accepted" not in person.stdout
    assert json.loads(_check(*args, "--json").stdout)["status"] == "accepted"
