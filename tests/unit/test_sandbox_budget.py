"""The sandbox's limits fit the upload function: the check's deadline leaves time to record and receipt,
and the child's memory leaves room for the parent within the function's size (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.adapters.sandbox import Limits

ROOT = Path(__file__).resolve().parents[2]
RECORD_AND_RECEIPT_SECONDS = 30  # fetch, DynamoDB writes, SMTP with its retries: generous on purpose
PARENT_MB = 300  # the warm function with its readers imported, plus the upload's bytes


def _upload_function() -> dict[str, int]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return config["lambda_functions"]["handle_upload"]


def test_the_checks_deadline_leaves_time_to_record_and_send_the_receipt() -> None:
    limits = Limits.from_env({})
    assert limits.seconds + RECORD_AND_RECEIPT_SECONDS <= _upload_function()["lambda_timeout"]


def test_the_childs_memory_fits_the_function_with_the_parent() -> None:
    limits = Limits.from_env({})
    assert limits.memory_mb + PARENT_MB <= _upload_function()["lambda_memory_size"]


def test_limits_come_from_the_environment() -> None:
    limits = Limits.from_env({"CHECK_MEMORY_MB": "300", "CHECK_SECONDS": "5", "CHECK_START_METHOD": "spawn"})
    assert (limits.memory_mb, limits.seconds, limits.method) == (300, 5, "spawn")
