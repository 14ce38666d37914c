"""What the office console shows beyond the office API's answers: refused keys, one unit's history.

Hooks for work landing later (see docs/console.md): ``refused_uploads`` prefers
``queries.list_refused`` when it exists; ``problem_ledger_actions`` is where 销号 / reopen and
accept / return will plug in.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.registry import Registry
from chalicelib.domain.store import CampaignStore
from chalicelib.domain.timeutil import iso_utc
from chalicelib.services import queries

UNIT_HISTORY_LIMIT = 100


def refused_uploads(registry: Registry, store: CampaignStore, campaign_id: str) -> list[dict[str, Any]]:
    """Keys that named nothing we know, newest first, with the reason the intake gave."""
    shared = getattr(queries, "list_refused", None)
    if callable(shared):
        answer = shared(registry, store, campaign_id)
        return list(answer.get("items", []) if isinstance(answer, dict) else answer)
    return console_refused_keys(store)


def console_refused_keys(store: CampaignStore) -> list[dict[str, Any]]:
    """Until ``queries.list_refused`` lands: the refused keys as plain dicts."""
    return [
        {
            "object_key": item.object_key,
            "version_id": item.version_id,
            "received_at": iso_utc(item.received_at),
            "code": item.code,
            "message": item.message,
        }
        for item in store.refused_uploads()
    ]


def unit_submissions(registry: Registry, store: CampaignStore, campaign_id: str, unit_ref: str) -> dict[str, Any]:
    """Every version a unit uploaded, newest first (one page of the office API's listing)."""
    return queries.list_submissions(registry, store, campaign_id, unit_ref=unit_ref, limit=str(UNIT_HISTORY_LIMIT))


def problem_ledger_actions() -> tuple[str, ...]:
    """The ledger's row actions. Empty until problem tracking (issue 15: 销号 / reopen) and office
    decisions (issue 14: accept / return) land; the console renders a button per action returned."""
    return ()
