"""Reading everything out through the AWS APIs: every version of every object, every table item.

Two users: the operators' campaign archive (``cli archive``, 归档 at the end of a campaign) and the
local stack's persistence between runs of ``make run`` (``infra/local/persist.py``). Both are rare,
whole-campaign reads, so the table is read with a Scan here, the one place that does: every office
answer stays a Query.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str
    last_modified: datetime
    size: int
    is_delete_marker: bool = False


def object_versions(s3: Any, bucket: str, prefix: str = "") -> list[ObjectVersion]:
    """Every version and delete marker under ``prefix``, each key's history oldest first, keys in order."""
    found: list[ObjectVersion] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            found.append(ObjectVersion(v["Key"], v["VersionId"], v["LastModified"], v.get("Size", 0)))
        for m in page.get("DeleteMarkers", []):
            found.append(ObjectVersion(m["Key"], m["VersionId"], m["LastModified"], 0, is_delete_marker=True))
    # Same-second versions keep S3's order (newest first in a listing), hence the stable sort on a reversal.
    found.reverse()
    found.sort(key=lambda v: (v.key, v.last_modified))
    return found


def read_version(s3: Any, bucket: str, version: ObjectVersion) -> tuple[bytes, dict[str, Any]]:
    """The exact bytes of one version and what a re-put needs (content type, user metadata)."""
    response = s3.get_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
    meta = {"content_type": response.get("ContentType"), "metadata": response.get("Metadata", {})}
    return response["Body"].read(), meta


def table_items(dynamodb: Any, table: str, pk_prefix: str = "") -> Iterator[dict[str, Any]]:
    """Every item (low-level, typed form), or those whose ``pk`` starts with ``pk_prefix``."""
    kwargs: dict[str, Any] = {"TableName": table}
    if pk_prefix:
        kwargs |= {
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": pk_prefix}},
        }
    for page in dynamodb.get_paginator("scan").paginate(**kwargs):
        yield from page.get("Items", [])


def item_to_json(item: dict[str, Any]) -> dict[str, Any]:
    """A typed item as plain JSON: binary values (B, BS) as base64 text, everything else unchanged."""
    return {name: _value_to_json(value) for name, value in item.items()}


def item_from_json(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _value_from_json(value) for name, value in item.items()}


def _value_to_json(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in inner]}
    if kind == "M":
        return {"M": item_to_json(inner)}
    if kind == "L":
        return {"L": [_value_to_json(v) for v in inner]}
    return value


def _value_from_json(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "M":
        return {"M": item_from_json(inner)}
    if kind == "L":
        return {"L": [_value_from_json(v) for v in inner]}
    return value


def put_items(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Batch-write typed items, retrying what DynamoDB leaves unprocessed."""
    for start in range(0, len(items), 25):
        requests = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while requests:
            requests = dynamodb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
