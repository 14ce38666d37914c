"""JSON Schemas from the top-level ``schemas/`` folder, compiled once per process.

``schemas/`` is the single source. In the Lambda package it sits beside ``app.py`` too,
because ``vendor/schemas`` links to it and Chalice copies ``vendor/`` to the package root.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.data import SCHEMA_DIR as _SCHEMA_DIR
from chalicelib.data import VALIDATED_PATH as _VALIDATED_PATH

# jsonschema costs ~100 ms to import (referencing, format checkers): loaded on the first full
# validation, which a valid campaign file or row never needs (``schema_errors``, ``schema_check``).
if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCHEMA_DIR = _SCHEMA_DIR
# Written into the deployment zip by ``infra/package.py`` (``make package``), which validates every data
# file the functions load (campaigns, table templates) with jsonschema: the digests of what it found valid.
# The deployed files cannot change, so a cold start need not validate them again (compiling the campaign
# schema alone is ~15 ms of every cold start). Absent in a working tree: there every load validates.
VALIDATED_PATH = _VALIDATED_PATH


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


def digest(schema: bytes, source: bytes) -> str:
    """Names a data file's bytes together with the bytes of the schema they were checked against."""
    return hashlib.sha256(b"%d:%s%s" % (len(schema), schema, source)).hexdigest()


def data_digest(name: str, source: bytes) -> str:
    return digest((SCHEMA_DIR / f"{name}.schema.json").read_bytes(), source)


@cache
def _validated_at_build() -> frozenset[str]:
    try:
        return frozenset(json.loads(VALIDATED_PATH.read_text(encoding="utf-8"))["valid"])
    except FileNotFoundError:
        return frozenset()


def schema_errors(name: str, instance: Any, source: bytes | None = None) -> list[Any]:
    """Every failure of ``instance`` against ``schemas/<name>``, by path; ``[]`` without jsonschema when
    the compiled check (``chalicelib.domain.schema_check``) passes it, and without any check when ``source``, the
    bytes ``instance`` was parsed from, was found valid by the build (``VALIDATED_PATH``)."""
    if source is not None and _validated_at_build() and data_digest(name, source) in _validated_at_build():
        return []
    from chalicelib.domain.schema_check import fast_check

    if fast_check(name)(instance):
        return []
    return sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
