"""The campaign calendar: every deadline, derived from the registry's due rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from chalicelib.registry import Campaign, DeadlineSpec

MONTHLY_PERIOD_FORMAT = "%Y-%m"


@dataclass(frozen=True)
class Deadline:
    """One due date for some deliverables of one period, e.g. issue lists of 2023-05 by 05-20."""

    spec_id: str
    name: str
    deliverables: tuple[str, ...]
    period: str
    due_date: date
    due_at: datetime  # aware, in the campaign's zone
    package: tuple[tuple[str, int], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.spec_id}/{self.period}"


def _months(start: date, end: date) -> list[date]:
    months = []
    cursor = date(start.year, start.month, 1)
    while cursor <= end:
        months.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    return months


def _spec_deadlines(campaign: Campaign, spec: DeadlineSpec) -> list[Deadline]:
    rule = spec.rule
    due_dates: list[tuple[str, date]] = []
    if rule["type"] == "once":
        due_dates.append((rule["period"], date.fromisoformat(rule["date"])))
    else:
        stage = campaign.stages[rule["stage"]]
        for month in _months(stage.start, stage.end):
            period = month.strftime(MONTHLY_PERIOD_FORMAT)
            if ("from" in rule and period < rule["from"]) or ("until" in rule and period > rule["until"]):
                continue
            due = month.replace(day=rule["day"])
            if stage.start <= due <= stage.end:
                due_dates.append((period, due))
    return [
        Deadline(
            spec_id=spec.id,
            name=spec.name,
            deliverables=spec.deliverables,
            period=period,
            due_date=due,
            due_at=datetime.combine(due, campaign.due_time, tzinfo=campaign.zone),
            package=spec.package,
        )
        for period, due in due_dates
    ]


def campaign_deadlines(campaign: Campaign) -> list[Deadline]:
    deadlines = [d for spec in campaign.deadline_specs for d in _spec_deadlines(campaign, spec)]
    return sorted(deadlines, key=lambda d: (d.due_at, d.spec_id))


def periods_for(campaign: Campaign, deliverable_id: str) -> list[str]:
    """Periods under which a deliverable can be handed in, in calendar order."""
    seen: dict[str, None] = {}
    for deadline in campaign_deadlines(campaign):
        if deliverable_id in deadline.deliverables:
            seen.setdefault(deadline.period)
    return list(seen)


def period_label(period: str) -> str:
    """Chinese label of a period: 2023-05 → 2023年5月; named periods get their stage wording."""
    named = {"setup": "安排部署阶段", "final": "总结阶段"}
    if period in named:
        return named[period]
    try:
        month = datetime.strptime(period, MONTHLY_PERIOD_FORMAT)
    except ValueError:
        return period
    return f"{month.year}年{month.month}月"
