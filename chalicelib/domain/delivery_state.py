"""A unit's delivery state for a deadline, derived from its delivery pointers: pure, no reads.

The sweep (``chalicelib.services.sweep``) and the office's status board (``chalicelib.services.board``)
read the pointers through the store; what they mean (on time, incomplete, rejected and never fixed,
what is still missing from a package) is decided here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain.deadlines import Deadline, period_label
from chalicelib.domain.findings import SubmissionStatus
from chalicelib.domain.notice_policy import DeliveryState
from chalicelib.domain.packages import PackageStatus, items_of, package_parts, required_parts
from chalicelib.domain.registry import Campaign
from chalicelib.domain.store import DeliveryPointer


@dataclass(frozen=True)
class Pointer:
    """What the sweep needs of one unit's delivery pointer for one deliverable and period."""

    unit_code: str
    deliverable: str
    first_accepted_at: datetime | None = None
    current_row_count: int | None = None
    latest_status: str | None = None
    latest_submission_sk: str | None = None
    latest_received_at: datetime | None = None
    current_version: str | None = None
    latest_messages: tuple[str, ...] | None = None  # None: not kept on the pointer (an older item)
    current_row_problems: tuple[str, ...] | None = None  # likewise

    @classmethod
    def of(cls, pointer: DeliveryPointer) -> Pointer:
        return cls(
            unit_code=pointer.unit,
            deliverable=pointer.deliverable,
            first_accepted_at=pointer.first_accepted_at,
            current_row_count=pointer.current_row_count,
            latest_status=pointer.latest_status,
            latest_submission_sk=pointer.latest_submission_sk,
            latest_received_at=pointer.latest_received_at,
            current_version=pointer.current_version,
            latest_messages=pointer.latest_messages,
            current_row_problems=pointer.current_row_problems,
        )

    def accepted_by(self, as_of: datetime) -> bool:
        return self.first_accepted_at is not None and self.first_accepted_at <= as_of

    def rejected_by(self, as_of: datetime) -> bool:
        """The latest upload (as of then) was rejected and no version was ever accepted."""
        return (
            not self.accepted_by(as_of)
            # 退回 (the office returned it, issue 14) is owed again exactly as a rejection is
            and self.latest_status in (SubmissionStatus.REJECTED, SubmissionStatus.RETURNED)
            and self.latest_received_at is not None
            and self.latest_received_at <= as_of
            and self.latest_submission_sk is not None
        )


def package_missing(
    campaign: Campaign,
    deadline: Deadline,
    accepted: Mapping[str, int | None],
    legacy_rows: Sequence[Mapping[str, Any]] = (),
    legacy_problems: tuple[str, ...] | None = None,
    dropped: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> tuple[str, ...]:
    """What a unit still owes for a deadline, as Chinese labels for the notice; () when complete.

    ``accepted`` maps each deliverable with an accepted version (as of the sweep) to its current version's
    row count; ``chalicelib.domain.packages`` decides what complete means (three cases, the 2022 list's rows).
    """
    have = {d: items_of(dict(required_parts(deadline)).get(d, 1), n) for d, n in accepted.items()}
    return PackageStatus(
        deadline.id, "", package_parts(campaign, deadline, have, legacy_rows, legacy_problems, dropped), None
    ).missing


def delivery_state(
    campaign: Campaign,
    deadline: Deadline,
    unit_code: str,
    pointers: Mapping[str, Pointer],
    rejections: Mapping[tuple[str, str], tuple[str, ...]],
    as_of: datetime,
    legacy_rows: Sequence[Mapping[str, Any]] = (),
    legacy_problems: tuple[str, ...] | None = None,
    dropped: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> DeliveryState | None:
    """One unit's state for one deadline from its pointers (by deliverable), or None when there is nothing.

    Delivered means every required part is accepted: ``delivered_at`` is the first accepted part and
    ``completed_at`` the latest of the parts' first acceptances, so a deadline with two deliverables
    (清单 and 典型案例) is on time only if both were. A unit with some parts accepted is "incomplete" and
    told what is missing; ``rejections`` ((unit, submission sk) → error messages) explains parts whose
    latest upload was rejected and never fixed.
    """
    parts = [d for d, _ in required_parts(deadline)]
    accepted = {d: p for d in parts if (p := pointers.get(d)) is not None and p.accepted_by(as_of)}
    rejected: list[str] = []
    for d in parts:
        p = pointers.get(d)
        if p is None or not p.rejected_by(as_of) or p.latest_submission_sk is None:
            continue
        messages = rejections.get((unit_code, p.latest_submission_sk), ())
        if len(parts) > 1:  # say which of the deliverables each message is about
            deliverable = campaign.deliverable(d)
            messages = tuple(f"{deliverable.name if deliverable else d}：{m}" for m in messages)
        rejected += messages or [f"{period_label(deadline.period)}材料未通过核验"]
    if not accepted and not rejected:
        return None
    first_times = [p.first_accepted_at for p in accepted.values() if p.first_accepted_at is not None]
    counts = {d: p.current_row_count for d, p in accepted.items()}
    missing = package_missing(campaign, deadline, counts, legacy_rows, legacy_problems, dropped)
    return DeliveryState(
        unit_code=unit_code,
        delivered_at=min(first_times) if first_times else None,
        rejected=tuple(rejected),
        # Only a unit that delivered something is told "incomplete"; one with nothing accepted is "missing".
        package_missing=missing if accepted else (),
        completed_at=max(first_times) if first_times and not missing else None,
    )
