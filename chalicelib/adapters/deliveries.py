"""Versions, then a pointer: accepted rows are written under their own object version, then the
unit's delivery pointer for (deliverable, period) moves to that version with a conditional update
that only goes forward. Redeliveries rewrite the same items; an older event arriving late cannot
win; every version's rows stay readable by version id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.models import (
    Delivery,
    DeliveryRow,
    current_index_pk,
    delivery_sk,
    is_condition_failure,
    rows_pk,
    submission_pk,
)
from chalicelib.domain.timeutil import iso_utc
from chalicelib.domain.upload_keys import UploadTarget

SEQUENCER_WIDTH = 32


def order_key(received_at: datetime, sequencer: str | None) -> str:
    """Which of two uploads is newer: S3 event time, then S3's sequencer.

    Sequencers only order events of one key (compare after left-padding); different file names
    for the same deliverable are ordered by event time, the sequencer breaking ties.
    """
    return f"{iso_utc(received_at)}#{(sequencer or '').upper().rjust(SEQUENCER_WIDTH, '0')}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_rows(target: UploadTarget, version_id: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Write a version's rows (idempotent: the same keys on a redelivery), 25 per request."""
    pk = rows_pk(target.campaign.id, target.unit.code, target.deliverable.id, target.period, version_id)
    with DeliveryRow.batch_write() as batch:
        for number, row in enumerate(rows, 1):
            fields = {k: _plain(v) for k, v in row.items() if k not in ("row", "sheet")}
            batch.save(
                DeliveryRow(
                    pk,
                    f"R#{number:05d}",
                    campaign=target.campaign.id,
                    unit=target.unit.code,
                    deliverable=target.deliverable.id,
                    period=target.period,
                    version_id=version_id,
                    sheet=row.get("sheet"),
                    row=row.get("row"),
                    aspect=row.get("aspect"),
                    fields=fields,
                )
            )
    return len(rows)


def _update_if(item: Delivery, actions: list[Any], condition: Any) -> bool:
    try:
        item.update(actions=actions, condition=condition)
        return True
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise


def record_delivery(
    target: UploadTarget,
    submission_sk: str,
    received_at: datetime,
    sequencer: str | None,
    version_id: str,
    status: str,
    row_count: int | None,
) -> bool:
    """Move the unit's pointers for this upload; True when it became the current accepted version."""
    order = order_key(received_at, sequencer)
    item = Delivery(
        submission_pk(target.campaign.id, target.unit.code), delivery_sk(target.deliverable.id, target.period)
    )
    identity = [
        Delivery.gsi1pk.set(current_index_pk(target.campaign.id, target.deliverable.id, target.period)),
        Delivery.gsi1sk.set(f"U#{target.unit.code}"),
        Delivery.campaign.set(target.campaign.id),
        Delivery.unit.set(target.unit.code),
        Delivery.deliverable.set(target.deliverable.id),
        Delivery.period.set(target.period),
    ]
    _update_if(
        item,
        [
            *identity,
            Delivery.latest_order.set(order),
            Delivery.latest_status.set(status),
            Delivery.latest_submission_sk.set(submission_sk),
            Delivery.latest_received_at.set(received_at),
        ],
        Delivery.latest_order.does_not_exist() | (Delivery.latest_order <= order),
    )
    if status not in ("accepted", "received-for-review"):
        return False
    _update_if(
        item,
        [*identity, Delivery.first_accepted_at.set(received_at)],
        Delivery.first_accepted_at.does_not_exist() | (Delivery.first_accepted_at > received_at),
    )
    return _update_if(
        item,
        [
            *identity,
            Delivery.current_version.set(version_id),
            Delivery.current_order.set(order),
            Delivery.current_submission_sk.set(submission_sk),
            Delivery.current_row_count.set(row_count or 0),
            Delivery.current_received_at.set(received_at),
        ],
        Delivery.current_order.does_not_exist() | (Delivery.current_order <= order),
    )


def delivery(campaign_id: str, unit_code: str, deliverable_id: str, period: str) -> Delivery | None:
    try:
        return Delivery.get(submission_pk(campaign_id, unit_code), delivery_sk(deliverable_id, period))
    except Delivery.DoesNotExist:
        return None


def unit_deliveries(campaign_id: str, unit_code: str, period: str | None = None) -> list[Delivery]:
    """A unit's state for every deliverable (optionally of one period), in one Query."""
    items = Delivery.query(submission_pk(campaign_id, unit_code), Delivery.sk.startswith("CUR#"))
    return [d for d in items if period is None or d.period == period]


def deliveries_for(campaign_id: str, deliverable_id: str, period: str) -> list[Delivery]:
    """Every unit's state for one deliverable and period, in one Query."""
    return list(Delivery.by_deadline.query(current_index_pk(campaign_id, deliverable_id, period)))


def version_rows(
    campaign_id: str, unit_code: str, deliverable_id: str, period: str, version_id: str
) -> list[DeliveryRow]:
    return list(DeliveryRow.query(rows_pk(campaign_id, unit_code, deliverable_id, period, version_id)))


def current_rows(campaign_id: str, unit_code: str, deliverable_id: str, period: str) -> list[DeliveryRow]:
    """The rows of the current accepted version; never a mix of two versions."""
    state = delivery(campaign_id, unit_code, deliverable_id, period)
    if state is None or state.current_version is None:
        return []
    return version_rows(campaign_id, unit_code, deliverable_id, period, state.current_version)


def rows_as_dicts(rows: Iterable[DeliveryRow]) -> list[dict[str, Any]]:
    return [{"row": r.row, "sheet": r.sheet, **r.fields.as_dict()} for r in rows]
