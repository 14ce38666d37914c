"""What the office console shows beyond the office API's answers: refused keys, one unit's history, the
ledger's row actions (docs/console.md)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.registry import Registry
from chalicelib.domain.store import CampaignStore
from chalicelib.services import queries

UNIT_HISTORY_LIMIT = 100


def refused_uploads(registry: Registry, store: CampaignStore, campaign_id: str) -> list[dict[str, Any]]:
    """Keys that named nothing we know, newest first (one page of ``GET …/refused``), with the intake's
    reason and the time in the campaign's zone."""
    answer = queries.list_refused(registry, store, campaign_id)
    return [
        {**item, "received_at": item["received_at"]["local"], "message": item["reason"]} for item in answer["items"]
    ]


def unit_submissions(registry: Registry, store: CampaignStore, campaign_id: str, unit_ref: str) -> dict[str, Any]:
    """Every version a unit uploaded, newest first (one page of the office API's listing)."""
    return queries.list_submissions(registry, store, campaign_id, unit_ref=unit_ref, limit=str(UNIT_HISTORY_LIMIT))


def problem_ledger_actions() -> tuple[str, ...]:
    """The ledger's row actions, the one list both ledger views render: 销号 and 问题反弹 (issue 15). Office
    decisions (accept / return) act on an upload, not a row: their forms are on the unit page."""
    return ("close", "reopen")
