"""The yes/no answer of a JSON Schema, compiled once, for the rows that pass (nearly all of them).

``jsonschema``'s validator walks the schema for every row and builds error objects on the way; on a
20,000-row list that was most of the validation time. Most rows are valid, and for them only "valid or
not" matters. So each schema file is compiled once by ``jsonschema-rs`` (a well-kept Rust implementation of
Draft 2020-12) into a validator that answers exactly that, and the full validator
(``chalicelib.domain.schemas.validator``) runs only on the rows this check flags, to word the findings
(``x-code`` / ``x-message``). The schema files stay the single source of the rules.

``tests/unit/test_schema_check.py`` checks that both answer the same for every schema in ``schemas/`` on
valid rows and thousands of broken ones; docs/performance.md has the measurement that chose
``jsonschema-rs`` over ``fastjsonschema``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from chalicelib.domain.schemas import load_schema

Check = Callable[[Any], bool]


def compile_schema(schema: Any) -> Check:
    """The yes/no check of ``schema``; like ``jsonschema``, ``format`` is an annotation, not an assertion."""
    import jsonschema_rs  # ~20 ms of import: paid by the first validation, not by every cold start

    is_valid = jsonschema_rs.Draft202012Validator(schema).is_valid

    def check(instance: Any) -> bool:
        try:
            return is_valid(instance)
        except ValueError:  # a value JSON has no type for: jsonschema words what is wrong with it
            return False

    return check


COMPILED: list[str] = []  # the schemas this process compiled, in order: what a cold start paid for


@cache
def fast_check(name: str) -> Check:
    """The compiled check of ``schemas/<name>.schema.json`` (once per process)."""
    COMPILED.append(name)
    return compile_schema(load_schema(name))
