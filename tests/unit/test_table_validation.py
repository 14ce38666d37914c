"""Every committed fixture (made by LibreOffice, see fixtures/tables/make_fixtures.py) through validate_table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.domain.receipts import Finding
from chalicelib.domain.schemas import validator
from chalicelib.domain.tables import TableVerdict, validate_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tables"
YUANPING = ("原平市", "原平")
SHEET = "2023年新问题"


def run(name: str, template_id: str, unit_names: tuple[str, ...] = YUANPING) -> TableVerdict:
    return validate_table((FIXTURES / name).read_bytes(), name, template_id, unit_names=unit_names)


def codes(findings: tuple[Finding, ...]) -> list[tuple[str, int | None, str | None]]:
    return [(f.code, f.row, f.column) for f in findings]


@pytest.mark.parametrize(
    "name", ["issue-list-good.xlsx", "issue-list-good.xls", "issue-list-gb18030.csv", "issue-list-utf8-bom.csv"]
)
def test_good_issue_list_in_every_format(name: str) -> None:
    verdict = run(name, "issue-list")
    assert verdict.errors == ()
    # Only .xlsx tells which rows are hidden (calamine reads no visibility; csv has none).
    hidden = [("HIDDEN_ROW", 11, None)] if name.endswith(".xlsx") else []
    assert codes(verdict.warnings) == hidden
    assert verdict.accepted
    # Rows 7-11 as Excel shows them; row 11 is hidden, row 12 blank, row 13 an unused numbered template row.
    assert [r["row"] for r in verdict.rows] == [7, 8, 9, 10, 11]
    assert [r["seq"] for r in verdict.rows] == [1, 2, 3, 4, 5]
    # B7:B9 is merged in the xlsx/xls; the csv has it once and the rest empty: all three inherit it.
    assert [r["aspect"] for r in verdict.rows] == ["“逐利执法”问题"] * 3 + ["执法不规范问题", "执法粗暴问题"]
    # A real date cell, 2023年8月31日, 长期坚持, an Excel serial (45169), 2023/9/30.
    assert [r["deadline"] for r in verdict.rows] == ["2023-06-30", "2023-08-31", "长期坚持", "2023-08-31", "2023-09-30"]
    assert [r["long_term"] for r in verdict.rows] == [False, False, True, False, False]
    # Full-width digits in 赵六 138１２３４５６７８ are a valid number once NFKC-normalised.
    assert [r["contact_phone"] for r in verdict.rows] == [
        "13812345678",
        "0350-1234567",
        None,
        "13812345678",
        "13912345678",
    ]
    assert verdict.rows[1]["contact"] == "李四 0350-1234567"
    assert verdict.header == {
        "filled_on": "2023-05-18",
        "unit": "原平市交通运输局",
        "reviewer": "刘七",
        "contact": "张三",
        "phone": "0350-1234567",
    }


def test_sheet_name_is_the_workbook_tab_or_the_csv_file_name() -> None:
    assert {r["sheet"] for r in run("issue-list-good.xlsx", "issue-list").rows} == {SHEET}
    assert {r["sheet"] for r in run("issue-list-gb18030.csv", "issue-list").rows} == {"issue-list-gb18030"}


def test_gb18030_fixture_really_is_gb18030() -> None:
    data = (FIXTURES / "issue-list-gb18030.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "问题表现" in data.decode("gb18030")
    assert (FIXTURES / "issue-list-utf8-bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_rows_match_the_row_schema() -> None:
    for row in run("issue-list-good.xlsx", "issue-list").rows:
        assert list(validator("issue-row").iter_errors(row)) == []


def test_issue_list_with_errors() -> None:
    verdict = run("issue-list-errors.xlsx", "issue-list")
    assert not verdict.accepted
    assert codes(verdict.errors) == [
        ("UNIT_MISMATCH", 4, "填报单位"),  # another unit's file: said first
        ("DEADLINE_INVALID", 7, "完成时限"),
        ("ASPECT_UNKNOWN", 8, "问题方面"),
        ("REQUIRED_EMPTY", 9, "整改措施"),
        ("PHONE_INVALID", 10, "联系人"),
        ("PHONE_INVALID", 16, "联系电话"),
    ]
    assert codes(verdict.warnings) == [
        ("DEADLINE_OUTSIDE_YEAR", 11, "完成时限"),
        ("SEQ_NOT_SEQUENTIAL", 11, "序号"),
        ("TEXT_TOO_SHORT", 11, "问题表现"),
        ("DUPLICATE_TEXT", 12, "问题表现"),
    ]
    assert all(f.sheet == SHEET for f in verdict.errors + verdict.warnings)
    messages = {f.code + str(f.row): f.message for f in verdict.errors + verdict.warnings}
    assert messages["DEADLINE_INVALID7"] == "“待定”无法识别为日期，请填写如 2023-06-30 或“长期坚持”。"
    assert verdict.errors[1].located() == (
        "工作表“2023年新问题”第7行【完成时限】：“待定”无法识别为日期，请填写如 2023-06-30 或“长期坚持”。"
    )
    assert "“乱收费问题”不是本模板列明的问题方面" in messages["ASPECT_UNKNOWN8"]
    assert "“逐利执法”问题" in messages["ASPECT_UNKNOWN8"]
    assert messages["REQUIRED_EMPTY9"] == "未填写，请填写整改措施。"
    assert "“1381234567”不是有效的电话号码" in messages["PHONE_INVALID10"]
    assert "“12345”不是有效的电话号码" in messages["PHONE_INVALID16"]
    assert "“宁武县交通运输局”与上传单位（原平市）不一致" in messages["UNIT_MISMATCH4"]
    assert "按顺序应为 5" in messages["SEQ_NOT_SEQUENTIAL11"]
    assert "与第7行内容完全相同" in messages["DUPLICATE_TEXT12"]
    # Rows with warnings only are still normalised and returned; rows with errors are not.
    assert [r["row"] for r in verdict.rows] == [11, 12]


def test_unit_check_is_skipped_without_unit_names() -> None:
    verdict = run("issue-list-errors.xlsx", "issue-list", unit_names=())
    assert "UNIT_MISMATCH" not in [f.code for f in verdict.errors]


def test_unit_names_of_another_unit_reject_the_good_file() -> None:
    verdict = run("issue-list-good.xlsx", "issue-list", unit_names=("宁武县", "宁武"))
    assert codes(verdict.errors) == [("UNIT_MISMATCH", 4, "填报单位")]
    assert not verdict.accepted


def test_legacy_issue_list() -> None:
    verdict = run("legacy-issue-list.xlsx", "legacy-issue-list")
    assert verdict.accepted, verdict.errors
    assert verdict.warnings == ()
    assert [r["row"] for r in verdict.rows] == [6, 7, 8]
    assert [r["aspect"] for r in verdict.rows] == ["以人民为中心的执法理念树立不牢", "趋利性执法问题", "选择性执法问题"]
    assert [r["completed"] for r in verdict.rows] == [True, False, True]
    assert verdict.header["unit"] == "原平市"
    assert verdict.header["phone"] == "13812345678"


def test_attachment_3_uploaded_as_attachment_2_is_the_wrong_template() -> None:
    verdict = run("legacy-issue-list.xlsx", "issue-list")
    assert not verdict.accepted
    assert verdict.rows == ()
    assert codes(verdict.errors) == [("WRONG_TEMPLATE", 5, None)]
    message = verdict.errors[0].message
    assert "附件3" in message
    assert "本次应上传“附件2 专项整治事项清单（2023年新问题）”" in message


def test_attachment_2_uploaded_as_attachment_3_is_the_wrong_template() -> None:
    verdict = run("issue-list-good.xlsx", "legacy-issue-list")
    assert [f.code for f in verdict.errors] == ["WRONG_TEMPLATE"]
    assert "本次应上传“附件3" in verdict.errors[0].message


def test_json_upload() -> None:
    verdict = run("issue-list.json", "issue-list")
    assert verdict.accepted, verdict.errors
    assert [r["row"] for r in verdict.rows] == [1, 2]
    assert verdict.rows[0]["aspect"] == "“逐利执法”问题"
    assert verdict.rows[1]["deadline"] == "长期坚持"
    assert verdict.header["unit"] == "原平市"
    assert verdict.header["filled_on"] == "2023-05-18"


def test_contacts() -> None:
    verdict = run("contacts.xlsx", "contacts")
    assert verdict.accepted, verdict.errors
    # 原平市 is merged over both rows; "139 3501 0002" is normalised.
    assert [(r["row"], r["unit"], r["role"], r["name"], r["mobile"]) for r in verdict.rows] == [
        (3, "原平市", "分管领导", "王建国", "13935010001"),
        (4, "原平市", "联络员", "李明", "13935010002"),
    ]


def test_typical_cases() -> None:
    verdict = run("typical-case.xlsx", "typical-case")
    assert verdict.accepted, verdict.errors
    assert [r["title"] for r in verdict.rows] == ["清理罚没指标 回归执法本位", "拆除违规电子眼", "首违不罚暖人心"]
    assert [r["row"] for r in verdict.rows] == [4, 5, 6]
    assert codes(verdict.warnings) == [("FILLED_ON_MISSING", None, None)]


def test_every_finding_is_coded_and_chinese() -> None:
    for name, template_id in [
        ("issue-list-errors.xlsx", "issue-list"),
        ("legacy-issue-list.xlsx", "issue-list"),
        ("typical-case.xlsx", "typical-case"),
    ]:
        verdict = run(name, template_id)
        for finding in verdict.errors + verdict.warnings:
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", finding.code)
            assert re.search(r"[\u4e00-\u9fff]", finding.message)
            assert finding.message.endswith("。")
