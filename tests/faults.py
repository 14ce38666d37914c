"""Fault injection against the in-process local stack: crashes at chosen steps, throttled AWS answers,
hand-made S3 events for objects no notification announces. Every patch is undone by its context manager.

The handler runs in this process (the event pump's thread, or a test's own threads), so monkeypatching a
name inside ``chalicelib.services.intake`` or botocore's HTTP send reaches it. Patches match only the test's own
unit or key, because other modules' uploads may still be in the pump while a fault test runs.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

CAMPAIGN = "xinzhou-2023"


class InjectedCrashError(RuntimeError):
    """What a killed Lambda looks like to SQS: the invocation failed, the message comes back."""


class CrashOnce:
    """Wrap ``real``: the first call for which ``when(*args)`` holds crashes before or after the real call.

    ``snapshot`` runs in the handler's thread at the moment of the crash, so a test can see what readers
    saw between the crash and the redelivery.
    """

    def __init__(
        self,
        real: Callable[..., Any],
        when: Callable[..., bool],
        after: bool,
        snapshot: Callable[[], Any] | None = None,
    ) -> None:
        self.real, self.when, self.after, self.snapshot_fn = real, when, after, snapshot
        self.fired = threading.Event()
        self.calls = 0
        self.snapshot: Any = None
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            matching = self.when(*args, **kwargs)
            crash = matching and not self.fired.is_set()
            if matching:
                self.calls += 1
            if crash:
                self.fired.set()
        if crash and not self.after:
            self._crash()
        result = self.real(*args, **kwargs)
        if crash:
            self._crash()
        return result

    def _crash(self) -> None:
        if self.snapshot_fn is not None:
            self.snapshot = self.snapshot_fn()
        raise InjectedCrashError("injected crash")


def for_unit(unit: str) -> Callable[..., bool]:
    """A ``when`` for intake's steps: a call about ``unit``. The store's methods take a record naming the unit
    (``.unit``), or the unit's code among their arguments; ``send_once`` takes the receipt's NoticeKey."""

    def about(arg: Any) -> bool:
        named = getattr(arg, "unit", None)
        named = getattr(named, "code", named)
        notice_key = getattr(arg, "key", "")
        return arg == unit or named == unit or (isinstance(notice_key, str) and notice_key.startswith(f"{unit}#"))

    def when(*args: Any, **__: Any) -> bool:
        return any(about(arg) for arg in args)

    return when


# --- throttled answers at the HTTP layer (below botocore's retry loop) --------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        body, self._body = self._body, b""
        return body


def _throttled(request: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    if _target(request).startswith(b"DynamoDB"):
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded.",
            }
        ).encode()
        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, _Raw(body))
    body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, _Raw(body))


def _target(request: Any) -> bytes:
    value = request.headers.get("X-Amz-Target", b"")
    return value if isinstance(value, bytes) else str(value).encode()


class Throttle:
    """Answer the next ``count`` HTTP requests matching ``match`` with throttling (DynamoDB 400, S3 503)."""

    def __init__(self, match: Callable[[Any], bool], count: int) -> None:
        self.match, self.left, self.injected = match, count, 0
        self._lock = threading.Lock()

    def take(self, request: Any) -> bool:
        with self._lock:
            if self.left > 0 and self.match(request):
                self.left -= 1
                self.injected += 1
                return True
        return False


@contextlib.contextmanager
def throttled(*throttles: Throttle) -> Iterator[list[float]]:
    """Install the throttles on botocore's HTTP send; yields the backoff delays botocore chose meanwhile
    (kept short here, so the test measures that backoff happens, not how long it is)."""
    import botocore.endpoint
    from botocore.retries import standard

    original_send = botocore.endpoint.Endpoint._send
    original_delay = standard.ExponentialBackoff.delay_amount
    delays: list[float] = []

    def send(self: Any, request: Any) -> Any:
        if any(t.take(request) for t in throttles):
            return _throttled(request)
        return original_send(self, request)

    def delay_amount(self: Any, context: Any) -> float:
        delays.append(original_delay(self, context))
        return 0.01

    botocore.endpoint.Endpoint._send = send  # type: ignore[method-assign]
    standard.ExponentialBackoff.delay_amount = delay_amount  # type: ignore[method-assign]
    try:
        yield delays
    finally:
        botocore.endpoint.Endpoint._send = original_send  # type: ignore[method-assign]
        standard.ExponentialBackoff.delay_amount = original_delay  # type: ignore[method-assign]


def dynamodb_put_for(unit: str) -> Callable[[Any], bool]:
    marker = f"C#{CAMPAIGN}#U#{unit}".encode()

    def match(request: Any) -> bool:
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        return _target(request).endswith(b".PutItem") and marker in body

    return match


def s3_get_of(key: str) -> Callable[[Any], bool]:
    encoded = quote_plus(key, safe="/").replace("+", "%20")

    def match(request: Any) -> bool:
        from urllib.parse import unquote

        return request.method == "GET" and (encoded in request.url or key in unquote(request.url))

    return match


# --- objects no notification announces, and their hand-made events -----------------------------------


def quiet_bucket(system: Any) -> str:
    """A versioned bucket without notifications: the test alone decides when (and how often, in which
    order) the handler hears of an object."""
    name = "fault-injection-quiet"
    s3 = system.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": system.settings.region})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def s3_event(bucket: str, key: str, version: str, size: int, sequencer: str, when: datetime | None = None) -> str:
    """The SQS body S3 sends for one ObjectCreated:Put (AWS's shape, as the local stack makes it)."""
    event_time = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "cn-north-1",
                    "eventTime": event_time,
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "bucket": {"name": bucket, "arn": f"arn:aws-cn:s3:::{bucket}"},
                        "object": {
                            "key": quote_plus(key, safe="/"),
                            "size": size,
                            "versionId": version,
                            "sequencer": sequencer,
                        },
                    },
                }
            ]
        }
    )


def invoke(system: Any, body: str, receive_count: int = 1) -> None:
    """One Lambda invocation of ``handle_upload`` for ``body``, as the SQS poller makes it."""
    from infra.local.pump import LambdaContext, lambda_sqs_event

    message = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": "local",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": str(receive_count)},
    }
    event = lambda_sqs_event(message, system.outputs.queue_arn, system.settings.region)
    system.app_module.handle_upload(event, LambdaContext("handle_upload"))


def invoke_until_done(system: Any, body: str, attempts: int = 5) -> list[str]:
    """Invoke like SQS does: again after a failure, up to ``attempts`` receives; the failures, by type."""
    failures: list[str] = []
    for attempt in range(1, attempts + 1):
        try:
            invoke(system, body, attempt)
            return failures
        except Exception as exc:
            failures.append(type(exc).__name__)
    raise AssertionError(f"still failing after {attempts} receives: {failures}")
