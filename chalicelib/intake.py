"""Ingest one uploaded object: resolve what it is for, fingerprint it, record it, tell the unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aws_lambda_powertools import Logger

from chalicelib.mail import MailSender
from chalicelib.notice_log import NoticeKey, send_once
from chalicelib.objects import ObjectStore
from chalicelib.receipts import Finding, Receipt, compose_receipt
from chalicelib.registry import Registry
from chalicelib.s3_events import ObjectRef
from chalicelib.submissions import NULL_VERSION, StoredObject, record_rejected_key, record_submission
from chalicelib.upload_keys import UploadKeyError, UploadTarget, resolve_upload_key

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


def check_envelope(target: UploadTarget, size: int, max_bytes: int) -> tuple[Finding, ...]:
    """What can be judged before opening the file: format and size."""
    findings = []
    if target.extension not in target.deliverable.formats:
        accepted = "、".join(f".{ext}" for ext in target.deliverable.formats)
        findings.append(
            Finding(
                "FORMAT_NOT_ACCEPTED",
                f"文件“{target.file_name}”的格式不在{target.deliverable.name}接受的范围内，"
                f"请另存为 {accepted} 后重新上传。",
            )
        )
    if size == 0:
        findings.append(Finding("EMPTY_FILE", f"文件“{target.file_name}”是空文件（0 字节），请检查后重新上传。"))
    elif size > max_bytes:
        findings.append(
            Finding(
                "FILE_TOO_LARGE",
                f"文件“{target.file_name}”大小为 {size / 1048576:.1f} MB，超过上限 {max_bytes / 1048576:.0f} MB，"
                "请删除多余的图片或工作表后重新上传。",
            )
        )
    return tuple(findings)


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

    digest = ctx.objects.digest(ref.bucket, ref.key, ref.version_id)
    errors = check_envelope(target, digest.size, ctx.max_upload_bytes)
    status = "rejected" if errors else "received"
    stored = StoredObject(
        bucket=ref.bucket,
        key=ref.key,
        version_id=version_id,
        sequencer=ref.sequencer,
        size=digest.size,
        sha256=digest.sha256,
        etag=digest.etag,
        received_at=ref.event_time,
    )
    submission, created = record_submission(target, stored, status, errors=errors)

    # Also on a redelivery: the first attempt may have crashed before the email went out.
    receipt = Receipt(
        target=target,
        received_at=submission.received_at,
        size=submission.size,
        sha256=submission.sha256,
        version_id=submission.version_id,
        status=submission.status,
        errors=tuple(Finding(**f.as_dict()) for f in submission.errors),
        warnings=tuple(Finding(**f.as_dict()) for f in submission.warnings),
    )
    key = NoticeKey(target.campaign.id, "receipt", f"{target.unit.code}#{version_id}")
    mail = compose_receipt(receipt, key.message_id, target.campaign.office.name)
    notice = send_once(key, "receipt", mail, ctx.mail)
    logger.info("upload recorded", extra={"status": submission.status, "first_delivery": created, "notice": notice})
    return IntakeOutcome("recorded" if created else "duplicate", submission.status, notice)
