"""Narrative reports (自查报告, 工作推进情况, 总结报告, 专题说明, 典型案例 as .docx): checked as far as
a machine honestly can: the required sections are there, the text is not trivially short.

A PDF is usually a stamped scan: it is received for a person to read, with its page count and
whether it has a text layer; when it has one, missing sections are reported as warnings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from chalicelib.data import REPORT_TEMPLATE_DIR as _REPORT_TEMPLATE_DIR
from chalicelib.domain.findings import Finding, SubmissionStatus
from chalicelib.domain.reports.documents import DocumentError, read_document
from chalicelib.domain.reports.sections import SectionSpec, match_sections
from chalicelib.domain.schemas import validator
from chalicelib.domain.tables.safety import check_container

TEMPLATE_DIR = _REPORT_TEMPLATE_DIR


@dataclass(frozen=True)
class ReportTemplate:
    deliverable: str
    name: str
    min_chars: int
    sections: tuple[SectionSpec, ...]
    repeatable: bool = False
    # The notice prescribes no headings for 工作推进情况 and the 专题说明: a topic is found by its words
    # anywhere in the text, and a missing one is a warning.
    headings_prescribed: bool = True
    nothing_to_report: re.Pattern[str] | None = None  # 本月无典型案例: a valid answer with nothing in it


@dataclass(frozen=True)
class ReportVerdict:
    status: SubmissionStatus | str
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    # For repeatable templates (typical cases): one row per complete set of sections.
    rows: tuple[dict[str, Any], ...] = ()


def has_report_template(deliverable_id: str) -> bool:
    return (TEMPLATE_DIR / f"{deliverable_id}.json").is_file()


@cache
def report_template(deliverable_id: str) -> ReportTemplate:
    raw = json.loads((TEMPLATE_DIR / f"{deliverable_id}.json").read_text(encoding="utf-8"))
    validator("report-template").validate(raw)
    return ReportTemplate(
        deliverable=raw["deliverable"],
        name=raw["name"],
        min_chars=raw["min_chars"],
        repeatable=raw.get("repeatable", False),
        sections=tuple(SectionSpec(s["id"], s["title"], tuple(s["variants"])) for s in raw["sections"]),
        headings_prescribed=raw.get("headings_prescribed", True),
        nothing_to_report=re.compile(raw["nothing_to_report"]) if "nothing_to_report" in raw else None,
    )


def _missing_findings(
    code: str, template: ReportTemplate, missing: list[SectionSpec], headings: tuple[str, ...], file_name: str
) -> tuple[Finding, ...]:
    required = "；".join(s.title for s in template.sections)
    seen = "；".join(headings[:12]) or "（未识别到任何标题）"
    return tuple(
        Finding(
            code,
            f"文件“{file_name}”缺少“{spec.title}”部分。{template.name}应包含：{required}。"
            f"系统识别到的标题：{seen}。请按“一、{spec.title}”的形式补充该部分标题和内容后重新上传。",
            section=spec.title,
        )
        for spec in missing
    )


def _topic_findings(template: ReportTemplate, missing: list[SectionSpec], file_name: str) -> tuple[Finding, ...]:
    return tuple(
        Finding(
            "REPORT_TOPIC_NOT_FOUND",
            f"文件“{file_name}”中未看到“{spec.title}”的内容，已接收；如本期确有相关情况，请在{template.name}中补充说明。",
            section=spec.title,
        )
        for spec in missing
    )


def validate_report(data: bytes, file_name: str, deliverable_id: str) -> ReportVerdict:
    template = report_template(deliverable_id)
    extension = file_name.rsplit(".", 1)[-1].lower()
    # The spreadsheets' gate first: a .docx is a zip too (bombs, encrypted packages, truncation, emptiness).
    refused = check_container(data, file_name)
    if refused:
        return ReportVerdict(SubmissionStatus.REJECTED, errors=tuple(refused))
    try:
        document = read_document(data, extension)
    except DocumentError:
        return ReportVerdict(
            SubmissionStatus.REJECTED,
            errors=(
                Finding(
                    "UNREADABLE_FILE",
                    f"系统无法读取文件“{file_name}”，文件可能已损坏、加密或与扩展名不符。"
                    "请用 Word 或 WPS 打开确认无误后另存为 .docx（或导出 PDF）重新上传。",
                ),
            ),
        )
    match = match_sections(document, template.sections)
    missing = match.missing(template.sections)
    text = "".join("".join(p.text.split()) for p in document.paragraphs)
    if not template.headings_prescribed:
        # No headings prescribed: a topic is covered when its words are anywhere in the text.
        missing = [spec for spec in missing if not any(v in text for v in spec.variants)]
    details: dict[str, Any] = {
        "sections_found": [s.title for s in template.sections if match.counts.get(s.id)],
        "headings": list(match.headings[:50]),
        "body_chars": match.body_chars,
    }
    rows: tuple[dict[str, Any], ...] = ()
    if template.repeatable:
        ids = [s.id for s in template.sections]
        rows = tuple(
            {"section_item": n, **item} for n, item in enumerate(match.items, 1) if all(i in item for i in ids)
        )
        details["items"] = len(rows)

    if extension == "pdf":
        details.update(pages=document.pages, has_text_layer=document.has_text)
        if not document.has_text:
            note = Finding(
                "PDF_NO_TEXT_LAYER",
                f"“{file_name}”为扫描件（共{document.pages}页，无文字层），已接收，将由市局工作人员人工审阅。",
            )
            return ReportVerdict(SubmissionStatus.RECEIVED_FOR_REVIEW, warnings=(note,), details=details)
        not_found = _missing_findings("REPORT_SECTION_NOT_FOUND", template, missing, match.headings, file_name)
        return ReportVerdict(SubmissionStatus.RECEIVED_FOR_REVIEW, warnings=not_found, details=details)

    if missing and template.nothing_to_report is not None and template.nothing_to_report.search(text):
        details["nothing_to_report"] = True  # 本月无典型案例: the month's answer
        return ReportVerdict(SubmissionStatus.ACCEPTED, details=details)
    if missing and not template.headings_prescribed:
        topics = _topic_findings(template, missing, file_name)
        return ReportVerdict(SubmissionStatus.ACCEPTED, warnings=topics, details=details, rows=rows)
    if missing:
        errors = _missing_findings("REPORT_SECTION_MISSING", template, missing, match.headings, file_name)
        return ReportVerdict(SubmissionStatus.REJECTED, errors=errors, details=details)
    warnings: tuple[Finding, ...] = ()
    if match.body_chars < template.min_chars:
        warnings = (
            Finding(
                "REPORT_TOO_SHORT",
                f"“{file_name}”正文仅约{match.body_chars}字，少于{template.min_chars}字，内容可能过于简略，"
                "请确认是否“见人见事、明确具体”。",
            ),
        )
    return ReportVerdict(SubmissionStatus.ACCEPTED, warnings=warnings, details=details, rows=rows)
