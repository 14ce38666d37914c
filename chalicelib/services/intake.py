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
from chalicelib.adapters.deliveries import record_delivery, write_rows
from chalicelib.adapters.mail import MailSender
from chalicelib.adapters.notice_log import NoticeKey, send_once
from chalicelib.adapters.objects import FetchedObject, ObjectStore
from chalicelib.adapters.submissions import NULL_VERSION, StoredObject, record_rejected_key, record_submission
from chalicelib.domain.contacts import current_contacts
from chalicelib.domain.receipts import Finding, Receipt, compose_receipt
from chalicelib.domain.registry import Registry
from chalicelib.domain.s3_events import ObjectRef
from chalicelib.domain.upload_keys import UploadKeyError, UploadTarget, resolve_upload_key
from chalicelib.domain.validation import Verdict, check_envelope, rejected, validate_upload

logger = Logger(child=True)


@dataclass(frozen=True)
class IntakeContext:
    registry: Registry
    objects: ObjectStore
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
    status: str
    notice: str | None = None


def _check(target: UploadTarget, size: int, data: bytes | None, max_bytes: int) -> Verdict:
    envelope = check_envelope(target.deliverable, target.file_name, size, max_bytes)
    if envelope or data is None:
        return rejected(*envelope)
    try:
        return validate_upload(target, data)
    except Exception:
        # A file no reader copes with is the county's problem to fix, not a reason to retry forever.
        logger.exception("validation crashed")
        return rejected(
            Finding(
                "UNREADABLE_FILE",
                f"系统无法读取文件“{target.file_name}”，文件可能已损坏或格式与扩展名不符。"
                "请用 Excel 或 WPS 打开确认无误后，另存为新文件重新上传。",
            )
        )


def _send_receipt(key: NoticeKey, receipt: Receipt, office_name: str, sender: MailSender) -> str:
    """``send_once``'s outcome; ``error`` also when the receipt cannot even be composed (then nothing is
    written to the notice log, so nothing is left ``sending``)."""
    try:
        mail = compose_receipt(receipt, key.message_id, office_name)
    except Exception:  # any bug in composing: the upload is recorded, the receipt is not
        logger.exception("receipt could not be composed")
        return "error"
    return send_once(key, "receipt", mail, sender)


def ingest(ref: ObjectRef, ctx: IntakeContext, attempt: int = 1) -> IntakeOutcome:
    """``attempt`` is the SQS ApproximateReceiveCount of the message carrying ``ref``."""
    version_id = ref.version_id or NULL_VERSION
    logger.append_keys(object_key=ref.key, version_id=version_id)
    try:
        target = resolve_upload_key(ctx.registry, ref.key)
    except UploadKeyError as exc:
        logger.warning("upload key rejected", extra={"code": exc.code})
        record_rejected_key(ref.bucket, ref.key, version_id, ref.event_time, exc.code, exc.message)
        metrics.key_rejected()
        return IntakeOutcome("key-rejected", "rejected")
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
    stored = StoredObject(
        bucket=ref.bucket,
        key=ref.key,
        version_id=version_id,
        sequencer=ref.sequencer,
        size=fetched.size,
        sha256=fetched.sha256,
        etag=fetched.etag,
        received_at=ref.event_time,
    )
    submission, created = record_submission(target, stored, verdict)
    if created:  # a redelivery is not a second upload
        metrics.upload_checked(submission.status, validation_ms, object_key=ref.key, version_id=version_id)

    # On a redelivery the record decides: the first attempt may have crashed after writing it.
    if submission.status == "accepted" and verdict.status == "accepted":
        write_rows(target, version_id, verdict.rows)
    record_delivery(
        target,
        submission.sk,
        submission.received_at,
        submission.sequencer,
        version_id,
        submission.status,
        submission.row_count,
    )
    # A contacts upload that was just accepted already addresses its own receipt.
    addressed = replace(target, unit=current_contacts(target.campaign, target.unit))
    receipt = Receipt(
        target=addressed,
        received_at=submission.received_at,
        size=submission.size,
        sha256=submission.sha256,
        version_id=submission.version_id,
        status=submission.status,
        errors=tuple(Finding(**f.as_dict()) for f in submission.errors),
        warnings=tuple(Finding(**f.as_dict()) for f in submission.warnings),
        row_count=submission.row_count,
    )
    key = NoticeKey(target.campaign.id, "receipt", f"{target.unit.code}#{version_id}")
    notice = _send_receipt(key, receipt, target.campaign.office.name, ctx.mail)
    logger.info("upload recorded", extra={"status": submission.status, "first_delivery": created, "notice": notice})
    if notice == "error":
        # The same text fails the same way: retried like a poison object (the alarm sees the failed
        # invocations), then left for a person, never looped into the DLQ.
        logger.error("receipt could not be composed or sent", extra={"notice_key": key.key, "attempt": attempt})
        if attempt < POISON_AFTER_ATTEMPTS:
            raise ReceiptNotSentError(f"receipt {key.key} raised while composing or sending; attempt {attempt}")
    elif notice in ("failed", "in-flight"):
        # "failed": the mail server deferred it (4xx) through every retry; "in-flight": another delivery holds
        # the notice's lease, which may be a crashed one. Either way the message must come back.
        raise ReceiptNotSentError(f"receipt {key.key} is {notice}; the message will be delivered again")
    return IntakeOutcome("recorded" if created else "duplicate", submission.status, notice)
