"""Which rows of an .xlsx are hidden: calamine reads values, not row visibility.

A hidden row is still data (the office sees it when it opens the file), so it is validated; the
unit is told it was hidden, because a hidden problem in a rectification ledger is worth a look.
Read with byte patterns over the zip parts, not an XML parser: only ``<row>`` start tags and the
sheet-name -> part mapping are needed, and the parts' sizes were already checked by ``safety``.
``extent`` looks for hidden rows (``collect_hidden``) in the same streamed pass that measures each
sheet's extent, so a part is decompressed once.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile

_SHEET = re.compile(rb"<(?:\w+:)?sheet\b[^>]*>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>")
_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*>")
_ROW_START = re.compile(rb"<(?:\w+:)?row\b")
_HIDDEN = b'hidden="'
# A row start tag is a few dozen bytes; one still open after this many is not carried into the next chunk.
_MAX_CARRY = 64 * 1024


def _attrs(tag: bytes) -> dict[str, str]:
    return {k.decode().split(":")[-1]: html.unescape(v.decode("utf-8", "replace")) for k, v in _ATTR.findall(tag)}


def sheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, part) in workbook order, for the parts the archive holds; [] without workbook or rels."""
    names = set(archive.namelist())
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return []
    targets = {}
    for tag in _RELATIONSHIP.findall(archive.read("xl/_rels/workbook.xml.rels")):
        attrs = _attrs(tag)
        target = attrs.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
        targets[attrs.get("Id")] = part
    sheets: list[tuple[str, str]] = []
    for tag in _SHEET.findall(archive.read("xl/workbook.xml")):
        attrs = _attrs(tag)
        sheet_part = targets.get(attrs.get("id"))
        if sheet_part is not None and sheet_part in names:
            sheets.append((attrs.get("name", ""), sheet_part))
    return sheets


def collect_hidden(buffer: bytes, found: set[int], start: int = 0) -> int:
    """Adds the hidden rows whose start tag is complete in ``buffer[start:]``; returns where the rest begins.

    Searches for the attribute, not for row tags: ``hidden="`` is rare and a literal (``bytes.find``
    skips to it), while a pattern for every ``<row`` has no literal prefix and is tried at each ``<``.
    Each hit is then judged exactly as a whole-part ``_ROW.findall`` would: the tag that holds it is
    the first row start after the last ``>`` before it, up to the next ``>``. ``start`` must be at a tag
    boundary (the start of the part, or just after a ``>``); so is the returned offset, from which the
    caller carries the bytes over to the next chunk. A part's hidden rows are the same however it is cut.
    """
    at = buffer.find(_HIDDEN, start)
    while at >= 0:
        opened = _ROW_START.search(buffer, max(buffer.rfind(b">", start, at) + 1, start), at)
        tag = _ROW.match(buffer, opened.start()) if opened else None
        if tag is None:
            at = buffer.find(_HIDDEN, at + len(_HIDDEN))
            continue
        attrs = _attrs(tag.group())
        if attrs.get("hidden") in ("1", "true") and attrs.get("r", "").isdigit():
            found.add(int(attrs["r"]))
        at = buffer.find(_HIDDEN, tag.end())  # one look per tag, however many hidden= it repeats
    return max(buffer.rfind(b">", start) + 1, start, len(buffer) - _MAX_CARRY)
