"""Uploads and notices are counted as CloudWatch metrics (embedded metric format log lines)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from infra.local.pump import LambdaContext, lambda_sqs_event
from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import wait_for


def _emf_lines(text: str, version: str | None = None) -> list[dict[str, Any]]:
    """EMF lines printed meanwhile; with ``version``, only that upload's (the pump may be busy too)."""
    lines = [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]
    return [line for line in lines if version is None or line.get("version_id") == version]


def test_an_upload_is_counted_with_its_validation_time(system: Any, capsys: pytest.CaptureFixture[str]) -> None:
    key = "uploads/xinzhou-2023/140932/issue-list/2023-08/偏关县8月清单.xlsx"
    body = issue_list_workbook("偏关县交通运输局", GOOD_ROWS)
    version = system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]
    [event_body] = wait_for(lambda: [b for b in system.pump.bodies if version in b])
    # The pump already delivered it once; deliver the same event again straight to the handler, with a
    # new copy of the event so it is a first delivery: change nothing but capture what it prints.
    capsys.readouterr()
    event = json.loads(event_body)
    event["Records"][0]["eventTime"] = "2023-08-19T02:00:00.000Z"  # a distinct (earlier) receipt → a new record
    message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": json.dumps(event)}
    system.app_module.handle_upload(
        lambda_sqs_event(message, system.outputs.queue_arn, system.settings.region), LambdaContext("handle_upload")
    )
    [emf] = _emf_lines(capsys.readouterr().out, version)
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "CampaignReporting"
    assert {m["Name"] for m in directive["Metrics"]} == {"UploadsAccepted", "ValidationTime"}
    assert emf["UploadsAccepted"] == [1.0] and emf["ValidationTime"][0] > 0
    # A redelivery of the very same event is not counted again.
    system.app_module.handle_upload(
        lambda_sqs_event(message, system.outputs.queue_arn, system.settings.region), LambdaContext("handle_upload")
    )
    assert _emf_lines(capsys.readouterr().out, version) == []


def test_the_sweep_counts_notices_by_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.adapters import metrics

    metrics.notices({"sent": 12, "failed": 1, "already-sent": 40})
    metrics.flush()
    [emf] = _emf_lines(capsys.readouterr().out)
    assert (emf["NoticesSent"], emf["NoticesFailed"], emf["NoticesRejected"]) == ([12.0], [1.0], [0.0])
