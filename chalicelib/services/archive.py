"""The campaign archive (归档): what the office keeps when the campaign ends.

One folder (or one .zip): every original of every version the units uploaded, every record the system
made about them (submissions, current pointers, accepted rows, refused keys) and every notice sent,
with an index a person can open in Excel (``目录.csv``) and one a program can read (``index.json``).
Read through the AWS APIs (``adapters/export``), so it works the same against AWS and the local stack.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from chalicelib.adapters.export import item_to_json, object_versions, read_version, table_items
from chalicelib.domain.receipts import STATUS_WORDS
from chalicelib.domain.registry import Campaign
from chalicelib.domain.timeutil import cn_datetime

INDEX_COLUMNS = [
    "单位",
    "材料",
    "期次",
    "文件名",
    "第几版",
    "版本号",
    "接收时间",
    "核验结果",
    "大小（字节）",
    "SHA-256",
    "归档路径",
]


def _plain(value: dict[str, Any]) -> Any:
    """A typed DynamoDB value as plain JSON (numbers as numbers)."""
    ((kind, inner),) = value.items()
    if kind == "N":
        number = float(inner)
        return int(number) if number.is_integer() else number
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind in ("SS", "NS", "BS"):
        return list(inner)
    if kind == "NULL":
        return None
    return inner


def _record_kind(pk: str, sk: str) -> str:
    if "#N#" in pk:
        return "notices"
    if "#ROWS#" in pk:
        return "rows"
    if sk.startswith("CUR#"):
        return "current"
    if sk.startswith("S#"):
        return "submissions"
    return "other"


class _Sink:
    """A folder or a zip file, written the same way."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) if target.suffix == ".zip" else None
        if self.zip is None:
            target.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, data: bytes) -> None:
        if self.zip is not None:
            self.zip.writestr(name, data)
            return
        path = self.target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def write_archive(
    campaign: Campaign,
    clients: dict[str, Any],
    bucket: str,
    table: str,
    target: Path,
    progress: Callable[[str], None] = lambda _line: None,
) -> dict[str, Any]:
    s3, dynamodb = clients["s3"], clients["dynamodb"]
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in table_items(dynamodb, table, f"C#{campaign.id}#"):
        records[_record_kind(item["pk"]["S"], item["sk"]["S"])].append(item)
    prefix = f"uploads/{campaign.id}/"
    for item in table_items(dynamodb, table, "INTAKE#REJECTED"):
        if item.get("object_key", {}).get("S", "").startswith(prefix):
            records["refused"].append(item)
    submission_of = {
        (s["object_key"]["S"], s["version_id"]["S"]): {k: _plain(v) for k, v in s.items()}
        for s in records["submissions"]
    }

    sink = _Sink(target)
    index: list[dict[str, Any]] = []
    ordinal: dict[str, int] = defaultdict(int)
    try:
        for version in object_versions(s3, bucket, prefix):
            if version.is_delete_marker:
                continue
            ordinal[version.key] += 1
            body, _meta = read_version(s3, bucket, version)
            parts = PurePosixPath(version.key).relative_to(prefix).parts
            unit_code, deliverable_id, period = [*parts[:3], "", "", ""][:3]
            file_name = parts[-1]
            unit = campaign.unit(unit_code)
            deliverable = campaign.deliverable(deliverable_id)
            folder = "/".join(p for p in (f"{unit_code}-{unit.name}" if unit else unit_code, deliverable_id, period))
            path = f"originals/{folder}/v{ordinal[version.key]}-{file_name}"
            sink.write(path, body)
            submission = submission_of.get((version.key, version.version_id), {})
            index.append(
                {
                    "unit": unit.name if unit else unit_code,
                    "deliverable": deliverable.name if deliverable else deliverable_id,
                    "period": period,
                    "file_name": file_name,
                    "ordinal": ordinal[version.key],
                    "version_id": version.version_id,
                    "received_at": cn_datetime(version.last_modified, campaign.zone),
                    "status": STATUS_WORDS.get(submission.get("status", ""), "未登记（上传路径不符）"),
                    "size": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "path": path,
                    "object_key": version.key,
                }
            )
            progress(path)
        for kind, items in sorted(records.items()):
            lines = "".join(json.dumps(item_to_json(i), ensure_ascii=False) + "\n" for i in items)
            sink.write(f"records/{kind}.jsonl", lines.encode())
        for n, notice in enumerate(sorted(records["notices"], key=lambda i: i.get("created_at", {}).get("S", ""))):
            plain = {k: _plain(v) for k, v in notice.items()}
            head = f"主题：{plain.get('subject', '')}\n收件人：{'、'.join(plain.get('recipients', []))}\n"
            head += f"状态：{plain.get('status', '')}  发送时间：{plain.get('sent_at', '')}\n\n"
            sink.write(f"notices/{n + 1:04d}.txt", (head + plain.get("text", "")).encode())
        table_csv = io.StringIO()
        writer = csv.writer(table_csv)
        writer.writerow(INDEX_COLUMNS)
        for e in index:
            writer.writerow(
                [e["unit"], e["deliverable"], e["period"], e["file_name"], e["ordinal"], e["version_id"],
                 e["received_at"], e["status"], e["size"], e["sha256"], e["path"]]
            )  # fmt: skip
        sink.write("目录.csv", ("\ufeff" + table_csv.getvalue()).encode())  # BOM: Excel opens UTF-8 as such
        manifest = {
            "campaign": campaign.id,
            "name": campaign.name,
            "archived_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "originals": index,
            "records": {kind: len(items) for kind, items in sorted(records.items())},
            "notices": len(records["notices"]),
        }
        sink.write("index.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    finally:
        sink.close()
    return manifest
