"""The bulk path of ``check_rows`` says exactly what the row-by-row path says.

``check_rows`` reads each distinct cell once, builds the rows in bulk and words findings only for the
rows its cheap tests flag (``_flagged``). If a cheap test missed a row that has something to say, that
row would lose its findings. So every sheet here is checked twice: as shipped, and with every row
flagged (each row then goes through ``_row_findings``, the row-by-row path); the results must be equal.
The sheets are the fixtures and generated lists with cells replaced by the values units actually type.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.tables import rules
from chalicelib.domain.tables.header import find_header
from chalicelib.domain.tables.readers import Grid, read_grids
from chalicelib.domain.tables.templates import load_template, template_ids
from infra.local.samples import GOOD_ROWS, issue_list_workbook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tables"
CELL_VALUES: list[Any] = [
    None,
    "1. 2. 3.",
    "1.",
    "１２",
    1,
    1.0,
    2.5,
    0,
    True,
    date(2023, 6, 30),
    datetime(2023, 6, 30, 12, 5),
    "2023年6月30日",
    "6月底",
    "长期坚持",
    "2024-01-01",
    "45107",
    45107,
    "13812345678\n",
    "138１２３４５６７８",
    "张三 (0350)1234567",
    "+86 138-1234-5678",
    "逐利执法",
    '"逐利执法"问题',
    "不存在的方面",
    "分管领导",
    "科员",
    "原平市交通运输局",
    "代县",
    "审核人：张三",
    "联系电话：0350-1234567",
    "短",
    "这是一个足够长的问题表现描述文字内容",
    "这是一个足够长的 问题表现描述文字内容",
    "已完成",
    "已整改到位",
    "整改中，长期坚持",
    "a\nb",
    "整改\r措施",
    "1、",
]


def _sheets() -> list[Grid]:
    grids: list[Grid] = []
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix != ".py":
            grids += read_grids(path.read_bytes(), path.name)
    grids += read_grids(issue_list_workbook("原平市", GOOD_ROWS * 4), "generated.xlsx")
    return grids


def _mutated(grid: Grid, data_start: int, columns: list[int], rng: random.Random) -> Grid:
    cells = [list(row) for row in grid.cells]
    width = max(columns) + 1
    for _ in range(rng.randint(1, 25)):
        r = rng.randrange(data_start, len(cells) + 3)
        while r >= len(cells):
            cells.append([None] * width)
        c = rng.choice([*columns, 0])
        cells[r] += [None] * (c + 1 - len(cells[r]))
        cells[r][c] = rng.choice(CELL_VALUES)
    hidden = frozenset(rng.sample(range(1, len(cells) + 5), 3))
    return dataclasses.replace(grid, cells=cells, fill_down=rng.random() < 0.3, hidden_rows=hidden)


def _every_row_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "_flagged", lambda grid, template, columns, kept, rows, squashed: set(range(len(rows))))


@pytest.mark.parametrize("template_id", template_ids())
def test_bulk_and_row_by_row_agree(template_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    template = load_template(template_id)
    rng = random.Random(template_id)
    compared = flagged_somewhere = 0
    for grid in _sheets():
        match = find_header(grid, template)
        if match is None:
            continue
        for trial in range(40):
            sheet = grid if trial == 0 else _mutated(grid, match.data_start, list(match.columns.values()), rng)
            year = rng.choice([2023, 2024])
            names = rng.choice([("原平市",), (), ("代县", "代县交通运输局")])
            with monkeypatch.context() as patch:
                bulk = rules.check_rows(sheet, match, template, year=year, unit_names=names)
                _every_row_flagged(patch)
                row_by_row = rules.check_rows(sheet, match, template, year=year, unit_names=names)
            assert bulk == row_by_row, (template_id, grid.name, trial)
            compared += 1
            flagged_somewhere += bool(bulk.errors or bulk.warnings)
    assert compared >= 40
    assert flagged_somewhere >= compared // 4  # the mutations do reach the findings


def test_distinct_cells_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A repeated 问题方面 / 责任单位 is read once per sheet, not once per row."""
    template = load_template("issue-list")
    grid = read_grids(issue_list_workbook("原平市", GOOD_ROWS * 10), "a.xlsx")[0]
    match = find_header(grid, template)
    assert match is not None
    calls: list[str] = []
    read_cell = rules._read_cell

    def counting(template: Any, column: Any, raw: Any, year: int, unit_names: tuple[str, ...]) -> Any:
        calls.append(column.id)
        return read_cell(template, column, raw, year, unit_names)

    monkeypatch.setattr(rules, "_read_cell", counting)
    result = rules.check_rows(grid, match, template, year=2023, unit_names=("原平市",))
    assert len(result.rows) == len(GOOD_ROWS) * 10
    distinct_units = {row[match.columns["owner_unit"]] for row in grid.cells[match.data_start :]}
    assert calls.count("owner_unit") == len(distinct_units) < len(result.rows)


def test_validation_pauses_the_cyclic_collector_and_resumes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import chalicelib.domain.tables as tables

    data = issue_list_workbook("原平市", GOOD_ROWS * 50)  # enough allocation for the collector to run
    collections: list[int] = []
    during: list[int] = []
    validate = tables._validate

    def watched(*args: Any) -> Any:
        before = len(collections)
        try:
            return validate(*args)
        finally:
            during.append(len(collections) - before)

    monkeypatch.setattr(tables, "_validate", watched)
    gc.callbacks.append(lambda phase, info: collections.append(info["generation"]) if phase == "start" else None)
    try:
        assert gc.isenabled()
        assert tables.validate_table(data, "a.xlsx", "issue-list").accepted
        assert during == [0]  # no collection while validating
        assert gc.isenabled()
        gc.disable()
        tables.validate_table(data, "a.xlsx", "issue-list")
        assert not gc.isenabled()  # paused by someone else: left paused
    finally:
        gc.enable()
        gc.callbacks.pop()
