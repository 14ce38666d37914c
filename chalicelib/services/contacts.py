"""The contacts notices go to, read through the store (the merge rule: ``chalicelib.domain.contacts``)."""

from __future__ import annotations

from chalicelib.domain.contacts import CONTACTS_DELIVERABLE, CONTACTS_PERIOD, merge_contacts
from chalicelib.domain.registry import Campaign, Unit
from chalicelib.domain.store import CampaignStore, rows_as_dicts


def current_contacts(store: CampaignStore, campaign: Campaign, unit: Unit) -> Unit:
    """The unit as notices should address it (one GetItem and one Query)."""
    rows = rows_as_dicts(store.current_rows(campaign.id, unit.code, CONTACTS_DELIVERABLE, CONTACTS_PERIOD))
    return merge_contacts(campaign, unit, rows)
