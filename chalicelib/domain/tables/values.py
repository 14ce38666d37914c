"""Cell values as people type them -> normalised values, and the patterns they must match.

Codes (labels, aspects, dates, phone numbers, sequence numbers, unit names) are compared after
Unicode NFKC normalisation and stripping, so full-width digits, full-width brackets and stray
spaces or line breaks do not matter. Free prose (问题表现 etc.) is stored as typed, only stripped,
because NFKC would turn Chinese punctuation (，：（）) into ASCII in the ledger people read.

Patterns use ``[0-9]`` (Python's ``\\d`` also matches full-width and other Unicode digits) and
``fullmatch`` (``$`` matches before a trailing newline).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01, counting Excel's phantom 1900-02-29
# Serials of plausible report dates (1954..2173); anything else is a number typed in the wrong column.
SERIAL_RANGE = (20000, 100000)

MOBILE = r"1[3-9][0-9]{9}"
LANDLINE = r"0[1-9][0-9]{1,2}-?[0-9]{7,8}"
PHONE_RE = re.compile(rf"(?:{MOBILE}|{LANDLINE})")
# A run in free text that is probably meant as a phone number: (0350)1234567, 0350-1234567, 138 1234 5678.
_PHONE_CANDIDATE = re.compile(r"\(?0[0-9]{2,3}\)?[- ]?[0-9]{5,8}|\+?[0-9][0-9 -]{5,}[0-9]")

_COUNTRY_CODE = re.compile(r"^\+?86[- ]?(?=1)")
_AREA_CODE_IN_BRACKETS = re.compile(r"^\((0[0-9]{2,3})\)[- ]?")
_DASHED_MOBILE = re.compile(r"1[0-9-]+")

# ！..～ and the ideographic space, each with its compatibility decomposition (what NFKC starts from).
_WIDE_FORMS = {chr(c): unicodedata.normalize("NFKD", chr(c)) for c in (*range(0xFF01, 0xFF5F), 0x3000)}
_WIDE_FORM = re.compile("[\uff01-\uff5e\u3000]")  # a few per sentence: sub() beats str.translate() here

_QUOTES = "\"'“”‘’「」『』〝〞〃"
_BRACKETED = re.compile(r"\([^()]*\)|【[^【】]*】|\[[^\[\]]*\]")
# The notice's own numbering in front of an aspect: （三）, (3), 三、, 3., 3、, 第三.
_LEADING_NUMBER = re.compile(
    r"(?:\([0-9一二三四五六七八九十]{1,3}\)|第?[0-9一二三四五六七八九十]{1,3}[.、)]|第[一二三四五六七八九十]{1,3})"
)
_PLACEHOLDER = re.compile(r"(?:[0-9]{1,2}[.、][\s,;]*)+")
_DATE_TEXT = (
    re.compile(r"(?P<y>[0-9]{4})[-/.](?P<m>[0-9]{1,2})[-/.](?P<d>[0-9]{1,2})(?:T?[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?"),
    re.compile(r"(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})[日号]?"),
    re.compile(r"(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})[日号]?"),
    re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"),
)
# A month alone means its last day: 2023年7月, 2023.7, 2023-07, 7月底, 7月末, 7月份.
_MONTH_END = (
    re.compile(r"(?:(?P<y>[0-9]{4})年)?(?P<m>[0-9]{1,2})月(?:份)?(?:底|末|内|中下旬|下旬)?"),
    re.compile(r"(?P<y>[0-9]{4})[-/.](?P<m>[0-9]{1,2})"),
)
# 上旬 / 中旬 end on the 10th and the 20th.
_DECADE = re.compile(r"(?:(?P<y>[0-9]{4})年)?(?P<m>[0-9]{1,2})月(?P<part>上|中)旬(?:末)?")
# The year's end: 2023年底, 2023年末, 年底, 今年年底, 年内, 2023年内, 全年, 2023年, 本年度.
_YEAR_END = re.compile(r"(?:(?P<y>[0-9]{4})年?|今年|本年|当年)?(?:年?底|年?末|年内|内|年度|全年|年终|年)")
_HALF_YEAR = re.compile(r"(?:(?P<y>[0-9]{4})年?|今年|本年)?(?P<half>上|下)半年(?:底|末|内)?")
_QUARTER = re.compile(
    r"(?:(?P<y>[0-9]{4})年?|今年|本年)?(?:第)?(?P<q>[1-4])季度?(?:末|底|内)?|(?P<y2>[0-9]{4})?Q(?P<q2>[1-4])"
)
# Words around a date that do not change it: 于2023年6月30日前完成, 截至6月底, 2023年底之前.
_DATE_PREFIX = re.compile(r"^(?:计划|预计|拟|力争|争取)?(?:于|在|截至|截止到?|到)?")
_DATE_SUFFIX = re.compile(r"(?:之前|以前|前|止)?(?:完成|整改完成|完成整改|整改到位|办结)?(?![\s\S])")
_SERIAL_TEXT = re.compile(r"[0-9]{5}(?:\.0+)?")  # an Excel serial typed or pasted as text
_RANGE = re.compile(r"[至到~〜—]+|--")
_CN_DATE_NUMBER = re.compile(r"[〇零○一二两三四五六七八九十]+(?=[年月日号季旬])")
_CN_DIGIT = {
    "〇": 0,
    "零": 0,
    "○": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def nfkc(value: Any) -> str:
    """The comparable form of a cell: NFKC, stripped; '' for empty."""
    if value is None:
        return ""
    # Chinese prose is full of full-width punctuation (，；（）), which sends CPython's NFKC down its slow
    # path. Those characters are replaced by their compatibility decomposition first (as NFKC itself would:
    # decomposition goes character by character), and what is then already NFKC is returned as is.
    text = display_text(value)
    if text.isascii():  # every ASCII character is its own NFKC form: dates, numbers, phone numbers
        return text.strip()
    text = _WIDE_FORM.sub(_decomposed, text)
    return (text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)).strip()


def _decomposed(match: re.Match[str]) -> str:
    return _WIDE_FORMS[match.group()]


def display_text(value: Any) -> str:
    """A cell as text to store: dates ISO, whole numbers without '.0', line breaks kept, stripped."""
    if type(value) is str and "\n" not in value and "\r" not in value:
        return value.strip()  # one line of text: most cells
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def squash(value: Any) -> str:
    """NFKC without any whitespace: for labels split by line breaks or padded with spaces."""
    return "".join(nfkc(value).split())  # str.split() and the pattern \s both cut at str.isspace(): 4x faster


def label_key(value: Any) -> str:
    """完成时限（年月日）, 完 成 时 限, *完成时限: all -> 完成时限."""
    text = _BRACKETED.sub("", squash(value))
    return text.replace("*", "").rstrip(":")


def aspect_key(value: Any) -> str:
    """“逐利执法”问题, "逐利执法"问题, 逐利执法, 1.逐利执法问题: all -> 逐利执法."""
    text = squash(value)
    text = _LEADING_NUMBER.sub("", text, count=1) if _LEADING_NUMBER.match(text) else text
    text = "".join(ch for ch in text if ch not in _QUOTES)
    return text.removesuffix("问题").removesuffix("方面")


def is_placeholder(value: Any) -> bool:
    """The template's own '1. 2. 3. 4.' left in a cell means nothing was filled in."""
    return bool(_PLACEHOLDER.fullmatch(nfkc(value)))


def is_phone(text: str) -> bool:
    return PHONE_RE.fullmatch(text) is not None


def normalise_phone(value: Any) -> str:
    """+86 138-1234-5678 -> 13812345678; (0350)1234567 -> 0350-1234567. Invalid input stays recognisable."""
    text = nfkc(value)
    if PHONE_RE.fullmatch(text):
        return text  # already the stored form: nothing below would change it
    text = _COUNTRY_CODE.sub("", text)
    text = _AREA_CODE_IN_BRACKETS.sub(r"\1-", text)
    compact = text.replace(" ", "")
    if _DASHED_MOBILE.fullmatch(compact) and compact.count("-") <= 2:
        compact = compact.replace("-", "")
    return compact


def extract_phone(value: Any) -> str | None:
    """The phone number inside '张三 13812345678', or None when the cell has no digit run."""
    match = _PHONE_CANDIDATE.search(nfkc(value))
    if match is None:
        return None
    candidate = match.group(0)  # ASCII, already NFKC: a well-formed number is its own normal form
    return candidate if PHONE_RE.fullmatch(candidate) else normalise_phone(candidate)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_end(year: int, month: int) -> date | None:
    if not 1 <= month <= 12:
        return None
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def _cn_date_number(match: re.Match[str]) -> str:
    """二〇二三 -> 2023 (a year, digit by digit); 三十一 -> 31, 十二 -> 12, 六 -> 6."""
    text = match.group()
    if "十" not in text:
        return "".join(str(_CN_DIGIT[ch]) for ch in text)
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return text
    return str((_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[units] if units else 0))


def _date_text(text: str, year: int) -> date | None:
    """One date written out (no range): a day, a month's end, a decade, a quarter, a half or the year's end."""
    for pattern in _DATE_TEXT:
        match = pattern.fullmatch(text)
        if match:
            parts = match.groupdict()
            return _safe_date(int(parts.get("y") or year), int(parts["m"]), int(parts["d"]))
    match = _DECADE.fullmatch(text)
    if match:
        return _safe_date(
            int(match.group("y") or year), int(match.group("m")), 10 if match.group("part") == "上" else 20
        )
    for pattern in _MONTH_END:
        match = pattern.fullmatch(text)
        if match:
            return _month_end(int(match.group("y") or year), int(match.group("m")))
    match = _QUARTER.fullmatch(text)
    if match:
        quarter = int(match.group("q") or match.group("q2"))
        return _month_end(int(match.group("y") or match.group("y2") or year), quarter * 3)
    match = _HALF_YEAR.fullmatch(text)
    if match:
        return _month_end(int(match.group("y") or year), 6 if match.group("half") == "上" else 12)
    match = _YEAR_END.fullmatch(text)
    if match and (match.group("y") or text != "年"):
        return date(int(match.group("y") or year), 12, 31)
    return None


def parse_date(value: Any, year: int) -> date | None:
    """A real date cell, an Excel serial (number or digits as text) or text as clerks write a time limit:
    2023年6月30日, 2023.6.30, 6月30日前, 6月底, 2023.7 (the month's last day), 2023年三季度, 2023年底前,
    上半年, 年内, 二〇二三年六月三十日, 2023年5月至6月 (the end of the range). Without a year: ``year``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if float(value).is_integer() and SERIAL_RANGE[0] <= value < SERIAL_RANGE[1]:
            return EXCEL_EPOCH + timedelta(days=int(value))
        if isinstance(value, float) and 1990 <= value < 2100:
            return _date_text(repr(value), year)  # 2023.7 typed into a number cell: July 2023 (its last day)
        return None
    text = squash(value)
    # 2023-06-30 and 2023年6月30日, the commonest time limits: nothing below changes such a text (no serial,
    # Chinese numeral, surrounding words or range), so ``_date_text`` would read it with the same pattern.
    match = _DATE_TEXT[0].fullmatch(text) or _DATE_TEXT[1].fullmatch(text)
    if match:
        return _safe_date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
    if _SERIAL_TEXT.fullmatch(text):
        return parse_date(float(text), year)
    if not text or len(text) > 40:
        return None
    text = _CN_DATE_NUMBER.sub(_cn_date_number, text)
    text = _DATE_SUFFIX.sub("", _DATE_PREFIX.sub("", text, count=1), count=1)
    parts = [part for part in _RANGE.split(text) if part]
    if len(parts) == 2:  # 2023年5月至6月: the range ends with its second date, in the first one's year
        first = re.match(r"[0-9]{4}", parts[0])
        return _date_text(parts[1], int(first.group()) if first else year)
    return _date_text(text, year) if text else None


def long_term_marker(value: Any, markers: tuple[str, ...]) -> bool:
    text = squash(value)
    return any(marker in text for marker in markers)


def parse_seq(value: Any) -> int | None:
    """1, 1.0, '1', '１', '1.' and '1、' -> 1; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() and value >= 1 else None
    match = re.fullmatch(r"([0-9]{1,6})[.、]?", squash(value))
    return int(match.group(1)) if match and int(match.group(1)) >= 1 else None
