"""The ledger as an Excel file in the layout of attachment 2, as an office forwards it upward:
one sheet per period, a 填报单位 column first, the two header rows with merged group cells.

Cells are written as text, except 序号 (a number); every sheet is set up to print (``print_setup``).
Text that begins with = + - @ (or a tab / carriage return) is also
marked with Excel's quote prefix, so nothing a county typed can run as a formula when the file is
opened or a cell is edited (CSV/formula injection).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from itertools import chain, groupby

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
    # Issue 15 (对账销号): which problem the row is and how far it got, after attachment 2's own columns.
    ("problem_id", "问题编号"),
    ("problem_status_label", "整改状态"),
)
GROUPS = (("问题清单", 3, 4), ("任务清单", 5, 7), ("责任清单", 8, 9))  # first and last column index
SINGLE = (0, 1, 2, 10, 11, 12)  # columns whose label spans both header rows
WIDTHS = (12, 6, 16, 40, 30, 40, 12, 18, 16, 12, 14, 20, 10)


def is_dangerous(text: str) -> bool:
    return text.startswith(DANGEROUS_PREFIXES)


def _cell_text(row: LedgerRow, field: str) -> str:
    value = row.unit_name if field == "unit" else row.fields.get(field, "")
    return "" if value is None else str(value)


TITLE_ROWS = 4  # title, subtitle, 填报单位 / 填报时间, then the two header rows
HEADER_FIRST, HEADER_LAST = 3, 4
A4 = 9  # xlsxwriter's paper code
LINE_POINTS = 14.5  # one line of 10.5 pt text (SimSun / Noto CJK) with leading


def summary_title(print_title: Sequence[str]) -> tuple[str, str]:
    """The attachment's own title, as a city summary: …事项清单（汇总） and its subtitle line."""
    title = print_title[0] if print_title else "专项整治事项清单"
    return f"{title}（汇总）", (print_title[1] if len(print_title) > 1 else "")


def text_lines(text: str, width: float) -> int:
    """Lines a wrapped cell needs: a CJK character takes about two width units, ASCII one."""
    lines = 0
    for paragraph in text.split("\n") or [""]:
        units = sum(2 if ord(c) > 0x2E7F else 1 for c in paragraph)
        lines += max(1, -(-units // max(1, int(width) - 1)))
    return lines


def ledger_workbook(
    rows: Sequence[LedgerRow],
    print_title: Sequence[str],
    *,
    reporting_unit: str = "",
    filled_on: str = "",
) -> bytes:
    """One sheet per period, set up to print: A4 landscape, one page wide, header rows on every page."""
    buffer = io.BytesIO()
    by_period = groupby(sorted(rows, key=lambda r: r.period), key=lambda r: r.period)
    write_ledger_workbook(
        buffer, by_period, print_title, reporting_unit=reporting_unit, filled_on=filled_on, constant_memory=False
    )
    return buffer.getvalue()


def write_ledger_workbook(
    target: str | io.BytesIO,
    by_period: Iterable[tuple[str, Iterable[LedgerRow]]],
    print_title: Sequence[str],
    *,
    reporting_unit: str = "",
    filled_on: str = "",
    constant_memory: bool = True,
) -> int:
    """Write the ledger workbook to ``target`` (a file path, or memory) from rows grouped by period, each
    group consumed once, in order; how many rows were written.

    ``constant_memory`` (a file path only): xlsxwriter flushes each row to a temporary file as the next one
    starts, so a 150,000-row ledger (3,000 units x 50) never holds its cells in memory (issue 17)."""
    import xlsxwriter  # loaded only for an export

    options: dict[str, object] = {"strings_to_formulas": False, "strings_to_urls": False}
    options |= {"constant_memory": True} if constant_memory and isinstance(target, str) else {"in_memory": True}
    workbook = xlsxwriter.Workbook(target, options)
    base = {"font_name": "宋体", "font_size": 10.5}
    heading = workbook.add_format(
        base | {"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True}
    )
    text = workbook.add_format(base | {"valign": "top", "border": 1, "text_wrap": True})
    quoted = workbook.add_format(base | {"valign": "top", "border": 1, "text_wrap": True, "quote_prefix": True})
    number = workbook.add_format(base | {"valign": "top", "align": "center", "border": 1, "num_format": "0"})
    title_format = workbook.add_format({"font_name": "黑体", "bold": True, "font_size": 16, "align": "center"})
    subtitle_format = workbook.add_format({"font_name": "楷体", "font_size": 12, "align": "center"})
    line_format = workbook.add_format(base)
    title, subtitle = summary_title(print_title)
    written = 0
    wrote_a_sheet = False
    for period, period_rows in chain(by_period, [("", ())]):
        if wrote_a_sheet and not period:
            break  # the empty sentinel only stands in when there was no period at all
        wrote_a_sheet = True
        sheet = workbook.add_worksheet(period_label(period)[:31] if period else "台账")
        last = len(COLUMNS) - 1
        sheet.set_row(0, 26)
        sheet.merge_range(0, 0, 0, last, title, title_format)
        second = "　".join(x for x in (subtitle, f"（{period_label(period)}）" if period else "") if x)
        sheet.merge_range(1, 0, 1, last, second, subtitle_format)
        sheet.merge_range(2, 0, 2, 5, f"填报单位（盖章）：{reporting_unit}", line_format)
        sheet.merge_range(2, 6, 2, last, f"填报时间：{filled_on}", line_format)
        for index in SINGLE:
            sheet.merge_range(HEADER_FIRST, index, HEADER_LAST, index, COLUMNS[index][1], heading)
        for label, first, end in GROUPS:
            sheet.merge_range(HEADER_FIRST, first, HEADER_FIRST, end, label, heading)
            for index in range(first, end + 1):
                sheet.write_string(HEADER_LAST, index, COLUMNS[index][1], heading)
        for index, width in enumerate(WIDTHS):
            sheet.set_column(index, index, width)
        for offset, row in enumerate(period_rows):
            at = HEADER_LAST + 1 + offset
            values = [_cell_text(row, field) for field, _ in COLUMNS]
            numbered = [COLUMNS[i][0] == "seq" and v.strip().isdigit() for i, v in enumerate(values)]
            lines = max([1, *(text_lines(v, WIDTHS[i]) for i, v in enumerate(values) if not numbered[i])])
            # Explicit heights: Excel does not grow a wrapped row written by a library until it is edited.
            sheet.set_row(at, lines * LINE_POINTS + 4)  # before the cells: constant_memory writes rows in order
            for index, value in enumerate(values):
                if numbered[index]:
                    sheet.write_number(at, index, int(value.strip()), number)
                    continue
                sheet.write_string(at, index, value, quoted if is_dangerous(value) else text)
            written += 1
        sheet.freeze_panes(HEADER_LAST + 1, 0)
        print_setup(sheet, HEADER_FIRST, HEADER_LAST)
    workbook.close()
    return written


def print_setup(sheet: object, header_first: int, header_last: int) -> None:
    """A4 landscape, one page wide (as many tall as needed), header rows repeated, centred, page numbers."""
    sheet.set_paper(A4)  # type: ignore[attr-defined]
    sheet.set_landscape()  # type: ignore[attr-defined]
    sheet.fit_to_pages(1, 0)  # type: ignore[attr-defined]
    sheet.repeat_rows(header_first, header_last)  # type: ignore[attr-defined]
    sheet.center_horizontally()  # type: ignore[attr-defined]
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)  # type: ignore[attr-defined]
    sheet.set_footer("&C第 &P 页，共 &N 页")  # type: ignore[attr-defined]
