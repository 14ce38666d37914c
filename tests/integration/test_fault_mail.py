"""The mail server refusing or throttling: the receipt stays ``failed`` (never lost), the message is retried
by SQS, and once the server recovers the unit gets exactly one receipt.

The stack's SMTP sink answers 451 (deferred) or 421 (service not available) for the next K recipients that
match this test's unit, so other modules' mail is untouched. Decision (docs/reliability.md): a receipt
that could not be sent fails the SQS message, because the handler is the only thing that would ever send
it; every earlier step is idempotent, so the retry only finishes the receipt.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import dynamo_store, mails_with_notice_key, wait_for
from tests.faults import CAMPAIGN, invoke

UNIT = "140925"  # 宁武县
REPORT = "一、本月工作开展情况\n{filler}\n二、存在的问题\n{filler}\n三、下一步工作打算\n{filler}\n".format(
    filler="按照专项整治工作方案，逐项对照检查，建立问题台账，明确整改责任人和完成时限。" * 3
).encode()


def _notice(version: str) -> Any:
    from chalicelib.domain.outgoing import NoticeKey

    return dynamo_store().get_notice(NoticeKey(CAMPAIGN, "receipt", f"{UNIT}#{version}"))


@pytest.mark.parametrize(
    ("period", "reply", "refusals", "failed_invocations"),
    [
        ("2023-09", "451 4.3.0 Mailbox temporarily unavailable, try again later", 5, 1),
        ("2023-10", "421 4.7.0 Too many connections, slow down", 2, 0),
    ],
    ids=["451-beyond-one-invocation", "421-within-backoff"],
)
def test_a_refusing_mail_server_delays_the_receipt_and_never_doubles_it(
    system: Any, period: str, reply: str, refusals: int, failed_invocations: int
) -> None:
    sink = system.smtp.handler
    refused_before, failed_before = sink.refused, system.pump.failed
    sink.refuse_next(refusals, reply, recipient_contains=f"liaison.{UNIT}@")
    try:
        key = f"uploads/{CAMPAIGN}/{UNIT}/progress-report/{period}/宁武县{period}工作推进情况.txt"
        response = system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=REPORT)
        version = response["VersionId"]
        [mail] = wait_for(lambda: mails_with_notice_key(f"receipt|{UNIT}#{version}"), timeout=40)
    finally:
        sink.refuse_next(0)
    assert sink.refused - refused_before == refusals
    notice = _notice(version)
    assert notice.status == "sent" and notice.attempts == 1 + failed_invocations
    assert system.pump.failed - failed_before >= failed_invocations
    assert mail["Message-ID"] == notice.message_id

    # The same S3 event once more after recovery: nothing is sent again.
    [body] = wait_for(lambda: [b for b in system.pump.bodies if version in b])
    invoke(system, body)
    time.sleep(0.2)
    assert len(mails_with_notice_key(f"receipt|{UNIT}#{version}")) == 1


def test_a_receipt_left_failed_is_sent_once_by_a_later_delivery(system: Any) -> None:
    """Directly through the notice log: failed (kept, with its error), then sent once, then never again."""
    from chalicelib.adapters.mail import OutgoingMail, TransientMailError
    from chalicelib.domain.outgoing import NoticeKey
    from chalicelib.services.notices import send_once

    class Down:
        def send(self, mail: OutgoingMail) -> None:
            raise TransientMailError("451 try later")

    class Up:
        def __init__(self) -> None:
            self.sent: list[str] = []

        def send(self, mail: OutgoingMail) -> None:
            self.sent.append(mail.message_id)

    key = NoticeKey(CAMPAIGN, "fault-mail", f"{UNIT}#{time.time_ns()}")
    mail = OutgoingMail(to=("a@example.cn",), subject="回执", text="正文", message_id=key.message_id)
    assert send_once(dynamo_store(), key, "receipt", mail, Down(), retry_delays=()) == "failed"
    up = Up()
    assert send_once(dynamo_store(), key, "receipt", mail, up, retry_delays=()) == "sent"
    assert send_once(dynamo_store(), key, "receipt", mail, up, retry_delays=()) == "already-sent"
    assert up.sent == [key.message_id]
