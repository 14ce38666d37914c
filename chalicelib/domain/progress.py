"""What a unit's own words say about a problem's progress (整改进展 / 完成情况 / 完成时限 / 备注).

Provisional (w15a): replaced by w14a's rule on merge.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Progress(StrEnum):
    DONE = "done"
    LONG_TERM = "long-term"
    OPEN = "open"


# Negations and partial completion come first: 未完成, 基本完成, 已完成90% are not done.
_OPEN = re.compile(r"未完成|未整改|尚未|部分|基本完成|正在|整改中|推进中|进行中|[0-9]{1,2}%|未到位")
_LONG_TERM = re.compile(r"长期|持续|常态化")
_DONE = re.compile(r"已完成|已整改|整改完成|整改到位|已办结|已销号|已落实|完成整改|已全部|立行立改")


def read_progress(text: str | None) -> Progress | None:
    """None: the text says nothing about progress."""
    if not text:
        return None
    squashed = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    if _OPEN.search(squashed):
        return Progress.OPEN
    if _LONG_TERM.search(squashed):
        return Progress.LONG_TERM
    if _DONE.search(squashed):
        return Progress.DONE
    return None
