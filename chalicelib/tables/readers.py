"""Bytes -> grids of normalised cells, one per sheet, whatever the format.

Normalisation happens here, at the boundary, so the rules never see reader quirks: calamine's
'' for empty becomes None, its floats for whole numbers become ints, midnight datetimes become
dates, text loses surrounding whitespace and Windows line ends. Merged ranges are kept so a
问题方面 merged over several rows can be inherited by each of them.
"""

from __future__ import annotations

import csv
import html
import io
import json
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from python_calamine import CalamineWorkbook, SheetVisibleEnum

from chalicelib.tables.hidden import collect_hidden, sheet_parts
from chalicelib.tables.safety import OLE2_MAGIC, ZIP_MAGIC

MAX_DATA_ROWS = 20_000
MAX_SHEET_ROWS = MAX_DATA_ROWS + 200  # title, header and footer lines on top of the data
MAX_COLUMNS = 100
SPREADSHEET_EXTENSIONS = ("xlsx", "xlsm", "xls", "et")
EXTENSIONS = (*SPREADSHEET_EXTENSIONS, "csv", "json")

SAVE_AS_XLSX = "请在 Excel 或 WPS 中打开后选择 文件→另存为→Excel 工作簿（*.xlsx），再上传 .xlsx 文件。"


class ReaderError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Grid:
    """One sheet. ``cells[i][j]`` is row i, column j (0-based); Excel shows row i as ``i + first_row``."""

    name: str | None
    cells: list[list[Any]]
    merged: tuple[tuple[int, int, int, int], ...] = ()  # (first row, first col, last row, last col), 0-based
    fill_down: bool = False  # no merge information (csv): an empty fill_down cell means "same as above"
    truncated: bool = False
    first_row: int = 1
    hidden_rows: frozenset[int] = frozenset()  # Excel row numbers (xlsx only)
    header_values: dict[str, Any] = field(default_factory=dict)

    def row_number(self, index: int) -> int:
        return index + self.first_row


def extension_of(file_name: str) -> str:
    return file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""


def normalise_cell(value: Any) -> Any:
    if type(value) is float:  # calamine's numbers; checked first, as the commonest after text
        return int(value) if value.is_integer() else value
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


def _row(values: list[Any]) -> list[Any]:
    # Most cells are text (calamine's '' for empty included): stripped inline, without a call per cell.
    # Only text with a \r needs the line-end rewrite, so only that goes through normalise_cell.
    return [
        (v.strip() or None) if type(v) is str and "\r" not in v else normalise_cell(v) for v in values[:MAX_COLUMNS]
    ]


def read_grids(data: bytes, file_name: str) -> list[Grid]:
    """Every visible sheet of the file; raises ``ReaderError`` with a Chinese message, never anything else."""
    ext = extension_of(file_name)
    try:
        if ext == "csv":
            return [_read_csv(data, file_name)]
        if ext == "json":
            return [_read_json(data, file_name)]
        if ext in SPREADSHEET_EXTENSIONS:
            return _read_spreadsheet(data, file_name, ext)
    except ReaderError:
        raise
    except Exception as exc:  # any parser failure is the user's file, not our crash
        if ext == "et":
            raise ReaderError("UNREADABLE_FILE", f"无法读取 WPS 表格文件“{file_name}”。{SAVE_AS_XLSX}") from exc
        raise ReaderError(
            "UNREADABLE_FILE", f"无法读取文件“{file_name}”，文件可能已损坏或格式与扩展名不符。{SAVE_AS_XLSX}"
        ) from exc
    raise ReaderError(
        "UNSUPPORTED_FORMAT",
        f"不支持“.{ext or '无扩展名'}”格式的文件“{file_name}”，请上传 .xlsx（推荐）、.xls、.csv 或 .json 文件。",
    )


# calamine loads a sheet as one dense rectangle from A1 to the last non-empty cell: a 1.4 KB .xlsx with
# values in A1 and XFD1048576 asks it for 512 GB and aborts the process (no exception to catch), and a
# million real rows are all loaded before ``nrows`` cuts them. So every part calamine may read as a sheet
# is scanned first, streamed, by byte patterns that only match cells beyond the caps (the regex engine
# skips ordinary cells in C), and the scan stops at the first cell past the row cap. Cells written as
# ``<c …/>`` carry formatting only; calamine skips them, and so does the scan. Hidden rows are looked for
# in the same pass: decompressing a part is a good share of the scan's cost, so it is done once.
MAX_SHEET_CELLS = MAX_SHEET_ROWS * MAX_COLUMNS
# One pattern for both kinds of cell (two passes cost twice): from row 20000 on (groups 1-2), or columns
# past CV, the 100th (groups 3-4). It starts with a literal, so the engine jumps from ``r="`` to ``r="``.
_FAR_OR_WIDE = re.compile(
    rb'r="(?:([A-Za-z]{1,3})(\d{6,}|[2-9]\d{4})|([A-Za-z]{3}|[D-Zd-z][A-Za-z]|[Cc][W-Zw-z])(\d{1,7}))"'
)
_ROW_TAG = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d{1,7})"')
_SCAN_CHUNK = 1024 * 1024
_SCAN_OVERLAP = 1024
_ROW_TAG_LOOKBACK = 64  # bytes before a chunk searched for its last row tag, as before
_ROW_TAG_TRIES = 32  # row-like candidates tried from the end before falling back to a full findall
# Which parts calamine opens as sheets: workbook.xml's <sheet r:id> -> workbook.xml.rels' Target, found
# case-insensitively and with backslashes read as slashes, wherever it lies. Read liberally (either
# quote, spaces around "=", any prefix), so a sheet part outside xl/worksheets/ is scanned too.
_SHEET_TAG = re.compile(rb"""<(?:[\w.-]+:)?sheet[\s/>](?:[^>"']|"[^"]*"|'[^']*')*""")
_ID = re.compile(rb"""\bid\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_RELATIONSHIP_TAG = re.compile(rb"""<(?:[\w.-]+:)?Relationship[\s/>](?:[^>"']|"[^"]*"|'[^']*')*""")
_REL_ID = re.compile(rb"""\bId\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TARGET = re.compile(rb"""\bTarget\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - ord("A") + 1
    return number


def _holds_content(window: bytes, match: re.Match[bytes]) -> bool:
    """The reference is a cell's (``<c`` or ``<x:c``) and the tag is not self-closing (formatting only)."""
    start = window.rfind(b"<", 0, match.start())
    name = window[start + 1 : match.start()].split(None, 1)[0] if start >= 0 else b""
    end = window.find(b">", match.end())
    return name.split(b":")[-1] == b"c" and end > 0 and window[end - 1 : end] != b"/"


def _last_row_number(window: bytes, start: int) -> int | None:
    """The number of the last ``_ROW_TAG`` match in ``window[start:]``, as ``findall(...)[-1]`` would give.

    Searched from the end: only the last tag counts, and a findall over the whole chunk cost as much as
    the rest of the scan (its pattern has no literal prefix, so it is tried at every ``<``). A tag can
    only open at the ``<`` nearest before a ``row``; a later match position than findall's last one
    lies inside that match and reads the same r="…". After a few misses (rows without r, or ``row`` in
    text) it falls back to findall, so a crafted chunk costs no more than before.
    """
    end = len(window)
    for _ in range(_ROW_TAG_TRIES):
        at = window.rfind(b"row", start, end)
        opening = window.rfind(b"<", start, at) if at > start else -1
        if opening < 0:
            return None
        tag = _ROW_TAG.match(window, opening)
        if tag:
            return int(tag.group(1))
        end = opening
    tags = _ROW_TAG.findall(window, start)
    return int(tags[-1]) if tags else None


@dataclass(frozen=True)
class SheetScan:
    part: str
    rows: int  # the last row seen (a row tag or a far cell), or where the scan stopped
    columns: int  # the widest column seen beyond MAX_COLUMNS, else 0
    stopped_early: bool


def _scan_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, hidden: set[int] | None = None) -> SheetScan:
    """The part's extent; with a ``hidden`` set, also adds its hidden rows to it (raises if that fails)."""
    rows = columns = row_tags = 0
    carried = 0  # bytes at the end of the last window not yet judged for hidden rows (an open tag)
    carry = b""  # those bytes, when the next window's overlap does not hold them all
    with archive.open(info) as part:
        tail = b""
        while chunk := part.read(_SCAN_CHUNK):
            window = tail + chunk
            for match in _FAR_OR_WIDE.finditer(window):
                if not _holds_content(window, match):
                    continue
                far_letters, far_row, wide_letters, wide_row = match.groups()
                if far_letters is not None:
                    rows = max(rows, int(far_row))
                    # A far cell can be wide too (XFD1048576); the column pattern caps rows at 7 digits.
                    if len(far_row) <= 7 and _column_number(far_letters) > MAX_COLUMNS:
                        columns = max(columns, _column_number(far_letters))
                else:
                    columns = max(columns, _column_number(wide_letters))
                    rows = max(rows, int(wide_row))
            last = _last_row_number(window, max(len(window) - len(chunk) - _ROW_TAG_LOOKBACK, 0))
            if last is not None:
                rows = max(rows, last)
            # Rows without an r attribute are numbered by position: count the row tags too.
            row_tags += chunk.count(b"<row") + chunk.count(b":row ")
            rows = max(rows, row_tags)
            if rows > MAX_SHEET_ROWS or rows * columns > MAX_SHEET_CELLS:
                return SheetScan(info.filename, rows, columns, stopped_early=True)
            if hidden is not None:
                # The carried bytes are almost always in the overlap already: judge the window from there.
                buffer, start = (window, len(tail) - carried) if carried <= len(tail) else (carry + chunk, 0)
                judged = collect_hidden(buffer, hidden, start)
                carried = len(buffer) - judged
            tail = window[-_SCAN_OVERLAP:]
            if hidden is not None and carried > len(tail):
                carry = buffer[judged:]
    return SheetScan(info.filename, rows, columns, stopped_early=False)


def _first_value(match: re.Match[bytes]) -> bytes:
    return match.group(1) if match.group(1) is not None else match.group(2)


def _named(archive: zipfile.ZipFile, name: str) -> list[bytes]:
    return [archive.read(i) for i in archive.infolist() if i.filename.replace("\\", "/").lower() == name]


def _sheet_targets(archive: zipfile.ZipFile) -> set[str] | None:
    """Lower-cased paths calamine may open as sheets; None when the workbook is not ASCII-compatible XML
    (UTF-16 …), and then every part under xl/ is scanned."""
    workbooks, relationships = _named(archive, "xl/workbook.xml"), _named(archive, "xl/_rels/workbook.xml.rels")
    if any(b"\0" in text for text in (*workbooks, *relationships)):
        return None
    ids = {_first_value(m) for w in workbooks for tag in _SHEET_TAG.findall(w) for m in _ID.finditer(tag)}
    paths: set[str] = set()
    for tag in (tag for r in relationships for tag in _RELATIONSHIP_TAG.findall(r)):
        if not any(_first_value(m) in ids for m in _REL_ID.finditer(tag)):
            continue
        for match in _TARGET.finditer(tag):
            raw = _first_value(match).decode("utf-8", "replace")
            for target in {raw, html.unescape(raw)}:  # calamine takes the value as written; a later one may not
                # calamine's resolution, then the package's (what hidden.sheet_parts resolves).
                paths.add(
                    target[1:] if target.startswith("/xl/") else target if target.startswith("xl/") else f"xl/{target}"
                )
                paths.add(target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}"))
    return {path.lower() for path in paths}


def _is_sheet_part(name: str, targets: set[str] | None) -> bool:
    name = name.replace("\\", "/").lower()
    if targets is None:
        return name.startswith("xl/")
    return (name.startswith("xl/worksheets/") and name.endswith(".xml")) or name in targets


@dataclass(frozen=True)
class _Survey:
    scans: list[SheetScan]
    hidden: dict[str, frozenset[int]]  # sheet name -> hidden Excel rows, as hidden.hidden_rows gives


def _survey(data: bytes, with_hidden: bool = True) -> _Survey:
    """Every sheet part's extent (stopping at the first past the caps) and, in the same pass, hidden rows."""
    scans: list[SheetScan] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            sheets = sheet_parts(archive) if with_hidden else []
        except Exception:  # visibility is a nicety: never let it fail an upload
            sheets, with_hidden = [], False
        wanted = {part for _, part in sheets}
        targets = _sheet_targets(archive)
        hidden_by_part: dict[str, frozenset[int]] = {}
        for info in archive.infolist():
            if not (_is_sheet_part(info.filename, targets) or info.filename in wanted):
                continue
            if with_hidden and info.filename in wanted:
                found: set[int] = set()
                try:
                    scans.append(_scan_part(archive, info, found))
                    hidden_by_part[info.filename] = frozenset(found)
                except Exception:
                    # A hidden-row surprise clears visibility (as hidden_rows does); a zip error is the scan's.
                    with_hidden = False
                    scans.append(_scan_part(archive, info))
            else:
                scans.append(_scan_part(archive, info))
            if scans[-1].stopped_early:
                break
    hidden = {name: hidden_by_part[part] for name, part in sheets if part in hidden_by_part} if with_hidden else {}
    return _Survey(scans, hidden)


def scan_sheets(data: bytes) -> list[SheetScan]:
    """Each sheet part's extent as far as the caps care; streamed, stopping at the first part past them."""
    return _survey(data, with_hidden=False).scans


def _refuse_past_caps(scans: list[SheetScan], file_name: str) -> None:
    for scan in scans:
        if scan.rows > MAX_SHEET_ROWS:
            raise ReaderError(
                "TOO_MANY_ROWS",
                f"文件“{file_name}”的表格超过{MAX_DATA_ROWS}行的上限（第{scan.rows}行仍有内容），"
                "请删除多余内容（包括表格下方零散的内容）或分文件上传。",
            )
        if scan.rows * scan.columns > MAX_SHEET_CELLS:
            raise ReaderError(
                "FILE_TOO_COMPLEX",
                f"文件“{file_name}”的表格范围过大（第{scan.columns}列仍有内容），"
                f"请删除表格右侧多余的列（最多{MAX_COLUMNS}列）后另存为 .xlsx 重新上传。",
            )


def _check_extents(data: bytes, file_name: str) -> None:
    _refuse_past_caps(scan_sheets(data), file_name)


def _read_spreadsheet(data: bytes, file_name: str, ext: str) -> list[Grid]:
    if not (data.startswith(ZIP_MAGIC) or data.startswith(OLE2_MAGIC)):
        raise ReaderError(
            "UNREADABLE_FILE", f"文件“{file_name}”不是有效的 Excel 文件（可能只是改了扩展名）。{SAVE_AS_XLSX}"
        )
    hidden: dict[str, frozenset[int]] = {}
    if data.startswith(ZIP_MAGIC):
        survey = _survey(data)
        _refuse_past_caps(survey.scans, file_name)
        hidden = survey.hidden
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    grids = []
    for meta in workbook.sheets_metadata:
        if meta.visible != SheetVisibleEnum.Visible:
            continue  # hidden sheets hold lookup lists or old drafts, not the submission
        sheet = workbook.get_sheet_by_name(meta.name)
        # Absolute coordinates: row 0 is Excel row 1 even when the sheet starts lower down.
        raw = sheet.to_python(skip_empty_area=False, nrows=MAX_SHEET_ROWS)
        merged = tuple((r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or ()))
        grids.append(
            Grid(
                name=meta.name,
                cells=[_row(r) for r in raw],
                merged=merged,
                truncated=sheet.end is not None and sheet.end[0] + 1 > MAX_SHEET_ROWS,
                hidden_rows=hidden.get(meta.name, frozenset()),
            )
        )
    return grids


def decode_text(data: bytes, file_name: str) -> str:
    """UTF-8 (with or without BOM) when it decodes strictly, else GB18030 (what Excel in China saves)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ReaderError(
        "UNREADABLE_FILE", f"文件“{file_name}”的文字编码无法识别，请用 Excel 另存为“CSV UTF-8（逗号分隔）”或 .xlsx。"
    )


def _read_csv(data: bytes, file_name: str) -> Grid:
    text = decode_text(data, file_name)
    sample = text[:4096]
    delimiter = max((",", "\t", ";"), key=sample.count)
    rows: list[list[Any]] = []
    truncated = False
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        if len(rows) >= MAX_SHEET_ROWS:
            truncated = True
            break
        rows.append(_row(row))
    name = file_name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return Grid(name=name, cells=rows, fill_down=True, truncated=truncated)


def _json_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return normalise_cell(value)


def _read_json(data: bytes, file_name: str) -> Grid:
    """``[{...}, ...]`` or ``{"header": {...}, "rows": [...]}``; keys are field ids or column labels.

    Turned into a grid with the keys as a one-row header, so one pipeline validates every format;
    ``first_row=0`` makes item 1 "row 1".
    """
    try:
        document = json.loads(decode_text(data, file_name))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ReaderError("UNREADABLE_FILE", f"文件“{file_name}”不是有效的 JSON：{exc}") from exc
    header: Any = {}
    rows: Any = document
    if isinstance(document, dict):
        header, rows = document.get("header") or {}, document.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows) or not isinstance(header, dict):
        raise ReaderError(
            "UNREADABLE_FILE",
            f'文件“{file_name}”的 JSON 结构不符合要求：应为行对象的列表，或 {{"header": {{...}}, "rows": [...]}}。',
        )
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    keys = keys[:MAX_COLUMNS]
    cells = [list(keys)] + [[_json_cell(row.get(k)) for k in keys] for row in rows[:MAX_DATA_ROWS]]
    return Grid(
        name=None,
        cells=cells,
        truncated=len(rows) > MAX_DATA_ROWS,
        first_row=0,
        header_values={k: _json_cell(v) for k, v in header.items()},
    )
