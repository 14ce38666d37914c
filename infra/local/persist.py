"""The local stack's state kept under ``.local/state/`` between runs of ``make run``.

moto keeps everything in memory. On a clean stop (Ctrl-C, SIGTERM) and every ``LOCAL_SAVE_INTERVAL_SECONDS``
the stack is read out through the AWS APIs (``chalicelib.adapters.export``, the same reads the campaign
archive uses) and written here; on start it is put back before the API and the pump run:

- ``objects.json`` + ``blobs/{sha256}``: every version of every object, each key's history oldest first.
  Versions are re-put with the bucket's notifications suspended (nothing is processed twice: the
  submissions already exist) and then given back their original version id and time, because
  submissions, row items and receipts name the exact version. That last step reaches into moto's
  S3 backend, so a restore runs inside the moto process (``moto_stack``): the S3 API has no way to
  choose a version id.
- ``table.jsonl``: every table item, in DynamoDB's typed JSON (binary as base64).
- ``queues.json``: messages waiting in the upload queue and its dead-letter queue (clean stop only; the
  pump is stopped first, so nothing is in flight). A periodic save leaves the queues alone, since
  reading a queue hides its messages from the pump.

Each save writes new index files and renames them into place, so a crash mid-save leaves the previous
state readable; blobs are content-addressed and written once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.adapters.export import (
    ObjectVersion,
    item_from_json,
    item_to_json,
    object_versions,
    put_items,
    read_version,
    table_items,
)

FORMAT = 1


@dataclass(frozen=True)
class StateSummary:
    saved_at: str
    object_versions: int
    table_items: int
    queued_messages: int

    def line(self) -> str:
        return (
            f"{self.object_versions} 个文件版本、{self.table_items} 条记录、{self.queued_messages} 条排队消息"
            f"（保存于 {self.saved_at}）"
        )


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def stack_queues(outputs: dict[str, str]) -> dict[str, str]:
    """The queues a save keeps, by name, from the stack's outputs."""
    queues = {"upload": outputs["UploadQueueUrl"], "dead-letter": outputs["UploadDeadLetterQueueUrl"]}
    if outputs.get("ExportQueueUrl"):
        queues |= {"export": outputs["ExportQueueUrl"], "export-dead-letter": outputs["ExportDeadLetterQueueUrl"]}
    return queues


def _drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every visible message of a stopped queue: read, left in place (the stack stops anyway)."""
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=300
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            return kept
        for m in fresh:
            seen.add(m["MessageId"])
            kept.append({"body": m["Body"]})


def save(
    clients: dict[str, Any], bucket: str, table: str, queues: dict[str, str], state_dir: Path, with_queues: bool
) -> StateSummary:
    s3, dynamodb, sqs = clients["s3"], clients["dynamodb"], clients["sqs"]
    blobs = state_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    # A version never changes: one saved before (with its blob) is not downloaded again.
    previous: dict[tuple[str, str], dict[str, Any]] = {}
    if (state_dir / "objects.json").exists():
        for saved in json.loads((state_dir / "objects.json").read_text(encoding="utf-8")):
            if saved.get("sha256") and (blobs / saved["sha256"]).exists():
                previous[(saved["key"], saved["version_id"])] = saved
    objects = []
    for version in object_versions(s3, bucket):
        known = previous.get((version.key, version.version_id))
        if known is not None:
            objects.append(known)
            continue
        entry: dict[str, Any] = {
            "key": version.key,
            "version_id": version.version_id,
            "last_modified": version.last_modified.isoformat(),
        }
        if version.is_delete_marker:
            entry["delete_marker"] = True
        else:
            body, meta = read_version(s3, bucket, version)
            digest = hashlib.sha256(body).hexdigest()
            if not (blobs / digest).exists():
                (blobs / digest).write_bytes(body)
            entry |= {"sha256": digest, **meta}
        objects.append(entry)
    items = [item_to_json(i) for i in table_items(dynamodb, table)]
    queued: dict[str, list[dict[str, Any]]] = {}
    if with_queues:
        queued = {name: _drain(sqs, url) for name, url in queues.items()}
    elif (state_dir / "queues.json").exists():
        queued = json.loads((state_dir / "queues.json").read_text(encoding="utf-8"))
    saved_at = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    _write_atomically(state_dir / "objects.json", json.dumps(objects, ensure_ascii=False, indent=1))
    _write_atomically(state_dir / "table.jsonl", "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    _write_atomically(state_dir / "queues.json", json.dumps(queued, ensure_ascii=False, indent=1))
    summary = StateSummary(saved_at, len(objects), len(items), sum(len(v) for v in queued.values()))
    _write_atomically(state_dir / "state.json", json.dumps({"format": FORMAT, **vars(summary)}, indent=1))
    return summary


def saved(state_dir: Path | None) -> StateSummary | None:
    if state_dir is None or not (state_dir / "state.json").exists():
        return None
    data = json.loads((state_dir / "state.json").read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        return None
    return StateSummary(data["saved_at"], data["object_versions"], data["table_items"], data["queued_messages"])


def _moto_bucket(name: str) -> Any:
    from moto.s3.models import s3_backends

    for account in s3_backends.values():
        for backend in account.values():
            bucket = backend.buckets.get(name)
            if bucket is not None:
                return bucket
    raise LookupError(name)


def _give_back_identity(bucket: Any, version: ObjectVersion, new_version_id: str) -> None:
    """The re-put version takes its original id and time (moto keeps naive UTC datetimes)."""
    for fake in bucket.keys.getlist(version.key):
        if fake.version_id == new_version_id:
            fake._version_id = version.version_id
            fake.last_modified = version.last_modified.astimezone(UTC).replace(tzinfo=None)
            return
    raise LookupError(f"{version.key} {new_version_id}")


def restore(clients: dict[str, Any], bucket: str, table: str, queues: dict[str, str], state_dir: Path) -> StateSummary:
    summary = saved(state_dir)
    assert summary is not None
    s3, dynamodb, sqs = clients["s3"], clients["dynamodb"], clients["sqs"]
    notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
    notifications.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        fake_bucket = _moto_bucket(bucket)
        for entry in json.loads((state_dir / "objects.json").read_text(encoding="utf-8")):
            version = ObjectVersion(
                entry["key"], entry["version_id"], datetime.fromisoformat(entry["last_modified"]), 0
            )
            if entry.get("delete_marker"):
                new_id = s3.delete_object(Bucket=bucket, Key=version.key)["VersionId"]
                for marker in fake_bucket.keys.getlist(version.key):
                    if marker.version_id == new_id:
                        marker._version_id = version.version_id
                continue
            extra: dict[str, Any] = {"Metadata": entry.get("metadata") or {}}
            if entry.get("content_type"):
                extra["ContentType"] = entry["content_type"]
            body = (state_dir / "blobs" / entry["sha256"]).read_bytes()
            new_id = s3.put_object(Bucket=bucket, Key=version.key, Body=body, **extra)["VersionId"]
            _give_back_identity(fake_bucket, version, new_id)
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notifications)
    lines = (state_dir / "table.jsonl").read_text(encoding="utf-8").splitlines()
    put_items(dynamodb, table, [item_from_json(json.loads(line)) for line in lines if line.strip()])
    for name, messages in json.loads((state_dir / "queues.json").read_text(encoding="utf-8")).items():
        if name in queues:
            for message in messages:
                sqs.send_message(QueueUrl=queues[name], MessageBody=message["body"])
    return summary
