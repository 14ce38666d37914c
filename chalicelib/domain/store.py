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
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.domain.findings import Finding, NoticeStatus, SubmissionStatus
from chalicelib.domain.outgoing import NoticeKey, OutgoingMail
from chalicelib.domain.timeutil import iso_utc

if TYPE_CHECKING:  # the problems domain loads the tables package (readers): not for every store user
    from chalicelib.domain.problems import Problem, UnitProblems

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

    # --- issue 15: problems (对账销号) ----------------------------------------------------------------
    def unit_problems(self, campaign_id: str, unit_code: str) -> StoredProblems:
        """A unit's problems and its aggregate (revision, current versions, id counters, untold actions):
        one Query on the unit's problem partition."""
        ...

    def save_problems(self, campaign_id: str, change: ProblemChange) -> int:
        """Write the changed problems, delete the removed, rewrite the aggregate: committed only when the
        aggregate's revision is still ``change.expected_revision`` (else ``ProblemConflictError``, nothing
        of this change committed as current); returns the new revision."""
        ...

    def get_problem(self, campaign_id: str, problem_id: str) -> Problem | None:
        """One problem by id (the id names its unit and sort key): one GetItem."""
        ...

    def problem_aggregates(self, campaign_id: str) -> list[StoredAggregate]:
        """Every unit's aggregate (counts per aspect, due dates, untold actions): one Query, no problem read."""
        ...

    def problem_page(
        self, campaign_id: str, *, where: ProblemFilter | None = None, limit: int, cursor: str | None = None
    ) -> ProblemPage:
        """Problems by unit, then id; a page of ``limit`` read items filtered afterwards (as DynamoDB
        filters), by Query: a unit's partition, a status's index partition, or the campaign's."""
        ...

    # --- issue 14: office decisions ----------------------------------------------------------------
    def record_decision(self, decision: OfficeDecision) -> bool:
        """Write the decision unless one with its (unit, submission, sequence) exists; True when written."""
        ...

    def unit_decisions(self, campaign_id: str, unit_code: str) -> list[OfficeDecision]:
        """Every decision on the unit's submissions (one Query), oldest first within a submission."""
        ...

    def replace_delivery(self, pointer: DeliveryPointer, expected_latest_order: str | None) -> bool:
        """Overwrite the pointer with one recomputed from the decided history, only if its ``latest_order``
        is still ``expected_latest_order`` (None: no pointer yet): an upload recorded meanwhile wins, and the
        caller recomputes. True when written."""
        ...

    # --- issue 17: province scale (reads bounded in calls whatever the number of units) ------------------
    def deadline_deliveries_page(
        self, campaign_id: str, deliverable_id: str, period: str, *, limit: int, cursor: str | None = None
    ) -> PointerPage:
        """Up to ``limit`` units' pointers for one deliverable and period, in unit-code order (one Query),
        with a cursor that only continues this listing."""
        ...

    # --- issue 17: export jobs (a ledger too big for one request, built by the export worker) -----------
    def create_export_job(self, job: ExportJob) -> tuple[ExportJob, bool]:
        """Record a queued job unless one with its id exists; ``(the stored job, whether it was created)``."""
        ...

    def export_job(self, campaign_id: str, job_id: str) -> ExportJob | None:
        """One job as last marked (strongly consistent), or None."""
        ...

    def mark_export_job(
        self,
        campaign_id: str,
        job_id: str,
        status: ExportStatus,
        now: datetime,
        *,
        object_key: str | None = None,
        rows: int | None = None,
        message: str | None = None,
    ) -> ExportJob | None:
        """Move an existing job to ``running``, ``done`` (with its object's key and row count) or ``failed``
        (with a message). A done job is final: marking it again changes nothing and returns it as it is.
        None: no such job."""
        ...


# --- issue 14: office decisions -----------------------------------------------------------------------


@dataclass(frozen=True)
class OfficeDecision:
    """The office's decision on one submission: accept what the checker rejected, or return (退回) what it
    accepted. Decisions are never edited; the newest decision on a submission is its decided status."""

    campaign: str
    unit: str
    deliverable: str
    period: str
    submission_ref: str
    version_id: str
    sequence: int  # 1, 2, … per submission: the natural key that makes a repeated request a no-op
    decision: str  # "accept" | "return"
    note: str
    decided_by: str
    decided_at: datetime
    row_count: int | None = None  # accept: rows written for the version
    overridden: tuple[str, ...] = ()  # accept: the checker's error messages the office overrode

    @property
    def key(self) -> str:
        return f"DEC#{self.submission_ref}#{self.sequence:04d}"


# --- issue 15: problems (对账销号) --------------------------------------------------------------------


class ProblemConflictError(RuntimeError):
    """Another writer changed the unit's problems since they were read (or is writing them now)."""


@dataclass(frozen=True)
class StoredProblems:
    state: UnitProblems
    revision: int  # 0: nothing stored yet
    untold: tuple[dict[str, Any], ...] = ()  # office actions the unit has not been told about yet
    writing: bool = False  # a write was claimed and not finished (a crash mid-write, or one in flight)


@dataclass(frozen=True)
class ProblemChange:
    """One committed change of a unit's problems: the new state and which items it touches."""

    unit: str
    state: UnitProblems
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    expected_revision: int
    untold: tuple[dict[str, Any], ...] = ()
    now: datetime | None = None  # the claim's lease starts here (a crashed writer's claim expires)


@dataclass(frozen=True)
class StoredAggregate:
    unit: str
    revision: int
    aggregate: dict[str, Any]  # ``chalicelib.domain.problems.aggregate``
    untold: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ProblemFilter:
    unit: str | None = None
    status: str | None = None
    aspect: str | None = None
    deliverable: str | None = None

    def matches(self, problem: Problem) -> bool:
        return (
            (self.unit is None or problem.unit == self.unit)
            and (self.status is None or str(problem.status) == self.status)
            and (self.aspect is None or problem.aspect == self.aspect)
            and (self.deliverable is None or problem.deliverable == self.deliverable)
        )


@dataclass(frozen=True)
class ProblemPage:
    items: tuple[Problem, ...]
    next_cursor: str | None


def problem_sort_key(problem_id_: str) -> str:
    """A problem's sort key in its unit's partition (``140981-2023-05-003`` → ``P#2023-05#00003``): ids in
    the order they were given, as ``chalicelib.domain.problems.id_order`` orders them."""
    _, _, rest = problem_id_.partition("-")
    period, _, seq = rest.rpartition("-")
    return f"P#{period}#{int(seq) if seq.isdigit() else 0:05d}"


def problem_unit(problem_id_: str) -> str:
    return problem_id_.partition("-")[0]


PROBLEM_WRITE_LEASE = timedelta(minutes=2)


# --- issue 17: export jobs ------------------------------------------------------------------------------

ExportStatus = str  # "queued" | "running" | "done" | "failed"
EXPORT_STATUSES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class ExportJob:
    """An office export being built by the worker: what was asked (the ledger's filters), where it stands, and,
    once done, the key of the workbook under ``exports/`` (the link is signed when the office asks)."""

    campaign: str
    job_id: str
    kind: str  # "issues.xlsx"
    filters: Mapping[str, str]
    estimated_rows: int
    status: ExportStatus
    created_at: datetime
    updated_at: datetime
    object_key: str | None = None
    rows: int | None = None
    message: str | None = None
