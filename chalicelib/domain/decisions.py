"""The office decides (issue 14): what a submission's status is once the office has ruled on it, and where
the delivery pointer of (unit, deliverable, period) stands given every decision. Pure: no reads.

The checker advises, the office decides. A decision never edits the submission record (the checker's
verdict stays as it was, for the history); the newest decision on a submission is its *decided* status,
and the pointer is recomputed from the decided statuses by the same rules intake follows: the current
version is the newest accepted upload, ``first_accepted_at`` the earliest accepted upload's arrival (so an
upload the office accepts counts as delivered when it arrived), ``latest_*`` the newest upload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.findings import ACCEPTED_STATUSES, SubmissionStatus
from chalicelib.domain.store import DeliveryPointer, OfficeDecision, SubmissionRecord, order_key

ACCEPT = "accept"
RETURN = "return"
DECISIONS = (ACCEPT, RETURN)
DECIDED_STATUS = {ACCEPT: SubmissionStatus.ACCEPTED, RETURN: SubmissionStatus.RETURNED}
DECISION_WORDS = {ACCEPT: "予以接收", RETURN: "退回"}
MAX_NOTE_CHARS = 500

# A stamped scan (盖章扫描件) travels with its deliverable but is never a version of it (upload_keys.py).
STAMPED_DETAIL = "stamped_scan"


class DecisionError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def checked_request(body: Any) -> tuple[str, str]:
    """``{"decision": "accept" | "return", "note": "…"}``, or a Chinese reason why not."""
    if not isinstance(body, Mapping):
        raise DecisionError('请求体应为 JSON 对象，如 {"decision": "accept", "note": "经人工复核，材料符合要求"}。')
    unknown = sorted(set(body) - {"decision", "note"})
    if unknown:
        raise DecisionError(f"不支持的字段：{'、'.join(str(u)[:40] for u in unknown[:5])}。可用：decision、note。")
    decision = body.get("decision")
    if decision not in DECISIONS:
        raise DecisionError("decision 应为 accept（予以接收）或 return（退回）。")
    note = body.get("note")
    if not isinstance(note, str) or not note.strip():
        raise DecisionError("请在 note 中写明理由（如“经人工复核，完成时限写法符合要求”），理由将告知填报单位。")
    if len(note) > MAX_NOTE_CHARS:
        raise DecisionError(f"理由（note）过长，请控制在{MAX_NOTE_CHARS}字以内。")
    return str(decision), note.strip()


def is_stamped_scan(record: SubmissionRecord) -> bool:
    return bool(record.details.get(STAMPED_DETAIL))


def decisions_by_ref(decisions: Iterable[OfficeDecision]) -> dict[str, list[OfficeDecision]]:
    found: dict[str, list[OfficeDecision]] = {}
    for d in sorted(decisions, key=lambda d: (d.submission_ref, d.sequence)):
        found.setdefault(d.submission_ref, []).append(d)
    return found


def decided_status(record: SubmissionRecord, decisions: Sequence[OfficeDecision]) -> str:
    """The checker's verdict, unless the office ruled: then its newest decision."""
    return str(DECIDED_STATUS[decisions[-1].decision]) if decisions else str(record.status)


def is_no_op(record: SubmissionRecord, decisions: Sequence[OfficeDecision], decision: str) -> bool:
    """The same decision twice changes nothing twice: accepting what stands accepted, returning what stands
    returned (or was never accepted)."""
    status = decided_status(record, decisions)
    if decision == ACCEPT:
        return status in ACCEPTED_STATUSES
    return status not in ACCEPTED_STATUSES


@dataclass(frozen=True)
class DecidedUpload:
    record: SubmissionRecord
    status: str
    row_count: int | None  # rows written under the version (None: none were)


def decided_uploads(
    records: Iterable[SubmissionRecord], decisions: Mapping[str, Sequence[OfficeDecision]]
) -> list[DecidedUpload]:
    """One (unit, deliverable, period)'s uploads, oldest first, each with its decided status."""
    uploads = []
    for record in records:
        if is_stamped_scan(record):
            continue
        mine = decisions.get(record.ref, ())
        status = decided_status(record, mine)
        accepted_by_office = [d for d in mine if d.decision == ACCEPT and d.row_count is not None]
        rows = accepted_by_office[-1].row_count if accepted_by_office else record.row_count
        uploads.append(DecidedUpload(record, status, rows))
    return sorted(uploads, key=lambda u: order_key(u.record.received_at, u.record.sequencer))


def decided_pointer(
    campaign_id: str, unit_code: str, deliverable_id: str, period: str, uploads: Sequence[DecidedUpload]
) -> DeliveryPointer:
    """The pointer as intake would have left it had every upload carried its decided status."""
    pointer = DeliveryPointer(campaign_id, unit_code, deliverable_id, period)
    if not uploads:
        return pointer
    latest = uploads[-1]
    accepted = [u for u in uploads if u.status in ACCEPTED_STATUSES]
    current = accepted[-1] if accepted else None
    return DeliveryPointer(
        campaign=campaign_id,
        unit=unit_code,
        deliverable=deliverable_id,
        period=period,
        current_version=current.record.version_id if current else None,
        current_order=order_key(current.record.received_at, current.record.sequencer) if current else None,
        current_submission_sk=current.record.ref if current else None,
        current_row_count=(current.row_count or 0) if current else None,
        current_received_at=current.record.received_at if current else None,
        first_accepted_at=min(u.record.received_at for u in accepted) if accepted else None,
        latest_order=order_key(latest.record.received_at, latest.record.sequencer),
        latest_status=latest.status,
        latest_submission_sk=latest.record.ref,
        latest_received_at=latest.record.received_at,
    )


# --- files that add up (典型案例: three uploads = three cases) ------------------------------------------

SOURCE_FILE = "source_file"
SOURCE_VERSION = "source_version"


def tagged(rows: Iterable[Mapping[str, Any]], file_name: str, version_id: str) -> list[dict[str, Any]]:
    """A file's own rows, marked with where they came from."""
    return [{**row, SOURCE_FILE: file_name, SOURCE_VERSION: version_id} for row in rows]


def newest_per_file(uploads: Sequence[DecidedUpload]) -> list[DecidedUpload]:
    """For deliverables whose files add up: the newest accepted upload of each file name, oldest first. A
    re-upload of the same file name replaces itself; a returned file drops out, and its older version (if
    one was accepted) comes back."""
    newest: dict[str, DecidedUpload] = {}
    for upload in uploads:  # oldest first: a later one of the same name wins
        if upload.status in ACCEPTED_STATUSES:
            newest[upload.record.file_name] = upload
    return sorted(newest.values(), key=lambda u: order_key(u.record.received_at, u.record.sequencer))


def own_rows(version_rows: Iterable[Mapping[str, Any]], version_id: str) -> list[dict[str, Any]]:
    """The rows a version brought itself (a version of a file that adds up stores the whole set)."""
    return [dict(r) for r in version_rows if r.get(SOURCE_VERSION, version_id) == version_id]
