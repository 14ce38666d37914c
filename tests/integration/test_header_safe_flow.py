"""Line breaks of every kind in a file name (issue 18, finding 5), through the local stack.

Before: a name with U+2028 passed the key check (category Zl is no control character), the receipt's
Subject raised ``ValueError`` in the email package, ``send_once`` caught only mail errors, the notice
stayed ``sending`` and the message looped into the DLQ, and so did every replay. Now the key is refused
with a Chinese reason, and whatever raises while composing or sending a mail ends in a recorded status.
繁峙县 (140924), progress reports 2023-06 and 2023-07 (no other module uses them; the refused 2023-05
keys record nothing for the unit).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.faults import CAMPAIGN, invoke, quiet_bucket, s3_event

UNIT = "140924"
REPORT = "一、本月工作开展情况\n{f}\n二、存在的问题\n{f}\n三、下一步工作打算\n{f}\n".format(
    f="按照专项整治工作方案，逐项对照检查，建立问题台账，明确整改责任人和完成时限。" * 3
).encode()


def _receipt(version: str) -> Any:
    from chalicelib.adapters.models import Notice

    try:
        return Notice.get(f"C#{CAMPAIGN}#N#receipt", f"{UNIT}#{version}", consistent_read=True)
    except Notice.DoesNotExist:
        return None


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x1e"], ids=lambda c: f"U+{ord(c):04X}")
def test_a_line_break_in_a_file_name_put_into_the_bucket_is_refused_and_nothing_is_stuck(
    system: Any, separator: str
) -> None:
    from chalicelib.adapters.models import RejectedUpload

    key = f"uploads/{CAMPAIGN}/{UNIT}/progress-report/2023-05/繁峙县{separator}5月工作推进情况.txt"
    version = system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=REPORT)["VersionId"]

    def refused() -> Any:
        return next((r for r in RejectedUpload.query("INTAKE#REJECTED") if r.version_id == version), None)

    record = wait_for(refused, timeout=30)
    assert record.code == "KEY_INVISIBLE_CHARACTER" and record.object_key == key
    assert f"U+{ord(separator):04X}" in record.message and "请将文件重命名" in record.message
    # Handled on its first delivery (the pump deleted the message): no retry, no DLQ, no receipt to get stuck.
    wait_for(lambda: any(version in body for body in system.pump.bodies))
    assert _receipt(version) is None


def test_a_receipt_that_raises_while_it_is_sent_is_recorded_failed_and_retries_are_bounded(
    system: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the email package (or a bug) raises: status failed with the error, never ``sending``; the
    invocation fails only for the first receives (the alarm sees them), then the message is done, not in
    the DLQ. Once the cause is gone, a later delivery sends the receipt once."""
    import chalicelib.adapters.mail

    def refuses_to_build(mail: Any, sender: str) -> Any:
        raise ValueError("Header values may not contain linefeed or carriage return characters")

    bucket = quiet_bucket(system)
    key = f"uploads/{CAMPAIGN}/{UNIT}/progress-report/2023-06/繁峙县6月工作推进情况.txt"
    put = system.client("s3").put_object(Bucket=bucket, Key=key, Body=REPORT)
    body = s3_event(bucket, key, put["VersionId"], len(REPORT), f"{time.time_ns():020X}")
    monkeypatch.setattr(chalicelib.adapters.mail, "build_message", refuses_to_build)
    for attempt in (1, 2):
        with pytest.raises(Exception, match="raised while composing or sending"):
            invoke(system, body, attempt)
        notice = _receipt(put["VersionId"])
        assert notice.status == "failed" and notice.lease_until is None
        assert notice.last_error.startswith("ValueError: Header values may not contain")
    invoke(system, body, 3)  # the third receive gives up quietly: the upload is recorded, nothing loops
    assert _receipt(put["VersionId"]).status == "failed"

    monkeypatch.undo()
    invoke(system, body, 1)  # e.g. `cli replay-dlq` or a redelivery after the fix
    notice = _receipt(put["VersionId"])
    assert notice.status == "sent" and notice.attempts == 4


def test_a_receipt_that_cannot_be_composed_leaves_no_notice_and_does_not_loop(
    system: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chalicelib.services.intake

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a template without its text")

    bucket = quiet_bucket(system)
    key = f"uploads/{CAMPAIGN}/{UNIT}/progress-report/2023-07/繁峙县7月工作推进情况.txt"
    put = system.client("s3").put_object(Bucket=bucket, Key=key, Body=REPORT)
    body = s3_event(bucket, key, put["VersionId"], len(REPORT), f"{time.time_ns():020X}")
    monkeypatch.setattr(chalicelib.services.intake, "compose_receipt", broken)
    with pytest.raises(Exception, match="raised while composing or sending"):
        invoke(system, body, 1)
    invoke(system, body, 3)  # bounded like a poison object
    assert _receipt(put["VersionId"]) is None  # nothing claimed, so nothing can be stuck in ``sending``
