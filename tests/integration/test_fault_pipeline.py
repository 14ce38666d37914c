"""Faults AWS documents, injected against the local stack: duplicate and out-of-order notifications, the
handler killed at every step, throttling until the DLQ and the replay, two uploads racing, a poison object.

Each test owns a (unit, deliverable, period) no other module uses, and counts only its own versions:
submissions per version, rows per version, the pointer, and receipt emails per X-Notice-Key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import dynamo_store, mails_with_notice_key, wait_for
from tests.faults import (
    CAMPAIGN,
    CrashOnce,
    InjectedCrashError,
    Throttle,
    dynamodb_put_for,
    for_unit,
    invoke,
    invoke_until_done,
    quiet_bucket,
    s3_event,
    s3_get_of,
    throttled,
)

NAMES = {"140927": "神池县", "140928": "五寨县", "140930": "河曲县", "140932": "偏关县", "140971": "五台山风景区"}
BAD_ROWS = [replace(GOOD_ROWS[0], deadline="待定"), *GOOD_ROWS[1:]]

# --- what the table and the outbox hold for one version -------------------------------------------------


def _key(unit: str, deliverable: str, period: str, name: str) -> str:
    return f"uploads/{CAMPAIGN}/{unit}/{deliverable}/{period}/{name}"


def _submissions(unit: str, version: str) -> list[Any]:
    page = dynamo_store().unit_submissions(CAMPAIGN, unit, limit=1000)
    return [s for s in page.items if s.version_id == version]


def _rows(unit: str, period: str, version: str, deliverable: str = "issue-list") -> list[dict[str, Any]]:
    from chalicelib.domain.store import rows_as_dicts

    return rows_as_dicts(dynamo_store().version_rows(CAMPAIGN, unit, deliverable, period, version))


def _current(unit: str, period: str, deliverable: str = "issue-list") -> tuple[str | None, list[dict[str, Any]]]:
    """What a reader of the ledger sees: the pointer, then that version's rows."""
    from chalicelib.domain.store import rows_as_dicts

    store = dynamo_store()
    state = store.delivery(CAMPAIGN, unit, deliverable, period)
    rows = rows_as_dicts(store.current_rows(CAMPAIGN, unit, deliverable, period))
    return (state.current_version if state else None), rows


def _receipts(unit: str, version: str) -> list[Any]:
    return mails_with_notice_key(f"receipt|{unit}#{version}")


def _put(system: Any, key: str, body: bytes, bucket: str | None = None) -> str:
    return system.client("s3").put_object(Bucket=bucket or system.outputs.bucket, Key=key, Body=body)["VersionId"]


def _workbook(unit: str, rows: Any) -> bytes:
    return issue_list_workbook(f"{NAMES[unit]}交通运输局", rows)


def _settled(unit: str, version: str) -> list[Any]:
    """The version's receipt is the last step: once it is in the outbox, the message is done."""
    return wait_for(lambda: _receipts(unit, version), timeout=30)


# --- duplicates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "rows", "status", "row_count"),
    [("2023-05", GOOD_ROWS, "accepted", 3), ("2023-06", BAD_ROWS, "rejected", 0)],
    ids=["accepted", "rejected"],
)
def test_five_concurrent_first_deliveries_do_everything_once(
    system: Any, period: str, rows: Any, status: str, row_count: int
) -> None:
    unit = "140927"
    bucket = quiet_bucket(system)
    body = _workbook(unit, rows)
    key = _key(unit, "issue-list", period, f"神池县{period}清单.xlsx")
    version = _put(system, key, body, bucket)
    event = s3_event(bucket, key, version, len(body), "0062E1A9C4F1D2B3A4")

    # Five Lambda invocations of the same notification at once; a loser of the receipt's lease fails
    # (ReceiptNotSentError) and is invoked again, as SQS would after the visibility timeout.
    failures: list[list[str]] = []
    threads = [threading.Thread(target=lambda: failures.append(invoke_until_done(system, event))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [record] = _submissions(unit, version)
    assert record.status == status
    assert len(_rows(unit, period, version)) == row_count
    current, current_rows = _current(unit, period)
    assert current == (version if status == "accepted" else None)
    assert len(current_rows) == row_count
    assert len(_settled(unit, version)) == 1
    assert all(set(f) <= {"ReceiptNotSentError"} for f in failures), failures


def test_an_older_versions_event_arriving_after_the_newer_one_does_not_win(system: Any) -> None:
    unit, period = "140928", "2023-05"
    bucket = quiet_bucket(system)
    key = _key(unit, "issue-list", period, "五寨县5月清单.xlsx")
    old_body, new_body = _workbook(unit, GOOD_ROWS), _workbook(unit, GOOD_ROWS[:2])
    old, new = _put(system, key, old_body, bucket), _put(system, key, new_body, bucket)
    # Same event time (one second's uploads): S3's sequencer alone says which came later.
    from datetime import UTC, datetime

    when = datetime.now(UTC).replace(microsecond=0)
    invoke(system, s3_event(bucket, key, new, len(new_body), "0062E1A9C4F1D2B3B0", when))
    invoke(system, s3_event(bucket, key, old, len(old_body), "0062E1A9C4F1D2B3AF", when))

    current, rows = _current(unit, period)
    assert current == new and len(rows) == 2
    assert len(_submissions(unit, old)) == len(_submissions(unit, new)) == 1  # history keeps both
    assert len(_rows(unit, period, old)) == 3
    state = dynamo_store().delivery(CAMPAIGN, unit, "issue-list", period)
    assert state is not None and state.latest_submission_sk == _submissions(unit, new)[0].sk


# --- the handler killed at every step ----------------------------------------------------------------------

STEPS = [
    # (the store's method, or send_once in chalicelib.services.intake; crash after the real call?; unit; period)
    ("record_submission", True, "140930", "2023-05"),
    ("write_version_rows", True, "140930", "2023-08"),
    ("record_delivery", True, "140928", "2023-08"),
    ("send_once", False, "140971", "2023-08"),
    ("send_once", True, "140927", "2023-08"),
]


@pytest.mark.parametrize(
    ("step", "after", "unit", "period"),
    STEPS,
    ids=["after-submission", "after-rows", "after-pointer", "before-email", "after-email"],
)
def test_killed_at_a_step_the_redelivery_completes_and_readers_never_see_half(
    system: Any, monkeypatch: pytest.MonkeyPatch, step: str, after: bool, unit: str, period: str
) -> None:
    import chalicelib.services.intake as intake

    patched: Any = intake if step == "send_once" else dynamo_store()
    first = _put(system, _key(unit, "issue-list", period, "清单.xlsx"), _workbook(unit, GOOD_ROWS))
    _settled(unit, first)
    assert _current(unit, period)[0] == first

    crash = CrashOnce(getattr(patched, step), for_unit(unit), after=after, snapshot=lambda: _current(unit, period))
    monkeypatch.setattr(patched, step, crash)
    failed_before = system.pump.failed
    second = _put(system, _key(unit, "issue-list", period, "清单（修改后）.xlsx"), _workbook(unit, GOOD_ROWS[:2]))

    [mail] = _settled(unit, second)
    wait_for(lambda: crash.calls >= 2)  # the redelivery ran the step again
    assert crash.fired.is_set()
    wait_for(lambda: system.pump.failed > failed_before)
    # At the crash, readers saw one whole version: the first (3 rows) or, once the pointer moved, the second.
    seen_version, seen_rows = crash.snapshot
    assert (seen_version, len(seen_rows)) in ((first, 3), (second, 2))
    if step in ("record_submission", "write_version_rows"):
        assert seen_version == first
    # After the redelivery: everything once.
    assert len(_submissions(unit, second)) == 1
    assert _current(unit, period) == (second, _rows(unit, period, second))
    assert len(_rows(unit, period, second)) == 2 and len(_rows(unit, period, first)) == 3
    time.sleep(0.3)  # a second receipt would be written by now
    assert len(_receipts(unit, second)) == 1 and mail["Message-ID"]


# --- throttling, the DLQ and the replay ----------------------------------------------------------------------


def test_throttled_table_and_bucket_are_retried_with_backoff(system: Any) -> None:
    unit, period = "140932", "2023-06"
    key = _key(unit, "issue-list", period, "偏关县6月清单.xlsx")
    table = Throttle(dynamodb_put_for(unit), count=3)
    bucket = Throttle(s3_get_of(key), count=2)
    failed_before = system.pump.failed
    with throttled(table, bucket) as delays:
        version = _put(system, key, _workbook(unit, GOOD_ROWS))
        _settled(unit, version)
    assert (table.injected, bucket.injected) == (3, 2)
    assert len(delays) >= 5  # botocore backed off before each retry
    assert system.pump.failed == failed_before  # absorbed inside one invocation
    assert len(_submissions(unit, version)) == 1 and _current(unit, period)[0] == version


def _dlq_count(system: Any) -> int:
    sqs = system.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=system.outputs.dlq_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


@pytest.fixture
def always_throttled(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The table refuses this unit's submission on every receive (throttling beyond botocore's retries)."""
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import PutError

    store = dynamo_store()
    real = store.record_submission
    receives: list[int] = []

    def refuse(record: Any) -> Any:
        if record.unit == "140932" and record.period == "2023-08":
            receives.append(1)
            cause = ClientError(
                {
                    "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "PutItem",
            )
            raise PutError("Failed to put item", cause)
        return real(record)

    monkeypatch.setattr(store, "record_submission", refuse)
    yield receives


def test_throttled_past_every_retry_goes_to_the_dlq_and_the_replay_completes_it(
    system: Any, always_throttled: list[int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.cli import main

    unit, period = "140932", "2023-08"
    key = _key(unit, "issue-list", period, "偏关县8月清单.xlsx")
    version = _put(system, key, _workbook(unit, GOOD_ROWS))

    wait_for(lambda: _dlq_count(system), timeout=30)
    assert len(always_throttled) == 5  # the queue's maxReceiveCount
    assert _submissions(unit, version) == [] and _receipts(unit, version) == []

    # The dry run names what it would replay and moves nothing.
    assert main(["replay-dlq", "--dry-run"]) == 0
    assert f"{key} 版本 {version}" in capsys.readouterr().out
    assert _dlq_count(system)

    monkeypatch.setattr(dynamo_store(), "record_submission", _real_record_submission())  # the table recovered
    assert main(["replay-dlq", "--max", "10"]) == 0
    assert "已重放" in capsys.readouterr().out
    _settled(unit, version)
    [record] = _submissions(unit, version)
    assert record.status == "accepted" and record.object_key == key
    assert _current(unit, period) == (version, _rows(unit, period, version)) and len(_rows(unit, period, version)) == 3
    assert not _dlq_count(system)


def _real_record_submission() -> Any:
    from chalicelib.adapters.dynamo_store import DynamoStore

    return DynamoStore.record_submission.__get__(dynamo_store())


# --- two uploads racing -------------------------------------------------------------------------------------


def test_two_uploads_of_one_deliverable_racing_the_later_wins_whole(system: Any) -> None:
    from chalicelib.domain.store import order_key

    unit, period = "140971", "2023-05"
    bodies = {
        "五台山5月清单（甲）.xlsx": _workbook(unit, GOOD_ROWS),
        "五台山5月清单（乙）.xlsx": _workbook(unit, GOOD_ROWS[:2]),
    }
    versions: dict[str, str] = {}
    barrier = threading.Barrier(len(bodies))

    def upload(name: str) -> None:
        barrier.wait()
        versions[name] = _put(system, _key(unit, "issue-list", period, name), bodies[name])

    threads = [threading.Thread(target=upload, args=(name,)) for name in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for version in versions.values():
        _settled(unit, version)

    records = {v: _submissions(unit, v)[0] for v in versions.values()}
    winner = max(records, key=lambda v: order_key(records[v].received_at, records[v].sequencer))
    current, rows = _current(unit, period)
    assert current == winner
    assert rows == _rows(unit, period, winner)  # the winner's rows, all of them, nothing of the other
    assert sorted(len(_rows(unit, period, v)) for v in versions.values()) == [2, 3]


# --- a poison object -------------------------------------------------------------------------------------------


def test_an_object_that_keeps_crashing_is_rejected_after_bounded_attempts_and_blocks_nobody(
    system: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters.objects import ObjectStore
    from chalicelib.services.intake import POISON_AFTER_ATTEMPTS

    poison_key = _key("140926", "progress-report", "2023-09", "静乐县9月进展.docx")
    attempts: list[float] = []
    real_fetch = ObjectStore.fetch

    def fetch(self: Any, bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        if key == poison_key:
            attempts.append(time.monotonic())
            raise ValueError("a reader bug this object triggers")
        return real_fetch(self, bucket, key, *args, **kwargs)

    monkeypatch.setattr(ObjectStore, "fetch", fetch)
    poison = _put(system, poison_key, b"PK\x03\x04 whatever")
    bystander = _put(
        system, _key("140929", "progress-report", "2023-09", "岢岚县9月进展.txt"), "一、工作进展\n正文".encode()
    )

    _settled("140929", bystander)
    assert len(attempts) < POISON_AFTER_ATTEMPTS  # the other unit was not kept waiting behind the poison
    [mail] = _settled("140926", poison)
    assert len(attempts) == POISON_AFTER_ATTEMPTS
    [record] = _submissions("140926", poison)
    assert record.status == "rejected" and record.errors[0].code == "UNREADABLE_FILE"
    assert f"已尝试{POISON_AFTER_ATTEMPTS}次" in record.errors[0].message
    assert "静乐县9月进展.docx" in mail.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.parametrize(("error", "code"), [(MemoryError, "FILE_TOO_COMPLEX"), (KeyError, "UNREADABLE_FILE")])
def test_a_parser_crash_is_rejected_at_once(
    system: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, error: type[Exception], code: str
) -> None:
    import chalicelib.services.checking as checking

    calls = tmp_path / "calls"  # the check runs in a forked child: it counts in a file, not in a list
    real = checking.check_file

    def crash(campaign: Any, deliverable: Any, unit: Any, file_name: str, data: bytes) -> Any:
        if unit is None or unit.code != "140926":
            return real(campaign, deliverable, unit, file_name, data)
        with calls.open("a") as counter:
            counter.write("1")
        raise error("the parser blew up")

    monkeypatch.setattr(checking, "check_file", crash)
    period = "2023-10" if error is MemoryError else "2023-09"
    version = _put(system, _key("140926", "progress-report", period, "静乐县进展.docx"), b"PK\x03\x04")
    _settled("140926", version)
    [record] = _submissions("140926", version)
    assert record.status == "rejected" and record.errors[0].code == code
    assert "静乐县进展.docx" in record.errors[0].message
    assert calls.read_text() == "1"  # no retry for a file that crashes the reader: it would crash again


def test_crash_helper_reraises_what_the_pump_sees() -> None:
    crash = CrashOnce(lambda x: x, lambda x: x == 1, after=False)
    with pytest.raises(InjectedCrashError):
        crash(1)
    assert crash(1) == 1 and crash(2) == 2 and crash.calls == 2
