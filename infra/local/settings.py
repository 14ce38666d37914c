"""Settings of the local stack; every port and path can be overridden from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_DIR / "infra" / "template.json"


@dataclass(frozen=True)
class LocalSettings:
    host: str = "127.0.0.1"
    aws_port: int = 4566
    api_port: int = 8000
    smtp_port: int = 1025
    outbox_dir: Path = PROJECT_DIR / ".local" / "outbox"
    # Where ``make run`` keeps the stack's state between runs (bucket versions, table items, queues);
    # None: nothing is kept (tests). ``make clean-data`` removes it.
    state_dir: Path | None = None
    save_interval_seconds: int = 60
    region: str = "cn-north-1"
    stack_name: str = "campaign-reporting-local"
    template_parameters: dict[str, str] = field(
        default_factory=lambda: {"BucketName": "campaign-uploads-local", "TableName": "campaign-reporting-local"}
    )
    # Lambda would wait out the visibility timeout before a retry; locally we retry sooner.
    retry_delay_seconds: int = 2
    # Concurrent invocations of the upload function, as Lambda runs several for a burst.
    pump_workers: int = 4
    verbose: bool = True

    @classmethod
    def from_env(cls) -> LocalSettings:
        env = os.environ
        return cls(
            host=env.get("LOCAL_HOST", cls.host),
            aws_port=int(env.get("LOCAL_AWS_PORT", cls.aws_port)),
            api_port=int(env.get("LOCAL_API_PORT", cls.api_port)),
            smtp_port=int(env.get("LOCAL_SMTP_PORT", cls.smtp_port)),
            outbox_dir=Path(env.get("LOCAL_OUTBOX_DIR", str(cls.outbox_dir))),
            region=env.get("LOCAL_REGION", cls.region),
            retry_delay_seconds=int(env.get("LOCAL_RETRY_DELAY_SECONDS", cls.retry_delay_seconds)),
            state_dir=Path(env.get("LOCAL_STATE_DIR", str(PROJECT_DIR / ".local" / "state"))),
            save_interval_seconds=int(env.get("LOCAL_SAVE_INTERVAL_SECONDS", cls.save_interval_seconds)),
            pump_workers=int(env.get("LOCAL_PUMP_WORKERS", cls.pump_workers)),
        )

    def process_environment(self) -> dict[str, str]:
        """What a process running the app in-process against this stack needs in its environment,
        set before anything imports ``chalicelib.adapters.models`` (the models bind to the table then)."""
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "TABLE_NAME": self.template_parameters["TableName"],
            "BUCKET_NAME": self.template_parameters["BucketName"],
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.smtp_port),
        }

    def client_environment(self) -> dict[str, str]:
        """What a client of the running stack (the operators' CLI with ``--local``, the demo) needs:
        the same endpoint, ports and names ``make run`` uses, and the API's address for links in emails."""
        return {**self.process_environment(), "PUBLIC_BASE_URL": self.api_url}

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"
