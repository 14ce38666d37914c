"""Row rules: cells -> one normalised row per data row, plus findings.

What a JSON Schema can say (filled in, phone pattern, date shape, stage result when not done)
is in ``schemas/<row_schema>.schema.json`` and applied to the normalised row; its ``x-code`` /
``x-message`` keywords carry the Chinese finding. What needs configuration or context (aspects,
real calendar dates, campaign year, sequence, repeats across rows, the unit) is here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.fast_schema import fast_check
from chalicelib.receipts import Finding
from chalicelib.schemas import validator
from chalicelib.tables.header import HeaderMatch, footer_field, footer_values
from chalicelib.tables.readers import MAX_DATA_ROWS, Grid
from chalicelib.tables.templates import Column, Template
from chalicelib.tables.values import (
    display_text,
    extract_phone,
    is_phone,
    is_placeholder,
    long_term_marker,
    normalise_phone,
    parse_date,
    parse_seq,
    squash,
)

if TYPE_CHECKING:  # jsonschema loads only when a row fails the compiled check (chalicelib.fast_schema)
    from jsonschema.exceptions import ValidationError

# 原平市交通运输局（盖章） names the unit 原平市: the stamp line often carries the bureau's full name.
UNIT_PREFIXES = ("山西省", "忻州市")
UNIT_SUFFIXES = ("交通运输综合行政执法队", "综合行政执法队", "交通运输局", "交通局", "人民政府", "盖章")
# Only prose columns can hold the template's '1. 2. 3. 4.' placeholder; a number in a date column is a date.
TEXT_KINDS = ("text", "person")
DATE_EXAMPLE = "请填写如 2023-06-30 或“长期坚持”"
# A Han character survives NFKC as a non-digit, so a cell holding one cannot be the '1. 2.' placeholder.
_HAS_HAN = re.compile(r"[\u4e00-\u9fff]")


class _Memo:
    """Per-sheet answers of the pure cell functions, keyed by the (text) cell.

    A list repeats its 问题方面, 完成时限, 责任单位 and 联系人 down thousands of rows; each distinct text
    is normalised once. Only ``str`` cells are memoised: 1, 1.0 and True are equal dict keys but
    different cells.
    """

    def __init__(self) -> None:
        self._text: dict[str, str] = {}
        self._placeholder: dict[str, bool] = {}
        self._squash: dict[str, str] = {}
        self._pure: dict[tuple[str, str], Any] = {}

    def of(self, name: str, function: Callable[[Any], Any], raw: Any) -> Any:
        """``function(raw)`` once per distinct text; ``name`` tells the functions apart."""
        if type(raw) is not str:
            return function(raw)
        key = (name, raw)
        if key not in self._pure:
            self._pure[key] = function(raw)
        return self._pure[key]

    def text(self, raw: Any) -> str:
        if type(raw) is not str:
            return display_text(raw)
        if "\n" not in raw and "\r" not in raw:
            return raw.strip()  # what display_text does to a one-line text, without its line loop
        found = self._text.get(raw)
        if found is None:
            found = self._text[raw] = display_text(raw)
        return found

    def placeholder(self, raw: Any) -> bool:
        if type(raw) is not str:
            return is_placeholder(raw)
        found = self._placeholder.get(raw)
        if found is None:
            found = self._placeholder[raw] = _HAS_HAN.search(raw) is None and is_placeholder(raw)
        return found

    def squash(self, raw: Any) -> str:
        if type(raw) is not str:
            return squash(raw)
        found = self._squash.get(raw)
        if found is None:
            found = self._squash[raw] = squash(raw)
        return found


@dataclass
class SheetResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    footer: dict[str, tuple[Any, int]] = field(default_factory=dict)  # key -> (raw value, Excel row)


def unit_matches(text: str, unit_names: Iterable[str]) -> bool:
    key = re.sub(r"\([^()]*\)", "", squash(text))  # （盖章）
    for suffix in UNIT_SUFFIXES:
        key = key.removesuffix(suffix)
    for prefix in UNIT_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            key = key.removeprefix(prefix)
    return any(key == squash(name) for name in unit_names)


def _inherited(grid: Grid, start: int) -> dict[tuple[int, int], Any]:
    """Cells covered by a vertical merge in the data area take the merge's (top-left) value."""
    filled: dict[tuple[int, int], Any] = {}
    for r0, c0, r1, _c1 in grid.merged:
        if r1 <= r0 or r0 < start or r0 >= len(grid.cells):
            continue
        row = grid.cells[r0]
        value = row[c0] if c0 < len(row) else None
        for r in range(r0 + 1, r1 + 1):
            filled[(r, c0)] = value
    return filled


class _Row:
    """Findings of one row, at most one per column (the first, most specific, wins)."""

    def __init__(self, grid: Grid, index: int) -> None:
        self.sheet = grid.name
        self.number = grid.row_number(index)
        self.errors: dict[str, Finding] = {}
        self.warnings: list[Finding] = []

    def error(self, code: str, column: Column | None, message: str) -> None:
        key = column.id if column else code
        self.errors.setdefault(key, Finding(code, message, self.sheet, self.number, column.label if column else None))

    def warn(self, code: str, column: Column | None, message: str) -> None:
        self.warnings.append(Finding(code, message, self.sheet, self.number, column.label if column else None))


def _schema_findings(row: _Row, template: Template, values: dict[str, Any]) -> None:
    """Schema failures -> findings, in the order of the template's columns.

    The compiled yes/no check of the same schema answers for the rows that pass; only a row it flags
    pays for the full validator, which finds every failure and its message.
    """
    check = fast_check(template.row_schema)
    if check is not None and check(values):
        return
    order = {c.id: i for i, c in enumerate(template.columns)}
    failures = list(validator(template.row_schema).iter_errors(values))

    def field_of(error: ValidationError) -> str:
        if error.validator == "required":
            return str(error.message.split("'")[1]) if "'" in error.message else ""
        return str(error.absolute_path[0]) if error.absolute_path else ""

    for error in sorted(failures, key=lambda e: (order.get(field_of(e), 99), str(e.validator) != "minLength")):
        field_id = field_of(error)
        column = next((c for c in template.columns if c.id == field_id), None)
        if column is None and field_id == "contact_phone":
            column = template.column("contact")
        if column is not None and column.id in row.errors:
            continue
        schema = error.schema if isinstance(error.schema, dict) else {}
        value = display_text(error.instance) if not isinstance(error.instance, dict) else ""
        label = column.label if column else field_id
        code = schema.get("x-code", "ROW_INVALID")
        message = schema.get("x-message", f"不符合填报要求（{error.message}），请按模板填写。")
        row.error(code, column, message.format(label=label, value=value))


def _normalise(
    template: Template, cells: dict[str, Any], row: _Row, year: int, unit_names: tuple[str, ...], memo: _Memo
) -> dict[str, Any]:
    values: dict[str, Any] = {"row": row.number, "sheet": row.sheet}
    for column in template.columns:
        raw = cells.get(column.id)
        text = "" if column.kind in TEXT_KINDS and memo.placeholder(raw) else memo.text(raw)
        if column.kind == "text":  # the common case first: prose is stored as typed
            values[column.id] = text
        elif column.kind == "seq":
            values[column.id] = parse_seq(raw)
            if raw is not None and values[column.id] is None:
                row.warn("SEQ_INVALID", column, f"“{text}”不是有效的序号，请按顺序填写阿拉伯数字 1、2、3。")
        elif column.kind == "aspect":
            canonical = memo.of("aspect", template.canonical_aspect, text) if text else None
            values[column.id] = canonical or text
            if text and canonical is None and template.aspects:
                choices = "、".join(template.aspects)
                message = f"“{text}”不是本模板列明的问题方面，请从以下选择一项填写：{choices}。"
                if template.unknown_aspect == "error":
                    row.error("ASPECT_UNKNOWN", column, message)
                else:
                    row.warn("ASPECT_UNKNOWN", column, message)
        elif column.kind == "deadline":
            values[column.id], values["long_term"] = _deadline(template, column, raw, text, row, year, memo)
        elif column.kind == "person":
            values[column.id] = text
            values[f"{column.id}_phone"] = memo.of("phone", extract_phone, raw) if text else None
        elif column.kind == "phone":
            values[column.id] = normalise_phone(raw) if text else ""
        elif column.kind == "role":
            values[column.id] = squash(raw)
            if values[column.id] and template.roles and values[column.id] not in template.roles:
                row.error("ROLE_UNKNOWN", column, f"“{text}”应填写为{'或'.join(template.roles)}。")
        elif column.kind == "unit":
            values[column.id] = text
            if text and unit_names and not unit_matches(text, unit_names):
                row.warn("OTHER_UNIT_ROW", column, f"“{text}”不是本单位，请只填写本单位的联系人。")
        else:
            values[column.id] = text
    if template.completed_markers and "status" in values:
        status = squash(values["status"])
        values["completed"] = (
            any(status.startswith(m) for m in template.completed_markers)
            and not any(m in status for m in template.incomplete_markers)
            and not long_term_marker(status, template.long_term_markers)
        )
    return values


def _deadline(
    template: Template, column: Column, raw: Any, text: str, row: _Row, year: int, memo: _Memo
) -> tuple[str, bool]:
    if not text:
        return "", False
    if memo.of("long_term", lambda r: long_term_marker(r, template.long_term_markers), raw):
        return text, True
    when: date | None = memo.of("date", lambda r: parse_date(r, year), raw)
    if when is None:
        row.error("DEADLINE_INVALID", column, f"“{text}”无法识别为日期，{DATE_EXAMPLE}。")
        return text, False
    if when.year != year:
        row.warn(
            "DEADLINE_OUTSIDE_YEAR",
            column,
            f"完成时限 {when.isoformat()} 不在{year}年内，请核对年份；确需跨年的请在备注中说明。",
        )
    return when.isoformat(), False


def _starts_footer(raw_row: list[Any], memo: _Memo) -> bool:
    """``footer_field``, asked once per distinct first cell: a number or a date never starts a footer label."""
    first = next((v for v in raw_row if v is not None), None)
    if type(first) is not str:  # a number, date or boolean reads as digits or 是/否: never a label
        return False
    return bool(memo.of("footer", lambda v: footer_field([v]), first))


def _content_empty(template: Template, cells: dict[str, Any], memo: _Memo) -> bool:
    for c in template.columns:
        if c.content and cells.get(c.id) is not None and not (c.kind in TEXT_KINDS and memo.placeholder(cells[c.id])):
            return False
    return True


def check_rows(
    grid: Grid, match: HeaderMatch, template: Template, *, year: int, unit_names: tuple[str, ...]
) -> SheetResult:
    result = SheetResult()
    inherited = _inherited(grid, match.data_start)
    above: dict[str, Any] = {}
    previous_seq: int | None = None
    seen: dict[str, dict[str, int]] = {f: {} for f in template.distinct}
    in_footer = False
    data_rows = 0
    memo = _Memo()
    # Per sheet, not per cell: which column of the grid feeds which field, and whether it fills down.
    slots = [
        (column.id, c, grid.fill_down and column.fill_down)
        for column in template.columns
        if (c := match.columns.get(column.id)) is not None
    ]
    for index in range(match.data_start, len(grid.cells)):
        raw_row = grid.cells[index]
        if in_footer or _starts_footer(raw_row, memo):
            in_footer = True
            for key, value in footer_values(raw_row).items():
                result.footer.setdefault(key, (value, grid.row_number(index)))
            continue
        cells: dict[str, Any] = {}
        width = len(raw_row)
        for field_id, c, fills in slots:
            value = raw_row[c] if c < width else None
            if value is None:
                value = inherited.get((index, c)) if inherited else None
                if value is None and fills:
                    value = above.get(field_id)
            cells[field_id] = value
            if value is not None:
                above[field_id] = value
        if _content_empty(template, cells, memo):
            continue  # blank line, or a numbered template row nobody filled in
        data_rows += 1
        if data_rows > MAX_DATA_ROWS:
            result.errors.append(
                Finding("TOO_MANY_ROWS", f"数据超过{MAX_DATA_ROWS}行，请删除多余内容或分文件上传。", grid.name)
            )
            break
        row = _Row(grid, index)
        if row.number in grid.hidden_rows:
            row.warn("HIDDEN_ROW", None, "此行在表格中被隐藏，已按正常数据核验；如不应上报，请删除该行后重新上传。")
        values = _normalise(template, cells, row, year, unit_names, memo)
        _schema_findings(row, template, values)
        _sequence(template, values, row, previous_seq)
        previous_seq = values.get("seq") or previous_seq
        _vagueness(template, values, row, seen, memo)
        result.errors.extend(row.errors.values())
        result.warnings.extend(row.warnings)
        if not row.errors:
            result.rows.append(values)
    return result


def _sequence(template: Template, values: dict[str, Any], row: _Row, previous: int | None) -> None:
    if "seq" not in values or values["seq"] is None:
        return
    expected = (previous or 0) + 1
    if values["seq"] != expected:
        row.warn(
            "SEQ_NOT_SEQUENTIAL",
            template.column("seq"),
            f"序号为 {values['seq']}，按顺序应为 {expected}，请检查是否漏填、重复或顺序有误。",
        )


def _vagueness(
    template: Template, values: dict[str, Any], row: _Row, seen: dict[str, dict[str, int]], memo: _Memo
) -> None:
    """见人见事，明确具体: too-short or copied-down text is worth a look, not a rejection."""
    for field_id, minimum in template.min_lengths.items():
        text = values.get(field_id) or ""
        if text and len(memo.squash(text)) < minimum:
            row.warn(
                "TEXT_TOO_SHORT",
                template.column(field_id),
                f"内容“{text}”过于简略（少于{minimum}个字），请见人见事、明确具体地填写。",
            )
    for field_id in template.distinct:
        key = memo.squash(values.get(field_id) or "")
        if not key:
            continue
        first = seen[field_id].setdefault(key, row.number)
        if first != row.number:
            row.warn(
                "DUPLICATE_TEXT",
                template.column(field_id),
                f"与第{first}行内容完全相同，请针对每个问题分别具体填写。",
            )


def footer_findings(
    template: Template, footer: dict[str, tuple[Any, int]], sheet: str | None
) -> tuple[list[Finding], list[Finding]]:
    """审核人 / 联系人 / 联系电话 under the table: a bad phone is an error, a missing line a warning."""
    errors: list[Finding] = []
    warnings: list[Finding] = []
    if not template.footer:
        return errors, warnings
    labels = {"reviewer": "审核人", "contact": "联系人", "phone": "联系电话"}
    for key, label in labels.items():
        value, number = footer.get(key, (None, None))
        if value is None:
            warnings.append(Finding("FOOTER_MISSING", f"表格下方未填写{label}，请补充。", sheet, number, label))
    value, number = footer.get("phone", (None, None))
    if value is not None and not is_phone(normalise_phone(value)):
        errors.append(
            Finding(
                "PHONE_INVALID",
                f"“{display_text(value)}”不是有效的电话号码，请填写11位手机号（如 13812345678）"
                "或带区号的固定电话（如 0350-1234567）。",
                sheet,
                number,
                "联系电话",
            )
        )
    return errors, warnings
