"""Template definitions (columns, labels, aspects, markers) loaded from ``chalicelib/data/templates/<id>.json``.

The templates are data so the office can add a label variant or a 2022 aspect without a code
change; each file is checked against ``schemas/table-template.schema.json`` when first loaded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from chalicelib.data import TABLE_TEMPLATE_DIR
from chalicelib.domain.schema_check import fast_check
from chalicelib.domain.schemas import schema_errors
from chalicelib.domain.tables.values import aspect_key, label_key

TEMPLATE_DIR = TABLE_TEMPLATE_DIR


class TemplateError(ValueError):
    """A template file is missing or invalid: a deployment bug, not a user error."""


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    kind: str
    variants: tuple[str, ...] = ()
    required: bool = False
    content: bool = False
    fill_down: bool = False
    group: str | None = None

    @cached_property  # find_header asks for every cell of the first rows: normalise the labels once
    def keys(self) -> frozenset[str]:
        return frozenset(label_key(text) for text in (self.id, self.label, *self.variants))


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    row_schema: str
    columns: tuple[Column, ...]
    groups: tuple[str, ...]
    aspects: tuple[str, ...]
    aspect_keys: dict[str, str]  # aspect_key(alias) -> canonical name
    unknown_aspect: str
    long_term_markers: tuple[str, ...]
    tracks_progress: bool  # 完成情况 is read by chalicelib.domain.progress into ``completed``
    roles: tuple[str, ...]
    min_lengths: dict[str, int]
    distinct: tuple[str, ...]
    header_lines: bool
    footer: bool
    print_title: tuple[str, ...] = ()  # the attachment's own title lines, for exports
    nothing_to_report: re.Pattern[str] | None = None  # 本月无典型案例: a valid answer with no rows

    def column(self, column_id: str) -> Column:
        return next(c for c in self.columns if c.id == column_id)

    @property
    def required_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    def canonical_aspect(self, text: str) -> str | None:
        """The aspect a cell names: by its key (numbering, quotes, a trailing 问题 removed), else the one
        aspect whose key the cell's contains (群众反映强烈的热点问题 → 群众反映强烈的问题, the notice's
        own wording in its (六)); two aspects contained is no answer."""
        key = aspect_key(text)
        exact = self.aspect_keys.get(key)
        if exact is not None or not key:
            return exact
        found = {name for alias, name in self.aspect_keys.items() if len(alias) >= 4 and alias in key}
        return found.pop() if len(found) == 1 else None


def template_ids() -> list[str]:
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.json"))


def _build(data: dict[str, Any]) -> Template:
    columns = tuple(
        Column(
            id=c["id"],
            label=c["label"],
            kind=c["kind"],
            variants=tuple(c.get("variants", ())),
            required=c.get("required", False),
            content=c.get("content", False),
            fill_down=c.get("fill_down", False),
            group=c.get("group"),
        )
        for c in data["columns"]
    )
    aspect_keys: dict[str, str] = {}
    for aspect in data["aspects"]:
        for alias in (aspect["name"], *aspect.get("aliases", ())):
            key = aspect_key(alias)
            if aspect_keys.get(key, aspect["name"]) != aspect["name"]:
                raise TemplateError(f"template {data['id']}: aspect alias {alias!r} is ambiguous")
            aspect_keys[key] = aspect["name"]
    return Template(
        id=data["id"],
        name=data["name"],
        row_schema=data["row_schema"],
        columns=columns,
        groups=tuple(data.get("groups", ())),
        aspects=tuple(a["name"] for a in data["aspects"]),
        aspect_keys=aspect_keys,
        unknown_aspect=data["unknown_aspect"],
        long_term_markers=tuple(data["long_term_markers"]),
        tracks_progress=data.get("tracks_progress", False),
        roles=tuple(data.get("roles", ())),
        min_lengths=dict(data["min_lengths"]),
        distinct=tuple(data.get("distinct", ())),
        header_lines=data.get("header_lines", False),
        footer=data.get("footer", False),
        print_title=tuple(data.get("print_title", ())),
        nothing_to_report=re.compile(data["nothing_to_report"]) if "nothing_to_report" in data else None,
    )


@cache
def load_template(template_id: str) -> Template:
    path = TEMPLATE_DIR / f"{template_id}.json"
    if not path.is_file():
        raise TemplateError(f"unknown template {template_id!r}; known: {', '.join(template_ids())}")
    source = path.read_bytes()
    data = json.loads(source)
    problems = schema_errors("table-template", data, source)
    if problems:
        where = "/".join(str(p) for p in problems[0].absolute_path)
        raise TemplateError(f"{path.name}: {where}: {problems[0].message}")
    if data["id"] != template_id:
        raise TemplateError(f"{path.name}: id {data['id']!r} does not match the file name")
    template = _build(data)
    # Fail at load, not mid-upload, when the row schema is missing or unreadable (compiling reads it and its
    # patterns); tests/unit/test_schema_check.py checks every schema against the metaschema.
    fast_check(template.row_schema)
    return template
