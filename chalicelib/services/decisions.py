"""The office decides (issue 14): accept a rejected upload, return (退回) an accepted one.

A decision is recorded (who, when, why), the unit's pointer for that (deliverable, period) is recomputed
from the decided history by the rules intake follows (``chalicelib.domain.decisions``), the unit's problems
follow the pointer, and the unit is told once. Every step is idempotent: the same decision twice records
nothing the second time and finishes whatever the first left undone (pointer, problems, email).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from chalicelib.adapters.mail import MailSender
from chalicelib.adapters.objects import ObjectStore
from chalicelib.domain.decisions import (
    ACCEPT,
    DecidedUpload,
    DecisionError,
    decided_pointer,
    decided_status,
    decided_uploads,
    decisions_by_ref,
    is_no_op,
    is_stamped_scan,
    newest_per_file,
    own_rows,
    tagged,
)
from chalicelib.domain.findings import ACCEPTED_STATUSES, SendOutcome
from chalicelib.domain.outgoing import NoticeKey
from chalicelib.domain.receipts import DecisionNotice, compose_decision_notice
from chalicelib.domain.registry import Campaign, Registry
from chalicelib.domain.store import CampaignStore, DeliveryPointer, OfficeDecision, SubmissionRecord, rows_as_dicts
from chalicelib.services.checking import check_bounded
from chalicelib.services.notices import send_once
from chalicelib.services.problems import refresh_problems

MAX_POINTER_ATTEMPTS = 5
# Who a decision made in the console is recorded under: the console's session does not carry the token's name.
CONSOLE_DECIDER = "办公室控制台"
PAGE = 100


@dataclass(frozen=True)
class DecisionContext:
    registry: Registry
    store: CampaignStore
    objects: ObjectStore | None  # None: nothing can be re-read (then accepting a rejected upload writes no rows)
    mail: MailSender
    max_upload_bytes: int


@dataclass(frozen=True)
class DecisionOutcome:
    changed: bool  # False: the same decision stood already
    decision: OfficeDecision | None  # the decision that stands (None: never decided, and nothing changed)
    status: str  # the submission's decided status
    pointer: DeliveryPointer
    notice: str | None

    def as_json(self) -> dict[str, Any]:
        from chalicelib.domain.timeutil import iso_utc

        d = self.decision
        return {
            "changed": self.changed,
            "status": self.status,
            "decision": decision_json(d) if d else None,
            "current_version": self.pointer.current_version,
            "first_accepted_at": iso_utc(self.pointer.first_accepted_at) if self.pointer.first_accepted_at else None,
            "notice": self.notice,
        }


def decision_json(d: OfficeDecision) -> dict[str, Any]:
    from chalicelib.domain.timeutil import iso_utc

    return {
        "decision": d.decision,
        "note": d.note,
        "by": d.decided_by,
        "at": iso_utc(d.decided_at),
        "sequence": d.sequence,
        "rows": d.row_count,
        "overridden": list(d.overridden),
    }


def find_submission(store: CampaignStore, campaign_id: str, unit_code: str, version_id: str) -> SubmissionRecord:
    """The unit's submission of that object version (its history, page by page: dozens of items)."""
    cursor: str | None = None
    while True:
        page = store.unit_submissions(campaign_id, unit_code, limit=PAGE, cursor=cursor)
        for record in page.items:
            if record.version_id == version_id:
                return record
        if page.next_cursor is None:
            raise DecisionError(f"未找到该单位版本号为“{version_id[:80]}”的上传记录。", status=404)
        cursor = page.next_cursor


def deadline_records(store: CampaignStore, campaign_id: str, unit: str, deliverable: str, period: str) -> list[Any]:
    records: list[SubmissionRecord] = []
    cursor: str | None = None
    while True:
        page = store.deadline_submissions(campaign_id, deliverable, period, unit_code=unit, limit=PAGE, cursor=cursor)
        records += page.items
        if page.next_cursor is None:
            return records
        cursor = page.next_cursor


def union_rows(
    store: CampaignStore, campaign_id: str, unit: str, deliverable: str, period: str, files: list[DecidedUpload]
) -> list[dict[str, Any]]:
    """For a deliverable whose files add up (典型案例): every file's own rows, newest accepted per file name."""
    rows: list[dict[str, Any]] = []
    for upload in files:
        version = upload.record.version_id
        stored = rows_as_dicts(store.version_rows(campaign_id, unit, deliverable, period, version))
        rows += [
            r if "source_file" in r else tagged([r], upload.record.file_name, version)[0]
            for r in own_rows(stored, version)
        ]
    return rows


def settle_pointer(
    store: CampaignStore, campaign: Campaign, unit_code: str, deliverable_id: str, period: str, tag: str
) -> DeliveryPointer:
    """Recompute the pointer from the decided history and write it, unless an upload moved it meanwhile (then
    again). ``tag`` names a combined version of files that add up (written under ``{version}~{tag}``)."""
    deliverable = campaign.deliverable(deliverable_id)
    adds_up = deliverable is not None and deliverable.kind == "case"
    for _ in range(MAX_POINTER_ATTEMPTS):
        before = store.delivery(campaign.id, unit_code, deliverable_id, period)
        decisions = decisions_by_ref(store.unit_decisions(campaign.id, unit_code))
        records = deadline_records(store, campaign.id, unit_code, deliverable_id, period)
        uploads = decided_uploads(records, decisions)
        pointer = decided_pointer(campaign.id, unit_code, deliverable_id, period, uploads)
        if adds_up and pointer.current_version is not None:
            files = newest_per_file(uploads)
            rows = union_rows(store, campaign.id, unit_code, deliverable_id, period, files)
            combined = f"{pointer.current_version}~{tag}"
            store.write_version_rows(campaign.id, unit_code, deliverable_id, period, combined, rows)
            pointer = replace(pointer, current_version=combined, current_row_count=len(rows))
        if store.replace_delivery(pointer, before.latest_order if before else None):
            return pointer
    raise RuntimeError(f"pointer of {unit_code}/{deliverable_id}/{period} kept moving; decide again")


def _rows_for_accept(ctx: DecisionContext, campaign: Campaign, record: SubmissionRecord) -> list[dict[str, Any]]:
    """Read the original back and check it again in the sandbox: the rows the checker could read."""
    deliverable = campaign.deliverable(record.deliverable)
    unit = campaign.unit(record.unit)
    if ctx.objects is None or deliverable is None:
        return []
    fetched = ctx.objects.fetch(record.bucket, record.object_key, record.version_id, keep_up_to=ctx.max_upload_bytes)
    if fetched.data is None:
        return []
    verdict = check_bounded(campaign, deliverable, unit, record.file_name, fetched.data)
    rows = [dict(r) for r in (verdict.rows or verdict.readable_rows)]
    if deliverable.kind == "case":
        rows = tagged(rows, record.file_name, record.version_id)
    return rows


def _notify(ctx: DecisionContext, campaign: Campaign, record: SubmissionRecord, decision: OfficeDecision) -> str:
    unit = campaign.unit(record.unit)
    deliverable = campaign.deliverable(record.deliverable)
    assert unit is not None
    notice = DecisionNotice(
        campaign=campaign,
        unit=unit,
        deliverable_name=deliverable.name if deliverable else record.deliverable,
        period=record.period,
        file_name=record.file_name,
        version_id=record.version_id,
        received_at=record.received_at,
        decision=decision.decision,
        note=decision.note,
        decided_at=decision.decided_at,
        overridden=decision.overridden,
        row_count=decision.row_count,
    )
    key = NoticeKey(campaign.id, "decision", f"{unit.code}#{record.version_id}#{decision.sequence}")
    mail = compose_decision_notice(notice, key.message_id, campaign.office.name)
    return send_once(ctx.store, key, "decision", mail, ctx.mail)


def decide(
    ctx: DecisionContext,
    campaign_id: str,
    unit_ref: str,
    version_id: str,
    decision: str,
    note: str,
    decided_by: str,
    now: datetime,
) -> DecisionOutcome:
    campaign = ctx.registry.campaign(campaign_id)
    if campaign is None:
        raise DecisionError("未找到该专项活动。", status=404)
    unit = campaign.unit(unit_ref)
    if unit is None:
        raise DecisionError(f"未找到填报单位“{unit_ref[:40]}”，请填写单位名称或行政区划代码。", status=404)
    record = find_submission(ctx.store, campaign.id, unit.code, version_id)
    if is_stamped_scan(record):
        raise DecisionError("盖章扫描件随材料存档，不单独核验，无需接收或退回；请对同期的表格或报告作出决定。")
    mine = decisions_by_ref(ctx.store.unit_decisions(campaign.id, unit.code)).get(record.ref, [])
    if is_no_op(record, mine, decision):
        # Nothing to decide; finish what an earlier identical decision may have left undone.
        standing = mine[-1] if mine and mine[-1].decision == decision else None
        if standing is None:  # never decided (returning what the checker rejected): nothing moves
            pointer = ctx.store.delivery(campaign.id, unit.code, record.deliverable, record.period) or (
                DeliveryPointer(campaign.id, unit.code, record.deliverable, record.period)
            )
            return DecisionOutcome(False, None, decided_status(record, mine), pointer, None)
        pointer = settle_pointer(ctx.store, campaign, unit.code, record.deliverable, record.period, _tag(standing))
        refresh_problems(ctx.store, campaign, unit.code, record.deliverable, record.period, now=now)
        notice = _notify(ctx, campaign, record, standing)
        return DecisionOutcome(False, standing, decided_status(record, mine), pointer, notice)
    row_count: int | None = None
    overridden: tuple[str, ...] = ()
    if decision == ACCEPT:
        if record.status in ACCEPTED_STATUSES:  # returned earlier: its rows are still there
            row_count = record.row_count
        else:
            rows = _rows_for_accept(ctx, campaign, record)
            ctx.store.write_version_rows(campaign.id, unit.code, record.deliverable, record.period, version_id, rows)
            row_count = len(rows)
            overridden = tuple(f.located() for f in record.errors)
    made = OfficeDecision(
        campaign=campaign.id,
        unit=unit.code,
        deliverable=record.deliverable,
        period=record.period,
        submission_ref=record.ref,
        version_id=record.version_id,
        sequence=len(mine) + 1,
        decision=decision,
        note=note,
        decided_by=decided_by,
        decided_at=now,
        row_count=row_count,
        overridden=overridden,
    )
    changed = ctx.store.record_decision(made)
    if not changed:  # a concurrent identical request won: its decision stands
        mine = decisions_by_ref(ctx.store.unit_decisions(campaign.id, unit.code)).get(record.ref, [])
        made = mine[-1]
    pointer = settle_pointer(ctx.store, campaign, unit.code, record.deliverable, record.period, _tag(made))
    refresh_problems(ctx.store, campaign, unit.code, record.deliverable, record.period, now=now)
    notice = _notify(ctx, campaign, record, made)
    return DecisionOutcome(changed, made, decided_status(record, [made]), pointer, notice)


def _tag(decision: OfficeDecision | None) -> str:
    return f"{decision.version_id[:40]}.{decision.sequence}" if decision else "settled"


def notice_failed(outcome: DecisionOutcome) -> bool:
    return outcome.notice in (SendOutcome.FAILED, SendOutcome.IN_FLIGHT)


@cache
def default_context() -> DecisionContext:
    """The process's context (the console's route uses it; app.py's route builds the same)."""
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.adapters.mail import sender_from_settings
    from chalicelib.config import settings
    from chalicelib.domain.registry import default_registry

    config = settings()
    return DecisionContext(
        registry=default_registry(),
        store=default_store(),
        objects=ObjectStore(client("s3", config.region)),
        mail=sender_from_settings(config),
        max_upload_bytes=config.max_upload_bytes,
    )
