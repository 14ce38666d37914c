"""What every check produces (``Finding``) and the statuses a submission and a notice go through.

Statuses are ``StrEnum``: a member equals its string, so what the table holds ("accepted", "sent" …)
reads and compares as before, and a typo in code is a NameError instead of a silent mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SubmissionStatus(StrEnum):
    """The verdict recorded for one uploaded object version."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RECEIVED = "received"  # a deliverable with no content checks yet
    RECEIVED_FOR_REVIEW = "received-for-review"  # a report: a person reads it
    RETURNED = "returned"  # 退回: the office sent back what the checker accepted (issue 14, decided status only)


# What counts as a delivered version: the delivery pointer moves to these, and only these.
ACCEPTED_STATUSES = frozenset({SubmissionStatus.ACCEPTED, SubmissionStatus.RECEIVED_FOR_REVIEW})


class NoticeStatus(StrEnum):
    """A notice in the exactly-once log: pending → sending → sent, or failed (retried) / rejected (for good)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    REJECTED = "rejected"


class SendOutcome(StrEnum):
    """What one attempt to send a notice once came to."""

    SENT = "sent"
    ALREADY_SENT = "already-sent"
    IN_FLIGHT = "in-flight"  # another sender holds the lease
    FAILED = "failed"  # transient: the next run retries
    REJECTED = "rejected"  # permanent: a person must follow up
    # composing or sending raised something that is no mail server's answer (the email package refusing a
    # header, a bug): the same text raises it again, so it is recorded as failed, never left "sending"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One error or warning about an upload: where it is and what to do, in Chinese."""

    code: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    section: str | None = None

    def located(self) -> str:
        where = []
        if self.sheet:
            where.append(f"工作表“{self.sheet}”")
        if self.row is not None:
            where.append(f"第{self.row}行")
        if self.column:
            where.append(f"【{self.column}】")
        if self.section:
            where.append(f"“{self.section}”部分")
        return ("".join(where) + "：" if where else "") + self.message

    def as_dict(self) -> dict[str, object]:
        """The finding's present fields (what the table stores and the API returns)."""
        return {k: v for k, v in vars(self).items() if v is not None}
