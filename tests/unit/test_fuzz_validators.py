"""Property-based: whatever cells, sheet shapes, bytes or text arrive, the validators answer with a verdict
made of our own findings (a code and a Chinese message) and never raise.

Bounded (``max_examples``) so the whole module stays within a few seconds; ``HYPOTHESIS_PROFILE=long`` runs
more examples when looking for trouble.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.reports import ReportVerdict, validate_report
from chalicelib.domain.tables import TableVerdict, validate_table

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
settings.register_profile(
    "long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

CODE = re.compile(r"^[A-Z][A-Z0-9_]+$")
CJK = re.compile(r"[\u4e00-\u9fff]")
HEADERS = ["序号", "问题方面", "问题表现", "问题原因", "整改措施", "完成时限", "责任单位", "责任人", "备注"]
TEMPLATES = ["issue-list", "legacy-issue-list", "contacts", "typical-case"]
REPORTS = ["self-check-report", "progress-report", "summary-report", "accountability-statement", "typical-case"]

cell = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.sampled_from(["", " ", "=1+1", "@SUM(A1)", "六月底", "2023-06-30", "长期坚持", "13812345678", *HEADERS]),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
grid = st.lists(st.lists(cell, max_size=12), max_size=25)


def _assert_ours(verdict: TableVerdict | ReportVerdict) -> None:
    for finding in (*verdict.errors, *verdict.warnings):
        assert CODE.match(finding.code), finding
        assert CJK.search(finding.message), finding
    accepted = verdict.accepted if isinstance(verdict, TableVerdict) else verdict.status != "rejected"
    assert accepted or verdict.errors


@pytest.fixture(autouse=True)
def _no_crash_logged(caplog: pytest.LogCaptureFixture) -> Any:
    """validate_table turns an internal crash into UNREADABLE_FILE and logs it: that would hide a bug here."""
    with caplog.at_level(logging.ERROR):
        yield
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info], caplog.text[-3000:]


def _csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue().encode("utf-8")


def _xlsx(rows: list[list[Any]], hidden: bool) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def storable(value: Any) -> Any:
        # What Excel can hold: no control characters, no NaN/inf, integers within a double's range.
        if isinstance(value, str):
            return ILLEGAL_CHARACTERS_RE.sub("", value)
        if isinstance(value, float) and (value != value or abs(value) == float("inf")):
            return str(value)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            return str(value)
        return value

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append([storable(v) for v in row])
    if hidden and rows:
        sheet.row_dimensions[1].hidden = True
    if len(rows) > 2:
        sheet.merge_cells(start_row=1, start_column=1, end_row=2, end_column=1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@given(rows=grid, with_header=st.booleans(), template=st.sampled_from(TEMPLATES))
def test_any_csv_gets_a_verdict(rows: list[list[Any]], with_header: bool, template: str) -> None:
    data = _csv(([HEADERS] if with_header else []) + rows)
    _assert_ours(validate_table(data, "清单.csv", template, unit_names=("原平市",)))


@given(rows=grid, with_header=st.booleans(), hidden=st.booleans(), template=st.sampled_from(TEMPLATES))
@settings(max_examples=25)
def test_any_xlsx_gets_a_verdict(rows: list[list[Any]], with_header: bool, hidden: bool, template: str) -> None:
    data = _xlsx(([HEADERS] if with_header else []) + [[*r] for r in rows], hidden)
    _assert_ours(validate_table(data, "清单.xlsx", template, unit_names=("原平市",)))


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(
    document=st.one_of(json_value, st.lists(st.dictionaries(st.sampled_from(HEADERS), cell, max_size=9), max_size=10))
)
def test_any_json_gets_a_verdict(document: Any) -> None:
    data = json.dumps(document, ensure_ascii=False, default=str).encode()
    _assert_ours(validate_table(data, "清单.json", "issue-list", unit_names=("原平市",)))


@given(
    data=st.binary(max_size=2048), name=st.sampled_from(["清单.xlsx", "清单.xls", "清单.et", "清单.csv", "清单.json"])
)
def test_any_bytes_get_a_verdict(data: bytes, name: str) -> None:
    _assert_ours(validate_table(data, name, "issue-list"))


heading = st.sampled_from(["一、", "（一）", "1.", "# ", "第一部分 ", ""]).flatmap(
    lambda prefix: st.sampled_from(
        ["动员部署情况", "存在的问题", "本月工作开展情况", "基本情况", "点评", "下一步工作打算", "整改效果"]
    ).map(lambda title: prefix + title)
)


@given(
    lines=st.lists(st.one_of(heading, st.text(max_size=80)), max_size=30),
    deliverable=st.sampled_from(REPORTS),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_any_text_report_gets_a_verdict(lines: list[str], deliverable: str, encoding: str) -> None:
    data = "\n".join(lines).encode(encoding, errors="replace")
    _assert_ours(validate_report(data, "报告.txt", deliverable))


@given(data=st.binary(max_size=2048), name=st.sampled_from(["报告.docx", "报告.pdf", "报告.txt", "报告.md"]))
def test_any_bytes_as_a_report_get_a_verdict(data: bytes, name: str) -> None:
    _assert_ours(validate_report(data, name, "self-check-report"))
