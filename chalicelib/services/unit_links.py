"""A unit's own signed upload link for what an email is about, valid until the deadline's chasing ends."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from chalicelib.domain.deadlines import campaign_deadlines
from chalicelib.domain.links import LinkConfigError, LinkSettings, upload_link
from chalicelib.domain.registry import Campaign, Unit


def current_link_settings() -> LinkSettings:
    """The county links' settings as configured, the signing key read from Secrets Manager in AWS
    (``adapters.secrets``: cached five minutes, so a rotation needs no redeploy); a missing key or base URL
    is logged as an error."""
    from chalicelib.adapters.secrets import link_settings
    from chalicelib.config import settings

    return link_settings(settings())


def unit_upload_link(
    campaign: Campaign,
    unit: Unit,
    deliverable_id: str,
    period: str,
    now: datetime,
    links: LinkSettings | None = None,
) -> str | None:
    """The link, or None where links are not configured (no signing key) or the period has no deadline.

    It stays valid to the end of the deadline's chase (催报截至), and at least the grace period from now,
    so a unit told to upload again never gets a dead link.
    """
    settings = current_link_settings() if links is None else links
    try:
        key = settings.keys()[0]
    except LinkConfigError:
        return None
    deadline = next(
        (d for d in campaign_deadlines(campaign) if d.period == period and deliverable_id in d.deliverables), None
    )
    if deadline is None:
        return None
    last_day = deadline.chase_until or deadline.due_date
    chase_end = datetime.combine(last_day, time(23, 59, 59), tzinfo=campaign.zone)
    expires = max(chase_end, now + timedelta(days=settings.grace_days)).astimezone(UTC)
    return upload_link(
        campaign.id, unit.code, deliverable_id, period, base_url=settings.base_url, signing_key=key, expires_at=expires
    )
