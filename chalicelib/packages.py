"""Packages: deliveries that are complete only when several pieces are there (the September
summary: 总结报告, the 2022 problem list with its completion, three typical cases and the
accountability statement). Each piece arrives as its own upload, in any order; the package's
status is derived from the current accepted pieces, never stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.deadlines import Deadline
from chalicelib.registry import Campaign

# Words in 完成情况 that mean the problem is still open or long-term, so the row needs its
# stage result (阶段性成效) and long-term measure (长期举措).
OPEN_MARKERS = ("未完成", "推进中", "正在", "持续", "长期", "部分完成", "未整改", "整改中")


@dataclass(frozen=True)
class PiecePresence:
    """What the table says of one piece: its current accepted version, if any."""

    accepted_at: datetime | None
    items: int  # cases for typical-case, 1 for any other accepted piece
    status: str | None  # latest upload's status (e.g. "rejected"), for the explanation


@dataclass(frozen=True)
class PackagePart:
    deliverable: str
    name: str
    required: int
    have: int
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.have >= self.required and not self.problems


@dataclass(frozen=True)
class PackageStatus:
    deadline_id: str
    unit: str
    parts: tuple[PackagePart, ...]
    completed_at: datetime | None

    @property
    def complete(self) -> bool:
        return all(p.complete for p in self.parts)

    @property
    def missing(self) -> tuple[str, ...]:
        """What is missing, in words a county clerk can act on."""
        out = []
        for part in self.parts:
            if part.have < part.required:
                out.append(f"{part.name}（需{part.required}个，已有{part.have}个）" if part.required > 1 else part.name)
            out.extend(f"{part.name}：{problem}" for problem in part.problems)
        return tuple(out)

    def as_json(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline_id,
            "unit": self.unit,
            "status": "complete" if self.complete else "incomplete",
            "missing": list(self.missing),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "parts": [
                {"deliverable": p.deliverable, "name": p.name, "required": p.required, "have": p.have}
                | ({"problems": list(p.problems)} if p.problems else {})
                for p in self.parts
            ],
        }


def legacy_row_problems(rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The 2022 list in the summary must say, for every problem, how far it got."""
    problems = []
    for row in rows:
        where = f"第{row.get('row', '?')}行"
        status = str(row.get("status") or "").strip()
        if not status:
            problems.append(f"{where}【完成情况】未填写，请填写“已完成”或整改进展")
            continue
        if any(marker in status for marker in OPEN_MARKERS):
            for field, label in (("stage_result", "阶段性成效"), ("long_term_measure", "长期举措")):
                if not str(row.get(field) or "").strip():
                    problems.append(f"{where}问题尚在推进或需长期推进，【{label}】不能为空")
    return tuple(problems)


def evaluate_package(
    campaign: Campaign,
    deadline: Deadline,
    unit_code: str,
    pieces: Mapping[str, PiecePresence],
    legacy_rows: Sequence[Mapping[str, Any]] = (),
) -> PackageStatus:
    parts = []
    for deliverable_id, required in deadline.package:
        piece = pieces.get(deliverable_id)
        have = piece.items if piece and piece.accepted_at else 0
        problems: tuple[str, ...] = ()
        if deliverable_id == "legacy-issue-list" and have:
            problems = legacy_row_problems(legacy_rows)
        name = campaign.deliverables[deliverable_id].name
        parts.append(PackagePart(deliverable_id, name, required, have, problems))
    status = PackageStatus(deadline.id, unit_code, tuple(parts), None)
    if status.complete:
        times = [p.accepted_at for d, p in pieces.items() if p.accepted_at and d in dict(deadline.package)]
        status = PackageStatus(deadline.id, unit_code, tuple(parts), max(times) if times else None)
    return status


def package_status(campaign: Campaign, deadline: Deadline, unit_code: str) -> PackageStatus:
    """Read the unit's current pieces (one Query) and the legacy rows (one Query), then evaluate."""
    from chalicelib.deliveries import current_rows, rows_as_dicts, unit_deliveries

    pieces = {}
    for state in unit_deliveries(campaign.id, unit_code, deadline.period):
        if state.deliverable in dict(deadline.package):
            items = (state.current_row_count or 0) if state.deliverable == "typical-case" else 1
            pieces[state.deliverable] = PiecePresence(state.first_accepted_at, items, state.latest_status)
    legacy: list[dict[str, Any]] = []
    if "legacy-issue-list" in pieces and pieces["legacy-issue-list"].accepted_at:
        legacy = rows_as_dicts(current_rows(campaign.id, unit_code, "legacy-issue-list", deadline.period))
    return evaluate_package(campaign, deadline, unit_code, pieces, legacy)
