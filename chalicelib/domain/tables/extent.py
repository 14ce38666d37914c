"""Cheap pre-checks on an .xlsx's XML before python-calamine reads it, for the precise message they give.

calamine loads a sheet as one dense rectangle from A1 to the furthest cell holding a value, and makes a
string for every cell that refers to a shared string. So a few kilobytes can ask for gigabytes: a value
in XFD1048576, or one 32,767-character shared string referenced by every cell. Such files are refused
here with a message that says what to fix (too many rows, too many columns, too much repeated text).

These checks only give better messages; they are not the guard. The guard is the sandbox the whole
check runs in (``chalicelib.adapters.sandbox``): whatever these patterns miss (a cell without ``r``, odd
quoting, a trick of the XML reader) ends in the child's memory or time limit and a ``FILE_TOO_COMPLEX``
verdict. That is why the patterns are plain: no possessive quantifiers or atomic groups, whose behaviour
changed between CPython 3.11 patch releases (Debian 12's 3.11.2 against 3.11.7), and no attempt to
re-implement calamine's tokenizer (the 667 lines this module replaced; docs/reliability.md).

Hidden rows are collected in the same streamed pass (``hidden.collect_hidden``): decompressing a part is
most of the cost.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.tables.hidden import collect_hidden, sheet_parts
from chalicelib.domain.tables.limits import MAX_SHEET_CELLS, MAX_SHEET_ROWS

_CHUNK = 256 * 1024
_MAX_CARRY = 64 * 1024  # an unfinished tag longer than this is not carried into the next chunk

# A cell that holds something: its start tag (not self-closing) followed by a <v>, <f> or <is>. Empty,
# formatted-only cells (which calamine does not keep) are not counted, so a formatted column far to the
# right refuses nothing.
_VALUE_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*)>\s*<(?:\w+:)?(?:v|f|is)\b")
_REFERENCE = re.compile(rb"""\br\s*=\s*["']([A-Za-z]{1,3})([0-9]{1,7})["']""")
_SHARED_TYPE = re.compile(rb"""\bt\s*=\s*["']s["']""")
_SHARED_INDEX = re.compile(rb"<(?:\w+:)?v>\s*([0-9]{1,9})\s*<")
_STRING_ITEM = re.compile(rb"<(?:\w+:)?si\b.*?</(?:\w+:)?si>", re.DOTALL)
# The same cells in one C-level ``findall``, for a start tag written as Excel, WPS and openpyxl write it
# (<c r="B7" s="3" t="s"><v>12</v>): the reference, the type and a shared index read off their fixed places.
# Where this first branch matches, ``_VALUE_CELL`` matches the same span (it is one of the texts that pattern
# matches, ending at the same value tag), ``_REFERENCE`` finds the same reference first, ``_SHARED_TYPE`` is
# true exactly for t="s", and ``_SHARED_INDEX`` finds the same index (nothing but ">" lies between the start
# tag and <v>); where it does not, the second branch is ``_VALUE_CELL`` itself, and a cell matched by it (no
# reference captured) sends its buffer through ``_scan_cells_one_by_one``, the reference for this scan. So
# the matches are ``_VALUE_CELL``'s, one for one, and the figures exactly the per-cell loop's.
_CELL_AS_WRITTEN = re.compile(
    rb'<(?:c r="([A-Z]{1,3})([0-9]{1,7})"(?: s="[0-9]{1,5}")?(?: t="([a-zA-Z]{1,9})")?>'
    rb"<(?:v\b(?=>([0-9]{1,9})<|)|f\b|is\b)"
    rb"|(?:\w+:)?c\b[^>]*>\s*<(?:\w+:)?(?:v|f|is)\b)"
)
_TAG = re.compile(rb"<[^>]*>")


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


@dataclass(frozen=True)
class SheetScan:
    part: str
    rows: int  # the furthest Excel row with a value whose cell says where it is
    columns: int  # the furthest column (1-based) with such a value
    shared_chars: int  # characters of shared strings referenced by the part's cells, counted per reference
    stopped_early: bool = False


def shared_string_lengths(archive: zipfile.ZipFile) -> list[int]:
    """Characters of each shared string (markup removed, entities counted as written: an estimate)."""
    names = [i for i in archive.infolist() if i.filename.replace("\\", "/").lower() == "xl/sharedstrings.xml"]
    if not names:
        return []
    text = archive.read(names[0])
    return [len(_TAG.sub(b"", item.group()).decode("utf-8", "replace")) for item in _STRING_ITEM.finditer(text)]


def _chunks(part: Any) -> Iterator[bytes]:
    """The part in buffers cut just after a ">" (so no tag is split), whatever the decompressor hands out."""
    carry = b""
    while chunk := part.read(_CHUNK):
        buffer = carry + chunk
        cut = buffer.rfind(b">") + 1
        if cut == 0 and len(buffer) > _MAX_CARRY:
            cut = len(buffer)
        yield buffer[:cut]
        carry = buffer[cut:]
    if carry:
        yield carry


def _scan_cells(buffer: bytes, lengths: list[int]) -> tuple[int, int, int]:
    """The furthest row and column among the buffer's value cells, and the shared-string characters they
    reference: what ``_scan_cells_one_by_one`` computes, with the per-cell work done by one ``findall``."""
    found = _CELL_AS_WRITTEN.findall(buffer)
    if not found:
        return 0, 0, 0
    letters, digits, types, indexes = zip(*found, strict=True)
    if not all(letters):  # a cell written some other way
        return _scan_cells_one_by_one(buffer, lengths)
    shared = 0
    if lengths:
        referenced = [index for kind, index in zip(types, indexes, strict=True) if kind == b"s"]
        if not all(referenced):  # a shared index not written as <v>12<
            return _scan_cells_one_by_one(buffer, lengths)
        count = len(lengths)
        shared = sum(lengths[i] for i in map(int, referenced) if i < count)
    return max(map(int, digits)), max(map(_column_number, set(letters))), shared


def _scan_cells_one_by_one(buffer: bytes, lengths: list[int]) -> tuple[int, int, int]:
    rows = columns = shared = 0
    for cell in _VALUE_CELL.finditer(buffer):
        attributes = cell.group(1)
        reference = _REFERENCE.search(attributes)
        if reference:
            rows = max(rows, int(reference.group(2)))
            columns = max(columns, _column_number(reference.group(1)))
        if lengths and _SHARED_TYPE.search(attributes):
            index = _SHARED_INDEX.search(buffer, cell.end(1), cell.end() + 32)
            if index and int(index.group(1)) < len(lengths):
                shared += lengths[int(index.group(1))]
    return rows, columns, shared


def _scan_part(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, lengths: list[int], hidden: set[int] | None
) -> SheetScan:
    rows = columns = shared = 0
    with archive.open(info) as part:
        for buffer in _chunks(part):
            if hidden is not None:
                collect_hidden(buffer, hidden)
            found = _scan_cells(buffer, lengths)
            rows, columns, shared = max(rows, found[0]), max(columns, found[1]), shared + found[2]
            if rows > MAX_SHEET_ROWS or rows * columns > MAX_SHEET_CELLS:
                return SheetScan(info.filename, rows, columns, shared, stopped_early=True)
    return SheetScan(info.filename, rows, columns, shared)


@dataclass(frozen=True)
class Survey:
    scans: list[SheetScan]
    hidden: dict[str, frozenset[int]]  # sheet name -> Excel rows marked hidden

    @property
    def shared_chars(self) -> int:
        return sum(scan.shared_chars for scan in self.scans)


def survey(data: bytes) -> Survey:
    """Each sheet's extent and referenced shared-string characters, and its hidden rows, in one pass."""
    scans: list[SheetScan] = []
    hidden: dict[str, frozenset[int]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            sheets = sheet_parts(archive)
        except Exception:  # visibility is a nicety: never let it fail an upload
            sheets = []
        names = {part: name for name, part in sheets}
        lengths = shared_string_lengths(archive)
        for info in archive.infolist():
            part = info.filename
            if part not in names and not (part.startswith("xl/worksheets/") and part.endswith(".xml")):
                continue
            found: set[int] | None = set() if part in names else None
            scans.append(_scan_part(archive, info, lengths, found))
            if found is not None:
                hidden[names[part]] = frozenset(found)
            if scans[-1].stopped_early:
                break
    return Survey(scans, hidden)


def scan_sheets(data: bytes) -> list[SheetScan]:
    return survey(data).scans
