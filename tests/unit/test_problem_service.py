"""services.problems on the in-memory store: a unit's problems follow its current lists (issue 15)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.domain.problems import OfficeActionError, aggregate_counts, counts
from chalicelib.domain.registry import Campaign, default_registry
from chalicelib.domain.store import DeliveryEvent, ProblemChange, ProblemConflictError
from chalicelib.services import problems as service

UNIT = "140981"
T0 = datetime(2023, 5, 20, 2, 0, tzinfo=UTC)
MAY = [
    ("“逐利执法”问题", "治超站对货车超限行为按固定金额罚款，未区分超限程度"),
    ("执法不规范问题", "在国道某路段随意设卡拦截正常行驶车辆检查"),
    ("执法粗暴问题", "个别执法人员对当事人陈述申辩不耐心，存在冷横硬推现象"),
    ("执法不规范问题", "执法记录仪未全程开启，现场执法过程记录不完整"),
    ("“逐利执法”问题", "罚没收入与执法经费挂钩，存在下达罚款指标的倾向"),
    ("执法不作为问题", "对群众举报的非法营运线索未及时核查处理"),
]


@pytest.fixture
def campaign() -> Campaign:
    found = default_registry().campaign("xinzhou-2023")
    assert found is not None
    return found


def rows(items: list[tuple[str, str]], **extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "row": 6 + n,
            "aspect": aspect,
            "symptom": text,
            "measure": "开展专项整改，建立长效机制",
            "deadline": "2023-06-30",
            **extra.get(text, {}),
        }
        for n, (aspect, text) in enumerate(items)
    ]


def upload(
    store: MemoryStore, campaign: Campaign, period: str, version: str, listed: list[dict[str, Any]], at: datetime
) -> None:
    store.write_version_rows(campaign.id, UNIT, "issue-list", period, version, listed)
    store.record_delivery(
        DeliveryEvent(
            campaign.id, UNIT, "issue-list", period, f"S#{version}", at, None, version, "accepted", len(listed)
        )
    )
    service.refresh_problems(store, campaign, UNIT, "issue-list", period, now=at)


def june_rows() -> list[dict[str, Any]]:
    listed = [MAY[0], ("执法不规范问题", "在国道某路段随意设卡，拦截正常行驶的车辆进行检查"), MAY[2], MAY[3]]
    listed.append(("执法粗暴问题", "执法人员着装不规范，未按规定佩戴执法证件"))
    return rows(listed, **{MAY[2][1]: {"note": "已完成"}})


def test_the_issue_flow_on_the_service(campaign: Campaign) -> None:
    store = MemoryStore()
    upload(store, campaign, "2023-05", "may", rows(MAY), T0)
    may = store.unit_problems(campaign.id, UNIT)
    assert [p.id for p in may.state.problems] == [f"{UNIT}-2023-05-00{n}" for n in range(1, 7)]
    assert {str(p.status) for p in may.state.problems} == {"open"}

    upload(store, campaign, "2023-06", "june", june_rows(), T0 + timedelta(days=30))
    june = store.unit_problems(campaign.id, UNIT).state
    by_id = {p.id: p for p in june.problems}
    assert len(by_id) == 7 and f"{UNIT}-2023-06-001" in by_id
    assert by_id[f"{UNIT}-2023-05-002"].text.startswith("在国道某路段随意设卡，")  # re-worded, id kept
    assert str(by_id[f"{UNIT}-2023-05-003"].status) == "done"
    as_of = date(2023, 6, 20)
    dropped = sorted(p.id for p in june.problems if "dropped" in service.problem_flags(p, june, as_of))
    assert dropped == [f"{UNIT}-2023-05-005", f"{UNIT}-2023-05-006"]

    done = service.close_problem(
        store, campaign, f"{UNIT}-2023-05-003", who="督导组", note="现场核实", now=T0 + timedelta(days=31)
    )
    assert str(done.status) == "closed"
    last = done.history[-1]
    assert (last.who, last.note, last.when) == ("督导组", "现场核实", "2023-06-20T02:00:00.000Z")
    with pytest.raises(OfficeActionError) as refused:
        service.close_problem(store, campaign, f"{UNIT}-2023-05-001", who="督导组", note="", now=T0)
    assert refused.value.code == "NOT_REPORTED_DONE"
    forced = service.close_problem(
        store, campaign, f"{UNIT}-2023-05-001", who="督导组", note="查阅台账", force=True, now=T0
    )
    assert forced.history[-1].forced and "强制销号" in forced.history[-1].note
    reopened = service.reopen_problem(store, campaign, f"{UNIT}-2023-05-001", who="督导组", note="复查发现反弹", now=T0)
    assert str(reopened.status) == "reopened"

    untold = service.untold_actions(store, campaign)[UNIT]
    assert [(u["id"], u["action"]) for u in untold] == [
        (f"{UNIT}-2023-05-003", "closed"),
        (f"{UNIT}-2023-05-001", "closed"),
        (f"{UNIT}-2023-05-001", "reopened"),
    ]
    assert "已销号" in service.told_lines(untold)[0]
    service.mark_told(store, campaign, UNIT, untold[:2])
    assert len(service.untold_actions(store, campaign)[UNIT]) == 1

    stored = store.unit_problems(campaign.id, UNIT)
    [aggregate] = store.problem_aggregates(campaign.id)
    for day in (date(2023, 6, 1), date(2023, 7, 1)):
        assert aggregate_counts(aggregate.aggregate, day) == counts(stored.state, day)


def test_redeliveries_and_reuploads_write_nothing_twice(campaign: Campaign) -> None:
    store = MemoryStore()
    upload(store, campaign, "2023-05", "may", rows(MAY), T0)
    before = store.unit_problems(campaign.id, UNIT)
    for _ in range(3):  # redelivered events: the pointer did not move
        service.refresh_problems(store, campaign, UNIT, "issue-list", "2023-05", now=T0)
    after = store.unit_problems(campaign.id, UNIT)
    assert after.revision == before.revision and after.state == before.state
    # A corrected re-upload of May (a new version) replaces May's entries: same ids, one entry per problem.
    upload(store, campaign, "2023-05", "may-2", rows(MAY), T0 + timedelta(hours=1))
    again = store.unit_problems(campaign.id, UNIT).state
    assert [p.id for p in again.problems] == [p.id for p in before.state.problems]
    assert all(len(p.history) == 1 and p.history[0].version == "may-2" for p in again.problems)


def test_a_returned_version_rolls_back_to_the_month_before(campaign: Campaign) -> None:
    store = MemoryStore()
    upload(store, campaign, "2023-05", "may", rows(MAY), T0)
    may = store.unit_problems(campaign.id, UNIT).state
    upload(store, campaign, "2023-06", "june", june_rows(), T0 + timedelta(days=30))
    june = store.unit_problems(campaign.id, UNIT).state
    # The decision route moves the pointer back (here: to no accepted June version), then calls refresh.
    key = (campaign.id, UNIT, "issue-list", "2023-06")
    pointer = store._pointers[key]
    store._pointers[key] = replace(pointer, current_version=None, current_order=None)
    service.refresh_problems(store, campaign, UNIT, "issue-list", "2023-06", now=T0 + timedelta(days=31))
    back = store.unit_problems(campaign.id, UNIT).state
    assert [p.as_json() for p in back.problems] == [p.as_json() for p in may.problems]
    assert back.current == may.current
    # Accepted again: June's state is back, the problem June alone listed under its own id (not a new one).
    store._pointers[key] = pointer
    service.refresh_problems(store, campaign, UNIT, "issue-list", "2023-06", now=T0 + timedelta(days=32))
    again = store.unit_problems(campaign.id, UNIT).state
    assert [p.as_json() for p in again.problems] == [p.as_json() for p in june.problems]
    assert again.sequences == june.sequences


def test_a_conflict_reads_again_and_applies_once(campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    real = store.save_problems
    calls = {"n": 0}

    def racing(campaign_id: str, change: ProblemChange) -> int:
        calls["n"] += 1
        if calls["n"] == 1:  # another writer commits first (an office close of the same unit, say)
            real(campaign_id, replace(change, untold=({"id": "x", "action": "closed", "when": "t"},)))
            raise ProblemConflictError("moved")
        return real(campaign_id, change)

    monkeypatch.setattr(store, "save_problems", racing)
    monkeypatch.setattr(service, "RETRY_BASE_SECONDS", 0.0)
    upload(store, campaign, "2023-05", "may", rows(MAY), T0)
    stored = store.unit_problems(campaign.id, UNIT)
    assert stored.revision == 1 and calls["n"] == 1  # the second read found the change already applied
    assert all(len(p.history) == 1 for p in stored.state.problems)


def test_a_half_written_change_is_repaired_not_doubled(campaign: Campaign) -> None:
    store = MemoryStore()
    upload(store, campaign, "2023-05", "may", rows(MAY), T0)
    stored = store.unit_problems(campaign.id, UNIT)
    # A writer crashed after writing June's problems but before committing the aggregate (current is May's).
    from chalicelib.domain.problems import AcceptedList, reconcile

    june = reconcile(
        stored.state, AcceptedList(UNIT, "issue-list", "2023-06", "june", june_rows(), "2023-06-19T02:00:00Z")
    )
    half = replace(june.state, current=stored.state.current, sequences=stored.state.sequences)
    store.save_problems(campaign.id, ProblemChange(UNIT, half, june.changed, (), stored.revision))
    upload(store, campaign, "2023-06", "june", june_rows(), T0 + timedelta(days=30))
    state = store.unit_problems(campaign.id, UNIT).state
    for problem in state.problems:
        versions = [e.version for e in problem.history]
        assert len(versions) == len(set(versions)), problem.id
    assert [p.id for p in state.problems] == [p.id for p in june.state.problems]
    assert state.current == june.state.current


def test_office_actions_on_unknown_problems(campaign: Campaign) -> None:
    store = MemoryStore()
    for pid in ("140981-2023-05-001", "999999-2023-05-001", "nonsense"):
        with pytest.raises(OfficeActionError) as refused:
            service.close_problem(store, campaign, pid, who="x", note="", now=T0)
        assert refused.value.code == "PROBLEM_NOT_FOUND"


class Outbox:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, mail: Any) -> None:
        self.sent.append(mail)


def test_the_unit_is_told_once_of_closed_and_reopened_problems(campaign: Campaign) -> None:
    from chalicelib.services.sweep import tell_problem_actions

    store = MemoryStore()
    upload(store, campaign, "2023-05", "may", rows(MAY, **{MAY[0][1]: {"note": "已完成"}}), T0)
    service.close_problem(store, campaign, f"{UNIT}-2023-05-001", who="督导组", note="现场核实", now=T0)
    service.reopen_problem(store, campaign, f"{UNIT}-2023-05-001", who="督导组", note="复查反弹", now=T0)
    outbox = Outbox()
    first = tell_problem_actions(store, campaign, outbox, as_of=T0 + timedelta(days=1), retry_delays=())
    assert [i.outcome for i in first] == ["sent"] and len(outbox.sent) == 1
    [mail] = outbox.sent
    assert f"{UNIT}-2023-05-001" in mail.text and "已销号" in mail.text and "问题反弹" in mail.text
    assert "原平市" in mail.subject and mail.to
    assert tell_problem_actions(store, campaign, outbox, as_of=T0 + timedelta(days=2), retry_delays=()) == []
    assert len(outbox.sent) == 1
    # Marking told failed after sending (a crash): the next run finds the notice sent and only marks.
    service.close_problem(store, campaign, f"{UNIT}-2023-05-002", who="督导组", note="", force=True, now=T0)
    real = service.mark_told
    try:
        service.mark_told = lambda *a, **k: None  # type: ignore[assignment]
        tell_problem_actions(store, campaign, outbox, as_of=T0 + timedelta(days=3), retry_delays=())
    finally:
        service.mark_told = real  # type: ignore[assignment]
    again = tell_problem_actions(store, campaign, outbox, as_of=T0 + timedelta(days=4), retry_delays=())
    assert [i.outcome for i in again] == ["already-sent"] and len(outbox.sent) == 2
    assert service.untold_actions(store, campaign) == {}


def test_the_september_package_names_a_dropped_problem(campaign: Campaign) -> None:
    from chalicelib.domain.deadlines import campaign_deadlines
    from chalicelib.services.board import package_status

    store = MemoryStore()
    upload(store, campaign, "2023-05", "may", rows(MAY), T0)
    # The package's 2023 list carries every May problem but the fifth, and reports the third done.
    final = rows([p for n, p in enumerate(MAY) if n != 4], **{MAY[2][1]: {"note": "已完成"}})
    upload(store, campaign, "final", "final-v", final, T0 + timedelta(days=100))
    [deadline] = [d for d in campaign_deadlines(campaign) if d.package and d.period == "final"]
    status = package_status(store, campaign, deadline, UNIT)
    named = [m for m in status.missing if "未列入本期清单" in m]
    assert len(named) == 1 and f"{UNIT}-2023-05-005" in named[0] and MAY[4][1][:10] in named[0]
    # Listed again (the clerk adds it back): nothing is missing on its account.
    upload(store, campaign, "final", "final-v2", rows(MAY), T0 + timedelta(days=101))
    assert not [m for m in package_status(store, campaign, deadline, UNIT).missing if "未列入本期清单" in m]


def test_a_version_applied_again_gives_its_rows_their_ids_back(campaign: Campaign) -> None:
    """A correction that leaves a row out removes its problem; when the pointer goes back to the first version
    (the office returns the correction), the row is that problem again, under its id, not a new one."""
    store = MemoryStore()
    upload(store, campaign, "2023-05", "may", rows(MAY), T0)
    first = store.unit_problems(campaign.id, UNIT).state
    upload(store, campaign, "2023-05", "may-2", rows(MAY[:5]), T0 + timedelta(hours=1))
    assert [p.id for p in store.unit_problems(campaign.id, UNIT).state.problems] == [p.id for p in first.problems[:5]]
    key = (campaign.id, UNIT, "issue-list", "2023-05")
    store._pointers[key] = replace(store._pointers[key], current_version="may", current_received_at=T0)
    service.refresh_problems(store, campaign, UNIT, "issue-list", "2023-05", now=T0 + timedelta(hours=2))
    back = store.unit_problems(campaign.id, UNIT).state

    def listed(state: Any) -> list[tuple[str, str, str, list[tuple[str | None, int | None]]]]:
        return [(p.id, str(p.status), p.text, [(e.version, e.row) for e in p.history]) for p in state.problems]

    # The five the correction kept are matched by text this time (the match records how), the sixth is new again.
    assert listed(back) == listed(first)
    assert back.sequences == first.sequences
