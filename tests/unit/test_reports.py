"""Narrative reports, read from files a word processor made (tests/fixtures/reports)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain.reports import validate_report
from chalicelib.domain.reports.sections import heading_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


def _check(name: str, deliverable: str):
    return validate_report((FIXTURES / name).read_bytes(), name, deliverable)


@pytest.mark.parametrize(
    ("written", "bare"),
    [
        ("一、动员部署情况", "动员部署情况"),
        ("（一）动员部署", "动员部署"),
        ("(二)主要做法和取得的成效：", "主要做法和取得的成效"),
        ("1.动员部署", "动员部署"),
        ("1、动员部署", "动员部署"),
        ("第一部分 动员部署", "动员部署"),
        ("一、（一）存在的问题及原因。", "存在的问题及原因"),
        ("2023年工作开展情况", "2023年工作开展情况"),
    ],
)
def test_heading_numbering_is_removed(written: str, bare: str) -> None:
    import unicodedata

    assert heading_text(unicodedata.normalize("NFKC", written))[0] == bare


def test_a_complete_self_inspection_report_is_accepted() -> None:
    verdict = _check("self-check-complete.docx", "self-check-report")
    assert verdict.status == "accepted" and not verdict.errors
    assert verdict.details["sections_found"] == [
        "动员部署",
        "主要做法和取得的成效",
        "存在的问题及原因",
        "整改措施及建议",
    ]


def test_a_missing_section_is_named_with_the_headings_found() -> None:
    verdict = _check("self-check-missing-section.docx", "self-check-report")
    assert verdict.status == "rejected"
    [error] = verdict.errors
    assert (error.code, error.section) == ("REPORT_SECTION_MISSING", "存在的问题及原因")
    assert "系统识别到的标题：" in error.message and "一、动员部署情况" in error.message
    assert "self-check-missing-section.docx" in error.message


def test_numbered_bold_paragraphs_count_as_headings() -> None:
    verdict = _check("progress-numbered-paragraphs.docx", "progress-report")
    assert verdict.status == "accepted"
    assert verdict.details["headings"][-3:] == ["(一)本月工作开展情况", "(二)存在的问题", "(三)下一步工作打算"]


def test_a_pdf_with_text_is_received_for_review_and_section_checked() -> None:
    verdict = _check("self-check-text-layer.pdf", "self-check-report")
    assert verdict.status == "received-for-review"
    assert verdict.details["has_text_layer"] is True and verdict.details["pages"] >= 1
    assert not verdict.warnings  # all four sections are there


def test_a_scanned_pdf_is_received_for_a_person_to_read() -> None:
    verdict = _check("self-check-scan.pdf", "self-check-report")
    assert verdict.status == "received-for-review"
    assert verdict.details["has_text_layer"] is False
    assert [w.code for w in verdict.warnings] == ["PDF_NO_TEXT_LAYER"]


def test_three_typical_cases_in_one_docx_become_three_rows() -> None:
    verdict = _check("typical-cases-3.docx", "typical-case")
    assert verdict.status == "accepted"
    assert len(verdict.rows) == 3 and verdict.details["items"] == 3
    assert verdict.rows[1]["facts"].startswith("第2个案例")
    assert set(verdict.rows[0]) >= {"facts", "measures", "effect", "comment"}


def test_plain_text_and_markdown_get_the_same_check() -> None:
    text = "# 总结报告\n\n## 一、专项整治工作开展情况\n开展了……\n## 二、工作成效\n成效……\n## 三、主要问题\n问题……\n"
    verdict = validate_report(text.encode(), "总结.md", "summary-report")
    assert verdict.status == "rejected"
    assert [e.section for e in verdict.errors] == ["有关建议"]
    gbk = "一、追责问责情况\n无。\n二、容错免责情况\n无。\n".encode("gb18030")
    assert validate_report(gbk, "说明.txt", "accountability-statement").status == "accepted"


def test_a_short_report_gets_a_warning_not_a_rejection() -> None:
    text = (
        "一、动员部署\n开会。\n二、主要做法和取得的成效\n有。\n三、存在的问题及原因\n无。\n四、整改措施及建议\n无。\n"
    )
    verdict = validate_report(text.encode(), "自查.txt", "self-check-report")
    assert verdict.status == "accepted"
    assert [w.code for w in verdict.warnings] == ["REPORT_TOO_SHORT"]


@pytest.mark.parametrize(
    ("name", "data"),
    [("坏.docx", b"PK\x03\x04 truncated"), ("坏.pdf", b"%PDF-1.7 broken"), ("坏.txt", b"\xff\xfe\x00\xd8 \x81")],
)
def test_unreadable_documents_are_rejected_with_advice(name: str, data: bytes) -> None:
    verdict = validate_report(data, name, "self-check-report")
    assert verdict.status == "rejected"
    assert verdict.errors[0].code == "UNREADABLE_FILE" and name in verdict.errors[0].message


# --- issue 14: the notice prescribes no headings for 工作推进情况 and the 专题说明 ------------------------

ONE_PARAGRAPH = {
    "accountability-statement": "专项整治期间对重复处罚的中队负责人追责问责，诫勉谈话1人；对新业态执法探索中出现失误、"
    "未谋取私利的2名执法人员经集体研究容错免责，激励干部担当作为。" * 2,
    "progress-report": "本月复核罚款案件136件，纠正不规范案件9件，取消固定检查点2处，召开警示教育会议2次，"
    "受理投诉11件均按期办结，下一步继续推进制度建设。" * 3,
}


@pytest.mark.parametrize("deliverable", sorted(ONE_PARAGRAPH))
def test_a_one_paragraph_statement_is_accepted(deliverable: str) -> None:
    verdict = validate_report(ONE_PARAGRAPH[deliverable].encode(), "说明.txt", deliverable)
    assert verdict.status == "accepted" and verdict.errors == ()


def test_a_missing_topic_is_a_warning_where_no_heading_is_prescribed() -> None:
    text = "专项整治期间对重复处罚的中队负责人追责问责，诫勉谈话1人，调离执法岗位1人，通报批评2人。" * 3
    verdict = validate_report(text.encode(), "说明.txt", "accountability-statement")
    assert verdict.status == "accepted"
    assert [(w.code, w.section) for w in verdict.warnings] == [("REPORT_TOPIC_NOT_FOUND", "容错免责情况")]


def test_the_self_check_report_keeps_its_prescribed_sections() -> None:
    verdict = validate_report(ONE_PARAGRAPH["progress-report"].encode(), "自查.txt", "self-check-report")
    assert verdict.status == "rejected"


@pytest.mark.parametrize("note", ["本月无典型案例。", "本月暂无典型案例", "繁峙县交通运输局：6月无典型案例"])
def test_no_typical_case_this_month_is_a_valid_case_document(note: str) -> None:
    verdict = validate_report(note.encode(), "典型案例.txt", "typical-case")
    assert verdict.status == "accepted" and verdict.rows == () and verdict.details["nothing_to_report"] is True
