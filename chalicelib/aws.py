"""AWS clients the app creates, with one explicit retry policy.

Throttling and 5xx answers from S3 and DynamoDB are normal at scale; botocore's ``standard`` mode retries
them with exponential backoff and jitter. Past ``MAX_ATTEMPTS`` the call fails, the handler raises, SQS
redelivers the message (5 receives, then the DLQ; ``cli replay-dlq`` sends it back). PynamoDB builds its
own botocore client from ``Meta.max_retry_attempts`` / ``base_backoff_ms`` (``chalicelib.models``), set
to the same numbers.
"""

from __future__ import annotations

from typing import Any

MAX_ATTEMPTS = 5  # the first call plus four retries: about 0.1 s + 0.2 s + 0.4 s + 0.8 s of backoff at most
BASE_BACKOFF_MS = 100
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20  # well inside the upload handler's 60 s Lambda timeout


def client_config(**overrides: Any) -> Any:
    from botocore.config import Config

    settings: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "read_timeout": READ_TIMEOUT_SECONDS,
        **overrides,
    }
    return Config(**settings)


def client(service: str, region: str, **overrides: Any) -> Any:
    """A boto3 client with the retry policy; the endpoint comes from ``AWS_ENDPOINT_URL`` locally."""
    import boto3

    return boto3.client(service, region_name=region, config=client_config(**overrides))
