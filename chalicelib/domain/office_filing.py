"""The office files what a unit emailed (issue 14): the object carries the time it really arrived.

``cli upload --received-at … --note …`` puts the file with user metadata ``received-at`` (ISO 8601 with an
offset) and ``office-note`` (percent-encoded UTF-8: S3 metadata is ASCII). Only office credentials can put
objects directly; a county's presigned POST policy lists every form field it allows, and no
``x-amz-meta-*`` is among them, so a county cannot back-date its own upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote

from chalicelib.domain.findings import Finding
from chalicelib.domain.registry import Campaign
from chalicelib.domain.timeutil import cn_date

RECEIVED_AT = "received-at"
OFFICE_NOTE = "office-note"


def filing_metadata(received_at: datetime, note: str) -> dict[str, str]:
    """What ``cli upload`` puts on the object."""
    return {RECEIVED_AT: received_at.isoformat(), OFFICE_NOTE: quote(note, safe="")}


@dataclass(frozen=True)
class Filing:
    received_at: datetime  # when the unit's file really arrived (what the board judges by)
    uploaded_at: datetime  # when the office put it into the bucket
    note: str
    warning: Finding | None = None  # the claimed time was not usable: the upload time stands


def read_filing(metadata: dict[str, str], uploaded_at: datetime, campaign: Campaign) -> Filing | None:
    """The office's filing on an object, or None for an ordinary upload."""
    raw = (metadata.get(RECEIVED_AT) or "").strip()
    note = unquote(metadata.get(OFFICE_NOTE) or "").strip()
    if not raw:
        return Filing(uploaded_at, uploaded_at, note) if note else None
    try:
        claimed = datetime.fromisoformat(raw)
    except ValueError:
        return Filing(uploaded_at, uploaded_at, note, _ignored(f"“{raw[:40]}”不是有效的时间"))
    if claimed.tzinfo is None:  # a time without an offset is Beijing time, as everything the office writes
        claimed = claimed.replace(tzinfo=campaign.zone)
    if claimed > uploaded_at:
        return Filing(uploaded_at, uploaded_at, note, _ignored("登记的收到时间晚于实际上传时间"))
    if campaign.issued is not None and claimed.astimezone(campaign.zone).date() < campaign.issued:
        return Filing(
            uploaded_at, uploaded_at, note, _ignored(f"登记的收到时间早于通知印发日（{cn_date(campaign.issued)}）")
        )
    return Filing(claimed, uploaded_at, note)


def _ignored(reason: str) -> Finding:
    return Finding("RECEIVED_AT_IGNORED", f"市专项办代为上传时{reason}，已按实际上传时间登记。")
