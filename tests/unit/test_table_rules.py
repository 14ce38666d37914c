"""Row and sheet rules, on small workbooks built in memory."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from openpyxl import Workbook

from chalicelib.domain.schemas import validator
from chalicelib.domain.tables import TableVerdict, validate_table

# Small in-memory workbooks (openpyxl, no LibreOffice needed).
ISSUE_LABELS = [
    "序号",
    "问题方面",
    "问题表现",
    "原因剖析",
    "整改措施",
    "完成时限",
    "成果形式",
    "责任单位",
    "联系人",
    "备注",
]
LEGACY_LABELS = ["序号", "问题方面", "问题表现", "整改措施", "完成情况", "阶段性成效", "长期举措", "备注"]
SYMPTOM = "县执法大队2023年1-3月下达罚没指标，张某某中队重复处罚货车司机3次。"


def issue_row(seq: Any = 1, **overrides: Any) -> list[Any]:
    """One good 附件2 row; override cells by field id."""
    row = {
        "seq": seq,
        "aspect": "逐利执法",
        "symptom": f"{SYMPTOM}（第{seq}项）",
        "cause": "政绩观错位。",
        "measure": "取消罚没指标。",
        "deadline": "2023-06-30",
        "deliverable_form": "整改报告",
        "owner_unit": "县执法大队",
        "contact": "张三 13812345678",
        "note": None,
    }
    row.update(overrides)
    return list(row.values())


def xlsx(
    rows: list[list[Any]],
    *,
    labels: list[str] | None = None,
    above: list[list[Any]] | None = None,
    below: list[list[Any]] | None = None,
    merges: list[str] | None = None,
    title: str = "清单",
) -> bytes:
    """Lines ``above`` the one-row header (default: 填报时间 / 填报单位), data, lines ``below``."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    lines = [
        *(above if above is not None else [["填报时间：2023年5月18日"], ["填报单位（盖章）：原平市"]]),
        labels or ISSUE_LABELS,
        *rows,
        *(below if below is not None else [["审核人：刘七"], ["联系人：张三"], ["联系电话：13812345678"]]),
    ]
    for r, line in enumerate(lines, start=1):
        for c, value in enumerate(line, start=1):
            if value is not None:
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
    for merge in merges or ():
        ws.merge_cells(merge)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


YUANPING = ("原平市", "原平")


def check(data: bytes, template_id: str = "issue-list", name: str = "清单.xlsx", **kwargs: object) -> TableVerdict:
    return validate_table(data, name, template_id, unit_names=YUANPING, **kwargs)  # type: ignore[arg-type]


def only(verdict: TableVerdict, code: str) -> list[tuple[int | None, str | None, str]]:
    return [(f.row, f.column, f.message) for f in verdict.errors + verdict.warnings if f.code == code]


def test_minimal_good_file() -> None:
    verdict = check(xlsx([issue_row(1), issue_row(2)]))
    assert verdict.accepted
    assert (verdict.errors, verdict.warnings) == ((), ())
    assert [r["row"] for r in verdict.rows] == [4, 5]
    assert set(verdict.rows[0]) == {
        "row", "sheet", "seq", "aspect", "aspect_text", "symptom", "cause", "measure", "deadline", "long_term",
        "deliverable_form", "owner_unit", "contact", "contact_phone", "note", "problem_id", "progress",
    }  # fmt: skip


@pytest.mark.parametrize("marker", ["长期", "长期坚持", "持续推进", "常态化", "长期坚持，每季度检查"])
def test_long_term_markers(marker: str) -> None:
    verdict = check(xlsx([issue_row(1, deadline=marker)]))
    assert verdict.accepted
    assert verdict.rows[0]["long_term"] is True
    assert verdict.rows[0]["deadline"] == marker


@pytest.mark.parametrize(
    "deadline", ["2023-06-30", "2023/6/30", "2023.6.30", "2023年6月30日", "6月30日", 45107, date(2023, 6, 30)]
)
def test_deadline_forms(deadline: object) -> None:
    verdict = check(xlsx([issue_row(1, deadline=deadline)]))
    assert verdict.errors == ()
    assert verdict.rows[0]["deadline"] == "2023-06-30"


@pytest.mark.parametrize(
    ("deadline", "shown"), [("待定", "待定"), ("视情况", "视情况"), ("2023-02-30", "2023-02-30"), ("尽快", "尽快")]
)
def test_bad_deadline(deadline: str, shown: str) -> None:
    verdict = check(xlsx([issue_row(1, deadline=deadline)]))
    assert not verdict.accepted
    assert only(verdict, "DEADLINE_INVALID") == [
        (4, "完成时限", f"“{shown}”无法识别为日期，请填写如 2023-06-30 或“长期坚持”。")
    ]


def test_deadline_outside_campaign_year_is_a_warning() -> None:
    verdict = check(xlsx([issue_row(1, deadline="2022-12-31"), issue_row(2, deadline="2023-12-31")]))
    assert verdict.accepted
    assert [(r, c) for r, c, _ in only(verdict, "DEADLINE_OUTSIDE_YEAR")] == [(4, "完成时限")]
    assert "不在2023年内" in only(verdict, "DEADLINE_OUTSIDE_YEAR")[0][2]
    assert check(xlsx([issue_row(1, deadline="2024-03-01")]), campaign_year=2024).warnings == ()


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("symptom", "问题表现"),
        ("cause", "原因剖析"),
        ("measure", "整改措施"),
        ("owner_unit", "责任单位"),
        ("contact", "联系人"),
        ("deadline", "完成时限"),
    ],
)
def test_required_cells(field: str, label: str) -> None:
    verdict = check(xlsx([issue_row(1), issue_row(2, **{field: None})]))
    assert not verdict.accepted
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [("REQUIRED_EMPTY", 5, label)]
    assert verdict.errors[0].message.startswith("未填写，请填写")
    assert [r["row"] for r in verdict.rows] == [4]


def test_placeholder_text_counts_as_empty() -> None:
    verdict = check(xlsx([issue_row(1, measure="1. 2. 3. 4.")]))
    assert [(f.code, f.column) for f in verdict.errors] == [("REQUIRED_EMPTY", "整改措施")]


def test_empty_aspect() -> None:
    verdict = check(xlsx([issue_row(1, aspect=None)]))
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [("ASPECT_EMPTY", 4, "问题方面")]


def test_aspect_inherited_from_vertical_merge() -> None:
    rows = [
        issue_row(1, aspect="执法粗暴"),
        issue_row(2, aspect=None),
        issue_row(3, aspect=None),
        issue_row(4, aspect=None),
    ]
    verdict = check(xlsx(rows, merges=["B4:B6"]))
    # Row 7 is outside the merge and has no aspect of its own.
    assert [(f.code, f.row) for f in verdict.errors] == [("ASPECT_EMPTY", 7)]
    assert [r["aspect"] for r in verdict.rows] == ["执法粗暴问题"] * 3


def test_horizontal_merge_in_data_is_not_copied_sideways() -> None:
    verdict = check(xlsx([issue_row(1, cause="同右", measure=None)], merges=["D4:E4"]))
    assert [(f.code, f.column) for f in verdict.errors] == [("REQUIRED_EMPTY", "整改措施")]


def test_unknown_aspect_is_an_error_for_2023_and_a_warning_for_2022() -> None:
    verdict = check(xlsx([issue_row(1, aspect="作风问题")]))
    assert [(f.code, f.row) for f in verdict.errors] == [("ASPECT_UNKNOWN", 4)]
    legacy = xlsx(
        [[1, "作风问题", "2022年窗口人员服务态度差，群众投诉3起。", "培训。", "已完成", None, None, None]],
        labels=LEGACY_LABELS,
    )
    verdict = check(legacy, "legacy-issue-list")
    assert verdict.accepted
    assert [(f.code, f.row) for f in verdict.warnings] == [("ASPECT_UNKNOWN", 4)]
    assert verdict.rows[0]["aspect"] == "作风问题"


@pytest.mark.parametrize("status", ["持续推进", "未完成", "基本完成", "正在整改"])
def test_open_2022_problems_need_stage_result_and_long_term_measure(status: str) -> None:
    row = [
        1,
        "趋利性执法问题",
        "2022年按罚没金额考核中队，考核办法第5条规定罚没任务。",
        "废止条款。",
        status,
        None,
        None,
        None,
    ]
    verdict = check(xlsx([row], labels=LEGACY_LABELS), "legacy-issue-list")
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [
        ("LONG_TERM_INCOMPLETE", 4, "阶段性成效"),
        ("LONG_TERM_INCOMPLETE", 4, "长期举措"),
    ]
    assert verdict.errors[0].message == "问题尚未完成整改，请填写阶段性成效。"


def test_completed_2022_problem_needs_no_long_term_measure() -> None:
    row = [
        1,
        "趋利性执法问题",
        "2022年按罚没金额考核中队，考核办法第5条规定罚没任务。",
        "废止条款。",
        "已完成整改",
        None,
        None,
        None,
    ]
    assert check(xlsx([row], labels=LEGACY_LABELS), "legacy-issue-list").accepted


def test_sequence_warnings() -> None:
    rows = [issue_row(1), issue_row(2), issue_row(2, symptom=SYMPTOM + "另一项"), issue_row("四")]
    verdict = check(xlsx(rows))
    assert verdict.accepted
    assert [(f.code, f.row) for f in verdict.warnings] == [("SEQ_NOT_SEQUENTIAL", 6), ("SEQ_INVALID", 7)]
    assert verdict.rows[3]["seq"] is None


def test_numbers_stored_as_text() -> None:
    verdict = check(xlsx([issue_row("1"), issue_row("2", contact="李四 13812345678")]))
    assert [r["seq"] for r in verdict.rows] == [1, 2]


def test_vague_entries_are_warnings() -> None:
    rows = [
        issue_row(1, symptom="乱罚款"),
        issue_row(2, symptom="存在逐利执法现象，需要整改"),
        issue_row(3, symptom="存在逐利执法现象，需要整改"),
    ]
    verdict = check(xlsx(rows))
    assert verdict.accepted
    assert [(f.code, f.row, f.column) for f in verdict.warnings] == [
        ("TEXT_TOO_SHORT", 4, "问题表现"),
        ("DUPLICATE_TEXT", 6, "问题表现"),
    ]
    assert "少于10个字" in verdict.warnings[0].message
    assert verdict.warnings[1].message == "与第5行内容完全相同，请针对每个问题分别具体填写。"


def test_min_length_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.domain.tables.templates import load_template

    monkeypatch.setitem(load_template("issue-list").min_lengths, "symptom", 100)
    verdict = check(xlsx([issue_row(1)]))
    assert [f.code for f in verdict.warnings] == ["TEXT_TOO_SHORT"]


@pytest.mark.parametrize("contact", ["张三 1381234567", "张三 28123456789", "张三 0350-123"])
def test_bad_phone_in_contact(contact: str) -> None:
    verdict = check(xlsx([issue_row(1, contact=contact)]))
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [("PHONE_INVALID", 4, "联系人")]


def test_contact_phone_with_trailing_newline_and_full_width_digits() -> None:
    verdict = check(xlsx([issue_row(1, contact="13812345678\n"), issue_row(2, contact="张三 138１２３４５６７８")]))
    assert verdict.accepted
    assert [r["contact_phone"] for r in verdict.rows] == ["13812345678", "13812345678"]


def test_wrong_unit_in_header() -> None:
    verdict = check(
        xlsx([issue_row(1)], above=[["填报时间：", date(2023, 5, 18)], ["填报单位（盖章）：", "宁武县交通运输局"]])
    )
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [("UNIT_MISMATCH", 2, "填报单位")]
    assert verdict.header["filled_on"] == "2023-05-18"


def test_header_lines_in_one_cell_and_in_next_cell() -> None:
    verdict = check(xlsx([issue_row(1)], above=[["填报时间：2023年5月18日    填报单位（盖章）：原平市交通运输局"]]))
    assert verdict.header["filled_on"] == "2023-05-18"
    assert verdict.header["unit"] == "原平市交通运输局"
    assert verdict.accepted


def test_unfilled_header_lines_are_warnings() -> None:
    verdict = check(xlsx([issue_row(1)], above=[["填报时间：  年  月  日"], ["填报单位（盖章）："]], below=[]))
    assert verdict.accepted
    assert [f.code for f in verdict.warnings] == [
        "FILLED_ON_MISSING", "UNIT_MISSING", "FOOTER_MISSING", "FOOTER_MISSING", "FOOTER_MISSING",
    ]  # fmt: skip


def test_footer_phone_is_checked_and_footer_ends_the_data() -> None:
    verdict = check(
        xlsx(
            [issue_row(1)],
            below=[["审核人：刘七", None, "联系人：张三", None, "联系电话：1234"], [None, "说明：随便写点"]],
        )
    )
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [("PHONE_INVALID", 5, "联系电话")]
    assert len(verdict.rows) == 1


def test_label_variants_and_line_breaks_in_header() -> None:
    labels = [
        "序 号",
        "问题\n方面",
        "问题表现",
        "原因分析",
        "整改措施",
        "完成时限（年月日）",
        "成果形式",
        "责任单位",
        "联系人",
        "备注",
    ]
    verdict = check(xlsx([issue_row(1)], labels=labels))
    assert verdict.accepted, verdict.errors


def test_header_found_below_extra_title_rows_and_blank_lines() -> None:
    above = [
        ["某某县交通运输局"],
        [],
        ["专项整治事项清单"],
        [],
        ["填报时间：2023年5月18日"],
        ["填报单位（盖章）：原平市"],
        [],
    ]
    verdict = check(xlsx([issue_row(1), [], issue_row(2)], above=above))
    assert verdict.accepted
    assert [r["row"] for r in verdict.rows] == [9, 11]


def test_columns_in_another_order() -> None:
    labels = list(reversed(ISSUE_LABELS))
    verdict = check(xlsx([list(reversed(issue_row(1)))], labels=labels))
    assert verdict.accepted
    assert verdict.rows[0]["deadline"] == "2023-06-30"


def test_missing_column() -> None:
    labels = [label for label in ISSUE_LABELS if label != "原因剖析"]
    row = issue_row(1)
    del row[3]
    verdict = check(xlsx([row], labels=labels))
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [("MISSING_COLUMN", 3, "原因剖析")]
    assert "附件2" in verdict.errors[0].message


def test_header_not_found_names_the_template() -> None:
    verdict = check(xlsx([["随便", "写点"], ["什么", "东西"]], labels=["甲", "乙"], above=[], below=[]))
    assert [f.code for f in verdict.errors] == ["HEADER_NOT_FOUND"]
    assert "附件2 专项整治事项清单（2023年新问题）" in verdict.errors[0].message
    assert not verdict.accepted


def test_no_data_rows_names_the_template() -> None:
    verdict = check(xlsx([[1], [2, "逐利执法", "1. 2. 3. 4."], [3]]))
    assert [f.code for f in verdict.errors] == ["NO_DATA_ROWS"]
    assert "附件2 专项整治事项清单（2023年新问题）" in verdict.errors[0].message
    assert not verdict.accepted


def test_hidden_sheets_are_ignored_and_other_sheets_without_header_skipped() -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx([issue_row(1)])))
    book.create_sheet("说明")["A1"] = "填表说明：按模板填写"
    hidden = book.create_sheet("旧版")
    for c, label in enumerate(ISSUE_LABELS, 1):
        hidden.cell(row=1, column=c, value=label)
    hidden.cell(row=2, column=1, value="坏数据")
    hidden.sheet_state = "hidden"
    buffer = io.BytesIO()
    book.save(buffer)
    verdict = check(buffer.getvalue())
    assert verdict.accepted, verdict.errors
    assert len(verdict.rows) == 1


def test_too_many_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chalicelib.domain.tables.rules.MAX_DATA_ROWS", 3)
    verdict = check(xlsx([issue_row(i) for i in range(1, 6)]))
    assert [f.code for f in verdict.errors] == ["TOO_MANY_ROWS"]
    assert not verdict.accepted


def test_contacts_rules() -> None:
    labels = ["单位", "联系人", "姓名", "职务", "手机号", "备注"]
    rows = [
        ["原平市", "分管领导", "王建国", "副局长", "1393501000", None],
        [None, "联系员", "李明", "主任", "13935010002", None],
        ["宁武县", "联络员", "赵四", "主任", "13935010003", None],
        ["宁武县", "分管领导", None, None, None, None],  # the template's unfilled line for another county
        ["原平市", "联络员", "钱五", None, "", None],
    ]
    verdict = check(xlsx(rows, labels=labels, above=[], below=[], merges=["A2:A3"]), "contacts")
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [
        ("PHONE_INVALID", 2, "手机号"),
        ("ROLE_UNKNOWN", 3, "联系人"),
        ("REQUIRED_EMPTY", 6, "职务"),
        ("REQUIRED_EMPTY", 6, "手机号"),
    ]
    assert [(f.code, f.row) for f in verdict.warnings] == [("OTHER_UNIT_ROW", 4)]
    assert verdict.errors[1].message == "“联系员”应填写为分管领导或联络员。"


def test_typical_case_rules() -> None:
    labels = ["序号", "标题", "基本情况", "具体措施", "整改效果", "点评"]
    rows = [
        [
            1,
            "清理罚没指标",
            "2023年4月自查发现，县执法大队按月向中队下达罚没指标。",
            "废止考核条款。",
            "不再下达指标。",
            None,
        ]
    ]
    verdict = check(xlsx(rows, labels=labels), "typical-case")
    assert [(f.code, f.row, f.column) for f in verdict.errors] == [("REQUIRED_EMPTY", 4, "点评")]


def test_json_list_with_chinese_keys_and_errors() -> None:
    rows = [dict(zip(ISSUE_LABELS, issue_row(1, deadline="待定"), strict=True))]
    verdict = check(json.dumps(rows, ensure_ascii=False).encode(), name="清单.json")
    assert [(f.code, f.row, f.column, f.sheet) for f in verdict.errors] == [("DEADLINE_INVALID", 1, "完成时限", None)]


def test_csv_plain_utf8_and_gbk() -> None:
    lines = [",".join(ISSUE_LABELS), ",".join(str(v or "") for v in issue_row(1, contact="张三"))]
    text = "填报单位：原平市\n" + "\n".join(lines) + "\n"
    for encoding in ("utf-8", "gbk", "gb18030", "utf-8-sig"):
        verdict = check(text.encode(encoding), name="清单.csv")
        assert verdict.accepted, (encoding, verdict.errors)
        assert verdict.rows[0]["row"] == 3
        assert verdict.header["unit"] == "原平市"


def test_schemas_are_compiled_once() -> None:
    data = xlsx([issue_row(i) for i in range(1, 30)])
    check(data)
    before = validator.cache_info()
    check(data)
    after = validator.cache_info()
    assert after.misses == before.misses
    assert after.currsize == before.currsize


def test_data_text_starting_like_a_footer_label_is_still_data() -> None:
    rows = [issue_row(1), issue_row(None, aspect=None, symptom="联系人未按规定公示执法依据，群众投诉2起，涉及张某某。")]
    verdict = check(xlsx(rows, merges=["B4:B5"]))
    assert [r["row"] for r in verdict.rows] == [4, 5]
    assert verdict.rows[1]["aspect"] == "“逐利执法”问题"


def test_hidden_rows_are_validated_and_flagged() -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(xlsx([issue_row(1), issue_row(2, deadline="待定")], title="A&B清单")))
    book.active.row_dimensions[5].hidden = True
    buffer = io.BytesIO()
    book.save(buffer)
    verdict = check(buffer.getvalue())
    assert [(f.code, f.row, f.sheet) for f in verdict.warnings] == [("HIDDEN_ROW", 5, "A&B清单")]
    assert [(f.code, f.row) for f in verdict.errors] == [("DEADLINE_INVALID", 5)]


def test_a_broken_template_file_fails_loudly(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from chalicelib.domain.tables import templates

    directory = Path(str(tmp_path))
    (directory / "broken.json").write_text(json.dumps({"id": "broken", "name": "x"}), encoding="utf-8")
    monkeypatch.setattr(templates, "TEMPLATE_DIR", directory)
    templates.load_template.cache_clear()
    try:
        with pytest.raises(templates.TemplateError, match=r"broken\.json"):
            templates.load_template("broken")
        with pytest.raises(templates.TemplateError, match="unknown template"):
            templates.load_template("nope")
    finally:
        templates.load_template.cache_clear()
