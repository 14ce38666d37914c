"""What the county portal shows a unit: its submissions for the link's deliverables and each one's current
version, read through the store (the page itself: ``chalicelib.http.portal_page``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.domain.store import CampaignStore

if TYPE_CHECKING:
    from chalicelib.domain.links import Grant


def process_store() -> CampaignStore:
    """The process's one store (the same one app.py's routes, intake and sweep use)."""
    from chalicelib.adapters.dynamo_store import default_store

    return default_store()


def unit_records(
    store: CampaignStore, grant: Grant, shown: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str | None]]:
    """The unit's submissions for the link's deliverables (newest first, ``shown`` of each) and each one's
    current version: per deliverable, one Query on the deadline index narrowed to this unit (never another
    unit's records) and one GetItem of its pointer."""
    from chalicelib.domain.decisions import decisions_by_ref
    from chalicelib.services.queries import submission_json

    campaign, unit = grant.campaign, grant.unit
    decided = decisions_by_ref(store.unit_decisions(campaign.id, unit.code))  # one Query: the office's rulings
    submissions: dict[str, list[dict[str, Any]]] = {}
    current: dict[str, str | None] = {}
    for deliverable in grant.deliverables:
        page = store.deadline_submissions(campaign.id, deliverable.id, grant.period, unit_code=unit.code, limit=shown)
        submissions[deliverable.id] = [
            submission_json(item, campaign, decided.get(item.ref, ())) for item in page.items
        ]
        pointer = store.delivery(campaign.id, unit.code, deliverable.id, grant.period)
        current[deliverable.id] = pointer.current_version if pointer else None
    return submissions, current
