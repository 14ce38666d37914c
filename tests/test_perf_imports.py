"""Cold start hygiene: what each Lambda entry point imports before its handler runs.

Every function's module is app.py, so whatever app.py imports at module level every function pays for on
every cold start: no spreadsheet, Word or PDF readers, no jsonschema (the API answers from the table).
Measured figures: docs/performance.md (``make bench``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
READERS = ("python_calamine", "docx", "pypdf", "openpyxl", "xlsxwriter", "lxml")


def _imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "cn-north-1", "TABLE_NAME": "t", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}


def test_importing_app_loads_no_reader_and_no_jsonschema() -> None:
    loaded = _imported_after("import app")
    assert not loaded & {*READERS, "jsonschema", "pynamodb", "boto3"}, loaded & {*READERS, "jsonschema"}


@pytest.mark.parametrize(
    "first_call",
    [
        "from chalicelib import auth, queries, openapi; from chalicelib.registry import default_registry;"
        " default_registry()",
        "from chalicelib import sweep, mail, settings; from chalicelib.registry import default_registry;"
        " default_registry()",
    ],
    ids=["api", "sweep"],
)
def test_the_api_and_the_sweep_never_load_readers_or_jsonschema(first_call: str) -> None:
    loaded = _imported_after(f"import app\n{first_call}")
    assert not loaded & {*READERS, "jsonschema"}, loaded & {*READERS, "jsonschema"}


def test_the_upload_path_loads_jsonschema_only_for_a_broken_row() -> None:
    """A valid campaign file and valid rows pass the compiled check; jsonschema is for error messages."""
    good = (
        "from infra.local.samples import GOOD_ROWS, issue_list_workbook\n"
        "from chalicelib.tables import validate_table\n"
        "assert validate_table(issue_list_workbook('原平市', GOOD_ROWS), 'a.xlsx', 'issue-list').accepted"
    )
    assert "jsonschema" not in _imported_after(f"import app\n{good}") - {"openpyxl"}
    bad = (
        "from dataclasses import replace\n"
        "from infra.local.samples import GOOD_ROWS, issue_list_workbook\n"
        "from chalicelib.tables import validate_table\n"
        "rows = [replace(GOOD_ROWS[0], measure='')]\n"
        "assert validate_table(issue_list_workbook('原平市', rows), 'a.xlsx', 'issue-list').errors"
    )
    assert "jsonschema" in _imported_after(f"import app\n{bad}")
