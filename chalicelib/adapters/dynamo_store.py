"""``CampaignStore`` on DynamoDB: every PynamoDB call of the app is here (the models: ``models.py``).

Keys and indexes are described in ``chalicelib.adapters.models``. Each method costs what its docstring
in ``chalicelib.domain.store`` promises (a GetItem, one Query, a conditional write); never a Scan.
Model instances stay inside: callers get the domain's frozen dataclasses.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.adapters.models import (
    PROBLEM_AGGREGATE_SK,
    Decision,
    Delivery,
    Notice,
    ProblemAggregateItem,
    ProblemItem,
    RejectedUpload,
    Submission,
    aggregates_pk,
    bind_table,
    current_index_pk,
    deadline_pk,
    delivery_sk,
    feed_pk,
    is_condition_failure,
    problem_status_pk,
    problems_campaign_pk,
    problems_pk,
    rows_pk,
    submission_pk,
)
from chalicelib.adapters.models import DeliveryRow as DeliveryRowItem
from chalicelib.adapters.models import Finding as FindingMap
from chalicelib.domain.findings import ACCEPTED_STATUSES, Finding, NoticeStatus
from chalicelib.domain.outgoing import NoticeKey, OutgoingMail
from chalicelib.domain.store import (
    PROBLEM_WRITE_LEASE,
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

if TYPE_CHECKING:  # loaded on first use (the problems domain loads the tables package: not for every request)
    from chalicelib.domain.problems import Problem

REFUSED_PK = "INTAKE#REJECTED"


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, partition: str, partition_attr: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursorError() from exc
    # A cursor from another listing would start a query somewhere it must not.
    if not isinstance(key, dict) or key.get(partition_attr) != {"S": partition}:
        raise InvalidCursorError(mismatch=True)
    return key


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _finding(item: FindingMap) -> Finding:
    data = item.as_dict()
    row = data.get("row")
    return Finding(**{**data, "row": int(row)} if row is not None else data)


def _submission(item: Submission) -> SubmissionRecord:
    return SubmissionRecord(
        campaign=item.campaign,
        unit=item.unit,
        unit_name=item.unit_name,
        deliverable=item.deliverable,
        period=item.period,
        bucket=item.bucket,
        object_key=item.object_key,
        version_id=item.version_id,
        sequencer=item.sequencer,
        file_name=item.file_name,
        size=int(item.size),
        sha256=item.sha256,
        etag=item.etag,
        received_at=item.received_at,
        received_at_local=item.received_at_local,
        status=item.status,
        errors=tuple(_finding(f) for f in item.errors or ()),
        warnings=tuple(_finding(f) for f in item.warnings or ()),
        row_count=_int(item.row_count),
        details=item.details.as_dict() if item.details is not None else {},
        updated_at=item.updated_at,
    )


def _pointer(item: Delivery) -> DeliveryPointer:
    return DeliveryPointer(
        campaign=item.campaign,
        unit=item.unit,
        deliverable=item.deliverable,
        period=item.period,
        current_version=item.current_version,
        current_order=item.current_order,
        current_submission_sk=item.current_submission_sk,
        current_row_count=_int(item.current_row_count),
        current_received_at=item.current_received_at,
        first_accepted_at=item.first_accepted_at,
        latest_order=item.latest_order,
        latest_status=item.latest_status,
        latest_submission_sk=item.latest_submission_sk,
        latest_received_at=item.latest_received_at,
        latest_messages=tuple(str(m) for m in item.latest_messages) if item.latest_messages is not None else None,
        current_aspect_counts=(
            {str(k): int(v) for k, v in item.current_aspect_counts.as_dict().items()}
            if item.current_aspect_counts is not None
            else None
        ),
        current_row_problems=(
            tuple(str(m) for m in item.current_row_problems) if item.current_row_problems is not None else None
        ),
    )


def _texts(texts: Sequence[str]) -> Any:
    """A list of strings for a ListAttribute(of=UnicodeAttribute) update (typed as a list of attributes)."""
    return list(texts)


def _row(item: DeliveryRowItem) -> DeliveryRow:
    return DeliveryRow(
        campaign=item.campaign,
        unit=item.unit,
        deliverable=item.deliverable,
        period=item.period,
        version_id=item.version_id,
        number=int(item.sk.removeprefix("R#")),
        sheet=item.sheet,
        row=_int(item.row),
        aspect=item.aspect,
        fields=item.fields.as_dict() if item.fields is not None else {},
    )


def _notice(key: NoticeKey, item: Notice) -> NoticeRecord:
    return NoticeRecord(
        key=key,
        kind=item.kind,
        recipients=tuple(str(r) for r in item.recipients or ()),
        cc=tuple(str(r) for r in item.cc or ()),
        subject=item.subject,
        text=item.text,
        html=item.html,
        message_id=item.message_id,
        status=item.status,
        attempts=int(item.attempts or 0),
        lease_until=item.lease_until,
        sent_at=item.sent_at,
        last_error=item.last_error,
        created_at=item.created_at,
    )


def _update_if(item: Any, actions: list[Any], condition: Any) -> bool:
    try:
        item.update(actions=actions, condition=condition)
        return True
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise


def _submission_condition(where: SubmissionFilter | None) -> Any:
    condition = None
    for attribute, value in (
        (Submission.deliverable, where.deliverable if where else None),
        (Submission.period, where.period if where else None),
        (Submission.status, where.status if where else None),
    ):
        if value is not None:
            clause = attribute == str(value)
            condition = clause if condition is None else condition & clause
    return condition


class DynamoStore:
    """The campaign table. Make one per process (its models share the process's botocore session)."""

    def __init__(self, table_name: str, region: str, endpoint_url: str | None = None) -> None:
        self.table_name = table_name
        bind_table(table_name, region, endpoint_url)

    # --- submissions -------------------------------------------------------------------------------

    def record_submission(self, record: SubmissionRecord) -> tuple[SubmissionRecord, bool]:
        received = iso_utc(record.received_at)
        item = Submission(
            submission_pk(record.campaign, record.unit),
            record.ref,
            gsi1pk=deadline_pk(record.campaign, record.deliverable, record.period),
            gsi1sk=f"U#{record.unit}#{received}",
            gsi2pk=feed_pk(record.campaign),
            gsi2sk=f"{received}#{record.unit}",
            campaign=record.campaign,
            unit=record.unit,
            unit_name=record.unit_name,
            deliverable=record.deliverable,
            period=record.period,
            bucket=record.bucket,
            object_key=record.object_key,
            version_id=record.version_id,
            sequencer=record.sequencer,
            file_name=record.file_name,
            size=record.size,
            sha256=record.sha256,
            etag=record.etag,
            received_at=record.received_at,
            received_at_local=record.received_at_local,
            status=str(record.status),
            errors=[FindingMap(**f.as_dict()) for f in record.errors],
            warnings=[FindingMap(**f.as_dict()) for f in record.warnings],
            row_count=record.row_count,
            details=record.details,
            updated_at=record.updated_at,
        )
        try:
            item.save(condition=Submission.pk.does_not_exist())
            return record, True
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            return _submission(Submission.get(item.pk, item.sk, consistent_read=True)), False

    def get_submission(self, campaign_id: str, unit_code: str, ref: str) -> SubmissionRecord | None:
        try:
            return _submission(Submission.get(submission_pk(campaign_id, unit_code), ref))
        except Submission.DoesNotExist:
            return None

    def unit_submissions(
        self,
        campaign_id: str,
        unit_code: str,
        *,
        limit: int,
        cursor: str | None = None,
        where: SubmissionFilter | None = None,
    ) -> SubmissionPage:
        pk = submission_pk(campaign_id, unit_code)
        result = Submission.query(
            pk,
            Submission.sk.startswith("S#"),
            filter_condition=_submission_condition(where),
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=decode_cursor(cursor, pk, "pk"),
        )
        items = tuple(_submission(i) for i in result)
        return SubmissionPage(items, encode_cursor(result.last_evaluated_key))

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
        pk = deadline_pk(campaign_id, deliverable_id, period)
        result = Submission.by_deadline.query(
            pk,
            Submission.gsi1sk.startswith(f"U#{unit_code}#") if unit_code else None,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=decode_cursor(cursor, pk, "gsi1pk"),
        )
        items = tuple(_submission(i) for i in result)
        return SubmissionPage(items, encode_cursor(result.last_evaluated_key))

    def campaign_submissions(
        self, campaign_id: str, *, limit: int, cursor: str | None = None, where: SubmissionFilter | None = None
    ) -> SubmissionPage:
        pk = feed_pk(campaign_id)
        result = Submission.feed.query(
            pk,
            filter_condition=_submission_condition(where),
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=decode_cursor(cursor, pk, "gsi2pk"),
        )
        items = tuple(_submission(i) for i in result)
        return SubmissionPage(items, encode_cursor(result.last_evaluated_key))

    def record_refused_upload(self, refused: RefusedUpload) -> None:
        RejectedUpload(
            REFUSED_PK,
            f"{iso_utc(refused.received_at)}#{refused.object_key}#{refused.version_id}",
            bucket=refused.bucket,
            object_key=refused.object_key,
            version_id=refused.version_id,
            received_at=refused.received_at,
            code=refused.code,
            message=refused.message,
        ).save()

    def refused_page(self, key_prefix: str, *, limit: int, cursor: str | None = None) -> RefusedPage:
        result = RejectedUpload.query(
            REFUSED_PK,
            filter_condition=RejectedUpload.object_key.startswith(key_prefix),
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=decode_cursor(cursor, REFUSED_PK, "pk"),
        )
        items = tuple(
            RefusedUpload(r.bucket, r.object_key, r.version_id, r.received_at, r.code, r.message) for r in result
        )
        return RefusedPage(items, encode_cursor(result.last_evaluated_key))

    def refused_uploads(self, limit: int = 100) -> list[RefusedUpload]:
        return [
            RefusedUpload(r.bucket, r.object_key, r.version_id, r.received_at, r.code, r.message)
            for r in RejectedUpload.query(REFUSED_PK, scan_index_forward=False, limit=limit)
        ]

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
        pk = rows_pk(campaign_id, unit_code, deliverable_id, period, version_id)
        with DeliveryRowItem.batch_write() as batch:  # 25 per request
            for number, row in enumerate(rows, 1):
                fields = {k: _plain(v) for k, v in row.items() if k not in ("row", "sheet")}
                batch.save(
                    DeliveryRowItem(
                        pk,
                        f"R#{number:05d}",
                        campaign=campaign_id,
                        unit=unit_code,
                        deliverable=deliverable_id,
                        period=period,
                        version_id=version_id,
                        sheet=row.get("sheet"),
                        row=row.get("row"),
                        aspect=row.get("aspect"),
                        fields=fields,
                    )
                )
        return len(rows)

    def record_delivery(self, event: DeliveryEvent) -> bool:
        order = event.order
        item = Delivery(submission_pk(event.campaign, event.unit), delivery_sk(event.deliverable, event.period))
        identity = [
            Delivery.gsi1pk.set(current_index_pk(event.campaign, event.deliverable, event.period)),
            Delivery.gsi1sk.set(f"U#{event.unit}"),
            Delivery.campaign.set(event.campaign),
            Delivery.unit.set(event.unit),
            Delivery.deliverable.set(event.deliverable),
            Delivery.period.set(event.period),
        ]
        _update_if(
            item,
            [
                *identity,
                Delivery.latest_order.set(order),
                Delivery.latest_status.set(str(event.status)),
                Delivery.latest_submission_sk.set(event.submission_ref),
                Delivery.latest_received_at.set(event.received_at),
                Delivery.latest_messages.set(_texts(event.messages)),
            ],
            Delivery.latest_order.does_not_exist() | (Delivery.latest_order <= order),
        )
        if event.status not in ACCEPTED_STATUSES:
            return False
        _update_if(
            item,
            [*identity, Delivery.first_accepted_at.set(event.received_at)],
            Delivery.first_accepted_at.does_not_exist() | (Delivery.first_accepted_at > event.received_at),
        )
        return _update_if(
            item,
            [
                *identity,
                Delivery.current_version.set(event.version_id),
                Delivery.current_order.set(order),
                Delivery.current_submission_sk.set(event.submission_ref),
                Delivery.current_row_count.set(event.row_count or 0),
                Delivery.current_received_at.set(event.received_at),
                Delivery.current_aspect_counts.set(dict(event.aspect_counts))
                if event.aspect_counts is not None
                else Delivery.current_aspect_counts.remove(),
                Delivery.current_row_problems.set(_texts(event.row_problems))
                if event.row_problems is not None
                else Delivery.current_row_problems.remove(),
            ],
            Delivery.current_order.does_not_exist() | (Delivery.current_order <= order),
        )

    def delivery(self, campaign_id: str, unit_code: str, deliverable_id: str, period: str) -> DeliveryPointer | None:
        try:
            return _pointer(Delivery.get(submission_pk(campaign_id, unit_code), delivery_sk(deliverable_id, period)))
        except Delivery.DoesNotExist:
            return None

    def unit_deliveries(self, campaign_id: str, unit_code: str, period: str | None = None) -> list[DeliveryPointer]:
        items = Delivery.query(submission_pk(campaign_id, unit_code), Delivery.sk.startswith("CUR#"))
        return [_pointer(d) for d in items if period is None or d.period == period]

    def deadline_deliveries(self, campaign_id: str, deliverable_id: str, period: str) -> list[DeliveryPointer]:
        return [_pointer(d) for d in Delivery.by_deadline.query(current_index_pk(campaign_id, deliverable_id, period))]

    def version_rows(
        self, campaign_id: str, unit_code: str, deliverable_id: str, period: str, version_id: str
    ) -> list[DeliveryRow]:
        pk = rows_pk(campaign_id, unit_code, deliverable_id, period, version_id)
        return [_row(r) for r in DeliveryRowItem.query(pk)]

    def current_rows(self, campaign_id: str, unit_code: str, deliverable_id: str, period: str) -> list[DeliveryRow]:
        state = self.delivery(campaign_id, unit_code, deliverable_id, period)
        if state is None or state.current_version is None:
            return []
        return self.version_rows(campaign_id, unit_code, deliverable_id, period, state.current_version)

    # --- the notice log ----------------------------------------------------------------------------

    def create_notice(self, key: NoticeKey, kind: str, mail: OutgoingMail, now: datetime) -> NoticeRecord:
        notice = Notice(
            key.pk,
            key.key,
            kind=kind,
            recipients=list(mail.to),
            cc=list(mail.cc),
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            message_id=mail.message_id,
            status=str(NoticeStatus.PENDING),
            created_at=now,
        )
        try:
            notice.save(condition=Notice.pk.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            notice = Notice.get(key.pk, key.key, consistent_read=True)
        return _notice(key, notice)

    def claim_notice(self, key: NoticeKey, now: datetime, lease: timedelta) -> bool:
        claimable = Notice.status.is_in(NoticeStatus.PENDING, NoticeStatus.FAILED) | (
            (Notice.status == NoticeStatus.SENDING) & (Notice.lease_until < now)
        )
        return _update_if(
            Notice(key.pk, key.key),
            [
                Notice.status.set(str(NoticeStatus.SENDING)),
                Notice.lease_until.set(now + lease),
                Notice.attempts.add(1),
            ],
            claimable,
        )

    def mark_notice_sent(self, key: NoticeKey, sent_at: datetime) -> None:
        Notice(key.pk, key.key).update(
            actions=[
                Notice.status.set(str(NoticeStatus.SENT)),
                Notice.sent_at.set(sent_at),
                Notice.lease_until.remove(),
            ]
        )

    def mark_notice_failed(self, key: NoticeKey, error: str) -> None:
        Notice(key.pk, key.key).update(
            actions=[
                Notice.status.set(str(NoticeStatus.FAILED)),
                Notice.last_error.set(error[:1000]),
                Notice.lease_until.remove(),
            ]
        )

    def mark_notice_rejected(self, key: NoticeKey, error: str) -> None:
        Notice(key.pk, key.key).update(
            actions=[Notice.status.set(str(NoticeStatus.REJECTED)), Notice.last_error.set(error[:1000])]
        )

    def get_notice(self, key: NoticeKey) -> NoticeRecord | None:
        try:
            return _notice(key, Notice.get(key.pk, key.key))
        except Notice.DoesNotExist:
            return None

    def unsent_notices(self, campaign_id: str, scope: str, since: datetime) -> list[NoticeRecord]:
        unsent = Notice.status.is_in(NoticeStatus.PENDING, NoticeStatus.FAILED, NoticeStatus.SENDING) & (
            Notice.created_at >= since
        )
        pk = NoticeKey(campaign_id, scope, "").pk
        return [_notice(NoticeKey(campaign_id, scope, n.sk), n) for n in Notice.query(pk, filter_condition=unsent)]

    # --- issue 14: office decisions ----------------------------------------------------------------

    def record_decision(self, decision: OfficeDecision) -> bool:
        item = Decision(
            submission_pk(decision.campaign, decision.unit),
            decision.key,
            campaign=decision.campaign,
            unit=decision.unit,
            deliverable=decision.deliverable,
            period=decision.period,
            submission_ref=decision.submission_ref,
            version_id=decision.version_id,
            sequence=decision.sequence,
            decision=decision.decision,
            note=decision.note,
            decided_by=decision.decided_by,
            decided_at=decision.decided_at,
            row_count=decision.row_count,
            overridden=list(decision.overridden),
        )
        try:
            item.save(condition=Decision.pk.does_not_exist())
            return True
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            return False

    def unit_decisions(self, campaign_id: str, unit_code: str) -> list[OfficeDecision]:
        items = Decision.query(
            submission_pk(campaign_id, unit_code), Decision.sk.startswith("DEC#"), consistent_read=True
        )
        return [
            OfficeDecision(
                campaign=d.campaign,
                unit=d.unit,
                deliverable=d.deliverable,
                period=d.period,
                submission_ref=d.submission_ref,
                version_id=d.version_id,
                sequence=int(d.sequence),
                decision=d.decision,
                note=d.note,
                decided_by=d.decided_by,
                decided_at=d.decided_at,
                row_count=_int(d.row_count),
                overridden=tuple(str(m) for m in d.overridden or ()),
            )
            for d in items
        ]

    def replace_delivery(self, pointer: DeliveryPointer, expected_latest_order: str | None) -> bool:
        item = Delivery(
            submission_pk(pointer.campaign, pointer.unit),
            delivery_sk(pointer.deliverable, pointer.period),
            gsi1pk=current_index_pk(pointer.campaign, pointer.deliverable, pointer.period),
            gsi1sk=f"U#{pointer.unit}",
            campaign=pointer.campaign,
            unit=pointer.unit,
            deliverable=pointer.deliverable,
            period=pointer.period,
            current_version=pointer.current_version,
            current_order=pointer.current_order,
            current_submission_sk=pointer.current_submission_sk,
            current_row_count=pointer.current_row_count,
            current_received_at=pointer.current_received_at,
            first_accepted_at=pointer.first_accepted_at,
            latest_order=pointer.latest_order,
            latest_status=pointer.latest_status,
            latest_submission_sk=pointer.latest_submission_sk,
            latest_received_at=pointer.latest_received_at,
        )
        condition = (
            Delivery.latest_order.does_not_exist()
            if expected_latest_order is None
            else Delivery.latest_order == expected_latest_order
        )
        try:
            item.save(condition=condition)
            return True
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            return False

    # --- issue 15: problems (对账销号) --------------------------------------------------------------

    def unit_problems(self, campaign_id: str, unit_code: str) -> StoredProblems:
        from chalicelib.domain.problems import UnitProblems

        problems: list[Problem] = []
        aggregate_item: ProblemAggregateItem | None = None
        # One Query: the aggregate (``AGG``) sorts before the problems (``P#…``); both models read the raw item.
        for raw in _query_partition(problems_pk(campaign_id, unit_code)):
            if raw["sk"]["S"] == PROBLEM_AGGREGATE_SK:
                aggregate_item = ProblemAggregateItem.from_raw_data(raw)
            elif raw["sk"]["S"].startswith("P#"):
                problems.append(_problem(ProblemItem.from_raw_data(raw)))
        if aggregate_item is None:
            return StoredProblems(UnitProblems(unit_code, tuple(problems)), 0)
        body = json.loads(aggregate_item.body) if aggregate_item.body else {"current": {}, "sequences": {}}
        state = UnitProblems(
            unit_code,
            tuple(problems),
            dict(body["current"]),
            dict(body["sequences"]),
            dict(body.get("retired") or {}),
        )
        return StoredProblems(
            state, int(aggregate_item.revision), _untold(aggregate_item), aggregate_item.writing_until is not None
        )

    def save_problems(self, campaign_id: str, change: ProblemChange) -> int:
        now = change.now or datetime.now(UTC)
        pk = problems_pk(campaign_id, change.unit)
        item = ProblemAggregateItem(pk, PROBLEM_AGGREGATE_SK)
        expected = change.expected_revision
        free = ProblemAggregateItem.writing_until.does_not_exist() | (ProblemAggregateItem.writing_until < now)
        claim = (
            ProblemAggregateItem.revision.does_not_exist()
            if expected == 0
            else (ProblemAggregateItem.revision == expected) & free
        )
        # 1. claim the next revision (a lease: a writer that crashes here holds it for PROBLEM_WRITE_LEASE)
        if not _update_if(
            item,
            [
                ProblemAggregateItem.revision.set(expected + 1),
                ProblemAggregateItem.writing_until.set(now + PROBLEM_WRITE_LEASE),
                ProblemAggregateItem.unit.set(change.unit),
                ProblemAggregateItem.gsi1pk.set(aggregates_pk(campaign_id)),
                ProblemAggregateItem.gsi1sk.set(change.unit),
            ],
            claim,
        ):
            raise ProblemConflictError(f"{change.unit}: revision moved past {expected} or a write is in flight")
        # 2. the problems (BatchWriteItem, 25 a request)
        by_id = {p.id: p for p in change.state.problems}
        with ProblemItem.batch_write() as batch:
            for pid in change.changed:
                batch.save(_problem_item(campaign_id, by_id[pid]))
            for pid in change.removed:
                batch.delete(ProblemItem(pk, problem_sort_key(pid)))
        # 3. commit: the aggregate the board reads, the untold actions, the lease released
        from chalicelib.domain.problems import aggregate as problem_aggregate

        body = json.dumps(problem_aggregate(change.state), ensure_ascii=False, separators=(",", ":"))
        untold = json.dumps(list(change.untold), ensure_ascii=False, separators=(",", ":"))
        if not _update_if(
            item,
            [
                ProblemAggregateItem.body.set(body),
                ProblemAggregateItem.untold.set(untold),
                ProblemAggregateItem.writing_until.remove(),
            ],
            ProblemAggregateItem.revision == expected + 1,
        ):
            raise ProblemConflictError(f"{change.unit}: the claim on revision {expected + 1} was taken over")
        return expected + 1

    def get_problem(self, campaign_id: str, problem_id: str) -> Problem | None:
        try:
            item = ProblemItem.get(problems_pk(campaign_id, problem_unit(problem_id)), problem_sort_key(problem_id))
        except ProblemItem.DoesNotExist:
            return None
        return _problem(item)

    def problem_aggregates(self, campaign_id: str) -> list[StoredAggregate]:
        found = []
        for item in ProblemAggregateItem.of_campaign.query(aggregates_pk(campaign_id)):
            body = (
                json.loads(item.body)
                if item.body
                else {"unit": item.unit, "current": {}, "sequences": {}, "aspects": {}}
            )
            found.append(StoredAggregate(item.unit, int(item.revision), body, _untold(item)))
        return found

    def problem_page(
        self, campaign_id: str, *, where: ProblemFilter | None = None, limit: int, cursor: str | None = None
    ) -> ProblemPage:
        where = where or ProblemFilter()
        if where.unit is not None:
            pk = problems_pk(campaign_id, where.unit)
            result = ProblemItem.query(
                pk,
                ProblemItem.sk.startswith("P#"),
                filter_condition=_problem_condition(where, "unit"),
                limit=limit,
                last_evaluated_key=decode_cursor(cursor, pk, "pk"),
            )
        elif where.status is not None:
            pk = problem_status_pk(campaign_id, where.status)
            result = ProblemItem.by_status.query(
                pk,
                filter_condition=_problem_condition(where, "status"),
                limit=limit,
                last_evaluated_key=decode_cursor(cursor, pk, "gsi1pk"),
            )
        else:
            pk = problems_campaign_pk(campaign_id)
            result = ProblemItem.of_campaign.query(
                pk,
                filter_condition=_problem_condition(where, "campaign"),
                limit=limit,
                last_evaluated_key=decode_cursor(cursor, pk, "gsi2pk"),
            )
        items = tuple(_problem(i) for i in result)
        return ProblemPage(items, encode_cursor(result.last_evaluated_key))

    # --- issue 17: province scale (reads bounded in calls whatever the number of units) ------------------

    def deadline_deliveries_page(
        self, campaign_id: str, deliverable_id: str, period: str, *, limit: int, cursor: str | None = None
    ) -> PointerPage:
        pk = current_index_pk(campaign_id, deliverable_id, period)
        result = Delivery.by_deadline.query(pk, limit=limit, last_evaluated_key=decode_cursor(cursor, pk, "gsi1pk"))
        items = tuple(_pointer(d) for d in result)
        return PointerPage(items, encode_cursor(result.last_evaluated_key))

    # --- issue 17: export jobs (one item per job; module functions below) ---------------------------------

    def create_export_job(self, job: ExportJob) -> tuple[ExportJob, bool]:
        return create_export_job(job)

    def export_job(self, campaign_id: str, job_id: str) -> ExportJob | None:
        return export_job(campaign_id, job_id)

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
        return mark_export_job(campaign_id, job_id, status, now, object_key=object_key, rows=rows, message=message)


@cache
def default_store() -> DynamoStore:
    """The process's one store, bound to the table the settings name (made on first use, not at import)."""
    from chalicelib.config import settings

    s = settings()
    return DynamoStore(s.table_name, s.region, s.dynamodb_endpoint_url)


# --- issue 15: problems (对账销号) ------------------------------------------------------------------


def _problem_item(campaign_id: str, problem: Problem) -> ProblemItem:
    sk = problem_sort_key(problem.id)
    return ProblemItem(
        problems_pk(campaign_id, problem.unit),
        sk,
        gsi1pk=problem_status_pk(campaign_id, str(problem.status)),
        gsi1sk=f"{problem.unit}#{sk}",
        gsi2pk=problems_campaign_pk(campaign_id),
        gsi2sk=f"{problem.unit}#{sk}",
        problem_id=problem.id,
        unit=problem.unit,
        deliverable=problem.deliverable,
        status=str(problem.status),
        aspect=problem.aspect,
        body=json.dumps(problem.as_json(), ensure_ascii=False, separators=(",", ":")),
    )


def _problem(item: ProblemItem) -> Problem:
    from chalicelib.domain.problems import Problem

    return Problem.from_json(json.loads(item.body))


def _untold(item: ProblemAggregateItem) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(item.untold)) if item.untold else ()


def _problem_condition(where: ProblemFilter, by: str) -> Any:
    condition = None
    for attribute, value in (
        (ProblemItem.status, where.status if by == "unit" else None),
        (ProblemItem.aspect, where.aspect),
        (ProblemItem.deliverable, where.deliverable),
    ):
        if value is not None:
            clause = attribute == value
            condition = clause if condition is None else condition & clause
    return condition


def _query_partition(pk: str) -> list[dict[str, Any]]:
    """Every raw item of one partition (one Query, paged by DynamoDB past 1 MB), strongly consistent."""
    connection = ProblemItem._get_connection()
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        response = connection.query(pk, consistent_read=True, exclusive_start_key=start)
        items += response.get("Items", [])
        start = response.get("LastEvaluatedKey")
        if not start:
            return items


# --- issue 17: export jobs ------------------------------------------------------------------------------


def _export_job(item: Any) -> ExportJob:
    campaign, _, job_id = item.pk.removeprefix("C#").partition("#EXPORT#")
    return ExportJob(
        campaign=campaign,
        job_id=job_id,
        kind=item.kind,
        filters=json.loads(item.filters),
        estimated_rows=int(item.estimated_rows),
        status=item.status,
        created_at=item.created_at,
        updated_at=item.updated_at,
        object_key=item.object_key,
        rows=None if item.rows is None else int(item.rows),
        message=item.message,
    )


def create_export_job(job: ExportJob) -> tuple[ExportJob, bool]:
    from chalicelib.adapters.models import EXPORT_JOB_SK, ExportJobItem, export_job_pk

    item = ExportJobItem(
        export_job_pk(job.campaign, job.job_id),
        EXPORT_JOB_SK,
        kind=job.kind,
        filters=json.dumps(dict(job.filters), ensure_ascii=False, sort_keys=True),
        estimated_rows=job.estimated_rows,
        status=job.status,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )
    try:
        item.save(condition=ExportJobItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        found = export_job(job.campaign, job.job_id)
        assert found is not None
        return found, False
    return job, True


def export_job(campaign_id: str, job_id: str) -> ExportJob | None:
    from chalicelib.adapters.models import EXPORT_JOB_SK, ExportJobItem, export_job_pk

    try:
        return _export_job(ExportJobItem.get(export_job_pk(campaign_id, job_id), EXPORT_JOB_SK, consistent_read=True))
    except ExportJobItem.DoesNotExist:
        return None


def mark_export_job(
    campaign_id: str,
    job_id: str,
    status: ExportStatus,
    now: datetime,
    *,
    object_key: str | None = None,
    rows: int | None = None,
    message: str | None = None,
) -> ExportJob | None:
    from chalicelib.adapters.models import EXPORT_JOB_SK, ExportJobItem, export_job_pk

    item = ExportJobItem(export_job_pk(campaign_id, job_id), EXPORT_JOB_SK)
    actions: list[Any] = [ExportJobItem.status.set(status), ExportJobItem.updated_at.set(now)]
    actions.append(
        ExportJobItem.object_key.remove() if object_key is None else ExportJobItem.object_key.set(object_key)
    )
    actions.append(ExportJobItem.rows.remove() if rows is None else ExportJobItem.rows.set(rows))
    actions.append(ExportJobItem.message.remove() if message is None else ExportJobItem.message.set(message))
    try:
        # One conditional UpdateItem: the job exists and is not done (a done job is final).
        item.update(actions=actions, condition=ExportJobItem.pk.exists() & (ExportJobItem.status != "done"))
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return export_job(campaign_id, job_id)
    return export_job(campaign_id, job_id)
