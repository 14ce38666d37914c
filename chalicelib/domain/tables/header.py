"""Find the table in a sheet by its labels, not by fixed row numbers.

Units add title rows, delete the 填报时间 line, insert blank rows, and WPS and Excel merge the
two header rows differently: 序号 / 问题方面 / 备注 are merged vertically over both rows, the
group headings (问题清单 / 任务清单 / 责任清单) horizontally over their labels. So each candidate
row is read together with the row below it, and a column matches when either cell carries one
of the column's label variants.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.tables.readers import Grid
from chalicelib.domain.tables.templates import Column, Template
from chalicelib.domain.tables.values import label_key, squash

HEADER_SEARCH_ROWS = 40
MIN_MATCHED_LABELS = 3

HEADER_LINE_KEYS = {"填报时间": "filled_on", "填报日期": "filled_on", "填报单位": "unit"}
FOOTER_KEYS = {"审核人": "reviewer", "联系人": "contact", "联系电话": "phone", "填表人": "contact"}
_HEADER_LINE = re.compile(r"(填报时间|填报日期|填报单位)(?:\([^()]*\))?[:]?")
_FOOTER_LINE = re.compile(r"(审核人|联系人|联系电话|填表人)[:]?")
# Starting a row, a footer label needs its colon (or to stand alone): 联系人未到场… is data, not the footer.
_FOOTER_START = re.compile(r"(审核人|联系人|联系电话|填表人)(?::|\Z)")


@dataclass(frozen=True)
class HeaderMatch:
    top: int  # index of the first header row
    data_start: int  # index of the first row after the header
    columns: dict[str, int]  # column id -> column index
    labels: dict[str, str]  # column id -> the label as written in the file (for messages)
    missing: tuple[Column, ...]  # required columns not found

    @property
    def score(self) -> int:
        return len(self.columns)


def _cell(grid: Grid, r: int, c: int) -> Any:
    if r >= len(grid.cells) or c >= len(grid.cells[r]):
        return None
    return grid.cells[r][c]


def _match_at(grid: Grid, top: int, template: Template, key_of: Callable[[Any], str]) -> HeaderMatch | None:
    columns: dict[str, int] = {}
    labels: dict[str, str] = {}
    used_second_row = False
    width = max((len(grid.cells[r]) for r in range(top, min(top + 2, len(grid.cells)))), default=0)
    for c in range(width):
        for r in (top, top + 1):
            key = key_of(_cell(grid, r, c))
            if not key:
                continue
            column = next((col for col in template.columns if col.id not in columns and key in col.keys), None)
            if column is not None:
                columns[column.id] = c
                labels[column.id] = squash(_cell(grid, r, c))
                used_second_row |= r == top + 1
                break
    # The header starts at its first labelled row: a title or 填报单位 line above it is not part of it.
    if len(columns) < min(MIN_MATCHED_LABELS, len(template.columns)) or all(
        grid.cells[top][c] is None or key_of(grid.cells[top][c]) not in template.column(f).keys
        for f, c in columns.items()
        if c < len(grid.cells[top])
    ):
        return None
    missing = tuple(col for col in template.required_columns if col.id not in columns)
    return HeaderMatch(
        top=top, data_start=top + (2 if used_second_row else 1), columns=columns, labels=labels, missing=missing
    )


def find_header(grid: Grid, template: Template) -> HeaderMatch | None:
    """The best-matching header within the first rows; ties go to the upper row (the group row)."""
    best: HeaderMatch | None = None
    keys: dict[Any, str] = {}

    def cached_label_key(value: Any) -> str:
        # Each row is read as the top and as the second header row, several times over: normalise a cell once.
        key = value if type(value) is str else (type(value), value)
        if key not in keys:
            keys[key] = label_key(value)
        return keys[key]

    for top in range(min(HEADER_SEARCH_ROWS, len(grid.cells))):
        match = _match_at(grid, top, template, cached_label_key)
        if match is not None and (best is None or match.score > best.score):
            best = match
            if best.score == len(template.columns):
                break  # every column found: no lower row can score more, and ties go to the upper row
    return best


def _labelled_values(cells: list[Any], pattern: re.Pattern[str], keys: dict[str, str]) -> dict[str, Any]:
    """'填报时间：2023年5月18日' in one cell, or '填报时间：' followed by a date cell, or both keys in one cell."""
    found: dict[str, Any] = {}
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        text = squash(cell)
        matches = list(pattern.finditer(text))
        for n, match in enumerate(matches):
            end = matches[n + 1].start() if n + 1 < len(matches) else len(text)
            value: Any = text[match.end() : end].strip()
            if not value and n + 1 == len(matches):
                # The value is in the next non-empty cell of the row, unless that cell is another label.
                nxt = next((v for v in cells[i + 1 :] if v is not None), None)
                value = nxt if nxt is not None and not pattern.match(squash(nxt)) else ""
            if value == "" or _is_blank_template_value(value):
                value = None
            found.setdefault(keys[match.group(1)], value)
    return found


def _is_blank_template_value(value: Any) -> bool:
    # The template's own '年 月 日' left unfilled.
    return isinstance(value, str) and not re.sub(r"[年月日/\-. ]", "", value)


def header_lines(grid: Grid, match: HeaderMatch) -> dict[str, tuple[Any, int]]:
    """填报时间 / 填报单位 above the table: key -> (raw value, Excel row); a date cell stays a date."""
    found: dict[str, tuple[Any, int]] = {}
    for r in range(match.top):
        for key, value in _labelled_values(grid.cells[r], _HEADER_LINE, HEADER_LINE_KEYS).items():
            if found.get(key, (None,))[0] is None:
                found[key] = (value, grid.row_number(r))
    return found


def footer_field(row: list[Any]) -> bool:
    """A row whose first filled cell starts with 审核人 / 联系人 / 联系电话 ends the data."""
    first = next((v for v in row if v is not None), None)
    return first is not None and _FOOTER_START.match(squash(first)) is not None


def footer_values(row: list[Any]) -> dict[str, Any]:
    return _labelled_values(row, _FOOTER_LINE, FOOTER_KEYS)
