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

import boto3

from chalicelib.domain.receipts import STATUS_WORDS
from infra.local.samples import GOOD_ROWS, SELF_CHECK_REPORT, IssueRow, issue_list_workbook
from infra.local.settings import LocalSettings

CAMPAIGN = "xinzhou-2023"
LOCAL_OFFICE_TOKEN = "local-office-token"  # noqa: S105 (the local stage's documented development token)


def _flawed_rows() -> list[IssueRow]:
    """A date nobody can read, an aspect outside the six, an empty measure."""
    first, second, third = GOOD_ROWS
    return [replace(first, deadline="六月底"), replace(second, aspect="作风问题"), replace(third, measure="")]


def uploads() -> list[tuple[str, str, str, str, bytes]]:
    """(unit code, deliverable, period, file name, body) of one month's material."""
    return [
        (
            "140981",
            "issue-list",
            "2023-05",
            "原平市5月专项整治事项清单.xlsx",
            issue_list_workbook("原平市交通运输局", GOOD_ROWS),
        ),
        (
            "140925",
            "issue-list",
            "2023-05",
            "宁武县5月清单.xlsx",
            issue_list_workbook("宁武县交通运输局", _flawed_rows()),
        ),
        (
            "140925",
            "issue-list",
            "2023-05",
            "宁武县5月清单（修改后）.xlsx",
            issue_list_workbook("宁武县交通运输局", GOOD_ROWS),
        ),
        ("140923", "self-check-report", "2023-05", "代县自查报告.txt", SELF_CHECK_REPORT.format(unit="代县").encode()),
        ("140931", "issue-list", "2023-05", "保德县5月清单.doc", b"\xd0\xcf\x11\xe0 legacy word file"),
        (
            "140971",
            "progress-report",
            "2023-05",
            "五台山风景区5月工作推进情况.md",
            "# 工作推进情况\n\n本月完成……".encode(),
        ),
        ("140900", "issue-list", "2023-05", "忻府区5月清单.xlsx", issue_list_workbook("忻府区交通运输局", GOOD_ROWS)),
    ]


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
    samples.mkdir(parents=True, exist_ok=True)
    for unit, deliverable, period, file_name, body in uploads():
        (samples / file_name).write_bytes(body)  # to open, edit and upload again by hand
        key = f"uploads/{CAMPAIGN}/{unit}/{deliverable}/{period}/{file_name}"
        version = s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]
        print(f"uploaded  {key}  ({len(body)} bytes, version {version})")
        time.sleep(0.2)
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
