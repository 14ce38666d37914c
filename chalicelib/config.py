"""Runtime configuration, read from the environment (set per stage in .chalice/config.json)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

DEFAULT_UPLOAD_QUEUE_NAME = "campaign-reporting-uploads"


@dataclass(frozen=True)
class Settings:
    table_name: str
    bucket_name: str
    upload_queue_name: str
    region: str
    # Set only against the local stack; in AWS the SDK's default endpoints apply.
    aws_endpoint_url: str | None
    mail_transport: str  # "smtp" or "ses"
    mail_from: str
    smtp_host: str
    smtp_port: int
    smtp_security: str  # "none", "starttls" or "ssl"
    smtp_username: str | None
    smtp_password: str | None
    max_upload_bytes: int
    # In AWS: the Secrets Manager secret holding the relay's username and password, read at run time
    # (chalicelib.adapters.secrets); then SMTP_USERNAME / SMTP_PASSWORD are not set.
    smtp_secret_id: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            table_name=env.get("TABLE_NAME", "campaign-reporting"),
            bucket_name=env.get("BUCKET_NAME", ""),
            upload_queue_name=env.get("UPLOAD_QUEUE_NAME", DEFAULT_UPLOAD_QUEUE_NAME),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "cn-north-1",
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            mail_transport=env.get("MAIL_TRANSPORT", "smtp"),
            mail_from=env.get("MAIL_FROM", "专项整治工作办公室 <noreply@example.cn>"),
            smtp_host=env.get("SMTP_HOST", "127.0.0.1"),
            smtp_port=int(env.get("SMTP_PORT", "1025")),
            smtp_security=env.get("SMTP_SECURITY", "none"),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES", str(20 * 1024 * 1024))),
            smtp_secret_id=env.get("SMTP_SECRET_ID") or None,
        )


@cache
def current() -> Settings:
    return Settings.from_env()
