"""Packages: deliveries that are complete only when several pieces are there (the September
summary: 总结报告, the 2022 problem list with its completion, three typical cases and the
accountability statement). Each piece arrives as its own upload, in any order; the package's
status is derived from the current accepted pieces, never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.deadlines import Deadline, period_label
from chalicelib.domain.progress import Progress, read_progress
from chalicelib.domain.registry import Campaign
from chalicelib.domain.store import DeliveryPointer


def is_open(status: str) -> bool:
    """Whether 完成情况 leaves the problem open or long-term, so the row needs its stage result
    (阶段性成效) and long-term measure (长期举措): the one rule of ``chalicelib.domain.progress``."""
    return read_progress(status) is not Progress.DONE


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
        if is_open(status):
            for field, label in (("stage_result", "阶段性成效"), ("long_term_measure", "长期举措")):
                if not str(row.get(field) or "").strip():
                    problems.append(f"{where}问题尚在推进或需长期推进，【{label}】不能为空")
    return tuple(problems)


def required_parts(deadline: Deadline) -> tuple[tuple[str, int], ...]:
    """(deliverable, count) a unit owes: the package when the deadline has one, else one of each."""
    return deadline.package or tuple((d, 1) for d in deadline.deliverables)


def items_of(required: int, row_count: int | None) -> int:
    """A piece owed more than once (3 typical cases) counts the items (cases) in its current version."""
    return (row_count or 0) if required > 1 else 1


def dropped_problem_lines(dropped: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Issue 15: problems the unit listed before, not reported done, that its list no longer carries."""
    return tuple(
        f"问题{d['id']}“{str(d.get('text') or '')[:30]}”（最后列于{period_label(str(d.get('last_period') or ''))}）"
        "未列入本期清单，也未报告整改完成，请补列并填写整改进展"
        for d in dropped
    )


def package_parts(
    campaign: Campaign,
    deadline: Deadline,
    have: Mapping[str, int],
    legacy_rows: Sequence[Mapping[str, Any]] = (),
    legacy_problems: tuple[str, ...] | None = None,
    dropped: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> tuple[PackagePart, ...]:
    """Pure: each owed piece with how many are there (``have``: deliverable → items accepted).

    ``legacy_problems``: what ``legacy_row_problems`` found in the 2022 list's current version when it was
    recorded (kept on its pointer, issue 17); when None, they are found in ``legacy_rows``. A problem list is
    judged against the ledger too (``dropped``: deliverable → the unit's dropped problems, issue 15)."""
    parts = []
    for deliverable_id, required in required_parts(deadline):
        count = have.get(deliverable_id, 0)
        found = legacy_problems if legacy_problems is not None else legacy_row_problems(legacy_rows)
        problems = found if deliverable_id == "legacy-issue-list" and count else ()
        if count and dropped and deliverable_id in dropped:
            problems = (*problems, *dropped_problem_lines(dropped[deliverable_id]))
        name = campaign.deliverables[deliverable_id].name
        parts.append(PackagePart(deliverable_id, name, required, count, problems))
    return tuple(parts)


def evaluate_package(
    campaign: Campaign,
    deadline: Deadline,
    unit_code: str,
    pieces: Mapping[str, PiecePresence],
    legacy_rows: Sequence[Mapping[str, Any]] = (),
    legacy_problems: tuple[str, ...] | None = None,
    dropped: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> PackageStatus:
    have = {d: p.items for d, p in pieces.items() if p.accepted_at}
    parts = package_parts(campaign, deadline, have, legacy_rows, legacy_problems, dropped)
    status = PackageStatus(deadline.id, unit_code, parts, None)
    if status.complete:
        owed = dict(required_parts(deadline))
        times = [p.accepted_at for d, p in pieces.items() if p.accepted_at and d in owed]
        status = PackageStatus(deadline.id, unit_code, parts, max(times) if times else None)
    return status


def package_pieces(deadline: Deadline, pointers: Iterable[DeliveryPointer]) -> dict[str, PiecePresence]:
    """Pure: the owed pieces a unit's pointers (of the deadline's period) show."""
    owed = dict(required_parts(deadline))
    return {
        p.deliverable: PiecePresence(
            p.first_accepted_at, items_of(owed[p.deliverable], p.current_row_count), p.latest_status
        )
        for p in pointers
        if p.deliverable in owed
    }
