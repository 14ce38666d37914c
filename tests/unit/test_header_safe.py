"""Unit-controlled text on its way into an email header or an object key (issue 18, finding 5)."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from chalicelib.adapters.mail import OutgoingMail, build_message
from chalicelib.domain.text import LINE_BREAKS, character_name, header_safe, shown, unsafe_in_name

# Derived from str.splitlines itself, not copied from our table: a Python that adds a break is caught.
SPLITLINES_BREAKS = sorted(ch for ch in map(chr, range(sys.maxunicode + 1)) if len(f"a{ch}b".splitlines()) > 1)
# Controls and format characters that are not line breaks: NUL, BEL, ESC, DEL, zero-width space and joiner,
# the bidi override that disguises an extension, the BOM, the soft hyphen; and a lone surrogate.
OTHER_INVISIBLE = ["\x00", "\x07", "\x1b", "\x7f", "\u200b", "\u200d", "\u202e", "\ufeff", "\u00ad", "\ud800"]


def test_our_table_is_exactly_what_splitlines_breaks_on() -> None:
    assert set(SPLITLINES_BREAKS) == LINE_BREAKS


@pytest.mark.parametrize("ch", SPLITLINES_BREAKS, ids=lambda ch: f"U+{ord(ch):04X}")
def test_every_line_break_becomes_one_space_and_the_subject_survives_the_email_package(ch: str) -> None:
    name = f"原平市{ch}5月清单.xlsx"
    assert header_safe(name) == "原平市 5月清单.xlsx"
    assert len(header_safe(name).splitlines()) == 1
    mail = OutgoingMail(to=("a@example.cn",), subject=f"【专项整治】回执（{name}）", text="正文", message_id="<x@y>")
    message = build_message(mail, f"专项整治{ch}办公室 <noreply@example.cn>")
    assert message["Subject"] == "【专项整治】回执（原平市 5月清单.xlsx）"
    message.as_bytes()  # serialising (where the email package raised ValueError before) works


@pytest.mark.parametrize("ch", OTHER_INVISIBLE, ids=lambda ch: f"U+{ord(ch):04X}")
def test_other_control_format_and_surrogate_characters_are_dropped(ch: str) -> None:
    assert header_safe(f"清单{ch}.xlsx") == "清单.xlsx"


@pytest.mark.parametrize("ch", [*SPLITLINES_BREAKS, *OTHER_INVISIBLE, "\t", "\ue000"], ids=lambda c: f"U+{ord(c):04X}")
def test_every_such_character_is_refused_in_a_name_and_named_in_chinese(ch: str) -> None:
    assert unsafe_in_name(f"ab{ch}c") == [(3, ch)]
    assert shown(f"ab{ch}c") == f"ab[U+{ord(ch):04X}]c"
    name = character_name(ch)
    assert name.endswith(f"（U+{ord(ch):04X}）") and all("\u4e00" <= c <= "\u9fff" for c in name.split("（")[0])


def test_ordinary_names_are_left_alone() -> None:
    for name in ("原平市 5月清单（第2版）.xlsx", "定襄县·自查报告—终稿.docx", "report_v2.final.PDF", "１２月.csv"):
        assert header_safe(name) == name and unsafe_in_name(name) == []
    # Every printable character of the BMP outside the C and Z{l,p} categories passes names untouched.
    assert not any(
        unsafe_in_name(ch)
        for ch in map(chr, range(0x20, 0x10000))
        if unicodedata.category(ch)[0] != "C" and unicodedata.category(ch) not in ("Zl", "Zp")
    )
