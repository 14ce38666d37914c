"""The office's paper: the monthly 简报 upward and the 通报 draft, as .docx (python-docx).

Pure layout: every figure arrives computed (``chalicelib.services.office_reports``); nothing here
counts. Fonts follow the usual government document look (方正小标宋/黑体 headings, 仿宋 body); Word
and LibreOffice substitute what the machine has.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NOT_TRACKED = "—"  # a figure the system does not hold yet (see MonthlyBrief.problem_note)


@dataclass(frozen=True)
class DeadlineSummary:
    name: str
    due: str  # 2023年6月20日
    on_time: Sequence[str]
    late: Sequence[str]
    not_delivered: Sequence[str]  # missing, rejected or incomplete, each with its reason in brackets


@dataclass(frozen=True)
class ProblemLine:
    label: str  # an aspect or a unit
    new: int
    done: int | None
    closed: int | None
    overdue: int


@dataclass(frozen=True)
class MonthlyBrief:
    office_name: str
    campaign_name: str
    period_title: str  # 2023年6月
    issued_on: str  # 2023年6月30日
    unit_count: int
    deadlines: Sequence[DeadlineSummary]
    by_aspect: Sequence[ProblemLine]
    by_unit: Sequence[ProblemLine]
    new_total: int
    overdue_total: int
    case_titles: Sequence[tuple[str, str]]  # (unit, title)
    problem_note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CircularLine:
    unit: str
    state: str  # 逾期报送 / 未报送 / 未通过核验 / 材料不完整
    days_overdue: int
    detail: str


@dataclass(frozen=True)
class Circular:
    office_name: str
    campaign_name: str
    as_of_title: str
    sections: Sequence[tuple[str, str, Sequence[CircularLine]]]  # (deadline name, due date, lines)


def _document() -> Any:
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    style = document.styles["Normal"]
    style.font.name = "仿宋"
    style.font.size = Pt(16)  # 三号
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "仿宋")
    for name, font in (("Title", "方正小标宋简体"), ("Heading 1", "黑体"), ("Heading 2", "楷体")):
        heading = document.styles[name]
        heading.font.name = font
        heading.element.rPr.rFonts.set(qn("w:eastAsia"), font)
    return document


def _centred(document: Any, text: str, style: str | None = None) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    paragraph = document.add_paragraph(text, style=style)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _table(document: Any, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, label in zip(table.rows[0].cells, header, strict=True):
        cell.text = label
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.text = NOT_TRACKED if value is None else str(value)


def _names(names: Sequence[str]) -> str:
    return "、".join(names) if names else "无"


def monthly_docx(brief: MonthlyBrief) -> bytes:
    document = _document()
    _centred(document, f"{brief.campaign_name}工作简报", "Title")
    _centred(document, f"（{brief.period_title}）")
    _centred(document, f"{brief.office_name}　　{brief.issued_on}")

    document.add_heading("一、本月总体情况", level=1)
    for d in brief.deadlines:
        document.add_paragraph(
            f"{d.name}（{d.due}截止）：应报{brief.unit_count}个单位，按时报送{len(d.on_time)}个，"
            f"逾期报送{len(d.late)}个，未报送或未通过{len(d.not_delivered)}个。"
        )
        document.add_paragraph(f"按时报送：{_names(d.on_time)}。")
        document.add_paragraph(f"逾期报送：{_names(d.late)}。")
        document.add_paragraph(f"未报送或未通过：{_names(d.not_delivered)}。")
    if not brief.deadlines:
        document.add_paragraph("本月无到期的报送任务。")

    document.add_heading("二、问题整改情况", level=1)
    document.add_paragraph(
        f"本月各单位新报送问题{brief.new_total}个，其中已超过完成时限的{brief.overdue_total}个。"
        + (f"{brief.problem_note}" if brief.problem_note else "")
    )
    header = ("", "新增", "已完成", "已销号", "超期")
    document.add_heading("（一）按问题方面", level=2)
    _table(
        document, ("问题方面", *header[1:]), [(p.label, p.new, p.done, p.closed, p.overdue) for p in brief.by_aspect]
    )
    document.add_heading("（二）按填报单位", level=2)
    _table(document, ("填报单位", *header[1:]), [(p.label, p.new, p.done, p.closed, p.overdue) for p in brief.by_unit])

    document.add_heading("三、典型案例", level=1)
    if brief.case_titles:
        for n, (unit, title) in enumerate(brief.case_titles, 1):
            document.add_paragraph(f"{n}. {unit}：{title}")
    else:
        document.add_paragraph("本月暂无报送的典型案例。")

    document.add_heading("四、下一步工作", level=1)
    document.add_paragraph("【此处由办公室填写下一步工作安排】")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def circular_docx(circular: Circular) -> bytes:
    document = _document()
    _centred(document, "【草稿】", None)
    _centred(document, f"关于{circular.campaign_name}材料报送情况的通报", "Title")
    document.add_paragraph("各县（市、区）交通运输局，五台山风景区交通运输局：")
    document.add_paragraph(
        f"截至{circular.as_of_title}，{circular.campaign_name}各项材料报送情况如下。对逾期或未报送的单位予以通报，"
        "请相关单位高度重视，立即补报，并于【 】日前向市局专项整治工作办公室说明原因。"
    )
    if not circular.sections:
        document.add_paragraph("截至上述日期，各单位均已按时报送，无需通报的情况。")
    for n, (name, due, lines) in enumerate(circular.sections, 1):
        document.add_heading(f"{_ordinal(n)}、{name}（{due}截止）", level=1)
        _table(
            document,
            ("序号", "单位", "情况", "逾期天数", "说明"),
            [(i, line.unit, line.state, line.days_overdue, line.detail) for i, line in enumerate(lines, 1)],
        )
    document.add_paragraph("")
    document.add_paragraph(circular.office_name)
    document.add_paragraph("【日期、签发人由办公室填写；本通报由系统生成草稿，经审定后方可印发。】")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _ordinal(n: int) -> str:
    digits = "一二三四五六七八九十"
    return digits[n - 1] if n <= 10 else str(n)
