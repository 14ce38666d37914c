"""Provisional (w14b): replaced by w15b's service on merge.

After a delivery pointer moves (an office decision), the unit's problems roll back / forward to what is now
current. This stub keeps the call site and its signature; it does nothing.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.registry import Campaign
from chalicelib.domain.store import CampaignStore


def refresh_problems(
    store: CampaignStore,
    campaign: Campaign,
    unit_code: str,
    deliverable_id: str,
    period: str,
    *,
    now: datetime,
) -> None:
    """Provisional (w14b): replaced by w15b's service on merge. A no-op here."""
    return None
