"""Normalisation and patterns: phone numbers, dates, aspects, labels, sequence numbers, units."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

import pytest

from chalicelib.domain.schemas import validator
from chalicelib.domain.tables.rules import unit_matches
from chalicelib.domain.tables.templates import load_template, template_ids
from chalicelib.domain.tables.values import (
    aspect_key,
    extract_phone,
    is_phone,
    is_placeholder,
    label_key,
    nfkc,
    normalise_phone,
    parse_date,
    parse_seq,
    squash,
)


@pytest.mark.parametrize("text", ["13812345678", "19912345678", "0350-1234567", "0350-12345678", "010-12345678"])
def test_valid_phones(text: str) -> None:
    assert is_phone(text)


@pytest.mark.parametrize(
    "text", ["12812345678", "1381234567", "138123456789", "1234567", "0350-123456", "350-1234567", "", "一三八"]
)
def test_invalid_phones(text: str) -> None:
    assert not is_phone(text)


def test_trailing_newline_is_not_a_phone_until_normalised() -> None:
    # $ would match before the newline; fullmatch does not.
    assert not is_phone("13812345678\n")
    assert normalise_phone("13812345678\n") == "13812345678"


def test_full_width_digits_are_a_valid_phone_after_nfkc() -> None:
    # Decision: a number typed with a Chinese IME in full-width mode is the same number.
    raw = "138１２３４５６７８"
    assert not is_phone(raw)  # [0-9], not \d: raw full-width digits do not pass
    assert normalise_phone(raw) == "13812345678"
    assert is_phone(normalise_phone(raw))
    assert normalise_phone("０３５０－１２３４５６７") == "0350-1234567"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 138-1234-5678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("(0350)1234567", "0350-1234567"),
        ("（0350）1234567", "0350-1234567"),
        (13812345678, "13812345678"),
    ],
)
def test_normalise_phone(raw: object, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("张三 13812345678", "13812345678"),
        ("张三（13812345678）", "13812345678"),
        ("李四0350-1234567", "0350-1234567"),
        ("王五", None),
        ("张三 1381234", "1381234"),  # a run of digits meant as a number: kept so the schema can reject it
    ],
)
def test_extract_phone(text: str, expected: str | None) -> None:
    assert extract_phone(text) == expected


def test_schema_phone_pattern_agrees_with_code() -> None:
    """The contact-row schema's pattern also means what it says: no \\d, no $ before a newline."""
    base = {"row": 3, "sheet": "s", "unit": "原平市", "role": "联络员", "name": "李明", "title": "主任", "note": ""}
    check = validator("contact-row")
    for mobile, ok in [
        ("13812345678", True),
        ("0350-1234567", True),
        ("13812345678\n", False),
        ("138１２３４５６７８", False),
        ("1381234567", False),
    ]:
        assert (list(check.iter_errors({**base, "mobile": mobile})) == []) is ok, mobile
        assert is_phone(mobile) is ok


@pytest.mark.parametrize(
    "value",
    [
        "2023-06-30",
        "2023/6/30",
        "2023.6.30",
        "2023年6月30日",
        "2023 年 6 月 30 日",
        "6月30日",
        "6月30日前",
        "2023年6月底前",
        "6月底",
        "20230630",
        "２０２３－０６－３０",
        "2023-06-30 00:00:00",
        45107,
        45107.0,
        "45107",
        date(2023, 6, 30),
        datetime(2023, 6, 30, 0, 0),
        "二〇二三年六月三十日",
        "二○二三年六月三十日",
        "六月三十日前",
        "六月底",
        "2023.6",
        "2023.06",
        2023.6,
        "2023年6月",
        "6月",
        "6月份",
        "2023年6月下旬",
        "上半年",
        "2023年上半年",
        "2023年第二季度",
        "二季度末",
        "第二季度",
        "2023Q2",
        "于2023年6月30日前完成",
        "截至6月30日",
        "2023年5月至6月",
        "5月30日—6月30日",
        "计划6月底前完成",
    ],
)
def test_dates(value: object) -> None:
    assert parse_date(value, 2023) == date(2023, 6, 30)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023年底前", date(2023, 12, 31)),
        ("年底", date(2023, 12, 31)),
        ("年内", date(2023, 12, 31)),
        ("2023年内", date(2023, 12, 31)),
        ("今年年底", date(2023, 12, 31)),
        ("下半年", date(2023, 12, 31)),
        ("2023年三季度", date(2023, 9, 30)),
        ("第三季度末", date(2023, 9, 30)),
        ("2023.7", date(2023, 7, 31)),
        (2023.7, date(2023, 7, 31)),
        ("7月31日前", date(2023, 7, 31)),
        ("2023年7月", date(2023, 7, 31)),
        ("9月上旬", date(2023, 9, 10)),
        ("9月中旬", date(2023, 9, 20)),
        ("十二月三十一日", date(2023, 12, 31)),
        ("2024年3月底", date(2024, 3, 31)),
    ],
)
def test_time_limits_as_clerks_write_them(value: object, expected: date) -> None:
    assert parse_date(value, 2023) == expected


@pytest.mark.parametrize(
    "value", ["待定", "视情况", "尽快", "已完成", "2023-02-30", "2023-13-01", "30/6/2023", 12, True, "", None]
)
def test_not_dates(value: object) -> None:
    assert parse_date(value, 2023) is None


def test_month_day_uses_the_campaign_year() -> None:
    assert parse_date("9月1日", 2024) == date(2024, 9, 1)


@pytest.mark.parametrize(
    "text", ["逐利执法", "“逐利执法”问题", '"逐利执法"问题', "＂逐利执法＂问题", "“逐利 执法”问 题", "1.逐利执法问题"]
)
def test_aspect_spellings_map_to_the_first_2023_aspect(text: str) -> None:
    assert load_template("issue-list").canonical_aspect(text) == "“逐利执法”问题"


def test_2023_aspects_and_2022_aspects_are_configured() -> None:
    issue = load_template("issue-list")
    assert len(issue.aspects) == 6
    assert issue.canonical_aspect("执法寻租") == "执法“寻租”问题"
    assert issue.canonical_aspect("群众反映强烈的问题") == "群众反映强烈的问题"
    assert issue.canonical_aspect("趋利性执法问题") is None
    legacy = load_template("legacy-issue-list")
    assert legacy.canonical_aspect("以人民为中心的执法理念树立不牢") == "以人民为中心的执法理念树立不牢"
    assert legacy.canonical_aspect("趋利性执法") == "趋利性执法问题"
    assert legacy.canonical_aspect("“选择性执法”问题") == "选择性执法问题"


def test_aspect_key() -> None:
    assert aspect_key("执法“寻租”问题") == "执法寻租"


@pytest.mark.parametrize(
    "label", ["完成时限", "完成\n时限", " 完成 时限 ", "完成时限（年月日）", "*完成时限", "完成时限："]
)
def test_label_variants(label: str) -> None:
    assert label_key(label) == "完成时限"
    assert label_key(label) in load_template("issue-list").column("deadline").keys


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (1.0, 1), ("1", 1), ("１", 1), ("3.", 3), ("2、", 2), ("一", None), (0, None), (1.5, None)],
)
def test_parse_seq(value: object, expected: int | None) -> None:
    assert parse_seq(value) == expected


def test_placeholder() -> None:
    assert is_placeholder("1. 2. 3. 4.")
    assert is_placeholder("1.\n2.\n3.\n4.")
    assert not is_placeholder("")
    assert not is_placeholder("1. 未落实")
    assert not is_placeholder("13812345678")
    assert not is_placeholder(2023)


@pytest.mark.parametrize(
    "text", ["原平市", "原平", "原平市交通运输局", "原平市交通运输局（盖章）", "忻州市原平市交通局"]
)
def test_unit_matches(text: str) -> None:
    assert unit_matches(text, ("原平市", "原平"))


@pytest.mark.parametrize("text", ["宁武县", "原平市某某局", "五台山风景区"])
def test_unit_does_not_match(text: str) -> None:
    assert not unit_matches(text, ("原平市", "原平"))
    assert not unit_matches("五台山风景区", ("五台县", "五台"))


def test_all_templates_load_and_are_schema_valid() -> None:
    assert template_ids() == ["contacts", "issue-list", "legacy-issue-list", "typical-case"]
    for template_id in template_ids():
        template = load_template(template_id)
        assert template.id == template_id
        assert template.required_columns


def test_nfkc_fast_path_equals_unicodedata() -> None:
    """nfkc() swaps full-width forms before NFKC: the same answer as unicodedata for every character NFKC touches."""
    import random
    import unicodedata

    from chalicelib.domain.tables.values import display_text, nfkc

    touched = [
        c
        for c in range(0x110000)
        if not 0xD800 <= c < 0xE000
        and (unicodedata.decomposition(chr(c)) or unicodedata.combining(chr(c)) or 0x3000 <= c <= 0x303F)
    ]
    others = random.Random(7).sample(range(0x20000), 5000)
    for code in (*touched, *range(0xFF00, 0xFFF0), *others):
        if 0xD800 <= code < 0xE000:
            continue
        char = chr(code)
        for text in (char, f"Ａ{char}", f"{char}\u0301", f"e{char}１", f"整改，{char}；"):
            assert nfkc(text) == unicodedata.normalize("NFKC", display_text(text)).strip(), hex(code)


def test_squash_removes_exactly_the_whitespace_a_pattern_would() -> None:
    # squash cuts with str.split() (4x faster than re.sub(r"\s+", "")): the two must agree on every character.
    pattern = re.compile(r"\s")
    characters = (chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert [ch for ch in characters if ch.isspace() != (pattern.fullmatch(ch) is not None)] == []
    assert squash(" 完成\u3000时限\n（年 月 日）\u2003") == "完成时限(年月日)"


def test_ascii_text_and_plain_dates_read_as_before() -> None:
    # nfkc returns ASCII as it is, parse_date reads 2023-06-30 / 2023年6月30日 before the other phrasings.
    assert nfkc(" 0350-1234567 ") == unicodedata.normalize("NFKC", " 0350-1234567 ").strip() == "0350-1234567"
    for text, expected in (
        ("2023-06-30", date(2023, 6, 30)),
        ("2023.6.3", date(2023, 6, 3)),
        ("2023-06-30 10:00", date(2023, 6, 30)),
        ("2023年6月30日", date(2023, 6, 30)),
        ("2023年6月31日", None),
        ("２０２３－０６－３０", date(2023, 6, 30)),
        ("2023年6月30日前完成", date(2023, 6, 30)),
        ("2023-05至2023-06-15", date(2023, 6, 15)),
        ("45107", date(2023, 6, 30)),
    ):
        assert parse_date(text, 2023) == expected, text
