"""Runtime configuration: ONE ``Settings``, read once from the environment (set per stage in
.chalice/config.json; the local stack sets the same names, see infra/local/settings.py).

Nothing else reads ``os.environ``: the domain takes these values as arguments, the adapters are
built from them (the DynamoDB store binds its table when it is made, not at import).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.domain.links import LinkSettings

DEFAULT_UPLOAD_QUEUE_NAME = "campaign-reporting-uploads"
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_LINK_GRACE_DAYS = 7
DEFAULT_EXPORT_QUEUE_NAME = "campaign-reporting-exports"
# Issue 17: a ledger export estimated above this many rows is built by the export worker, not in the request.
DEFAULT_EXPORT_SYNC_MAX_ROWS = 20_000


@dataclass(frozen=True)
class Settings:
    table_name: str
    bucket_name: str
    upload_queue_name: str
    region: str
    # Set only against the local stack; in AWS the SDK's default endpoints apply.
    aws_endpoint_url: str | None
    dynamodb_endpoint_url: str | None
    mail_transport: str  # "smtp" or "ses"
    mail_from: str
    smtp_host: str
    smtp_port: int
    smtp_security: str  # "none", "starttls" or "ssl"
    smtp_username: str | None
    smtp_password: str | None
    max_upload_bytes: int
    # County upload links (docs/upload-links.md): the first key signs, all verify.
    link_signing_keys: tuple[str, ...] = ()
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    public_base_url_set: bool = False  # PUBLIC_BASE_URL given (in AWS it must be: links name the API's address)
    upload_link_grace_days: int = DEFAULT_LINK_GRACE_DAYS
    # "name:sha256hex, …" of the office's bearer tokens (chalicelib.domain.auth.parse_hashes).
    office_token_sha256: str = ""
    # The office console (docs/console.md): its own session key (else derived from the link key), its campaign.
    console_session_key: str = ""
    console_campaign: str = ""
    # In AWS: the Secrets Manager secret holding the relay's username and password, read at run time
    # (chalicelib.adapters.secrets); then SMTP_USERNAME / SMTP_PASSWORD are not set.
    smtp_secret_id: str | None = None
    # In AWS: the secret holding the county links' signing key(s), read at run time; LINK_SIGNING_KEY unset.
    link_signing_key_secret_id: str | None = None
    # Issue 17 (asynchronous exports): the worker's queue (its name binds the Chalice handler; the API sends
    # to its URL, set per stage), and the estimated row count above which an export goes to that worker.
    export_queue_name: str = DEFAULT_EXPORT_QUEUE_NAME
    export_queue_url: str = ""
    export_sync_max_rows: int = DEFAULT_EXPORT_SYNC_MAX_ROWS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        endpoint = env.get("AWS_ENDPOINT_URL") or None
        return cls(
            table_name=env.get("TABLE_NAME", "campaign-reporting"),
            bucket_name=env.get("BUCKET_NAME", ""),
            upload_queue_name=env.get("UPLOAD_QUEUE_NAME", DEFAULT_UPLOAD_QUEUE_NAME),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "cn-north-1",
            aws_endpoint_url=endpoint,
            dynamodb_endpoint_url=env.get("AWS_ENDPOINT_URL_DYNAMODB") or endpoint,
            mail_transport=env.get("MAIL_TRANSPORT", "smtp"),
            mail_from=env.get("MAIL_FROM", "专项整治工作办公室 <noreply@example.cn>"),
            smtp_host=env.get("SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get("SMTP_PORT", "1025")),
            smtp_security=env.get("SMTP_SECURITY", "none"),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))),
            link_signing_keys=tuple(k.strip() for k in env.get("LINK_SIGNING_KEY", "").split(",") if k.strip()),
            public_base_url=(env.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL).rstrip("/"),
            public_base_url_set=bool(env.get("PUBLIC_BASE_URL")),
            upload_link_grace_days=int(env.get("UPLOAD_LINK_GRACE_DAYS") or DEFAULT_LINK_GRACE_DAYS),
            office_token_sha256=env.get("OFFICE_TOKEN_SHA256", ""),
            console_session_key=(env.get("CONSOLE_SESSION_KEY") or "").strip(),
            console_campaign=env.get("CONSOLE_CAMPAIGN", ""),
            smtp_secret_id=env.get("SMTP_SECRET_ID") or None,
            link_signing_key_secret_id=env.get("LINK_SIGNING_KEY_SECRET_ID") or None,
            export_queue_name=env.get("EXPORT_QUEUE_NAME") or DEFAULT_EXPORT_QUEUE_NAME,
            export_queue_url=env.get("EXPORT_QUEUE_URL", ""),
            export_sync_max_rows=int(env.get("EXPORT_SYNC_MAX_ROWS") or DEFAULT_EXPORT_SYNC_MAX_ROWS),
        )

    def links(self) -> LinkSettings:
        """The upload links' settings as the domain takes them."""
        from chalicelib.domain.links import LinkSettings

        return LinkSettings(self.link_signing_keys, self.public_base_url, self.upload_link_grace_days)


@cache
def settings() -> Settings:
    """The process's settings, read on first use (a Lambda's environment does not change)."""
    return Settings.from_env()
