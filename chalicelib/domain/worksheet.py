"""The pre-filled next-month list (issue 15): attachment 2's layout with the unit's unfinished and done
problems already in it, plus 问题编号 and 整改进展, so the clerk updates rows instead of retyping them.

An upload of the worksheet passes the same checker as any list (the two columns are optional columns
of ``chalicelib/data/templates/issue-list.json``) and ``chalicelib.domain.problems.reconcile`` matches
its rows by 问题编号, exactly. Cells are written as text, with Excel's quote prefix for text that
would otherwise start a formula (as ``chalicelib.domain.exports`` does).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from chalicelib.domain.deadlines import period_label
from chalicelib.domain.exports import is_dangerous
from chalicelib.domain.problems import ISSUE_LIST, STATUS_LABELS, Problem, ProblemStatus, id_order

# (field, label) in the worksheet's order; 问题编号 first so it is the row's handle, 整改进展 before 备注.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("problem_id", "问题编号"),
    ("seq", "序号"),
    ("aspect", "问题方面"),
    ("symptom", "问题表现"),
    ("cause", "原因剖析"),
    ("measure", "整改措施"),
    ("deadline", "完成时限"),
    ("deliverable_form", "成果形式"),
    ("owner_unit", "责任单位"),
    ("contact", "联系人"),
    ("progress", "整改进展"),
    ("note", "备注"),
)
GROUPS = (("问题清单", 3, 4), ("任务清单", 5, 7), ("责任清单", 8, 9))  # first and last column index
SINGLE = (0, 1, 2, 10, 11)  # labels merged over both header rows
WIDTHS = (20, 6, 16, 40, 30, 40, 14, 16, 16, 16, 14, 16)
BLANK_ROWS = 5  # bordered empty rows under the problems, for new ones
PROGRESS_CHOICES = ("整改中", "已完成", "长期坚持")
# What the worksheet offers: every problem of the 2023 list not yet closed (销号) by the office.
OFFERED = frozenset({ProblemStatus.OPEN, ProblemStatus.DONE, ProblemStatus.LONG_TERM, ProblemStatus.REOPENED})
TITLE = "全省道路交通安全和运输执法领域突出问题专项整治事项清单"
HINT = (
    "填写说明：本表已预填本单位尚未销号的问题，请逐行更新“整改进展”（整改中 / 已完成 / 长期坚持）和相关内容，"
    "不要修改或删除“问题编号”；新发现的问题请在下方空行填写，“问题编号”留空。"
)


def progress_text(problem: Problem) -> str:
    """What the 整改进展 cell starts with: the status in words the progress rule reads back the same."""
    if problem.status is ProblemStatus.REOPENED:
        return "整改中（问题反弹）"
    return STATUS_LABELS[problem.status]


def worksheet_problems(problems: Iterable[Problem]) -> list[Problem]:
    """The 2023-list problems the worksheet carries, in id order (first period, then sequence)."""
    return sorted(
        (p for p in problems if p.deliverable == ISSUE_LIST and p.status in OFFERED), key=lambda p: id_order(p.id)
    )


def worksheet_file_name(unit_name: str, period: str) -> str:
    return f"{unit_name}{period_label(period)}专项整治事项清单（预填）.xlsx"


def _cells(problem: Problem, seq: int) -> list[str]:
    fields = problem.fields
    values = {key: "" if fields.get(key) is None else str(fields.get(key)) for key, _ in COLUMNS}
    values.update(problem_id=problem.id, seq=str(seq), progress=progress_text(problem))
    return [values[key] for key, _ in COLUMNS]


def issue_list_worksheet(problems: Sequence[Problem], unit_name: str, period: str) -> bytes:
    """The .xlsx for ``unit_name`` to fill in for ``period``; ``problems`` as ``worksheet_problems`` picks them."""
    import xlsxwriter  # loaded only for a download

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    heading = workbook.add_format(
        {"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True}
    )
    text = workbook.add_format({"valign": "top", "border": 1, "text_wrap": True})
    quoted = workbook.add_format({"valign": "top", "border": 1, "text_wrap": True, "quote_prefix": True})
    locked_id = workbook.add_format({"valign": "top", "border": 1, "bg_color": "#EEEEEE"})
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
    hint_format = workbook.add_format({"italic": True, "font_color": "#555555", "text_wrap": True})

    sheet = workbook.add_worksheet("2023年新问题")
    last = len(COLUMNS) - 1
    sheet.merge_range(0, 0, 0, last, TITLE, title_format)
    sheet.merge_range(1, 0, 1, last, f"（2023年新问题 · {period_label(period)}）", title_format)
    sheet.write_string(2, 0, "填报时间：    年  月  日")
    sheet.write_string(2, 6, f"填报单位（盖章）：{unit_name}")
    for index in SINGLE:
        sheet.merge_range(3, index, 4, index, COLUMNS[index][1], heading)
    for label, first, end in GROUPS:
        sheet.merge_range(3, first, 3, end, label, heading)
        for index in range(first, end + 1):
            sheet.write_string(4, index, COLUMNS[index][1], heading)
    for index, width in enumerate(WIDTHS):
        sheet.set_column(index, index, width)

    first_data = 5
    for offset, problem in enumerate(problems):
        for index, value in enumerate(_cells(problem, offset + 1)):
            cell_format = locked_id if index == 0 else quoted if is_dangerous(value) else text
            sheet.write_string(first_data + offset, index, value, cell_format)
    end = first_data + len(problems) + BLANK_ROWS
    for r in range(first_data + len(problems), end):
        for index in range(len(COLUMNS)):
            sheet.write_blank(r, index, None, text)
    progress_column = next(i for i, (key, _) in enumerate(COLUMNS) if key == "progress")
    # A choice list that still takes free text (已完成90%, 阶段性完成): the progress rule reads either.
    sheet.data_validation(
        first_data,
        progress_column,
        end - 1,
        progress_column,
        {"validate": "list", "source": list(PROGRESS_CHOICES), "show_error": False},
    )
    sheet.write_string(end + 1, 0, "审核人：")
    sheet.write_string(end + 1, 3, "联系人：")
    sheet.write_string(end + 1, 6, "联系电话：")
    sheet.merge_range(end + 3, 0, end + 3, last, HINT, hint_format)
    sheet.set_row(end + 3, 36)
    sheet.freeze_panes(first_data, 0)
    workbook.close()
    return buffer.getvalue()
