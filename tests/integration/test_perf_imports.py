"""Cold start hygiene: what each Lambda entry point imports before its handler runs.

Every function's module is app.py, so whatever app.py imports at module level every function pays for on
every cold start: no spreadsheet, Word or PDF readers, no jsonschema (the API answers from the table).
An upload's first call loads the one reader its file needs, and makes its AWS clients from one botocore
session (chalicelib.adapters.aws). Measured figures: docs/performance.md (``make bench``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READERS = ("python_calamine", "docx", "pypdf", "openpyxl", "xlsxwriter", "lxml")


def _run(probe: str) -> str:
    """``probe``'s output, run in a fresh interpreter; fake credentials, so no client looks for real ones."""
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "cn-north-1",
        "TABLE_NAME": "t",
        "PYTHONPATH": str(ROOT),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _imported_after(code: str) -> set[str]:
    output = _run(f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))")
    return {name.split(".")[0] for name in json.loads(output.splitlines()[-1])}


def test_importing_app_loads_no_reader_and_no_jsonschema() -> None:
    loaded = _imported_after("import app")
    assert not loaded & {*READERS, "jsonschema", "pynamodb", "boto3"}, loaded & {*READERS, "jsonschema"}


@pytest.mark.parametrize(
    "first_call",
    [
        "from chalicelib.domain import auth; from chalicelib.services import queries;"
        " from chalicelib.http import openapi; from chalicelib.domain.registry import default_registry;"
        " default_registry()",
        "from chalicelib.services import sweep; from chalicelib.adapters import mail; from chalicelib import config;"
        " from chalicelib.domain.registry import default_registry; default_registry()",
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
        "from chalicelib.domain.tables import validate_table\n"
        "assert validate_table(issue_list_workbook('原平市', GOOD_ROWS), 'a.xlsx', 'issue-list').accepted"
    )
    assert "jsonschema" not in _imported_after(f"import app\n{good}") - {"openpyxl"}
    bad = (
        "from dataclasses import replace\n"
        "from infra.local.samples import GOOD_ROWS, issue_list_workbook\n"
        "from chalicelib.domain.tables import validate_table\n"
        "rows = [replace(GOOD_ROWS[0], measure='')]\n"
        "assert validate_table(issue_list_workbook('原平市', rows), 'a.xlsx', 'issue-list').errors"
    )
    assert "jsonschema" in _imported_after(f"import app\n{bad}")


# What handle_upload does on its first call before it reads the object: its imports and _intake_context()
# (registry, S3 client, mail sender).
UPLOAD_FIRST_CALL = (
    "import app\n"
    "from chalicelib.adapters import metrics\n"
    "from chalicelib.services.intake import ingest\n"
    "from chalicelib.domain.s3_events import object_refs\n"
    "context = app._intake_context()\n"
)


def test_an_xlsx_upload_loads_the_spreadsheet_reader_only(tmp_path: Path) -> None:
    """python-docx, pypdf (and lxml under them) are for .docx / .pdf uploads; jsonschema for a broken row."""
    from infra.local.samples import GOOD_ROWS, issue_list_workbook

    upload = tmp_path / "a.xlsx"
    upload.write_bytes(issue_list_workbook("原平市", GOOD_ROWS))
    check = (
        f"{UPLOAD_FIRST_CALL}"
        "from pathlib import Path\n"
        "from chalicelib.domain.validation import check_file\n"
        "campaign = context.registry.campaigns['xinzhou-2023']\n"
        "deliverable, unit = campaign.deliverables['issue-list'], campaign.unit('140981')\n"
        f"verdict = check_file(campaign, deliverable, unit, 'a.xlsx', Path({str(upload)!r}).read_bytes())\n"
        "assert verdict.status == 'accepted', verdict.errors\n"
    )
    loaded = _imported_after(check)
    assert "python_calamine" in loaded
    assert "boto3" not in loaded  # clients come from botocore itself (chalicelib.adapters.aws)
    assert not loaded & {*READERS, "jsonschema"} - {"python_calamine"}, loaded & {*READERS, "jsonschema"}


def test_the_first_call_makes_every_aws_client_from_one_botocore_session() -> None:
    """Each botocore session loads the endpoint and service data again: PynamoDB alone would open one per
    model class. Clients are still one per model (each its own connection pool) with PynamoDB's settings,
    also when the sweep's threads are the first to touch a model."""
    probe = (
        "import threading, botocore.session\n"
        "sessions = []\n"
        "init = botocore.session.Session.__init__\n"
        "def counted(self, *args, **kwargs):\n"
        "    sessions.append(self)\n"
        "    init(self, *args, **kwargs)\n"
        "botocore.session.Session.__init__ = counted\n"
        f"{UPLOAD_FIRST_CALL}"
        "from chalicelib.adapters import models\n"
        "from chalicelib.adapters.aws import client\n"
        "clients = {'s3': context.objects._client}\n"
        "def touch(name, make):\n"
        "    clients[name] = make()\n"
        "makers = {m.__name__: (lambda m=m: m._get_connection().connection.client) for m in (\n"
        "    models.Submission, models.RejectedUpload, models.Notice, models.Delivery, models.DeliveryRow)}\n"
        "makers['sqs'] = lambda: client('sqs', 'cn-north-1')\n"
        "threads = [threading.Thread(target=touch, args=item) for item in makers.items()]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "ddb = clients['Submission'].meta.config\n"
        "print(len(sessions), len({id(c) for c in clients.values()}), len({id(c._loader) for c in clients.values()}))\n"
        "print(ddb.retries, ddb.connect_timeout, ddb.read_timeout, ddb.max_pool_connections)\n"
    )
    sessions, config = _run(probe).splitlines()[-2:]
    assert sessions.split() == ["1", "7", "1"]  # one session (one loader) for seven distinct clients
    assert config == "{'total_max_attempts': 5, 'mode': 'standard'} 5 20 10"  # as PynamoDB makes it
