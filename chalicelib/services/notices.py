"""Send each notice exactly once, whatever crashes or retries happen around it.

A notice is identified by its natural key (``NoticeKey``). The first writer records it as ``pending``
with its full content; a sender claims it with a short lease (a conditional write in the store), sends,
then marks it ``sent``. A crash after claiming leaves a lease that expires, so the next run retries; a
second concurrent run finds the lease held and backs off. The one window left (sent, then crashed before
marking) resends the same Message-ID once the lease expires, which mail clients collapse into one message.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from chalicelib.adapters.mail import MailSender, PermanentMailError, TransientMailError
from chalicelib.domain.findings import NoticeStatus, SendOutcome
from chalicelib.domain.outgoing import NoticeKey, OutgoingMail
from chalicelib.domain.store import CampaignStore
from chalicelib.domain.timeutil import now_utc

DEFAULT_LEASE = timedelta(minutes=5)
RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0)


def send_once(
    store: CampaignStore,
    notice_key: NoticeKey,
    kind: str,
    mail: OutgoingMail,
    sender: MailSender,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
    retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
) -> SendOutcome:
    """Deliver ``mail`` under ``notice_key`` unless that notice already went out.

    Returns the notice's resulting status: ``sent``, ``already-sent``, ``in-flight``,
    ``failed`` (transient, retried by the next run), ``rejected`` (permanent), or ``error``: composing or
    sending raised something that is no mail server's answer, which the same text would raise again. An
    ``error`` is recorded as ``failed`` with ``last_error``, so the notice is never left ``sending`` under a
    lease and a later run (after a fix) can still send it. The store's own errors propagate (the caller's
    retry finds the lease).
    """
    now = now or now_utc()
    notice = store.create_notice(notice_key, kind, mail, now)
    if notice.status == NoticeStatus.SENT:
        return SendOutcome.ALREADY_SENT
    if notice.status == NoticeStatus.REJECTED:
        return SendOutcome.REJECTED
    if not store.claim_notice(notice_key, now, lease):
        return SendOutcome.IN_FLIGHT
    error: Exception | None = None
    for delay in (0.0, *retry_delays):
        if delay:
            time.sleep(delay)
        try:
            # Send what was recorded first, so a retry never sends a different text.
            outgoing = notice.mail({**mail.headers, "X-Notice-Key": notice_key.header})
            sender.send(outgoing)
        except TransientMailError as exc:
            error = exc
            continue
        except PermanentMailError as exc:
            store.mark_notice_rejected(notice_key, str(exc))
            return SendOutcome.REJECTED
        except Exception as exc:  # whatever it is, the same text raises it again: record it
            store.mark_notice_failed(notice_key, f"{type(exc).__name__}: {exc}")
            return SendOutcome.ERROR
        store.mark_notice_sent(notice_key, now_utc())
        return SendOutcome.SENT
    store.mark_notice_failed(notice_key, str(error))
    return SendOutcome.FAILED
