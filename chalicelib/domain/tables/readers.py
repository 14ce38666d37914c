"""Bytes -> grids of normalised cells, one per sheet, whatever the format.

Normalisation happens here, at the boundary, so the rules never see reader quirks: calamine's
'' for empty becomes None, its floats for whole numbers become ints, midnight datetimes become
dates, text loses surrounding whitespace and Windows line ends. Merged ranges are kept so a
问题方面 merged over several rows can be inherited by each of them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from python_calamine import CalamineWorkbook, SheetVisibleEnum

from chalicelib.domain.tables.extent import SheetScan, Survey, scan_sheets, survey
from chalicelib.domain.tables.limits import (
    MAX_COLUMNS,
    MAX_DATA_ROWS,
    MAX_REFERENCED_SHARED_CHARS,
    MAX_SHEET_CELLS,
    MAX_SHEET_ROWS,
)
from chalicelib.domain.tables.safety import OLE2_MAGIC, ZIP_MAGIC

__all__ = [  # the caps and the scan are re-exported: callers know them as the reader's
    "MAX_COLUMNS",
    "MAX_DATA_ROWS",
    "MAX_SHEET_CELLS",
    "MAX_SHEET_ROWS",
    "Grid",
    "ReaderError",
    "SheetScan",
    "decode_text",
    "normalise_cell",
    "read_grids",
    "scan_sheets",
]

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


def _refuse_past_caps(found: Survey, file_name: str) -> None:
    for scan in found.scans:
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
    if found.shared_chars > MAX_REFERENCED_SHARED_CHARS:
        raise ReaderError(
            "FILE_TOO_COMPLEX",
            f"文件“{file_name}”的单元格文字总量过大（约{found.shared_chars // 10000}万字，"
            f"上限{MAX_REFERENCED_SHARED_CHARS // 10000}万字），通常是同一段长文字被复制到了大量单元格。"
            "请删除重复的长文字，每个单元格只填写该项内容，另存为 .xlsx 后重新上传。",
        )


def _read_spreadsheet(data: bytes, file_name: str, ext: str) -> list[Grid]:
    if not (data.startswith(ZIP_MAGIC) or data.startswith(OLE2_MAGIC)):
        raise ReaderError(
            "UNREADABLE_FILE", f"文件“{file_name}”不是有效的 Excel 文件（可能只是改了扩展名）。{SAVE_AS_XLSX}"
        )
    hidden: dict[str, frozenset[int]] = {}
    if data.startswith(ZIP_MAGIC):
        found = survey(data)
        _refuse_past_caps(found, file_name)
        hidden = found.hidden
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
