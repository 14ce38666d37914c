"""Ingest one uploaded object: resolve what it is for, fingerprint and check it, record it,
store its rows under its version, move the unit's pointer, tell the unit.

Every step is idempotent, so a redelivered event (or a retry after a crash at any step)
completes the work without doubling it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from aws_lambda_powertools import Logger

from chalicelib.contacts import current_contacts
from chalicelib.deliveries import record_delivery, write_rows
from chalicelib.mail import MailSender
from chalicelib.notice_log import NoticeKey, send_once
from chalicelib.objects import ObjectStore
from chalicelib.receipts import Finding, Receipt, compose_receipt
from chalicelib.registry import Registry
from chalicelib.s3_events import ObjectRef
from chalicelib.submissions import NULL_VERSION, StoredObject, record_rejected_key, record_submission
from chalicelib.upload_keys import UploadKeyError, UploadTarget, resolve_upload_key
from chalicelib.validation import Verdict, check_envelope, rejected, validate_upload

logger = Logger(child=True)


@dataclass(frozen=True)
class IntakeContext:
    registry: Registry
    objects: ObjectStore
    mail: MailSender
    max_upload_bytes: int


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


def ingest(ref: ObjectRef, ctx: IntakeContext) -> IntakeOutcome:
    version_id = ref.version_id or NULL_VERSION
    logger.append_keys(object_key=ref.key, version_id=version_id)
    try:
        target = resolve_upload_key(ctx.registry, ref.key)
    except UploadKeyError as exc:
        logger.warning("upload key rejected", extra={"code": exc.code})
        record_rejected_key(ref.bucket, ref.key, version_id, ref.event_time, exc.code, exc.message)
        return IntakeOutcome("key-rejected", "rejected")
    logger.append_keys(unit=target.unit.code, deliverable=target.deliverable.id, period=target.period)

    fetched = ctx.objects.fetch(ref.bucket, ref.key, ref.version_id, keep_up_to=ctx.max_upload_bytes)
    verdict = _check(target, fetched.size, fetched.data, ctx.max_upload_bytes)
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
    mail = compose_receipt(receipt, key.message_id, target.campaign.office.name)
    notice = send_once(key, "receipt", mail, ctx.mail)
    logger.info("upload recorded", extra={"status": submission.status, "first_delivery": created, "notice": notice})
    return IntakeOutcome("recorded" if created else "duplicate", submission.status, notice)
