"""Ingest one uploaded object: resolve what it is for, fingerprint and check it, record it,
store its rows under its version, move the unit's pointer, tell the unit.

Every step is idempotent, so a redelivered event (or a retry after a crash at any step)
completes the work without doubling it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Literal

from aws_lambda_powertools import Logger

from chalicelib.adapters import metrics
from chalicelib.adapters.mail import MailSender
from chalicelib.adapters.objects import FetchedObject, ObjectStore
from chalicelib.domain.decisions import STAMPED_DETAIL, decided_uploads, decisions_by_ref, newest_per_file, tagged
from chalicelib.domain.findings import ACCEPTED_STATUSES, Finding, SendOutcome, SubmissionStatus
from chalicelib.domain.ledger import aspect_tally
from chalicelib.domain.office_filing import read_filing
from chalicelib.domain.outgoing import NoticeKey
from chalicelib.domain.packages import legacy_row_problems
from chalicelib.domain.problems import PROBLEM_DELIVERABLES
from chalicelib.domain.receipts import Receipt, RefusedKeyNotice, compose_receipt, compose_refused_receipt
from chalicelib.domain.registry import Registry
from chalicelib.domain.s3_events import ObjectRef
from chalicelib.domain.store import NULL_VERSION, CampaignStore, DeliveryEvent, RefusedUpload, SubmissionRecord
from chalicelib.domain.timeutil import iso_local, iso_utc, now_utc
from chalicelib.domain.upload_keys import UploadKeyError, UploadTarget, refused_key_owner, resolve_upload_key
from chalicelib.domain.validation import Verdict, check_envelope, rejected
from chalicelib.services.checking import check_bounded
from chalicelib.services.contacts import current_contacts
from chalicelib.services.notices import send_once
from chalicelib.services.problems import refresh_problems
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


def _check_stamped(target: UploadTarget, size: int, data: bytes | None, max_bytes: int) -> Verdict:
    """A stamped scan is archived beside its deliverable, never read for content: a real PDF of sane size."""
    envelope = tuple(
        f
        for f in check_envelope(target.deliverable, target.file_name, size, max_bytes)
        if f.code != "FORMAT_NOT_ACCEPTED"
    )
    if envelope or data is None:
        return rejected(*envelope)
    if data.lstrip()[:5] != b"%PDF-":
        return rejected(
            Finding(
                "STAMPED_NOT_PDF",
                f"盖章扫描件“{target.file_name}”不是有效的 PDF 文件，请将盖章页扫描或另存为 PDF 后重新上传。",
            )
        )
    return Verdict(SubmissionStatus.ACCEPTED)


def _check(target: UploadTarget, size: int, data: bytes | None, max_bytes: int) -> Verdict:
    if target.stamped:
        return _check_stamped(target, size, data, max_bytes)
    envelope = check_envelope(target.deliverable, target.file_name, size, max_bytes)
    if envelope or data is None:
        return rejected(*envelope)
    # In a child process under memory and time limits: whatever the file does to the reader (an exception,
    # running out of memory or time, a crash), this invocation lives to record it and send the receipt.
    return check_bounded(target.campaign, target.deliverable, target.unit, target.file_name, data)


def submission_record(
    target: UploadTarget, ref: ObjectRef, version_id: str, fetched: FetchedObject, verdict: Verdict
) -> SubmissionRecord:
    """What is recorded of one object version: where it came from, its fingerprint, the verdict.

    An object the office filed for a unit (``cli upload --received-at``) is recorded as received when the
    unit's email arrived, with the real upload time and the office's note in ``details``."""
    filing = read_filing(fetched.metadata, ref.event_time, target.campaign)
    received_at = filing.received_at if filing else ref.event_time
    details = dict(verdict.details)
    warnings = tuple(verdict.warnings)
    if filing is not None:
        details["office_filing"] = {"uploaded_at": iso_utc(filing.uploaded_at), "note": filing.note}
        warnings += (filing.warning,) if filing.warning else ()
    if target.stamped:
        details[STAMPED_DETAIL] = True
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
        received_at=received_at,
        received_at_local=iso_local(received_at, target.campaign.zone),
        status=verdict.status,
        errors=tuple(verdict.errors),
        warnings=warnings,
        row_count=len(verdict.rows) if verdict.status == SubmissionStatus.ACCEPTED else None,
        details=details,
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


def _send_receipt(
    store: CampaignStore, key: NoticeKey, receipt: Receipt, office_name: str, sender: MailSender
) -> SendOutcome:
    """``send_once``'s outcome; ``error`` also when the receipt cannot even be composed (then nothing is
    written to the notice log, so nothing is left ``sending``)."""
    try:
        mail = compose_receipt(receipt, key.message_id, office_name)
    except Exception:  # any bug in composing: the upload is recorded, the receipt is not
        logger.exception("receipt could not be composed")
        return SendOutcome.ERROR
    return send_once(store, key, "receipt", mail, sender)


def _cases_with_other_files(
    store: CampaignStore, target: UploadTarget, submission: SubmissionRecord, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """典型案例 add up across files (three uploads = three cases; the same file name again replaces itself):
    the other files' own rows (their newest accepted version each), then this file's."""
    from chalicelib.services.decisions import deadline_records, union_rows

    c, u, d, p = target.campaign.id, target.unit.code, target.deliverable.id, target.period
    uploads = decided_uploads(deadline_records(store, c, u, d, p), decisions_by_ref(store.unit_decisions(c, u)))
    others = [f for f in newest_per_file(uploads) if f.record.file_name != submission.file_name]
    return union_rows(store, c, u, d, p, others) + tagged(rows, submission.file_name, submission.version_id)


def _record_delivery(
    store: CampaignStore,
    target: UploadTarget,
    submission: SubmissionRecord,
    version_id: str,
    row_count: int | None,
    rows: list[dict[str, Any]] | None,
    redelivery: bool,
) -> None:
    """Move the pointer; the figures the office's reads need ride on the same conditional write (issue 17):
    the latest upload's messages, the current version's aspect counts, the 2022 list's gaps. ``rows`` None:
    not read this time (a redelivery judged the record), so no figure is kept and readers count the rows."""
    status: str = submission.status
    if redelivery:  # the office may have decided on this version since the first delivery: that stands
        from chalicelib.domain.decisions import decided_status

        mine = decisions_by_ref(store.unit_decisions(target.campaign.id, target.unit.code)).get(submission.ref, [])
        status = decided_status(submission, mine)
    store.record_delivery(
        DeliveryEvent(
            campaign=target.campaign.id,
            unit=target.unit.code,
            deliverable=target.deliverable.id,
            period=target.period,
            submission_ref=submission.ref,
            received_at=submission.received_at,
            sequencer=submission.sequencer,
            version_id=version_id,
            status=status,
            row_count=row_count,
            messages=tuple(f.message for f in submission.errors),
            aspect_counts=aspect_tally(rows) if rows is not None else None,
            row_problems=(
                (legacy_row_problems(rows) if rows is not None else None)
                if target.deliverable.id == "legacy-issue-list"
                else ()
            ),
        )
    )


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
    accepted_now = submission.status == SubmissionStatus.ACCEPTED and verdict.status == SubmissionStatus.ACCEPTED
    row_count = submission.row_count
    rows: list[dict[str, Any]] | None = None  # the rows written for this version, when read this time
    if accepted_now and not target.stamped:
        rows = list(verdict.rows)
        if target.deliverable.kind == "case":  # files add up: this version stores the whole set
            rows = _cases_with_other_files(ctx.store, target, submission, rows)
            row_count = len(rows)
        ctx.store.write_version_rows(
            target.campaign.id, target.unit.code, target.deliverable.id, target.period, version_id, rows
        )
    if not target.stamped:  # a stamped scan never moves the deliverable's pointer
        _record_delivery(ctx.store, target, submission, version_id, row_count, rows, redelivery=not created)
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
        filed_at=ref.event_time if "office_filing" in submission.details else None,
        office_note=(submission.details.get("office_filing") or {}).get("note") or None,
        upload_link=(
            unit_upload_link(target.campaign, target.unit, target.deliverable.id, target.period, now_utc())
            if submission.status == SubmissionStatus.REJECTED
            else None
        ),
    )
    key = NoticeKey(target.campaign.id, "receipt", f"{target.unit.code}#{version_id}")
    notice = _send_receipt(ctx.store, key, receipt, target.campaign.office.name, ctx.mail)
    logger.info("upload recorded", extra={"status": submission.status, "first_delivery": created, "notice": notice})
    if notice == SendOutcome.ERROR:
        # The same text fails the same way: retried like a poison object (the alarm sees the failed
        # invocations), then left for a person, never looped into the DLQ.
        logger.error("receipt could not be composed or sent", extra={"notice_key": key.key, "attempt": attempt})
        if attempt < POISON_AFTER_ATTEMPTS:
            raise ReceiptNotSentError(f"receipt {key.key} raised while composing or sending; attempt {attempt}")
    elif notice in (SendOutcome.FAILED, SendOutcome.IN_FLIGHT):
        # "failed": the mail server deferred it (4xx) through every retry; "in-flight": another delivery holds
        # the notice's lease, which may be a crashed one. Either way the message must come back.
        raise ReceiptNotSentError(f"receipt {key.key} is {notice}; the message will be delivered again")
    if submission.status in ACCEPTED_STATUSES and target.deliverable.id in PROBLEM_DELIVERABLES:
        # After the receipt: a conflict here fails the message, and its redelivery only finishes this step.
        refresh_problems(
            ctx.store, target.campaign, target.unit.code, target.deliverable.id, target.period, now=now_utc()
        )
    return IntakeOutcome("recorded" if created else "duplicate", submission.status, notice)
