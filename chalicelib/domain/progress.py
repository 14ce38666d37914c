"""How far a problem's rectification got, read from what a clerk wrote (完成情况, 整改进展, 备注).

One rule, used everywhere progress matters: the 2022 list's 完成情况 (附件3: 阶段性成效 / 长期举措 are
required unless the problem is done), the September package check (``domain.packages``), and problem
tracking. The phrase is read, not searched for a character:

- a negation counts only where it governs completion (未完成, 尚未整改到位, 整改不到位); 未发现反弹,
  无新增问题 negate something else and say nothing against completion;
- a qualifier (基本 / 大部分 / 初步 / 部分 / 阶段性) or a percentage under 100 means not finished;
- a plan (计划 / 预计 / 力争 / 6月底前完成) or work under way (正在 / 整改中 / 推进 / 逐步) means open;
- 长期坚持 / 常态化 means a standing measure (LONG_TERM), which also needs its 长期举措.

持续推进 in 完成情况 is OPEN (the work is still going on); in a 完成时限 column the same words mean a
standing measure, which the table templates' ``long_term_markers`` read before this rule is asked.
The reasoning and the full table are in docs/validation.md.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

__all__ = ["Progress", "read_progress"]


class Progress(StrEnum):
    DONE = "done"  # 已完成 / 整改到位 / 已销号 / 已完成（未发现反弹） / 立行立改（已完成） / 已整改到位 …
    LONG_TERM = "long-term"  # 长期坚持 / 长期 / 常态化 …
    OPEN = "open"  # 正在整改 / 基本完成 / 已完成90% / 整改中 / 推进中 / 持续推进 …


# What completion is said of: the verbs a clerk uses for "the problem is dealt with".
_DONE_VERB = r"(?:完成|整改|到位|办结|销号|落实|解决|纠正|整治|处理|完毕|结案)"
# A negation that governs completion: 未完成, 尚未全部整改到位, 没有落实, 整改不到位, 未能完成.
_NEGATED_DONE = re.compile(
    rf"(?:尚未|未能|未|没有|没|无法|不能|不)(?:全部|完全|彻底|按期|按时|如期)?{_DONE_VERB}|不彻底|不完全|不充分"
)
# A qualifier that makes completion partial: 基本完成, 大部分已整改, 初步整改到位, 阶段性完成.
_PARTIAL = re.compile(rf"(?:基本上?|大部分?|大多数?|多数|部分|初步|大体|阶段性|局部)(?:已经?)?{_DONE_VERB}")
_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)%")
_CN_PERCENT = re.compile(r"百分之([零〇一二三四五六七八九十百]+)")
# Some items left: 剩余2项, 尚有3处, 还有…未.
_REMAINING = re.compile(r"剩余|尚有|还有|仍有|尚余|尚存")
_LONG_TERM = re.compile(r"长期|常态化|久久为功|持续坚持|坚持不懈")
# A completion stated as a fact: 已完成, 已于5月完成, 已全部整改到位, 已销号.
_STATED_DONE = re.compile(rf"已经?(?:于[^,;。，；]{{0,12}}?)?(?:全部|彻底|按期|如期)?{_DONE_VERB}")
# Work still under way or only planned: 正在整改, 整改中, 持续推进, 计划6月底前完成, 力争年底前整改到位, 待整改.
_UNDER_WAY = re.compile(
    r"正在|进行中|(?:整改|推进|落实|实施|办理|处理|完善|建设|整治|核查|调查|审核|审批|开展)中"
    r"|推进|(?:持续|继续|逐步)(?:整改|开展|落实|跟进|攻坚|整治)|逐步|待|尚需|仍需|需进一步"
    r"|计划|预计|拟于?|力争|争取|将于|将在|前完成|前整改"
)
# Completion without 已: 整改到位, 完成整改, 销号, 办结, 立行立改 (rectified on the spot).
_BARE_DONE = re.compile(r"完成|到位|销号|办结|完毕|结案|整改完|立行立改|即知即改")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_percent(text: str) -> int | None:
    """百分之九十 -> 90, 百分之百 -> 100 (at most 百)."""
    if text in ("百", "一百"):
        return 100
    if "十" in text:
        tens, _, units = text.partition("十")
        return _CN_DIGITS.get(tens, 1) * 10 + (_CN_DIGITS.get(units, 0) if units else 0)
    value = 0
    for ch in text:
        if ch not in _CN_DIGITS:
            return None
        value = value * 10 + _CN_DIGITS[ch]
    return value


def _percentages(text: str) -> list[float]:
    found = [float(m.group(1)) for m in _PERCENT.finditer(text)]
    found += [p for m in _CN_PERCENT.finditer(text) if (p := _cn_percent(m.group(1))) is not None]
    return found


def read_progress(text: str | None) -> Progress | None:
    """The progress a 完成情况 text states; None when it says nothing about progress (empty, 无, 详见附件)."""
    if text is None:
        return None
    squashed = "".join(unicodedata.normalize("NFKC", str(text)).split())
    if not squashed:
        return None
    percentages = _percentages(squashed)
    if (
        _NEGATED_DONE.search(squashed)
        or _PARTIAL.search(squashed)
        or any(p < 100 for p in percentages)
        or _REMAINING.search(squashed)
    ):
        return Progress.OPEN
    if _LONG_TERM.search(squashed):
        return Progress.LONG_TERM
    # A completion stated as a fact outweighs follow-up wording (已完成，持续巩固; 已整改，待验收).
    if _STATED_DONE.search(squashed):
        return Progress.DONE
    if _UNDER_WAY.search(squashed):
        return Progress.OPEN
    if _BARE_DONE.search(squashed) or percentages:  # only 100% is left among the percentages
        return Progress.DONE
    return None
