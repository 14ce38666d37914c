"""The figures behind the office's paper and pictures: the monthly 简报, the 通报 draft, the console charts.

Every figure is computed from the same answers the office API gives (``queries.status_board``,
``queries.selected_ledger``), so a test can recompute any of them through the API.
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import date, datetime
from typing import Any

from chalicelib.domain.briefings import (
    Circular,
    CircularLine,
    DeadlineSummary,
    MonthlyBrief,
    ProblemLine,
)
from chalicelib.domain.briefings import (
    circular_docx as render_circular,
)
from chalicelib.domain.briefings import (
    monthly_docx as render_monthly,
)
from chalicelib.domain.registry import Campaign, Registry
from chalicelib.domain.store import CampaignStore
from chalicelib.services.queries import QueryError, campaign_or_404, selected_ledger, status_board

NOT_DELIVERED = {"missing": "未报送", "rejected": "未通过核验", "incomplete": "材料不完整"}
CIRCULAR_STATES = {"late": "逾期报送", **NOT_DELIVERED}


def day_title(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def month_end(period: str) -> date:
    """The last day of a ``YYYY-MM`` period: the day the month's report speaks for."""
    try:
        year, month = (int(x) for x in period.split("-"))
        return date(year, month, calendar.monthrange(year, month)[1])
    except ValueError as exc:
        raise QueryError("period 应为 YYYY-MM 格式的月份，如 2023-06。") from exc


def _monthly_period(campaign: Campaign, period: str | None) -> str:
    from chalicelib.domain.deadlines import campaign_deadlines

    months = sorted({d.period for d in campaign_deadlines(campaign) if d.period[:1].isdigit()})
    if period not in months:
        raise QueryError(f"期次“{(period or '')[:16]}”无效，可选：{'、'.join(months)}。")
    return period


def problem_counts(rows: list[Any], as_of: date) -> dict[str, tuple[int | None, int | None]]:
    """(done, closed) per unit name and per aspect among the month's rows (issue 15, 对账销号): done = the
    unit reported it finished (已完成, including those since 销号), closed = the office verified it (已销号).
    The rows carry their problem's current status (``services.problems.with_problem_status``); without any
    (no problem tracked yet) the report shows "—"."""
    tracked = [r for r in rows if r.fields.get("problem_status")]
    if not tracked:
        return {}
    figures: dict[str, list[int]] = {}
    for row in tracked:
        status = row.fields["problem_status"]
        for key in (row.unit_name, row.fields.get("aspect") or "（未填）"):
            entry = figures.setdefault(key, [0, 0])
            entry[0] += status in ("done", "closed")
            entry[1] += status == "closed"
    return {k: (done, closed) for k, (done, closed) in figures.items()}


def open_and_closed_by_month(store: CampaignStore, campaign: Campaign) -> tuple[list[str], dict[str, list[int]]]:
    """Per month of the 2023 list: how many problems were open, done (not yet closed) and closed at its end.

    Each problem's history is folded up to the month (its entries of that period or earlier; an office
    action carries the period the problem was last listed in), so a month's figure does not change when a
    later month is uploaded. Reads every problem (Queries in pages of 100; never a Scan).
    """
    from chalicelib.domain.deadlines import periods_for
    from chalicelib.domain.problems import ISSUE_LIST, UNFINISHED, ProblemStatus, problem_from_history
    from chalicelib.services.problems import all_problems

    months = [p for p in periods_for(campaign, ISSUE_LIST) if p[:1].isdigit()]
    problems = [p for p in all_problems(store, campaign.id) if p.deliverable == ISSUE_LIST]
    series: dict[str, list[int]] = {"open": [], "done": [], "closed": []}
    for month in months:
        tally: Counter[str] = Counter()
        for problem in problems:
            history = tuple(e for e in problem.history if e.period <= month)
            folded = problem_from_history(problem.id, problem.unit, problem.deliverable, history)
            if folded is None:
                continue
            if folded.status in UNFINISHED:
                tally["open"] += 1
            elif folded.status is ProblemStatus.DONE:
                tally["done"] += 1
            else:
                tally["closed"] += 1
        for key in series:
            series[key].append(tally[key])
    return months, series


def monthly_figures(registry: Registry, store: CampaignStore, campaign_id: str, period: str | None) -> MonthlyBrief:
    from chalicelib.domain.ledger import is_overdue

    campaign = campaign_or_404(registry, campaign_id)
    period = _monthly_period(campaign, period)
    as_of = month_end(period)
    board = status_board(registry, store, campaign_id, as_of=as_of.isoformat())
    summaries = []
    for deadline in (d for d in board["deadlines"] if d["period"] == period):
        by_outcome: dict[str, list[str]] = {}
        for entry in deadline["units"]:
            name = entry["unit"]["name"]
            if entry["outcome"] in NOT_DELIVERED:
                name = f"{name}（{NOT_DELIVERED[entry['outcome']]}）"
            by_outcome.setdefault(entry["outcome"], []).append(name)
        not_delivered = [n for o in NOT_DELIVERED for n in by_outcome.get(o, [])]
        due = datetime.fromisoformat(deadline["due_at"]).date()
        summaries.append(
            DeadlineSummary(
                deadline["name"],
                day_title(due),
                by_outcome.get("on-time", []),
                by_outcome.get("late", []),
                not_delivered,
            )
        )
    _, rows = selected_ledger(registry, store, campaign_id, "issue-list", period=period)
    tracked = problem_counts(rows, as_of)
    overdue_rows = [r for r in rows if is_overdue(r, as_of)]

    def lines(key: Any, order: list[str]) -> list[ProblemLine]:
        new, late = Counter(key(r) for r in rows), Counter(key(r) for r in overdue_rows)
        return [ProblemLine(k, new[k], *tracked.get(k, (None, None)), late[k]) for k in order if new[k]]

    aspects = list(dict.fromkeys(r.fields.get("aspect") or "（未填）" for r in rows))
    units = [u.name for u in campaign.units]
    _, cases = selected_ledger(registry, store, campaign_id, "typical-case", period=period)
    return MonthlyBrief(
        office_name=campaign.office.name,
        campaign_name=campaign.name,
        period_title=f"{as_of.year}年{as_of.month}月",
        issued_on=day_title(as_of),
        unit_count=len(campaign.units),
        deadlines=summaries,
        by_aspect=lines(lambda r: r.fields.get("aspect") or "（未填）", aspects),
        by_unit=lines(lambda r: r.unit_name, units),
        new_total=len(rows),
        overdue_total=len(overdue_rows),
        case_titles=[(c.unit_name, case_title(c.fields)) for c in cases],
        problem_note="" if tracked else "问题完成、销号情况待对账销号功能上线后统计（表中以“—”表示）。",
    )


def case_title(fields: dict[str, Any]) -> str:
    """A sheet's 案例名称; a Word case has none, so the start of its 基本情况 stands in."""
    title = str(fields.get("title") or "").strip()
    if title:
        return title
    facts = " ".join(str(fields.get("facts") or "").split())
    return (facts[:40] + "…") if len(facts) > 40 else (facts or "（未填案例名称）")


def monthly_docx(registry: Registry, store: CampaignStore, campaign_id: str, period: str | None = None) -> bytes:
    return render_monthly(monthly_figures(registry, store, campaign_id, period))


def monthly_list_workbook(
    registry: Registry, store: CampaignStore, campaign_id: str, period: str | None = None
) -> bytes:
    """Attachment 2 city-wide for the month, to go upward with the 简报."""
    from chalicelib.domain.exports import ledger_workbook
    from chalicelib.domain.tables.templates import load_template

    campaign = campaign_or_404(registry, campaign_id)
    period = _monthly_period(campaign, period)
    _, rows = selected_ledger(registry, store, campaign_id, "issue-list", period=period)
    return ledger_workbook(
        rows,
        load_template("issue-list").print_title,
        reporting_unit=campaign.office.name,
        filled_on=day_title(month_end(period)),
    )


def circular_figures(registry: Registry, store: CampaignStore, campaign_id: str, as_of: str | None = None) -> Circular:
    campaign = campaign_or_404(registry, campaign_id)
    board = status_board(registry, store, campaign_id, as_of=as_of)
    day = date.fromisoformat(board["as_of"])
    sections = []
    for deadline in board["deadlines"]:
        due = datetime.fromisoformat(deadline["due_at"]).date()
        lines = []
        for entry in deadline["units"]:
            outcome = entry["outcome"]
            if outcome not in CIRCULAR_STATES:
                continue
            if outcome == "late":
                delivered = datetime.fromisoformat(entry["delivered_at"].replace("Z", "+00:00")).astimezone(
                    campaign.zone
                )
                days, detail = (delivered.date() - due).days, f"{day_title(delivered.date())}报送"
            else:
                days = (day - due).days
                detail = "；".join([*(f"缺{m}" for m in entry["missing"]), *entry["rejected"][:1]])[:200]
            lines.append(CircularLine(entry["unit"]["name"], CIRCULAR_STATES[outcome], days, detail))
        if lines:
            lines.sort(key=lambda line: -line.days_overdue)
            sections.append((deadline["name"], day_title(due), lines))
    return Circular(campaign.office.name, campaign.name, day_title(day), sections)


def circular_docx(registry: Registry, store: CampaignStore, campaign_id: str, as_of: str | None = None) -> bytes:
    return render_circular(circular_figures(registry, store, campaign_id, as_of))


def chart_series(
    registry: Registry, store: CampaignStore, campaign_id: str, as_of: str
) -> dict[str, list[tuple[str, float]]]:
    """On-time rate per deadline due by ``as_of``; problems by aspect and by unit (all periods)."""
    board = status_board(registry, store, campaign_id, as_of=as_of)
    rates = [
        (f"{d['name'].split('（')[0]} {d['period']}", 100 * d["counts"].get("on-time", 0) / max(1, len(d["units"])))
        for d in board["deadlines"]
    ]
    _, rows = selected_ledger(registry, store, campaign_id, "issue-list")
    by_aspect = Counter(r.fields.get("aspect") or "（未填）" for r in rows)
    by_unit = Counter(r.unit_name for r in rows)
    return {
        "on_time_rate": rates,
        "by_aspect": sorted(by_aspect.items(), key=lambda kv: -kv[1]),
        "by_unit": sorted(by_unit.items(), key=lambda kv: -kv[1]),
    }
