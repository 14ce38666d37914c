"""The local stack for the benchmark: free ports, the environment set before chalicelib is imported
(the models bind to the table when first imported, as in tests/conftest.py), and a DynamoDB counter."""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from infra.local.settings import PROJECT_DIR, LocalSettings

# Operations that report ConsumedCapacity when asked (ReturnConsumedCapacity=TOTAL).
CAPACITY_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchWriteItem", "BatchGetItem"}
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_settings() -> LocalSettings:
    return LocalSettings(
        aws_port=_free_port(),
        api_port=_free_port(),
        smtp_port=_free_port(),
        outbox_dir=PROJECT_DIR / "test-artifacts" / f"bench-outbox-{os.getpid()}",
        retry_delay_seconds=1,
        verbose=False,
    )


def prepare_environment(settings: LocalSettings) -> None:
    """Must run before anything imports chalicelib.adapters.models."""
    os.environ.update(settings.process_environment(), POWERTOOLS_LOG_LEVEL="WARNING")


@dataclass
class DynamoCount:
    """DynamoDB operations seen, by name, and the capacity units the stack reported for them."""

    operations: Counter[str] = field(default_factory=Counter)
    capacity: float = 0.0
    capacity_reported: int = 0

    @property
    def total(self) -> int:
        return sum(self.operations.values())

    def summary(self) -> str:
        ops = ", ".join(f"{name} {n}" for name, n in sorted(self.operations.items()))
        cap = f"; {self.capacity:g} CU" if self.capacity_reported else "; capacity not reported"
        return f"{self.total} ({ops}){cap}"


@contextmanager
def dynamodb_calls(threads: tuple[str, ...] | None = None, exclude: tuple[str, ...] = ()) -> Iterator[DynamoCount]:
    """Count every DynamoDB call (optionally only from the named threads), asking for consumed capacity.

    A hook on botocore's one call path (``BaseClient._make_api_call``, as tests/integration/test_office_api.py does):
    PynamoDB makes its own botocore sessions per thread, so a per-session event handler would miss them.
    """
    import botocore.client

    count = DynamoCount()
    original = botocore.client.BaseClient._make_api_call
    lock = threading.Lock()

    def record(self: Any, operation: str, params: Any) -> Any:
        name = threading.current_thread().name
        if (
            self.meta.service_model.service_name != "dynamodb"
            or (threads is not None and name not in threads)
            or name in exclude
        ):
            return original(self, operation, params)
        if operation in CAPACITY_OPERATIONS and "ReturnConsumedCapacity" not in params:
            params = {**params, "ReturnConsumedCapacity": "TOTAL"}
        response = original(self, operation, params)
        consumed = response.get("ConsumedCapacity")
        units = 0.0
        for item in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            units += float(item.get("CapacityUnits", 0))
        with lock:
            count.operations[operation] += 1
            if consumed:
                count.capacity += units
                count.capacity_reported += 1
        return response

    botocore.client.BaseClient._make_api_call = record  # type: ignore[method-assign]
    try:
        yield count
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


class MetricLinesElsewhere:
    """stdout for the bench: whole lines that are CloudWatch EMF documents (Powertools metrics print them to
    stdout, as Lambda wants) go to a log file; every other line goes to the terminal, so the report stays
    readable. Lines are assembled per thread (``print`` writes the text and the newline separately)."""

    def __init__(self, terminal: Any, log_path: Any) -> None:
        self._terminal = terminal
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the bench's whole run)
        self._pending: dict[int, str] = {}
        self._lock = threading.Lock()
        self.metric_lines = 0

    def write(self, text: str) -> int:
        ident = threading.get_ident()
        with self._lock:
            buffered = self._pending.pop(ident, "") + text
            *lines, rest = buffered.split("\n")
            if rest:
                self._pending[ident] = rest
            for line in lines:
                if line.startswith('{"_aws"'):
                    self._log.write(line + "\n")
                    self.metric_lines += 1
                else:
                    self._terminal.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._terminal.flush()
            self._log.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return str(getattr(self._terminal, "encoding", "utf-8"))
