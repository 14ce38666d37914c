"""The sweep's SMTP connection reuse: one connection per session, the same error classes as before, and a
connection the server dropped between two notices replaced without failing the notice."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from chalicelib.adapters.mail import OutgoingMail, PermanentMailError, SmtpSender, TransientMailError, mail_session
from chalicelib.services.sweep import MAX_WORKERS, sweep_workers


class Recorder:
    """Counts connections (one EHLO each) and messages; refuses recipients by their local part."""

    def __init__(self) -> None:
        self.connections = 0
        self.messages: list[str] = []

    async def handle_EHLO(  # noqa: N802 (aiosmtpd hook name)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address.startswith("gone@"):
            return "550 5.1.1 No such user"
        if address.startswith("busy@"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 Message accepted"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[Recorder, SmtpSender]]:
    recorder = Recorder()
    port = _port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, SmtpSender("127.0.0.1", port, "办公室 <office@example.cn>", timeout=5)
    finally:
        controller.stop()


def _mail(n: int, to: str = "unit@example.cn") -> OutgoingMail:
    return OutgoingMail(to=(to,), subject=f"催报 {n}", text="请按时报送。", message_id=f"<{n}@bench.local>")


def test_a_session_sends_every_notice_over_one_connection(server: tuple[Recorder, SmtpSender]) -> None:
    recorder, sender = server
    with mail_session(sender):
        for n in range(5):
            sender.send(_mail(n))
    assert (recorder.connections, len(recorder.messages), sender.connections) == (1, 5, 1)


def test_without_a_session_each_message_has_its_own_connection(server: tuple[Recorder, SmtpSender]) -> None:
    recorder, sender = server
    for n in range(3):
        sender.send(_mail(n))
    assert (recorder.connections, len(recorder.messages)) == (3, 3)


def test_errors_keep_their_class_and_a_refused_recipient_keeps_the_connection(
    server: tuple[Recorder, SmtpSender],
) -> None:
    recorder, sender = server
    with mail_session(sender):
        sender.send(_mail(1))
        with pytest.raises(PermanentMailError):
            sender.send(_mail(2, to="gone@example.cn"))
        with pytest.raises(TransientMailError):
            sender.send(_mail(3, to="busy@example.cn"))
        sender.send(_mail(4))
    assert len(recorder.messages) == 2 and recorder.connections == 1


def test_a_connection_dropped_between_notices_is_replaced(server: tuple[Recorder, SmtpSender]) -> None:
    recorder, sender = server
    with mail_session(sender):
        sender.send(_mail(1))
        sender._local.client.sock.shutdown(socket.SHUT_RDWR)  # the relay closed the idle connection
        sender.send(_mail(2))  # reconnects once, does not fail the notice
    assert len(recorder.messages) == 2 and sender.connections == 2


def test_an_unreachable_relay_is_transient_in_a_session_too() -> None:
    sender = SmtpSender("127.0.0.1", _port(), "office@example.cn", timeout=2)
    with mail_session(sender), pytest.raises(TransientMailError):
        sender.send(_mail(1))


def test_senders_without_connections_need_no_session() -> None:
    class Plain:
        def send(self, mail: OutgoingMail) -> None: ...

    with mail_session(Plain()):
        pass


def test_big_sweeps_use_parallel_senders_and_small_ones_do_not() -> None:
    assert sweep_workers(0) == sweep_workers(56) == sweep_workers(100) == 1
    assert sweep_workers(467) == 5
    assert sweep_workers(12_000) == MAX_WORKERS


def test_credentials_from_a_secret_are_asked_on_every_connection_and_a_failed_read_is_transient(
    server: tuple[Recorder, SmtpSender],
) -> None:
    """Issue 18: a rotated password works from the next connection on (the secret's cache decides how soon);
    Secrets Manager unreachable is worth retrying, like the relay being down."""
    recorder, plain = server
    asked: list[int] = []

    def credentials() -> tuple[str | None, str | None]:
        asked.append(1)
        if len(asked) == 3:
            raise RuntimeError("secretsmanager: ThrottlingException")
        return None, None  # the test server has no AUTH: no login, but the secret was read

    sender = SmtpSender("127.0.0.1", plain._port, "办公室 <office@example.cn>", timeout=5, credentials=credentials)
    sender.send(_mail(1))
    sender.send(_mail(2))
    with pytest.raises(TransientMailError, match="credentials could not be read"):
        sender.send(_mail(3))
    assert len(asked) == 3 and len(recorder.messages) == 2
