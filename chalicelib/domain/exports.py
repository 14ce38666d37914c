"""The ledger as an Excel file in the layout of attachment 2, as an office forwards it upward:
one sheet per period, a 填报单位 column first, the two header rows with merged group cells.

Cells are written as text. Text that begins with = + - @ (or a tab / carriage return) is also
marked with Excel's quote prefix, so nothing a county typed can run as a formula when the file is
opened or a cell is edited (CSV/formula injection).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import groupby

from chalicelib.domain.deadlines import period_label
from chalicelib.domain.ledger import LedgerRow

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# (field id, label) in attachment 2's order, under its three group headings.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("unit", "填报单位"),
    ("seq", "序号"),
    ("aspect", "问题方面"),
    ("symptom", "问题表现"),
    ("cause", "原因剖析"),
    ("measure", "整改措施"),
    ("deadline", "完成时限"),
    ("deliverable_form", "成果形式"),
    ("owner_unit", "责任单位"),
    ("contact", "联系人"),
    ("note", "备注"),
)
GROUPS = (("问题清单", 3, 4), ("任务清单", 5, 7), ("责任清单", 8, 9))  # first and last column index
SINGLE = (0, 1, 2, 10)  # columns whose label spans both header rows
WIDTHS = (12, 6, 16, 40, 30, 40, 12, 18, 16, 12, 14)


def is_dangerous(text: str) -> bool:
    return text.startswith(DANGEROUS_PREFIXES)


def _cell_text(row: LedgerRow, field: str) -> str:
    value = row.unit_name if field == "unit" else row.fields.get(field, "")
    return "" if value is None else str(value)


def ledger_workbook(rows: Sequence[LedgerRow], title: str) -> bytes:
    import xlsxwriter  # loaded only for an export

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    heading = workbook.add_format(
        {"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True}
    )
    text = workbook.add_format({"valign": "top", "border": 1, "text_wrap": True})
    quoted = workbook.add_format({"valign": "top", "border": 1, "text_wrap": True, "quote_prefix": True})
    title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})

    by_period = groupby(sorted(rows, key=lambda r: r.period), key=lambda r: r.period)
    periods = [(period, list(group)) for period, group in by_period] or [("", [])]
    for period, period_rows in periods:
        sheet = workbook.add_worksheet(period_label(period)[:31] if period else "台账")
        last = len(COLUMNS) - 1
        sheet.merge_range(0, 0, 0, last, title, title_format)
        sheet.merge_range(1, 0, 1, last, f"（{period_label(period)}）" if period else "", title_format)
        for index in SINGLE:
            sheet.merge_range(2, index, 3, index, COLUMNS[index][1], heading)
        for label, first, end in GROUPS:
            sheet.merge_range(2, first, 2, end, label, heading)
            for index in range(first, end + 1):
                sheet.write_string(3, index, COLUMNS[index][1], heading)
        for index, width in enumerate(WIDTHS):
            sheet.set_column(index, index, width)
        for offset, row in enumerate(period_rows):
            for index, (field, _) in enumerate(COLUMNS):
                value = _cell_text(row, field)
                sheet.write_string(4 + offset, index, value, quoted if is_dangerous(value) else text)
        sheet.freeze_panes(4, 0)
    workbook.close()
    return buffer.getvalue()
