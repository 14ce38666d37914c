"""Outgoing email: one message shape, two transports (SMTP relay or Amazon SES)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Protocol

from chalicelib.settings import Settings


@dataclass(frozen=True)
class OutgoingMail:
    to: tuple[str, ...]
    subject: str
    text: str
    message_id: str
    html: str | None = None
    cc: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


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
    message = EmailMessage()
    display, address = parseaddr(sender)
    message["From"] = Address(display_name=display, addr_spec=address) if display else address
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    message["Date"] = formatdate(localtime=False)
    for name, value in mail.headers.items():
        message[name] = value
    # 8bit keeps the Chinese readable in a saved .eml; long lines need a safe encoding.
    message.set_content(mail.text, charset="utf-8", cte=_transfer_encoding(mail.text))
    if mail.html:
        message.add_alternative(mail.html, subtype="html", charset="utf-8", cte=_transfer_encoding(mail.html))
    return message


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 20.0,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._security, self._username, self._password = security, username, password
        self._timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self._security == "ssl":
            return smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        if self._security == "starttls":
            client.starttls(context=context)
        return client

    def send(self, mail: OutgoingMail) -> None:
        message = build_message(mail, self._sender)
        try:
            with self._connect() as client:
                if self._username:
                    client.login(self._username, self._password or "")
                client.send_message(message)
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


def sender_from_settings(settings: Settings) -> MailSender:
    if settings.mail_transport == "ses":
        import boto3

        return SesSender(boto3.client("sesv2", region_name=settings.region), settings.mail_from)
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_from,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
    )
