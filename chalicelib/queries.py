"""Answers for the office API. Every list is a DynamoDB Query on a key or index, never a Scan."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.deadlines import period_label
from chalicelib.models import Submission, feed_pk, submission_pk
from chalicelib.registry import Campaign, Registry, Unit
from chalicelib.timeutil import iso_utc

MAX_PAGE = 100


class QueryError(ValueError):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QueryNotFoundError(QueryError):
    status = 404


def campaign_or_404(registry: Registry, campaign_id: str) -> Campaign:
    campaign = registry.campaign(campaign_id)
    if campaign is None:
        raise QueryNotFoundError("未找到该专项活动。")
    return campaign


def unit_or_400(campaign: Campaign, unit_ref: str) -> Unit:
    unit = campaign.unit(unit_ref)
    if unit is None:
        raise QueryError(f"未找到填报单位“{unit_ref[:40]}”，请填写单位名称或行政区划代码（如 原平市 或 140981）。")
    return unit


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, partition: str, partition_attr: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise QueryError("分页游标（cursor）无效，请从第一页重新查询。") from exc
    # A cursor from another listing would start a query somewhere it must not.
    if not isinstance(key, dict) or key.get(partition_attr) != {"S": partition}:
        raise QueryError("分页游标（cursor）与查询条件不符，请从第一页重新查询。")
    return key


def page_size(raw: str | None) -> int:
    if raw is None:
        return 50
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise QueryError(f"limit 应为 1 到 {MAX_PAGE} 之间的整数。")
    return int(raw)


def submission_json(item: Submission, campaign: Campaign) -> dict[str, Any]:
    deliverable = campaign.deliverable(item.deliverable)
    return {
        "campaign": item.campaign,
        "unit": {"code": item.unit, "name": item.unit_name},
        "deliverable": {"id": item.deliverable, "name": deliverable.name if deliverable else item.deliverable},
        "period": item.period,
        "period_label": period_label(item.period),
        "file_name": item.file_name,
        "object_key": item.object_key,
        "version_id": item.version_id,
        "sequencer": item.sequencer,
        "size": item.size,
        "sha256": item.sha256,
        "received_at": {
            "utc": iso_utc(item.received_at),
            "local": item.received_at_local,
        },
        "status": item.status,
        "errors": [f.as_dict() for f in item.errors],
        "warnings": [f.as_dict() for f in item.warnings],
    }


def list_packages(registry: Registry, campaign_id: str, unit_ref: str | None = None) -> dict[str, Any]:
    """Package deadlines (the September summary) per unit: complete, or what is missing."""
    from chalicelib.deadlines import campaign_deadlines
    from chalicelib.packages import package_status

    campaign = campaign_or_404(registry, campaign_id)
    units = campaign.units
    if unit_ref:
        unit = unit_or_400(campaign, unit_ref)
        units = (unit,)
    packages = [d for d in campaign_deadlines(campaign) if d.package]
    items = [package_status(campaign, d, u.code).as_json() | {"unit_name": u.name} for d in packages for u in units]
    return {"items": items}


def list_submissions(
    registry: Registry,
    campaign_id: str,
    unit_ref: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Submissions newest first: one unit's (by code or name), else the whole campaign's."""
    campaign = campaign_or_404(registry, campaign_id)
    size = page_size(limit)
    if unit_ref:
        unit = unit_or_400(campaign, unit_ref)
        pk = submission_pk(campaign.id, unit.code)
        result = Submission.query(
            pk,
            Submission.sk.startswith("S#"),
            scan_index_forward=False,
            limit=size,
            last_evaluated_key=decode_cursor(cursor, pk, "pk"),
        )
    else:
        pk = feed_pk(campaign.id)
        result = Submission.feed.query(
            pk, scan_index_forward=False, limit=size, last_evaluated_key=decode_cursor(cursor, pk, "gsi2pk")
        )
    items = [submission_json(item, campaign) for item in result]
    return {"items": items, "next_cursor": encode_cursor(result.last_evaluated_key)}
