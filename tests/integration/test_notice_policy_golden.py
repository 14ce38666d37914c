"""Every notice of the whole 2023 campaign, day by day, for a scripted set of deliveries.

The expected table ``tests/golden/notices-xinzhou-2023.tsv`` was reviewed row by row against the rules
in ``chalicelib/notice_policy.py``; regenerate it with ``UPDATE_GOLDEN=1`` only after a deliberate rule
change, and review the diff.

The script (D is a deadline's due date, times are Beijing time; the sweep runs at 09:00 and sees what
arrived before it):
- 原平市 always on time, two days early (D-2 15:00): only the three-day reminder.
- 代县 always two days late (D+2 10:00): every reminder, the first overdue notice, then nothing.
- 五台山风景区 never delivers: reminders, overdue every three days, escalation from day 7, until the
  deadline's stage ends (the campaign's end for one-off deadlines).
- 宁武县 uploads a file that is rejected (D-1 14:00), fixes it the day after the due date (D+1 16:00):
  chased as not delivered on D and D+1 with the errors quoted, "rejected" in the digest, late for ever.
- 保德县 on time (D-2 15:00), except the summary package, where one of the three typical cases never
  comes: "incomplete", chased like a unit that has not delivered.
- 定襄县 always half an hour late (D+1 00:30), before the morning sweep: reminders, no overdue notice,
  "late" in the digest.
- The eight other units deliver five days early and never hear from the system.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from chalicelib.domain.deadlines import Deadline, campaign_deadlines
from chalicelib.domain.notice_policy import (
    DeliveryState,
    NoticeDecision,
    decide_notices,
    delivery_outcome,
    outcome_counts,
    outcomes_by_unit,
    state_of,
)
from chalicelib.domain.notice_texts import compose_notice
from chalicelib.domain.outgoing import NoticeKey
from chalicelib.domain.registry import Campaign, default_registry

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "notices-xinzhou-2023.tsv"
FIRST_DAY, LAST_DAY = date(2023, 3, 15), date(2023, 10, 31)
SWEEP_TIME = time(9, 0)
UPLOAD_HINT = "请登录专项整治材料报送系统上传：https://upload.example.cn/xinzhou-2023"

YUANPING, DAIXIAN, WUTAISHAN, NINGWU, BAODE, DINGXIANG = "140981", "140923", "140971", "140925", "140931", "140921"
REJECTION = ("工作表“问题清单”第5行【问题方面】：“乱罚款”不是规定的问题方面之一", "缺少【完成时限】列")
PACKAGE_GAP = ("典型案例：已收到1份，还差2份",)


@dataclass(frozen=True)
class Event:
    at: datetime
    accepted: bool
    errors: tuple[str, ...] = ()


def _at(campaign: Campaign, day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=campaign.zone)


def scripted_events(campaign: Campaign, deadline: Deadline, unit_code: str) -> list[Event]:
    due = deadline.due_date
    if unit_code == WUTAISHAN:
        return []
    if unit_code == DAIXIAN:
        return [Event(_at(campaign, due + timedelta(days=2), 10), accepted=True)]
    if unit_code == NINGWU:
        return [
            Event(_at(campaign, due - timedelta(days=1), 14), accepted=False, errors=REJECTION),
            Event(_at(campaign, due + timedelta(days=1), 16), accepted=True),
        ]
    if unit_code == DINGXIANG:
        return [Event(_at(campaign, due + timedelta(days=1), 0) + timedelta(minutes=30), accepted=True)]
    if unit_code in (YUANPING, BAODE):
        return [Event(_at(campaign, due - timedelta(days=2), 15), accepted=True)]
    return [Event(_at(campaign, due - timedelta(days=5), 10), accepted=True)]


def scripted_state(campaign: Campaign, deadline: Deadline, unit_code: str, sweep: datetime) -> DeliveryState:
    """What the table would say at the sweep: only what arrived before it."""
    seen = [e for e in scripted_events(campaign, deadline, unit_code) if e.at < sweep]
    accepted = [e for e in seen if e.accepted]
    latest = seen[-1] if seen else None
    rejected = latest.errors if latest is not None and not latest.accepted else ()
    missing = PACKAGE_GAP if unit_code == BAODE and deadline.package and accepted else ()
    return DeliveryState(
        unit_code=unit_code,
        delivered_at=accepted[0].at if accepted else None,
        rejected=rejected,
        package_missing=missing,
    )


def scripted_states(campaign: Campaign, deadlines: list[Deadline], day: date) -> dict[tuple[str, str], DeliveryState]:
    sweep = datetime.combine(day, SWEEP_TIME, tzinfo=campaign.zone)
    return {
        (d.id, u.code): scripted_state(campaign, d, u.code, sweep)
        for d in deadlines
        for u in campaign.units
        if scripted_events(campaign, d, u.code)
    }


def _campaign() -> Campaign:
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    return campaign


def _row(
    campaign: Campaign,
    deadline: Deadline,
    decision: NoticeDecision,
    states: Mapping[tuple[str, str], DeliveryState],
) -> str:
    if decision.unit_code is None:
        counts = outcome_counts(outcomes_by_unit(campaign, deadline, states, decision.day))
        status = " ".join(f"{k}={v}" for k, v in counts.items())
        who = "office"
    else:
        status = delivery_outcome(deadline, state_of(states, deadline, decision.unit_code), decision.day)
        unit = campaign.unit(decision.unit_code)
        assert unit is not None
        who = f"{unit.code} {unit.name}"
    mail = compose_notice(
        campaign,
        deadline,
        decision,
        states,
        upload_hint=UPLOAD_HINT,
        message_id=NoticeKey(campaign.id, deadline.id, decision.natural_key).message_id,
    )
    recipients = ",".join(mail.to) + (" cc " + ",".join(mail.cc) if mail.cc else "")
    return "\t".join(
        (
            decision.day.isoformat(),
            decision.kind,
            deadline.id,
            who,
            status,
            recipients,
            mail.subject,
            decision.natural_key,
        )
    )


def whole_campaign(campaign: Campaign) -> list[str]:
    deadlines = campaign_deadlines(campaign)
    by_id = {d.id: d for d in deadlines}
    rows = ["day\tkind\tdeadline\tunit\tstatus at sweep\trecipients\tsubject\tnatural key"]
    day = FIRST_DAY
    while day <= LAST_DAY:
        states = scripted_states(campaign, deadlines, day)
        rows += [
            _row(campaign, by_id[n.deadline_id], n, states) for n in decide_notices(campaign, deadlines, states, day)
        ]
        day += timedelta(days=1)
    return rows


def test_whole_campaign_matches_the_reviewed_table() -> None:
    actual = "\n".join(whole_campaign(_campaign())) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    assert actual.splitlines() == expected.splitlines()


def test_same_inputs_same_notices() -> None:
    campaign = _campaign()
    deadlines = campaign_deadlines(campaign)
    for day in (date(2023, 5, 20), date(2023, 5, 21), date(2023, 5, 27), date(2023, 9, 11)):
        states = scripted_states(campaign, deadlines, day)
        first = decide_notices(campaign, deadlines, states, day)
        # Same facts in another order (as a table query might return them) decide the same notices.
        shuffled = dict(reversed(list(states.items())))
        assert decide_notices(campaign, deadlines, shuffled, day) == first
        assert decide_notices(campaign, campaign_deadlines(campaign), states, day) == first
        by_id = {d.id: d for d in deadlines}
        texts = [_row(campaign, by_id[n.deadline_id], n, states) for n in first]
        assert [_row(campaign, by_id[n.deadline_id], n, shuffled) for n in first] == texts


def test_natural_keys_are_unique_over_the_whole_campaign() -> None:
    rows = whole_campaign(_campaign())[1:]
    keys = [row.rsplit("\t", 1)[1] for row in rows]
    assert len(keys) == len(set(keys))


def test_hand_checked_properties_of_the_table() -> None:
    """What the review checked, restated as rules, so a regenerated table cannot quietly break them."""
    campaign = _campaign()
    deadlines = {d.id: d for d in campaign_deadlines(campaign)}
    rows = [row.split("\t") for row in GOLDEN.read_text(encoding="utf-8").splitlines()[1:]]
    by_unit: dict[str, list[list[str]]] = {}
    for row in rows:
        by_unit.setdefault(row[3].split(" ")[0], []).append(row)

    quiet = {u.code for u in campaign.units} - {YUANPING, DAIXIAN, WUTAISHAN, NINGWU, BAODE, DINGXIANG}
    assert not quiet & set(by_unit), "units that deliver five days early are never written to"

    issued = campaign.issued or FIRST_DAY

    def sent(pairs: list[tuple[date, str]]) -> list[tuple[str, str]]:
        """Nothing goes out before the notice was issued; a soft deadline (chased until its due day) is
        never chased as overdue."""
        return [(day.isoformat(), kind) for day, kind in pairs if day >= issued]

    # 原平市: one reminder per deadline, three days before, nothing else.
    assert sorted((r[2], r[1], r[0]) for r in by_unit[YUANPING]) == sorted(
        (d.id, "reminder", (d.due_date - timedelta(days=3)).isoformat())
        for d in deadlines.values()
        if d.due_date - timedelta(days=3) >= issued
    )
    # 代县: three reminders and one overdue notice the day after, per deadline; never escalated.
    for d in deadlines.values():
        mine = [(r[0], r[1]) for r in by_unit[DAIXIAN] if r[2] == d.id]
        due = d.due_date
        chased = [(due + timedelta(days=1), "overdue")] if d.chase_until and d.chase_until > due else []
        assert mine == sent(
            [(due - timedelta(days=3), "reminder"), (due - timedelta(days=1), "reminder"), (due, "reminder"), *chased]
        )
    # 宁武县: not delivered until fixed; the rejection shows from the day after the upload.
    for d in deadlines.values():
        mine = [(r[0], r[1], r[4]) for r in by_unit[NINGWU] if r[2] == d.id]
        due = d.due_date
        expected_rows = [
            (due - timedelta(days=3), "reminder", "missing"),
            (due - timedelta(days=1), "reminder", "missing"),  # swept at 09:00, uploaded at 14:00
            (due, "reminder", "rejected"),
            (due + timedelta(days=1), "overdue", "rejected"),  # fixed at 16:00, after the sweep
        ]
        chase_end = d.chase_until or due
        assert mine == [
            (day.isoformat(), kind, status)
            for day, kind, status in expected_rows
            if day >= issued and (kind != "overdue" or chase_end > due)
        ]
    # 定襄县 (late by half an hour, before the sweep): reminders only; the digests count it late.
    assert {r[1] for r in by_unit[DINGXIANG]} == {"reminder"}
    assert all("late=1" in r[4] for r in by_unit["office"])
    # 五台山风景区: chased every three days up to the chase's end, escalated from day 7.
    for d in deadlines.values():
        days = [(date.fromisoformat(r[0]) - d.due_date).days for r in by_unit[WUTAISHAN] if r[2] == d.id]
        kinds = [r[1] for r in by_unit[WUTAISHAN] if r[2] == d.id]
        reminders = [n for n in (-3, -1, 0) if d.due_date + timedelta(days=n) >= issued]
        expected = [*reminders, *range(1, (d.chase_until - d.due_date).days + 1, 3)]
        assert days == expected
        assert kinds == ["reminder"] * len(reminders) + [
            "overdue" if n < 7 else "escalation" for n in expected[len(reminders) :]
        ]
    # One digest per deadline, the morning after.
    assert sorted((r[2], r[0]) for r in by_unit["office"]) == sorted(
        (d.id, (d.due_date + timedelta(days=1)).isoformat()) for d in deadlines.values()
    )
