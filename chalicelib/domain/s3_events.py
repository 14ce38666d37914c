"""Translate S3 notifications (as delivered through SQS) into object references."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.domain.timeutil import parse_instant


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str  # decoded: S3 URL-encodes keys in events (spaces as '+')
    version_id: str | None
    size: int
    sequencer: str | None
    event_time: datetime
    etag: str | None = None


class NotAnS3EventError(ValueError):
    pass


def object_refs(body: str) -> list[ObjectRef]:
    """Object-created references in one SQS message body; empty for S3's test event."""
    try:
        payload: dict[str, Any] = json.loads(body)
    except json.JSONDecodeError as exc:
        raise NotAnS3EventError(f"message body is not JSON: {body[:200]!r}") from exc
    if payload.get("Event") == "s3:TestEvent":
        return []
    if not isinstance(payload.get("Records"), list):
        raise NotAnS3EventError(f"message has no S3 Records: {body[:200]!r}")
    refs = []
    for record in payload["Records"]:
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        obj = s3["object"]
        refs.append(
            ObjectRef(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(obj["key"]),
                version_id=obj.get("versionId"),
                size=int(obj.get("size", 0)),
                sequencer=obj.get("sequencer"),
                event_time=parse_instant(record["eventTime"]),
                etag=obj.get("eTag"),
            )
        )
    return refs
