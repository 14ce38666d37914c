"""Through the doors users use: a file put into the bucket over HTTP, the event pump, the
handler, an item in the table, the HTTP API, and the receipt email in the SMTP sink."""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import api_get, dynamo_store, mails_with_notice_key, wait_for

CAMPAIGN = "xinzhou-2023"


def _key(unit: str, deliverable: str, period: str, file_name: str) -> str:
    return f"uploads/{CAMPAIGN}/{unit}/{deliverable}/{period}/{file_name}"


def _put(system: Any, key: str, body: bytes) -> str:
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]


def _submissions(unit: str, **params: str) -> list[dict[str, Any]]:
    status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit=unit, **params)
    assert status == 200, page
    return page["items"]


def _wait_for_version(unit: str, version: str) -> dict[str, Any]:
    return wait_for(lambda: next((s for s in _submissions(unit) if s["version_id"] == version), None))


def _receipts(unit: str, version: str) -> list[Any]:
    return mails_with_notice_key(f"receipt|{unit}#{version}")


def test_an_upload_with_a_chinese_key_is_recorded_and_visible_in_the_api(system: Any) -> None:
    key = _key("140981", "issue-list", "2023-05", "原平市 5月清单（第1版）+修订.xlsx")
    body = issue_list_workbook("原平市交通运输局", GOOD_ROWS)
    version = _put(system, key, body)

    record = _wait_for_version("140981", version)

    assert record["unit"] == {"code": "140981", "name": "原平市"}
    assert record["deliverable"]["id"] == "issue-list"
    assert (record["period"], record["period_label"]) == ("2023-05", "2023年5月")
    assert record["object_key"] == key
    assert record["file_name"] == "原平市 5月清单（第1版）+修订.xlsx"
    assert record["size"] == len(body)
    assert record["sha256"] == hashlib.sha256(body).hexdigest()
    assert record["status"] == "accepted", record["errors"]
    assert record["received_at"]["utc"].endswith("Z")
    assert record["received_at"]["local"].endswith("+08:00")
    # The same record, asked for by Chinese name and by short name.
    for name in ("原平市", "原平"):
        assert any(s["version_id"] == version for s in _submissions(name))

    [mail] = wait_for(lambda: _receipts("140981", version))
    assert mail["To"] == "liaison.140981@example.cn"
    assert "原平市" in mail["Subject"] and "2023年5月" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert hashlib.sha256(body).hexdigest() in text and version in text


def test_a_redelivered_notification_yields_one_submission_and_one_email(system: Any) -> None:
    key = _key("140925", "issue-list", "2023-06", "宁武县6月清单.xlsx")
    version = _put(system, key, issue_list_workbook("宁武县", GOOD_ROWS))
    _wait_for_version("140925", version)
    # The record is visible before the handler returns; wait for the pump to finish the message.
    [event_body] = wait_for(lambda: [b for b in system.pump.bodies if version in b])

    # At-least-once delivery: the same S3 event arrives again, three times at once.
    sqs = system.client("sqs")
    delivered_before = system.pump.delivered
    senders = [
        threading.Thread(target=sqs.send_message, kwargs={"QueueUrl": system.outputs.queue_url, "MessageBody": b})
        for b in [event_body] * 3
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    wait_for(lambda: system.pump.delivered >= delivered_before + 3)
    # And once more straight into the handler, as Lambda would retry after a timeout.
    from infra.local.pump import LambdaContext, lambda_sqs_event

    message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": event_body}
    system.app_module.handle_upload(
        lambda_sqs_event(message, system.outputs.queue_arn, system.settings.region), LambdaContext("handle_upload")
    )

    assert [s["version_id"] for s in _submissions("140925")].count(version) == 1
    assert len(_receipts("140925", version)) == 1


def test_a_second_upload_of_the_same_key_is_a_second_version_and_the_first_stays(system: Any) -> None:
    key = _key("140931", "issue-list", "2023-07", "保德县7月清单.xlsx")
    first_body, second_body = b"first draft", b"corrected draft"
    first = _put(system, key, first_body)
    second = _put(system, key, second_body)
    assert first != second

    _wait_for_version("140931", first)
    _wait_for_version("140931", second)
    versions = [s["version_id"] for s in _submissions("140931")]
    assert versions.index(second) < versions.index(first)  # newest first

    s3 = system.client("s3")
    original = s3.get_object(Bucket=system.outputs.bucket, Key=key, VersionId=first)["Body"].read()
    assert original == first_body
    assert s3.get_object(Bucket=system.outputs.bucket, Key=key)["Body"].read() == second_body


def test_an_upload_in_a_format_the_deliverable_does_not_take_is_rejected_in_chinese(system: Any) -> None:
    key = _key("140921", "issue-list", "2023-05", "定襄县5月清单.docx")
    version = _put(system, key, b"PK\x03\x04 not really a workbook")

    record = _wait_for_version("140921", version)

    assert record["status"] == "rejected"
    [error] = record["errors"]
    assert error["code"] == "FORMAT_NOT_ACCEPTED"
    assert "定襄县5月清单.docx" in error["message"] and "另存为 .xlsx" in error["message"]
    [mail] = wait_for(lambda: _receipts("140921", version))
    assert "未通过" in mail["Subject"]
    assert "另存为 .xlsx" in mail.get_body(preferencelist=("plain",)).get_content()


def test_an_upload_under_an_unknown_unit_is_kept_and_reported_not_dropped(system: Any) -> None:
    key = _key("140900", "issue-list", "2023-05", "不存在的单位.xlsx")
    version = _put(system, key, b"x")

    rejected = wait_for(lambda: [r for r in dynamo_store().refused_uploads(limit=1000) if r.version_id == version])
    assert rejected[0].code == "UNKNOWN_UNIT" and "140900" in rejected[0].message
    # Nothing was written for any unit, and the original is still in the bucket.
    assert all(s["object_key"] != key for s in _submissions_everywhere())
    head = system.client("s3").head_object(Bucket=system.outputs.bucket, Key=key, VersionId=version)
    assert head["ContentLength"] == 1


def _submissions_everywhere() -> list[dict[str, Any]]:
    status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", limit="100")
    assert status == 200
    return page["items"]


def test_history_pages_newest_first_with_an_opaque_cursor(system: Any) -> None:
    versions = [
        _put(system, _key("140924", "progress-report", "2023-05", f"繁峙县进展{i}.docx"), b"r") for i in range(3)
    ]
    for version in versions:
        _wait_for_version("140924", version)

    # narrowed to this test's own uploads: other tests of the session upload for the same unit
    status, first = api_get(
        f"/campaigns/{CAMPAIGN}/submissions", unit="繁峙县", deliverable="progress-report", limit="2"
    )
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    status, second = api_get(
        f"/campaigns/{CAMPAIGN}/submissions",
        unit="繁峙县",
        deliverable="progress-report",
        period="2023-05",
        limit="2",
        cursor=first["next_cursor"],
    )
    assert status == 200
    seen = [s["version_id"] for s in first["items"] + second["items"]]
    assert seen == list(reversed(versions))
    assert not second["next_cursor"]


def test_the_campaign_feed_lists_every_unit_newest_first(system: Any) -> None:
    version = _put(system, _key("140927", "self-check-report", "2023-04", "神池县自查报告.docx"), b"report")
    _wait_for_version("140927", version)
    feed = _submissions_everywhere()
    assert any(s["version_id"] == version for s in feed)
    times = [s["received_at"]["utc"] for s in feed]
    assert times == sorted(times, reverse=True)


def test_api_errors_are_json_and_say_what_to_do(system: Any) -> None:
    status, body = api_get("/campaigns/no-such-campaign/submissions")
    assert status == 404 and "未找到" in body["Message"]
    status, body = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="忻府区")
    assert status == 400 and "140981" in body["Message"]
    status, body = api_get(f"/campaigns/{CAMPAIGN}/submissions", limit="100000")
    assert status == 400 and "limit" in body["Message"]
    status, body = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="原平市", cursor="bm90LWEta2V5")
    assert status == 400 and "cursor" in body["Message"]
