"""Chalice entry points. Handlers only translate events and requests into chalicelib calls."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from chalice import BadRequestError, Chalice, NotFoundError, Response
from chalice.app import SQSEvent

from chalicelib.settings import DEFAULT_UPLOAD_QUEUE_NAME

# Powertools owns logging (structured JSON); Chalice's own handler would print every line twice.
app = Chalice(app_name="campaign-reporting", configure_logs=False)
logger = Logger(service="campaign-reporting")


@cache
def _registry() -> Any:
    from chalicelib.registry import default_registry

    return default_registry()


@cache
def _intake_context() -> Any:
    import boto3

    from chalicelib.intake import IntakeContext
    from chalicelib.mail import sender_from_settings
    from chalicelib.objects import ObjectStore
    from chalicelib.settings import current

    settings = current()
    return IntakeContext(
        registry=_registry(),
        objects=ObjectStore(boto3.client("s3", region_name=settings.region)),
        mail=sender_from_settings(settings),
        max_upload_bytes=settings.max_upload_bytes,
    )


def _query(call: Any, *args: Any, **kwargs: Any) -> Any:
    from chalicelib.queries import QueryError, QueryNotFoundError

    try:
        return call(*args, **kwargs)
    except QueryNotFoundError as exc:
        raise NotFoundError(exc.message) from exc
    except QueryError as exc:
        raise BadRequestError(exc.message) from exc


@app.route("/health", methods=["GET"])
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.route("/campaigns/{campaign_id}/submissions", methods=["GET"])
def list_submissions(campaign_id: str) -> Response | dict[str, Any]:
    from chalicelib.queries import list_submissions as query

    params = app.current_request.query_params or {}
    return _query(
        query,
        _registry(),
        campaign_id,
        unit_ref=params.get("unit"),
        limit=params.get("limit"),
        cursor=params.get("cursor"),
    )


@app.route("/campaigns/{campaign_id}/packages", methods=["GET"])
def list_packages(campaign_id: str) -> dict[str, Any]:
    from chalicelib.queries import list_packages as query

    params = app.current_request.query_params or {}
    return _query(query, _registry(), campaign_id, unit_ref=params.get("unit"))


@app.on_sqs_message(queue=os.environ.get("UPLOAD_QUEUE_NAME", DEFAULT_UPLOAD_QUEUE_NAME), batch_size=1)
def handle_upload(event: SQSEvent) -> None:
    """One S3 notification per message (batch size 1: a failure retries only itself)."""
    from chalicelib.intake import ingest
    from chalicelib.s3_events import object_refs

    context = _intake_context()
    for record in event:
        logger.clear_state()  # keys of the previous invocation must not label this one
        logger.append_keys(message_id=record.to_dict().get("messageId"))
        for ref in object_refs(record.body):
            ingest(ref, context)
