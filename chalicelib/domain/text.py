"""Text that a unit controls (file names above all) on its way into an email header or an object key.

``str.splitlines`` (and so the ``email`` package, which folds and checks headers with it) breaks lines on
more than ``\\r\\n``: on ``\\v \\f \\x1c \\x1d \\x1e \\x85`` and on U+2028 / U+2029 too, the last two being
Unicode "separators" (categories Zl/Zp), not control characters. A file name carrying one of them made
the receipt's ``Subject`` raise ``ValueError`` (issue 18). The rule here is written for the whole class:
every character ``splitlines`` breaks on, every other control (Cc), format (Cf: zero-width and bidi
marks, which can disguise an extension) and surrogate (Cs) character.
"""

from __future__ import annotations

import unicodedata

# What str.splitlines breaks on (the test derives the same set from splitlines itself).
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

# How a unit reads each one in a refusal; any other unsafe character is named by its category.
CHARACTER_NAMES = {
    "\n": "换行符",
    "\r": "回车符",
    "\v": "垂直制表符",
    "\f": "换页符",
    "\x1c": "文件分隔符",
    "\x1d": "组分隔符",
    "\x1e": "记录分隔符",
    "\x85": "下一行符",
    "\u2028": "行分隔符",
    "\u2029": "段落分隔符",
    "\t": "制表符",
}
CATEGORY_NAMES = {
    "Cc": "控制字符",
    "Cf": "格式字符",
    "Cs": "无效的代理字符",
    "Co": "私用区字符",
    "Cn": "未定义的字符",
}
# Removed from headers: they break lines or hide what the text says. Co/Cn are harmless in a header.
_HEADER_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def is_line_break_like(ch: str) -> bool:
    return ch in LINE_BREAKS


def is_header_unsafe(ch: str) -> bool:
    return ch in LINE_BREAKS or unicodedata.category(ch) in _HEADER_UNSAFE_CATEGORIES


def header_safe(text: str) -> str:
    """``text`` fit for one header line: line breaks and tabs become a space, other control, format and
    surrogate characters are dropped, runs of spaces collapse, ends are trimmed."""
    cleaned = []
    for ch in text:
        if ch in LINE_BREAKS or ch == "\t":
            cleaned.append(" ")
        elif not is_header_unsafe(ch):
            cleaned.append(ch)
    return " ".join(part for part in "".join(cleaned).split(" ") if part)


def character_name(ch: str) -> str:
    """``行分隔符（U+2028）``: what the unit is told was found."""
    name = CHARACTER_NAMES.get(ch) or CATEGORY_NAMES.get(unicodedata.category(ch), "不可见字符")
    return f"{name}（U+{ord(ch):04X}）"


def is_name_unsafe(ch: str) -> bool:
    """Not allowed in a file or path name: every line break ``splitlines`` knows, and every character of a
    C category (control, format, surrogate, private use, unassigned)."""
    return ch in LINE_BREAKS or unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp")


def unsafe_in_name(text: str) -> list[tuple[int, str]]:
    """(1-based position, character) of every character of ``text`` a name must not hold."""
    return [(i, ch) for i, ch in enumerate(text, 1) if is_name_unsafe(ch)]


def shown(text: str) -> str:
    """``text`` as a refusal can quote it: each unsafe character as a visible ``[U+2028]``."""
    return "".join(f"[U+{ord(ch):04X}]" if is_name_unsafe(ch) else ch for ch in text)
