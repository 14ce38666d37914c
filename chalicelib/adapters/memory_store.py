"""``CampaignStore`` in memory: the twin of ``DynamoStore`` for tests that need no local stack.

Same semantics (tests/store_contract.py runs against both): writes once per version, the pointer
moves forward only, the notice log's create-if-absent and leased claim, newest-first listings paged by
a cursor that only continues its own listing, a filter applied after the page's ``limit`` items were
read (as DynamoDB's is). One lock makes each operation atomic, as a conditional write is.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain.findings import ACCEPTED_STATUSES, NoticeStatus
from chalicelib.domain.outgoing import NoticeKey, OutgoingMail
from chalicelib.domain.problems import Problem, UnitProblems
from chalicelib.domain.problems import aggregate as problem_aggregate
from chalicelib.domain.store import (
    DeliveryEvent,
    DeliveryPointer,
    DeliveryRow,
    ExportJob,
    ExportStatus,
    InvalidCursorError,
    NoticeRecord,
    OfficeDecision,
    PointerPage,
    ProblemChange,
    ProblemConflictError,
    ProblemFilter,
    ProblemPage,
    RefusedPage,
    RefusedUpload,
    StoredAggregate,
    StoredProblems,
    SubmissionFilter,
    SubmissionPage,
    SubmissionRecord,
    problem_sort_key,
    problem_unit,
)
from chalicelib.domain.timeutil import iso_utc

_Listing = tuple[str, ...]  # what a cursor is valid for


def _plain(value: Any) -> Any:
    """What a stored row field reads back as (DynamoDB keeps dates as ISO strings, tuples as lists)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _encode(listing: _Listing, last: str) -> str:
    raw = json.dumps({"l": list(listing), "k": last}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str | None, listing: _Listing) -> str | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursorError() from exc
    if not isinstance(data, dict) or data.get("l") != list(listing) or not isinstance(data.get("k"), str):
        raise InvalidCursorError(mismatch=True)
    return data["k"]


def _page(
    listing: _Listing,
    ordered: Sequence[tuple[str, SubmissionRecord]],
    limit: int,
    cursor: str | None,
    keep: Callable[[SubmissionRecord], bool],
) -> SubmissionPage:
    """``ordered``: (sort key, record), newest (greatest key) first; read ``limit``, then filter."""
    after = _decode(cursor, listing)
    rest = [(k, r) for k, r in ordered if after is None or k < after]
    read = rest[:limit]
    more = len(rest) > limit
    return SubmissionPage(tuple(r for _, r in read if keep(r)), _encode(listing, read[-1][0]) if more else None)


class MemoryStore:
    """The campaign's records in dictionaries, one lock around every operation."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._submissions: dict[tuple[str, str, str], SubmissionRecord] = {}  # (campaign, unit, ref)
        self._refused: dict[str, RefusedUpload] = {}
        self._rows: dict[tuple[str, str, str, str, str], dict[int, DeliveryRow]] = {}
        self._pointers: dict[tuple[str, str, str, str], DeliveryPointer] = {}
        self._notices: dict[tuple[str, str], NoticeRecord] = {}  # (pk, key)
        self._decisions: dict[tuple[str, str, str], OfficeDecision] = {}  # (campaign, unit, key): issue 14
        self._export_jobs: dict[tuple[str, str], ExportJob] = {}  # (campaign, job id): issue 17

    # --- submissions -------------------------------------------------------------------------------

    def record_submission(self, record: SubmissionRecord) -> tuple[SubmissionRecord, bool]:
        key = (record.campaign, record.unit, record.ref)
        with self._lock:
            if key in self._submissions:
                return self._submissions[key], False
            self._submissions[key] = record
            return record, True

    def get_submission(self, campaign_id: str, unit_code: str, ref: str) -> SubmissionRecord | None:
        with self._lock:
            return self._submissions.get((campaign_id, unit_code, ref))

    def _where(self, where: SubmissionFilter | None) -> Callable[[SubmissionRecord], bool]:
        return where.matches if where is not None else lambda _: True

    def _records(self, keep: Callable[[SubmissionRecord], bool]) -> list[SubmissionRecord]:
        with self._lock:
            return [r for r in self._submissions.values() if keep(r)]

    def unit_submissions(
        self,
        campaign_id: str,
        unit_code: str,
        *,
        limit: int,
        cursor: str | None = None,
        where: SubmissionFilter | None = None,
    ) -> SubmissionPage:
        mine = self._records(lambda r: r.campaign == campaign_id and r.unit == unit_code)
        ordered = sorted(((r.ref, r) for r in mine), key=lambda kr: kr[0], reverse=True)
        return _page(("unit", campaign_id, unit_code), ordered, limit, cursor, self._where(where))

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
        mine = self._records(
            lambda r: (
                (r.campaign, r.deliverable, r.period) == (campaign_id, deliverable_id, period)
                and (unit_code is None or r.unit == unit_code)
            )
        )
        # The deadline index sorts by unit, then time: newest first within a unit.
        ordered = sorted(
            ((f"U#{r.unit}#{iso_utc(r.received_at)}#{r.ref}", r) for r in mine), key=lambda kr: kr[0], reverse=True
        )
        listing = ("deadline", campaign_id, deliverable_id, period, unit_code or "")
        return _page(listing, ordered, limit, cursor, lambda _: True)

    def campaign_submissions(
        self, campaign_id: str, *, limit: int, cursor: str | None = None, where: SubmissionFilter | None = None
    ) -> SubmissionPage:
        mine = self._records(lambda r: r.campaign == campaign_id)
        ordered = sorted(
            ((f"{iso_utc(r.received_at)}#{r.unit}#{r.ref}", r) for r in mine), key=lambda kr: kr[0], reverse=True
        )
        return _page(("feed", campaign_id), ordered, limit, cursor, self._where(where))

    def record_refused_upload(self, refused: RefusedUpload) -> None:
        with self._lock:
            self._refused[f"{iso_utc(refused.received_at)}#{refused.object_key}#{refused.version_id}"] = refused

    def refused_page(self, key_prefix: str, *, limit: int, cursor: str | None = None) -> RefusedPage:
        listing = ("refused", key_prefix)
        with self._lock:
            ordered = sorted(self._refused.items(), reverse=True)
        after = _decode(cursor, listing)
        rest = [(k, r) for k, r in ordered if after is None or k < after]
        read = rest[:limit]
        more = len(rest) > limit
        kept = tuple(r for _, r in read if r.object_key.startswith(key_prefix))
        return RefusedPage(kept, _encode(listing, read[-1][0]) if more else None)

    def refused_uploads(self, limit: int = 100) -> list[RefusedUpload]:
        with self._lock:
            return [self._refused[k] for k in sorted(self._refused, reverse=True)[:limit]]

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
        stored = {
            number: DeliveryRow(
                campaign=campaign_id,
                unit=unit_code,
                deliverable=deliverable_id,
                period=period,
                version_id=version_id,
                number=number,
                sheet=row.get("sheet"),
                row=row.get("row"),
                aspect=row.get("aspect"),
                fields={k: _plain(v) for k, v in row.items() if k not in ("row", "sheet")},
            )
            for number, row in enumerate(rows, 1)
        }
        with self._lock:
            self._rows.setdefault((campaign_id, unit_code, deliverable_id, period, version_id), {}).update(stored)
        return len(rows)

    def record_delivery(self, event: DeliveryEvent) -> bool:
        key = (event.campaign, event.unit, event.deliverable, event.period)
        order = event.order
        with self._lock:
            state = self._pointers.get(key) or DeliveryPointer(
                event.campaign, event.unit, event.deliverable, event.period
            )
            if state.latest_order is None or state.latest_order <= order:
                state = replace(
                    state,
                    latest_order=order,
                    latest_status=str(event.status),
                    latest_submission_sk=event.submission_ref,
                    latest_received_at=event.received_at,
                    latest_messages=tuple(event.messages),
                )
            self._pointers[key] = state
            if event.status not in ACCEPTED_STATUSES:
                return False
            if state.first_accepted_at is None or state.first_accepted_at > event.received_at:
                state = replace(state, first_accepted_at=event.received_at)
            moved = state.current_order is None or state.current_order <= order
            if moved:
                state = replace(
                    state,
                    current_version=event.version_id,
                    current_order=order,
                    current_submission_sk=event.submission_ref,
                    current_row_count=event.row_count or 0,
                    current_received_at=event.received_at,
                    current_aspect_counts=dict(event.aspect_counts) if event.aspect_counts is not None else None,
                    current_row_problems=tuple(event.row_problems) if event.row_problems is not None else None,
                )
            self._pointers[key] = state
            return moved

    def delivery(self, campaign_id: str, unit_code: str, deliverable_id: str, period: str) -> DeliveryPointer | None:
        with self._lock:
            return self._pointers.get((campaign_id, unit_code, deliverable_id, period))

    def _pointers_where(self, keep: Callable[[DeliveryPointer], bool]) -> list[DeliveryPointer]:
        with self._lock:
            return [p for p in self._pointers.values() if keep(p)]

    def unit_deliveries(self, campaign_id: str, unit_code: str, period: str | None = None) -> list[DeliveryPointer]:
        found = self._pointers_where(
            lambda p: p.campaign == campaign_id and p.unit == unit_code and (period is None or p.period == period)
        )
        return sorted(found, key=lambda p: f"CUR#{p.deliverable}#{p.period}")

    def deadline_deliveries(self, campaign_id: str, deliverable_id: str, period: str) -> list[DeliveryPointer]:
        found = self._pointers_where(
            lambda p: (p.campaign, p.deliverable, p.period) == (campaign_id, deliverable_id, period)
        )
        return sorted(found, key=lambda p: p.unit)

    def version_rows(
        self, campaign_id: str, unit_code: str, deliverable_id: str, period: str, version_id: str
    ) -> list[DeliveryRow]:
        with self._lock:
            rows = self._rows.get((campaign_id, unit_code, deliverable_id, period, version_id), {})
            return [rows[n] for n in sorted(rows)]

    def current_rows(self, campaign_id: str, unit_code: str, deliverable_id: str, period: str) -> list[DeliveryRow]:
        with self._lock:
            state = self.delivery(campaign_id, unit_code, deliverable_id, period)
            if state is None or state.current_version is None:
                return []
            return self.version_rows(campaign_id, unit_code, deliverable_id, period, state.current_version)

    # --- the notice log ----------------------------------------------------------------------------

    def create_notice(self, key: NoticeKey, kind: str, mail: OutgoingMail, now: datetime) -> NoticeRecord:
        with self._lock:
            existing = self._notices.get((key.pk, key.key))
            if existing is not None:
                return existing
            record = NoticeRecord(
                key=key,
                kind=kind,
                recipients=tuple(mail.to),
                cc=tuple(mail.cc),
                subject=mail.subject,
                text=mail.text,
                html=mail.html,
                message_id=mail.message_id,
                status=NoticeStatus.PENDING,
                created_at=now,
            )
            self._notices[(key.pk, key.key)] = record
            return record

    def _update(self, key: NoticeKey, **changes: Any) -> None:
        with self._lock:
            current = self._notices.get((key.pk, key.key))
            if current is not None:  # DynamoDB's unconditional update would create a stub; nobody relies on it
                self._notices[(key.pk, key.key)] = replace(current, **changes)

    def claim_notice(self, key: NoticeKey, now: datetime, lease: timedelta) -> bool:
        with self._lock:
            notice = self._notices.get((key.pk, key.key))
            if notice is None:
                return False
            expired = notice.lease_until is not None and notice.lease_until < now
            claimable = notice.status in (NoticeStatus.PENDING, NoticeStatus.FAILED) or (
                notice.status == NoticeStatus.SENDING and expired
            )
            if not claimable:
                return False
            self._update(key, status=NoticeStatus.SENDING, lease_until=now + lease, attempts=notice.attempts + 1)
            return True

    def mark_notice_sent(self, key: NoticeKey, sent_at: datetime) -> None:
        self._update(key, status=NoticeStatus.SENT, sent_at=sent_at, lease_until=None)

    def mark_notice_failed(self, key: NoticeKey, error: str) -> None:
        self._update(key, status=NoticeStatus.FAILED, last_error=error[:1000], lease_until=None)

    def mark_notice_rejected(self, key: NoticeKey, error: str) -> None:
        self._update(key, status=NoticeStatus.REJECTED, last_error=error[:1000])

    def get_notice(self, key: NoticeKey) -> NoticeRecord | None:
        with self._lock:
            return self._notices.get((key.pk, key.key))

    def unsent_notices(self, campaign_id: str, scope: str, since: datetime) -> list[NoticeRecord]:
        pk = NoticeKey(campaign_id, scope, "").pk
        unsent = (NoticeStatus.PENDING, NoticeStatus.FAILED, NoticeStatus.SENDING)
        with self._lock:
            found: Iterable[tuple[tuple[str, str], NoticeRecord]] = list(self._notices.items())
        return [
            n
            for (p, _), n in sorted(found, key=lambda kv: kv[0][1])
            if p == pk and n.status in unsent and n.created_at is not None and n.created_at >= since
        ]

    # --- issue 14: office decisions ----------------------------------------------------------------

    def record_decision(self, decision: OfficeDecision) -> bool:
        key = (decision.campaign, decision.unit, decision.key)
        with self._lock:
            if key in self._decisions:
                return False
            self._decisions[key] = decision
            return True

    def unit_decisions(self, campaign_id: str, unit_code: str) -> list[OfficeDecision]:
        with self._lock:
            mine = [(k, d) for (c, u, k), d in self._decisions.items() if (c, u) == (campaign_id, unit_code)]
        return [d for _, d in sorted(mine, key=lambda kd: kd[0])]

    def replace_delivery(self, pointer: DeliveryPointer, expected_latest_order: str | None) -> bool:
        key = (pointer.campaign, pointer.unit, pointer.deliverable, pointer.period)
        with self._lock:
            current = self._pointers.get(key)
            if (current.latest_order if current else None) != expected_latest_order:
                return False
            self._pointers[key] = pointer
            return True

    # --- issue 15: problems (对账销号) --------------------------------------------------------------

    def _problem_items(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        if not hasattr(self, "_problems"):
            self._problems: dict[tuple[str, str, str], dict[str, Any]] = {}  # (campaign, unit, sk) -> as_json
            self._aggregates: dict[tuple[str, str], dict[str, Any]] = {}  # (campaign, unit) -> aggregate item
        return self._problems

    def unit_problems(self, campaign_id: str, unit_code: str) -> StoredProblems:
        with self._lock:
            items = self._problem_items()
            mine = sorted((sk, data) for (c, u, sk), data in items.items() if (c, u) == (campaign_id, unit_code))
            agg = self._aggregates.get((campaign_id, unit_code))
        problems = tuple(Problem.from_json(json.loads(json.dumps(data))) for _, data in mine)
        if agg is None:
            return StoredProblems(UnitProblems(unit_code, problems), 0)
        body = agg["body"]
        state = UnitProblems(
            unit_code,
            problems,
            dict(body["current"]),
            dict(body["sequences"]),
            dict(body.get("retired") or {}),
        )
        return StoredProblems(state, agg["revision"], tuple(agg.get("untold", ())), agg.get("writing", False))

    def save_problems(self, campaign_id: str, change: ProblemChange) -> int:
        by_id = {p.id: p for p in change.state.problems}
        with self._lock:
            items = self._problem_items()
            agg = self._aggregates.get((campaign_id, change.unit))
            revision = agg["revision"] if agg else 0
            if revision != change.expected_revision:
                raise ProblemConflictError(f"revision {revision}, expected {change.expected_revision}")
            for pid in change.changed:
                items[(campaign_id, change.unit, problem_sort_key(pid))] = json.loads(json.dumps(by_id[pid].as_json()))
            for pid in change.removed:
                items.pop((campaign_id, change.unit, problem_sort_key(pid)), None)
            self._aggregates[(campaign_id, change.unit)] = {
                "revision": revision + 1,
                "body": json.loads(json.dumps(problem_aggregate(change.state))),
                "untold": [dict(u) for u in change.untold],
            }
            return revision + 1

    def get_problem(self, campaign_id: str, problem_id: str) -> Problem | None:
        with self._lock:
            data = self._problem_items().get((campaign_id, problem_unit(problem_id), problem_sort_key(problem_id)))
        return Problem.from_json(json.loads(json.dumps(data))) if data is not None else None

    def problem_aggregates(self, campaign_id: str) -> list[StoredAggregate]:
        with self._lock:
            self._problem_items()
            found = sorted((u, a) for (c, u), a in self._aggregates.items() if c == campaign_id)
        return [
            StoredAggregate(u, a["revision"], json.loads(json.dumps(a["body"])), tuple(a.get("untold", ())))
            for u, a in found
        ]

    def problem_page(
        self, campaign_id: str, *, where: ProblemFilter | None = None, limit: int, cursor: str | None = None
    ) -> ProblemPage:
        where = where or ProblemFilter()
        # The same partitions DynamoStore queries: a unit's, a status's, the campaign's.
        if where.unit is not None:
            listing: _Listing = ("problems-unit", campaign_id, where.unit)
        elif where.status is not None:
            listing = ("problems-status", campaign_id, where.status)
        else:
            listing = ("problems", campaign_id)
        with self._lock:
            ordered = sorted(
                (f"{u}#{sk}", data)
                for (c, u, sk), data in self._problem_items().items()
                if c == campaign_id
                and (where.unit is None or u == where.unit)
                and (where.unit is not None or where.status is None or data["status"] == where.status)
            )
        after = _decode(cursor, listing)
        rest = [(k, d) for k, d in ordered if after is None or k > after]
        read = rest[:limit]
        more = len(rest) > limit
        problems = (Problem.from_json(json.loads(json.dumps(d))) for _, d in read)
        return ProblemPage(
            tuple(p for p in problems if where.matches(p)), _encode(listing, read[-1][0]) if more else None
        )

    # --- issue 17: province scale (reads bounded in calls whatever the number of units) ------------------

    def deadline_deliveries_page(
        self, campaign_id: str, deliverable_id: str, period: str, *, limit: int, cursor: str | None = None
    ) -> PointerPage:
        listing: _Listing = ("pointers", campaign_id, deliverable_id, period)
        after = _decode(cursor, listing)
        found = [
            p for p in self.deadline_deliveries(campaign_id, deliverable_id, period) if after is None or p.unit > after
        ]
        items = tuple(found[:limit])
        more = len(found) > limit
        return PointerPage(items, _encode(listing, items[-1].unit) if more and items else None)

    # --- issue 17: export jobs ----------------------------------------------------------------------------

    def create_export_job(self, job: ExportJob) -> tuple[ExportJob, bool]:
        with self._lock:
            found = self._export_jobs.get((job.campaign, job.job_id))
            if found is not None:
                return found, False
            self._export_jobs[(job.campaign, job.job_id)] = job
            return job, True

    def export_job(self, campaign_id: str, job_id: str) -> ExportJob | None:
        with self._lock:
            return self._export_jobs.get((campaign_id, job_id))

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
        with self._lock:
            job = self._export_jobs.get((campaign_id, job_id))
            if job is None or job.status == "done":
                return job
            job = replace(job, status=status, updated_at=now, object_key=object_key, rows=rows, message=message)
            self._export_jobs[(campaign_id, job_id)] = job
            return job
