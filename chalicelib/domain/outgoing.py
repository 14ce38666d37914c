"""An email to send, and the natural key that makes each notice go out once.

Pure values: the transports (SMTP, SES) live in ``chalicelib.adapters.mail``, the exactly-once log
behind ``chalicelib.domain.store.CampaignStore``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutgoingMail:
    to: tuple[str, ...]
    subject: str
    text: str
    message_id: str
    html: str | None = None
    cc: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NoticeKey:
    """A notice's natural key: one email per key, whatever retries happen around it."""

    campaign_id: str
    scope: str  # e.g. "receipt", or a deadline id
    key: str  # unique within the scope, e.g. "140981#<version>"

    @property
    def pk(self) -> str:
        return f"C#{self.campaign_id}#N#{self.scope}"

    @property
    def header(self) -> str:
        """The ``X-Notice-Key`` a sent notice carries."""
        return f"{self.pk}|{self.key}"

    @property
    def message_id(self) -> str:
        digest = hashlib.sha256(f"{self.pk}|{self.key}".encode()).hexdigest()[:32]
        return f"<{digest}@campaign-reporting.local>"
