"""Validate an uploaded campaign table (附件2/3/4, typical cases) without any storage or AWS.

``validate_table`` takes the bytes and the file name as uploaded and returns a ``TableVerdict``:
whether the file is accepted, the normalised rows, and findings that say in Chinese where
(sheet, Excel row, column) and what to fix. It never raises for anything in the file.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.findings import Finding
from chalicelib.domain.tables.header import HeaderMatch, find_header, header_lines
from chalicelib.domain.tables.readers import MAX_DATA_ROWS, Grid, ReaderError, read_grids
from chalicelib.domain.tables.rules import check_rows, footer_findings, named_unit
from chalicelib.domain.tables.safety import check_container
from chalicelib.domain.tables.templates import Template, load_template, template_ids
from chalicelib.domain.tables.values import display_text, parse_date, squash

__all__ = ["TableVerdict", "validate_table"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableVerdict:
    accepted: bool
    rows: tuple[dict[str, Any], ...]  # rows without errors; keys = column ids, plus "row" and "sheet"
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    header: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Validation builds tens of thousands of rows, cells and readings, none of them in a reference cycle;
    the cyclic collector's passes over them (each pass over everything alive, more often as they pile up)
    find nothing and cost up to a fifth of the time. It is paused meanwhile and resumed after, when it
    collects whatever cycles the validation left (a caught exception's traceback); if something else
    had paused it, it stays paused."""
    paused_here = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused_here:
            gc.enable()


def _rejected(*errors: Finding) -> TableVerdict:
    return TableVerdict(accepted=False, rows=(), errors=tuple(errors), warnings=())


def validate_table(
    data: bytes,
    file_name: str,
    template_id: str,
    *,
    unit_names: Iterable[str] = (),
    other_units: Iterable[Iterable[str]] | None = None,
    campaign_year: int = 2023,
) -> TableVerdict:
    """Check one uploaded file against a template; ``unit_names`` are the uploading unit's names and aliases,
    ``other_units`` the other units' (then a 填报单位 that names no unit of the campaign is a warning, not an
    error: it may be a body of the unit the data does not list yet)."""
    template = load_template(template_id)  # an unknown id is our bug: let TemplateError surface
    try:
        with _collector_paused():
            others = None if other_units is None else tuple(tuple(names) for names in other_units)
            return _validate(data, file_name, template, tuple(unit_names), others, campaign_year)
    except (MemoryError, RecursionError):
        raise  # the file asks too much: the sandbox running this says so (FILE_TOO_COMPLEX)
    except Exception:
        # A file that trips a bug still gets an answer (and a log line for us) instead of a failed upload.
        log.exception("validating %s against %s failed", file_name, template.id)
        return _rejected(
            Finding(
                "UNREADABLE_FILE",
                f"系统无法处理文件“{file_name}”。请另存为新的 .xlsx 文件后重新上传；如仍有问题请联系市交通运输局。",
            )
        )


def _validate(
    data: bytes,
    file_name: str,
    template: Template,
    names: tuple[str, ...],
    others: tuple[tuple[str, ...], ...] | None,
    campaign_year: int,
) -> TableVerdict:
    refused = check_container(data, file_name)
    if refused:
        return _rejected(*refused)
    try:
        grids = read_grids(data, file_name)
    except ReaderError as exc:
        return _rejected(Finding(exc.code, exc.message))

    matches = [(grid, find_header(grid, template)) for grid in grids]
    complete = [(grid, m) for grid, m in matches if m is not None and not m.missing]
    if not complete:
        return _rejected(*_no_table(template, grids, matches, file_name))

    rows: list[dict[str, Any]] = []
    errors: list[Finding] = []
    warnings: list[Finding] = []
    header: dict[str, Any] = {}
    for grid, match in complete:
        if grid.truncated:
            errors.append(
                Finding("TOO_MANY_ROWS", f"数据超过{MAX_DATA_ROWS}行，请删除多余内容或分文件上传。", grid.name)
            )
            continue
        result = check_rows(grid, match, template, year=campaign_year, unit_names=names)
        rows += result.rows
        errors += result.errors
        warnings += result.warnings
        if template.header_lines and not header:
            found, line_errors, line_warnings = _header_lines(grid, match, names, others, campaign_year)
            header.update(found)
            errors += line_errors
            warnings += line_warnings
        if template.footer and not any(k in header for k in ("reviewer", "contact", "phone")):
            foot_errors, foot_warnings = footer_findings(template, result.footer, grid.name)
            errors += foot_errors
            warnings += foot_warnings
            for key, (value, _number) in result.footer.items():
                header[key] = display_text(value) or None
    if not rows and not errors and _says_nothing_to_report(template, [grid for grid, _ in complete]):
        header["nothing_to_report"] = True  # 本月无典型案例: the month's answer, with no rows
    elif not rows and not errors:
        errors.append(
            Finding(
                "NO_DATA_ROWS",
                f"文件“{file_name}”中没有填写任何数据行，请按{template.name}模板在表头下方逐行填写后重新上传。",
                complete[0][0].name,
            )
        )
    # Another unit's file is the first thing to say: every other finding is about someone else's list.
    errors.sort(key=lambda finding: finding.code != "UNIT_MISMATCH")
    return TableVerdict(
        accepted=not errors, rows=tuple(rows), errors=tuple(errors), warnings=tuple(warnings), header=header
    )


def _says_nothing_to_report(template: Template, grids: list[Grid]) -> bool:
    """Some cell of the sheet (a title line, a row under the header, a note) says there is nothing to list."""
    pattern = template.nothing_to_report
    if pattern is None:
        return False
    return any(
        type(cell) is str and pattern.search(squash(cell)) is not None
        for grid in grids
        for row in grid.cells
        for cell in row
    )


def _header_lines(
    grid: Grid, match: HeaderMatch, names: tuple[str, ...], others: tuple[tuple[str, ...], ...] | None, year: int
) -> tuple[dict[str, Any], list[Finding], list[Finding]]:
    """填报时间 and 填报单位 above the table; JSON brings them as {"header": {...}}."""
    raw = {key: (value, None) for key, value in grid.header_values.items()} or header_lines(grid, match)
    errors: list[Finding] = []
    warnings: list[Finding] = []
    found: dict[str, Any] = {}
    value, number = raw.get("filled_on", (None, None))
    if value is None:
        warnings.append(Finding("FILLED_ON_MISSING", "未填写填报时间，请在表头填写，如 2023年5月18日。", grid.name))
    else:
        when = parse_date(value, year)
        found["filled_on"] = when.isoformat() if when else display_text(value)
        if when is None:
            warnings.append(
                Finding(
                    "FILLED_ON_INVALID",
                    f"填报时间“{display_text(value)}”无法识别为日期，请填写如 2023年5月18日。",
                    grid.name,
                    number,
                    "填报时间",
                )
            )
    value, number = raw.get("unit", (None, None))
    if value is None:
        warnings.append(Finding("UNIT_MISSING", "未填写填报单位，请在表头填写本单位名称并盖章。", grid.name))
    else:
        found["unit"] = display_text(value)
        named = named_unit(found["unit"], names, others or ()) if names else "own"
        if named is None and others is not None:
            warnings.append(
                Finding(
                    "UNIT_UNRECOGNISED",
                    f"填报单位“{found['unit']}”不是登记的单位名称（{names[0]}），已按上传单位接收；"
                    "如确属本单位，请在下次填报时写明本单位全称。",
                    grid.name,
                    number,
                    "填报单位",
                )
            )
        elif named != "own":
            errors.append(
                Finding(
                    "UNIT_MISMATCH",
                    f"填报单位“{found['unit']}”与上传单位（{names[0]}）不一致，请核对是否传错文件或上传链接。",
                    grid.name,
                    number,
                    "填报单位",
                )
            )
    for key in ("reviewer", "contact", "phone"):
        if key in grid.header_values:
            found[key] = display_text(grid.header_values[key]) or None
    return found, errors, warnings


def _no_table(
    template: Template, grids: list[Grid], matches: list[tuple[Grid, HeaderMatch | None]], file_name: str
) -> list[Finding]:
    """Why no sheet holds the table: another template's header, missing columns, or no header at all."""
    expected = "、".join(c.label for c in template.columns)
    for other_id in template_ids():
        if other_id == template.id:
            continue
        other = load_template(other_id)
        for grid in grids:
            found = find_header(grid, other)
            if found is not None and not found.missing:
                return [
                    Finding(
                        "WRONG_TEMPLATE",
                        f"文件“{file_name}”的表头是“{other.name}”，但本次应上传“{template.name}”。"
                        f"请使用该模板（列：{expected}）填写后重新上传。",
                        grid.name,
                        grid.row_number(found.top),
                    )
                ]
    partial = [(g, m) for g, m in matches if m is not None]
    if partial:
        grid, match = max(partial, key=lambda gm: gm[1].score)
        return [
            Finding(
                "MISSING_COLUMN",
                f"表头缺少“{column.label}”列，请使用{template.name}模板，不要删除或改名模板中的列。",
                grid.name,
                grid.row_number(match.top),
                column.label,
            )
            for column in match.missing
        ]
    return [
        Finding(
            "HEADER_NOT_FOUND",
            f"文件“{file_name}”中未找到“{template.name}”的表头（应包含：{expected}），"
            "请使用下发的模板填写，表头文字不要修改。",
        )
    ]
