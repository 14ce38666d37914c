"""The read side shared by the daily sweep and the office's status board: every unit's delivery state.

One Query per (deliverable, period) on the pointer index gives every unit's pointer, with the error messages
of a rejected latest upload kept on it (a pointer written before they were kept costs one GetItem of the
submission, concurrent when there are many); a package's 2022 list keeps what its rows lack on its pointer
too (older pointers: a Query of its current rows). Never a Scan. What the pointers mean is decided in
``chalicelib.domain.delivery_state``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.deadlines import Deadline
from chalicelib.domain.delivery_state import Pointer, delivery_state
from chalicelib.domain.findings import ACCEPTED_STATUSES
from chalicelib.domain.notice_policy import DeliveryState
from chalicelib.domain.packages import PackageStatus, evaluate_package, package_pieces, required_parts
from chalicelib.domain.registry import Campaign
from chalicelib.domain.store import CampaignStore, rows_as_dicts

# The problem lists (issue 15); chalicelib.domain.problems itself loads the tables package, not wanted here.
PROBLEM_DELIVERABLES = ("issue-list", "legacy-issue-list")

# Concurrent reads of rejected submissions for a big campaign (see _fetch_rejections).
MAX_WORKERS = 32


@dataclass
class TableReads:
    """How the sweep read the table, for the report (and the tests): never a Scan."""

    queries: list[str] = field(default_factory=list)  # "deliverable/period", one Query each
    gets: int = 0  # GetItem of rejected submissions


def _rejection_messages(store: CampaignStore, campaign_id: str, unit_code: str, ref: str) -> tuple[str, ...]:
    submission = store.get_submission(campaign_id, unit_code, ref)
    if submission is None:
        return ()
    if submission.status in ACCEPTED_STATUSES:  # the office returned it (issue 14): its reason is the message
        returned = [d for d in store.unit_decisions(campaign_id, unit_code) if d.submission_ref == ref]
        return tuple(f"市专项办退回“{submission.file_name}”：{d.note}" for d in returned[-1:])
    return tuple(f.message for f in submission.errors)


def _fetch_rejections(store: CampaignStore, campaign_id: str, keys: Sequence[tuple[str, str]]) -> list[tuple[str, ...]]:
    """The error messages of rejected submissions, one GetItem each; concurrent when there are many (a
    campaign of thousands of units has hundreds), each call waiting on the network, not on Python."""
    workers = max(1, min(MAX_WORKERS, len(keys) // 25))
    if workers == 1:
        return [_rejection_messages(store, campaign_id, *key) for key in keys]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep-read") as pool:
        return list(pool.map(lambda key: _rejection_messages(store, campaign_id, *key), keys))


def table_states(
    store: CampaignStore,
    campaign: Campaign,
    deadlines: Iterable[Deadline],
    as_of: datetime,
    reads: TableReads | None = None,
    pointers: dict[tuple[str, str], dict[str, Pointer]] | None = None,
) -> dict[tuple[str, str], DeliveryState]:
    """Every unit's state for the given deadlines as of an instant, keyed (deadline id, unit code).

    ``pointers`` ((deliverable, period) → unit → pointer) is filled for callers that show them.
    """
    reads = reads if reads is not None else TableReads()
    deadlines = list(deadlines)
    pointers = pointers if pointers is not None else {}
    for deadline in deadlines:
        for deliverable_id, _ in required_parts(deadline):
            pair = (deliverable_id, deadline.period)
            if pair not in pointers:
                reads.queries.append(f"{deliverable_id}/{deadline.period}")
                pointers[pair] = {
                    p.unit: Pointer.of(p)
                    for p in store.deadline_deliveries(campaign.id, deliverable_id, deadline.period)
                }
    # The pointer keeps its latest upload's error messages (issue 17); only pointers written before that was
    # kept cost a GetItem of the submission.
    rejections: dict[tuple[str, str], tuple[str, ...]] = {}
    wanted: dict[tuple[str, str], None] = {}  # insertion-ordered set
    for by_unit in pointers.values():
        for p in by_unit.values():
            key = (p.unit_code, p.latest_submission_sk or "")
            if p.rejected_by(as_of):
                if p.latest_messages is not None:
                    rejections[key] = p.latest_messages
                else:
                    wanted[key] = None
    reads.gets += len(wanted)
    rejections.update(zip(wanted, _fetch_rejections(store, campaign.id, list(wanted)), strict=True))
    # The 2022 list in a package must also say how far every problem got: read its current rows.
    # Kept on its pointer since issue 17; only pointers written before cost a Query of the rows.
    legacy: dict[tuple[str, str], list[dict[str, Any]]] = {}
    legacy_problems: dict[tuple[str, str], tuple[str, ...]] = {}
    for deadline in deadlines:
        if "legacy-issue-list" in dict(required_parts(deadline)):
            for p in pointers[("legacy-issue-list", deadline.period)].values():
                if p.current_row_problems is not None:
                    legacy_problems[(p.unit_code, deadline.period)] = p.current_row_problems
                elif p.accepted_by(as_of) and (p.unit_code, deadline.period) not in legacy:
                    reads.queries.append(f"legacy-issue-list/{deadline.period}/{p.unit_code} rows")
                    rows = store.current_rows(campaign.id, p.unit_code, "legacy-issue-list", deadline.period)
                    legacy[(p.unit_code, deadline.period)] = rows_as_dicts(rows)
    # Issue 15: a package's problem lists are judged against the ledger: the units' dropped problems, from
    # their problem aggregates (one Query for every unit, no problem read).
    dropped: dict[str, dict[str, Any]] = {}
    if any(set(dict(required_parts(d))) & set(PROBLEM_DELIVERABLES) for d in deadlines if d.package):
        reads.queries.append("problem aggregates")
        dropped = {a.unit: a.aggregate.get("dropped") or {} for a in store.problem_aggregates(campaign.id)}
    states: dict[tuple[str, str], DeliveryState] = {}
    for deadline in deadlines:
        for unit in campaign.units:
            unit_pointers = {
                d: by_unit[unit.code]
                for d, _ in required_parts(deadline)
                if unit.code in (by_unit := pointers[(d, deadline.period)])
            }
            state = delivery_state(
                campaign,
                deadline,
                unit.code,
                unit_pointers,
                rejections,
                as_of,
                legacy.get((unit.code, deadline.period), ()),
                legacy_problems.get((unit.code, deadline.period)),
                dropped.get(unit.code) if deadline.package else None,
            )
            if state is not None:
                states[(deadline.id, unit.code)] = state
    return states


def package_status(store: CampaignStore, campaign: Campaign, deadline: Deadline, unit_code: str) -> PackageStatus:
    """Read the unit's current pieces (one Query) and the legacy rows (one Query), then evaluate."""
    pieces = package_pieces(deadline, store.unit_deliveries(campaign.id, unit_code, deadline.period))
    legacy: list[dict[str, Any]] = []
    if "legacy-issue-list" in pieces and pieces["legacy-issue-list"].accepted_at:
        legacy = rows_as_dicts(store.current_rows(campaign.id, unit_code, "legacy-issue-list", deadline.period))
    dropped = None
    if set(pieces) & set(PROBLEM_DELIVERABLES):  # judged against the ledger (issue 15): one Query
        aggregates = {a.unit: a for a in store.problem_aggregates(campaign.id)}
        found = aggregates.get(unit_code)
        dropped = found.aggregate.get("dropped") if found else None
    return evaluate_package(campaign, deadline, unit_code, pieces, legacy, None, dropped)


def package_statuses(store: CampaignStore, campaign: Campaign, deadline: Deadline) -> dict[str, PackageStatus]:
    """Every unit's package for one deadline: one Query per owed piece on the pointer index, whatever the
    number of units (issue 17); the 2022 list's gaps come from its pointer (older pointers: its rows)."""
    by_unit: dict[str, list[Any]] = {}
    for deliverable_id, _ in required_parts(deadline):
        for pointer in store.deadline_deliveries(campaign.id, deliverable_id, deadline.period):
            by_unit.setdefault(pointer.unit, []).append(pointer)
    dropped: dict[str, Any] = {}
    if set(dict(required_parts(deadline))) & set(PROBLEM_DELIVERABLES):  # judged against the ledger (issue 15)
        dropped = {a.unit: a.aggregate.get("dropped") for a in store.problem_aggregates(campaign.id)}
    statuses = {}
    for unit in campaign.units:
        pointers = by_unit.get(unit.code, [])
        pieces = package_pieces(deadline, pointers)
        legacy = next((p for p in pointers if p.deliverable == "legacy-issue-list"), None)
        legacy_rows: list[dict[str, Any]] = []
        problems = legacy.current_row_problems if legacy is not None else None
        if legacy is not None and problems is None and pieces["legacy-issue-list"].accepted_at:
            rows = store.current_rows(campaign.id, unit.code, "legacy-issue-list", deadline.period)
            legacy_rows = rows_as_dicts(rows)
        statuses[unit.code] = evaluate_package(
            campaign, deadline, unit.code, pieces, legacy_rows, problems, dropped.get(unit.code)
        )
    return statuses
