"""S3 access for uploaded originals: read a version's bytes and digest, never modify."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class FetchedObject:
    size: int
    sha256: str
    etag: str | None
    content_type: str | None
    # The bytes, when the object is no larger than the caller keeps; None for oversized uploads.
    data: bytes | None
    # The object's user metadata (``x-amz-meta-*``, names without the prefix): the office's filing of an
    # emailed file carries ``received-at`` and ``office-note`` (issue 14).
    metadata: dict[str, str] = field(default_factory=dict)


class ObjectStore:
    def __init__(self, client: Any) -> None:
        self._client = client

    def fetch(self, bucket: str, key: str, version_id: str | None, keep_up_to: int) -> FetchedObject:
        """Stream the exact version that was uploaded, hash all of it, keep at most ``keep_up_to`` bytes."""
        extra = {"VersionId": version_id} if version_id else {}
        response = self._client.get_object(Bucket=bucket, Key=key, **extra)
        sha = hashlib.sha256()
        kept: list[bytes] | None = []
        size = 0
        for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
            sha.update(chunk)
            size += len(chunk)
            if kept is not None:
                kept.append(chunk)
                if size > keep_up_to:
                    kept = None  # an oversized upload is fingerprinted, never held in memory
        return FetchedObject(
            size=size,
            sha256=sha.hexdigest(),
            etag=(response.get("ETag") or "").strip('"') or None,
            content_type=response.get("ContentType"),
            data=b"".join(kept) if kept is not None else None,
            metadata=dict(response.get("Metadata") or {}),
        )
