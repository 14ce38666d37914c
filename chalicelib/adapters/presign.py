"""Straight-to-bucket uploads for county links: which key and content type a file gets (pure), and the
boto3 presigned POST that lets the browser put exactly that (the adapter).

The browser never chooses the key: it sends a file name, and the key is the link's own prefix plus that
name, checked with the same rules intake applies (``resolve_upload_key``), so an upload that got a
presigned POST is never refused for its key afterwards. The POST policy pins the key exactly (no
``starts-with``), the ``Content-Type`` and a ``content-length-range``, and expires in minutes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.links import Grant, LinkError
from chalicelib.domain.registry import Registry
from chalicelib.domain.upload_keys import (
    STAMPED_FORMATS,
    UploadKeyError,
    invisible_characters_reason,
    resolve_upload_key,
    stamped_upload_key,
    upload_key,
)
from chalicelib.domain.validation import extension_of

# What S3 stores as the object's Content-Type. Intake judges by extension and content, never by this;
# it is fixed so that what the bucket serves back later is not whatever the browser guessed.
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xls": "application/vnd.ms-excel",
    "et": "application/vnd.ms-excel",  # WPS 表格; WPS and Excel both open it as a legacy workbook
    "csv": "text/csv",
    "json": "application/json",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
}
PRESIGN_EXPIRES_SECONDS = 300  # long enough for a 20 MB file on a county line, short enough to be useless later


@dataclass(frozen=True)
class PlannedUpload:
    key: str
    content_type: str
    max_bytes: int
    deliverable_id: str
    file_name: str


def plan_upload(
    registry: Registry,
    grant: Grant,
    deliverable_id: str | None,
    file_name: Any,
    size: Any,
    max_bytes: int,
    *,
    stamped: bool = False,
) -> PlannedUpload:
    """The one key and content type a file may be uploaded under through this link, or ``LinkError``."""
    deliverable = grant.deliverable(deliverable_id)
    if not isinstance(file_name, str) or not file_name.strip():
        raise LinkError("请选择要上传的文件。")
    # macOS browsers send decomposed names; the receipt and the office should see the usual form.
    name = unicodedata.normalize("NFC", file_name.strip())
    # Before anything quotes the name: a line break in it (U+2028 too) would break the receipt's Subject.
    if (reason := invisible_characters_reason(name)) is not None:
        raise LinkError(reason)
    if "/" in name or "\\" in name:
        raise LinkError("文件名不能包含“/”或“\\”，请重命名后再上传。")
    ext = extension_of(name)
    if stamped and ext not in STAMPED_FORMATS:
        raise LinkError(f"盖章扫描件“{name[:80]}”应为 PDF 文件，请将盖章页扫描为 PDF 后再上传。")
    if not stamped and (ext not in deliverable.formats or ext not in CONTENT_TYPES):
        accepted = "、".join(f".{e}" for e in deliverable.formats)
        raise LinkError(f"“{name[:80]}”的格式不在{deliverable.name}接受的范围内，请另存为 {accepted} 后再上传。")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise LinkError("size 应为文件的字节数。")
        if size == 0:
            raise LinkError(f"文件“{name[:80]}”是空文件（0 字节），请检查后重新选择。")
        if size > max_bytes:
            raise LinkError(
                f"文件“{name[:80]}”大小为 {size / 1048576:.1f} MB，超过上限 {max_bytes / 1048576:.0f} MB，"
                "请删除多余的图片或工作表后再上传。"
            )
    make_key = stamped_upload_key if stamped else upload_key  # 盖章扫描件: …/{period}/盖章/{name} (issue 14)
    key = make_key(grant.campaign.id, grant.unit.code, deliverable.id, grant.period, name)
    try:
        target = resolve_upload_key(registry, key)
    except UploadKeyError as exc:
        raise LinkError(exc.message) from exc
    # Belt and braces: whatever the name held, the key is this link's and nobody else's.
    if (
        target.campaign.id,
        target.unit.code,
        target.deliverable.id,
        target.period,
        target.file_name,
        target.stamped,
    ) != (
        grant.campaign.id,
        grant.unit.code,
        deliverable.id,
        grant.period,
        name,
        stamped,
    ):
        raise LinkError("文件名不符合要求，请重命名后再上传。")
    return PlannedUpload(key, CONTENT_TYPES[ext], max_bytes, deliverable.id, name)


class UploadPresigner:
    """boto3's ``generate_presigned_post`` for the uploads bucket. Signing is local: no request is made."""

    def __init__(self, s3_client: Any, bucket: str, expires_in: int = PRESIGN_EXPIRES_SECONDS) -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._expires_in = expires_in

    def presign(self, planned: PlannedUpload) -> dict[str, Any]:
        # Every form field must match a condition; none allows ``x-amz-meta-*``, so a county cannot carry the
        # office's filing metadata (``received-at``: domain/office_filing.py) and back-date its own upload.
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=planned.key,
            Fields={"Content-Type": planned.content_type},
            Conditions=[
                {"Content-Type": planned.content_type},
                ["content-length-range", 1, planned.max_bytes],
            ],
            ExpiresIn=self._expires_in,
        )
        return {
            "url": post["url"],
            "fields": post["fields"],
            "key": planned.key,
            "content_type": planned.content_type,
            "max_bytes": planned.max_bytes,
            "expires_in": self._expires_in,
        }

    def upload_origin(self) -> str:
        """Where the browser POSTs files (scheme://host[:port]), for the page's Content-Security-Policy."""
        url = self._s3.generate_presigned_post(Bucket=self._bucket, Key="uploads/origin-probe", ExpiresIn=60)["url"]
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"


def presigner_from_settings(settings: Any) -> UploadPresigner:
    from botocore.config import Config

    from chalicelib.adapters.aws import default_client

    # SigV4 is what China regions accept; the endpoint comes from AWS_ENDPOINT_URL locally, the SDK's default in AWS.
    client = default_client("s3", settings.region, Config(signature_version="s3v4"))
    return UploadPresigner(client, settings.bucket_name)


DOWNLOAD_EXPIRES_SECONDS = 60  # the office clicks and the browser follows at once


def presigned_download(settings: Any, key: str, version_id: str | None, file_name: str) -> str:
    """A short-lived GET of one exact object version, saved under the unit's own file name."""
    from urllib.parse import quote

    from botocore.config import Config

    from chalicelib.adapters.aws import default_client

    client = default_client("s3", settings.region, Config(signature_version="s3v4"))
    params: dict[str, Any] = {
        "Bucket": settings.bucket_name,
        "Key": key,
        "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(file_name)}",
    }
    if version_id and version_id != "null":
        params["VersionId"] = version_id
    return client.generate_presigned_url("get_object", Params=params, ExpiresIn=DOWNLOAD_EXPIRES_SECONDS)


# --- issue 17 / issue 19 item 7: an export handed over as a presigned GET of a copy in the bucket ------

EXPORT_PREFIX = "exports/"  # the bucket's lifecycle deletes these after a day (infra/template.json)
EXPORT_LINK_SECONDS = 900  # a link pasted into another tool, or a slow proxy, still works for a while


def stored_export(settings: Any, key: str, body: bytes, content_type: str, file_name: str) -> str:
    """Put an export under ``exports/`` and answer a presigned GET of it, saved under ``file_name``."""
    put_export(settings, key, body, content_type)
    return export_link(settings, key, file_name)


def put_export(settings: Any, key: str, body: bytes, content_type: str) -> None:
    """Put an export under ``exports/`` (the bucket expires them after a day); the same key for the same job,
    so a redelivered export job overwrites its own workbook, never adds a second (issue 17)."""
    from botocore.config import Config

    from chalicelib.adapters.aws import default_client

    if not key.startswith(EXPORT_PREFIX):
        raise ValueError(f"exports live under {EXPORT_PREFIX}: {key}")
    client = default_client("s3", settings.region, Config(signature_version="s3v4"))
    client.put_object(Bucket=settings.bucket_name, Key=key, Body=body, ContentType=content_type)


def export_link(settings: Any, key: str, file_name: str) -> str:
    """A presigned GET of an export, saved under ``file_name`` (signing makes no request)."""
    from urllib.parse import quote

    from botocore.config import Config

    from chalicelib.adapters.aws import default_client

    if not key.startswith(EXPORT_PREFIX):
        raise ValueError(f"exports live under {EXPORT_PREFIX}: {key}")
    client = default_client("s3", settings.region, Config(signature_version="s3v4"))
    params = {
        "Bucket": settings.bucket_name,
        "Key": key,
        "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(file_name)}",
    }
    return str(client.generate_presigned_url("get_object", Params=params, ExpiresIn=EXPORT_LINK_SECONDS))
