"""The printable ledger workbook, read back with openpyxl: title from the template, numbers as numbers,
row heights that grow with the text, formula payloads kept as text."""

from __future__ import annotations

import io

from chalicelib.domain.exports import ledger_workbook, summary_title, text_lines
from chalicelib.domain.ledger import LedgerRow
from chalicelib.domain.tables.templates import load_template


def _row(seq: str, symptom: str) -> LedgerRow:
    fields = {"seq": seq, "aspect": "执法粗暴问题", "symptom": symptom, "measure": "约谈", "deadline": "长期坚持"}
    return LedgerRow("140981", "原平市", "2023-05", "v1", 6, "Sheet1", fields)


def test_the_title_is_the_attachments_own_said_once() -> None:
    title, subtitle = summary_title(load_template("issue-list").print_title)
    assert title.endswith("事项清单（汇总）") and title.count("专项整治") == 1
    assert subtitle == "（2023年新问题）"
    assert summary_title(load_template("legacy-issue-list").print_title)[1] == "（2022年自查整改问题）"


def test_wrapped_text_needs_more_lines_the_longer_it_is() -> None:
    assert text_lines("短", 40) == 1
    assert text_lines("长" * 60, 40) == 4  # 120 width units in a 39-unit line
    assert text_lines("a" * 60, 40) == 2  # ASCII is half as wide
    assert text_lines("一\n二\n三", 40) == 3


def test_sequence_numbers_are_numbers_and_heights_fit() -> None:
    from openpyxl import load_workbook

    rows = [_row("1", "短"), _row("2", "长" * 200), _row("3a", "=1+1")]
    sheet = load_workbook(io.BytesIO(ledger_workbook(rows, load_template("issue-list").print_title))).active
    assert sheet["B6"].value == 1 and sheet["B7"].value == 2
    assert sheet["B8"].value == "3a"  # not a number: kept as typed
    assert sheet.row_dimensions[7].height > 3 * sheet.row_dimensions[6].height
    assert sheet["D8"].value == "=1+1" and sheet["D8"].data_type == "s" and sheet["D8"].quotePrefix
