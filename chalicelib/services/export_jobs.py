"""Exports too big for one request (issue 17 item 2): the request starts a job, the export worker builds it.

The door: ``issues.xlsx`` (and the console's ``ledger.xlsx``) first estimates the ledger's rows from what the
delivery pointers keep (``current_row_count``: one Query on the pointer index per period, or a GetItem per
period for one unit). Up to ``EXPORT_SYNC_MAX_ROWS`` the workbook is built in the request as before; above,
a job item is recorded (queued), one SQS message names it, and the office polls
``GET /campaigns/{c}/exports/{job}`` until it is done and carries a presigned link.

The worker reads the ledger a page of units at a time (``deadline_deliveries_page`` + one Query per unit on
the page, as ``GET /issues`` does), streams the rows into the constant-memory writer in a temporary file and
puts the workbook under ``exports/{campaign}/{job}.xlsx``. Idempotent on redelivery: a done job is not built
again, and a job redelivered while (or after) it failed half-way rebuilds the same key.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any

from chalicelib.domain.ledger import LedgerRow, ledger_rows
from chalicelib.domain.registry import Campaign, Registry
from chalicelib.domain.store import CampaignStore, ExportJob
from chalicelib.domain.timeutil import iso_utc, now_utc
from chalicelib.services.queries import (
    LEDGER_READERS,
    LEDGER_UNITS_PER_PAGE,
    QueryError,
    QueryNotFoundError,
    _as_of,
    _flag,
    campaign_or_404,
    period_or_400,
    unit_or_400,
)

LEDGER_EXPORT = "issues.xlsx"
LEDGER_FILE_NAME = "专项整治台账.xlsx"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEDGER_FILTERS = ("period", "unit", "aspect", "overdue", "as_of")
FAILED_MESSAGE = "导出失败，系统将自动重试；如仍失败，请缩小范围（按月份或单位）后重新导出，或联系运维人员。"


def export_object_key(campaign_id: str, job_id: str) -> str:
    """One key per job: a redelivered message rewrites its own workbook, never a second one."""
    return f"exports/{campaign_id}/{job_id}.xlsx"


def checked_filters(registry: Registry, campaign_id: str, filters: Mapping[str, str]) -> Campaign:
    """The ledger's filters checked as the synchronous export checks them (400/404 before a job is started)."""
    unknown = set(filters) - set(LEDGER_FILTERS)
    if unknown:
        raise QueryError(f"导出不支持参数：{'、'.join(sorted(unknown))}。")
    campaign = campaign_or_404(registry, campaign_id)
    period_or_400(campaign, "issue-list", filters.get("period"))
    if filters.get("unit"):
        unit_or_400(campaign, filters["unit"])
    if _flag(filters.get("overdue"), "overdue"):
        _as_of(filters.get("as_of"), campaign.zone)
    return campaign


def estimated_ledger_rows(
    registry: Registry, store: CampaignStore, campaign_id: str, filters: Mapping[str, str]
) -> int:
    """The current rows the export would hold before the aspect/overdue filters, from the pointers' counts:
    one Query per period (a GetItem per period for one unit), whatever the number of rows."""
    campaign = checked_filters(registry, campaign_id, filters)
    periods = period_or_400(campaign, "issue-list", filters.get("period"))
    if filters.get("unit"):
        code = unit_or_400(campaign, filters["unit"]).code
        found = (store.delivery(campaign.id, code, "issue-list", p) for p in periods)
        pointers = [p for p in found if p is not None]
    else:
        pointers = [p for period in periods for p in store.deadline_deliveries(campaign.id, "issue-list", period)]
    return sum(p.current_row_count or 0 for p in pointers if p.current_version)


def start_export(
    registry: Registry,
    store: CampaignStore,
    campaign_id: str,
    filters: Mapping[str, str],
    estimated_rows: int,
    send: Callable[[str, str], None],
    job_id: str | None = None,
) -> ExportJob:
    """Record a queued job and hand it to the worker (``send(campaign, job)``: one SQS message)."""
    import uuid

    campaign = checked_filters(registry, campaign_id, filters)
    now = now_utc()
    job = ExportJob(
        campaign=campaign.id,
        job_id=job_id or uuid.uuid4().hex,
        kind=LEDGER_EXPORT,
        filters=dict(filters),
        estimated_rows=estimated_rows,
        status="queued",
        created_at=now,
        updated_at=now,
    )
    job, _ = store.create_export_job(job)
    send(job.campaign, job.job_id)
    return job


def export_if_big(
    registry: Registry, store: CampaignStore, campaign_id: str, filters: Mapping[str, str], config: Any
) -> ExportJob | None:
    """The door's decision: None when the ledger (estimated) fits in one request (``EXPORT_SYNC_MAX_ROWS``),
    else the job started for the export worker (its message on the export queue)."""
    from chalicelib.adapters.export_queue import send_export_job

    estimate = estimated_ledger_rows(registry, store, campaign_id, filters)
    if estimate <= config.export_sync_max_rows:
        return None
    return start_export(registry, store, campaign_id, filters, estimate, lambda c, j: send_export_job(config, c, j))


def job_status(store: CampaignStore, campaign_id: str, job_id: str, config: Any) -> dict[str, Any]:
    """``export_status`` with the link signed for the bucket the settings name."""
    from chalicelib.adapters.presign import export_link

    return export_status(store, campaign_id, job_id, lambda key: export_link(config, key, LEDGER_FILE_NAME))


def export_status(store: CampaignStore, campaign_id: str, job_id: str, link: Callable[[str], str]) -> dict[str, Any]:
    """What the office polls: the job's status and, once done, a fresh presigned link (``link(key)``)."""
    job = store.export_job(campaign_id, job_id)
    if job is None:
        raise QueryNotFoundError(f"没有编号为 {job_id} 的导出任务（导出文件保留一天，请重新导出）。")
    answer: dict[str, Any] = {
        "job": job.job_id,
        "kind": job.kind,
        "status": job.status,
        "filters": dict(job.filters),
        "estimated_rows": job.estimated_rows,
        "created_at": iso_utc(job.created_at),
        "updated_at": iso_utc(job.updated_at),
    }
    if job.status == "done" and job.object_key:
        answer |= {"rows": job.rows, "url": link(job.object_key), "file_name": LEDGER_FILE_NAME}
    if job.status == "failed":
        answer["message"] = job.message or FAILED_MESSAGE
    return answer


def _period_rows(
    store: CampaignStore, campaign: Campaign, period: str, filters: Mapping[str, str]
) -> Iterator[LedgerRow]:
    """One period's selected rows, a page of units at a time (bounded memory and calls per page)."""
    from chalicelib.domain.ledger import select
    from chalicelib.services.problems import with_problem_status

    unit = unit_or_400(campaign, filters["unit"]) if filters.get("unit") else None
    overdue_as_of = _as_of(filters.get("as_of"), campaign.zone) if _flag(filters.get("overdue"), "overdue") else None

    def rows_of(pointer: Any) -> list[LedgerRow]:
        assert pointer.current_version is not None
        version = store.version_rows(campaign.id, pointer.unit, "issue-list", period, pointer.current_version)
        return ledger_rows(campaign, pointer, version)

    cursor: str | None = None
    with ThreadPoolExecutor(max_workers=LEDGER_READERS) as pool:
        while True:
            if unit is not None:
                found = store.delivery(campaign.id, unit.code, "issue-list", period)
                pointers, cursor = ([found] if found is not None else []), None
            else:
                page = store.deadline_deliveries_page(
                    campaign.id, "issue-list", period, limit=LEDGER_UNITS_PER_PAGE, cursor=cursor
                )
                pointers, cursor = list(page.items), page.next_cursor
            current = [p for p in pointers if p.current_version]
            rows = [r for unit_rows in pool.map(rows_of, current) for r in unit_rows]
            rows = with_problem_status(store, campaign, rows)
            yield from select(
                rows, unit_code=unit.code if unit else None, aspect=filters.get("aspect"), overdue_as_of=overdue_as_of
            )
            if cursor is None:
                return


def ledger_by_period(
    store: CampaignStore, campaign: Campaign, filters: Mapping[str, str]
) -> Iterator[tuple[str, Iterator[LedgerRow]]]:
    """Each period that has rows, with its rows as a stream (a period without any gets no sheet, as in the
    synchronous workbook)."""
    for period in period_or_400(campaign, "issue-list", filters.get("period")):
        rows = _period_rows(store, campaign, period, filters)
        first = next(rows, None)
        if first is not None:
            yield period, chain([first], rows)


def write_ledger_export(store: CampaignStore, campaign: Campaign, filters: Mapping[str, str], path: str) -> int:
    """The ledger workbook written to ``path`` by pages (xlsxwriter constant_memory); how many rows."""
    from chalicelib.domain.exports import write_ledger_workbook
    from chalicelib.domain.tables.templates import load_template

    today = now_utc().astimezone(campaign.zone).date()
    return write_ledger_workbook(
        path,
        ledger_by_period(store, campaign, filters),
        load_template("issue-list").print_title,
        reporting_unit=campaign.office.name,
        filled_on=f"{today.year}年{today.month}月{today.day}日",
        constant_memory=True,
    )


def run_export(
    registry: Registry,
    store: CampaignStore,
    campaign_id: str,
    job_id: str,
    put: Callable[[str, bytes], None],
) -> ExportJob | None:
    """Build one job's workbook and put it under its key (``put(key, body)``); the job as it ends.

    A done job is left as it is (a redelivered message writes nothing); a message for an unknown job is
    dropped (None). A failure marks the job failed and raises, so that SQS delivers the message again (then
    the dead-letter queue); a later delivery that succeeds marks it done."""
    job = store.export_job(campaign_id, job_id)
    if job is None or job.status == "done":
        return job
    store.mark_export_job(campaign_id, job_id, "running", now_utc())
    try:
        campaign = checked_filters(registry, campaign_id, job.filters)
        handle, path = tempfile.mkstemp(prefix="export-", suffix=".xlsx")
        os.close(handle)
        try:
            rows = write_ledger_export(store, campaign, job.filters, path)
            with open(path, "rb") as workbook:
                body = workbook.read()
        finally:
            os.unlink(path)
        key = export_object_key(campaign_id, job_id)
        put(key, body)
    except QueryError as exc:  # the filters no longer hold (a campaign's periods changed): no retry helps
        return store.mark_export_job(campaign_id, job_id, "failed", now_utc(), message=exc.message)
    except Exception:
        store.mark_export_job(campaign_id, job_id, "failed", now_utc(), message=FAILED_MESSAGE)
        raise
    return store.mark_export_job(campaign_id, job_id, "done", now_utc(), object_key=key, rows=rows)
