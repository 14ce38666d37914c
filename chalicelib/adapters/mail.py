"""Outgoing email: one message shape, two transports (SMTP relay or Amazon SES)."""

from __future__ import annotations

import smtplib
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import cache
from typing import Any, Protocol

from chalicelib.config import Settings
from chalicelib.domain.outgoing import OutgoingMail
from chalicelib.domain.text import header_safe


class MailError(Exception):
    pass


class TransientMailError(MailError):
    """Worth retrying later: throttling, 4xx replies, connection trouble."""


class PermanentMailError(MailError):
    """Will fail again: bad address, 5xx replies, rejected content."""


class MailSender(Protocol):
    def send(self, mail: OutgoingMail) -> None: ...


MAX_8BIT_LINE_BYTES = 900


def _transfer_encoding(text: str) -> str:
    longest = max((len(line.encode()) for line in text.splitlines()), default=0)
    return "8bit" if longest <= MAX_8BIT_LINE_BYTES else "base64"


def build_message(mail: OutgoingMail, sender: str) -> EmailMessage:
    """The MIME message. Every header value passes ``header_safe`` (the composers clean what they write;
    this also covers a notice recorded before they did, which ``send_once`` resends as recorded)."""
    message = EmailMessage()
    display, address = parseaddr(header_safe(sender))
    message["From"] = Address(display_name=display, addr_spec=address) if display else address
    message["To"] = ", ".join(header_safe(a) for a in mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(header_safe(a) for a in mail.cc)
    message["Subject"] = header_safe(mail.subject)
    message["Message-ID"] = header_safe(mail.message_id)
    message["Date"] = formatdate(localtime=False)
    for name, value in mail.headers.items():
        message[name] = header_safe(value)
    # 8bit keeps the Chinese readable in a saved .eml; long lines need a safe encoding.
    message.set_content(mail.text, charset="utf-8", cte=_transfer_encoding(mail.text))
    if mail.html:
        message.add_alternative(mail.html, subtype="html", charset="utf-8", cte=_transfer_encoding(mail.html))
    return message


@cache
def _tls_context() -> ssl.SSLContext:
    """One per process: loading the system's CA certificates costs tens of milliseconds, and a receipt that
    opens its own connection would pay it every time (a plain relay, as locally, needs none)."""
    return ssl.create_default_context()


class SmtpSender:
    """SMTP relay. Outside ``session()`` every message has its own connection (a receipt a Lambda sends
    now and then); inside, one connection carries every message (the sweep's hundreds of notices: one TLS
    handshake and login instead of one per notice). Errors are classified the same either way, and a
    failed connection is dropped, so a retry starts on a fresh one. Sessions are per thread.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 20.0,
        credentials: Callable[[], tuple[str | None, str | None]] | None = None,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._security, self._username, self._password = security, username, password
        # Asked on every new connection (a cached secret read): a rotated password works without a redeploy.
        self._credentials = credentials
        self._timeout = timeout
        # Per thread: the sweep's workers each hold their own session and connection.
        self._local = threading.local()
        self._lock = threading.Lock()
        self.connections = 0  # opened so far (for the benchmark and tests)

    @property
    def _client(self) -> smtplib.SMTP | None:
        return getattr(self._local, "client", None)

    @_client.setter
    def _client(self, client: smtplib.SMTP | None) -> None:
        self._local.client = client

    @property
    def _in_session(self) -> bool:
        return bool(getattr(self._local, "in_session", False))

    @_in_session.setter
    def _in_session(self, value: bool) -> None:
        self._local.in_session = value

    def _login_credentials(self) -> tuple[str | None, str | None]:
        if self._credentials is None:
            return self._username, self._password
        try:
            return self._credentials()
        except Exception as exc:  # Secrets Manager throttled, unreachable or refusing: the next run may succeed
            raise TransientMailError(f"SMTP credentials could not be read: {exc}") from exc

    def _connect(self) -> smtplib.SMTP:
        username, password = self._login_credentials()
        with self._lock:
            self.connections += 1
        if self._security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=_tls_context()
            )
        else:
            client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            if self._security == "starttls":
                client.starttls(context=_tls_context())
        if username:
            try:
                client.login(username, password or "")
            except BaseException:
                client.close()
                raise
        return client

    @contextmanager
    def session(self) -> Iterator[SmtpSender]:
        """Reuse one connection for every ``send`` inside the block; it is closed (QUIT) at the end."""
        if self._in_session:  # nested: the outer block owns the connection
            yield self
            return
        self._in_session = True
        try:
            yield self
        finally:
            self._in_session = False
            self._drop(polite=True)

    def _drop(self, polite: bool = False) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if polite:
                client.quit()
            else:
                client.close()
        except (OSError, smtplib.SMTPException):
            client.close()

    def send(self, mail: OutgoingMail) -> None:
        message = build_message(mail, self._sender)
        try:
            if not self._in_session:
                with self._connect() as client:
                    client.send_message(message)
                return
            reused = self._client is not None
            try:
                self._send_in_session(message)
            except smtplib.SMTPServerDisconnected:
                # The server closed an idle connection between two notices: reconnect once. Not for a
                # fresh connection, whose failure is a real one for the caller to retry later.
                if not reused:
                    raise
                self._send_in_session(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if any(400 <= code < 500 for code in codes):
                raise TransientMailError(f"recipients deferred: {exc.recipients}") from exc
            raise PermanentMailError(f"recipients refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            error = TransientMailError if 400 <= exc.smtp_code < 500 else PermanentMailError
            raise error(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientMailError(str(exc)) from exc

    def _send_in_session(self, message: EmailMessage) -> None:
        if self._client is None:
            self._client = self._connect()
        try:
            self._client.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            # smtplib has already reset the transaction (RSET): the connection is fine for the next notice.
            raise
        except BaseException:
            self._drop()  # state unknown: the next send (a retry, or the next notice) opens a new one
            raise


class SesSender:
    """Amazon SES v2. Not offered in the AWS China regions: use the SMTP relay there."""

    def __init__(self, client: Any, sender: str) -> None:
        self._client, self._sender = client, sender

    def send(self, mail: OutgoingMail) -> None:
        from botocore.exceptions import ClientError

        raw = build_message(mail, self._sender).as_bytes()
        try:
            self._client.send_email(Content={"Raw": {"Data": raw}})
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"TooManyRequestsException", "LimitExceededException", "ThrottlingException"}:
                raise TransientMailError(code) from exc
            raise PermanentMailError(code or str(exc)) from exc


def mail_session(sender: MailSender) -> AbstractContextManager[object]:
    """One connection for a batch of messages when the transport has connections (SMTP); else nothing."""
    session = getattr(sender, "session", None)
    return session() if callable(session) else nullcontext()


def sender_from_settings(settings: Settings) -> MailSender:
    if settings.mail_transport == "ses":
        from chalicelib.adapters.aws import default_client

        return SesSender(default_client("sesv2", settings.region), settings.mail_from)
    credentials = None
    if settings.smtp_secret_id:
        from chalicelib.adapters.secrets import smtp_credentials

        secret_id, region = settings.smtp_secret_id, settings.region

        def credentials() -> tuple[str | None, str | None]:
            return smtp_credentials(secret_id, region)

    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        credentials=credentials,
    )
