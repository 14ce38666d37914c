"""Ingest one uploaded object: resolve what it is for, fingerprint and check it, record it,
store its rows under its version, move the unit's pointer, tell the unit.

Every step is idempotent, so a redelivered event (or a retry after a crash at any step)
completes the work without doubling it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal

from aws_lambda_powertools import Logger

from chalicelib.adapters import metrics
from chalicelib.adapters.mail import MailSender
from chalicelib.adapters.objects import FetchedObject, ObjectStore
from chalicelib.domain.findings import Finding, SendOutcome, SubmissionStatus
from chalicelib.domain.ledger import aspect_tally
from chalicelib.domain.outgoing import NoticeKey
from chalicelib.domain.packages import legacy_row_problems
from chalicelib.domain.receipts import Receipt, RefusedKeyNotice, compose_receipt, compose_refused_receipt
from chalicelib.domain.registry import Registry
from chalicelib.domain.s3_events import ObjectRef
from chalicelib.domain.store import NULL_VERSION, CampaignStore, DeliveryEvent, RefusedUpload, SubmissionRecord
from chalicelib.domain.timeutil import iso_local, now_utc
from chalicelib.domain.upload_keys import UploadKeyError, UploadTarget, refused_key_owner, resolve_upload_key
from chalicelib.domain.validation import Verdict, check_envelope, rejected
from chalicelib.services.checking import check_bounded
from chalicelib.services.contacts import current_contacts
from chalicelib.services.notices import send_once
from chalicelib.services.unit_links import unit_upload_link

logger = Logger(child=True)


@dataclass(frozen=True)
class IntakeContext:
    registry: Registry
    objects: ObjectStore
    store: CampaignStore
    mail: MailSender
    max_upload_bytes: int


# An object whose reading keeps crashing (not throttling: that is retried until the DLQ) is rejected on
# this delivery instead of being retried until the DLQ: the queue holds 5 receives, so the unit hears
# back within minutes and the object is kept for a person to look at.
POISON_AFTER_ATTEMPTS = 3
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


class ReceiptNotSentError(RuntimeError):
    """The upload is recorded but its receipt is not sent yet: fail the message so SQS delivers it again.

    Everything before the receipt is idempotent and the notice log sends at most once, so a retry
    only finishes the receipt; past the queue's 5 receives the message waits in the DLQ for
    ``cli replay-dlq``. Nothing is lost and nothing is sent twice.
    """


def is_transient(exc: BaseException) -> bool:
    """Throttling, 5xx, timeouts and connection trouble: worth retrying, never the file's fault."""
    from botocore.exceptions import BotoCoreError, ClientError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BotoCoreError | OSError):
            return True
        if isinstance(current, ClientError):
            error = current.response.get("Error", {})
            status = current.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return error.get("Code") in _THROTTLING_CODES or int(status) >= 500
        current = current.__cause__ or getattr(current, "cause", None)
    return False


def _poison(target: UploadTarget, attempt: int) -> Finding:
    return Finding(
        "UNREADABLE_FILE",
        f"系统已尝试{attempt}次仍无法读取文件“{target.file_name}”，文件可能已损坏。"
        "请用 Excel、WPS 或 Word 打开确认无误后另存为新文件重新上传；如仍有问题请联系市交通运输局。",
    )


@dataclass(frozen=True)
class IntakeOutcome:
    result: Literal["recorded", "duplicate", "key-rejected"]
    status: SubmissionStatus | str
    notice: str | None = None


def _check(target: UploadTarget, size: int, data: bytes | None, max_bytes: int) -> Verdict:
    envelope = check_envelope(target.deliverable, target.file_name, size, max_bytes)
    if envelope or data is None:
        return rejected(*envelope)
    # In a child process under memory and time limits: whatever the file does to the reader (an exception,
    # running out of memory or time, a crash), this invocation lives to record it and send the receipt.
    return check_bounded(target.campaign, target.deliverable, target.unit, target.file_name, data)


def submission_record(
    target: UploadTarget, ref: ObjectRef, version_id: str, fetched: FetchedObject, verdict: Verdict
) -> SubmissionRecord:
    """What is recorded of one object version: where it came from, its fingerprint, the verdict."""
    return SubmissionRecord(
        campaign=target.campaign.id,
        unit=target.unit.code,
        unit_name=target.unit.name,
        deliverable=target.deliverable.id,
        period=target.period,
        bucket=ref.bucket,
        object_key=ref.key,
        version_id=version_id,
        sequencer=ref.sequencer,
        file_name=target.file_name,
        size=fetched.size,
        sha256=fetched.sha256,
        etag=fetched.etag,
        received_at=ref.event_time,
        received_at_local=iso_local(ref.event_time, target.campaign.zone),
        status=verdict.status,
        errors=tuple(verdict.errors),
        warnings=tuple(verdict.warnings),
        row_count=len(verdict.rows) if verdict.status == SubmissionStatus.ACCEPTED else None,
        details=dict(verdict.details),
        updated_at=now_utc(),
    )


def _tell_refused_unit(ref: ObjectRef, version_id: str, exc: UploadKeyError, ctx: IntakeContext) -> str | None:
    """When the refused key names a known unit, that unit hears why (once per version); else nobody can."""
    owner = refused_key_owner(ctx.registry, ref.key)
    if owner is None:
        return None
    refused = RefusedKeyNotice(
        owner.campaign, owner.unit, ref.key, version_id, ref.event_time, exc.message, owner.example_key
    )
    key = NoticeKey(owner.campaign.id, "refused", f"{owner.unit.code}#{version_id}")
    mail = compose_refused_receipt(refused, key.message_id, owner.campaign.office.name)
    return send_once(ctx.store, key, "refused", mail, ctx.mail)


def ingest(ref: ObjectRef, ctx: IntakeContext, attempt: int = 1) -> IntakeOutcome:
    """``attempt`` is the SQS ApproximateReceiveCount of the message carrying ``ref``."""
    version_id = ref.version_id or NULL_VERSION
    logger.append_keys(object_key=ref.key, version_id=version_id)
    try:
        target = resolve_upload_key(ctx.registry, ref.key)
    except UploadKeyError as exc:
        ctx.store.record_refused_upload(
            RefusedUpload(ref.bucket, ref.key, version_id, ref.event_time, exc.code, exc.message)
        )
        notice = _tell_refused_unit(ref, version_id, exc, ctx)
        logger.warning("upload key rejected", extra={"code": exc.code, "reason": exc.message, "notice": notice})
        metrics.key_rejected()
        if notice in (SendOutcome.FAILED, SendOutcome.IN_FLIGHT):
            raise ReceiptNotSentError(f"refusal notice for {ref.key} is {notice}; delivered again") from exc
        return IntakeOutcome("key-rejected", SubmissionStatus.REJECTED, notice)
    logger.append_keys(unit=target.unit.code, deliverable=target.deliverable.id, period=target.period)

    validation_ms = 0.0
    try:
        fetched = ctx.objects.fetch(ref.bucket, ref.key, ref.version_id, keep_up_to=ctx.max_upload_bytes)
    except Exception as exc:
        if is_transient(exc) or attempt < POISON_AFTER_ATTEMPTS:
            raise  # SQS delivers it again (throttling: until the DLQ, from where it is replayed)
        logger.exception("object unreadable after repeated attempts", extra={"attempt": attempt})
        fetched = FetchedObject(size=ref.size, sha256="", etag=ref.etag, content_type=None, data=None)
        verdict = rejected(_poison(target, attempt))
    else:
        started = time.perf_counter()
        verdict = _check(target, fetched.size, fetched.data, ctx.max_upload_bytes)
        validation_ms = (time.perf_counter() - started) * 1000
    record = submission_record(target, ref, version_id, fetched, verdict)
    submission, created = ctx.store.record_submission(record)
    if created:  # a redelivery is not a second upload
        metrics.upload_checked(submission.status, validation_ms, object_key=ref.key, version_id=version_id)

    # On a redelivery the record decides: the first attempt may have crashed after writing it.
    rows_written = submission.status == SubmissionStatus.ACCEPTED and verdict.status == SubmissionStatus.ACCEPTED
    if rows_written:
        ctx.store.write_version_rows(
            target.campaign.id, target.unit.code, target.deliverable.id, target.period, version_id, verdict.rows
        )
    ctx.store.record_delivery(
        DeliveryEvent(
            campaign=target.campaign.id,
            unit=target.unit.code,
            deliverable=target.deliverable.id,
            period=target.period,
            submission_ref=submission.ref,
            received_at=submission.received_at,
            sequencer=submission.sequencer,
            version_id=version_id,
            status=submission.status,
            row_count=submission.row_count,
            messages=tuple(f.message for f in submission.errors),
            aspect_counts=aspect_tally(verdict.rows) if rows_written else None,  # what the rows written hold
            row_problems=(
                (legacy_row_problems(verdict.rows) if rows_written else None)
                if target.deliverable.id == "legacy-issue-list"
                else ()
            ),
        )
    )
    # A contacts upload that was just accepted already addresses its own receipt.
    addressed = replace(target, unit=current_contacts(ctx.store, target.campaign, target.unit))
    receipt = Receipt(
        target=addressed,
        received_at=submission.received_at,
        size=submission.size,
        sha256=submission.sha256,
        version_id=submission.version_id,
        status=submission.status,
        errors=submission.errors,
        warnings=submission.warnings,
        row_count=submission.row_count,
        upload_link=(
            unit_upload_link(target.campaign, target.unit, target.deliverable.id, target.period, now_utc())
            if submission.status == SubmissionStatus.REJECTED
            else None
        ),
    )
    key = NoticeKey(target.campaign.id, "receipt", f"{target.unit.code}#{version_id}")
    mail = compose_receipt(receipt, key.message_id, target.campaign.office.name)
    notice = send_once(ctx.store, key, "receipt", mail, ctx.mail)
    logger.info("upload recorded", extra={"status": submission.status, "first_delivery": created, "notice": notice})
    if notice in (SendOutcome.FAILED, SendOutcome.IN_FLIGHT):
        # "failed": the mail server deferred it (4xx) through every retry; "in-flight": another delivery holds
        # the notice's lease, which may be a crashed one. Either way the message must come back.
        raise ReceiptNotSentError(f"receipt {key.key} is {notice}; the message will be delivered again")
    return IntakeOutcome("recorded" if created else "duplicate", submission.status, notice)
