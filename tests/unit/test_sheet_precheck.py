"""The pre-check's single streamed pass over each sheet part (``tables/extent.py``): hidden rows exactly as
the plain whole-part reader finds them (kept here verbatim as the reference) whatever the chunking, the
extent and the referenced shared-string characters it measures; and the inlined cell normalisation gives
what ``normalise_cell`` always gave. (Kept from the tests of the removed exact scanner: their intent.)
"""

from __future__ import annotations

import html
import io
import math
import posixpath
import re
import zipfile
from datetime import date, datetime, time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.tables import extent, readers
from chalicelib.domain.tables.readers import MAX_COLUMNS, ReaderError, read_grids
from tests.minimal_xlsx import MAIN, xlsx_package

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --- the reference: the hidden-row reader as it was --------------------------------------------------------

_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*>")


def _attrs(tag: bytes) -> dict[str, str]:
    return {k.decode().split(":")[-1]: html.unescape(v.decode("utf-8", "replace")) for k, v in _ATTR.findall(tag)}


def reference_hidden_rows(data: bytes) -> dict[str, frozenset[int]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
                return {}
            targets = {}
            for tag in _RELATIONSHIP.findall(archive.read("xl/_rels/workbook.xml.rels")):
                attrs = _attrs(tag)
                target = attrs.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
                targets[attrs.get("Id")] = part
            found: dict[str, frozenset[int]] = {}
            for tag in _SHEET.findall(archive.read("xl/workbook.xml")):
                attrs = _attrs(tag)
                part = targets.get(attrs.get("id"))
                if part not in names:
                    continue
                rows = set()
                for row in _ROW.findall(archive.read(part)):
                    row_attrs = _attrs(row)
                    if row_attrs.get("hidden") in ("1", "true") and row_attrs.get("r", "").isdigit():
                        rows.add(int(row_attrs["r"]))
                found[attrs.get("name", "")] = frozenset(rows)
            return found
    except Exception:
        return {}


def reference_normalise(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        return text or None
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, date | int):
        return value
    return str(value)


# --- workbooks ------------------------------------------------------------------------------------------

HEAD = f'<?xml version="1.0"?><worksheet xmlns="{MAIN}" xmlns:x="{MAIN}"><sheetData>'.encode()
FOOT = b"</sheetData></worksheet>"


def workbook(sheets: dict[str, bytes], targets: dict[str, str] | None = None) -> bytes:
    """Sheets by part name; ``targets`` overrides what workbook.xml.rels says for a part (default: relative)."""
    return xlsx_package(sheets, targets=targets)


def _row(n: int, hidden: str = "", prefix: str = "") -> bytes:
    cells = "".join(
        f'<{prefix}c r="{c}{n}" t="inlineStr"><is><t>第{n}行{c}列</t></is></{prefix}c>' for c in "ABCDEFGHIJ"
    )
    return f'<{prefix}row r="{n}" spans="1:10"{hidden}>{cells}</{prefix}row>'.encode()


@pytest.mark.parametrize("chunk_size", [7, 64, 1000, 4096])
def test_hidden_rows_are_the_same_whatever_the_chunking(monkeypatch: pytest.MonkeyPatch, chunk_size: int) -> None:
    part = HEAD + b"".join(_row(n, ' hidden="1"' if n % 7 == 3 else "") for n in range(1, 120)) + FOOT
    data = workbook({"xl/worksheets/sheet1.xml": part})
    monkeypatch.setattr(extent, "_CHUNK", chunk_size)
    assert extent.survey(data).hidden == reference_hidden_rows(data)
    assert extent.survey(data).hidden["表1"] == {n for n in range(1, 120) if n % 7 == 3}


def test_hidden_rows_in_a_multi_megabyte_part_with_tags_at_both_boundaries() -> None:
    chunk = extent._CHUNK
    body, at, straddling, hide = [HEAD], len(HEAD), set(), set(range(1, 4000, 211))
    for n in range(1, 4000):
        for into, boundary in ((10, chunk), (25, 2 * chunk)):  # the boundary falls this far into the tag
            if at <= boundary - into < at + len(_row(n, ' hidden="1"')):
                body.append(b" " * (boundary - into - at))
                at = boundary - into
                straddling.add(n)
                hide |= {n, n + 1}
        row = _row(n, ' hidden="1"' if n in hide else "")
        body.append(row)
        at += len(row)
    part = b"".join(body) + FOOT
    assert len(part) > 2 * chunk and len(straddling) == 2
    data = workbook({"xl/worksheets/sheet1.xml": part})
    expected = reference_hidden_rows(data)
    assert expected["表1"] == hide
    assert extent.survey(data).hidden == expected


def test_each_sheet_gets_its_own_hidden_rows() -> None:
    first = HEAD + _row(1) + _row(2, ' hidden="1"') + FOOT
    second = HEAD + _row(1, ' hidden="1"', prefix="x:") + _row(3) + FOOT
    data = workbook({"xl/worksheets/sheet1.xml": first, "xl/worksheets/sheet2.xml": second})
    assert extent.survey(data).hidden == reference_hidden_rows(data) == {"表1": {2}, "表2": {1}}
    grids = read_grids(data, "两表.xlsx")
    assert [g.hidden_rows for g in grids] == [{2}, {1}]


def test_the_extent_counts_cells_with_values_only() -> None:
    formatted = HEAD + _row(1) + b'<row r="65536"><c r="Z65536" s="3"/><c r="AA65536" s="3"></c></row>' + FOOT
    [scan] = extent.scan_sheets(workbook({"xl/worksheets/sheet1.xml": formatted}))
    assert (scan.rows, scan.columns) == (1, 10)
    far = HEAD + _row(1) + b'<row r="30000"><c r="B30000" t="n"><v>1</v></c></row>' + FOOT
    with pytest.raises(ReaderError) as refused:
        read_grids(workbook({"xl/worksheets/sheet1.xml": far}), "远.xlsx")
    assert refused.value.code == "TOO_MANY_ROWS" and "30000" in refused.value.message


def test_referenced_shared_string_characters_are_counted_per_reference() -> None:
    shared = f'<sst xmlns="{MAIN}"><si><t>问题表现</t></si><si><r><t>整改</t></r><r><t>措施</t></r></si></sst>'
    cells = '<c r="A{n}" t="s"><v>0</v></c><c r="B{n}" t="s"><v>1</v></c><c r="C{n}" t="n"><v>7</v></c>'
    rows = "".join(f'<row r="{n}">{cells.format(n=n)}</row>' for n in range(1, 11))
    data = xlsx_package({"xl/worksheets/sheet1.xml": HEAD + rows.encode() + FOOT}, shared_strings=shared)
    assert extent.survey(data).shared_chars == 10 * (4 + 4)


# --- the extent in bulk: one findall, against the per-cell loop ---------------------------------------------

# Pieces of cells as writers and hostile files write them; glued at random, they also make tags that are cut,
# nested or unbalanced. A cell written as Excel writes it takes the bulk path, any other sends its buffer
# through the per-cell loop, and the figures must be the same either way.
_CELL_PIECES = [
    '<c r="B7" s="3" t="s"><v>1</v></c>',
    '<c r="A12" t="s"><v>0</v></c>',
    '<c r="XFD1048576" t="s"><v>2</v></c>',
    '<c r="AA3" t="inlineStr"><is><t>问题</t></is></c>',
    '<c r="C2"><f>A2+1</f><v>2</v></c>',
    '<c r="Q15" t="str"><v>2</v></c>',
    '<c r="D9" t="s"><f>X</f><v>1</v></c>',
    '<c r="E4" s="1"/>',
    '<c r="F5" s="1"></c>',
    '<c r="G6" t="s"><v> 1 </v></c>',
    '<c r="H7" t="s">\n <v>2</v></c>',
    "<c r='I8' t='s'><v>0</v></c>",
    '<c r="j9" t="s"><v>1</v></c>',
    '<x:c r="K10" t="s"><x:v>2</x:v></x:c>',
    '<c t="s" r="L11"><v>0</v></c>',
    '<c r="M12" r="N99" t="s"><v>1</v></c>',
    '<c s="2"><v>5</v></c>',
    '<c r="O13" t="s"><v>99</v></c>',
    '<c r="P14" t="s"><v>1234567890</v></c>',
    '<c r="R16" t="s"><v:f>1</v:f></c>',
    '<c r="S17" t="s"><is:v>1</is:v></c>',
    '<c r="T18" t = "s" ><v>1</v></c>',
    '<row r="3">',
    "</row>",
    '<c r="U19"',
    "><v>",
    "<v>1<",
    ' t="s"',
    ">",
    "<",
]


@FUZZ
@given(
    pieces=st.one_of(
        st.lists(st.sampled_from(_CELL_PIECES), max_size=40),
        st.lists(st.sampled_from(_CELL_PIECES[:6]), max_size=40),  # only cells as Excel writes them: the bulk path
    ),
    lengths=st.sampled_from([[], [4, 7, 11], [1]]),
)
def test_the_extent_in_bulk_is_the_per_cell_loop(pieces: list[str], lengths: list[int]) -> None:
    buffer = "".join(pieces).encode()
    assert extent._scan_cells(buffer, lengths) == extent._scan_cells_one_by_one(buffer, lengths)


def test_cells_as_excel_writes_them_take_the_bulk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    cells = "".join(
        f'<row r="{n}"><c r="A{n}" s="1" t="s"><v>{n % 3}</v></c><c r="B{n}"><f>A1</f><v>3</v></c>'
        f'<c r="C{n}" t="inlineStr"><is><t>问题</t></is></c></row>'
        for n in range(1, 200)
    ).encode()
    expected = extent._scan_cells_one_by_one(cells, [4, 7, 11])

    def refused(buffer: bytes, lengths: list[int]) -> tuple[int, int, int]:
        raise AssertionError("per-cell loop taken for cells written as Excel writes them")

    monkeypatch.setattr(extent, "_scan_cells_one_by_one", refused)
    assert extent._scan_cells(cells, [4, 7, 11]) == expected == (199, 3, sum((4, 7, 11)[n % 3] for n in range(1, 200)))


# --- the cell normalisation -------------------------------------------------------------------------------

_values = st.one_of(
    st.none(),
    st.text(alphabet=" \t\r\n\u3000\x0b\x1cab问题", max_size=12),
    st.text(max_size=20),
    st.sampled_from(["", " ", "\r", "\r\n", "a\rb", "a\r\nb\r", " 长期坚持 \r\n", "\u2028x"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70).map(float),
    st.integers(),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.dates().map(lambda d: datetime(d.year, d.month, d.day)),
    st.times(),
    st.sampled_from([time(0, 0), b"bytes", 1.5j]),
)


def _same(left: list[Any], right: list[Any]) -> bool:
    return len(left) == len(right) and all(
        type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))
        for a, b in zip(left, right, strict=True)
    )


@FUZZ
@given(values=st.lists(_values, max_size=130))
def test_a_row_is_normalised_exactly_as_cell_by_cell(values: list[Any]) -> None:
    expected = [reference_normalise(v) for v in values[:MAX_COLUMNS]]
    assert _same(readers._row(values), expected)
    assert _same([readers.normalise_cell(v) for v in values[:MAX_COLUMNS]], expected)
