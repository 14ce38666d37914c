"""Answers for the office API. Every list is a DynamoDB Query on a key or index, never a Scan."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.deadlines import period_label
from chalicelib.domain.findings import SubmissionStatus
from chalicelib.domain.ledger import LedgerRow, aspect_tally, in_registry_order, ledger_rows
from chalicelib.domain.registry import Campaign, Registry, Unit
from chalicelib.domain.store import (
    CampaignStore,
    InvalidCursorError,
    OfficeDecision,
    RefusedPage,
    SubmissionFilter,
    SubmissionPage,
    SubmissionRecord,
)
from chalicelib.domain.timeutil import iso_utc

MAX_PAGE = 100
# What a page that cannot continue says (a cursor from another listing, or one that was altered).
CURSOR_MISMATCH = "分页游标（cursor）与查询条件不符，请从第一页重新查询。"
CURSOR_INVALID = "分页游标（cursor）无效，请从第一页重新查询。"
MAX_PARAM_CHARS = 64
KNOWN_STATUSES = tuple(SubmissionStatus)


class QueryError(ValueError):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QueryNotFoundError(QueryError):
    status = 404


def campaign_or_404(registry: Registry, campaign_id: str) -> Campaign:
    campaign = registry.campaign(campaign_id)
    if campaign is None:
        raise QueryNotFoundError("未找到该专项活动。")
    return campaign


def unit_or_400(campaign: Campaign, unit_ref: str) -> Unit:
    unit = campaign.unit(unit_ref)
    if unit is None:
        raise QueryError(f"未找到填报单位“{unit_ref[:40]}”，请填写单位名称或行政区划代码（如 原平市 或 140981）。")
    return unit


def page_size(raw: str | None) -> int:
    if raw is None:
        return 50
    # isdigit() alone accepts '²' and '١' (int() then raises or reads a non-ASCII digit): ASCII digits only.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise QueryError(f"limit 应为 1 到 {MAX_PAGE} 之间的整数。")
    return int(raw)


def submission_json(
    item: SubmissionRecord, campaign: Campaign, decisions: Sequence[OfficeDecision] = ()
) -> dict[str, Any]:
    """One upload as the office sees it: ``status`` is the decided status (the office's newest decision, else
    the checker's verdict, kept as ``checked_status``), with every decision and, for an upload the office
    filed for a unit, when it really went into the bucket and the office's note."""
    from chalicelib.domain.decisions import decided_status, is_stamped_scan
    from chalicelib.services.decisions import decision_json

    deliverable = campaign.deliverable(item.deliverable)
    filing = item.details.get("office_filing")
    return _submission_fields(item, campaign, deliverable) | {
        "status": decided_status(item, decisions),
        "checked_status": item.status,
        "decisions": [decision_json(d) for d in decisions],
        "kind": "stamped-scan" if is_stamped_scan(item) else "material",
        "office_filing": dict(filing) if isinstance(filing, dict) else None,
    }


def _submission_fields(item: SubmissionRecord, campaign: Campaign, deliverable: Any) -> dict[str, Any]:
    return {
        "campaign": item.campaign,
        "unit": {"code": item.unit, "name": item.unit_name},
        "deliverable": {"id": item.deliverable, "name": deliverable.name if deliverable else item.deliverable},
        "period": item.period,
        "period_label": period_label(item.period),
        "file_name": item.file_name,
        "object_key": item.object_key,
        "version_id": item.version_id,
        "sequencer": item.sequencer,
        "size": item.size,
        "sha256": item.sha256,
        "received_at": {
            "utc": iso_utc(item.received_at),
            "local": item.received_at_local,
        },
        "status": item.status,
        "rows": item.row_count,
        "errors": [f.as_dict() for f in item.errors],
        "warnings": [f.as_dict() for f in item.warnings],
    }


def list_packages(
    registry: Registry, store: CampaignStore, campaign_id: str, unit_ref: str | None = None
) -> dict[str, Any]:
    """Package deadlines (the September summary) per unit: complete, or what is missing."""
    from chalicelib.domain.deadlines import campaign_deadlines
    from chalicelib.services.board import package_status

    campaign = campaign_or_404(registry, campaign_id)
    units = campaign.units
    if unit_ref:
        unit = unit_or_400(campaign, unit_ref)
        units = (unit,)
    packages = [d for d in campaign_deadlines(campaign) if d.package]
    if unit_ref:  # one unit: its own pointers (one Query per deadline)
        items = [
            package_status(store, campaign, d, u.code).as_json() | {"unit_name": u.name}
            for d in packages
            for u in units
        ]
        return {"items": items}
    # Every unit: the pointer index, one Query per owed piece, whatever the number of units (issue 17).
    from chalicelib.services.board import package_statuses

    items = []
    for d in packages:
        statuses = package_statuses(store, campaign, d)
        items += [statuses[u.code].as_json() | {"unit_name": u.name} for u in units]
    return {"items": items}


def checked_params(params: dict[str, str] | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """Query parameters as given, refusing unknown names and oversized values up front."""
    params = dict(params or {})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise QueryError(
            f"不支持的查询参数：{'、'.join(u[:MAX_PARAM_CHARS] for u in unknown[:5])}。可用：{'、'.join(allowed)}。"
        )
    for name, value in params.items():
        limit = 512 if name == "cursor" else MAX_PARAM_CHARS
        if len(value) > limit:
            raise QueryError(f"查询参数 {name} 过长（超过{limit}个字符）。")
    return params


def period_or_400(campaign: Campaign, deliverable_id: str, period: str | None) -> list[str]:
    """The periods asked for: one, or every period the deliverable has."""
    from chalicelib.domain.deadlines import periods_for

    periods = periods_for(campaign, deliverable_id)
    if period is None:
        return periods
    if period not in periods:
        raise QueryError(f"期次“{period}”无效，可选：{'、'.join(periods)}。")
    return [period]


def _page(read: Any, cursor: str | None) -> SubmissionPage:
    page: SubmissionPage = _read_page(read, cursor)
    return page


def _refused(read: Any, cursor: str | None) -> RefusedPage:
    page: RefusedPage = _read_page(read, cursor)
    return page


def _read_page(read: Any, cursor: str | None) -> Any:
    try:
        return read(cursor)
    except InvalidCursorError as exc:
        if exc.mismatch:  # a cursor from another listing would start a read somewhere it must not
            raise QueryError(CURSOR_MISMATCH) from exc
        raise QueryError(CURSOR_INVALID) from exc


def list_submissions(
    registry: Registry,
    store: CampaignStore,
    campaign_id: str,
    unit_ref: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
    deliverable: str | None = None,
    period: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """Submissions newest first: one unit's (by code or name), else the whole campaign's, optionally
    narrowed to a deliverable, period or status (filtered within the same Query)."""
    campaign = campaign_or_404(registry, campaign_id)
    size = page_size(limit)
    if deliverable is not None and campaign.deliverable(deliverable) is None:
        raise QueryError(f"材料类型“{deliverable}”无效，可选：{'、'.join(campaign.deliverables)}。")
    if status is not None and status not in KNOWN_STATUSES:
        raise QueryError(f"状态“{status}”无效，可选：{'、'.join(KNOWN_STATUSES)}。")
    where = SubmissionFilter(deliverable=deliverable, period=period, status=status)
    if unit_ref:
        unit = unit_or_400(campaign, unit_ref)
        page = _page(
            lambda c: store.unit_submissions(campaign.id, unit.code, limit=size, cursor=c, where=where), cursor
        )
    else:
        page = _page(lambda c: store.campaign_submissions(campaign.id, limit=size, cursor=c, where=where), cursor)
    from chalicelib.domain.decisions import decisions_by_ref

    decided: dict[str, list[OfficeDecision]] = {}
    for unit_code in dict.fromkeys(item.unit for item in page.items):  # one Query per unit on the page
        decided |= {
            f"{unit_code}|{ref}": ds
            for ref, ds in decisions_by_ref(store.unit_decisions(campaign.id, unit_code)).items()
        }
    items = [submission_json(item, campaign, decided.get(f"{item.unit}|{item.ref}", ())) for item in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


def list_refused(
    registry: Registry, store: CampaignStore, campaign_id: str, limit: str | None = None, cursor: str | None = None
) -> dict[str, Any]:
    """Uploads refused for their key (unknown unit, deliverable or period, path tricks), newest first,
    each with the Chinese reason and, when the key names a known unit, that unit (which was told)."""
    from chalicelib.domain.timeutil import iso_local

    campaign = campaign_or_404(registry, campaign_id)
    size = page_size(limit)
    page = _refused(lambda c: store.refused_page(f"uploads/{campaign.id}/", limit=size, cursor=c), cursor)
    items = []
    for item in page.items:
        parts = item.object_key.split("/")
        unit = campaign.unit(parts[2]) if len(parts) > 2 else None
        items.append(
            {
                "object_key": item.object_key,
                "file_name": parts[-1],
                "version_id": item.version_id,
                "received_at": {"utc": iso_utc(item.received_at), "local": iso_local(item.received_at, campaign.zone)},
                "code": item.code,
                "reason": item.message,
                "unit": {"code": unit.code, "name": unit.name} if unit else None,
            }
        )
    return {"items": items, "next_cursor": page.next_cursor}


def _as_of(raw: str | None, zone: ZoneInfo) -> date:
    from chalicelib.domain.timeutil import now_utc

    if raw is None:
        return now_utc().astimezone(zone).date()
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise QueryError("as_of 应为 YYYY-MM-DD 格式的日期，如 2023-06-30。") from exc


def _flag(raw: str | None, name: str) -> bool:
    if raw is None:
        return False
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise QueryError(f"{name} 应为 true 或 false。")


def current_ledger(
    store: CampaignStore, campaign: Campaign, deliverable_id: str, periods: Iterable[str]
) -> list[LedgerRow]:
    """Every unit's current accepted rows: one Query on the pointer index per period, then one per unit."""
    rows: list[LedgerRow] = []
    for period in periods:
        for pointer in in_registry_order(campaign, store.deadline_deliveries(campaign.id, deliverable_id, period)):
            assert pointer.current_version is not None  # in_registry_order keeps only current versions
            version = store.version_rows(campaign.id, pointer.unit, deliverable_id, period, pointer.current_version)
            rows += ledger_rows(campaign, pointer, version)
    return rows


def selected_ledger(
    registry: Registry,
    store: CampaignStore,
    campaign_id: str,
    deliverable_id: str,
    *,
    period: str | None = None,
    unit_ref: str | None = None,
    aspect: str | None = None,
    overdue: str | None = None,
    as_of: str | None = None,
) -> tuple[Campaign, list[Any]]:
    from chalicelib.domain.ledger import select

    campaign = campaign_or_404(registry, campaign_id)
    periods = period_or_400(campaign, deliverable_id, period)
    unit = unit_or_400(campaign, unit_ref) if unit_ref else None
    overdue_as_of = _as_of(as_of, campaign.zone) if _flag(overdue, "overdue") else None
    rows = current_ledger(store, campaign, deliverable_id, periods)
    if deliverable_id in ("issue-list", "legacy-issue-list"):
        from chalicelib.services.problems import with_problem_status

        rows = with_problem_status(store, campaign, rows)
    return campaign, select(rows, unit_code=unit.code if unit else None, aspect=aspect, overdue_as_of=overdue_as_of)


def list_issues(
    registry: Registry,
    store: CampaignStore,
    campaign_id: str,
    cursor: str | None = None,
    units_per_page: int | None = None,
    **filters: str | None,
) -> dict[str, Any]:
    """The consolidated ledger of accepted 2023 problem rows across units, a page of units at a time."""
    return ledger_page(registry, store, campaign_id, "issue-list", cursor, units_per_page, **filters)


def issues_workbook(registry: Registry, store: CampaignStore, campaign_id: str, **filters: str | None) -> bytes:
    from chalicelib.domain.exports import ledger_workbook
    from chalicelib.domain.tables.templates import load_template
    from chalicelib.domain.timeutil import now_utc

    campaign, rows = selected_ledger(registry, store, campaign_id, "issue-list", **filters)
    today = now_utc().astimezone(campaign.zone).date()
    return ledger_workbook(
        rows,
        load_template("issue-list").print_title,
        reporting_unit=campaign.office.name,
        filled_on=f"{today.year}年{today.month}月{today.day}日",
    )


def list_cases(
    registry: Registry,
    store: CampaignStore,
    campaign_id: str,
    cursor: str | None = None,
    units_per_page: int | None = None,
    **filters: str | None,
) -> dict[str, Any]:
    """Accepted typical cases across units (one item per case), a page of units at a time."""
    return ledger_page(registry, store, campaign_id, "typical-case", cursor, units_per_page, **filters)


def stats(registry: Registry, store: CampaignStore, campaign_id: str, period: str | None = None) -> dict[str, Any]:
    """Counts of accepted 2023 problems by aspect × unit × period, from the counts each delivery pointer keeps
    of its current version (issue 17): one Query per period, whatever the number of units."""
    from chalicelib.domain.ledger import aspect_counts_of_pointers

    campaign = campaign_or_404(registry, campaign_id)
    counted = []
    for p in period_or_400(campaign, "issue-list", period):
        for pointer in in_registry_order(campaign, store.deadline_deliveries(campaign.id, "issue-list", p)):
            if pointer.current_aspect_counts is None:  # written before the counts were kept: count its rows
                assert pointer.current_version is not None
                rows = store.version_rows(campaign.id, pointer.unit, "issue-list", p, pointer.current_version)
                pointer = replace(pointer, current_aspect_counts=aspect_tally(r.fields for r in rows))
            counted.append(pointer)
    by_aspect = aspect_counts_of_pointers(campaign, counted)
    return {"by_aspect_unit_period": by_aspect, "total": sum(c["count"] for c in by_aspect)}


def status_board(
    registry: Registry, store: CampaignStore, campaign_id: str, as_of: str | None = None
) -> dict[str, Any]:
    """For every deadline due by ``as_of`` and every unit: on-time / late / missing / rejected /
    incomplete, with the versions that decided it. One Query per (deliverable, period), whatever
    the number of units."""
    from chalicelib.domain.deadlines import campaign_deadlines, end_of_day
    from chalicelib.domain.delivery_state import Pointer, package_missing
    from chalicelib.domain.notice_policy import DeliveryState, delivery_outcome
    from chalicelib.domain.packages import required_parts
    from chalicelib.services.board import table_states

    campaign = campaign_or_404(registry, campaign_id)
    day = _as_of(as_of, campaign.zone)
    deadlines = [d for d in campaign_deadlines(campaign) if d.due_date <= day]
    instant = end_of_day(day, deadlines[0].due_at) if deadlines else None
    pointers: dict[tuple[str, str], dict[str, Pointer]] = {}
    states = table_states(store, campaign, deadlines, instant, pointers=pointers) if instant else {}
    board = []
    for deadline in deadlines:
        units = []
        counts: dict[str, int] = {}
        for unit in campaign.units:
            state = states.get((deadline.id, unit.code), DeliveryState(unit.code, None))
            assert instant is not None  # deadlines is non-empty here, so instant was set
            outcome = delivery_outcome(deadline, state, instant)
            counts[outcome] = counts.get(outcome, 0) + 1
            parts = []
            for deliverable_id, _ in required_parts(deadline):
                pointer = pointers.get((deliverable_id, deadline.period), {}).get(unit.code)
                parts.append(
                    {
                        "deliverable": deliverable_id,
                        "current_version": pointer.current_version if pointer else None,
                        "latest_status": pointer.latest_status if pointer else None,
                        "latest_version": pointer.latest_submission_sk.rsplit("#", 1)[-1]
                        if pointer and pointer.latest_submission_sk
                        else None,
                    }
                )
            units.append(
                {
                    "unit": {"code": unit.code, "name": unit.name},
                    "outcome": outcome,
                    "delivered_at": iso_utc(state.complete_at) if state.complete_at else None,
                    # Every deliverable still owed, whatever the outcome: nothing accepted means all of them.
                    "missing": list(
                        state.package_missing
                        or (package_missing(campaign, deadline, {}) if outcome in ("missing", "rejected") else ())
                    ),
                    "rejected": list(state.rejected),
                    "parts": parts,
                }
            )
        board.append(
            {
                "id": deadline.id,
                "name": deadline.name,
                "period": deadline.period,
                "due_at": deadline.due_at.isoformat(),
                "counts": counts,
                "units": units,
            }
        )
    return {"as_of": day.isoformat(), "deadlines": board}


# --- issue 17: the ledger a page of units at a time ----------------------------------------------------

# A page of the ledger is at most this many units' current versions: 1 Query on the pointer index (per
# period it spans) + 1 Query per unit on the page (concurrent), whatever the number of units in the campaign.
LEDGER_UNITS_PER_PAGE = 25
LEDGER_READERS = 8


def _ledger_cursor(period_index: int, store_cursor: str | None) -> str:
    raw = json.dumps({"p": period_index, "k": store_cursor}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_ledger_cursor(cursor: str | None, periods: int) -> tuple[int, str | None]:
    if not cursor:
        return 0, None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise QueryError(CURSOR_INVALID) from exc
    index, key = (data.get("p"), data.get("k")) if isinstance(data, dict) else (None, None)
    if not isinstance(index, int) or not 0 <= index < periods or not (key is None or isinstance(key, str)):
        raise QueryError(CURSOR_MISMATCH)
    return index, key


def ledger_page(
    registry: Registry,
    store: CampaignStore,
    campaign_id: str,
    deliverable_id: str,
    cursor: str | None = None,
    units_per_page: int | None = None,
    *,
    period: str | None = None,
    unit_ref: str | None = None,
    aspect: str | None = None,
    overdue: str | None = None,
    as_of: str | None = None,
) -> dict[str, Any]:
    """The current rows of up to ``units_per_page`` units (of one period, or of each period in turn), with
    ``next_cursor`` for the next units; one unit's ledger (``unit_ref``) is one GetItem + one Query per period.

    Paging by units keeps each answer's calls and size bounded (an API Gateway request has 29 s and 6 MB),
    and each unit's rows come from the version its pointer names, so a page never mixes two versions."""
    from chalicelib.domain.ledger import select

    campaign = campaign_or_404(registry, campaign_id)
    periods = period_or_400(campaign, deliverable_id, period)
    unit = unit_or_400(campaign, unit_ref) if unit_ref else None
    overdue_as_of = _as_of(as_of, campaign.zone) if _flag(overdue, "overdue") else None
    budget = units_per_page or LEDGER_UNITS_PER_PAGE
    index, key = _read_ledger_cursor(cursor, len(periods))
    pointers = []
    next_cursor = None
    if unit is not None:
        found = (store.delivery(campaign.id, unit.code, deliverable_id, p) for p in periods)
        pointers = [p for p in found if p is not None and p.current_version]
    else:
        while index < len(periods):
            read = partial(store.deadline_deliveries_page, campaign.id, deliverable_id, periods[index], limit=budget)
            page = _read_page(lambda c, read=read: read(cursor=c), key)
            pointers += [p for p in page.items if p.current_version]
            budget -= len(page.items)
            if page.next_cursor:
                next_cursor = _ledger_cursor(index, page.next_cursor)
                break
            index, key = index + 1, None
            if budget <= 0:
                next_cursor = _ledger_cursor(index, None) if index < len(periods) else None
                break

    def rows_of(pointer: Any) -> list[LedgerRow]:
        version = store.version_rows(campaign.id, pointer.unit, deliverable_id, pointer.period, pointer.current_version)
        return ledger_rows(campaign, pointer, version)

    with ThreadPoolExecutor(max_workers=max(1, min(LEDGER_READERS, len(pointers)))) as pool:
        per_unit = list(pool.map(rows_of, pointers))
    rows = [r for unit_rows in per_unit for r in unit_rows]
    if deliverable_id in ("issue-list", "legacy-issue-list"):  # 问题编号 and status (issue 15), before ``overdue``
        from chalicelib.services.problems import with_problem_status

        rows = with_problem_status(store, campaign, rows)
    selected = select(rows, unit_code=unit.code if unit else None, aspect=aspect, overdue_as_of=overdue_as_of)
    return {"items": [r.as_json() for r in selected], "count": len(selected), "next_cursor": next_cursor}
