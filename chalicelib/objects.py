"""S3 access for uploaded originals: read a version's bytes and digest, never modify."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ObjectDigest:
    size: int
    sha256: str
    etag: str | None
    content_type: str | None


class ObjectStore:
    def __init__(self, client: Any) -> None:
        self._client = client

    def digest(self, bucket: str, key: str, version_id: str | None) -> ObjectDigest:
        """Stream the exact version that was uploaded and hash it."""
        extra = {"VersionId": version_id} if version_id else {}
        response = self._client.get_object(Bucket=bucket, Key=key, **extra)
        sha = hashlib.sha256()
        size = 0
        for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
            sha.update(chunk)
            size += len(chunk)
        return ObjectDigest(
            size=size,
            sha256=sha.hexdigest(),
            etag=(response.get("ETag") or "").strip('"') or None,
            content_type=response.get("ContentType"),
        )
