"""Each function's role grants exactly the AWS actions its code calls: no more, no fewer.

The calls are observed, not declared: every botocore call (boto3 clients and PynamoDB alike go
through ``BaseClient._make_api_call``) is recorded while a Chalice handler runs, labelled with
the handler, as uploads go through the bucket, queries and the county portal through the HTTP API
of the local stack, and the scheduled sweep runs (twice, as a retry would). Presigning makes no
request but is authorised as the signer's call, so presigned POSTs count as ``s3:PutObject``.
The Chalice token authorizer makes no AWS call (its role only writes logs). The observed actions
are compared with the Allow statements of that function's role in the packaged template
(tests/unit/test_deploy_template.py builds it once per session).

Not observed, granted on purpose: the Lambda service's own SQS poller actions for the queue
consumer (``sqs:ReceiveMessage``/``DeleteMessage``/``GetQueueAttributes``) and the CloudWatch
Logs actions of the runtime. Mail goes through the SMTP relay (``MAIL_TRANSPORT=smtp``, as in
prod, since SES is not offered in the AWS China regions), so no ``ses:`` action is granted; a
stage that switches to SES must grant ``ses:SendEmail`` and ``ses:SendRawEmail`` (SES v2 with raw
content) and extend this test. Secrets are read at run time, as in AWS: the exercise runs with
``SMTP_SECRET_ID`` and ``LINK_SIGNING_KEY_SECRET_ID`` naming secrets in the local stack's Secrets Manager
and no plain ``LINK_SIGNING_KEY``, so ``secretsmanager:GetSecretValue`` is observed for the functions that
send mail or compose and check county links (chalicelib.adapters.secrets).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.client
import botocore.signers
import pytest
from chalice.app import Chalice, EventSourceHandler

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import LOCAL, OFFICE_TOKEN, api_get, mails_with_notice_key, wait_for
from tests.unit.test_deploy_template import (
    LOG_ACTIONS,
    allow_statements,
    as_list,
    functions,
    packaged_template,
    role_of,
)

CAMPAIGN = "xinzhou-2023"
SQS_POLLER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
API_HANDLER = "app.app"  # the Handler of Chalice's REST API function

# Granted for a code path the exercise below does not reach, each with the path; an entry that is
# observed after all, or no longer granted, fails the test so that this list cannot go stale.
NOT_EXERCISED: dict[str, dict[str, str]] = {}

# Operations whose IAM action is not "<service>:<operation>".
S3_ACTIONS = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket", "ListObjectVersions": "ListBucketVersions"}


def iam_actions(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    if service == "s3":
        action = f"s3:{S3_ACTIONS.get(operation, operation)}"
        if action == "s3:GetObject" and params.get("VersionId"):
            # Reading a named version is authorised as s3:GetObjectVersion.
            return {action, "s3:GetObjectVersion"}
        return {action}
    return {f"{service}:{operation}"}


class CallRecorder:
    """(handler, IAM action) for every AWS call made while a Chalice handler runs on this thread."""

    def __init__(self) -> None:
        self.calls: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._current = threading.local()

    def handler(self) -> str | None:
        return getattr(self._current, "handler", None)

    def run_as(self, handler: str, call: Any, *args: Any) -> Any:
        previous = self.handler()
        self._current.handler = handler
        try:
            return call(*args)
        finally:
            self._current.handler = previous

    def record(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        handler = self.handler()
        if handler is None:  # the test's own calls, the event pump's polling
            return
        service = client.meta.service_model.signing_name  # the IAM prefix (sesv2 signs as "ses")
        self.record_action(*iam_actions(service, operation, params))

    def record_action(self, *actions: str) -> None:
        handler = self.handler()
        if handler is None:
            return
        with self._lock:
            self.calls.setdefault(handler, set()).update(actions)


@pytest.fixture(scope="module")
def observed(system: Any) -> dict[str, set[str]]:
    """IAM actions per handler (``app.app``, ``app.handle_upload``) seen while exercising the system."""
    recorder = CallRecorder()
    make_api_call = botocore.client.BaseClient._make_api_call
    rest_call, event_call = Chalice.__call__, EventSourceHandler.__call__

    def recording_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        recorder.record(client, operation, params)
        return make_api_call(client, operation, params)

    def rest_handler(app: Chalice, event: Any, context: Any) -> Any:
        return recorder.run_as(API_HANDLER, rest_call, app, event, context)

    def event_handler(handler: EventSourceHandler, event: Any, context: Any) -> Any:
        return recorder.run_as(f"app.{handler.func.__name__}", event_call, handler, event, context)

    # Presigning makes no request, but what it signs is authorised as the signer's own call.
    presign_post = botocore.signers.S3PostPresigner.generate_presigned_post
    presign_url = botocore.signers.RequestSigner.generate_presigned_url

    def recording_presign_post(signer: Any, request_dict: Any, *args: Any, **kwargs: Any) -> Any:
        recorder.record_action("s3:PutObject")
        return presign_post(signer, request_dict, *args, **kwargs)

    def recording_presign_url(signer: Any, request_dict: Any, operation_name: str, *args: Any, **kwargs: Any) -> Any:
        versioned = bool((request_dict.get("query_string") or {}).get("versionId"))
        recorder.record_action(
            *iam_actions(signer._signing_name, operation_name, {"VersionId": "v"} if versioned else {})
        )
        return presign_url(signer, request_dict, operation_name, *args, **kwargs)

    # Locally every function shares one process and so one secret cache: after the first function read a
    # secret, the next one's read is a cache hit, where in AWS (a process per function) it is a call. So a
    # read is recorded as the reading function's GetSecretValue, whether or not the cache answered it.
    import chalicelib.adapters.secrets

    secret_string = chalicelib.adapters.secrets.secret_string

    def recording_secret_string(secret_id: str, env: Any = None) -> str:
        recorder.record_action("secretsmanager:GetSecretValue")
        return secret_string(secret_id, env)

    with pytest.MonkeyPatch.context() as patch:
        _secrets_from_secrets_manager(system, patch)
        patch.setattr(chalicelib.adapters.secrets, "secret_string", recording_secret_string)
        patch.setattr(botocore.client.BaseClient, "_make_api_call", recording_call)
        patch.setattr(botocore.signers.S3PostPresigner, "generate_presigned_post", recording_presign_post)
        patch.setattr(botocore.signers.RequestSigner, "generate_presigned_url", recording_presign_url)
        patch.setattr(Chalice, "__call__", rest_handler)
        patch.setattr(EventSourceHandler, "__call__", event_handler)
        _exercise(system)
        _exercise_export_job(system, patch)
        _exercise_sweep(system, patch)
    _forget_settings(system)  # the other modules' tests run with the plain local variables again
    return recorder.calls


def _forget_settings(system: Any) -> None:
    import chalicelib.config

    chalicelib.config.settings.cache_clear()
    system.app_module._intake_context.cache_clear()


def _secrets_from_secrets_manager(system: Any, patch: pytest.MonkeyPatch) -> None:
    """As in AWS: the functions hold the secrets' names, never their values (docs/deploy.md)."""
    import os

    # The bucket's s3:TestEvent is the pump's first message: once it is handled, the upload function's context
    # is built and no other thread can store a context made from the old settings after we forget them.
    wait_for(lambda: any("s3:TestEvent" in body for body in system.pump.bodies), timeout=30)
    tag = uuid.uuid4().hex[:8]
    secrets = system.client("secretsmanager")
    link_key = os.environ.get("LINK_SIGNING_KEY") or "iam-test-link-signing-key-" + "x" * 32
    link_secret = secrets.create_secret(Name=f"campaign-reporting/link-signing-key-{tag}", SecretString=link_key)
    # The local SMTP sink has no AUTH: an empty username means no login, but the secret is still read.
    smtp_secret = secrets.create_secret(
        Name=f"campaign-reporting/smtp-{tag}", SecretString=json.dumps({"username": "", "password": ""})
    )
    patch.setenv("LINK_SIGNING_KEY_SECRET_ID", link_secret["Name"])
    patch.setenv("SMTP_SECRET_ID", smtp_secret["Name"])
    patch.delenv("LINK_SIGNING_KEY", raising=False)
    _forget_settings(system)


def _upload(system: Any, unit: str, deliverable: str, period: str, file_name: str, body: bytes) -> str:
    key = f"uploads/{CAMPAIGN}/{unit}/{deliverable}/{period}/{file_name}"
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]


def _exercise(system: Any) -> None:
    """Every intake path (accepted with rows, rejected, unknown unit, redelivered) and the API's queries."""
    tag = uuid.uuid4().hex[:8]
    delivered = system.pump.delivered
    accepted = _upload(
        system,
        "140981",
        "issue-list",
        "2023-06",
        f"原平市清单{tag}.xlsx",
        issue_list_workbook("原平市交通运输局", GOOD_ROWS),
    )
    rejected = _upload(system, "140921", "issue-list", "2023-06", f"定襄县清单{tag}.docx", b"PK\x03\x04 not a workbook")
    _upload(system, "140900", "issue-list", "2023-06", f"不存在{tag}.xlsx", b"x")
    for unit, version in (("140981", accepted), ("140921", rejected)):
        wait_for(lambda u=unit, v=version: mails_with_notice_key(f"receipt|{u}#{v}"))
    wait_for(lambda: system.pump.delivered >= delivered + 3)
    # At-least-once delivery: the same S3 event again finds its records instead of writing them.
    [body] = [b for b in system.pump.bodies if accepted in b]
    system.client("sqs").send_message(QueueUrl=system.outputs.queue_url, MessageBody=body)
    wait_for(lambda: system.pump.delivered >= delivered + 4)

    status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="原平市", limit="1")
    assert status == 200 and page["next_cursor"]
    status, _ = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="原平市", limit="1", cursor=page["next_cursor"])
    assert status == 200
    status, _ = api_get(f"/campaigns/{CAMPAIGN}/submissions", limit="5")  # the campaign feed (gsi2)
    assert status == 200
    status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="140921")
    assert status == 200
    assert {s["version_id"]: s["status"] for s in page["items"]}[rejected] == "rejected"
    status, _ = api_get(f"/campaigns/{CAMPAIGN}/packages", unit="原平市")
    assert status == 200
    _exercise_export_link()
    _exercise_county_portal()
    _exercise_console(accepted)


def _exercise_export_link() -> None:
    """issues.xlsx asked for without an Accept header: the API puts the file under exports/ and redirects
    to a presigned GET of it (urllib follows the 303)."""
    request = urllib.request.Request(
        f"{LOCAL.api_url}/campaigns/{CAMPAIGN}/issues.xlsx", headers={"Authorization": f"Bearer {OFFICE_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and response.read(2) == b"PK"


def _exercise_export_job(system: Any, patch: pytest.MonkeyPatch) -> None:
    """Issue 17: an export above the threshold (forced to 0 rows here) is a job: the API records it and sends
    its message; the export worker reads the ledger, puts the workbook under exports/ and marks the job; the
    status route signs the link. Then the same message again (SQS redelivers): the worker only reads the job."""
    import requests

    patch.setenv("EXPORT_SYNC_MAX_ROWS", "0")
    _forget_settings(system)
    started = requests.get(
        f"{LOCAL.api_url}/campaigns/{CAMPAIGN}/issues.xlsx",
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}"},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    job = started.json()

    def done() -> dict[str, Any] | None:
        status, answer = api_get(job["status_url"])
        assert status == 200 and answer["status"] != "failed", answer
        return answer if answer["status"] == "done" else None

    link = wait_for(done, timeout=60)["url"]
    assert requests.get(link, timeout=30).content[:2] == b"PK"
    handled = system.export_pump.delivered
    system.client("sqs").send_message(
        QueueUrl=system.outputs.export_queue_url, MessageBody=json.dumps({"campaign": CAMPAIGN, "job": job["job"]})
    )
    wait_for(lambda: system.export_pump.delivered > handled, timeout=30)
    patch.delenv("EXPORT_SYNC_MAX_ROWS")
    _forget_settings(system)


def _exercise_console(version: str) -> None:
    """The office signs in to the console and downloads an original (a presigned GET of that version)."""
    import requests

    from tests.integration.test_console import _signed_in

    office = _signed_in()
    _, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit="原平市")
    item = next(s for s in page["items"] if s["version_id"] == version)
    answer = office.get(
        f"{LOCAL.api_url}/office/download",
        params={"key": item["object_key"], "version": version, "name": item["file_name"]},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303
    assert requests.get(answer.headers["Location"], timeout=10).status_code == 200
    for path in ("/office/refused", "/office/unit?unit=140981", "/office/charts"):
        assert office.get(f"{LOCAL.api_url}{path}", timeout=20).status_code == 200


def _post(path: str, body: dict[str, Any], token: str | None = OFFICE_TOKEN) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(
        f"{LOCAL.api_url}{urllib.parse.quote(path)}", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _exercise_county_portal() -> None:
    """The office issues an upload link; the county opens it, gets a presigned POST, sees its history."""
    status, link = _post(
        f"/campaigns/{CAMPAIGN}/upload-links",
        {"unit": "140981", "deliverable": "issue-list", "period": "2023-06", "valid_days": 1},
    )
    assert status == 201, link
    path = link["path"]
    with urllib.request.urlopen(f"{LOCAL.api_url}{path}", timeout=10) as page:
        assert page.status == 200
    status, presigned = _post(
        f"{urllib.parse.unquote(path)}/presign",
        {"deliverable": "issue-list", "file_name": "清单.xlsx", "size": 1000},
        None,
    )
    assert status == 200, presigned
    status, _ = api_get(f"{urllib.parse.unquote(path)}/submissions", token=None)
    assert status == 200


class _NoMail:
    def send(self, mail: Any) -> None:
        raise AssertionError("a dry run sends nothing")


def _days_other_tests_sweep() -> set[date]:
    """Days named in the other test modules: notices are sent once per (deadline, unit, kind, day) in the
    session's shared stack, so sweeping one of those days here would leave them nothing to send."""
    days = set()
    for path in Path(__file__).resolve().parents[1].rglob("test_*.py"):
        if path.name != Path(__file__).name:
            for found in re.findall(r"\b(20\d\d)-(\d\d)-(\d\d)\b", path.read_text(encoding="utf-8")):
                with contextlib.suppress(ValueError):
                    days.add(date(*map(int, found)))
    return days


def _a_morning_with_notices_to_send() -> datetime:
    """09:00 in Xinzhou on a campaign day that owes notices not sent yet and no other test sweeps."""
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.domain.registry import default_registry
    from chalicelib.services.sweep import deadlines_due, run_sweep

    campaign, store = default_registry().campaigns[CAMPAIGN], default_store()
    taken = _days_other_tests_sweep()
    day = date(2023, 4, 1)
    while day < date(2024, 1, 1):
        if day not in taken and deadlines_due(campaign, day):
            as_of = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
            if any(i.outcome == "would-send" for i in run_sweep(store, campaign, as_of, _NoMail(), dry_run=True).items):
                return as_of
        day += timedelta(days=1)
    raise AssertionError("no campaign day owes a notice")


def _exercise_sweep(system: Any, patch: pytest.MonkeyPatch) -> None:
    """The scheduled function as EventBridge invokes it, on a day that owes notices; then its retry."""
    import chalicelib.domain.timeutil
    from infra.local.pump import LambdaContext

    as_of = _a_morning_with_notices_to_send()
    patch.setattr(chalicelib.domain.timeutil, "now_utc", lambda: as_of)
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": as_of.isoformat().replace("+00:00", "Z"),
        "region": system.settings.region,
        "resources": ["arn:aws-cn:events:cn-north-1:123456789012:rule/daily-sweep"],
        "detail": {},
    }
    first = system.app_module.daily_sweep(event, LambdaContext("daily_sweep"))
    assert first[CAMPAIGN].get("sent"), first
    # A retry of the same invocation finds every notice sent and sends nothing.
    again = system.app_module.daily_sweep(event, LambdaContext("daily_sweep"))
    assert set(again[CAMPAIGN]) == {"already-sent"}, again


def test_each_role_grants_exactly_what_its_function_calls(observed: dict[str, set[str]]) -> None:
    sam = packaged_template()
    by_handler = {f["Properties"]["Handler"]: (name, f) for name, f in functions(sam).items()}
    assert set(observed) <= set(by_handler), observed

    for handler, (name, function) in by_handler.items():
        _, role = role_of(sam, function)
        granted = {a for s in allow_statements(role) for a in as_list(s["Action"])}
        unreached = set(NOT_EXERCISED.get(handler, {}))
        assert not unreached & observed.get(handler, set()), f"{name}: exercised after all, drop from NOT_EXERCISED"
        expected = set(observed.get(handler, set())) | LOG_ACTIONS | unreached
        if any(e["Type"] == "SQS" for e in function["Properties"].get("Events", {}).values()):
            expected |= SQS_POLLER_ACTIONS
        assert granted == expected, (
            f"{name}: granted but never called {sorted(granted - expected)}; "
            f"called but not granted {sorted(expected - granted)}"
        )


def test_the_upload_function_only_reads_originals_and_the_api_never_scans_or_writes(
    observed: dict[str, set[str]],
) -> None:
    """What the README promises, as observed: originals are read, never modified; the API reads by key."""
    upload = observed["app.handle_upload"]
    assert {a for a in upload if a.startswith("s3:")} == {"s3:GetObject", "s3:GetObjectVersion"}
    api = observed[API_HANDLER]
    # Its one write: recording an export job (issue 17), and the role allows PutItem on export-job keys only.
    assert {a for a in api if a.startswith("dynamodb:")} <= {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"}
    sam = packaged_template()
    _, role = role_of(sam, functions(sam)["APIHandler"])
    [put] = [s for s in allow_statements(role) if "dynamodb:PutItem" in as_list(s["Action"])]
    assert put["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["C#*#EXPORT#*"]}}
    # The export worker reads the ledger, marks its jobs (UpdateItem on export-job keys only), puts exports.
    worker = observed["app.build_export"]
    assert {a for a in worker if a.startswith("s3:")} == {"s3:PutObject"}
    assert {a for a in worker if a.startswith("dynamodb:")} == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
    }
    _, worker_role = role_of(sam, functions(sam)["BuildExport"])
    [update] = [s for s in allow_statements(worker_role) if "dynamodb:UpdateItem" in as_list(s["Action"])]
    assert update["Condition"] == put["Condition"]
    # The API touches S3 by signing (county uploads: a presigned POST; the office's downloads of an original
    # version: a presigned GET) and, its only request of its own, by putting an export under exports/ for a
    # client whose Accept cannot take the bytes (issue 19 item 7; the role allows exports/* only).
    assert {a for a in api if a.startswith("s3:")} == {"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"}
