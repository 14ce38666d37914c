"""Matching accuracy of 问题表现 on one unit's realistic rewordings (tests/fixtures/problems/matching-pairs.json).

The figures are those of docs/problems.md: a change of the measure or the thresholds that moves
them shows here first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.problems import MatchKind, judge, normalise_text, parse_problem_id, similarity

PAIRS = json.loads((Path(__file__).parents[1] / "fixtures" / "problems" / "matching-pairs.json").read_text("utf-8"))


def _kinds(pairs: list[dict[str, Any]]) -> list[MatchKind]:
    return [judge(p["a"], p["b"])[0] for p in pairs]


def test_the_set_is_large_enough_and_from_one_unit() -> None:
    assert len(PAIRS["paraphrase"]) >= 60 and len(PAIRS["distinct"]) >= 60
    assert PAIRS["unit"] == "140981"


def test_no_distinct_pair_is_merged() -> None:
    merged = [
        p["b"] for p, kind in zip(PAIRS["distinct"], _kinds(PAIRS["distinct"]), strict=True) if kind is MatchKind.TEXT
    ]
    assert merged == []


def test_precision_and_recall_at_the_thresholds() -> None:
    para, dist = _kinds(PAIRS["paraphrase"]), _kinds(PAIRS["distinct"])
    true_merges = sum(k is MatchKind.TEXT for k in para)
    false_merges = sum(k is MatchKind.TEXT for k in dist)
    precision = true_merges / (true_merges + false_merges)
    recall = true_merges / len(para)
    shown = sum(k is not MatchKind.NEW for k in para) / len(para)  # merged, or put before the office as unsure
    missed = sum(k is MatchKind.NEW for k in para)
    unsure_distinct = sum(k is MatchKind.UNSURE for k in dist)
    print(
        f"precision={precision:.3f} recall={recall:.3f} shown={shown:.3f} missed={missed} "
        f"unsure_distinct={unsure_distinct}"
    )
    assert precision == 1.0
    assert recall >= 0.65  # docs/problems.md: 42/62
    assert shown >= 0.95  # docs/problems.md: every paraphrase is merged or offered to the office
    assert unsure_distinct <= len(dist) // 4


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("执法记录仪未全程开启。", "执法记录仪未全程开启（已完成）"),
        ("执法记录仪未全程开启", "执法记录仪 未全程开启；"),
        ("ＧＬ108线未全程开启执法记录仪", "GL108线未全程开启执法记录仪"),
    ],
)
def test_progress_remarks_punctuation_and_width_do_not_count(a: str, b: str) -> None:
    assert normalise_text(a) == normalise_text(b)
    assert similarity(a, b) == 1.0


def test_a_swapped_term_is_never_a_sure_match() -> None:
    a = "对同类超限运输违法行为罚款数额相差较大，未严格执行行政处罚自由裁量基准。"
    b = "对同类非法营运违法行为罚款数额相差较大，未严格执行行政处罚自由裁量基准。"
    assert similarity(a, b) >= 0.7
    assert judge(a, b)[0] is MatchKind.UNSURE


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("140981-2023-05-003", "140981-2023-05-003"),
        (" １４０９８１－２０２３－０５－００３ ", "140981-2023-05-003"),
        ("140981-final-012", "140981-final-012"),
        ("140981-2023-05-1000", "140981-2023-05-1000"),
        ("3", None),
        ("", None),
        (None, None),
        ("140981-2023-5-3", None),
    ],
)
def test_problem_id_cells(cell: str | None, expected: str | None) -> None:
    assert parse_problem_id(cell) == expected


@pytest.mark.parametrize("kind", ["paraphrase", "distinct"])
def test_reconcile_decides_each_pair_as_measured(kind: str) -> None:
    """The figures are those of the rule in use: a May row and its June wording, through ``reconcile``."""
    from chalicelib.domain.problems import AcceptedList, UnitProblems, reconcile

    def listed(period: str, aspect: str, text: str) -> AcceptedList:
        row = {"row": 6, "sheet": "s", "seq": 1, "aspect": aspect, "symptom": text, "deadline": "2023-06-30"}
        return AcceptedList("140981", "issue-list", period, period, [row], "2023-06-01T00:00:00+08:00")

    for pair in PAIRS[kind]:
        may = reconcile(UnitProblems("140981"), listed("2023-05", pair["aspect"], pair["a"])).state
        (decision,) = reconcile(may, listed("2023-06", pair["aspect"], pair["b"])).decisions
        expected = judge(pair["a"], pair["b"])[0]
        assert decision.kind is expected, pair
        assert (decision.problem_id == "140981-2023-05-001") is (expected is MatchKind.TEXT)
