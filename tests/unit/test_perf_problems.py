"""A 1,000-problem unit re-uploading its list: reconcile stays well under a second or two (the matching
pairs identical texts without scoring, and scores only problems sharing a bigram with the row)."""

from __future__ import annotations

import time

from chalicelib.domain.problems import AcceptedList, MatchKind, UnitProblems, reconcile
from tests.unit.test_problems import row

ASPECTS = (
    "执法不规范问题",
    "“逐利执法”问题",
    "执法方式简单僵化问题",
    "执法粗暴问题",
    "执法“寻租”问题",
    "群众反映强烈的问题",
)
PLACES = ("G108线", "S313线", "阳武河桥", "城区", "东社镇", "崞阳镇", "大牛店镇", "轩岗镇")
FAULTS = ("未全程开启执法记录仪", "罚款未及时缴入国库", "只罚款不督促整改", "未持证参与执法检查", "重复检查物流企业")


def _rows(count: int) -> list[dict[str, object]]:
    return [
        row(
            n,
            ASPECTS[n % len(ASPECTS)],
            f"{PLACES[n % len(PLACES)]}第{n}号检查点执法人员{FAULTS[n % len(FAULTS)]}，涉及案件{n % 17 + 1}起。",
        )
        for n in range(1, count + 1)
    ]


def test_a_thousand_problem_unit_re_uploading_its_list() -> None:
    rows = _rows(1000)
    may = reconcile(UnitProblems("140981"), AcceptedList("140981", "issue-list", "2023-05", "v1", rows, "t")).state
    reworded = [{**r, "symptom": f"{r['symptom']}（已整改）"} if n % 2 else r for n, r in enumerate(rows)]
    started = time.perf_counter()
    june = reconcile(may, AcceptedList("140981", "issue-list", "2023-06", "v2", reworded, "t"))
    elapsed = time.perf_counter() - started
    assert [d.problem_id for d in june.decisions] == [p.id for p in may.problems]
    assert all(d.kind is MatchKind.TEXT for d in june.decisions)
    assert elapsed < 3.0, elapsed
