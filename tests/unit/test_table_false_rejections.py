"""Issue 14: what a county clerk really writes is accepted (at most with a warning); true faults still reject.

One table per rule; each case is a small in-memory workbook checked by ``validate_table`` (the realistic
LibreOffice-made files go through the CLI in test_realistic_files.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.registry import default_registry
from chalicelib.domain.tables import validate_table
from chalicelib.domain.validation import unit_names
from tests.unit.test_table_rules import LEGACY_LABELS, check, issue_row, xlsx

CAMPAIGN = default_registry().campaign("xinzhou-2023")


def _codes(data: bytes, template_id: str = "issue-list") -> tuple[bool, list[str], list[str]]:
    verdict = check(data, template_id)
    return verdict.accepted, [f.code for f in verdict.errors], [f.code for f in verdict.warnings]


@pytest.mark.parametrize(
    ("deadline", "long_term"),
    [
        ("已完成", False),
        ("立行立改", False),
        ("立行立改（已完成）", False),
        ("已整改到位", False),
        ("2023年底前", False),
        ("2023年三季度", False),
        ("2023.7", False),
        ("7月31日前", False),
        ("二〇二三年六月三十日", False),
        ("上半年", False),
        ("长期", True),
        ("长期坚持", True),
        ("持续推进", True),
        ("常态化开展", True),
    ],
)
def test_time_limits_accepted(deadline: str, long_term: bool) -> None:
    verdict = check(xlsx([issue_row(1, deadline=deadline)]))
    assert verdict.accepted, verdict.errors
    assert verdict.rows[0]["long_term"] is long_term


@pytest.mark.parametrize("deadline", ["待定", "视情况", "尽快", "根据上级要求", "2023-02-30"])
def test_time_limits_that_name_no_time_are_rejected(deadline: str) -> None:
    verdict = check(xlsx([issue_row(1, deadline=deadline)]))
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [("DEADLINE_INVALID", 4, "完成时限")]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("（三）执法方式简单僵化问题", "执法方式简单僵化问题"),
        ("(三)执法方式简单僵化问题", "执法方式简单僵化问题"),
        ("三、执法方式简单僵化问题", "执法方式简单僵化问题"),
        ("3.执法方式简单僵化", "执法方式简单僵化问题"),
        ("群众反映强烈的热点问题", "群众反映强烈的问题"),
        ("（六）群众反映强烈的问题", "群众反映强烈的问题"),
        ("执法不规范", "执法不规范问题"),
        ("“逐利执法”", "“逐利执法”问题"),
        ("「逐利执法」问题", "“逐利执法”问题"),
        ('"逐利执法"问题', "“逐利执法”问题"),
        ("执法寻租", "执法“寻租”问题"),
        ("执法“寻租”", "执法“寻租”问题"),
    ],
)
def test_aspects_map_to_the_canonical_name_and_keep_the_text(written: str, canonical: str) -> None:
    verdict = check(xlsx([issue_row(1, aspect=written)]))
    assert verdict.accepted, verdict.errors
    assert (verdict.rows[0]["aspect"], verdict.rows[0]["aspect_text"]) == (canonical, written)


@pytest.mark.parametrize("aspect", ["乱收费问题", "逐利执法、执法粗暴"])
def test_an_aspect_the_notice_does_not_list_is_still_rejected(aspect: str) -> None:
    assert _codes(xlsx([issue_row(1, aspect=aspect)]))[1] == ["ASPECT_UNKNOWN"]


@pytest.mark.parametrize(
    "remark",
    [
        [None, "合计", "共2个问题"],
        ["合计", None, None, None, None, None, None, None, None],
        ["小计：2项"],
        ["总计"],
        ["注：完成时限请填写具体日期。"],
        ["注1：长期坚持的问题请在备注中说明。"],
        ["说明：本表由执法大队汇总。"],
        ["填表说明：1.问题方面按通知填写"],
    ],
)
def test_total_and_note_rows_are_neither_problems_nor_errors(remark: list[Any]) -> None:
    for rows in ([issue_row(1), remark, issue_row(2)], [issue_row(1), issue_row(2), remark]):
        verdict = check(xlsx(rows))
        assert verdict.accepted and len(verdict.rows) == 2, verdict.errors
        assert not verdict.warnings


@pytest.mark.parametrize(
    ("unit", "stamp", "verdict_code"),
    [
        ("原平市", "原平市交通运输综合行政执法大队", None),
        ("原平市", "原平市交通运输局综合行政执法大队（盖章）", None),
        ("原平市", "忻州市原平市交通运输局", None),
        ("代县", "代县交通运输局", None),
        ("五台山风景区", "五台山风景名胜区旅游发展局", None),
        ("五台山风景区", "五台山旅发局", None),
        ("五台县", "五台县交通运输局", None),
        ("五台县", "五台山风景名胜区旅游发展局", "UNIT_MISMATCH"),
        ("原平市", "宁武县交通运输综合行政执法大队", "UNIT_MISMATCH"),
        ("原平市", "宁武县交通运输局", "UNIT_MISMATCH"),
        ("原平市", "本局", "UNIT_UNRECOGNISED"),
    ],
)
def test_the_filing_unit_may_be_one_of_its_bodies(unit: str, stamp: str, verdict_code: str | None) -> None:
    assert CAMPAIGN is not None
    me = CAMPAIGN.unit(unit)
    others = [unit_names(u) for u in CAMPAIGN.units if u is not me]
    data = xlsx([issue_row(1, deadline="待定")], above=[["填报时间：2023年5月18日"], [f"填报单位（盖章）：{stamp}"]])
    verdict = validate_table(data, "清单.xlsx", "issue-list", unit_names=unit_names(me), other_units=others)
    codes = [f.code for f in verdict.errors]
    if verdict_code == "UNIT_MISMATCH":
        assert codes == ["UNIT_MISMATCH", "DEADLINE_INVALID"]  # another unit's file: said first
    else:
        assert codes == ["DEADLINE_INVALID"]
        assert [f.code for f in verdict.warnings if f.code.startswith("UNIT")] == (
            [verdict_code] if verdict_code else []
        )


@pytest.mark.parametrize(
    ("phone", "error", "warning"),
    [
        ("3021234", None, "PHONE_NO_AREA_CODE"),
        ("302-1234", None, "PHONE_NO_AREA_CODE"),
        ("30212345", None, "PHONE_NO_AREA_CODE"),
        ("0350-3021234", None, None),
        ("13935011611", None, None),
        ("12345", "PHONE_INVALID", None),
        ("1393501161", "PHONE_INVALID", None),
    ],
)
def test_a_local_phone_number_in_the_footer_is_a_warning(phone: str, error: str | None, warning: str | None) -> None:
    data = xlsx([issue_row(1)], below=[["审核人：刘七"], ["联系人：张三"], [f"联系电话：{phone}"]])
    accepted, errors, warnings = _codes(data)
    assert errors == ([error] if error else []) and accepted is (error is None)
    assert warnings == ([warning] if warning else [])


def test_a_local_phone_number_beside_a_contact_is_a_warning() -> None:
    accepted, errors, warnings = _codes(xlsx([issue_row(1, contact="张三 3021234")]))
    assert accepted and errors == [] and warnings == ["PHONE_NO_AREA_CODE"]


LEGACY_SYMPTOM = "2022年存在按罚没金额考核中队的做法，考核办法第5条规定罚没任务。"


def _legacy(status: str, stage: str | None, long_term: str | None) -> list[Any]:
    return [1, "趋利性执法问题", LEGACY_SYMPTOM, "废止。", status, stage, long_term, None]


@pytest.mark.parametrize(
    ("status", "completed"),
    [
        ("整改到位", True),
        ("已销号", True),
        ("已完成（未发现反弹）", True),
        ("已完成", True),
        ("已完成90%", False),
        ("基本完成", False),
        ("持续推进", False),
        ("正在整改", False),
        ("长期坚持", False),
    ],
)
def test_the_2022_list_reads_completion_with_the_shared_rule(status: str, completed: bool) -> None:
    bare = check(xlsx([_legacy(status, None, None)], labels=LEGACY_LABELS), "legacy-issue-list")
    assert bare.accepted is completed
    if not completed:
        assert {(f.code, f.column) for f in bare.errors} == {
            ("LONG_TERM_INCOMPLETE", "阶段性成效"),
            ("LONG_TERM_INCOMPLETE", "长期举措"),
        }
    full = check(xlsx([_legacy(status, "已废止考核条款。", "每季度检查。")], labels=LEGACY_LABELS), "legacy-issue-list")
    assert full.accepted and full.rows[0]["completed"] is completed


@pytest.mark.parametrize(
    "rows",
    [
        [[1, "本月无典型案例"]],
        [["本月暂无典型案例"]],
        [[None, "无典型案例"]],
    ],
)
def test_no_typical_case_this_month_is_a_valid_answer(rows: list[list[Any]]) -> None:
    labels = ["序号", "案例名称", "基本情况", "具体措施", "整改效果", "点评"]
    verdict = check(xlsx(rows, labels=labels), "typical-case")
    assert verdict.accepted and verdict.rows == () and verdict.header["nothing_to_report"] is True


def test_an_empty_case_sheet_without_the_note_is_still_rejected() -> None:
    labels = ["序号", "案例名称", "基本情况", "具体措施", "整改效果", "点评"]
    verdict = check(xlsx([], labels=labels), "typical-case")
    assert [f.code for f in verdict.errors] == ["NO_DATA_ROWS"]


@pytest.mark.parametrize(("email", "warned"), [(None, True), ("lm@example.cn", False)])
def test_a_contacts_list_without_email_says_where_notices_go(email: str | None, warned: bool) -> None:
    from chalicelib.domain.validation import check_file

    assert CAMPAIGN is not None
    unit = CAMPAIGN.unit("原平市")
    assert unit is not None
    labels = ["单位", "联系人", "姓名", "职务", "手机号", "电子邮箱", "备注"]
    rows = [
        ["原平市", "分管领导", "王建国", "副局长", "13935010001", email],
        ["原平市", "联络员", "李明", "主任", "13935010002"],
    ]
    data = xlsx(rows, labels=labels, above=[["专项整治工作联系人名单"]], below=[])
    verdict = check_file(CAMPAIGN, CAMPAIGN.deliverables["contacts"], unit, "联系人.xlsx", data)
    assert verdict.status == "accepted"
    notes = [w.message for w in verdict.warnings if w.code == "CONTACTS_NO_EMAIL"]
    assert bool(notes) is warned
    if warned:
        assert all(c.email in notes[0] for c in unit.contacts)
