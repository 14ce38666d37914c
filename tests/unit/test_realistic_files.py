"""Realistic county files (tests/fixtures/realistic, made by LibreOffice) through the operators' door:
``python -m chalicelib.cli check FILE --deliverable D --unit U --json``.

Each file's expected verdict is in ``expected.json``, written by the script that made the file: the
variants of issue 14 must give no error at all, and every true fault must be reported at its row and
column, and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
REALISTIC = ROOT / "tests" / "fixtures" / "realistic"
EXPECTED: dict[str, dict[str, Any]] = json.loads((REALISTIC / "expected.json").read_text(encoding="utf-8"))


def _check(name: str, deliverable: str, unit: str) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-m", "chalicelib.cli", "check", str(REALISTIC / name)]
    result = subprocess.run(
        [*command, "--deliverable", deliverable, "--unit", unit, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict_is_what_the_office_would_want(name: str) -> None:
    expected = EXPECTED[name]
    code, verdict = _check(name, expected["deliverable"], expected["unit"])
    found = [[e["code"], e.get("row"), e.get("column")] for e in verdict["errors"]]
    assert sorted(found, key=str) == sorted(expected["errors"], key=str)  # zero false errors, every true fault
    assert verdict["accepted"] is expected["accepted"] and code == (0 if expected["accepted"] else 1)
    if "first" in expected:
        assert found[0][0] == expected["first"]
    for finding in verdict["errors"] + verdict["warnings"]:
        assert finding["message"] and not finding["message"].isascii()  # said in Chinese


def test_the_set_holds_both_accepted_files_and_true_faults() -> None:
    assert {e["accepted"] for e in EXPECTED.values()} == {True, False}
    assert sum(len(e["errors"]) for e in EXPECTED.values()) >= 10
