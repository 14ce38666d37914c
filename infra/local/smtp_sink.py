"""A local SMTP server that stores every message it receives as a ``.eml`` file."""

from __future__ import annotations

import itertools
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class OutboxHandler:
    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        # Fault injection: answer ``_refusal`` to the next ``_refuse_left`` recipients containing ``_refuse_match``.
        self._refuse_left = 0
        self._refusal = "451 4.3.0 Try again later"
        self._refuse_match = ""
        self.refused = 0

    def refuse_next(self, count: int, reply: str = "451 4.3.0 Try again later", recipient_contains: str = "") -> None:
        """Refuse the next ``count`` matching recipients with ``reply`` (451/421: deferred; 550: permanent)."""
        with self._lock:
            self._refuse_left, self._refusal, self._refuse_match = count, reply, recipient_contains

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        with self._lock:
            if self._refuse_left > 0 and self._refuse_match in address:
                self._refuse_left -= 1
                self.refused += 1
                return self._refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook name)
        with self._lock:
            number = next(self._counter)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.outbox / f"{stamp}-{number:05d}.eml"
        temporary = path.with_suffix(".part")
        # Written aside, then renamed: a reader never sees half a message.
        temporary.write_bytes(envelope.original_content or envelope.content)
        os.replace(temporary, path)
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, host: str, port: int, outbox: Path) -> None:
        outbox.mkdir(parents=True, exist_ok=True)
        self.outbox = outbox
        self.handler = OutboxHandler(outbox)
        self._controller = Controller(self.handler, hostname=host, port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
