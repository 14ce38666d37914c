"""Send each notice exactly once, whatever crashes or retries happen around it.

A notice is identified by its natural key. The first writer records it as ``pending``
with its full content; a sender claims it with a short lease (conditional update), sends,
then marks it ``sent``. A crash after claiming leaves a lease that expires, so the next
run retries; a second concurrent run finds the lease held and backs off. The one window
left (sent, then crashed before marking) resends the same Message-ID once the lease
expires, which mail clients collapse into one message.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.adapters.mail import MailSender, OutgoingMail, PermanentMailError, TransientMailError
from chalicelib.adapters.models import Notice, is_condition_failure
from chalicelib.domain.timeutil import now_utc

DEFAULT_LEASE = timedelta(minutes=5)
RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class NoticeKey:
    campaign_id: str
    scope: str  # e.g. "receipt", or a deadline id
    key: str  # unique within the scope, e.g. "140981#<version>"

    @property
    def pk(self) -> str:
        return f"C#{self.campaign_id}#N#{self.scope}"

    @property
    def message_id(self) -> str:
        digest = hashlib.sha256(f"{self.pk}|{self.key}".encode()).hexdigest()[:32]
        return f"<{digest}@campaign-reporting.local>"


def _record(notice_key: NoticeKey, kind: str, mail: OutgoingMail, now: datetime) -> Notice:
    notice = Notice(
        notice_key.pk,
        notice_key.key,
        kind=kind,
        recipients=list(mail.to),
        cc=list(mail.cc),
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        message_id=mail.message_id,
        status="pending",
        created_at=now,
    )
    try:
        notice.save(condition=Notice.pk.does_not_exist())
        return notice
    except PutError as exc:
        if not is_condition_failure(exc):
            raise
        return Notice.get(notice_key.pk, notice_key.key, consistent_read=True)


def _claim(notice: Notice, now: datetime, lease: timedelta) -> bool:
    claimable = Notice.status.is_in("pending", "failed") | ((Notice.status == "sending") & (Notice.lease_until < now))
    try:
        notice.update(
            actions=[
                Notice.status.set("sending"),
                Notice.lease_until.set(now + lease),
                Notice.attempts.add(1),
            ],
            condition=claimable,
        )
        return True
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise


def stored_mail(notice: Notice, headers: dict[str, str] | None = None) -> OutgoingMail:
    return OutgoingMail(
        to=tuple(notice.recipients),
        cc=tuple(notice.cc or ()),
        subject=notice.subject,
        text=notice.text,
        html=notice.html,
        message_id=notice.message_id,
        headers=headers or {},
    )


def send_once(
    notice_key: NoticeKey,
    kind: str,
    mail: OutgoingMail,
    sender: MailSender,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
    retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
) -> str:
    """Deliver ``mail`` under ``notice_key`` unless that notice already went out.

    Returns the notice's resulting status: ``sent``, ``already-sent``, ``in-flight``,
    ``failed`` (transient, retried by the next run), ``rejected`` (permanent), or ``error``: composing or
    sending raised something that is no mail server's answer (the email package refusing a header, a bug),
    which the same text would raise again. An ``error`` is recorded as ``failed`` with ``last_error``, so
    the notice is never left ``sending`` under a lease and a later run (after a fix) can still send it.
    """
    now = now or now_utc()
    notice = _record(notice_key, kind, mail, now)
    if notice.status in ("sent", "rejected"):
        return "already-sent" if notice.status == "sent" else "rejected"
    if not _claim(notice, now, lease):
        return "in-flight"
    return _deliver(notice, notice_key, mail, sender, retry_delays)


def record_failure(notice: Notice, error: BaseException) -> None:
    """``failed`` with what went wrong, lease released: never a notice stuck in ``sending``."""
    notice.update(
        actions=[
            Notice.status.set("failed"),
            Notice.last_error.set(f"{type(error).__name__}: {error}"[:1000]),
            Notice.lease_until.remove(),
        ]
    )


def _deliver(
    notice: Notice, notice_key: NoticeKey, mail: OutgoingMail, sender: MailSender, retry_delays: tuple[float, ...]
) -> str:
    """Compose and send under the claimed lease. The table's own errors propagate (the caller's retry finds
    the lease); every exception of composing and sending ends in a recorded status."""
    error: Exception | None = None
    for delay in (0.0, *retry_delays):
        if delay:
            time.sleep(delay)
        try:
            # Send what was recorded first, so a retry never sends a different text.
            outgoing = stored_mail(notice, {**mail.headers, "X-Notice-Key": f"{notice_key.pk}|{notice_key.key}"})
            sender.send(outgoing)
        except TransientMailError as exc:
            error = exc
            continue
        except PermanentMailError as exc:
            notice.update(actions=[Notice.status.set("rejected"), Notice.last_error.set(str(exc)[:1000])])
            return "rejected"
        except Exception as exc:  # whatever it is, the same text raises it again: record it
            record_failure(notice, exc)
            return "error"
        notice.update(actions=[Notice.status.set("sent"), Notice.sent_at.set(now_utc()), Notice.lease_until.remove()])
        return "sent"
    notice.update(
        actions=[Notice.status.set("failed"), Notice.last_error.set(str(error)[:1000]), Notice.lease_until.remove()]
    )
    return "failed"
