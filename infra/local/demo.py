"""``make demo``: a realistic month of uploads through the same bucket path a county uses.

Needs ``make run`` in another terminal. Good and flawed material from several units, then a
summary of what the API and the outbox show.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from chalicelib.domain.receipts import STATUS_WORDS
from infra.local.samples import (
    GOOD_ROWS,
    PROGRESS_REPORT,
    SELF_CHECK_REPORT,
    IssueRow,
    issue_list_workbook,
    typical_case_docx,
)
from infra.local.settings import LocalSettings

CAMPAIGN = "xinzhou-2023"
LOCAL_OFFICE_TOKEN = "local-office-token"  # noqa: S105 (the local stage's documented development token)


def _flawed_rows() -> list[IssueRow]:
    """A date nobody can read, an aspect outside the six, an empty measure."""
    first, second, third = GOOD_ROWS
    return [replace(first, deadline="待定"), replace(second, aspect="作风问题"), replace(third, measure="")]


# The month as it happened (Asia/Shanghai): the 2023-05 deadlines fall due on 2023-05-20 23:59:59.
# Each upload carries its own moment, so the board for 2023-05-21 shows on-time, late, missing,
# rejected and incomplete units whatever day the demo is run (see docs/console.md).
DemoUpload = tuple[str, str, str, str, bytes, str]


def uploads() -> list[DemoUpload]:
    """(unit code, deliverable, period, file name, body, received at in the campaign's zone) of one month."""
    return [
        (
            "140981",
            "issue-list",
            "2023-05",
            "原平市5月专项整治事项清单.xlsx",
            issue_list_workbook("原平市交通运输局", GOOD_ROWS),
            "2023-05-18T10:12:00+08:00",
        ),
        (
            "140981",
            "typical-case",
            "2023-05",
            "原平市5月典型案例.docx",
            typical_case_docx("原平市", "规范治超执法、取消罚款指标"),
            "2023-05-18T10:20:00+08:00",
        ),
        (
            "140981",
            "progress-report",
            "2023-05",
            "原平市5月工作推进情况.txt",
            PROGRESS_REPORT.format(unit="原平市", month=5).encode(),
            "2023-05-19T16:05:00+08:00",
        ),
        (
            "140925",
            "issue-list",
            "2023-05",
            "宁武县5月清单.xlsx",
            issue_list_workbook("宁武县交通运输局", _flawed_rows()),
            "2023-05-19T17:40:00+08:00",
        ),
        (
            "140925",
            "issue-list",
            "2023-05",
            "宁武县5月清单（修改后）.xlsx",
            issue_list_workbook("宁武县交通运输局", GOOD_ROWS),
            "2023-05-21T09:30:00+08:00",
        ),
        (
            "140925",
            "typical-case",
            "2023-05",
            "宁武县5月典型案例.docx",
            typical_case_docx("宁武县", "清理临时执法点位、还路于民"),
            "2023-05-21T09:35:00+08:00",
        ),
        (
            "140923",
            "self-check-report",
            "2023-05",
            "代县自查报告.txt",
            SELF_CHECK_REPORT.format(unit="代县").encode(),
            "2023-05-06T11:00:00+08:00",
        ),
        (
            "140923",
            "issue-list",
            "2023-05",
            "代县5月清单.xlsx",
            issue_list_workbook("代县交通运输局", GOOD_ROWS),
            "2023-05-20T15:00:00+08:00",
        ),
        (
            "140931",
            "issue-list",
            "2023-05",
            "保德县5月清单.doc",
            b"\xd0\xcf\x11\xe0 legacy word file",
            "2023-05-20T18:00:00+08:00",
        ),
        (
            "140971",
            "progress-report",
            "2023-05",
            "五台山风景区5月工作推进情况.md",
            PROGRESS_REPORT.format(unit="五台山风景区", month=5).encode(),
            "2023-05-20T11:00:00+08:00",
        ),
        (
            "140900",
            "issue-list",
            "2023-05",
            "忻府区5月清单.xlsx",
            issue_list_workbook("忻府区交通运输局", GOOD_ROWS),
            "2023-05-17T09:00:00+08:00",
        ),
    ]


def put_on_campaign_clock(s3: Any, bucket: str, key: str, body: bytes, received_at: str) -> str:
    """Put an object whose S3 event carries ``received_at`` (the local stack's clock for it, see moto_stack)."""
    instant = datetime.fromisoformat(received_at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"local-event-time": instant})["VersionId"]


def upload_month(s3: Any, bucket: str, samples: Path) -> list[str]:
    """Put the month's uploads through the county path; keep a copy of each file in ``samples``."""
    samples.mkdir(parents=True, exist_ok=True)
    lines = []
    for unit, deliverable, period, file_name, body, received_at in uploads():
        (samples / file_name).write_bytes(body)  # to open, edit and upload again by hand
        key = f"uploads/{CAMPAIGN}/{unit}/{deliverable}/{period}/{file_name}"
        version = put_on_campaign_clock(s3, bucket, key, body, received_at)
        lines.append(f"uploaded  {key}  at {received_at} ({len(body)} bytes, version {version})")
        time.sleep(0.2)
    return lines


def main() -> None:
    settings = LocalSettings.from_env()
    s3 = boto3.client(
        "s3",
        endpoint_url=settings.aws_endpoint,
        region_name=settings.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    bucket = settings.template_parameters["BucketName"]
    samples = settings.outbox_dir.parent / "samples"
    for line in upload_month(s3, bucket, samples):
        print(line)
    time.sleep(3)
    url = f"{settings.api_url}/campaigns/{CAMPAIGN}/submissions?limit=20"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {LOCAL_OFFICE_TOKEN}"})  # noqa: S310
    with urllib.request.urlopen(request) as response:  # noqa: S310 (http on loopback)
        page = json.load(response)
    print(f"\nGET {urllib.parse.unquote(url)}")
    for s in page["items"]:
        when, unit = s["received_at"]["local"], s["unit"]["name"]
        status = STATUS_WORDS.get(s["status"], s["status"])
        print(f"  {when}  {unit:<6} {s['deliverable']['id']:<18} {status:<6} {s['file_name']}")
    eml = sorted(settings.outbox_dir.glob("*.eml"))
    print(f"\n{len(eml)} emails in {settings.outbox_dir}/ (open any .eml with a mail client or a text editor)")
    print(f"the uploaded files are in {samples}/")


if __name__ == "__main__":
    main()
