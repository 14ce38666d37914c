"""JSON Schemas from the top-level ``schemas/`` folder, compiled once per process.

``schemas/`` is the single source. In the Lambda package it sits beside ``app.py`` too,
because ``vendor/schemas`` links to it and Chalice copies ``vendor/`` to the package root.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

# jsonschema costs ~100 ms to import (referencing, format checkers): loaded on the first full
# validation, which a valid campaign file or row never needs (``schema_errors``, ``fast_schema``).
if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_names() -> list[str]:
    return sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json"))


@cache
def load_schema(name: str) -> dict[str, Any]:
    with (SCHEMA_DIR / f"{name}.schema.json").open(encoding="utf-8") as handle:
        return json.load(handle)


@cache
def validator(name: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(name: str, instance: Any) -> list[Any]:
    """Every failure of ``instance`` against ``schemas/<name>``, by path; ``[]`` without jsonschema when
    the compiled check (``chalicelib.fast_schema``) passes it."""
    from chalicelib.fast_schema import fast_check

    check = fast_check(name)
    if check is not None and check(instance):
        return []
    return sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
