"""Find a report's required sections by their headings, whatever the numbering.

一、动员部署情况 / （一）动员部署 / 1.动员部署 / 第一部分 动员部署 all name the same section:
numbering and trailing punctuation are removed, then the heading must contain one of the
section's wordings and not be much longer than it (a body sentence that mentions 动员部署 is
not a heading).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from chalicelib.domain.reports.documents import Document, Paragraph

_CN_NUM = "一二三四五六七八九十百"
_NUMBERING = re.compile(
    rf"^(?:第[{_CN_NUM}0-9]+(?:部分|章|节|条|项)|[{_CN_NUM}]+[、.,]|\([{_CN_NUM}0-9]+\)|[0-9]+(?:\.[0-9]+)*(?:[、.)]|\s)|[①-⑳])\s*"
)
_TRAILING = re.compile(r"[:;。.,、\s]+$")
MAX_HEADING_CHARS = 40
MAX_EXTRA_CHARS = 12  # beyond the matched wording: 情况, 工作, 及原因分析 …


def heading_text(text: str) -> tuple[str, bool]:
    """The heading with numbering removed, and whether it was numbered at all."""
    numbered = False
    while True:
        stripped = _NUMBERING.sub("", text, count=1)
        if stripped == text:
            break
        numbered, text = True, stripped
    return _TRAILING.sub("", text).replace(" ", ""), numbered


@dataclass(frozen=True)
class SectionSpec:
    id: str
    title: str
    variants: tuple[str, ...]


@dataclass(frozen=True)
class SectionMatch:
    counts: dict[str, int]  # section id → headings found for it
    headings: tuple[str, ...]  # every heading candidate, as written
    body_chars: int
    # The text under each section, one dict per run of sections (several cases in one file).
    items: tuple[dict[str, str], ...] = ()

    def missing(self, specs: tuple[SectionSpec, ...]) -> list[SectionSpec]:
        return [s for s in specs if not self.counts.get(s.id)]


def _candidate(paragraph: Paragraph) -> str | None:
    if len(paragraph.text) > MAX_HEADING_CHARS:
        return None
    text, numbered = heading_text(paragraph.text)
    return text if (numbered or paragraph.styled_heading) and text else None


def _matches(text: str, spec: SectionSpec) -> bool:
    return any(v in text and len(text) <= len(v) + MAX_EXTRA_CHARS for v in spec.variants)


def match_sections(document: Document, specs: tuple[SectionSpec, ...]) -> SectionMatch:
    counts: Counter[str] = Counter()
    headings: list[str] = []
    body = 0
    items: list[dict[str, list[str]]] = [{}]
    current: str | None = None
    for paragraph in document.paragraphs:
        text = _candidate(paragraph)
        matched = [spec.id for spec in specs if text is not None and _matches(text, spec)]
        if text is None:
            body += len(paragraph.text.replace(" ", ""))
            if current is not None:
                items[-1][current].append(paragraph.text)
            continue
        headings.append(paragraph.text)
        counts.update(matched)
        if matched:
            current = matched[0]
            if current in items[-1]:  # the same section again: the next case begins
                items.append({})
            items[-1][current] = []
    texts = tuple({k: "\n".join(v) for k, v in item.items()} for item in items if item)
    return SectionMatch(dict(counts), tuple(headings), body, texts)
