"""Which notices a daily sweep owes, as a pure function of the calendar, the deliveries and the day.

The sweep runs once each morning (local time). Given what the table says about each unit and deadline,
``decide_notices`` lists the reminders, overdue notices, escalations and office digests due that day.
Each decision carries a natural key; ``chalicelib.services.notices.send_once`` sends each key once, so
running the sweep twice a day, or again after a crash, sends nothing twice.

The rules (timing from ``Campaign.notice_policy``, see ``registry.NoticePolicy``), with n the number of
days between the due date and the sweep's day:

- reminder: on each ``reminder_days_before`` offset (n = -3, -1, 0 by default), to units that have not
  delivered;
- overdue: n = 1, then every ``overdue_every_days`` (1, 4, 7, 10, ... by default), to units that have not
  delivered, up to and including the deadline's ``chase_until`` day (the end of its stage; the end of
  the campaign for one-off deadlines);
- escalation: on those same days once n >= ``escalate_after_days`` (7, 10, ... by default) the overdue
  notice becomes an escalation, copied to the unit's 分管领导; it replaces the overdue notice of that
  day, so a unit gets at most one notice per deadline per day;
- digest: on n = 1 (the morning after the due date), one summary of every unit for the city office;
- nothing before the day the notice was issued (``Campaign.issued``).

"Delivered" means an accepted delivery that is complete (nothing of a package missing). A rejected
upload that was never fixed, or an incomplete package, is not delivered: the unit keeps being
chased, and the notice says what was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from chalicelib.domain.deadlines import Deadline, end_of_day, local_date
from chalicelib.domain.registry import Campaign, NoticePolicy, Unit

NoticeKind = Literal["reminder", "overdue", "escalation", "digest"]
Outcome = Literal["on-time", "late", "missing", "rejected", "incomplete"]

OUTCOMES: tuple[Outcome, ...] = ("on-time", "late", "missing", "rejected", "incomplete")
DELIVERED: frozenset[str] = frozenset({"on-time", "late"})
OUTCOME_LABELS: dict[str, str] = {
    "on-time": "按时报送",
    "late": "逾期报送",
    "missing": "未报送",
    "rejected": "未通过核验",
    "incomplete": "材料不全",
}
OFFICE = "office"  # the natural key's recipient part for the office digest


@dataclass(frozen=True)
class DeliveryState:
    """What the table says about one unit for one deadline as of the sweep.

    For a package deadline (e.g. the summary report with its attachments) ``delivered_at`` is the first
    accepted piece, ``package_missing`` what is still missing, and ``completed_at`` when the last missing
    piece was accepted (None: the same as ``delivered_at``). ``rejected`` only matters while the
    delivery is not complete: a later rejected re-upload does not undo an accepted, complete one.
    """

    unit_code: str
    delivered_at: datetime | None  # first ACCEPTED submission time (aware), None if none
    rejected: tuple[str, ...] = ()  # error messages of the latest rejected upload that was never fixed
    package_missing: tuple[str, ...] = ()  # for package deadlines: what is missing (Chinese labels)
    completed_at: datetime | None = None  # for package deadlines: when it became complete

    @property
    def complete_at(self) -> datetime | None:
        if self.delivered_at is None or self.package_missing:
            return None
        return self.completed_at or self.delivered_at


@dataclass(frozen=True)
class NoticeDecision:
    kind: str  # "reminder" | "overdue" | "escalation" | "digest"
    deadline_id: str  # Deadline.id
    unit_code: str | None  # None for the digest
    day: date  # the sweep's local date
    natural_key: str  # f"{deadline_id}|{unit or 'office'}|{kind}|{day.isoformat()}"


def natural_key(deadline_id: str, unit_code: str | None, kind: str, day: date) -> str:
    return f"{deadline_id}|{unit_code or OFFICE}|{kind}|{day.isoformat()}"


def nothing_received(unit_code: str) -> DeliveryState:
    return DeliveryState(unit_code=unit_code, delivered_at=None)


def state_of(states: Mapping[tuple[str, str], DeliveryState], deadline: Deadline, unit_code: str) -> DeliveryState:
    """A unit's state for a deadline; a unit the table has nothing for has delivered nothing."""
    return states.get((deadline.id, unit_code)) or nothing_received(unit_code)


def delivery_outcome(deadline: Deadline, state: DeliveryState, as_of: date | datetime) -> Outcome:
    """How a unit stands on a deadline as of an instant (a local date means the end of that day).

    Late is late forever: a delivery completed after the due instant stays "late" however long ago.
    Deliveries after ``as_of`` are not counted, so the same states answer "how did it stand then".
    """
    if not isinstance(as_of, datetime):
        as_of = end_of_day(as_of, deadline.due_at)
    complete_at = state.complete_at
    if complete_at is not None and complete_at <= as_of:
        return "on-time" if complete_at <= deadline.due_at else "late"
    if state.rejected:
        return "rejected"
    if state.delivered_at is not None and state.delivered_at <= as_of:
        return "incomplete"
    return "missing"


def days_after_due(deadline: Deadline, day: date) -> int:
    """Negative before the due date, 0 on it, 1 the day after."""
    return (day - deadline.due_date).days


def unit_notice_kind(policy: NoticePolicy, deadline: Deadline, day: date) -> NoticeKind | None:
    """The notice a unit that has not delivered gets on ``day`` for ``deadline``, if any."""
    n = days_after_due(deadline, day)
    if n <= 0:
        return "reminder" if -n in policy.reminder_days_before else None
    if day > (deadline.chase_until or deadline.due_date):
        return None
    if (n - 1) % policy.overdue_every_days:
        return None
    escalate = policy.escalate_after_days is not None and n >= policy.escalate_after_days
    return "escalation" if escalate else "overdue"


def is_digest_day(policy: NoticePolicy, deadline: Deadline, day: date) -> bool:
    return policy.digest and days_after_due(deadline, day) == 1


def decide_notices(
    campaign: Campaign,
    deadlines: Iterable[Deadline],
    states: Mapping[tuple[str, str], DeliveryState],
    today: date,
) -> list[NoticeDecision]:
    """The notices due on ``today`` (the sweep's local date), in deadline order, then unit order.

    ``states`` is keyed by (Deadline.id, unit code); a missing entry means nothing was received.
    """
    policy = campaign.notice_policy
    decisions: list[NoticeDecision] = []
    if campaign.issued is not None and today < campaign.issued:
        return decisions  # before the notice existed nobody can be reminded of it
    for deadline in deadlines:
        kind = unit_notice_kind(policy, deadline, today)
        if kind is not None:
            for unit in campaign.units:
                outcome = delivery_outcome(deadline, state_of(states, deadline, unit.code), today)
                if outcome not in DELIVERED:
                    decisions.append(
                        NoticeDecision(
                            kind, deadline.id, unit.code, today, natural_key(deadline.id, unit.code, kind, today)
                        )
                    )
        if is_digest_day(policy, deadline, today):
            decisions.append(
                NoticeDecision("digest", deadline.id, None, today, natural_key(deadline.id, None, "digest", today))
            )
    return decisions


def sweep_day(instant: datetime, campaign: Campaign) -> date:
    """The local date of a sweep that runs at ``instant`` (aware), in the campaign's zone."""
    return local_date(instant, campaign.zone)


def outcomes_by_unit(
    campaign: Campaign,
    deadline: Deadline,
    states: Mapping[tuple[str, str], DeliveryState],
    as_of: date | datetime,
) -> list[tuple[Unit, DeliveryState, Outcome]]:
    """Every unit of the campaign, in registry order, with its state and outcome: the digest's rows."""
    rows = []
    for unit in campaign.units:
        state = state_of(states, deadline, unit.code)
        rows.append((unit, state, delivery_outcome(deadline, state, as_of)))
    return rows


def outcome_counts(rows: Iterable[tuple[Unit, DeliveryState, Outcome]]) -> dict[Outcome, int]:
    counts: dict[Outcome, int] = dict.fromkeys(OUTCOMES, 0)
    for _, _, outcome in rows:
        counts[outcome] += 1
    return counts
