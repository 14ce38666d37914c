"""The intake and the daily sweep on ``MemoryStore``: the services' rules without the local stack.

The flow tests (tests/integration) run the same services through the real stack; here the store is the
in-memory twin (same contract: tests/store_contract.py), the bucket a dictionary, the relay a list.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools import Logger

from chalicelib.adapters.mail import TransientMailError
from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.adapters.objects import FetchedObject
from chalicelib.domain.deadlines import Deadline, campaign_deadlines
from chalicelib.domain.findings import NoticeStatus, SubmissionStatus
from chalicelib.domain.outgoing import NoticeKey, OutgoingMail
from chalicelib.domain.registry import Campaign, default_registry
from chalicelib.domain.s3_events import ObjectRef
from chalicelib.domain.store import DeliveryEvent, rows_as_dicts
from chalicelib.services import intake
from chalicelib.services.intake import IntakeContext, ingest
from chalicelib.services.sweep import run_sweep
from infra.local.samples import GOOD_ROWS, issue_list_workbook

CAMPAIGN = "xinzhou-2023"
# The intake logs through a child logger; in a function app.py's logger is its parent.
PARENT_LOGGER = Logger(service=intake.logger.service)
NO_RETRY: tuple[float, ...] = ()


class Outbox:
    """A relay that keeps what it is given; ``refuse`` addresses get a transient error."""

    def __init__(self, refuse: str | None = None) -> None:
        self.sent: list[OutgoingMail] = []
        self.refuse = refuse

    def send(self, mail: OutgoingMail) -> None:
        if self.refuse and self.refuse in mail.to:
            raise TransientMailError(f"451 relay refused {self.refuse}")
        self.sent.append(mail)

    def keys(self) -> Counter[str]:
        return Counter(m.headers.get("X-Notice-Key", "") for m in self.sent)


class Bucket:
    """``ObjectStore``'s one method, over a dictionary of (key, version) → bytes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None], bytes] = {}

    def fetch(self, bucket: str, key: str, version_id: str | None, keep_up_to: int) -> FetchedObject:
        import hashlib

        data = self.objects[(key, version_id)]
        return FetchedObject(len(data), hashlib.sha256(data).hexdigest(), None, None, data)


def _campaign() -> Campaign:
    campaign = default_registry().campaign(CAMPAIGN)
    assert campaign is not None
    return campaign


def _context(store: MemoryStore, bucket: Bucket, outbox: Outbox) -> IntakeContext:
    return IntakeContext(
        registry=default_registry(),
        objects=bucket,  # type: ignore[arg-type]
        store=store,
        mail=outbox,
        max_upload_bytes=20 * 1024 * 1024,
    )


def _upload(bucket: Bucket, key: str, version: str, data: bytes, at: datetime) -> ObjectRef:
    bucket.objects[(key, version)] = data
    return ObjectRef("uploads", key, version, len(data), f"{int(at.timestamp()):016X}", at)


# --- intake --------------------------------------------------------------------------------------------


def test_an_accepted_list_is_recorded_its_rows_kept_the_pointer_moved_and_one_receipt_sent() -> None:
    store, bucket, outbox = MemoryStore(), Bucket(), Outbox()
    ctx = _context(store, bucket, outbox)
    at = datetime(2023, 5, 18, 2, 0, tzinfo=UTC)
    key = f"uploads/{CAMPAIGN}/140981/issue-list/2023-05/原平市5月清单.xlsx"
    ref = _upload(bucket, key, "v1", issue_list_workbook("原平市交通运输局", GOOD_ROWS), at)

    outcome = ingest(ref, ctx)
    assert (outcome.result, outcome.status, outcome.notice) == ("recorded", "accepted", "sent")
    [record] = store.unit_submissions(CAMPAIGN, "140981", limit=10).items
    assert (record.version_id, record.status, record.row_count, record.object_key) == ("v1", "accepted", 3, key)
    pointer = store.delivery(CAMPAIGN, "140981", "issue-list", "2023-05")
    assert pointer is not None and pointer.current_version == "v1" and pointer.first_accepted_at == at
    rows = rows_as_dicts(store.current_rows(CAMPAIGN, "140981", "issue-list", "2023-05"))
    assert [r["row"] for r in rows] == [6, 7, 8]
    [receipt] = outbox.sent
    assert "原平市" in receipt.subject and "已通过核验" in receipt.subject
    assert receipt.headers["X-Notice-Key"] == NoticeKey(CAMPAIGN, "receipt", "140981#v1").header

    # A redelivery of the same event completes nothing new and sends nothing twice.
    again = ingest(ref, ctx, attempt=2)
    assert (again.result, again.notice) == ("duplicate", "already-sent")
    assert len(outbox.sent) == 1 and len(store.unit_submissions(CAMPAIGN, "140981", limit=10).items) == 1


def test_a_rejected_upload_keeps_the_current_version_and_says_what_to_fix() -> None:
    store, bucket, outbox = MemoryStore(), Bucket(), Outbox()
    ctx = _context(store, bucket, outbox)
    at = datetime(2023, 5, 18, 2, 0, tzinfo=UTC)
    key = f"uploads/{CAMPAIGN}/140981/issue-list/2023-05/清单.xlsx"
    ingest(_upload(bucket, key, "good", issue_list_workbook("原平市交通运输局", GOOD_ROWS), at), ctx)
    outcome = ingest(_upload(bucket, key, "bad", b"not a workbook", at + timedelta(hours=1)), ctx)

    assert outcome.status == SubmissionStatus.REJECTED
    pointer = store.delivery(CAMPAIGN, "140981", "issue-list", "2023-05")
    assert pointer is not None and (pointer.current_version, pointer.latest_status) == ("good", "rejected")
    assert store.version_rows(CAMPAIGN, "140981", "issue-list", "2023-05", "bad") == []
    receipt = outbox.sent[-1]
    assert "未通过核验" in receipt.subject and "清单.xlsx" in receipt.text


def test_a_key_naming_no_unit_is_kept_as_refused_and_writes_nothing() -> None:
    store, bucket, outbox = MemoryStore(), Bucket(), Outbox()
    at = datetime(2023, 5, 18, 2, 0, tzinfo=UTC)
    ref = _upload(bucket, f"uploads/{CAMPAIGN}/140900/issue-list/2023-05/x.xlsx", "v1", b"x", at)
    outcome = ingest(ref, _context(store, bucket, outbox))
    assert outcome.result == "key-rejected"
    [refused] = store.refused_uploads()
    assert refused.code == "UNKNOWN_UNIT" and "140900" in refused.message
    assert outbox.sent == [] and store.campaign_submissions(CAMPAIGN, limit=10).items == ()


# --- the sweep -----------------------------------------------------------------------------------------


def _morning(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T09:00:00+08:00")


def _deadline(deadline_id: str) -> Deadline:
    return next(d for d in campaign_deadlines(_campaign()) if d.id == deadline_id)


def _accept(store: MemoryStore, unit: str, deadline: Deadline, at: datetime) -> None:
    for deliverable in deadline.deliverables:
        ref, version = f"S#{unit}", f"v-{unit}"
        store.record_delivery(
            DeliveryEvent(CAMPAIGN, unit, deliverable, deadline.period, ref, at, None, version, "accepted", 3)
        )


def test_reminders_go_once_to_every_unit_that_has_not_delivered() -> None:
    store, outbox = MemoryStore(), Outbox()
    day, deadline = "2023-05-17", _deadline("progress/2023-05")  # due 05-20: a reminder morning
    _accept(store, "140981", deadline, _morning("2023-05-16"))

    report = run_sweep(store, _campaign(), _morning(day), outbox, retry_delays=NO_RETRY)
    reminders = [i for i in report.items if i.deadline_id == deadline.id]
    units = {u.code for u in _campaign().units}
    assert {i.unit_code for i in reminders} == units - {"140981"}  # the unit that delivered is left alone
    assert {i.outcome for i in report.items} == {"sent"}
    assert set(outbox.keys().values()) == {1} and len(outbox.sent) == len(report.items)
    # Each one's notice is in the log as sent; a second run the same morning sends nothing.
    first = reminders[0]
    notice = store.get_notice(NoticeKey(CAMPAIGN, deadline.id, first.natural_key))
    assert notice is not None and notice.status == NoticeStatus.SENT
    again = run_sweep(store, _campaign(), _morning(day) + timedelta(minutes=10), outbox, retry_delays=NO_RETRY)
    assert {i.outcome for i in again.items} == {"already-sent"} and len(outbox.sent) == len(report.items)


def test_a_dry_run_decides_and_writes_nothing() -> None:
    store, outbox = MemoryStore(), Outbox()
    report = run_sweep(store, _campaign(), _morning("2023-05-17"), outbox, dry_run=True)
    assert report.items and {i.outcome for i in report.items} == {"would-send"}
    assert outbox.sent == []
    assert all(store.get_notice(NoticeKey(CAMPAIGN, i.deadline_id, i.natural_key)) is None for i in report.items)


@pytest.mark.parametrize("next_run", ["same morning", "next morning"])
def test_a_notice_the_relay_deferred_goes_out_once_later(next_run: str) -> None:
    store = MemoryStore()
    day, unit = "2023-05-17", "140929"
    flaky = Outbox(refuse=f"liaison.{unit}@example.cn")
    first = run_sweep(store, _campaign(), _morning(day), flaky, retry_delays=NO_RETRY)
    failed = [i for i in first.items if i.outcome == "failed"]
    assert failed and {i.unit_code for i in failed} == {unit}

    outbox = Outbox()
    later = _morning(day) + timedelta(minutes=15) if next_run == "same morning" else _morning("2023-05-18")
    second = run_sweep(store, _campaign(), later, outbox, retry_delays=NO_RETRY)
    resent = {i.natural_key: i.outcome for i in second.items if i.natural_key in {f.natural_key for f in failed}}
    assert resent == {f.natural_key: "sent" for f in failed}
    assert set(outbox.keys().values()) == {1}
