"""The one completion rule (chalicelib.domain.progress): phrases as clerks write them in 完成情况."""

from __future__ import annotations

import pytest

from chalicelib.domain.progress import Progress, read_progress

DONE, LONG, OPEN = Progress.DONE, Progress.LONG_TERM, Progress.OPEN

PHRASINGS: list[tuple[str | None, Progress | None]] = [
    # Done, however it is said.
    ("已完成", DONE),
    ("完成", DONE),
    ("已整改", DONE),
    ("已整改到位", DONE),
    ("整改到位", DONE),
    ("已销号", DONE),
    ("销号", DONE),
    ("已办结", DONE),
    ("整改完成", DONE),
    ("完成整改", DONE),
    ("已全部整改到位", DONE),
    ("已完成（未发现反弹）", DONE),
    ("已完成，未发现反弹", DONE),
    ("已完成，无新增问题", DONE),
    ("立行立改（已完成）", DONE),
    ("立行立改", DONE),
    ("已于2022年8月完成整改", DONE),
    ("已按期完成", DONE),
    ("完成100%", DONE),
    ("已完成 100％", DONE),
    ("已完成，持续巩固整改成果", DONE),
    ("  已 完 成\n", DONE),
    ("已纠正", DONE),
    # Not finished: qualifiers, percentages, negations that govern completion.
    ("已完成90%", OPEN),
    ("已完成９０％", OPEN),
    ("完成百分之九十", OPEN),
    ("完成进度80%", OPEN),
    ("基本完成", OPEN),
    ("基本整改到位", OPEN),
    ("大部分已完成", OPEN),
    ("初步完成", OPEN),
    ("部分完成", OPEN),
    ("阶段性完成", OPEN),
    ("未完成", OPEN),
    ("尚未完成", OPEN),
    ("尚未整改到位", OPEN),
    ("整改不到位", OPEN),
    ("未能按期完成", OPEN),
    ("没有完成", OPEN),
    ("整改不彻底", OPEN),
    ("已完成3项，剩余2项正在整改", OPEN),
    # Under way or planned.
    ("正在整改", OPEN),
    ("整改中", OPEN),
    ("推进中", OPEN),
    ("持续推进", OPEN),
    ("持续整改", OPEN),
    ("逐步推进", OPEN),
    ("计划2023年6月底前完成", OPEN),
    ("力争年底前整改到位", OPEN),
    ("待整改", OPEN),
    # Standing measures.
    ("长期坚持", LONG),
    ("长期", LONG),
    ("长期推进", LONG),
    ("常态化开展", LONG),
    ("已完成，长期坚持", LONG),
    # Nothing about progress.
    (None, None),
    ("", None),
    ("   ", None),
    ("无", None),
    ("详见附件", None),
    ("未发现反弹", None),
]


@pytest.mark.parametrize(("text", "expected"), PHRASINGS)
def test_read_progress(text: str | None, expected: Progress | None) -> None:
    assert read_progress(text) == expected


def test_the_table_is_large_enough_to_mean_something() -> None:
    assert len(PHRASINGS) >= 40
    assert {expected for _, expected in PHRASINGS} == {DONE, LONG, OPEN, None}


def test_values_are_the_strings_other_modules_store() -> None:
    assert [p.value for p in Progress] == ["done", "long-term", "open"]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for t, e in PHRASINGS if t and t.strip()])
def test_the_package_check_and_the_file_check_use_this_rule(text: str, expected: Progress | None) -> None:
    from chalicelib.domain.packages import legacy_row_problems
    from chalicelib.domain.tables.rules import _completed

    row = {"row": 5, "status": text, "stage_result": "", "long_term_measure": ""}
    assert (legacy_row_problems([row]) == ()) is (expected is DONE)
    assert _completed(text) is (expected is DONE)
