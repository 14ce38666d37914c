"""Sheets written to fool a pattern scan about how far calamine will reach, and the ordinary sheets that must
still be read.

calamine allocates the rectangle from A1 to its furthest value before anything can cut it, and an oversized
one aborts the process. ``readers`` proves ordinary parts within the caps by byte patterns and reads every
other part as calamine does (``_ExactScan``). Here: the holes a pattern scan had (quoted or spaced r, ">"
inside quotes, cells without r, eight-digit rows), each refused before calamine is called; the legitimate
look-alikes (formatting far below the data, files from openpyxl and xlsxwriter) still read; and calamine
itself as the oracle for the exact scan on small random sheets.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import python_calamine
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.styles import Border, PatternFill, Side

from chalicelib.domain.tables import extent, readers
from chalicelib.domain.tables.readers import MAX_COLUMNS, MAX_SHEET_CELLS, MAX_SHEET_ROWS, ReaderError, read_grids
from tests.minimal_xlsx import MAIN, xlsx_package

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CJK = re.compile(r"[\u4e00-\u9fff]")
HEAD = f'<?xml version="1.0"?><worksheet xmlns="{MAIN}" xmlns:x="{MAIN}"><sheetData>'
FOOT = "</sheetData></worksheet>"
SHARED = f'<?xml version="1.0"?><sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>共享</t></si></sst>'


def workbook(sheet_data: str | bytes, *, whole_part: bool = False) -> bytes:
    """A one-sheet .xlsx around ``sheet_data`` (what goes inside <sheetData>, or the whole part)."""
    part = sheet_data if isinstance(sheet_data, bytes) else sheet_data.encode()
    if not whole_part:
        part = HEAD.encode() + part + FOOT.encode()
    return xlsx_package({"xl/worksheets/sheet1.xml": part}, names=["清单"], shared_strings=SHARED)


class NeverLoaded:
    @staticmethod
    def from_filelike(*_: Any) -> Any:
        raise AssertionError("calamine must not see this file: it would allocate the whole rectangle")


def refused(data: bytes, monkeypatch: pytest.MonkeyPatch) -> ReaderError:
    monkeypatch.setattr(readers, "CalamineWorkbook", NeverLoaded)
    with pytest.raises(ReaderError) as caught:
        read_grids(data, "清单.xlsx")
    assert "清单.xlsx" in caught.value.message and CJK.search(caught.value.message)
    return caught.value


def calamine_extent(part: bytes) -> tuple[int, int] | None:
    """(rows, columns) up to calamine's furthest value, (0, 0) for none; None when calamine refuses the sheet.
    Only for parts whose extent is known to be small."""
    try:
        sheet = python_calamine.load_workbook(io.BytesIO(workbook(part, whole_part=True))).get_sheet_by_index(0)
    except Exception:
        return None
    return (sheet.end[0] + 1, sheet.end[1] + 1) if sheet.end is not None else (0, 0)


def exact(part: bytes, bulk: bool = False, cut: int | None = None) -> tuple[int, int, bool] | None:
    """The exact scan's (rows, columns, past the caps), or None when it says calamine gives up on the sheet.
    ``bulk=False`` reads every tag singly; ``cut`` feeds the part in chunks of that size."""
    chunks = [part] if cut is None else [part[i : i + cut] for i in range(0, len(part), cut)]
    try:
        scan = extent._exact_scan(chunks, bulk=bulk, budget=10**9)
    except extent.SheetUnreadableError:
        return None
    return scan.rows, scan.columns, scan.past_caps


def proven(part: bytes) -> bool:
    """The fast scan proves the whole part within the caps."""
    return extent._fast_pass(part, 0, len(part))


# --- the holes, each refused before calamine is called ---------------------------------------------------

FAR = '<row r="1"><c r="A1" t="inlineStr"><is><t>序号</t></is></c></row>'
TOO_MANY_ROWS = {
    "single-quoted r, row without r": "<row><c r='A30000'><v>2</v></c></row>",
    "spaces around =": '<row><c r = "A30000"><v>2</v></c></row>',
    "tabs and single quotes": "<row><c r\t=\t'A30000'><v>2</v></c></row>",
    "newline before r": '<row><c\nr="A30000"><v>2</v></c></row>',
    "r straight after another value": '<row><c s="1"r="A30000"><v>2</v></c></row>',
    "a second r, which calamine takes": '<row><c r="A1" r="A30000"><v>2</v></c></row>',
    "'/>' inside a quoted value": '<row><c r="CZ30000" x="/>"><v>2</v></c></row>',
    "'<' inside a quoted value, r after it": '<row><c x="<t " r="CZ30000"><v>2</v></c></row>',
    "'>' inside a single-quoted value": "<row><c r='XFD30000' x='>'><v>2</v></c></row>",
    "an eight-digit row tag, cell without r": '<row r="12345678"><c><v>2</v></c></row>',
    "a row tag with leading zeros": '<row r="0000030000"><c><v>2</v></c></row>',
    "cells without r after a far row tag": '<row r="30000"><c/><c><v>2</v></c></row>',
    "rows without r counted": "<row/>" * 30000 + "<row><c><v>2</v></c></row>",
    "prefixed": '<x:row><x:c r="A30000"><x:v>2</x:v></x:c></x:row>',
    "'</a b:row>' ends a row": '<row r="20200"><c r="A20200"><v>1</v></c></a b:row><c><v>2</v></c>',
    "lower case": "<row><c r='a30000'><v>2</v></c></row>",
    "an inline string": "<row><c r='A30000' t=\"inlineStr\"><is><t>x</t></is></c></row>",
    "an empty string is a value": "<row><c r='A30000' t=\"str\"><v></v></c></row>",
    "a comment hides nothing from calamine": "<!-- <c r='A1'/> --><row><c r='A30000'><v>2</v></c></row>",
}
FILE_TOO_COMPLEX = {
    "3000 cells without r push the columns": '<row r="1">'
    + "<c><v>1</v></c>" * 3000
    + '</row><row r="5000"><c r="A5000"><v>1</v></c></row>',
    "prefixed cells without r": '<x:row r="1">'
    + "<x:c t='n'><x:v>1</x:v></x:c>" * 3000
    + '</x:row><x:row r="5000"><x:c><x:v>1</x:v></x:c></x:row>',
    "a four-letter column": '<row r="1"><c r="A1"><v>1</v></c></row><row r="200"><c r="ABCD200"><v>1</v></c></row>',
    "an eight-letter column wraps far right": "<row><c r='A1'><v>1</v></c><c r='AAAAAAAA1'><v>1</v></c></row>",
    "a wide cell by a far single-quoted one": "<row><c r='A20000'><v>1</v></c><c r='XFD1'><v>1</v></c></row>",
}


@pytest.mark.parametrize("sheet", list(TOO_MANY_ROWS), ids=list(TOO_MANY_ROWS))
def test_a_far_value_is_refused_however_its_reference_is_written(sheet: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = workbook(FAR + TOO_MANY_ROWS[sheet])
    assert refused(data, monkeypatch).code == "TOO_MANY_ROWS"
    [scan] = extent.scan_sheets(data)
    assert scan.exact and scan.stopped_early and scan.rows > MAX_SHEET_ROWS


@pytest.mark.parametrize("sheet", list(FILE_TOO_COMPLEX), ids=list(FILE_TOO_COMPLEX))
def test_a_wide_rectangle_is_refused_however_it_is_reached(sheet: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = workbook(FILE_TOO_COMPLEX[sheet])
    error = refused(data, monkeypatch)
    assert error.code == "FILE_TOO_COMPLEX"
    [scan] = extent.scan_sheets(data)
    assert scan.rows * scan.columns > MAX_SHEET_CELLS
    assert f"第{scan.columns}列" in error.message


def test_the_refusal_names_the_row_the_scan_stopped_at(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = "".join(f"<row><c><v>{n}</v></c></row>" for n in range(1, 40_001))  # rows numbered by position only
    error = refused(workbook(rows), monkeypatch)
    assert error.code == "TOO_MANY_ROWS" and f"第{MAX_SHEET_ROWS + 1}行" in error.message


FULL_SCALE = {
    # Each of these makes calamine ask for gigabytes (and abort the process) if the guard lets it through.
    "single-quoted corner": "<row r='1'><c r='A1'><v>1</v></c></row><row><c r='XFD1048576'><v>2</v></c></row>",
    "'/>' in a value": '<row r="1"><c r="A1"><v>1</v></c></row><row><c r="XFD1048576" x="/>"><v>2</v></c></row>',
    "'<' in a value": '<row r="1"><c r="A1"><v>1</v></c></row><row><c x="<t " r="XFD1048576"><v>2</v></c></row>',
    "16384 cells without r": '<row r="1">' + "<c><v>1</v></c>" * 16_384 + '</row><row r="20000"><c><v>1</v></c></row>',
    "eight-digit row": '<row r="1"><c r="XFD1"><v>1</v></c></row><row r="99999999"><c><v>2</v></c></row>',
    "wrapped column": "<row><c r='A1'><v>1</v></c><c r='AAAAAAAA1'><v>1</v></c></row>"
    + '<row r="2000"><c><v>1</v></c></row>',
}


def test_full_scale_holes_do_not_kill_the_process(tmp_path: Path) -> None:
    """Run where an address-space limit turns a failed guard into a failed test instead of a killed run."""
    paths = {}
    for name, sheet in FULL_SCALE.items():
        path = tmp_path / f"{len(paths)}.xlsx"
        path.write_bytes(workbook(sheet))
        paths[name] = str(path)
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, 3 * 1024 ** 3))
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from chalicelib.domain.tables import validate_table
        codes = {{}}
        for name, path in {paths!r}.items():
            verdict = validate_table(open(path, "rb").read(), "清单.xlsx", "issue-list")
            codes[name] = [f.code for f in verdict.errors][:1]
        print(json.dumps(codes))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    codes = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == {
        "single-quoted corner": ["TOO_MANY_ROWS"],
        "'/>' in a value": ["TOO_MANY_ROWS"],
        "'<' in a value": ["TOO_MANY_ROWS"],
        "16384 cells without r": ["FILE_TOO_COMPLEX"],
        "eight-digit row": ["TOO_MANY_ROWS"],
        "wrapped column": ["FILE_TOO_COMPLEX"],
    }


UNREADABLE = {
    "an r calamine cannot read": "<row><c r='A1B'><v>1</v></c></row>",
    "an entity in r": '<row><c r="A&#51;0000"><v>1</v></c></row>',
    "a row r calamine cannot read": '<row r="²"><c><v>1</v></c></row>',
    "an element calamine refuses in a cell": "<row><c r='A1'><x/></c></row>",
    "an attribute without a value": "<row><c r='A1' hidden><v>1</v></c></row>",
    "a DOCTYPE in the sheet": '<row><c r="A1"><v>1</v></c></row><!DOCTYPE x><row><c><v>1</v></c></row>',
}


@pytest.mark.parametrize("sheet", list(UNREADABLE), ids=list(UNREADABLE))
def test_what_calamine_would_give_up_on_is_refused_as_unreadable(sheet: str, monkeypatch: pytest.MonkeyPatch) -> None:
    part = (HEAD + UNREADABLE[sheet] + FOOT).encode()
    if sheet != "a DOCTYPE in the sheet":  # calamine skips a DOCTYPE; the scan does not try to
        assert calamine_extent(part) is None
    assert refused(workbook(part, whole_part=True), monkeypatch).code == "UNREADABLE_FILE"


def test_too_many_tags_to_read_singly_is_refused_as_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extent, "_MAX_SINGLE_TAGS", 1000)
    odd_cells = "".join(f"<row><c><v>{n}</v><!-- --></c></row>" for n in range(300))  # no run matches these
    assert refused(workbook(odd_cells), monkeypatch).code == "UNREADABLE_FILE"
    monkeypatch.undo()
    assert len(read_grids(workbook(odd_cells), "清单.xlsx")[0].cells) == 300


# --- legitimate look-alikes, still read ---------------------------------------------------------------------

DATA = '<row r="1"><c r="A1" t="inlineStr"><is><t>序号</t></is></c><c r="B1" t="n"><v>7</v></c></row>'
NOTHING_PAST_THE_CAPS = {
    "self-closing, row without r": "<row><c r='CZ30000' s='1'/></row>",
    "self-closing, far row": '<row r="30000"><c r="CZ30000" s="1"/></row>',
    "empty, far and wide": '<row r="30000" s="1"><c r="A30000" s="1"></c><c r="XFD30000" s="2"/></row>',
    "an empty <v>": '<row r="30000"><c r="A30000"><v></v></c><c r="XFD30000" t="n"><v/></c></row>',
    "a <v> calamine ignores": '<row r="30000"><c r="A30000" t="inlineStr"><v>1</v></c></row>',
    "a formula without its value": '<row r="30000"><c r="A30000"><f>SUM(A1:A2)</f></c></row>',
    "empty rows below": '<row r="30000"><c r="A30000" s="1"></c></row>' + "<row/>" * 30_000,
    "a fake far cell in a quoted value": '<row r="2" x="<c r=&quot;XFD9&quot;>"><c r="A2" x="<c r=\'XFD9\'>"/></row>',
}


@pytest.mark.parametrize("sheet", list(NOTHING_PAST_THE_CAPS), ids=list(NOTHING_PAST_THE_CAPS))
def test_formatting_far_below_or_right_of_the_data_is_still_read(sheet: str) -> None:
    data = workbook(DATA + NOTHING_PAST_THE_CAPS[sheet])
    [scan] = extent.scan_sheets(data)
    assert scan.exact and not scan.stopped_early
    [grid] = read_grids(data, "清单.xlsx")
    assert grid.cells == [["序号", 7]] and not grid.truncated


def test_a_template_formatted_down_to_row_65536_is_read() -> None:
    columns = "ABCDEFGHIJ"
    rows = [
        f'<row r="{n}" spans="1:10">' + "".join(f'<c r="{c}{n}" s="1" t="n"><v>{n}</v></c>' for c in columns) + "</row>"
        for n in range(1, 301)
    ]
    rows += [
        f'<row r="{n}" spans="1:10" s="2" customFormat="1">'
        + "".join(f'<c r="{c}{n}" s="2"/>' for c in columns)
        + "</row>"
        for n in range(301, 65_537)
    ]
    data = workbook("".join(rows))
    [scan] = extent.scan_sheets(data)
    assert scan.exact and not scan.stopped_early
    [grid] = read_grids(data, "模板.xlsx")
    assert len(grid.cells) == 300 and grid.cells[-1] == [300] * 10


def test_dotnet_style_cells_without_r_are_read() -> None:
    """The OpenXML SDK writes what its caller sets: often a prefix and rows numbered, cells not."""
    rows = "".join(
        f'<x:row r="{n}"><x:c t="str"><x:v>第{n}行</x:v></x:c><x:c><x:v>{n}</x:v></x:c><x:c s="1"/></x:row>'
        for n in range(1, 201)
    )
    data = workbook(rows)
    [scan] = extent.scan_sheets(data)
    assert scan.exact and (scan.rows, scan.stopped_early) == (200, False)
    [grid] = read_grids(data, "导出.xlsx")
    assert grid.cells[0] == ["第1行", 1] and grid.cells[-1] == ["第200行", 200] and len(grid.cells) == 200


def _openpyxl_workbook(far_formatting: bool) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["序号", "问题方面", "完成时限", "金额"])
    for n in range(1, 301):
        sheet.append([n, f"执法不规范问题{n}", f"2023-06-{n % 28 + 1:02d}", n * 1.5])
    sheet["E2"] = "=D2*2"
    sheet["B302"] = "合并"
    sheet.merge_cells("B302:D302")
    sheet.row_dimensions[5].hidden = True
    if far_formatting:
        sheet.cell(row=30_000, column=3).fill = PatternFill("solid", fgColor="FFFF00")
        sheet.cell(row=5, column=150).border = Border(left=Side(style="thin"))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsxwriter_workbook(far_formatting: bool) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("清单")
    bold = book.add_format({"bold": True, "border": 1})
    sheet.write_row(0, 0, ["序号", "问题方面", "完成时限", "金额"], bold)
    for n in range(1, 301):
        sheet.write_row(n, 0, [n, f"执法不规范问题{n}", f"2023-06-{n % 28 + 1:02d}", n * 1.5])
    sheet.write_formula(1, 4, "=D2*2")
    sheet.merge_range(301, 1, 301, 3, "合并", bold)
    sheet.set_row(4, None, None, {"hidden": True})
    if far_formatting:
        sheet.write_blank(29_999, 2, None, bold)
        sheet.write_blank(4, 149, None, bold)
    book.close()
    return buffer.getvalue()


@pytest.mark.parametrize("make", [_openpyxl_workbook, _xlsxwriter_workbook], ids=["openpyxl", "xlsxwriter"])
def test_files_from_openpyxl_and_xlsxwriter_pass_the_fast_scan_and_read(make: Any) -> None:
    plain, formatted = make(False), make(True)
    assert [scan.exact for scan in extent.scan_sheets(plain)] == [False]
    [scan] = extent.scan_sheets(formatted)  # a formatted cell past the caps: the exact scan says it is empty
    assert scan.exact and not scan.stopped_early
    expected = read_grids(plain, "清单.xlsx")[0]
    assert len(expected.cells) == 302 and expected.cells[1][:4] == [1, "执法不规范问题1", "2023-06-02", 1.5]
    assert expected.hidden_rows == {5}
    assert read_grids(formatted, "清单.xlsx")[0].cells == expected.cells


def test_the_fixture_workbooks_pass_the_fast_scan() -> None:
    fixtures = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "tables").glob("*.xlsx"))
    assert fixtures
    for path in fixtures:
        assert [scan.exact for scan in extent.scan_sheets(path.read_bytes())] == [False], path.name


FAST = {
    # Proven within the caps: every cell led by a plain r within them.
    '<row r="30000" spans="1:2"><c r="A1" s="1" t="s"><v>0</v></c><c r="cv20200"/></row>': True,
    '<c r="A1" t="inlineStr"><is><t>a = b</t></is></c><pageMargins header="0.3" footer="0.3"/>': True,
    '<c r="A1" x = "1" y=\'2\'/>': True,
    # Left to the exact scan.
    '<c r="A1" r = "XFD1"/>': False,
    "<c r=\"A1\" r\t='B2'/>": False,
    '<c r="A1" s="1"r="XFD1"/>': False,
    '<c r="A020000"/>': False,
    '<c r="CW1"/>': False,
    '<c r="A20201"/>': False,
    "<c/>": False,
    '<c\tr="A1"/>': False,
    "<c r='A1'/>": False,
    '<c r="A1" t="inlineStr"><is><t>text with r=\'x\'</t></is></c>': False,  # text is not told from markup
    # Prefixed cells: their end tag "</x:c>" looks like a cell without r (a name such as "a</b:c" is a cell
    # to quick-xml, so telling them apart needs the tokenizer). The exact scan reads them in runs.
    '<x:row r="1"><x:c r="B2" t="n"><x:v>1</x:v></x:c></x:row>': False,
}


@pytest.mark.parametrize("part", list(FAST))
def test_the_fast_scan_proves_plain_parts_and_leaves_the_rest(part: str) -> None:
    assert proven(part.encode()) is FAST[part]


def test_the_fast_patterns_keep_step_with_the_caps() -> None:
    cell = re.compile(extent._COLUMN_OK + extent._ROW_OK)

    def letters(n: int) -> str:
        text = ""
        while n:
            n, rest = divmod(n - 1, 26)
            text = chr(65 + rest) + text
        return text

    for column in range(1, 800):
        for row in (1, 9, 10, 99, 1000, 19_999, 20_000, MAX_SHEET_ROWS, MAX_SHEET_ROWS + 1, 99_999, 100_000):
            within = column <= MAX_COLUMNS and row <= MAX_SHEET_ROWS
            for reference in (f"{letters(column)}{row}", f"{letters(column).lower()}{row}"):
                assert bool(cell.fullmatch(reference.encode())) == within, reference
    assert all(bool(re.fullmatch(extent._ROW_OK, str(n).encode())) == (n <= MAX_SHEET_ROWS) for n in range(1, 30_000))
    assert not re.fullmatch(extent._ROW_OK, b"020") and not re.fullmatch(extent._ROW_OK, b"0")


# --- calamine as the oracle -------------------------------------------------------------------------------


@FUZZ
@given(
    reference=st.one_of(
        st.text(alphabet="AbZz09187x", min_size=0, max_size=12),
        st.builds(
            lambda letters, digits: letters + digits,
            st.text(alphabet="ABCXYZabcxyz", min_size=1, max_size=9),
            st.text(alphabet="0123456789", min_size=1, max_size=12),
        ),
        st.sampled_from(["A1", "XFD1048576", "A4294967297", "A4294967296", "AAAAAAAA3", "A0", "0A1", " A1", "A-1"]),
    ),
    cell=st.booleans(),
)
def test_references_are_read_as_calamine_reads_them(reference: str, cell: bool) -> None:
    # One value only: calamine's rectangle is that cell alone, however far it lies.
    sheet = f'<row><c r="{reference}"><v>1</v></c></row>' if cell else f'<row r="{reference}"><c><v>1</v></c></row>'
    expected = calamine_extent((HEAD + sheet + FOOT).encode())
    try:
        row, column = extent._position(reference.encode(), cell=cell)
    except extent.SheetUnreadableError:
        assert expected is None
        return
    assert expected == (row + 1, column + 1 if cell else 1)


_KEYS = st.sampled_from(["r", "s", "t", "x", "R", "x:r", "rr"])
_VALUES = st.sampled_from(["A1", "B3", "C12", "1", "n", "s", "str", "a b", "/>", ">", "<"])
_ATTRIBUTE = st.one_of(
    st.builds(
        lambda space, key, gap, quote, value: f"{space}{key}{gap}={gap}{quote}{value}{quote}",
        st.sampled_from([" ", "\t", "\n", "  ", ""]),
        _KEYS,
        st.sampled_from(["", " ", "\t"]),
        st.sampled_from(['"', "'"]),
        _VALUES,
    ),
    st.sampled_from([" foo", " r=B2", ' r="B2', " =", ' "x"']),
)


@FUZZ
@given(attributes=st.lists(_ATTRIBUTE, max_size=6).map("".join), closing=st.sampled_from([">", " >", "/>"]))
def test_cell_attributes_are_read_as_calamine_reads_them(attributes: str, closing: str) -> None:
    body = "<v>1</v></c>" if closing != "/>" else ""
    part = (HEAD + f"<row><c{attributes}{closing}{body}</row>" + FOOT).encode()
    expected = calamine_extent(part)
    if expected is not None:
        assert exact(part) == (*expected, False)
        assert exact(part, bulk=True) == (*expected, False)


# Small, well-formed but odd sheets: rows and cells with and without r in every quoting and spacing, with
# prefixes, children of every kind, markup calamine skips between them. Extents stay small (calamine
# allocates them), and a cell holds one child that may carry a value, after at most a formula (calamine
# keeps the last child's value; the scan, any child's).
_COLUMNS = st.sampled_from(["A", "b", "Z", "AA", "cv", "CW", "DA", "ZZ", "AAA"])
_REFERENCE = st.builds(lambda c, r, z: f"{c}{z}{r}", _COLUMNS, st.integers(1, 400), st.sampled_from(["", "", "0"]))
_R_FORMS = ['r="{}"', "r='{}'", 'r = "{}"', "r\t=\t'{}'"]
_CHILDREN = [
    "",
    "<v>1</v>",
    "<v></v>",
    "<v/>",
    "<v> 2 </v>",
    "<f>1+1</f>",
    "<f>1+1</f><v>2</v>",
    '<f t="shared" si="0"/><v>3</v>',
    "<is><t>x</t></is>",
    "<is></is>",
    '<is><r><rPr><b/><sz val="11"/></rPr><t xml:space="preserve"> y </t></r></is>',
    "<!-- c --><v>1</v>",
    "<v>1</v><?pi x?>",
]
_TYPES = ["", ' t="n"', ' t="s"', ' t="str"', ' t="b"', ' t="inlineStr"', ' t="d"']
_BETWEEN = st.sampled_from(
    ["", "", " ", "\n", "<!-- <c r='XFD9'><v>1</v></c> -->", "<?pi <row>?>", "<foo/>", '<x:ext a="<c>"/>']
)


@st.composite
def _cells(draw: Any, prefix: str) -> str:
    r_form = draw(st.sampled_from(["", "", *_R_FORMS]))
    attributes = (" " + r_form.format(draw(_REFERENCE))) if r_form else ""
    attributes += draw(st.sampled_from(["", ' s="1"', " s='2'"])) + draw(st.sampled_from(_TYPES))
    children = draw(st.sampled_from(_CHILDREN))
    if 't="s"' in attributes and "<v>" in children:
        children = (
            children.replace("<v>1</v>", "<v>0</v>").replace("<v>2</v>", "<v>0</v>").replace("<v>3</v>", "<v>0</v>")
        )
    if not children and draw(st.booleans()):
        return f"<{prefix}c{attributes}/>"
    children = children.replace("<", f"<{prefix}").replace(f"<{prefix}/", f"</{prefix}").replace(f"<{prefix}!", "<!")
    children = children.replace(f"<{prefix}?", "<?")
    end = draw(st.sampled_from([f"</{prefix}c>", "</c>", f"</{prefix}c >"]))
    return f"<{prefix}c{attributes}>{children}{end}"


@st.composite
def _sheets(draw: Any) -> str:
    prefix = draw(st.sampled_from(["", "", "x:"]))
    parts = []
    for _ in range(draw(st.integers(0, 12))):
        between = draw(_BETWEEN)
        if draw(st.integers(0, 9)) == 0:  # a cell outside any row
            parts.append(between + draw(_cells(prefix)))
            continue
        r_form = draw(st.sampled_from(["", "", *_R_FORMS]))
        attributes = (" " + r_form.format(draw(st.integers(1, 400)))) if r_form else ""
        attributes += draw(st.sampled_from(["", ' spans="1:3"', ' hidden="1"']))
        cells = [draw(_cells(prefix)) for _ in range(draw(st.integers(0, 6)))]
        if draw(st.integers(0, 5)) == 0:
            cells.append(f"<{prefix}c><{prefix}v>1</{prefix}v></{prefix}c>" * draw(st.integers(1, 60)))
        if not cells and draw(st.booleans()):
            parts.append(f"{between}<{prefix}row{attributes}/>")
        else:
            parts.append(f"{between}<{prefix}row{attributes}>{draw(_BETWEEN).join(cells)}</{prefix}row>")
    return "".join(parts)


@FUZZ
@given(sheet=_sheets(), cut=st.integers(1, 64))
def test_the_exact_scan_finds_calamines_extent(sheet: str, cut: int) -> None:
    part = (HEAD + sheet + FOOT).encode()
    expected = calamine_extent(part)
    read_singly = exact(part)
    if read_singly is None:  # the scan only gives up where calamine does
        assert expected is None
        return
    if expected is None:
        return  # calamine gives up on the sheet: nothing is allocated, the scan's answer does not matter
    assert read_singly == (*expected, False)
    assert exact(part, cut=cut) == read_singly  # however the part is cut into chunks
    rows, columns, _ = exact(part, bulk=True, cut=cut * 97) or (0, 0, False)  # runs may count further
    assert rows >= expected[0] and columns >= expected[1]
    if proven(part):
        assert expected[0] <= MAX_SHEET_ROWS and expected[1] <= MAX_COLUMNS


# Near the caps: calamine is not called (it would allocate), the exact scan is the reference instead.
_NEAR_COLUMNS = st.sampled_from(["A", "CV", "cv", "CW", "XFD", "ABCD", "AAAAAAAA"])
_NEAR_ROWS = st.sampled_from(["1", "20200", "20201", "020000", "1048576", "12345678", "4294967297"])


@st.composite
def _near_sheets(draw: Any) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        row = draw(st.sampled_from(["", ' r="{}"', " r='{}'"])).format(draw(_NEAR_ROWS))
        cells = []
        for _ in range(draw(st.integers(0, 4))):
            form = draw(st.sampled_from(["", *_R_FORMS]))
            reference = form.format(draw(_NEAR_COLUMNS) + draw(_NEAR_ROWS))
            extra = draw(st.sampled_from(["", ' s="1"', ' x="/>"', " x='<c r=\"A1\"'"]))
            cells.append(
                f"<c {reference}{extra}"
                + draw(st.sampled_from(["/>", "></c>", "><v>1</v></c>", "><f>1</f></c>", "><is><t>a</t></is></c>"]))
            )
        parts.append(f"<row{row}>{''.join(cells)}</row>")
    return "".join(parts)


@FUZZ
@given(sheet=_near_sheets(), cut=st.integers(1, 300))
def test_the_fast_scan_proves_only_what_the_exact_scan_keeps_within_the_caps(sheet: str, cut: int) -> None:
    part = (HEAD + sheet + FOOT).encode()
    read_singly = exact(part)
    if proven(part):
        assert read_singly is not None
        rows, columns, past_caps = read_singly
        assert rows <= MAX_SHEET_ROWS and columns <= MAX_COLUMNS and not past_caps
    assert exact(part, cut=cut) == read_singly
    if read_singly is not None:
        rows, columns, past_caps = read_singly
        in_runs = exact(part, bulk=True, cut=cut)
        assert in_runs is not None
        if past_caps:  # runs never let through what single tags refuse
            assert in_runs[2]
        elif not in_runs[2]:
            assert in_runs[0] >= rows and in_runs[1] >= columns


# Any markup, not only well-formed: the scan may give up where calamine reads on (it then refuses the file),
# but where both read, it never finds less than calamine.
_REF = st.builds(lambda c, r: f"{c}{r}", _COLUMNS, st.integers(1, 400))
# fmt: off
_CHAOS_WORDS = (
    '<row>', '</row>', '<row/>', '</row >', '</x:row>', '</a b:row>', '<x:row>', '<rowBreaks>', '<c>', '</c>',
    '<c/>', '</x:c>', '</a b:c>', '<x:c>', '<cols>', '</c x>', '<v>1</v>', '<v>', '</v>', '<v/>', '<f>1</f>',
    '<f>', '</f>', '<is><t>x</t></is>', '<is>', '</is>', '<t>', '</t>', '<x:v>2</x:v>',
    '<x:is><x:t>y</x:t></x:is>', '<!-- x -->', '<!---->', '<!-->', '-->', '<?pi?>', '<?x <c> ?>', '<?>',
    '<!DOCTYPE x>', 'x', '&amp;', '>', '"', "'", ' ', '<foo a=\'"\'>', '</sheetData>', '<sheetData>',
)
# fmt: on
_CHAOS = st.one_of(
    st.builds(lambda form, ref: f"<row {form.format(ref)}>", st.sampled_from(_R_FORMS), st.integers(1, 400)),
    st.builds(lambda form, ref: f"<c {form.format(ref)}>", st.sampled_from(_R_FORMS), _REF),
    st.builds(lambda ref: f"<c r='{ref}'/>", _REF),
    st.builds(lambda ref: f'<a"b:c r="{ref}">', _REF),
    st.builds(lambda ref: f'<a<b:c r="{ref}">', _REF),
    st.builds(lambda ref: f'<c x="/>" r="{ref}">', _REF),
    st.builds(lambda ref: f"<foo a=\"<c r='{ref}'><v>1</v></c>\">", _REF),
    st.builds(lambda ref: f'<![CDATA[<c r="{ref}"><v>1</v></c>]]>', _REF),
    st.sampled_from(_CHAOS_WORDS),
)


@FUZZ
@given(tokens=st.lists(_CHAOS, max_size=40), cut=st.integers(1, 50))
def test_the_exact_scan_never_finds_less_than_calamine(tokens: list[str], cut: int) -> None:
    part = (HEAD + "".join(tokens) + FOOT).encode()
    expected = calamine_extent(part)
    read_singly = exact(part)
    assert exact(part, cut=cut) == read_singly
    in_runs = exact(part, bulk=True, cut=cut * 31)
    if expected is None:
        return
    for found in (read_singly, in_runs):
        if found is not None:  # None: the scan gave up, and the file is refused
            assert found[0] >= expected[0] and found[1] >= expected[1], found
    if proven(part):
        assert expected[0] <= MAX_SHEET_ROWS and expected[1] <= MAX_COLUMNS
