"""The compiled yes/no check (chalicelib.domain.schema_check, fastjsonschema) and jsonschema's validator answer alike.

The fast check decides which rows skip the full validator, so a row it passes that jsonschema would
reject would lose its findings. Every schema in schemas/ is compared on valid rows and on rows broken
one field at a time (and two at a time) with the values units actually produce, plus JSON's odd cases.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chalicelib.domain.schema_check import compile_schema, fast_check
from chalicelib.domain.schemas import load_schema, schema_names, validator
from chalicelib.domain.tables import validate_table
from infra.local.samples import GOOD_ROWS, issue_list_workbook

# Values a normalised cell can hold, and the tricky ones: full-width digits, trailing newline, bool vs int.
ODD_VALUES: list[Any] = [
    None,
    "",
    " ",
    "x",
    "长期坚持",
    "2023-06-30",
    "2023-06-30\n",
    "２０２３-０６-３０",
    "13812345678",
    "13812345678\n",
    "１３８１２３４５６７８",
    "0350-1234567",
    "0350-12345",
    "name@example.cn",
    "a@b",
    0,
    1,
    -1,
    1.0,
    1.5,
    True,
    False,
    [],
    {},
    ["x"],
]


def _valid_rows(name: str) -> list[dict[str, Any]]:
    """Rows the pipeline produced from real-looking files, per row schema."""
    if name == "issue-row":
        verdict = validate_table(issue_list_workbook("原平市", GOOD_ROWS), "a.xlsx", "issue-list")
        return [dict(r) for r in verdict.rows]
    if name == "legacy-issue-row":
        base = {"row": 6, "sheet": "s", "seq": 1, "aspect": "a", "symptom": "s", "measure": "m", "note": ""}
        return [
            {**base, "status": "已完成", "completed": True, "stage_result": "", "long_term_measure": ""},
            {**base, "status": "持续推进", "completed": False, "stage_result": "r", "long_term_measure": "m"},
        ]
    if name == "contact-row":
        base = {"row": 5, "sheet": None, "unit": "原平市", "role": "联络员", "name": "王", "title": "科员", "note": ""}
        return [{**base, "mobile": "13812345678"}, {**base, "mobile": "0350-1234567", "email": "a@b.cn"}]
    if name == "case-row":
        fields = ("title", "facts", "measures", "effect", "comment")
        return [{"row": 2, "sheet": "s", "seq": 1, **{f: "内容" for f in fields}, "note": ""}]
    return []


def _variants(row: dict[str, Any]) -> list[dict[str, Any]]:
    keys = [*row, "unknown_field"]
    out = []
    for key in keys:
        out.append({k: v for k, v in row.items() if k != key})  # missing
        for value in ODD_VALUES:
            out.append({**row, key: value})
    for a, b in itertools.combinations(list(row)[:8], 2):
        for va, vb in ((None, ""), ("", 1), ("x\n", True)):
            out.append({**row, a: va, b: vb})
    return out


@pytest.mark.parametrize("name", schema_names())
def test_every_schema_is_valid_and_compiles(name: str) -> None:
    Draft202012Validator.check_schema(load_schema(name))
    assert callable(fast_check(name))


@pytest.mark.parametrize("name", ["issue-row", "legacy-issue-row", "contact-row", "case-row"])
def test_fast_check_and_jsonschema_agree_on_rows(name: str) -> None:
    check, full = fast_check(name), validator(name)
    rows = _valid_rows(name)
    assert rows and all(full.is_valid(r) for r in rows)
    compared = 0
    for row in rows:
        for variant in [row, *_variants(row)]:
            assert check(variant) == full.is_valid(variant), variant
            compared += 1
    assert compared > 300


def test_fast_check_agrees_on_the_campaign_and_templates() -> None:
    import json

    from chalicelib.domain.registry import CAMPAIGN_DIR
    from chalicelib.domain.tables.templates import TEMPLATE_DIR

    for name, folder in (("campaign", CAMPAIGN_DIR), ("table-template", TEMPLATE_DIR)):
        for path in Path(folder).glob("*.json"):
            document = json.loads(path.read_text(encoding="utf-8"))
            check = fast_check(name)
            assert check(document) and validator(name).is_valid(document)
            # Broken copies: each top-level field removed or replaced by an odd value.
            for key in list(document):
                for variant in ({k: v for k, v in document.items() if k != key}, {**document, key: 1}):
                    assert check(variant) == validator(name).is_valid(variant), (path.name, key)


def test_keywords_are_compiled_exactly() -> None:
    schema = {
        "$defs": {"code": {"type": "string", "pattern": "^[0-9]{3}(?![\\s\\S])"}},
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/code"},
            "b": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "uniqueItems": True},
            "c": {"enum": ["x", 1, None]},
            "d": {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
            "e": {"not": {"const": False}},
            "f": {"maximum": 3, "maxLength": 2},
            "g": {"type": "string", "format": "email", "default": "x"},
            "h": {"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "integer"}},
        },
        "additionalProperties": {"type": "string"},
    }
    check = compile_schema(schema)
    full = Draft202012Validator(schema)
    for value in [*ODD_VALUES, "123", "123\n", "１２３", [1, 1], [1, True], [1.0, 1], [2, 3], "abc", 5, 3]:
        for key in ("a", "b", "c", "d", "e", "f", "g", "h", "extra"):
            assert check({key: value}) == full.is_valid({key: value}), (key, value)


def test_a_value_json_has_no_type_for_goes_to_the_full_validator() -> None:
    """jsonschema-rs refuses Python values outside JSON; the check says "not valid" and jsonschema words it."""
    from datetime import date

    schema = {"type": "object", "properties": {"deadline": {"type": "string"}}}
    check, full = compile_schema(schema), Draft202012Validator(schema)
    for row in ({"deadline": date(2023, 6, 30)}, {"deadline": ("2023-06-30",)}):
        assert check(row) is False and full.is_valid(row) is False, row
    assert check({"deadline": "2023-06-30"}) is True


def test_flagged_rows_still_get_every_finding() -> None:
    """A broken row goes to the full validator: the same findings as before the fast path."""
    from dataclasses import replace

    rows = [replace(GOOD_ROWS[0], measure=""), replace(GOOD_ROWS[1], contact="王某 1381234567"), GOOD_ROWS[2]]
    verdict = validate_table(issue_list_workbook("原平市", rows), "a.xlsx", "issue-list", unit_names=("原平市",))
    codes = sorted((f.row, f.code) for f in verdict.errors)
    assert codes == [(6, "REQUIRED_EMPTY"), (7, "PHONE_INVALID")]
    assert [r["row"] for r in verdict.rows] == [8]


def test_validate_table_gives_the_same_verdict_with_and_without_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths reject the same rows with the same findings, on a list where many rows are broken."""
    from dataclasses import replace

    import chalicelib.domain.tables.rules as rules

    broken = [
        replace(GOOD_ROWS[0], measure=""),
        replace(GOOD_ROWS[1], deadline="待定"),
        replace(GOOD_ROWS[2], contact="张某 138１２３４５６７８"),
        replace(GOOD_ROWS[0], contact="李某 13812345678\n"),
        replace(GOOD_ROWS[1], aspect="乱收费问题"),
        replace(GOOD_ROWS[2], owner="", cause=""),
        replace(GOOD_ROWS[0], deadline="2024-03-31"),
        replace(GOOD_ROWS[1], symptom="1. 2. 3."),
    ]
    data = issue_list_workbook("原平市", [*GOOD_ROWS, *broken] * 5)
    fast = validate_table(data, "a.xlsx", "issue-list", unit_names=("原平市",))
    monkeypatch.setattr(rules, "fast_check", lambda name: lambda row: False)  # every row to jsonschema
    full = validate_table(data, "a.xlsx", "issue-list", unit_names=("原平市",))
    assert fast == full
    assert fast.errors and fast.rows and len(fast.rows) < 55
