"""The campaign calendar: every deadline, derived from the registry's due rules.

All dates are local dates in the campaign's zone (Asia/Shanghai): "before the 8th" (8日前) is read as
due by the campaign's ``due_time`` (23:59:59) on the 8th, so ``due_at`` is that instant, aware.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

from chalicelib.domain.registry import DUE_DAY_POLICIES, Campaign, DeadlineSpec
from chalicelib.domain.workdays import WorkdayCalendar, default_calendar, next_working_day

MONTHLY_PERIOD_FORMAT = "%Y-%m"

DeadlineStatus = Literal["open", "due-soon", "due-today", "past"]
DEADLINE_STATUS_LABELS: dict[str, str] = {
    "open": "未到期",
    "due-soon": "临近截止",
    "due-today": "今日截止",
    "past": "已截止",
}


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
    # Last local day on which late units are chased: the end of the rule's stage for monthly deadlines,
    # the end of the campaign for one-off ones. Never before the due date.
    chase_until: date | None = None
    moved_from: date | None = None  # the date the rule writes, when the due-day policy moved it
    warnings: tuple[str, ...] = ()  # e.g. the holiday calendar did not know the year

    @property
    def id(self) -> str:
        return f"{self.spec_id}/{self.period}"

    def status(self, as_of: date | datetime, window_days: int) -> DeadlineStatus:
        return deadline_status(self, as_of, window_days)


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
    chase_until = campaign_end(campaign) if rule["type"] == "once" else campaign.stages[rule["stage"]].end
    if "chase_until" in rule:
        chase_until = max(chase_until, date.fromisoformat(rule["chase_until"]))
    soft = set(rule.get("soft_periods", ()))
    return [
        Deadline(
            spec_id=spec.id,
            name=spec.name,
            deliverables=spec.deliverables,
            period=period,
            due_date=due,
            due_at=datetime.combine(due, campaign.due_time, tzinfo=campaign.zone),
            package=spec.package,
            # A soft period (due right after the notice) is received if sent but never chased as overdue.
            chase_until=due if period in soft else max(chase_until, due),
        )
        for period, due in due_dates
    ]


def campaign_end(campaign: Campaign) -> date:
    """The last day of the campaign: the latest end of any of its stages."""
    return max(stage.end for stage in campaign.stages.values())


def adjust_due_date(
    written: date, policy: str, calendar: WorkdayCalendar | None = None
) -> tuple[date, tuple[str, ...]]:
    """The due date under a due-day policy, and warnings (a year the holiday calendar does not know).

    ``keep`` never consults a calendar, so the holiday package is not even imported.
    """
    if policy == "keep":
        return written, ()
    if policy == "next-working-day":
        return next_working_day(written, calendar or default_calendar())
    raise ValueError(f"unknown due-day policy {policy!r}; expected one of {DUE_DAY_POLICIES}")


def _apply_policy(campaign: Campaign, deadline: Deadline, calendar: WorkdayCalendar | None) -> Deadline:
    due, warnings = adjust_due_date(deadline.due_date, campaign.due_day_policy, calendar)
    if due == deadline.due_date and not warnings:
        return deadline
    return replace(
        deadline,
        due_date=due,
        due_at=datetime.combine(due, campaign.due_time, tzinfo=campaign.zone),
        chase_until=max(deadline.chase_until or due, due),
        moved_from=deadline.due_date if due != deadline.due_date else None,
        warnings=warnings,
    )


def _written_deadlines(campaign: Campaign) -> list[Deadline]:
    return [d for spec in campaign.deadline_specs for d in _spec_deadlines(campaign, spec)]


def campaign_deadlines(campaign: Campaign, calendar: WorkdayCalendar | None = None) -> list[Deadline]:
    """Every deadline of the campaign, due dates moved by its due-day policy, in due order.

    Which periods exist is decided on the dates the rules write (a stage's months), so a policy never
    adds or drops a period; it only moves the due date. ``calendar`` replaces the holiday calendar.
    """
    deadlines = [_apply_policy(campaign, d, calendar) for d in _written_deadlines(campaign)]
    return sorted(deadlines, key=lambda d: (d.due_at, d.spec_id))


def calendar_warnings(deadlines: list[Deadline]) -> list[str]:
    """The distinct warnings of some deadlines, in first-seen order."""
    return list(dict.fromkeys(w for d in deadlines for w in d.warnings))


def local_date(as_of: date | datetime, zone: tzinfo | None) -> date:
    """A local date as is; an aware instant as the date it is in ``zone`` (the campaign's)."""
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None:
            raise ValueError("as_of must be an aware datetime or a local date")
        return as_of.astimezone(zone).date()
    return as_of


def deadline_status(deadline: Deadline, as_of: date | datetime, window_days: int) -> DeadlineStatus:
    """Where a deadline stands on a local day: open, due soon (within ``window_days`` before), due today, past.

    A date is the campaign's local date; an aware datetime is converted to the campaign's zone first,
    so 2023-05-20T16:30Z (00:30 on the 21st in Shanghai) is already past a deadline due on the 20th.
    """
    today = local_date(as_of, deadline.due_at.tzinfo)
    if today > deadline.due_date:
        return "past"
    if today == deadline.due_date:
        return "due-today"
    if today >= deadline.due_date - timedelta(days=window_days):
        return "due-soon"
    return "open"


def end_of_day(day: date, like: datetime) -> datetime:
    """The last instant of a local day, in the zone of ``like`` (e.g. a due instant)."""
    return datetime.combine(day, time.max, tzinfo=like.tzinfo)


def periods_for(campaign: Campaign, deliverable_id: str) -> list[str]:
    """Periods under which a deliverable can be handed in, in calendar order."""
    seen: dict[str, None] = {}
    # Written dates are enough to name the periods, and intake then never loads the holiday calendar.
    for deadline in sorted(_written_deadlines(campaign), key=lambda d: (d.due_at, d.spec_id)):
        if deliverable_id in deadline.deliverables:
            seen.setdefault(deadline.period)
    return list(seen)


def period_label(period: str) -> str:
    """Chinese label of a period: 2023-05 → 2023年5月; named periods get their stage wording."""
    # The 9月10日 总结报告 falls inside the notice's 实地督导阶段 (9月30日阶段性完成).
    named = {"setup": "安排部署阶段", "final": "实地督导阶段（总结报告）"}
    if period in named:
        return named[period]
    try:
        month = datetime.strptime(period, MONTHLY_PERIOD_FORMAT)
    except ValueError:
        return period
    return f"{month.year}年{month.month}月"
