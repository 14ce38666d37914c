"""How far each sheet of an .xlsx reaches, measured in its XML before python-calamine may allocate it.

``read_grids`` refuses a file past the caps (``chalicelib.domain.tables.limits``) on what ``survey`` finds,
and takes the hidden rows it found in the same pass.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.tables.hidden import collect_hidden, sheet_parts
from chalicelib.domain.tables.limits import MAX_COLUMNS, MAX_SHEET_CELLS, MAX_SHEET_ROWS

# calamine loads a sheet as one dense rectangle from A1 to the furthest cell that holds a value: a 1.4 KB
# .xlsx with values in A1 and XFD1048576 asks it for 512 GB and aborts the process (no exception to catch),
# and a million real rows are all loaded before ``nrows`` cuts them. So every part calamine may read as a
# sheet is scanned first, streamed, and refused past the caps before calamine sees the file. Two scans:
#
# * The fast scan never measures; it only proves a part within the caps, by a few byte patterns that the
#   regex engine runs in C (each starts with a literal, so the engine jumps between candidates). A part
#   passes when none of them matches (why that is enough: ``_fast_pass``). Files from Excel, WPS,
#   LibreOffice, openpyxl and xlsxwriter within the caps pass.
# * Any other part (a cell past the caps, even one with formatting only; a cell without r; an r quoted or
#   spaced oddly ...) is read again from the start by the exact scan (``_ExactScan``): a tokenizer that
#   splits the XML where calamine's XML reader does and places every cell where calamine does, counting
#   only the cells calamine keeps (those with a value). It stops at the first such cell past the caps.
#
# Hidden rows are looked for in the same passes: decompressing a part is a good share of the scan's cost.
_SCAN_CHUNK = 256 * 1024  # a window the regex engine searches several times stays in the L2 cache
_SCAN_OVERLAP = 1024  # bytes of the previous chunk kept in front of the next one
_SCAN_MARGIN = 64  # a fast-scan match this close to a window's end is judged in the next window

# A cell reference calamine places within the caps: a column A..CV (the first 100, either case, as calamine
# reads them) and a row 1..20200 without leading zeros. Kept in step with the caps by a test.
_COLUMN_OK = rb"(?:[A-Za-z]|[ABab][A-Za-z]|[Cc][A-Va-v])"
_ROW_OK = rb"(?:[1-9][0-9]{0,3}|1[0-9]{4}|20[01][0-9]{2}|20200)"
_SPACE = b" \t\n\x0c\r"  # Rust's is_ascii_whitespace: what calamine's attribute reader skips
_QUOTES = b"\"'"
_BEFORE_KEY = _SPACE + _QUOTES  # what calamine's attribute reader has just passed when a key starts
# Why a part with no match of these is within the caps. calamine places a cell at its r attribute when it
# has one, else at (current row, previous column + 1). Its attribute reader (calamine's RawAttrIter) takes
# a key to run from after whitespace or a closing quote up to "=", trimmed at its end, and a value in
# either quote after optional whitespace. So any attribute calamine can read as r shows in the bytes as
# "r", optional whitespace, "=", with whitespace or a quote just before the "r".
# 1. A cell tag is "<c" or "<prefix:c" followed by whitespace, "/" or ">" (quick-xml ends a tag name at
#    whitespace and takes the local name after the first colon). If every such spot is followed by
#    ' r="', every cell has an r, so calamine places none from its running row and column, and row tags
#    (an 8-digit row number, say) and cells without r cannot move anything.
# 2. Every "r=" after whitespace or a quote is followed by a double-quoted reference within the caps, or by
#    digits only (a row's r; as a cell's r, calamine refuses it).
# 3. No "=" after whitespace belongs to a key "r" (such spots are rare and mostly text: judged in Python).
# Whichever r calamine then takes for a cell (the first one, or a later duplicate), it is within the caps,
# so every cell it keeps is. The patterns look at all bytes, text and comments included, so where the XML
# reader would draw tag boundaries (a ">" inside a quoted value) cannot matter: a false alarm only costs
# the exact scan. Parts with prefixed tags always raise one, as their end tags "</x:c>" match 1 (and telling
# those from a start tag named, say, "a</b:c" takes the tokenizer); the exact scan reads their rows in
# runs, nearly as fast.
_CELL_WITHOUT_LEADING_R = re.compile(rb'c(?! r=")(?<=[<:]c)(?=[ \t\r\n/>])')  # 1, for "<c" and ":c" in one pass
_R_NOT_PLAIN = re.compile(rb'r=(?<=[ \t\n\x0c\r"\']r=)(?!"(?:' + _COLUMN_OK + _ROW_OK + rb'|[0-9]+)")')
_SPACE_BEFORE_EQUALS = re.compile(rb"=(?<=[ \t\n\x0c\r]=)")


def _spaced_r(window: bytes, equals: int) -> bool:
    """The "=" at ``equals``, after whitespace, may end a key "r" (or too much whitespace to tell)."""
    at = equals - 1
    while at >= 0 and window[at] in _SPACE:
        if equals - at > _SCAN_MARGIN:
            return True
        at -= 1
    if at < 0 or window[at] != ord("r"):
        return at < 0  # the window starts in the whitespace: cannot tell
    return at == 0 or window[at - 1] in _BEFORE_KEY


def _fast_pass(window: bytes, start: int, limit: int) -> bool:
    """No match starting in ``window[start:limit]`` (see above): that stretch of the sheet keeps the caps."""
    for pattern in (_CELL_WITHOUT_LEADING_R, _R_NOT_PLAIN):
        found = pattern.search(window, start)
        if found and found.start() < limit:
            return False
    at = start
    while (found := _SPACE_BEFORE_EQUALS.search(window, at)) and found.start() < limit:
        if _spaced_r(window, found.start()):
            return False
        at = found.end()
    return True


# --- the exact scan ----------------------------------------------------------------------------------------
# calamine 0.37 (python-calamine 0.9.1) reads a sheet with quick-xml 0.42 (empty elements expanded to a
# start and an end, end names not checked) and its own attribute reader. The scan follows both where a
# sheet can be read; where calamine would give up on the sheet, or the scan cannot tell what it would read,
# it raises ``SheetUnreadableError``: the file is refused as unreadable, which is what calamine does in the
# first case, and the safe answer in the second. ``tests/test_hostile_extent.py`` holds calamine to it.
_QX_SPACE = b" \t\r\n"  # quick-xml's whitespace: a tag name ends at it, an end tag's name is trimmed of it
_U32 = 0xFFFFFFFF
_MAX_MARKUP = 4 * 1024 * 1024  # one tag, comment or CDATA section longer than this is not a spreadsheet's
_TAG = re.compile(rb"""[^>"']*+(?:(?:"[^"]*+"|'[^']*+')[^>"']*+)*+>""")  # quick-xml: ">" outside quotes
_NAME_END = re.compile(rb"[ \t\r\n]")
_EMPTY_VALUE_TYPES = (None, b"n", b"s", b"b", b"e")  # calamine: <v></v> of these types holds nothing
_IGNORED_VALUE_TYPES = (b"inlineStr", b"is")  # calamine: a <v> of these types holds nothing
# Most of a part is consumed in C, not tag by tag:
# * _SKIP: text, comments, CDATA, processing instructions, and tags other than c, row and sheetData and
#   their end tags, outside cells, where calamine ignores them all. It splits tags as quick-xml does (">"
#   outside quotes). A start tag's name runs to whitespace and its local part follows the first colon, so
#   a start tag whose name (up to whitespace, ">" or a quote) has a colon or a quote is left to the
#   tokenizer; an end tag's name is only trimmed at its end, so its prefix may even hold whitespace.
#   Possessive quantifiers throughout: the engine keeps no backtracking state, several times faster.
# * Runs of ordinary rows whose cells all have an r: after the run calamine's row is the last row's r and
#   its column 0. _SAFE_ROWS: rows 1..20200 whose cells hold values only in their own row and a column
#   within the caps, or are empty; _EMPTY_ROWS: rows of empty cells only (formatting far below the data).
# * Runs of ordinary cells without r (_CELLS_WITHOUT_R; they move calamine's column one each, and are
#   taken to hold values up to the last one) and of empty rows without r (_EMPTY_ROWS_WITHOUT_R).
# Their cells' ends are plainly their "</c>": the children are the simple <v>, <f> and <is> Excel writes.
_SKIP_NAMES = rb"(?:c|row|sheetData)"
_SKIP = re.compile(
    rb"(?:[^<]++"
    rb"|<(?![!?/])(?![^ \t\r\n>\"':]*+[:\"']|" + _SKIP_NAMES + rb"[ \t\r\n/>])"
    rb"""[^>"']*+(?:(?:"[^"]*+"|'[^']*+')[^>"']*+)*+>"""
    rb"|</(?![^:>]*+:" + _SKIP_NAMES + rb"[ \t\r\n]*+>|" + _SKIP_NAMES + rb"[ \t\r\n]*+>)[^>]*+>"
    rb"|<!--.*?-->"
    rb"|<!\[(?i:CDATA)\[.*?\]\]>"
    rb"|<\?(?!\??>).*?\?>"
    rb")*+",
    re.DOTALL,
)
_PREFIX = rb"((?:[A-Za-z_][\w.-]*:)?)"  # a tag's prefix, group 1 (matched again by \1 in its children)
_ATTRS = rb'(?: (?!r=)[^\s=<>/"\']++="[^"]*+")*+'
_ATTRS_NO_LT = rb'(?: (?!r=)[^\s=<>/"\']++="[^"<]*+")*+'  # so each cell or row holds one "<" + its name


def _text_element(name: bytes, attrs: bytes = _ATTRS) -> bytes:
    """``<name .../>`` or ``<name ...>text</name>``, in the prefix of group 1."""
    return rb"<\1" + name + attrs + rb"(?:/>|>[^<]*+</\1" + name + rb">)"


def _values(attrs: bytes) -> bytes:
    """A cell's children: <v>, <f>, and <is> with plain or rich text (rPr children not named c)."""
    text = _text_element(b"t", attrs)
    run = rb"<\1r>(?:<\1rPr>(?:<\1(?!c[ />])[A-Za-z]++" + attrs + rb"/>)*+</\1rPr>)?" + text + rb"</\1r>"
    inline = rb"<\1is>(?:" + text + b"|" + run + rb")*+</\1is>"
    return rb"(?:" + _text_element(b"v", attrs) + b"|" + _text_element(b"f", attrs) + b"|" + inline + rb")*+"


_EMPTY_CELL = rb'<\1c r="[^"]*+"' + _ATTRS + rb"(?:/>|></\1c>)"
_SAFE_CELL = rb'<\1c r="' + _COLUMN_OK + rb'\2"' + _ATTRS + rb">" + _values(_ATTRS) + rb"</\1c>"
_ROWS = (
    rb"(?:[ \t\r\n]*+<" + _PREFIX + rb'row r="({row})"' + _ATTRS
    + rb"(?:/>|>(?:[ \t\r\n]*+(?>{cell}))*+[ \t\r\n]*+</\1row>))++"
)  # fmt: skip
_SAFE_ROWS = re.compile(_ROWS.replace(b"{row}", _ROW_OK).replace(b"{cell}", _SAFE_CELL + b"|" + _EMPTY_CELL))
_EMPTY_ROWS = re.compile(_ROWS.replace(b"{row}", rb"[1-9][0-9]{0,8}").replace(b"{cell}", _EMPTY_CELL))
_ROW_NUMBER = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?row r="([0-9]+)"')
_CELL_WITHOUT_R = rb"<\1c" + _ATTRS_NO_LT + rb"(?:/>|>" + _values(_ATTRS_NO_LT) + rb"</\1c>)"
_CELLS_WITHOUT_R = re.compile(  # all in the prefix of the first, so that they can be counted in C
    rb"(?=[ \t\r\n]*+<" + _PREFIX + rb"c)(?:[ \t\r\n]*+" + _CELL_WITHOUT_R + rb")++"
)
_VALUE_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:v|is)[ />]")  # any <v> or <is> may hold a value
_EMPTY_ROWS_WITHOUT_R = re.compile(
    rb"(?:[ \t\r\n]*+<" + _PREFIX + rb"row" + _ATTRS_NO_LT + rb"(?:/>|>[ \t\r\n]*+</\1row>))++"
)
_BULK_LOOKAHEAD = 64 * 1024  # runs are matched only with this much of the part ahead (or all of it)
# Tags read one by one in Python cost a few microseconds each, and a crafted file could hold tens of
# millions. Past this many in one file (legitimate files need few: their rows go by the runs above), the
# file is refused as unreadable; Excel or WPS saving it again writes it the ordinary way.
_MAX_SINGLE_TAGS = 500_000


class SheetUnreadableError(ValueError):
    """calamine would give up on the sheet here, or it is too odd for the scan to tell what calamine reads."""


def _position(reference: bytes, cell: bool) -> tuple[int, int]:
    """(row, column), 0-based, as calamine reads a cell's (``cell``) or a row's r: letters then digits, in
    u32 arithmetic that wraps as in its release build; raises where calamine gives up."""
    row = column = 0
    power = 1
    reading_row = True
    for byte in reversed(reference):
        if 48 <= byte <= 57:
            if not reading_row:
                raise SheetUnreadableError("a digit in a column")
            row = (row + (byte - 48) * power) & _U32
            power = power * 10 & _U32
        elif 65 <= byte <= 90 or 97 <= byte <= 122:
            if reading_row:
                if row == 0:
                    raise SheetUnreadableError("no row")
                power, reading_row = 1, False
            column = (column + ((byte | 32) - 96) * power) & _U32
            power = power * 26 & _U32
        else:
            raise SheetUnreadableError("not a reference")
    if row == 0 or (cell and column == 0):
        raise SheetUnreadableError("no row or no column")
    return row - 1, column - 1


def _attributes(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """calamine's attribute reader (RawAttrIter) over what follows a tag's name; raises where it errs."""
    at, end = 0, len(raw)
    while True:
        while at < end and raw[at] in _SPACE:
            at += 1
        if at >= end:
            return
        equals = raw.find(b"=", at)
        if equals < 0:
            raise SheetUnreadableError("an attribute without a value")
        key = raw[at:equals].rstrip(_SPACE)
        at = equals + 1
        while at < end and raw[at] in _SPACE:
            at += 1
        if at >= end or raw[at] not in _QUOTES:
            raise SheetUnreadableError("an unquoted attribute value")
        close = raw.find(raw[at : at + 1], at + 1)
        if close < 0:
            yield key, raw[at + 1 :]
            return
        yield key, raw[at + 1 : close]
        at = close + 1


def _cell_attributes(raw: bytes) -> tuple[bytes | None, bytes | None]:
    """A cell's r and t as calamine takes them: each key it looks for (r, s, t) overwrites, until three
    were seen."""
    values: dict[bytes, bytes] = {}
    seen = 0
    for key, value in _attributes(raw):
        if key in (b"r", b"s", b"t"):
            values[key] = value
            seen += 1
        if seen == 3:
            break
    return values.get(b"r"), values.get(b"t")


def _row_attribute(raw: bytes) -> bytes | None:
    for key, value in _attributes(raw):
        if key == b"r":
            return value
    return None


def _local(name: bytes) -> bytes:
    return name[name.find(b":") + 1 :]


class _ExactScan:
    """Streamed over a sheet part's bytes (``feed``, then ``finish``): where calamine puts the cells it keeps.

    ``rows``/``columns`` are the furthest such cell's Excel row and column, or more: a run of ordinary rows
    counts as far as its highest row number (within the cap), a run of cells without r as far as its last
    cell. ``past_caps`` is set at the first cell past the caps, and nothing more is read. ``bulk=False``
    reads every tag singly, in Python (for tests: slow, but exact).
    """

    def __init__(self, bulk: bool = True, budget: list[int] | None = None) -> None:
        self.bulk = bulk
        self.budget = budget if budget is not None else [_MAX_SINGLE_TAGS]  # shared by a file's parts
        self.buffer = b""
        self.at = 0
        self.in_sheet = False  # past <sheetData>
        self.done = False  # past </sheetData>, or past the caps
        self.row = self.column = 0  # calamine's row_index and col_index
        self.rows = self.columns = 0
        self.past_caps = False
        self.cell: tuple[int, int] | None = None  # an open cell's position
        self.cell_type: bytes | None = None
        self.holds_value = False
        self.child: bytes | None = None  # the open <v>, <f> or <is> of the cell (its full name)
        self.child_opened = False  # nothing read yet inside the child
        self.nested: list[bytes] = []  # elements open inside an <is>

    def feed(self, chunk: bytes) -> None:
        if not self.done:
            self.buffer = self.buffer[self.at :] + chunk
            self.at = 0
            self._run(final=False)

    def finish(self) -> None:
        if not self.done:
            self._run(final=True)
        self.buffer = b""

    def _reach(self, rows: int, columns: int) -> None:
        """Values lie as far as Excel row ``rows`` and column ``columns``."""
        self.rows = max(self.rows, rows)
        self.columns = max(self.columns, columns)
        wide = self.columns if self.columns > MAX_COLUMNS else 0
        if self.rows > MAX_SHEET_ROWS or self.rows * wide > MAX_SHEET_CELLS:
            self.past_caps = self.done = True

    def _run(self, final: bool) -> None:
        buffer, at = self.buffer, self.at
        end = len(buffer)
        while not self.done:
            if self.cell is None and self.bulk:
                at = _SKIP.match(buffer, at).end()  # type: ignore[union-attr]  # it matches the empty string
            opening = buffer.find(b"<", at)
            if opening < 0:
                if at < end and self.child is not None:
                    self.child_opened = True  # text
                at = end
                break
            if opening > at and self.child is not None:
                self.child_opened = True  # text
            at = opening
            if self.bulk and self.in_sheet and self.cell is None:
                if not final and end - opening < _BULK_LOOKAHEAD:
                    break
                after = self._bulk(buffer, opening)
                if after:
                    at = after
                    continue
            self.budget[0] -= 1
            if self.budget[0] < 0:
                raise SheetUnreadableError("too many tags to read one by one")
            kind = buffer[opening + 1 : opening + 2]
            if kind == b"/":
                close = buffer.find(b">", opening + 2)
                if close < 0:
                    break
                at = close + 1
                self._end(buffer[opening + 2 : close].rstrip(_QX_SPACE))
            elif kind == b"!":
                if end - opening < 9 and not final:
                    break
                if buffer.startswith(b"!-", opening + 1):  # a comment: "-->" not overlapping "<!--"
                    close = buffer.find(b"-->", opening + 4)
                    if close >= 0 and not buffer.startswith(b"!--", opening + 1):
                        raise SheetUnreadableError("not a comment")
                    close = close + 2 if close >= 0 else -1
                elif buffer.startswith(b"![", opening + 1):
                    close = buffer.find(b"]]>", opening + 3)
                    if close >= 0 and buffer[opening + 1 : opening + 9].upper() != b"![CDATA[":
                        raise SheetUnreadableError("not a CDATA section")
                    close = close + 2 if close >= 0 else -1
                else:
                    raise SheetUnreadableError("a DOCTYPE or unknown markup in a sheet")
                if close < 0:
                    break
                at = close + 1
                if self.child is not None:
                    self.child_opened = True
            elif kind == b"?":
                close = buffer.find(b"?>", opening + 1)
                if close < 0:
                    break
                if close - opening <= 2:
                    raise SheetUnreadableError("an empty processing instruction")
                at = close + 2
                if self.child is not None:
                    self.child_opened = True
            elif kind:
                tag = _TAG.match(buffer, opening + 1)
                if tag is None:
                    break
                at = tag.end()
                content = buffer[opening + 1 : at - 1]
                space = _NAME_END.search(content)
                name_end = space.start() if space else len(content)
                if content.endswith(b"/"):
                    body = content[:-1]
                    name = body[: name_end if name_end < len(content) else len(body)]
                    self._start(name, body[len(name) :])
                    if not self.done:
                        self._end(name)
                else:
                    self._start(content[:name_end], content[name_end:])
            else:
                break
        else:
            at = end
        if not self.done and end - at > _MAX_MARKUP:
            raise SheetUnreadableError("a tag longer than a sheet's")
        self.at = at
        if final:
            self.done = True

    def _bulk(self, buffer: bytes, opening: int) -> int:
        """Consumes a run of ordinary rows or cells at ``opening`` (see _SKIP); where it ends, or 0."""
        run = _SAFE_ROWS.match(buffer, opening)
        if run:  # its values lie at most at its highest row number (<= the cap)
            self._reach(max(map(int, _ROW_NUMBER.findall(buffer, opening, run.end()))), 0)
        else:
            run = _EMPTY_ROWS.match(buffer, opening)
        if run:
            self.row, self.column = int(run.group(2)), 0
            return run.end()
        run = _CELLS_WITHOUT_R.match(buffer, opening)
        if run:  # taken to hold values up to its last cell, if any holds one
            tag = b"<" + run.group(1) + b"c"  # its children are not named c: each cell starts with this
            cells = sum(buffer.count(tag + end, opening, run.end()) for end in (b" ", b"/", b">"))
            self.column = (self.column + cells) & _U32
            if _VALUE_START.search(buffer, opening, run.end()):
                self._reach(self.row + 1, self.column)
            return run.end()
        run = _EMPTY_ROWS_WITHOUT_R.match(buffer, opening)
        if run:  # each row holds one "<" of its start tag, maybe one "</" of its end tag, no other "<"
            rows = buffer.count(b"<", opening, run.end()) - buffer.count(b"</", opening, run.end())
            self.row, self.column = (self.row + rows) & _U32, 0
            return run.end()
        return 0

    def _start(self, name: bytes, raw: bytes) -> None:
        if not self.in_sheet:
            self.in_sheet = _local(name) == b"sheetData"
            return
        if self.cell is None:
            local = _local(name)
            if local == b"row":
                number = _row_attribute(raw)
                if number is not None:
                    self.row = _position(number, cell=False)[0]
            elif local == b"c":
                reference, self.cell_type = _cell_attributes(raw)
                if reference is None:
                    self.cell = (self.row, self.column)
                else:
                    self.cell = _position(reference, cell=True)
                    self.column = self.cell[1]
                self.holds_value = False
            return
        self._child(name)

    def _child(self, name: bytes) -> None:
        """A start tag inside a cell. calamine reads <v> and <f> to their end tag and <is> to the end tag
        of its local name, and refuses anything else. Where a reader of that could stop at another end
        tag (the same name nested, an <is> inside an <is>, end tags out of order) the scan gives up."""
        if self.child is None:
            local = _local(name)
            if local not in (b"v", b"f", b"is"):
                raise SheetUnreadableError("calamine expects v, f or is in a cell")
            self.child, self.child_opened, self.nested = name, False, []
            if local == b"is":
                self.holds_value = True
            return
        self.child_opened = True
        if _local(self.child) != b"is":
            if name == self.child:
                raise SheetUnreadableError("a <v> or <f> nested in itself")
            return  # calamine skips other elements inside <v> and <f>
        if name == self.child or name in self.nested or _local(name) == b"is":
            raise SheetUnreadableError("an element nested in its own kind in an inline string")
        self.nested.append(name)

    def _end(self, name: bytes) -> None:
        if not self.in_sheet:
            return
        if self.cell is None:
            local = _local(name)
            if local == b"row":
                self.row, self.column = (self.row + 1) & _U32, 0
            elif local == b"sheetData":
                self.done = True
            return
        if self.child is None:
            if _local(name) == b"c":
                row, column = self.cell
                self.cell = None
                self.column = (self.column + 1) & _U32
                if self.holds_value:
                    self._reach(row + 1, column + 1)
            return
        local = _local(self.child)
        if local == b"is":
            if self.nested and name == self.nested[-1]:
                self.nested.pop()
            elif not self.nested and name == self.child:
                self.child = None
            else:
                raise SheetUnreadableError("end tags out of order in an inline string")
            return
        if name != self.child:
            self.child_opened = True  # calamine skips other end tags inside <v> and <f>
            return
        if (
            local == b"v"
            and self.cell_type not in _IGNORED_VALUE_TYPES
            and (self.child_opened or self.cell_type not in _EMPTY_VALUE_TYPES)
        ):
            self.holds_value = True
        self.child = None


def _exact_scan(chunks: Iterable[bytes], bulk: bool = True, budget: int = _MAX_SINGLE_TAGS) -> _ExactScan:
    """The exact scan over a part's bytes, chunk by chunk (any cut), stopping once past the caps."""
    scan = _ExactScan(bulk, [budget])
    for chunk in chunks:
        scan.feed(chunk)
        if scan.done:
            break
    scan.finish()
    return scan


class _HiddenRows:
    """Hidden rows of a part, collected window by window (``collect_hidden`` judges whole tags only)."""

    def __init__(self, found: set[int]) -> None:
        self.found = found
        self.reset()

    def reset(self) -> None:
        """Start the part again."""
        self.found.clear()
        self.carried = 0  # bytes at the end of the last window not yet judged (an open tag)
        self.carry = b""  # those bytes, when the next window's overlap does not hold them all
        self.failed = False

    def feed(self, window: bytes, overlap: int, chunk: bytes) -> None:
        if self.failed:
            return
        try:
            # The carried bytes are almost always in the overlap already: judge the window from there.
            buffer, start = (window, overlap - self.carried) if self.carried <= overlap else (self.carry + chunk, 0)
            judged = collect_hidden(buffer, self.found, start)
        except Exception:  # visibility is a nicety: a surprise clears it, never fails the upload
            self.failed = True
            return
        self.carried = len(buffer) - judged
        if self.carried > min(len(window), _SCAN_OVERLAP):
            self.carry = buffer[judged:]


@dataclass(frozen=True)
class SheetScan:
    part: str
    rows: int  # exact scan: the furthest Excel row holding a value (0: the fast scan proved the caps kept)
    columns: int  # exact scan: the furthest column holding a value, when past MAX_COLUMNS, else 0
    stopped_early: bool  # past the caps: the scan stopped there
    exact: bool = False  # the fast scan could not prove the part within the caps


def _windows(part: Any) -> Iterator[tuple[bytes, int, bytes]]:
    """(window, overlap, chunk): each chunk with the last _SCAN_OVERLAP bytes before it in front."""
    tail = b""
    while chunk := part.read(_SCAN_CHUNK):
        window = tail + chunk
        yield window, len(tail), chunk
        tail = window[-_SCAN_OVERLAP:]


def _scan_part(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, hidden: _HiddenRows | None = None, budget: list[int] | None = None
) -> SheetScan:
    """The part's extent, fast scan first; with ``hidden``, also collects its hidden rows. ``budget``: tags
    the exact scan may still read one by one, shared by a file's parts."""
    with archive.open(info) as part:
        proven, tail = True, b""
        for window, overlap, chunk in _windows(part):
            if hidden is not None:
                hidden.feed(window, overlap, chunk)
            # Matches before max(overlap - margin, 0) were judged in the previous window, with more context.
            if not _fast_pass(window, max(overlap - _SCAN_MARGIN, 0), len(window) - _SCAN_MARGIN):
                proven = False
                break
            tail = window[-_SCAN_OVERLAP:]
        if proven and _fast_pass(tail, max(len(tail) - _SCAN_MARGIN, 0), len(tail)):
            return SheetScan(info.filename, 0, 0, stopped_early=False)
    if hidden is not None:
        hidden.reset()
    with archive.open(info) as part:
        scan = _ExactScan(budget=budget)
        for window, overlap, chunk in _windows(part):
            if hidden is not None:
                hidden.feed(window, overlap, chunk)
            scan.feed(chunk)
            if scan.done:
                break
        scan.finish()
    wide = scan.columns if scan.columns > MAX_COLUMNS else 0
    return SheetScan(info.filename, scan.rows, wide, stopped_early=scan.past_caps, exact=True)


# Which parts calamine opens as sheets: workbook.xml's <sheet r:id> -> workbook.xml.rels' Target, found
# case-insensitively and with backslashes read as slashes, wherever it lies. Read liberally (either
# quote, spaces around "=", any prefix), so a sheet part outside xl/worksheets/ is scanned too.
_SHEET_TAG = re.compile(rb"""<(?:[\w.-]+:)?sheet[\s/>](?:[^>"']|"[^"]*"|'[^']*')*""")
_ID = re.compile(rb"""\bid\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_RELATIONSHIP_TAG = re.compile(rb"""<(?:[\w.-]+:)?Relationship[\s/>](?:[^>"']|"[^"]*"|'[^']*')*""")
_REL_ID = re.compile(rb"""\bId\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TARGET = re.compile(rb"""\bTarget\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _first_value(match: re.Match[bytes]) -> bytes:
    return match.group(1) if match.group(1) is not None else match.group(2)


def _named(archive: zipfile.ZipFile, name: str) -> list[bytes]:
    return [archive.read(i) for i in archive.infolist() if i.filename.replace("\\", "/").lower() == name]


def _sheet_targets(archive: zipfile.ZipFile) -> set[str] | None:
    """Lower-cased paths calamine may open as sheets; None when the workbook is not ASCII-compatible XML
    (UTF-16 …), and then every part under xl/ is scanned."""
    workbooks, relationships = _named(archive, "xl/workbook.xml"), _named(archive, "xl/_rels/workbook.xml.rels")
    if any(b"\0" in text for text in (*workbooks, *relationships)):
        return None
    ids = {_first_value(m) for w in workbooks for tag in _SHEET_TAG.findall(w) for m in _ID.finditer(tag)}
    paths: set[str] = set()
    for tag in (tag for r in relationships for tag in _RELATIONSHIP_TAG.findall(r)):
        if not any(_first_value(m) in ids for m in _REL_ID.finditer(tag)):
            continue
        for match in _TARGET.finditer(tag):
            raw = _first_value(match).decode("utf-8", "replace")
            for target in {raw, html.unescape(raw)}:  # calamine takes the value as written; a later one may not
                # calamine's resolution, then the package's (what hidden.sheet_parts resolves).
                paths.add(
                    target[1:] if target.startswith("/xl/") else target if target.startswith("xl/") else f"xl/{target}"
                )
                paths.add(target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}"))
    return {path.lower() for path in paths}


def _is_sheet_part(name: str, targets: set[str] | None) -> bool:
    name = name.replace("\\", "/").lower()
    if targets is None:
        return name.startswith("xl/")
    return (name.startswith("xl/worksheets/") and name.endswith(".xml")) or name in targets


@dataclass(frozen=True)
class _Survey:
    scans: list[SheetScan]
    hidden: dict[str, frozenset[int]]  # sheet name -> Excel rows marked hidden


def survey(data: bytes, with_hidden: bool = True) -> _Survey:
    """Every sheet part's extent (stopping at the first past the caps) and, in the same pass, hidden rows."""
    scans: list[SheetScan] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            sheets = sheet_parts(archive) if with_hidden else []
        except Exception:  # visibility is a nicety: never let it fail an upload
            sheets, with_hidden = [], False
        wanted = {part for _, part in sheets}
        targets = _sheet_targets(archive)
        hidden_by_part: dict[str, frozenset[int]] = {}
        budget = [_MAX_SINGLE_TAGS]
        for info in archive.infolist():
            if not (_is_sheet_part(info.filename, targets) or info.filename in wanted):
                continue
            collector = _HiddenRows(set()) if with_hidden and info.filename in wanted else None
            scans.append(_scan_part(archive, info, collector, budget))
            if collector is not None:
                # A hidden-row surprise clears visibility for the whole file: it is a nicety, never a failure.
                with_hidden = with_hidden and not collector.failed
                hidden_by_part[info.filename] = frozenset(collector.found)
            if scans[-1].stopped_early:
                break
    hidden = {name: hidden_by_part[part] for name, part in sheets if part in hidden_by_part} if with_hidden else {}
    return _Survey(scans, hidden)


def scan_sheets(data: bytes) -> list[SheetScan]:
    """Each sheet part's extent as far as the caps care; streamed, stopping at the first part past them.
    Raises ``SheetUnreadableError`` where calamine would give up on a sheet (``read_grids`` refuses it)."""
    return survey(data, with_hidden=False).scans
