"""The export queue (issue 17): the API hands a big export to the export worker with one SQS message."""

from __future__ import annotations

import json
from functools import cache
from typing import Any


@cache
def _sqs(region: str) -> Any:
    from chalicelib.adapters.aws import client

    return client("sqs", region)


def send_export_job(settings: Any, campaign_id: str, job_id: str) -> None:
    """One message naming the job; the job item holds what to build (the worker reads it by id)."""
    if not settings.export_queue_url:
        raise RuntimeError("EXPORT_QUEUE_URL is not set: the export worker's queue is unknown")
    body = json.dumps({"campaign": campaign_id, "job": job_id})
    _sqs(settings.region).send_message(QueueUrl=settings.export_queue_url, MessageBody=body)


def export_job_refs(body: str) -> tuple[str, str] | None:
    """(campaign, job id) of an export message, or None for a body that is not one."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    campaign, job = message.get("campaign"), message.get("job")
    if isinstance(campaign, str) and isinstance(job, str) and campaign and job:
        return campaign, job
    return None
