"""The S3 doors as the http layer sees them: a county's presigned upload form, the office's download of an
original, an export handed over as a link to a copy in the bucket. The signing itself is the S3 adapter's;
http reaches it only through this service."""

from __future__ import annotations

from chalicelib.adapters.presign import (
    PlannedUpload,
    UploadPresigner,
    export_link,
    plan_upload,
    presigned_download,
    presigner_from_settings,
    put_export,
    stored_export,
)

__all__ = [
    "PlannedUpload",
    "UploadPresigner",
    "export_link",
    "plan_upload",
    "presigned_download",
    "presigner_from_settings",
    "put_export",
    "stored_export",
]
