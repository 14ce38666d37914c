"""Submission records in the table: written once per object version, read newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.adapters.models import (
    Finding,
    RejectedUpload,
    Submission,
    deadline_pk,
    feed_pk,
    is_condition_failure,
    submission_pk,
)
from chalicelib.domain.receipts import Finding as FindingValue
from chalicelib.domain.timeutil import iso_local, iso_utc, now_utc
from chalicelib.domain.upload_keys import UploadTarget
from chalicelib.domain.validation import Verdict

NULL_VERSION = "null"  # what S3 calls the version of an object in an unversioned bucket


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    version_id: str
    sequencer: str | None
    size: int
    sha256: str
    etag: str | None
    received_at: datetime


def _present(finding: FindingValue) -> dict[str, object]:
    return {k: v for k, v in vars(finding).items() if v is not None}


def submission_sk(received_at: datetime, version_id: str) -> str:
    return f"S#{iso_utc(received_at)}#{version_id}"


def record_submission(target: UploadTarget, stored: StoredObject, verdict: Verdict) -> tuple[Submission, bool]:
    """Write the submission of one object version; ``created`` is False on a redelivery."""
    received = iso_utc(stored.received_at)
    item = Submission(
        submission_pk(target.campaign.id, target.unit.code),
        submission_sk(stored.received_at, stored.version_id),
        gsi1pk=deadline_pk(target.campaign.id, target.deliverable.id, target.period),
        gsi1sk=f"U#{target.unit.code}#{received}",
        gsi2pk=feed_pk(target.campaign.id),
        gsi2sk=f"{received}#{target.unit.code}",
        campaign=target.campaign.id,
        unit=target.unit.code,
        unit_name=target.unit.name,
        deliverable=target.deliverable.id,
        period=target.period,
        bucket=stored.bucket,
        object_key=stored.key,
        version_id=stored.version_id,
        sequencer=stored.sequencer,
        file_name=target.file_name,
        size=stored.size,
        sha256=stored.sha256,
        etag=stored.etag,
        received_at=stored.received_at,
        received_at_local=iso_local(stored.received_at, target.campaign.zone),
        status=verdict.status,
        errors=[Finding(**_present(f)) for f in verdict.errors],
        warnings=[Finding(**_present(f)) for f in verdict.warnings],
        row_count=len(verdict.rows) if verdict.status == "accepted" else None,
        details=verdict.details,
        updated_at=now_utc(),
    )
    try:
        item.save(condition=Submission.pk.does_not_exist())
        return item, True
    except PutError as exc:
        if not is_condition_failure(exc):
            raise
        return Submission.get(item.pk, item.sk, consistent_read=True), False


def record_rejected_key(bucket: str, key: str, version_id: str, received_at: datetime, code: str, message: str) -> None:
    """Keep a trace of objects whose key names nothing we know; the object itself stays."""
    RejectedUpload(
        "INTAKE#REJECTED",
        f"{iso_utc(received_at)}#{key}#{version_id}",
        bucket=bucket,
        object_key=key,
        version_id=version_id,
        received_at=received_at,
        code=code,
        message=message,
    ).save()


REFUSED_PK = "INTAKE#REJECTED"


def refused_keys(object_key_prefix: str, limit: int, start_key: dict[str, Any] | None) -> Any:
    """Refused uploads under a key prefix, newest first: one Query on the refusals' partition, filtered."""
    return RejectedUpload.query(
        REFUSED_PK,
        filter_condition=RejectedUpload.object_key.startswith(object_key_prefix),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=start_key,
    )
