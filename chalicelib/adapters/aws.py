"""AWS clients the app creates, with one explicit retry policy, all from one session per process.

Throttling and 5xx answers from S3 and DynamoDB are normal at scale; botocore's ``standard`` mode retries
them with exponential backoff and jitter. Past ``MAX_ATTEMPTS`` the call fails, the handler raises, SQS
redelivers the message (5 receives, then the DLQ; ``cli replay-dlq`` sends it back). PynamoDB builds its
own botocore client from ``Meta.max_retry_attempts`` / ``base_backoff_ms`` (``chalicelib.adapters.models``), set
to the same numbers.

One session: every botocore session loads and parses its own endpoints, partitions, service list and
service models (0.1-0.2 s each in a fresh process, measured from the deployment zip). Left alone,
PynamoDB opens a session per model class (four on an upload: submission, pointer, rows, notice) and
boto3 one more for S3; sharing one takes about 0.5 s off an upload's first invocation. Clients stay
separate (each model keeps its own client and connection pool, as PynamoDB configures it); only the
session, and so its loaded data, is shared.
"""

from __future__ import annotations

import threading
from typing import Any

MAX_ATTEMPTS = 5  # the first call plus four retries: about 0.1 s + 0.2 s + 0.4 s + 0.8 s of backoff at most
BASE_BACKOFF_MS = 100
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20  # well inside the upload handler's 60 s Lambda timeout

# A botocore session is not safe for creating clients from several threads at once (the sweep's workers
# may each be the first to touch a model); the clients it makes are. Every creation holds this lock.
_LOCK = threading.Lock()
_SESSIONS: list[Any] = []


def _session() -> Any:
    """The process's botocore session, made once; call with ``_LOCK`` held. boto3 is not imported: its
    clients are botocore's, and ``import boto3`` (s3transfer, multiprocessing managers) would add a third
    to every cold start for nothing the functions use (upload_file and resources are not)."""
    if not _SESSIONS:
        import botocore.session

        _SESSIONS.append(botocore.session.get_session())
    return _SESSIONS[0]


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
    """A client with the retry policy; the endpoint comes from ``AWS_ENDPOINT_URL`` locally."""
    config = client_config(**overrides)
    with _LOCK:
        return _session().create_client(service, region_name=region, config=config)


def default_client(service: str, region: str, config: Any = None) -> Any:
    """A client with the SDK's own defaults (retries included), from the same session."""
    with _LOCK:
        return _session().create_client(service, region_name=region, config=config)


def build_pynamodb_client(connection: Any) -> None:
    """Have a PynamoDB connection (``pynamodb.connection.Connection``) build its client from the shared
    session, once. PynamoDB still makes the client itself, with its own settings (``Model.Meta``): only the
    session it reads from ``connection.session`` (its per-thread ``_local.session``) is ours.

    Private to PynamoDB (``_client``, ``_local``; pinned in requirements.txt, checked by
    tests/test_perf_imports.py): should either change, PynamoDB falls back to a session of its own, as
    it does for a connection with credentials of its own (PynamoDB would set them on the session).
    """
    if getattr(connection, "_client", True) is not None:
        return  # built already: what every call after the first finds, without taking the lock
    with _LOCK:
        built = getattr(connection, "_client", True) is not None
        if built or not hasattr(connection, "_local") or getattr(connection, "_aws_access_key_id", None):
            return
        connection._local.session = _session()
        connection.client  # noqa: B018 (the property builds and keeps the client)
