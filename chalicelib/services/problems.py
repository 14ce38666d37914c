"""对账销号 wired to the store: the unit's problems follow its current accepted lists; the office closes and
reopens them; the office reads them (docs/problems.md).

Every change is a read (one Query), a pure step (``chalicelib.domain.problems``) and one revision-claimed
save; on a conflict the step runs again on a fresh read. The steps are deterministic, so a retry, a
redelivered event or a re-run writes the same items (same ids, one history entry per version).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from chalicelib.domain.ledger import LedgerRow
from chalicelib.domain.problems import (
    PROBLEM_DELIVERABLES,
    STATUS_LABELS,
    AcceptedList,
    Flag,
    OfficeActionError,
    Problem,
    ProblemStatus,
    Reconciliation,
    Source,
    UnitProblems,
    aggregate_counts,
    close,
    flags,
    id_order,
    parse_problem_id,
    reconcile,
    reopen,
    rollback,
)
from chalicelib.domain.registry import Campaign, Registry
from chalicelib.domain.store import (
    CampaignStore,
    ProblemChange,
    ProblemConflictError,
    ProblemFilter,
    StoredProblems,
    rows_as_dicts,
)
from chalicelib.domain.timeutil import iso_utc, now_utc
from chalicelib.services.queries import (
    QueryError,
    QueryNotFoundError,
    _as_of,
    _read_page,
    campaign_or_404,
    page_size,
    unit_or_400,
)

SAVE_ATTEMPTS = 6
RETRY_BASE_SECONDS = 0.05


@dataclass(frozen=True)
class _Step:
    state: UnitProblems
    changed: frozenset[str]
    removed: frozenset[str]
    untold: tuple[dict[str, Any], ...]


def _commit(
    store: CampaignStore,
    campaign_id: str,
    unit_code: str,
    step: Callable[[StoredProblems], _Step | None],
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> UnitProblems:
    """Read, step, save under the revision read; again on a conflict (the step is deterministic)."""
    for attempt in range(SAVE_ATTEMPTS):
        stored = store.unit_problems(campaign_id, unit_code)
        result = step(stored)
        if result is None:
            return stored.state
        final = {p.id for p in result.state.problems}
        change = ProblemChange(
            unit=unit_code,
            state=result.state,
            changed=tuple(sorted(result.changed & final, key=id_order)),
            removed=tuple(sorted(result.removed - final, key=id_order)),
            expected_revision=stored.revision,
            untold=result.untold,
            now=now,
        )
        try:
            store.save_problems(campaign_id, change)
            return result.state
        except ProblemConflictError:
            if attempt == SAVE_ATTEMPTS - 1:
                raise
            sleep(RETRY_BASE_SECONDS * 2**attempt)
    raise AssertionError("unreachable")


def _repaired(state: UnitProblems) -> Reconciliation:
    """Take out any list version a problem carries that is not current for its (deliverable, period).

    A consistent state never has one (a replaced or returned version's entries are taken out with it):
    they are left by a writer that crashed between writing problems and committing the aggregate. The
    version is then applied again from scratch.
    """
    stale = sorted(
        {
            (e.deliverable, e.period, e.version)
            for p in state.problems
            for e in p.history
            if e.source is Source.UPLOAD
            and e.deliverable
            and e.version
            and state.current.get(f"{e.deliverable}/{e.period}") != e.version
        }
    )
    changed: set[str] = set()
    removed: set[str] = set()
    for deliverable, period, version in stale:
        result = rollback(state, deliverable, period, version)
        state = replace(result.state, current=state.current)
        changed |= set(result.changed)
        removed |= set(result.removed)
    return Reconciliation(state, (), tuple(changed), tuple(removed))


def refresh_problems(
    store: CampaignStore, campaign: Campaign, unit_code: str, deliverable_id: str, period: str, *, now: datetime
) -> None:
    """Bring the unit's problems in line with the current accepted version of (deliverable, period).

    A newly current version is reconciled (it replaces the one before it for that period); a pointer that
    moved back (the office returned a version) to an earlier version reconciles that one, to none rolls the
    returned version back. Already in line: nothing is written.
    """
    if deliverable_id not in PROBLEM_DELIVERABLES:
        return
    pointer = store.delivery(campaign.id, unit_code, deliverable_id, period)
    target = pointer.current_version if pointer is not None else None
    unit = campaign.unit(unit_code)
    who = unit.name if unit is not None else unit_code

    def step(stored: StoredProblems) -> _Step | None:
        repair = _repaired(stored.state)
        state = repair.state
        applied = state.current.get(f"{deliverable_id}/{period}")
        if applied == target:
            if not repair.changed and not repair.removed:
                return None
            result = Reconciliation(state, (), (), ())
        elif target is None:
            assert applied is not None
            result = rollback(state, deliverable_id, period, applied)
        else:
            assert pointer is not None
            rows = rows_as_dicts(store.version_rows(campaign.id, unit_code, deliverable_id, period, target))
            accepted_at = iso_utc(pointer.current_received_at) if pointer.current_received_at else iso_utc(now)
            result = reconcile(state, AcceptedList(unit_code, deliverable_id, period, target, rows, accepted_at, who))
        return _Step(
            result.state,
            frozenset(repair.changed) | frozenset(result.changed),
            frozenset(repair.removed) | frozenset(result.removed),
            stored.untold,
        )

    _commit(store, campaign.id, unit_code, step, now)


# ---------------------------------------------------------------------------------------- office actions


def _unit_of(campaign: Campaign, problem_id: str) -> str:
    pid = parse_problem_id(problem_id)
    if pid is None or campaign.unit(pid.split("-", 1)[0]) is None:
        raise OfficeActionError("PROBLEM_NOT_FOUND", f"问题{problem_id[:40]}不存在，请核对问题编号。")
    return pid.split("-", 1)[0]


def _office_action(
    store: CampaignStore,
    campaign: Campaign,
    problem_id: str,
    act: Callable[[UnitProblems, str], UnitProblems],
    now: datetime,
) -> Problem:
    unit_code = _unit_of(campaign, problem_id)
    pid = parse_problem_id(problem_id) or problem_id

    def step(stored: StoredProblems) -> _Step:
        state = act(stored.state, pid)  # raises OfficeActionError: nothing written
        problem = state.problem(pid)
        assert problem is not None
        entry = problem.history[-1]
        told = {
            "id": pid,
            "action": str(entry.action),
            "who": entry.who,
            "when": entry.when,
            "note": entry.note,
            "text": problem.text,
            "status": str(problem.status),
        }
        return _Step(state, frozenset({pid}), frozenset(), (*stored.untold, told))

    state = _commit(store, campaign.id, unit_code, step, now)
    problem = state.problem(pid)
    assert problem is not None
    return problem


def close_problem(
    store: CampaignStore,
    campaign: Campaign,
    problem_id: str,
    *,
    who: str,
    note: str,
    force: bool = False,
    now: datetime,
) -> Problem:
    """销号 (who = the office token's name); the unit hears of it once, in its next digest."""
    return _office_action(
        store,
        campaign,
        problem_id,
        lambda state, pid: close(state, pid, who=who, when=iso_utc(now), note=note, force=force),
        now,
    )


def reopen_problem(
    store: CampaignStore, campaign: Campaign, problem_id: str, *, who: str, note: str, now: datetime
) -> Problem:
    """问题反弹: a closed or done problem is open again; the unit hears of it once, in its next digest."""
    return _office_action(
        store, campaign, problem_id, lambda state, pid: reopen(state, pid, who=who, when=iso_utc(now), note=note), now
    )


def mark_told(store: CampaignStore, campaign: Campaign, unit_code: str, told: Iterable[Mapping[str, Any]]) -> None:
    """The unit has been told of these actions: take them off its untold list (a conditional write)."""
    done = {(t["id"], t["action"], t["when"]) for t in told}

    def step(stored: StoredProblems) -> _Step | None:
        rest = tuple(u for u in stored.untold if (u["id"], u["action"], u["when"]) not in done)
        if len(rest) == len(stored.untold):
            return None
        return _Step(stored.state, frozenset(), frozenset(), rest)

    _commit(store, campaign.id, unit_code, step, now_utc())


def untold_actions(store: CampaignStore, campaign: Campaign) -> dict[str, tuple[dict[str, Any], ...]]:
    """Per unit, the office actions it has not been told of (one Query of the aggregates)."""
    return {a.unit: a.untold for a in store.problem_aggregates(campaign.id) if a.untold}


def told_lines(untold: Iterable[Mapping[str, Any]]) -> list[str]:
    """One Chinese line per action, for the unit's digest."""
    lines = []
    for item in sorted(untold, key=lambda u: (u["when"], id_order(u["id"]))):
        what = "已销号" if item["action"] == "closed" else "被标记为问题反弹，请继续整改"
        note = f"（说明：{item['note']}）" if item.get("note") else ""
        lines.append(f"问题{item['id']}“{str(item.get('text') or '')[:40]}”{what}{note}")
    return lines


# --------------------------------------------------------------------------------------------- reads


def unit_state_stubs(store: CampaignStore, campaign_id: str) -> dict[str, UnitProblems]:
    """What ``flags`` needs of each unit (its current list versions), from the aggregates: one Query."""
    return {
        a.unit: UnitProblems(a.unit, (), dict(a.aggregate.get("current") or {}))
        for a in store.problem_aggregates(campaign_id)
    }


def problem_json(problem: Problem, stub: UnitProblems | None, as_of: date, campaign: Campaign) -> dict[str, Any]:
    found = flags(problem, stub or UnitProblems(problem.unit), as_of)
    unit = campaign.unit(problem.unit)
    return {**problem.as_json(found), "unit_name": unit.name if unit else problem.unit}


def problem_flags(problem: Problem, stub: UnitProblems | None, as_of: date) -> tuple[Flag, ...]:
    return flags(problem, stub or UnitProblems(problem.unit), as_of)


def counts_by_unit(store: CampaignStore, campaign: Campaign, as_of: date) -> dict[str, dict[str, dict[str, int]]]:
    """Per unit code, per aspect: open / done / long-term / closed / reopened / overdue / dropped (one Query)."""
    return {a.unit: aggregate_counts(a.aggregate, as_of) for a in store.problem_aggregates(campaign.id)}


def all_problems(store: CampaignStore, campaign_id: str, where: ProblemFilter | None = None) -> list[Problem]:
    """Every problem (optionally filtered), following cursors: for exports and recounts."""
    found: list[Problem] = []
    cursor: str | None = None
    while True:
        page = store.problem_page(campaign_id, where=where, limit=100, cursor=cursor)
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            return found


def current_status(problems: Iterable[Problem]) -> dict[tuple[str, int | None], Problem]:
    """(version, row) -> problem: which problem each accepted row of a current list now is."""
    found: dict[tuple[str, int | None], Problem] = {}
    for problem in problems:
        for entry in problem.history:
            if entry.source is Source.UPLOAD and entry.version:
                found[(entry.version, entry.row)] = problem
    return found


STATUS_CHOICES = tuple(str(s) for s in ProblemStatus)
FLAG_CHOICES = tuple(str(f) for f in Flag)
LABELS = {str(k): v for k, v in STATUS_LABELS.items()}


# ------------------------------------------------------------------------------------- office API


def list_problems(
    registry: Registry,
    store: CampaignStore,
    campaign_id: str,
    unit_ref: str | None = None,
    status: str | None = None,
    aspect: str | None = None,
    flag: str | None = None,
    as_of: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """``GET /campaigns/{c}/problems``: a page of problems (unit, then id), filtered; flags as of a day."""
    campaign = campaign_or_404(registry, campaign_id)
    unit = unit_or_400(campaign, unit_ref) if unit_ref else None
    if status is not None and status not in STATUS_CHOICES:
        raise QueryError(f"状态“{status[:20]}”无效，可选：{'、'.join(STATUS_CHOICES)}。")
    if flag is not None and flag not in FLAG_CHOICES:
        raise QueryError(f"标记“{flag[:20]}”无效，可选：{'、'.join(FLAG_CHOICES)}。")
    day = _as_of(as_of, campaign.zone)
    where = ProblemFilter(unit=unit.code if unit else None, status=status, aspect=canonical_aspect(aspect))
    size = page_size(limit)
    page = _read_page(lambda c: store.problem_page(campaign.id, where=where, limit=size, cursor=c), cursor)
    stubs = unit_state_stubs(store, campaign.id) if page.items else {}
    items = [problem_json(p, stubs.get(p.unit), day, campaign) for p in page.items]
    if flag is not None:
        items = [i for i in items if flag in i["flags"]]
    return {"items": items, "next_cursor": page.next_cursor, "as_of": day.isoformat()}


def canonical_aspect(text: str | None) -> str | None:
    """问题方面 as the lists store it (the checker writes the canonical name): 逐利执法, “逐利执法”问题 and
    1.逐利执法问题 all name “逐利执法”问题, in either list's aspects; text naming none is kept as typed."""
    if not text:
        return None
    from chalicelib.domain.tables.templates import load_template

    for template in (load_template("issue-list"), load_template("legacy-issue-list")):
        name = template.canonical_aspect(text)
        if name is not None:
            return name
    return text


def get_problem(
    registry: Registry, store: CampaignStore, campaign_id: str, problem_id: str, as_of: str | None = None
) -> dict[str, Any]:
    """``GET /campaigns/{c}/problems/{id}``: one GetItem (and the unit's aggregate for its flags)."""
    campaign = campaign_or_404(registry, campaign_id)
    pid = parse_problem_id(problem_id)
    problem = store.get_problem(campaign.id, pid) if pid else None
    if problem is None:
        raise QueryNotFoundError(f"问题{problem_id[:40]}不存在，请核对问题编号。")
    stub = unit_state_stubs(store, campaign.id).get(problem.unit)
    return problem_json(problem, stub, _as_of(as_of, campaign.zone), campaign)


def problem_counts_board(
    registry: Registry, store: CampaignStore, campaign_id: str, as_of: str | None = None
) -> dict[str, Any]:
    """``GET /campaigns/{c}/problems/counts``: per unit and aspect, from the aggregates alone (one Query)."""
    campaign = campaign_or_404(registry, campaign_id)
    day = _as_of(as_of, campaign.zone)
    by_unit = counts_by_unit(store, campaign, day)
    units = []
    total: dict[str, int] = {}
    for unit in campaign.units:
        aspects = by_unit.get(unit.code, {})
        unit_total: dict[str, int] = {}
        for row in aspects.values():
            for key, n in row.items():
                unit_total[key] = unit_total.get(key, 0) + int(n)
                total[key] = total.get(key, 0) + int(n)
        units.append({"unit": {"code": unit.code, "name": unit.name}, "aspects": aspects, "total": unit_total})
    return {"as_of": day.isoformat(), "units": units, "total": total}


# ------------------------------------------------------------------------------------ the worksheet


def unit_worksheet(store: CampaignStore, campaign: Campaign, unit_code: str, period: str) -> tuple[str, bytes]:
    """The unit's pre-filled issue list for ``period`` (file name, .xlsx): its problems not yet closed,
    with 问题编号 and 整改进展; one Query of the unit's problems."""
    from chalicelib.domain.worksheet import issue_list_worksheet, worksheet_file_name, worksheet_problems

    unit = campaign.unit(unit_code)
    name = unit.name if unit is not None else unit_code
    problems = worksheet_problems(store.unit_problems(campaign.id, unit_code).state.problems)
    return worksheet_file_name(name, period), issue_list_worksheet(problems, name, period)


# ---------------------------------------------------------------------------------------- the ledger


def with_problem_status(store: CampaignStore, campaign: Campaign, rows: list[LedgerRow]) -> list[LedgerRow]:
    """The ledger's rows with 问题编号 and status: which problem each row of a current list is (one Query of
    the problems per unit in the ledger)."""
    by_unit: dict[str, dict[tuple[str, int | None], Problem]] = {}
    for unit_code in dict.fromkeys(r.unit_code for r in rows):
        by_unit[unit_code] = current_status(store.unit_problems(campaign.id, unit_code).state.problems)
    found = []
    for row in rows:
        problem = by_unit.get(row.unit_code, {}).get((row.version_id, row.row))
        if problem is None:
            found.append(row)
            continue
        extra = {
            "problem_id": problem.id,
            "problem_status": str(problem.status),
            "problem_status_label": STATUS_LABELS[problem.status],
        }
        found.append(replace(row, fields={**row.fields, **extra}))
    return found
