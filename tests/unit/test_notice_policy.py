"""The notice policy's rules one by one, delivery outcomes, and the texts the notices carry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.deadlines import Deadline, campaign_deadlines
from chalicelib.domain.notice_policy import (
    DeliveryState,
    NoticeDecision,
    decide_notices,
    delivery_outcome,
    natural_key,
    sweep_day,
    unit_notice_kind,
)
from chalicelib.domain.notice_texts import compose_digest, compose_notice, compose_unit_notice
from chalicelib.domain.registry import Campaign, NoticePolicy, default_registry

HINT = "上传链接：https://upload.example.cn/u/abc"


def _campaign() -> Campaign:
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    return campaign


def _deadline(deadline_id: str) -> Deadline:
    return next(d for d in campaign_deadlines(_campaign()) if d.id == deadline_id)


def _local(campaign: Campaign, *args: int) -> datetime:
    return datetime(*args, tzinfo=campaign.zone)  # type: ignore[misc]


# --- delivery outcomes ---------------------------------------------------------------------------


def test_outcomes() -> None:
    c = _campaign()
    d = _deadline("rectification/2023-05")  # due 2023-05-20 23:59:59 +08:00
    later = date(2023, 10, 31)
    assert delivery_outcome(d, DeliveryState("140981", _local(c, 2023, 5, 20, 23, 59, 59)), later) == "on-time"
    assert delivery_outcome(d, DeliveryState("140981", _local(c, 2023, 5, 21, 0, 0, 0)), later) == "late"
    assert delivery_outcome(d, DeliveryState("140981", None), later) == "missing"
    assert delivery_outcome(d, DeliveryState("140981", None, rejected=("缺少列",)), later) == "rejected"
    # Late is late for ever, and a later rejected re-upload does not undo an accepted delivery.
    late = DeliveryState("140981", _local(c, 2023, 5, 22, 10, 0), rejected=("格式错误",))
    assert delivery_outcome(d, late, date(2024, 5, 1)) == "late"
    # What arrived after as_of is not counted: on the 21st, the delivery of the 22nd had not happened.
    assert delivery_outcome(d, late, date(2023, 5, 21)) == "rejected"
    assert delivery_outcome(d, DeliveryState("140981", _local(c, 2023, 5, 22, 10, 0)), date(2023, 5, 21)) == "missing"


def test_package_outcomes() -> None:
    c = _campaign()
    d = _deadline("summary/final")  # due 2023-09-10
    first = _local(c, 2023, 9, 5, 10, 0)
    partial = DeliveryState("140931", first, package_missing=("典型案例：还差2份",))
    assert delivery_outcome(d, partial, date(2023, 9, 11)) == "incomplete"
    completed_late = DeliveryState("140931", first, completed_at=_local(c, 2023, 9, 12, 9, 0))
    assert delivery_outcome(d, completed_late, date(2023, 9, 30)) == "late"
    assert delivery_outcome(d, completed_late, date(2023, 9, 11)) == "incomplete"
    assert delivery_outcome(d, DeliveryState("140931", first), date(2023, 9, 30)) == "on-time"


# --- the schedule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "kind"),
    [
        (-4, None),
        (-3, "reminder"),
        (-2, None),
        (-1, "reminder"),
        (0, "reminder"),
        (1, "overdue"),
        (2, None),
        (3, None),
        (4, "overdue"),
        (6, None),
        (7, "escalation"),
        (10, "escalation"),
        (11, None),
    ],
)
def test_default_schedule(offset: int, kind: str | None) -> None:
    d = _deadline("progress/2023-06")  # due 2023-06-20, chased until 2023-10-31
    assert unit_notice_kind(NoticePolicy(), d, d.due_date + timedelta(days=offset)) == kind


def test_no_overdue_notice_after_the_chase_ends() -> None:
    d = _deadline("rectification/2023-08")  # due 08-20, 深入整改 ends 08-31
    policy = NoticePolicy()
    assert unit_notice_kind(policy, d, date(2023, 8, 30)) == "escalation"  # day 10
    assert unit_notice_kind(policy, d, date(2023, 9, 2)) is None  # day 13, past the stage's end


def test_escalation_only_on_the_overdue_schedule() -> None:
    d = _deadline("progress/2023-06")
    policy = NoticePolicy(overdue_every_days=3, escalate_after_days=5)
    kinds = {n: unit_notice_kind(policy, d, d.due_date + timedelta(days=n)) for n in range(1, 11)}
    assert {n: k for n, k in kinds.items() if k} == {1: "overdue", 4: "overdue", 7: "escalation", 10: "escalation"}


def test_configured_policy() -> None:
    d = _deadline("progress/2023-06")
    policy = NoticePolicy(reminder_days_before=(7, 0), overdue_every_days=1, escalate_after_days=None, digest=False)
    kinds = {n: unit_notice_kind(policy, d, d.due_date + timedelta(days=n)) for n in range(-8, 5)}
    assert {n: k for n, k in kinds.items() if k} == {
        -7: "reminder",
        0: "reminder",
        1: "overdue",
        2: "overdue",
        3: "overdue",
        4: "overdue",
    }
    campaign = replace(_campaign(), notice_policy=policy)
    assert not [n for n in decide_notices(campaign, [d], {}, date(2023, 6, 21)) if n.kind == "digest"]


# --- decisions ----------------------------------------------------------------------------------------


def test_who_gets_what_on_the_day_after() -> None:
    c = _campaign()
    d = _deadline("rectification/2023-05")
    states = {
        (d.id, "140981"): DeliveryState("140981", _local(c, 2023, 5, 18, 15, 0)),  # on time
        (d.id, "140925"): DeliveryState("140925", None, rejected=("缺少【完成时限】列",)),
        (d.id, "140921"): DeliveryState("140921", _local(c, 2023, 5, 21, 0, 30)),  # late, before the sweep
    }
    decisions = decide_notices(c, [d], states, date(2023, 5, 21))
    overdue = [n.unit_code for n in decisions if n.kind == "overdue"]
    assert "140981" not in overdue and "140921" not in overdue and "140925" in overdue
    assert len(overdue) == len(c.units) - 2  # everyone the table has nothing for is chased
    assert decisions[-1] == NoticeDecision(
        "digest", d.id, None, date(2023, 5, 21), "rectification/2023-05|office|digest|2023-05-21"
    )
    first = decisions[0]
    assert first.natural_key == f"{d.id}|{first.unit_code}|overdue|2023-05-21"


def test_nothing_outside_the_schedule() -> None:
    d = _deadline("rectification/2023-05")
    assert decide_notices(_campaign(), [d], {}, date(2023, 5, 18)) == []
    assert decide_notices(_campaign(), [d], {}, date(2023, 5, 22)) == []


def test_natural_keys_are_unique_when_nobody_ever_delivers() -> None:
    c = _campaign()
    deadlines = campaign_deadlines(c)
    keys: list[str] = []
    day = date(2023, 3, 15)
    while day <= date(2023, 10, 31):
        keys += [n.natural_key for n in decide_notices(c, deadlines, {}, day)]
        day += timedelta(days=1)
    assert len(keys) == len(set(keys)) > 1000
    assert natural_key("summary/final", None, "digest", date(2023, 9, 11)) == "summary/final|office|digest|2023-09-11"


# --- texts --------------------------------------------------------------------------------------------


def _decision(kind: str, deadline: Deadline, unit: str | None, day: date) -> NoticeDecision:
    return NoticeDecision(kind, deadline.id, unit, day, natural_key(deadline.id, unit, kind, day))


def test_reminder_subject_and_parts() -> None:
    c = _campaign()
    d = replace(_deadline("rectification/2023-05"), name="专项整治事项清单（每月20日前）")
    mail = compose_unit_notice(
        c,
        d,
        _decision("reminder", d, "140981", date(2023, 5, 17)),
        DeliveryState("140981", None),
        upload_hint=HINT,
        message_id="<m1@test>",
    )
    assert mail.subject == "【专项整治】原平市：2023年5月专项整治事项清单将于5月20日截止（还剩3天）"
    assert mail.to == ("liaison.140981@example.cn",) and mail.cc == () and mail.message_id == "<m1@test>"
    for part in (mail.text, mail.html or ""):
        assert "2023年5月20日23:59:59" in part and "北京时间" in part and "星期" not in part
        assert "专项整治事项清单（2023年新问题）" in part and "典型案例" in part
        assert "尚未收到" in part and "原平市交通运输局：" in part and "忻交发〔2023〕56号" in part
    assert HINT in mail.text
    # In HTML the link is a link with short Chinese text, not 40+ characters of URL.
    assert '<a href="https://upload.example.cn/u/abc">点击打开本单位上传页面</a>' in (mail.html or "")


def test_rejected_upload_is_quoted_and_escaped() -> None:
    c = _campaign()
    d = _deadline("rectification/2023-05")
    state = DeliveryState(
        "140925", None, rejected=("第5行【问题方面】：<未知>不是规定的问题方面", "缺少【完成时限】列")
    )
    mail = compose_unit_notice(
        c, d, _decision("overdue", d, "140925", date(2023, 5, 21)), state, upload_hint=HINT, message_id="<m2@test>"
    )
    assert mail.subject.endswith("已逾期1天，上传材料未通过核验（截止日期5月20日）")
    assert "1. 第5行【问题方面】：<未知>不是规定的问题方面" in mail.text
    assert "&lt;未知&gt;" in (mail.html or "") and "<未知>" not in (mail.html or "")


def test_escalation_copies_the_leader() -> None:
    c = _campaign()
    d = _deadline("summary/final")
    state = DeliveryState("140931", _local(c, 2023, 9, 8, 15, 0), package_missing=("典型案例：已收到1份，还差2份",))
    mail = compose_notice(
        c,
        d,
        _decision("escalation", d, "140931", date(2023, 9, 17)),
        {(d.id, "140931"): state},
        upload_hint=HINT,
        message_id="<m3@test>",
    )
    assert mail.to == ("liaison.140931@example.cn",) and mail.cc == ("leader.140931@example.cn",)
    # Automatic chasing is 催报; 督办 is the office's formal sanction, never the machine's word.
    assert mail.subject == "【专项整治】【催报】保德县：总结报告及附件已逾期7天，材料不全（截止日期9月10日）"
    assert "督办" not in mail.text
    assert "分管领导" in mail.text and "还差2份" in mail.text and "典型案例（3份）" in mail.text


def test_digest_goes_to_the_office_with_counts() -> None:
    c = _campaign()
    d = _deadline("progress/2023-06")
    states = {(d.id, u.code): DeliveryState(u.code, _local(c, 2023, 6, 18, 9, 0)) for u in c.units[:10]}
    states[(d.id, "140971")] = DeliveryState("140971", _local(c, 2023, 6, 21, 0, 5))
    mail = compose_digest(c, d, _decision("digest", d, None, date(2023, 6, 21)), states, message_id="<m4@test>")
    assert mail.to == (c.office.email,) and mail.cc == ()
    assert "按时报送10" in mail.subject and "逾期报送1" in mail.subject and "未报送3" in mail.subject
    assert "逾期报送（1个）：五台山风景区" in mail.text
    assert "<table" in (mail.html or "") and mail.text.count("\n") > 14


def test_moved_due_date_is_explained() -> None:
    c = _campaign()
    d = replace(_deadline("rectification/2023-05"), due_date=date(2023, 5, 22), moved_from=date(2023, 5, 20))
    mail = compose_unit_notice(
        c,
        d,
        _decision("reminder", d, "140981", date(2023, 5, 22)),
        DeliveryState("140981", None),
        upload_hint=HINT,
        message_id="<m5@test>",
    )
    assert "今天（5月22日）截止" in mail.subject and "原定5月20日，遇节假日顺延" in mail.text


def test_a_digest_is_not_a_unit_notice() -> None:
    d = _deadline("progress/2023-06")
    with pytest.raises(ValueError, match="not a unit notice"):
        compose_unit_notice(
            _campaign(),
            d,
            _decision("digest", d, None, date(2023, 6, 21)),
            DeliveryState("x", None),
            upload_hint=HINT,
            message_id="<m6@test>",
        )


def test_sweep_day_is_the_local_date() -> None:
    # 01:00 UTC on 20 May is 09:00 the same day in Shanghai; 17:00 UTC is already the 21st.
    assert sweep_day(datetime(2023, 5, 20, 1, 0, tzinfo=UTC), _campaign()) == date(2023, 5, 20)
    assert sweep_day(datetime(2023, 5, 20, 17, 0, tzinfo=UTC), _campaign()) == date(2023, 5, 21)
