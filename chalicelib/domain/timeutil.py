"""Instants are stored in UTC; people see Asia/Shanghai (or the campaign's zone)."""

from __future__ import annotations

from datetime import UTC, datetime
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
