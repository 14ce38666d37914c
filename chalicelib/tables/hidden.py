"""Which rows of an .xlsx are hidden: calamine reads values, not row visibility.

A hidden row is still data (the office sees it when it opens the file), so it is validated; the
unit is told it was hidden, because a hidden problem in a rectification ledger is worth a look.
Read with byte patterns over the zip parts, not an XML parser: only ``<row>`` start tags and the
sheet-name -> part mapping are needed, and the parts' sizes were already checked by ``safety``.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import zipfile

_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*>")


def _attrs(tag: bytes) -> dict[str, str]:
    return {k.decode().split(":")[-1]: html.unescape(v.decode("utf-8", "replace")) for k, v in _ATTR.findall(tag)}


def hidden_rows(data: bytes) -> dict[str, frozenset[int]]:
    """Sheet name -> Excel row numbers marked hidden; {} for anything that is not a readable .xlsx."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
                return {}
            targets = {}
            for tag in _RELATIONSHIP.findall(archive.read("xl/_rels/workbook.xml.rels")):
                attrs = _attrs(tag)
                target = attrs.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
                targets[attrs.get("Id")] = part
            found: dict[str, frozenset[int]] = {}
            for tag in _SHEET.findall(archive.read("xl/workbook.xml")):
                attrs = _attrs(tag)
                part = targets.get(attrs.get("id"))
                if part not in names:
                    continue
                rows = set()
                for row in _ROW.findall(archive.read(part)):
                    row_attrs = _attrs(row)
                    if row_attrs.get("hidden") in ("1", "true") and row_attrs.get("r", "").isdigit():
                        rows.add(int(row_attrs["r"]))
                found[attrs.get("name", "")] = frozenset(rows)
            return found
    except Exception:  # visibility is a nicety: never let it fail an upload
        return {}
