"""The pre-filled worksheet: generated for 6 problems, read back by the real checker (the one ``cli check``
and the upload pipeline use), reconciled: every id matched exactly."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.problems import (
    AcceptedList,
    MatchKind,
    ProblemStatus,
    UnitProblems,
    close,
    reconcile,
)
from chalicelib.domain.registry import default_registry
from chalicelib.domain.validation import check_file
from chalicelib.domain.worksheet import issue_list_worksheet, worksheet_file_name, worksheet_problems
from tests.unit.test_problems import JUNE_ROWS, MAY_ROWS, UNIT, accepted, row

CAMPAIGN = default_registry().campaign("xinzhou-2023")


def _checked(data: bytes, name: str) -> Any:
    assert CAMPAIGN is not None
    deliverable = CAMPAIGN.deliverable("issue-list")
    assert deliverable is not None
    return check_file(CAMPAIGN, deliverable, CAMPAIGN.unit(UNIT), name, data)


def _june_closed() -> UnitProblems:
    state = reconcile(UnitProblems(UNIT), accepted("2023-05", "v-may", MAY_ROWS)).state
    state = reconcile(state, accepted("2023-06", "v-june", JUNE_ROWS)).state
    return close(state, "140981-2023-05-003", who="office", when="2023-06-25T15:00:00+08:00", note="核查通过")


def test_a_worksheet_of_six_problems_passes_the_checker_and_matches_every_id_exactly() -> None:
    state = _june_closed()
    offered = worksheet_problems(state.problems)
    assert len(offered) == 6 and "140981-2023-05-003" not in {p.id for p in offered}  # closed: not offered
    name = worksheet_file_name("原平市", "2023-07")
    data = issue_list_worksheet(offered, "原平市", "2023-07")
    verdict = _checked(data, name)
    assert verdict.status == "accepted", verdict.errors
    assert [r["problem_id"] for r in verdict.rows] == [p.id for p in offered]
    result = reconcile(
        state, AcceptedList(UNIT, "issue-list", "2023-07", "v-july", verdict.rows, "2023-07-18T10:00:00+08:00")
    )
    assert [(d.kind, d.problem_id) for d in result.decisions] == [(MatchKind.ID, p.id) for p in offered]
    # the statuses read back as they were written: nothing changes but the period
    after = {p.id: p.status for p in result.state.problems}
    assert all(after[p.id] is p.status for p in offered)
    assert after["140981-2023-05-003"] is ProblemStatus.CLOSED


def test_an_updated_worksheet_marks_done_and_adds_a_new_problem() -> None:
    state = _june_closed()
    offered = worksheet_problems(state.problems)
    verdict = _checked(issue_list_worksheet(offered, "原平市", "2023-07"), "a.xlsx")
    rows = [dict(r) for r in verdict.rows]
    rows[0]["progress"] = "已完成"
    rows[1]["symptom"] = "罚没款问题已全部缴入国库"  # the clerk rewrote the text: the id still says which problem
    rows.append(row(7, "执法粗暴问题", "执法人员在阳武河桥检查时强行拖拽货车驾驶员下车，造成不良影响。"))
    result = reconcile(state, AcceptedList(UNIT, "issue-list", "2023-07", "v-july", rows, "2023-07-18T10:00:00+08:00"))
    kinds = [d.kind for d in result.decisions]
    assert kinds == [MatchKind.ID] * 6 + [MatchKind.NEW]
    assert result.state.problem(rows[0]["problem_id"]).status is ProblemStatus.DONE
    assert result.decisions[-1].problem_id == "140981-2023-07-001"


def test_text_that_looks_like_a_formula_stays_text() -> None:
    state = reconcile(
        UnitProblems(UNIT), accepted("2023-05", "v", [row(1, "执法不规范问题", '=HYPERLINK("x")执法记录仪未全程开启')])
    ).state
    data = issue_list_worksheet(worksheet_problems(state.problems), "原平市", "2023-06")
    verdict = _checked(data, "a.xlsx")
    assert verdict.rows[0]["symptom"].startswith("=HYPERLINK")
