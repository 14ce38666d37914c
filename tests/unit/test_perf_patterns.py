"""Regex traps, checked everywhere a pattern lives (the fast schema check runs them on every row).

Python's ``\\d`` matches any Unicode digit (full-width １, Arabic-Indic ١), and ``$`` matches before a
trailing newline, so ``^[0-9]{6}$`` accepts "140981\\n". Patterns use ``[0-9]`` and end with ``\\Z``
(Python) or ``(?![\\s\\S])`` (JSON Schema: means end of string in Python and ECMA-262 alike).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.schemas import validator
from chalicelib.services.queries import QueryError, page_size

ROOT = Path(__file__).resolve().parents[2]
JSON_DIRS = ("schemas", "chalicelib/data/templates", "chalicelib/data/report_templates", "chalicelib/data/campaigns")
RE_FUNCTIONS = {"compile", "match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer"}


def _json_patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from value
            yield from _json_patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _json_patterns(item)


def _python_patterns() -> Iterator[tuple[str, str, bool]]:
    """(where, pattern, is_bytes) of every literal pattern passed to ``re`` in chalicelib."""
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.args):
                continue
            if call.func.attr not in RE_FUNCTIONS or not (
                isinstance(call.func.value, ast.Name) and call.func.value.id == "re"
            ):
                continue
            first = call.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str | bytes):
                is_bytes = isinstance(first.value, bytes)
                text = first.value.decode("latin-1") if isinstance(first.value, bytes) else first.value
                yield f"{path.relative_to(ROOT)}:{call.lineno}", text, is_bytes


def test_json_patterns_use_ascii_digits_and_a_real_end_of_string() -> None:
    found = 0
    for folder in JSON_DIRS:
        for path in sorted((ROOT / folder).glob("*.json")):
            for pattern in _json_patterns(json.loads(path.read_text(encoding="utf-8"))):
                found += 1
                assert "\\d" not in pattern, (path.name, pattern)
                assert not pattern.endswith("$"), (path.name, pattern)
    assert found >= 10


def _end_is_safe(pattern: str) -> bool:
    """No ``$``, or one after a run of a class holding ``\\s`` (which eats a trailing newline itself)."""
    return not pattern.endswith("$") or bool(re.fullmatch(r".*\[[^\]]*\\s[^\]]*\][+*]\$", pattern))


def test_python_patterns_use_ascii_digits_and_a_real_end_of_string() -> None:
    patterns = list(_python_patterns())
    assert len(patterns) >= 10
    for where, pattern, is_bytes in patterns:
        assert is_bytes or "\\d" not in pattern, (where, pattern)  # a bytes pattern's \\d is ASCII only
        assert _end_is_safe(pattern), (where, pattern)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("units", 0, "code"), "140981\n"),
        (("units", 0, "code"), "１４０９８１"),
        (("office", "email"), "office@example.cn\n"),
        (("due_time",), "17:30:00\n"),
    ],
)
def test_the_campaign_schema_rejects_trailing_newlines_and_full_width_digits(path: tuple[Any, ...], value: str) -> None:
    raw = json.loads((ROOT / "chalicelib/data/campaigns/xinzhou-2023.json").read_text(encoding="utf-8"))
    node = raw
    for key in path[:-1]:
        node = node[key]
    assert path[-1] in node, f"{path} not in the campaign file"
    node[path[-1]] = value
    assert not validator("campaign").is_valid(raw)


@pytest.mark.parametrize("raw", ["²", "５", "١٠", "1\n", " 1", "0", "101"])
def test_page_size_takes_ascii_digits_only(raw: str) -> None:
    with pytest.raises(QueryError):
        page_size(raw)
    assert page_size("100") == 100
