"""Instants are stored in UTC; people see Asia/Shanghai (or the campaign's zone)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant such as S3's ``eventTime`` into an aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """Sortable UTC text with milliseconds, e.g. ``2023-05-12T02:03:04.123Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso_local(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds")


def now_utc() -> datetime:
    return datetime.now(UTC)


def cn_date(value: date) -> str:
    """The one way a date is written for people, as the notice writes it: 2023年5月27日 (no zero padding)."""
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value: datetime, zone: ZoneInfo) -> str:
    """An instant as people in the campaign's zone read it: 2023年5月27日 14:03."""
    local = value.astimezone(zone)
    return f"{cn_date(local.date())} {local:%H:%M}"
