"""A yes/no check compiled from the same JSON Schema files, for the rows that pass (nearly all of them).

``jsonschema``'s validator walks the schema for every row and builds error objects on the way; on a
20,000-row list that is most of the validation time. Most rows are valid, and for them only "valid or
not" matters. So each schema is compiled once into nested closures that answer exactly that, and the
full validator (``chalicelib.domain.schemas.validator``) runs only on the rows this check flags, to produce
the findings. The schema files stay the single source of the rules.

Only the keywords the row schemas use are compiled; a schema with any other keyword compiles to
``None`` and the caller keeps using the full validator for every row. ``tests/test_perf_fast_schema.py``
checks that both paths answer the same for every schema in ``schemas/`` on valid and broken rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from chalicelib.domain.schemas import load_schema

Check = Callable[[Any], bool]

# Keywords that never affect validity.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly"}
)
# The JSON types as jsonschema's Draft 2020-12 type checker sees Python values: bool is not a number,
# and 1.0 is an integer. ``{x}`` is the expression of the value being checked.
TYPE_TESTS = {
    "string": "isinstance({x}, str)",
    "boolean": "isinstance({x}, bool)",
    "null": "{x} is None",
    "object": "isinstance({x}, dict)",
    "array": "isinstance({x}, list)",
    "number": "(isinstance({x}, (int, float)) and not isinstance({x}, bool))",
    "integer": "((isinstance({x}, int) and not isinstance({x}, bool))"
    " or (isinstance({x}, float) and {x}.is_integer()))",
}


class Unsupported(ValueError):  # noqa: N818 (a signal to fall back, not an error for anyone to see)
    """The schema uses a keyword this compiler does not know: use the full validator."""


class _Source:
    """Python expressions for schema nodes; regexes and constants live in a namespace, not in the text."""

    def __init__(self, root: dict[str, Any] | None = None) -> None:
        self.namespace: dict[str, Any] = {}
        self.root = root or {}
        self.refs: dict[str, str] = {}  # "#/$defs/x" -> the name of its compiled function

    def ref(self, pointer: str) -> str:
        """A local ``$ref`` becomes a call of the definition's own function (late-bound: recursion works)."""
        if not pointer.startswith("#/$defs/") or "/" in pointer.removeprefix("#/$defs/"):
            raise Unsupported(f"$ref {pointer}")
        if pointer not in self.refs:
            name = self.refs[pointer] = f"_d{len(self.refs)}"
            target = self.root.get("$defs", {}).get(pointer.removeprefix("#/$defs/"))
            if target is None:
                raise Unsupported(f"$ref {pointer}")
            self.namespace[name] = None  # reserved before compiling, for a definition that refers to itself
            self.namespace[name] = eval(f"lambda x: bool({self.node(target, 'x')})", self.namespace)  # noqa: S307
        return self.refs[pointer]

    def bind(self, value: Any) -> str:
        name = f"_k{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def const(self, x: str, expected: Any) -> str:
        # jsonschema's equality keeps booleans apart from 0 and 1; only scalar constants are compiled.
        if isinstance(expected, bool) or expected is None:
            return f"({x} is {expected!r})"
        if isinstance(expected, str):
            return f"(isinstance({x}, str) and {x} == {self.bind(expected)})"
        if isinstance(expected, int | float):
            return f"({TYPE_TESTS['number'].format(x=x)} and {x} == {expected!r})"
        raise Unsupported("const of a container")

    def node(self, schema: Any, x: str, known: str | None = None) -> str:
        """The expression of ``schema`` for the value ``x``; ``known`` is a JSON type ``x`` is already known to have.

        The parts are joined with ``and``, the type test first: once it passed, the keywords' own
        "does this keyword apply to this type" tests are left out, here and in the subschemas that look
        at the same value (allOf, if/then/else, ...). A property is fetched once, into a name of its own.
        """
        if schema is True or schema == {}:
            return "True"
        if schema is False:
            return "False"
        if not isinstance(schema, dict):
            raise Unsupported(repr(schema))
        parts: list[str] = []
        declared = schema.get("type")
        if isinstance(declared, str):
            known = declared
        if "type" in schema:
            names = [declared] if isinstance(declared, str) else list(declared)
            if any(n not in TYPE_TESTS for n in names):
                raise Unsupported(f"type {declared!r}")
            parts.append("(" + " or ".join(TYPE_TESTS[n].format(x=x) for n in names) + ")")

        def unless(kind: str, test: str) -> str:
            # "x is not of the keyword's type, or ...": nothing when x's type is known to be that type.
            if known == kind or (kind == "number" and known == "integer"):
                return ""
            return f"not {test} or "

        not_str = unless("string", f"isinstance({x}, str)")
        not_num = unless("number", TYPE_TESTS["number"].format(x=x))
        not_obj = unless("object", f"isinstance({x}, dict)")
        not_list = unless("array", f"isinstance({x}, list)")
        for keyword, value in schema.items():
            if keyword in ANNOTATIONS or keyword.startswith("x-") or keyword in ("type", "then", "else", "$defs"):
                continue
            if keyword == "$ref":
                parts.append(f"{self.ref(value)}({x})")
            elif keyword == "items":
                item = self.node(value, "_i")
                parts.append(f"({not_list}all({item} for _i in {x}))")
            elif keyword == "minItems":
                parts.append(f"({not_list}len({x}) >= {int(value)})")
            elif keyword == "maxItems":
                parts.append(f"({not_list}len({x}) <= {int(value)})")
            elif keyword == "uniqueItems":
                if value:
                    parts.append(f"({not_list}_unique({x}))")
                    self.namespace["_unique"] = _unique
                continue
            elif keyword == "required":
                if value:
                    parts.append(f"({not_obj}{x}.keys() >= {self.bind(frozenset(value))})")
            elif keyword == "properties":
                self.namespace["_MISSING"] = _MISSING
                for name, sub in value.items():
                    held = f"_p{len(self.namespace)}"
                    self.namespace[held] = None  # reserves the name
                    check = self.node(sub, held)
                    parts.append(f"({not_obj}({held} := {x}.get({self.bind(name)}, _MISSING)) is _MISSING or {check})")
            elif keyword == "additionalProperties":
                if "patternProperties" in schema:
                    raise Unsupported("patternProperties")
                known_names = self.bind(frozenset(schema.get("properties", {})))
                if value is False:
                    parts.append(f"({not_obj}{known_names}.issuperset({x}))")
                elif value is not True:
                    extra = self.node(value, "_e")
                    others = f"({x}[_n] for _n in {x} if _n not in {known_names})"
                    parts.append(f"({not_obj}all({extra} for _e in {others}))")
            elif keyword == "minLength":
                parts.append(f"({not_str}len({x}) >= {int(value)})")
            elif keyword == "maxLength":
                parts.append(f"({not_str}len({x}) <= {int(value)})")
            elif keyword == "pattern":
                # jsonschema applies patterns with re.search, as ECMA-262 does: the same call here.
                search = self.bind(re.compile(value).search)
                parts.append(f"({not_str}{search}({x}) is not None)")
            elif keyword == "minimum":
                parts.append(f"({not_num}{x} >= {value!r})")
            elif keyword == "maximum":
                parts.append(f"({not_num}{x} <= {value!r})")
            elif keyword == "const":
                parts.append(self.const(x, value))
            elif keyword == "enum":
                parts.append("(" + " or ".join(self.const(x, option) for option in value) + ")")
            elif keyword == "allOf":
                parts.append("(" + " and ".join(self.node(sub, x, known) for sub in value) + ")")
            elif keyword == "anyOf":
                parts.append("(" + " or ".join(self.node(sub, x, known) for sub in value) + ")")
            elif keyword == "oneOf":
                options = ", ".join(f"bool({self.node(sub, x, known)})" for sub in value)
                parts.append(f"([{options}].count(True) == 1)")
            elif keyword == "not":
                parts.append(f"(not {self.node(value, x, known)})")
            elif keyword == "if":
                then = self.node(schema.get("then", True), x, known)
                otherwise = self.node(schema.get("else", True), x, known)
                parts.append(f"(({then}) if ({self.node(value, x, known)}) else ({otherwise}))")
            else:
                raise Unsupported(keyword)
        return "(" + " and ".join(parts) + ")" if parts else "True"


_MISSING = object()  # a property the instance does not have (None is a value)


def _unique(items: list[Any]) -> bool:
    # Strings and numbers hash as jsonschema compares them (1 == 1.0) once booleans are out of the way
    # (jsonschema keeps True apart from 1, a set does not); anything else goes to jsonschema's own check.
    if all(isinstance(i, str | int | float) and not isinstance(i, bool) for i in items):
        return len(set(items)) == len(items)
    from jsonschema._utils import uniq  # rare: lists of objects or booleans

    return bool(uniq(items))


def compile_schema(schema: Any) -> Check | None:
    """The yes/no check of a schema, or None when it uses a keyword not compiled here."""
    source = _Source(schema if isinstance(schema, dict) else None)
    try:
        expression = source.node(schema, "v")
    except Unsupported:
        return None
    # One flat expression: no per-keyword function calls for each row and field.
    check: Check = eval(f"lambda v: bool({expression})", source.namespace)  # noqa: S307 (built from our own schema files)
    return check


COMPILED: list[str] = []  # the schemas this process compiled, in order: what a cold start paid for


@cache
def fast_check(name: str) -> Check | None:
    """The compiled check of ``schemas/<name>.schema.json`` (once per process), or None."""
    COMPILED.append(name)
    return compile_schema(load_schema(name))
