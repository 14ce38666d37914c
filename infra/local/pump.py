"""Deliver a queue's messages to its Chalice handler as Lambda's SQS poller would (the local stack runs one pump
per queue: uploads → ``handle_upload``, exports → ``build_export``, issue 17).

Batch size 1; on success the message is deleted; on an exception it becomes visible again
after a short delay and, past the queue's ``maxReceiveCount``, moto moves it to the DLQ.

Like Lambda, several invocations run at once (``workers``, env ``LOCAL_PUMP_WORKERS``, default 4): each
worker receives one message, handles it and deletes it; a received message is invisible to the other
workers for the queue's visibility timeout, so each message is handled by one worker at a time and
exactly-once rests where it does in AWS, on intake's idempotence.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("local.pump")


@dataclass
class LambdaContext:
    """What a Lambda handler may read from its context object."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def lambda_sqs_event(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping passes for one message."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody")
                or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        ]
    }


class EventPump(threading.Thread):
    """Starts ``workers`` receive-handle-delete loops; ``stop`` ends them all, ``join`` waits for them."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        region: str,
        handler: Callable[[dict[str, Any], Any], Any],
        function_name: str = "campaign-reporting-local-handle_upload",
        retry_delay_seconds: int = 2,
        workers: int = 4,
    ) -> None:
        super().__init__(name=f"event-pump-{function_name.rsplit('-', 1)[-1]}", daemon=True)
        self._workers = max(1, workers)
        self._lock = threading.Lock()
        self._sqs, self._queue_url, self._queue_arn, self._region = sqs, queue_url, queue_arn, region
        self._handler, self._function_name = handler, function_name
        self._retry_delay = retry_delay_seconds
        self._stop_event = threading.Event()
        self.delivered = 0
        self.failed = 0
        # Messages being handled right now (received, not yet deleted or given back).
        self.busy = 0
        # Bodies handled so far, so tests and the demo can redeliver a real event.
        self.bodies: list[str] = []

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._work, name=f"event-pump-{n}", daemon=True) for n in range(self._workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _work(self) -> None:
        while not self._stop_event.is_set():
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except Exception:  # the server is going away, or a blip: try again
                if self._stop_event.wait(0.5):
                    return
                continue
            for message in response.get("Messages", []):
                with self._lock:
                    self.busy += 1
                try:
                    self._deliver(message)
                finally:
                    with self._lock:
                        self.busy -= 1

    def _deliver(self, message: dict[str, Any]) -> None:
        event = lambda_sqs_event(message, self._queue_arn, self._region)
        context = LambdaContext(function_name=self._function_name)
        try:
            self._handler(event, context)
        except Exception:
            with self._lock:
                self.failed += 1
            log.error("handler failed for message %s:\n%s", message["MessageId"], traceback.format_exc())
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self._retry_delay
            )
            return
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        with self._lock:
            self.delivered += 1
            self.bodies.append(message["Body"])
