"""The sheet scan (extent and hidden rows from one decompression): hidden rows exactly as the two separate
passes it replaced (the hidden-row reader is kept here verbatim as the reference), extents as the exact scan
reads them (``test_hostile_extent`` holds that to calamine), whatever the chunking; and the inlined cell
normalisation gives what ``normalise_cell`` always gave. No timings: the point of the fast scan is speed,
the point of these tests is that nothing else changed.
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
from chalicelib.domain.tables.readers import MAX_COLUMNS, MAX_SHEET_ROWS, ReaderError, read_grids
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


def new_scan(part: bytes, chunk_size: int, monkeypatch: pytest.MonkeyPatch) -> tuple[str, bool, set[int]]:
    """The part's verdict ("within", "past" the caps, or "unreadable"), whether the exact scan ran, and its
    hidden rows, scanned ``chunk_size`` bytes at a time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", part)
    monkeypatch.setattr(extent, "_SCAN_CHUNK", chunk_size)
    hidden = extent._HiddenRows(set())
    with zipfile.ZipFile(buffer) as archive:
        try:
            scan = extent._scan_part(archive, archive.getinfo("xl/worksheets/sheet1.xml"), hidden)
        except extent.SheetUnreadableError:
            return "unreadable", True, hidden.found
    return ("past" if scan.stopped_early else "within"), scan.exact, hidden.found


def read_singly(part: bytes) -> str:
    """The verdict of the exact scan reading every tag on its own, the part in one piece."""
    try:
        scan = extent._exact_scan([part], bulk=False, budget=10**9)
    except extent.SheetUnreadableError:
        return "unreadable"
    return "past" if scan.past_caps else "within"


def reference_part_hidden(part: bytes) -> frozenset[int]:
    """The inner loop of ``reference_hidden_rows``, for one part."""
    rows = set()
    for row in _ROW.findall(part):
        row_attrs = _attrs(row)
        if row_attrs.get("hidden") in ("1", "true") and row_attrs.get("r", "").isdigit():
            rows.add(int(row_attrs["r"]))
    return frozenset(rows)


def assert_same(part: bytes, chunk_size: int, monkeypatch: pytest.MonkeyPatch, verdict: str | None = None) -> None:
    """``part`` scanned in chunks answers as the exact scan reading tag by tag, or more warily (runs of
    ordinary rows may count further; the fast scan need not notice what calamine itself gives up on), and,
    when it is read, with the hidden rows of the reference."""
    found_verdict, _, found = new_scan(part, chunk_size, monkeypatch)
    single = read_singly(part)
    assert verdict is None or single == verdict
    assert found_verdict == single or (found_verdict, single) in {
        ("past", "within"),
        ("past", "unreadable"),
        ("within", "unreadable"),
    }
    if found_verdict == "within":  # a refused sheet is never read: its hidden rows do not matter
        assert found == reference_part_hidden(part)


# --- the bench workbook ---------------------------------------------------------------------------------


def test_the_bench_workbook_scans_reads_and_hides_as_before() -> None:
    from tests.bench.workbooks import issue_workbook

    data = issue_workbook(1000)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part = archive.read("xl/worksheets/sheet1.xml")
    assert len(part) > extent._SCAN_CHUNK  # two chunks at least
    [scan] = extent.scan_sheets(data)
    assert not scan.exact and not scan.stopped_early  # the fast scan proves it, in every window
    assert extent.survey(data).hidden == reference_hidden_rows(data)

    import python_calamine

    sheet = python_calamine.load_workbook(io.BytesIO(data)).get_sheet_by_index(0)
    raw = sheet.to_python(skip_empty_area=False, nrows=MAX_SHEET_ROWS)
    [grid] = read_grids(data, "清单.xlsx")
    assert grid.cells == [[reference_normalise(v) for v in r[:MAX_COLUMNS]] for r in raw]


# --- hidden rows across chunk boundaries -----------------------------------------------------------------


def _row(n: int, hidden: str = "", prefix: str = "") -> bytes:
    cells = "".join(
        f'<{prefix}c r="{c}{n}" t="inlineStr"><is><t>第{n}行{c}列</t></is></{prefix}c>' for c in "ABCDEFGHIJ"
    )
    return f'<{prefix}row r="{n}" spans="1:10"{hidden}>{cells}</{prefix}row>'.encode()


def test_hidden_rows_whose_tags_straddle_the_chunk_boundary_at_every_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chunk = extent._SCAN_CHUNK
    body, n = [HEAD], 1
    while sum(map(len, body)) < chunk - 4096:
        body.append(_row(n, ' hidden="1"' if n % 97 == 5 else ""))
        n += 1
    filler = b"".join(body)
    straddling = _row(n + 1, ' customHeight="1" hidden="true" ht="30"')
    tag_length = straddling.index(b">") + 1
    later = b"".join(_row(m, ' hidden="1"' if m % 50 == 0 else "") for m in range(n + 2, n + 400))
    for cut in range(-2, tag_length + 2):  # the chunk ends `cut` bytes into the hidden row's start tag
        pad = chunk - cut - len(filler) - len(_row(n))
        part = filler + _row(n) + b" " * pad + straddling + later + FOOT
        assert part[chunk - cut : chunk - cut + 5] == b"<row "
        verdict, exact, found = new_scan(part, chunk, monkeypatch)
        assert (verdict, exact) == ("within", False)
        assert found == reference_part_hidden(part)
        assert n + 1 in found and len(found) > 10


def test_hidden_rows_in_a_multi_megabyte_part_with_tags_at_both_boundaries() -> None:
    chunk = extent._SCAN_CHUNK
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


# --- namespaced tags, rows without r, far and wide cells, formatting-only cells ---------------------------

SHAPES = {
    "namespaced": b"".join(_row(n, ' hidden="1"' if n % 3 == 0 else "", prefix="x:") for n in range(1, 40)),
    "rows without r": b"<row><c><v>1</v></c></row>" * 50 + b'<row hidden="1"><c><v>1</v></c></row>' * 5,
    "namespaced rows without r": b'<x:row spans="1:1"><x:c><x:v>1</x:v></x:c></x:row>' * 60,
    "far cells": _row(1) + b'<row r="19999"><c r="A19999"><v>1</v></c></row><row r="25000" hidden="1">'
    b'<c r="B25000" t="n"><v>2</v></c></row>',
    "far but formatting only": _row(1)  # calamine keeps no empty cells, wherever they lie
    + b'<row r="30000" hidden="1"><c r="A30000" s="3"/></row>'
    + b'<row r="2" hidden="1"><c r="XFD2" s="1"/><x:c r="XFD3" s="1"/></row>',
    "wide cells": _row(1) + b'<row r="2"><c r="CV2"><v>1</v></c><c r="CW2"><v>1</v></c><c r="xfd2"><v>1</v></c></row>',
    "wide and far": b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>',
    "wide namespaced": b'<x:row r="7"><x:c r="DA7" t="n"><x:v>1</x:v></x:c></x:row>' * 30000,
    "eight-digit refs": b'<row r="1"><c r="AB12345678"><v>1</v></c><c r="A020000"><v>1</v></c></row>',
    "text that looks like markup": b'<row r="4" hidden="0"><c r="A4" t="inlineStr"><is><t>row r="XFD30000" '
    b'hidden="1" &lt;row r="99"&gt;</t></is></c></row><rowBreaks count="1"><brk id="30000"/></rowBreaks>',
    "repeated and escaped attributes": b'<row r="8" hidden="1" hidden="0"/><row r="9" x:hidden="1"/>'
    b'<row r="1&#48;" hidden="&#49;"/><row r="11" hidden="true" r="12"/><row hidden="1"/><rows r="13" hidden="1"/>',
    "long open tags": b'<row r="3" pad="'
    + b"p" * 3000
    + b'" hidden="1"><c r="A3" pad="'
    + b"q" * 3000
    + b'" r="XFD3"><v>1</v></c></row>',
    "the last numbered row behind many unnumbered": b'<row r="20150"/>'
    + b"<x:row><x:c><x:v>1</x:v></x:c></x:row>" * 80,
    "a million rows": b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (n, n) for n in range(1, 30001)),
}


VERDICTS = {
    "namespaced": "within",
    "rows without r": "within",
    "namespaced rows without r": "within",
    "far cells": "past",
    "far but formatting only": "within",
    "wide cells": "within",  # 2 rows of 16384 columns: calamine's rectangle stays small
    "wide and far": "past",
    "wide namespaced": "within",  # 30,000 rows all numbered 7
    "eight-digit refs": "past",
    "text that looks like markup": "within",
    "repeated and escaped attributes": "unreadable",  # calamine cannot read r="1&#48;"
    "long open tags": "within",  # calamine takes the second r: XFD3
    "the last numbered row behind many unnumbered": "past",
    "a million rows": "past",
}


@pytest.mark.parametrize(
    ("shape", "chunk_size"),
    [
        (shape, chunk_size)
        for shape in SHAPES
        for chunk_size in (7, 64, 1000, 1025, 4096, extent._SCAN_CHUNK)
        # A few bytes at a time through megabytes says nothing more, and takes long.
        if chunk_size >= 1000 or len(SHAPES[shape]) <= 200_000
    ],
)
def test_each_shape_scans_as_the_exact_scan_reads_it(
    shape: str, chunk_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_same(HEAD + SHAPES[shape] + FOOT, chunk_size, monkeypatch, VERDICTS[shape])


def test_a_row_number_calamine_cannot_read_makes_the_file_unreadable() -> None:
    data = workbook({"xl/worksheets/sheet1.xml": HEAD + b'<row r="\xc2\xb2" hidden="1"/>' + _row(2) + FOOT})
    assert reference_hidden_rows(data) == {}
    with pytest.raises(extent.SheetUnreadableError):
        extent.scan_sheets(data)
    with pytest.raises(ReaderError) as refused:
        read_grids(data, "清单.xlsx")
    assert refused.value.code == "UNREADABLE_FILE"
    import python_calamine

    with pytest.raises(Exception, match="alphanumeric"):  # what calamine says of it
        python_calamine.load_workbook(io.BytesIO(data)).get_sheet_by_index(0)


_cell_refs = st.builds(
    lambda letters, number: f"{letters}{number}",
    st.sampled_from(["A", "j", "CV", "CW", "cz", "DA", "ZZ", "AAA", "XFD", "ABCD"]),
    st.sampled_from([1, 2, 99, 19999, 20000, 20200, 20201, 99999, 123456, 1048576, 12345678]),
)
_tokens = st.one_of(
    st.builds(
        lambda prefix, number, attrs, close: f"<{prefix}row{number}{attrs}{close}",
        st.sampled_from(["", "x:", "ab:"]),
        st.sampled_from(["", ' r="1"', ' r="5"', ' r="20000"', ' r="20201"', ' r="1048576"', ' r="123456789"']),
        st.lists(
            st.sampled_from(
                [
                    ' hidden="1"',
                    ' hidden="true"',
                    ' hidden="0"',
                    ' hidden="&#49;"',
                    ' x:hidden="1"',
                    ' spans="1:3"',
                    ' ht="20" customHeight="1"',
                    ' pad="' + "z" * 1500 + '"',
                    ' a=">"',
                    " hidden='1'",
                ]
            ),
            max_size=3,
        ).map("".join),
        st.sampled_from([">", "/>", " >"]),
    ),
    st.sampled_from(["</row>", "</x:row>", "<rowBreaks/>", "<row", "<", ">", " ", "\n"]),
    st.builds(
        lambda prefix, ref, body: f'<{prefix}c r="{ref}"{body}',
        st.sampled_from(["", "x:"]),
        _cell_refs,
        st.sampled_from([' t="n"><v>1</v></c>', ' s="1"/>', ' s="1" />', "><v>2</v></x:c>", ' t="inlineStr">']),
    ),
    st.builds(lambda ref: f'<t>r="{ref}" hidden="1"</t>', _cell_refs),
    st.text(alphabet='<>/="rowhidenc: 1x', max_size=30),
)


@FUZZ
@given(tokens=st.lists(_tokens, max_size=60), chunk_size=st.integers(min_value=1, max_value=2500))
def test_any_markup_cut_anywhere_scans_as_the_exact_scan_reads_it(
    tokens: list[str], chunk_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_same(HEAD + "".join(tokens).encode() + FOOT, chunk_size, monkeypatch)


# --- which parts are scanned --------------------------------------------------------------------------------

CORNER = HEAD + b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>2</v></c></row>' + FOOT


class NeverLoaded:
    @staticmethod
    def from_filelike(*_: Any) -> Any:
        raise AssertionError("calamine would allocate the whole A1:XFD1048576 rectangle and abort")


@pytest.mark.parametrize(
    ("part", "target"),
    [
        ("xl/worksheets/sheet1.xml", "worksheets/sheet1.xml"),
        ("xl/sheet9.xml", "sheet9.xml"),  # calamine reads a sheet wherever workbook.xml.rels points
        ("xl/other/s.xml", "/xl/other/s.xml"),
        ("XL/Worksheets/Sheet1.xml", "worksheets/sheet1.xml"),  # and finds it case-insensitively
        ("xl\\worksheets\\sheet1.xml", "worksheets/sheet1.xml"),  # or written with backslashes
        ("xl/a&b.xml", "a&amp;b.xml"),  # an escaped target, read as written or unescaped
    ],
)
def test_the_corner_cell_is_refused_wherever_the_sheet_part_lies(
    part: str, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = workbook({part: CORNER}, targets={part: target})
    monkeypatch.setattr(readers, "CalamineWorkbook", NeverLoaded)
    with pytest.raises(readers.ReaderError) as refused:
        read_grids(data, "角落.xlsx")
    assert refused.value.code == "TOO_MANY_ROWS"


def test_a_workbook_that_is_not_ascii_compatible_has_every_xl_part_scanned() -> None:
    data = workbook({"xl/elsewhere.xml": CORNER})
    rewritten = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(rewritten, "w") as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                content = content.decode().encode("utf-16")
            archive.writestr(info, content)
    scans = extent.scan_sheets(rewritten.getvalue())
    assert scans[-1].part == "xl/elsewhere.xml" and scans[-1].stopped_early


def test_each_sheet_gets_its_own_hidden_rows() -> None:
    first = HEAD + _row(1) + _row(2, ' hidden="1"') + FOOT
    second = HEAD + _row(1, ' hidden="1"', prefix="x:") + _row(3) + FOOT
    data = workbook({"xl/worksheets/sheet1.xml": first, "xl/worksheets/sheet2.xml": second})
    assert extent.survey(data).hidden == reference_hidden_rows(data) == {"表1": {2}, "表2": {1}}
    grids = read_grids(data, "两表.xlsx")
    assert [g.hidden_rows for g in grids] == [{2}, {1}]


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
