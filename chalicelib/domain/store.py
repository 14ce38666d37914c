"""The campaign's records and the one boundary through which they are read and written.

``CampaignStore`` is every operation the services perform on the campaign table. Two implementations
keep the same contract (tests/store_contract.py): ``chalicelib.adapters.dynamo_store.DynamoStore``
(DynamoDB through PynamoDB, the only place PynamoDB is used) and
``chalicelib.adapters.memory_store.MemoryStore`` (an in-memory twin for unit tests). Both return the
plain frozen dataclasses below, never a model instance.

The semantics every implementation keeps:

- a submission is written once per object version (``record_submission`` is idempotent and tells
  whether it created the record); a version's rows are written under that version and never edited;
- the delivery pointer only moves forward (by ``order_key``) and ``first_accepted_at`` only back in time;
- the notice log's ``create_notice`` creates if absent (else returns what is there), ``claim_notice``
  succeeds for one claimer at a time (pending / failed, or sending with an expired lease);
- listings are newest first and paged by an opaque cursor that only continues the listing it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.findings import Finding, NoticeStatus, SubmissionStatus
from chalicelib.domain.outgoing import NoticeKey, OutgoingMail
from chalicelib.domain.timeutil import iso_utc

NULL_VERSION = "null"  # what S3 calls the version of an object in an unversioned bucket
SEQUENCER_WIDTH = 32


class InvalidCursorError(ValueError):
    """A cursor that is not one, or that belongs to another listing."""

    def __init__(self, mismatch: bool = False) -> None:
        super().__init__("cursor belongs to another listing" if mismatch else "cursor is not valid")
        self.mismatch = mismatch


def order_key(received_at: datetime, sequencer: str | None) -> str:
    """Which of two uploads is newer: S3 event time, then S3's sequencer.

    Sequencers only order events of one key (compare after left-padding); different file names
    for the same deliverable are ordered by event time, the sequencer breaking ties.
    """
    return f"{iso_utc(received_at)}#{(sequencer or '').upper().rjust(SEQUENCER_WIDTH, '0')}"


def submission_ref(received_at: datetime, version_id: str) -> str:
    """How a pointer names a submission of its unit (the record's sort key in the table)."""
    return f"S#{iso_utc(received_at)}#{version_id}"


@dataclass(frozen=True)
class SubmissionRecord:
    """One uploaded object version and its verdict; never overwritten by a later upload."""

    campaign: str
    unit: str
    unit_name: str
    deliverable: str
    period: str
    bucket: str
    object_key: str
    version_id: str
    sequencer: str | None
    file_name: str
    size: int
    sha256: str
    etag: str | None
    received_at: datetime
    received_at_local: str
    status: SubmissionStatus | str
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    row_count: int | None = None
    details: dict[str, Any] = field(default_factory=dict)  # what the checks read off the file
    updated_at: datetime | None = None

    @property
    def ref(self) -> str:
        return submission_ref(self.received_at, self.version_id)

    @property
    def sk(self) -> str:  # the name the table and older code use
        return self.ref


@dataclass(frozen=True)
class SubmissionFilter:
    """Narrows a listing (applied within the same read, as DynamoDB's filter is)."""

    deliverable: str | None = None
    period: str | None = None
    status: str | None = None

    def matches(self, record: SubmissionRecord) -> bool:
        return (
            (self.deliverable is None or record.deliverable == self.deliverable)
            and (self.period is None or record.period == self.period)
            and (self.status is None or record.status == self.status)
        )


@dataclass(frozen=True)
class SubmissionPage:
    items: tuple[SubmissionRecord, ...]
    next_cursor: str | None  # None: the listing is done


@dataclass(frozen=True)
class RefusedUpload:
    """An object whose key names no known campaign, unit, deliverable or period; the object stays."""

    bucket: str
    object_key: str
    version_id: str
    received_at: datetime
    code: str
    message: str


@dataclass(frozen=True)
class RefusedPage:
    items: tuple[RefusedUpload, ...]
    next_cursor: str | None  # None: the listing is done


@dataclass(frozen=True)
class DeliveryEvent:
    """One recorded upload, as the delivery pointer of (unit, deliverable, period) sees it."""

    campaign: str
    unit: str
    deliverable: str
    period: str
    submission_ref: str
    received_at: datetime
    sequencer: str | None
    version_id: str
    status: SubmissionStatus | str
    row_count: int | None
    # Issue 17: what the office's reads need, kept on the pointer in the same conditional write that moves
    # it, so a redelivered or late event changes nothing and a re-upload replaces rather than adds.
    messages: tuple[str, ...] = ()  # the errors of this upload, for a rejected one
    # None below: not known with this event (its rows were not read this time); the pointer then keeps none
    # and readers count the current version's rows instead, never a stale figure of another version.
    aspect_counts: Mapping[str, int] | None = None  # accepted rows by 问题方面, for an accepted list
    row_problems: tuple[str, ...] | None = ()  # what the rows still lack (the 2022 list's progress)

    @property
    def order(self) -> str:
        return order_key(self.received_at, self.sequencer)


@dataclass(frozen=True)
class DeliveryPointer:
    """A unit's state for one deliverable and period: its current accepted version and its latest upload.

    ``current_*`` moves only forward and only after that version's rows are written, so readers following
    it never see a half-replaced list; ``first_accepted_at`` only moves back in time (on time stays on
    time); ``latest_*`` is the newest upload whatever its verdict.
    """

    campaign: str
    unit: str
    deliverable: str
    period: str
    current_version: str | None = None
    current_order: str | None = None
    current_submission_sk: str | None = None
    current_row_count: int | None = None
    current_received_at: datetime | None = None
    first_accepted_at: datetime | None = None
    latest_order: str | None = None
    latest_status: str | None = None
    latest_submission_sk: str | None = None
    latest_received_at: datetime | None = None
    # Issue 17 (None: written before these were kept; readers fall back to the submission or the rows).
    latest_messages: tuple[str, ...] | None = None  # the latest upload's error messages
    current_aspect_counts: dict[str, int] | None = None  # the current version's rows by 问题方面
    current_row_problems: tuple[str, ...] | None = None  # what the current version's rows still lack


@dataclass(frozen=True)
class PointerPage:
    """A page of one (deliverable, period)'s pointers in unit-code order, with a cursor for the rest."""

    items: tuple[DeliveryPointer, ...]
    next_cursor: str | None  # None: the listing is done


@dataclass(frozen=True)
class DeliveryRow:
    """One accepted row (issue, case, contact) of one version."""

    campaign: str
    unit: str
    deliverable: str
    period: str
    version_id: str
    number: int  # 1-based position in the version
    sheet: str | None
    row: int | None
    aspect: str | None
    fields: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "sheet": self.sheet, **self.fields}


def rows_as_dicts(rows: Iterable[DeliveryRow]) -> list[dict[str, Any]]:
    return [r.as_dict() for r in rows]


@dataclass(frozen=True)
class NoticeRecord:
    """One notice in the exactly-once log, with the content recorded when it was first decided."""

    key: NoticeKey
    kind: str
    recipients: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    message_id: str
    status: NoticeStatus | str
    attempts: int = 0
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime | None = None

    def mail(self, headers: Mapping[str, str] | None = None) -> OutgoingMail:
        """The mail as recorded: a retry never sends a different text."""
        return OutgoingMail(
            to=self.recipients,
            cc=self.cc,
            subject=self.subject,
            text=self.text,
            html=self.html,
            message_id=self.message_id,
            headers=dict(headers or {}),
        )


class CampaignStore(Protocol):
    """Every read and write of the campaign's records (see the module docstring for the semantics)."""

    # --- submissions -------------------------------------------------------------------------------
    def record_submission(self, record: SubmissionRecord) -> tuple[SubmissionRecord, bool]:
        """Write once per version; on a redelivery return the record already there and False."""
        ...

    def get_submission(self, campaign_id: str, unit_code: str, ref: str) -> SubmissionRecord | None: ...

    def unit_submissions(
        self,
        campaign_id: str,
        unit_code: str,
        *,
        limit: int,
        cursor: str | None = None,
        where: SubmissionFilter | None = None,
    ) -> SubmissionPage:
        """One unit's history, newest first."""
        ...

    def deadline_submissions(
        self,
        campaign_id: str,
        deliverable_id: str,
        period: str,
        *,
        unit_code: str | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> SubmissionPage:
        """Submissions for one deliverable and period (optionally one unit's), newest first within a unit."""
        ...

    def campaign_submissions(
        self, campaign_id: str, *, limit: int, cursor: str | None = None, where: SubmissionFilter | None = None
    ) -> SubmissionPage:
        """The campaign's feed, newest first."""
        ...

    def record_refused_upload(self, refused: RefusedUpload) -> None: ...

    def refused_uploads(self, limit: int = 100) -> list[RefusedUpload]:
        """The newest refused keys first."""
        ...

    def refused_page(self, key_prefix: str, *, limit: int, cursor: str | None = None) -> RefusedPage:
        """Refused keys under ``key_prefix`` (one campaign's), newest first, a page of ``limit`` read items
        filtered afterwards (as DynamoDB filters), with a cursor that only continues this listing."""
        ...

    # --- versions and the delivery pointer ---------------------------------------------------------
    def write_version_rows(
        self,
        campaign_id: str,
        unit_code: str,
        deliverable_id: str,
        period: str,
        version_id: str,
        rows: Sequence[Mapping[str, Any]],
    ) -> int:
        """Write a version's rows (idempotent: the same keys on a redelivery); how many."""
        ...

    def record_delivery(self, event: DeliveryEvent) -> bool:
        """Move the pointer for this upload (forward only); True when it became the current version."""
        ...

    def delivery(
        self, campaign_id: str, unit_code: str, deliverable_id: str, period: str
    ) -> DeliveryPointer | None: ...

    def unit_deliveries(self, campaign_id: str, unit_code: str, period: str | None = None) -> list[DeliveryPointer]:
        """A unit's pointers for every deliverable (optionally of one period), in one read."""
        ...

    def deadline_deliveries(self, campaign_id: str, deliverable_id: str, period: str) -> list[DeliveryPointer]:
        """Every unit's pointer for one deliverable and period, in one read."""
        ...

    def version_rows(
        self, campaign_id: str, unit_code: str, deliverable_id: str, period: str, version_id: str
    ) -> list[DeliveryRow]: ...

    def current_rows(self, campaign_id: str, unit_code: str, deliverable_id: str, period: str) -> list[DeliveryRow]:
        """The rows of the current accepted version; never a mix of two versions."""
        ...

    # --- the notice log ----------------------------------------------------------------------------
    def create_notice(self, key: NoticeKey, kind: str, mail: OutgoingMail, now: datetime) -> NoticeRecord:
        """Record the notice as pending unless it exists; either way, what the log now holds."""
        ...

    def claim_notice(self, key: NoticeKey, now: datetime, lease: timedelta) -> bool:
        """Take the notice for sending (one claimer wins); False when sent, rejected or leased by another."""
        ...

    def mark_notice_sent(self, key: NoticeKey, sent_at: datetime) -> None: ...

    def mark_notice_failed(self, key: NoticeKey, error: str) -> None:
        """Transient failure: the lease is released, a later run retries."""
        ...

    def mark_notice_rejected(self, key: NoticeKey, error: str) -> None:
        """Permanent failure: never retried."""
        ...

    def get_notice(self, key: NoticeKey) -> NoticeRecord | None: ...

    def unsent_notices(self, campaign_id: str, scope: str, since: datetime) -> list[NoticeRecord]:
        """Notices of one scope created since ``since`` still pending, failed or mid-send."""
        ...

    # --- issue 17: province scale (reads bounded in calls whatever the number of units) ------------------
    def deadline_deliveries_page(
        self, campaign_id: str, deliverable_id: str, period: str, *, limit: int, cursor: str | None = None
    ) -> PointerPage:
        """Up to ``limit`` units' pointers for one deliverable and period, in unit-code order (one Query),
        with a cursor that only continues this listing."""
        ...
