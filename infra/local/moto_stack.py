"""moto's server, in-process, made to emit S3 events the way AWS does."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any
from urllib.parse import quote_plus

from moto.server import ThreadedMotoServer

_sequence = itertools.count()
_sequence_lock = threading.Lock()
_patched = False
# x-amz-meta-… header a local upload may carry to set its notification's eventTime (see demo.py).
LOCAL_EVENT_TIME_METADATA = "x-amz-meta-local-event-time"


def _next_sequencer() -> str:
    # S3's sequencer is a hex string that only ever grows for a key; a clock plus a counter is.
    with _sequence_lock:
        return f"{time.time_ns():016X}{next(_sequence) % 0x10000:04X}"


def patch_s3_event_fidelity() -> None:
    """moto 5.2.5 leaves ``versionId`` and ``sequencer`` out of S3 notifications (AWS sends both)
    and encodes the slashes of keys (AWS does not).

    The handler relies on them (exact version read, ordering of concurrent uploads), so the local
    stack adds them where moto builds the event, keeping everything else as moto makes it.
    """
    global _patched
    if _patched:
        return
    from moto.s3 import notifications

    original = notifications._get_s3_event

    def _get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        for record in event["Records"]:
            obj = record["s3"]["object"]
            # AWS form-encodes keys but keeps their slashes; moto encodes those too.
            obj["key"] = quote_plus(key.name, safe="/")
            version = getattr(key, "version_id", None)
            if version and version != "null":
                obj["versionId"] = version
            obj["sequencer"] = _next_sequencer()
            # The local stack's clock for this object: `make demo` replays a month of 2023 on the
            # campaign's own dates. Only this emulator reads it; in AWS the event time is S3's own.
            stamped = getattr(_put_request, "event_time", None)
            if stamped:
                record["eventTime"] = stamped
            record.setdefault("userIdentity", {"principalId": "AWS:LOCAL"})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault("responseElements", {"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"})
        return event

    notifications._get_s3_event = _get_s3_event
    _patch_put_event_time()
    _patched = True


_put_request = threading.local()


def _patch_put_event_time() -> None:
    """moto sends the event inside ``put_object`` and sets the metadata after it, so the header is read
    from the request (on the server thread that builds the event) before the object is stored."""
    from moto.s3.responses import S3Response

    original = S3Response.put_object

    def put_object(self: Any) -> Any:
        _put_request.event_time = self.headers.get(LOCAL_EVENT_TIME_METADATA)
        try:
            return original(self)
        finally:
            _put_request.event_time = None

    S3Response.put_object = put_object  # type: ignore[method-assign]


_dynamodb_patched = False


def patch_dynamodb_atomicity() -> None:
    """DynamoDB applies each request, conditions included, atomically; moto's threaded server checks a
    condition and writes the item without a lock, so two racing conditional writes can both "succeed".
    The exactly-once claims (notice log, submissions, pointers) rely on that atomicity, so the local
    stack serialises DynamoDB requests, as DynamoDB effectively does per item."""
    global _dynamodb_patched
    if _dynamodb_patched:
        return
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    _dynamodb_patched = True


class MotoStack:
    def __init__(self, host: str, port: int) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint = f"http://{host}:{port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("moto").setLevel(logging.ERROR)  # "no CloudFormation support for …": applied by provision
        patch_s3_event_fidelity()
        patch_dynamodb_atomicity()
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
