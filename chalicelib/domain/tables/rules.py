"""Row rules: cells -> one normalised row per data row, plus findings.

What a JSON Schema can say (filled in, phone pattern, date shape, stage result when not done)
is in ``schemas/<row_schema>.schema.json`` and applied to the normalised row; its ``x-code`` /
``x-message`` keywords carry the Chinese finding. What needs configuration or context (aspects,
real calendar dates, campaign year, sequence, repeats across rows, the unit) is here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.domain.findings import Finding
from chalicelib.domain.progress import Progress, read_progress
from chalicelib.domain.schema_check import fast_check
from chalicelib.domain.schemas import validator
from chalicelib.domain.tables.header import HeaderMatch, footer_field, footer_values
from chalicelib.domain.tables.readers import MAX_DATA_ROWS, Grid
from chalicelib.domain.tables.templates import Column, Template
from chalicelib.domain.tables.values import (
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

if TYPE_CHECKING:  # jsonschema loads only when a row fails the compiled check (chalicelib.domain.schema_check)
    from jsonschema.exceptions import ValidationError

# 原平市交通运输局（盖章） names the unit 原平市: the stamp line often carries the name of the bureau or of
# one of its bodies (its 综合行政执法大队); the longest body suffix is removed first. Names of a unit's own
# bodies that do not end so (五台山风景名胜区旅游发展局) are the unit's aliases in the campaign data.
UNIT_PREFIXES = ("山西省", "忻州市")
UNIT_SUFFIXES = tuple(
    sorted(
        (
            "交通运输局综合行政执法大队",
            "交通运输局综合行政执法队",
            "交通运输综合行政执法大队",
            "交通运输综合行政执法队",
            "交通运输综合执法大队",
            "交通运输综合执法队",
            "综合行政执法大队",
            "综合行政执法队",
            "交通运输局",
            "交通局",
            "旅游发展局",
            "旅发局",
            "人民政府",
            "盖章",
        ),
        key=len,
        reverse=True,
    )
)
# Only prose columns can hold the template's '1. 2. 3. 4.' placeholder; a number in a date column is a date.
TEXT_KINDS = ("text", "person")
DATE_EXAMPLE = "请填写如 2023-06-30 或“长期坚持”"
_LOCAL_NUMBER = re.compile(r"[2-9][0-9]{2,3}-?[0-9]{4}")  # a landline without its area code
# A Han character survives NFKC as a non-digit, so a cell holding one cannot be the '1. 2.' placeholder.
_HAS_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class SheetResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    footer: dict[str, tuple[Any, int]] = field(default_factory=dict)  # key -> (raw value, Excel row)


def _unit_key(text: str) -> str:
    key = re.sub(r"\([^()]*\)", "", squash(text))  # （盖章）
    for suffix in UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key.removesuffix(suffix)
            break
    for prefix in UNIT_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            key = key.removeprefix(prefix)
    return key


def unit_matches(text: str, unit_names: Iterable[str]) -> bool:
    key = _unit_key(text)
    squashed = re.sub(r"\([^()]*\)", "", squash(text))
    return any(key == squash(name) or squashed == squash(name) for name in unit_names)


def named_unit(text: str, own: Iterable[str], others: Iterable[Iterable[str]]) -> str | None:
    """Which unit a 填报单位 text names: "own", "other" or None (no unit of the campaign).

    Exact (after removing the body suffix) first; else the unit whose name or alias begins the text,
    the longest such name winning (五台山旅发局 begins with 五台山, not with 五台县's alias 五台)."""
    own = tuple(own)
    if unit_matches(text, own):
        return "own"
    if any(unit_matches(text, names) for names in others):
        return "other"
    key = _unit_key(text)
    best: tuple[int, str] | None = None
    for kind, names in (("own", own), *(("other", tuple(n)) for n in others)):
        for name in names:
            name_key = squash(name)
            if len(name_key) >= 2 and key.startswith(name_key) and (best is None or len(name_key) > best[0]):
                best = (len(name_key), kind)
    return best[1] if best else None


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

    Called only for a row the compiled yes/no check of the same schema flags (``check_rows``): the
    full validator finds every failure and its message.
    """
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


class _Reading(NamedTuple):
    """What one cell means in one column, whichever row it is in."""

    fields: tuple[Any, ...]  # the column's value, then any further field it fills in (``_field_ids``)
    blank: bool  # nothing filled in: empty, or the template's '1. 2. 3.' placeholder left in prose
    errors: tuple[tuple[str, str], ...]  # (code, message)
    warnings: tuple[tuple[str, str], ...]


def _is_placeholder(raw: Any) -> bool:
    if type(raw) is str and _HAS_HAN.search(raw) is not None:
        return False
    return is_placeholder(raw)


def _read_cell(template: Template, column: Column, raw: Any, year: int, unit_names: tuple[str, ...]) -> _Reading:
    """One cell -> its normalised value and findings; a function of the cell alone, so asked once per distinct cell."""
    kind = column.kind
    if kind == "text" and type(raw) is str and "\n" not in raw and "\r" not in raw and _HAS_HAN.search(raw):
        return _Reading((raw.strip(),), False, (), ())  # one line of prose: the common cell, stored as typed
    if kind == "seq" and type(raw) is int and raw >= 1:
        return _Reading((raw,), False, (), ())
    placeholder = kind in TEXT_KINDS and raw is not None and _is_placeholder(raw)
    text = "" if placeholder else display_text(raw)
    value: Any = text
    extra: tuple[Any, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    warnings: tuple[tuple[str, str], ...] = ()
    if kind == "seq":
        value = parse_seq(raw)
        if raw is not None and value is None:
            warnings = (("SEQ_INVALID", f"“{text}”不是有效的序号，请按顺序填写阿拉伯数字 1、2、3。"),)
    elif kind == "aspect":
        canonical = template.canonical_aspect(text) if text else None
        value = canonical or text
        extra = (text,)  # as written (（三）执法方式简单僵化问题), beside the canonical name
        if text and canonical is None and template.aspects:
            choices = "、".join(template.aspects)
            finding = ("ASPECT_UNKNOWN", f"“{text}”不是本模板列明的问题方面，请从以下选择一项填写：{choices}。")
            if template.unknown_aspect == "error":
                errors = (finding,)
            else:
                warnings = (finding,)
    elif kind == "deadline":
        value, long_term, errors, warnings = _deadline(template, raw, text, year)
        extra = (long_term,)
    elif kind == "person":
        phone = extract_phone(raw) if text else None
        if phone is not None and _LOCAL_NUMBER.fullmatch(phone):
            warnings = (
                ("PHONE_NO_AREA_CODE", f"电话“{phone}”没有区号，请补充区号（如 0350-{phone}）或填写11位手机号。"),
            )
            phone = None  # the number stays in the text as written; no dialable number is stored
        extra = (phone,)
    elif kind == "phone":
        value = normalise_phone(raw) if text else ""
    elif kind == "role":
        value = squash(raw)
        if value and template.roles and value not in template.roles:
            errors = (("ROLE_UNKNOWN", f"“{text}”应填写为{'或'.join(template.roles)}。"),)
    elif kind == "unit" and text and unit_names and not unit_matches(text, unit_names):
        warnings = (("OTHER_UNIT_ROW", f"“{text}”不是本单位，请只填写本单位的联系人。"),)
    return _Reading((value, *extra), raw is None or placeholder, errors, warnings)


def _field_ids(column: Column) -> tuple[str, ...]:
    """The fields a column fills in, in the order of ``_Reading.fields``."""
    if column.kind == "deadline":
        return (column.id, "long_term")
    if column.kind == "person":
        return (column.id, f"{column.id}_phone")
    if column.kind == "aspect":
        return (column.id, f"{column.id}_text")
    return (column.id,)


def _deadline(
    template: Template, raw: Any, text: str, year: int
) -> tuple[str, bool, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    if not text:
        return "", False, (), ()
    if type(raw) is str:
        raw = squash(raw)  # once: both readings below squash a text first, and squash(squash(x)) == squash(x)
    if long_term_marker(raw, template.long_term_markers):
        return text, True, (), ()
    when: date | None = parse_date(raw, year)
    if when is None:
        progress = read_progress(text)
        if progress is Progress.DONE:  # 已完成 / 立行立改: the time limit is already met, stored as written
            return text, False, (), ()
        if progress is Progress.LONG_TERM:
            return text, True, (), ()
        return text, False, (("DEADLINE_INVALID", f"“{text}”无法识别为日期，{DATE_EXAMPLE}。"),), ()
    if when.year != year:
        message = f"完成时限 {when.isoformat()} 不在{year}年内，请核对年份；确需跨年的请在备注中说明。"
        return when.isoformat(), False, (), (("DEADLINE_OUTSIDE_YEAR", message),)
    return when.isoformat(), False, (), ()


def _completed(status: str) -> bool:
    """The shared completion rule (``chalicelib.domain.progress``): only DONE spares 阶段性成效 / 长期举措."""
    return read_progress(status) is Progress.DONE


def check_rows(
    grid: Grid, match: HeaderMatch, template: Template, *, year: int, unit_names: tuple[str, ...]
) -> SheetResult:
    """Every data row of the sheet -> a normalised row or findings, plus the footer lines under the table.

    Worked column by column: a list repeats its 问题方面, 完成时限, 责任单位 and 联系人 down thousands of
    rows and a cell's reading depends on nothing but the cell, so each distinct cell of a column is read
    once; the rows are then assembled in bulk. Most rows have no finding at all: only the rows some
    check flags go through ``_row_findings``, which words the findings in the order a clerk reads them.
    """
    result = SheetResult()
    start = match.data_start
    footer_starts: dict[str, bool] = {}
    end = next(
        (i for i in range(start, len(grid.cells)) if _starts_footer(grid.cells[i], footer_starts)), len(grid.cells)
    )
    inherited = _inherited(grid, start)
    columns = [
        _read_column(template, column, _column_cells(grid, match, column, start, end, inherited), year, unit_names)
        for column in template.columns
    ]
    readings = [column.readings for column in columns]
    content = [
        column_readings for column, column_readings in zip(template.columns, readings, strict=True) if column.content
    ]
    kept = [
        i for i, blanks in enumerate(zip(*([r.blank for r in rs] for rs in content), strict=True)) if not all(blanks)
    ]
    remarks: dict[str, bool] = {}
    kept = [i for i in kept if not _is_remark_row(grid.cells[start + i], remarks, template.nothing_to_report)]
    too_many = len(kept) > MAX_DATA_ROWS
    kept = kept[:MAX_DATA_ROWS]
    if kept:
        rows = _build_rows(grid, template, readings, kept, start)
        _add_completed(template, rows)
        squashed: dict[str, str] = {}
        flagged = _flagged(grid, template, columns, kept, rows, squashed)
        if flagged:
            _word_findings(result, grid, template, [[rs[i] for rs in readings] for i in kept], rows, flagged, squashed)
        else:
            result.rows = rows
    if too_many:
        result.errors.append(
            Finding("TOO_MANY_ROWS", f"数据超过{MAX_DATA_ROWS}行，请删除多余内容或分文件上传。", grid.name)
        )
        return result  # the rows past the cap (and any footer under them) are not read
    for index in range(end, len(grid.cells)):
        for key, value in footer_values(grid.cells[index]).items():
            result.footer.setdefault(key, (value, grid.row_number(index)))
    return result


def _build_rows(
    grid: Grid, template: Template, readings: list[list[_Reading]], kept: list[int], start: int
) -> list[dict[str, Any]]:
    """The rows ``kept`` (counted from grid row ``start``), built field by field: one ``dict(zip())`` a row."""
    keys = ["row", "sheet"]
    fields: list[Iterable[Any]] = [[grid.row_number(start + i) for i in kept], [grid.name] * len(kept)]
    every = len(kept) == len(readings[0])  # no blank line in between: the usual list
    for column, column_readings in zip(template.columns, readings, strict=True):
        ids = _field_ids(column)
        keys += ids
        chosen = column_readings if every else [column_readings[i] for i in kept]
        if len(ids) == 1:
            fields.append([reading.fields[0] for reading in chosen])
        else:
            fields += zip(*[reading.fields for reading in chosen], strict=True)
    return [dict(zip(keys, values, strict=True)) for values in zip(*fields, strict=True)]


def _word_findings(
    result: SheetResult,
    grid: Grid,
    template: Template,
    readings: list[list[_Reading]],
    rows: list[dict[str, Any]],
    flagged: set[int],
    squashed: dict[str, str],
) -> None:
    """Rows in order: a flagged row gets its findings (and is kept only without errors), the others are kept."""
    previous_seq: int | None = None
    seen: dict[str, dict[str, int]] = {f: {} for f in template.distinct}
    for position, values in enumerate(rows):
        if position in flagged:
            row = _row_findings(grid, template, readings[position], values, (previous_seq, seen, squashed))
            result.errors.extend(row.errors.values())
            result.warnings.extend(row.warnings)
            if not row.errors:
                result.rows.append(values)
        else:
            _remember(template, values, seen, squashed)
            result.rows.append(values)
        previous_seq = values.get("seq") or previous_seq


def _column_cells(
    grid: Grid, match: HeaderMatch, column: Column, start: int, end: int, inherited: dict[tuple[int, int], Any]
) -> list[Any]:
    """The column's cells in rows ``start..end``; a vertical merge, or in a csv an empty cell, repeats the one above."""
    c = match.columns.get(column.id)
    if c is None:
        return [None] * (end - start)
    cells = [row[c] if c < len(row) else None for row in grid.cells[start:end]]
    if inherited:
        for (r, merged_column), value in inherited.items():
            if merged_column == c and start <= r < end and cells[r - start] is None:
                cells[r - start] = value
    if grid.fill_down and column.fill_down:
        above = None
        for i, value in enumerate(cells):
            if value is None:
                cells[i] = above
            else:
                above = value
    return cells


class _Column(NamedTuple):
    readings: list[_Reading]  # one per row of the data area
    has_findings: bool  # some cell of the column has an error or a warning of its own


def _read_column(
    template: Template, column: Column, cells: list[Any], year: int, unit_names: tuple[str, ...]
) -> _Column:
    """Each cell's reading, each distinct cell read once."""
    # 1, 1.0 and True are equal dict keys but different cells (a date column reads 1 and True apart).
    keys = [raw if type(raw) is str else (type(raw), raw) for raw in cells]
    distinct = dict(zip(keys, cells, strict=True))
    known = {key: _read_cell(template, column, raw, year, unit_names) for key, raw in distinct.items()}
    return _Column([known[key] for key in keys], any(r.errors or r.warnings for r in known.values()))


def _add_completed(template: Template, rows: list[dict[str, Any]]) -> None:
    if not template.tracks_progress or not rows or "status" not in rows[0]:
        return
    answers: dict[str, bool] = {}
    for values in rows:
        status = values["status"]
        if status not in answers:
            answers[status] = _completed(status)
        values["completed"] = answers[status]


def _flagged(
    grid: Grid,
    template: Template,
    columns: list[_Column],
    kept: list[int],
    rows: list[dict[str, Any]],
    squashed: dict[str, str],
) -> set[int]:
    """Positions (in ``rows``) of the rows with something to say: the cheap tests of what ``_row_findings`` words."""
    hidden = grid.hidden_rows
    flagged = {p for p, values in enumerate(rows) if values["row"] in hidden} if hidden else set()
    for column in columns:
        if column.has_findings:
            cells = column.readings
            flagged.update(p for p, i in enumerate(kept) if cells[i].errors or cells[i].warnings)
    check = fast_check(template.row_schema)
    flagged.update(p for p, values in enumerate(rows) if not check(values))
    previous: int | None = None
    for p, values in enumerate(rows):
        seq = values.get("seq")
        if seq is not None and seq != (previous or 0) + 1:
            flagged.add(p)
        previous = seq or previous
    for field_id, minimum in template.min_lengths.items():
        texts = [values.get(field_id) or "" for values in rows]
        short = {text for text in set(texts) if text and len(_squashed(text, squashed)) < minimum}
        if short:
            flagged.update(p for p, text in enumerate(texts) if text in short)
    for field_id in template.distinct:
        texts = [values.get(field_id) or "" for values in rows]
        key_of = {text: _squashed(text, squashed) for text in set(texts)}
        keys = [key_of[text] for text in texts]
        if len({key for key in keys if key}) < sum(1 for key in keys if key):  # some text repeats
            first: dict[str, int] = {}
            flagged.update(p for p, key in enumerate(keys) if key and first.setdefault(key, p) != p)
    return flagged


def _row_findings(
    grid: Grid,
    template: Template,
    readings: list[_Reading],
    values: dict[str, Any],
    state: tuple[int | None, dict[str, dict[str, int]], dict[str, str]],
) -> _Row:
    """The findings of one flagged row; ``state`` is the sequence so far, the texts seen so far, the squash memo."""
    previous_seq, seen, squashed = state
    row = _Row(grid, values["row"] - grid.first_row)
    if row.number in grid.hidden_rows:
        row.warn("HIDDEN_ROW", None, "此行在表格中被隐藏，已按正常数据核验；如不应上报，请删除该行后重新上传。")
    for column, reading in zip(template.columns, readings, strict=True):
        for code, message in reading.errors:
            row.error(code, column, message)
        for code, message in reading.warnings:
            row.warn(code, column, message)
    check = fast_check(template.row_schema)
    if not check(values):
        _schema_findings(row, template, values)
    _sequence(template, values, row, previous_seq)
    _vagueness(template, values, row, seen, squashed)
    return row


def _squashed(text: str, memo: dict[str, str]) -> str:
    if text not in memo:
        memo[text] = squash(text)
    return memo[text]


def _remember(
    template: Template, values: dict[str, Any], seen: dict[str, dict[str, int]], squashed: dict[str, str]
) -> None:
    """What ``_vagueness`` records of a row without findings: where each distinct text was first seen."""
    for field_id in template.distinct:
        key = _squashed(values.get(field_id) or "", squashed)
        if key:
            seen[field_id].setdefault(key, values["row"])


# A 合计 / 小计 / 总计 row and a 注： / 说明： / 填表说明 line inside or under the table are the clerk's
# summary and notes, not problems: they are skipped, not checked.
_REMARK_ROW = re.compile(
    r"(?:合计|小计|总计|共计)|(?:注|备注|说明|填表说明|填报说明)[0-9]*[:.、]|注[0-9一二三四五六七八九]"
)


def _is_remark_row(raw_row: list[Any], answers: dict[str, bool], nothing: re.Pattern[str] | None) -> bool:
    """The row's first filled cell is a 合计 label or a note (asked once per distinct first cell), or the row
    only says there is nothing to list (1 | 本月无典型案例)."""
    if nothing is not None:
        filled = [v for v in raw_row if v is not None and (type(v) is not str or v.strip())]
        if len(filled) <= 2 and any(type(v) is str and nothing.search(squash(v)) for v in filled):
            return True
    first = next((v for v in raw_row if v is not None and (type(v) is not str or v.strip())), None)
    if type(first) is not str:
        return False
    if first not in answers:
        answers[first] = _REMARK_ROW.match(squash(first)) is not None
    return answers[first]


def _starts_footer(raw_row: list[Any], answers: dict[str, bool]) -> bool:
    """``footer_field``, asked once per distinct first cell: a number or a date never starts a footer label."""
    first = next((v for v in raw_row if v is not None), None)
    if type(first) is not str:  # a number, date or boolean reads as digits or 是/否: never a label
        return False
    if first not in answers:
        answers[first] = footer_field([first])
    return answers[first]


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
    template: Template, values: dict[str, Any], row: _Row, seen: dict[str, dict[str, int]], squashed: dict[str, str]
) -> None:
    """见人见事，明确具体: too-short or copied-down text is worth a look, not a rejection."""

    for field_id, minimum in template.min_lengths.items():
        text = values.get(field_id) or ""
        if text and len(_squashed(text, squashed)) < minimum:
            row.warn(
                "TEXT_TOO_SHORT",
                template.column(field_id),
                f"内容“{text}”过于简略（少于{minimum}个字），请见人见事、明确具体地填写。",
            )
    for field_id in template.distinct:
        key = _squashed(values.get(field_id) or "", squashed)
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
    if value is not None and _LOCAL_NUMBER.fullmatch(normalise_phone(value)):
        # 3021234: a local number without its area code reaches the office from inside 忻州 (0350).
        warnings.append(
            Finding(
                "PHONE_NO_AREA_CODE",
                f"联系电话“{display_text(value)}”没有区号，请补充区号（如 0350-{normalise_phone(value)}）"
                "或填写11位手机号。",
                sheet,
                number,
                "联系电话",
            )
        )
    elif value is not None and not is_phone(normalise_phone(value)):
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
