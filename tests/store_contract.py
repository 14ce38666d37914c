"""The ``CampaignStore`` contract, written once and run against every implementation.

``tests/unit/test_store_contract_memory.py`` runs it on ``MemoryStore``; ``tests/integration/
test_store_contract_dynamo.py`` on ``DynamoStore`` against the local stack. A subclass provides the
``store`` fixture. Each test works in a campaign of its own (a fresh id), so runs never see each other.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from chalicelib.domain.findings import Finding, NoticeStatus, SubmissionStatus
from chalicelib.domain.outgoing import NoticeKey, OutgoingMail
from chalicelib.domain.problems import (
    AcceptedList,
    UnitProblems,
    aggregate_counts,
    close,
    reconcile,
    rollback,
)
from chalicelib.domain.problems import counts as problem_counts
from chalicelib.domain.store import (
    CampaignStore,
    DeliveryEvent,
    InvalidCursorError,
    ProblemChange,
    ProblemConflictError,
    ProblemFilter,
    RefusedUpload,
    SubmissionFilter,
    SubmissionPage,
    SubmissionRecord,
)

T0 = datetime(2023, 5, 10, 2, 0, 0, 123000, tzinfo=UTC)


def submission(
    campaign: str,
    unit: str = "140981",
    *,
    at: datetime = T0,
    version: str = "v1",
    deliverable: str = "issue-list",
    period: str = "2023-05",
    status: str = SubmissionStatus.ACCEPTED,
) -> SubmissionRecord:
    return SubmissionRecord(
        campaign=campaign,
        unit=unit,
        unit_name=f"单位{unit}",
        deliverable=deliverable,
        period=period,
        bucket="uploads",
        object_key=f"uploads/{campaign}/{unit}/{deliverable}/{period}/清单.xlsx",
        version_id=version,
        sequencer="0055AED6DCD90281E5",
        file_name="清单.xlsx",
        size=1234,
        sha256="ab" * 32,
        etag='"etag"',
        received_at=at,
        received_at_local=at.isoformat(),
        status=status,
        errors=(Finding("BAD_DATE", "【完成时限】应为日期", sheet="清单", row=6, column="完成时限"),)
        if status == SubmissionStatus.REJECTED
        else (),
        warnings=(Finding("NOTE", "提示"),),
        row_count=3 if status == SubmissionStatus.ACCEPTED else None,
        details={"sheet": "清单"},
        updated_at=at,
    )


def event(
    campaign: str,
    version: str,
    at: datetime,
    *,
    status: str = SubmissionStatus.ACCEPTED,
    rows: int | None = 3,
    sequencer: str | None = None,
    unit: str = "140981",
    deliverable: str = "issue-list",
    period: str = "2023-05",
) -> DeliveryEvent:
    return DeliveryEvent(campaign, unit, deliverable, period, f"S#{version}", at, sequencer, version, status, rows)


def mail(text: str = "正文") -> OutgoingMail:
    return OutgoingMail(to=("a@example.cn",), cc=("b@example.cn",), subject="催报", text=text, message_id="<m@x>")


def all_pages(read: Callable[[str | None], SubmissionPage]) -> list[SubmissionRecord]:
    """Every item of a listing, following cursors (a page may be short, or empty, with a cursor)."""
    items: list[SubmissionRecord] = []
    cursor: str | None = None
    for _ in range(100):
        page = read(cursor)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise AssertionError("the listing never ended")


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same moment, each in its own thread; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class StoreContract:
    """Subclass with a ``store`` fixture returning the implementation under test."""

    @pytest.fixture
    def campaign(self) -> str:
        return f"contract-{uuid.uuid4().hex[:12]}"

    # --- submissions -------------------------------------------------------------------------------

    def test_a_submission_is_recorded_once_and_reads_back_whole(self, store: CampaignStore, campaign: str) -> None:
        first = submission(campaign, status=SubmissionStatus.REJECTED)
        recorded, created = store.record_submission(first)
        assert created and recorded == first
        # A redelivery (even one that judged differently) finds the first record and changes nothing.
        again, created = store.record_submission(submission(campaign, status=SubmissionStatus.ACCEPTED))
        assert not created and again.status == SubmissionStatus.REJECTED
        read = store.get_submission(campaign, "140981", first.ref)
        assert read is not None
        assert (read.ref, read.status, read.errors, read.warnings, read.row_count) == (
            first.ref,
            "rejected",
            first.errors,
            first.warnings,
            None,
        )
        assert read.received_at == T0 and read.size == 1234 and read.details == {"sheet": "清单"}
        assert store.get_submission(campaign, "140981", "S#nothing") is None

    def test_racing_redeliveries_create_one_record(self, store: CampaignStore, campaign: str) -> None:
        record = submission(campaign)
        results = together([lambda: store.record_submission(record) for _ in range(6)])
        assert sorted(created for _, created in results) == [False] * 5 + [True]

    def test_a_units_history_is_newest_first_and_pages_without_gaps(self, store: CampaignStore, campaign: str) -> None:
        times = [T0 + timedelta(minutes=m) for m in range(7)]
        for n, at in enumerate(times):
            status = SubmissionStatus.REJECTED if n % 3 == 0 else SubmissionStatus.ACCEPTED
            store.record_submission(submission(campaign, at=at, version=f"v{n}", status=status))
        store.record_submission(submission(campaign, unit="140921", at=T0, version="other"))

        def read(limit: int, where: SubmissionFilter | None = None) -> list[SubmissionRecord]:
            return all_pages(lambda c: store.unit_submissions(campaign, "140981", limit=limit, cursor=c, where=where))

        newest_first = [f"v{n}" for n in reversed(range(7))]
        assert [s.version_id for s in read(100)] == newest_first
        assert [s.version_id for s in read(2)] == newest_first  # pages in order, nothing twice, nothing lost
        first = store.unit_submissions(campaign, "140981", limit=3)
        assert len(first.items) == 3 and first.next_cursor
        rejected = read(2, SubmissionFilter(status=SubmissionStatus.REJECTED))
        assert [s.version_id for s in rejected] == ["v6", "v3", "v0"]

    def test_a_cursor_continues_only_its_own_listing(self, store: CampaignStore, campaign: str) -> None:
        for n in range(3):
            store.record_submission(submission(campaign, at=T0 + timedelta(minutes=n), version=f"v{n}"))
            store.record_submission(submission(campaign, unit="140921", at=T0 + timedelta(minutes=n), version=f"w{n}"))
        cursor = store.unit_submissions(campaign, "140981", limit=1).next_cursor
        assert cursor
        with pytest.raises(InvalidCursorError) as caught:
            store.unit_submissions(campaign, "140921", limit=1, cursor=cursor)
        assert caught.value.mismatch
        with pytest.raises(InvalidCursorError):
            store.campaign_submissions(campaign, limit=1, cursor=cursor)
        with pytest.raises(InvalidCursorError):
            store.unit_submissions(campaign, "140981", limit=1, cursor="bm90LWEta2V5")

    def test_the_campaign_feed_and_a_deadlines_listing(self, store: CampaignStore, campaign: str) -> None:
        store.record_submission(submission(campaign, "140981", at=T0, version="a"))
        store.record_submission(submission(campaign, "140921", at=T0 + timedelta(minutes=1), version="b"))
        store.record_submission(submission(campaign, "140981", at=T0 + timedelta(minutes=2), version="c"))
        store.record_submission(
            submission(campaign, "140981", at=T0 + timedelta(minutes=3), version="d", period="2023-06")
        )
        feed = all_pages(lambda c: store.campaign_submissions(campaign, limit=2, cursor=c))
        assert [s.version_id for s in feed] == ["d", "c", "b", "a"]
        june = all_pages(
            lambda c: store.campaign_submissions(campaign, limit=2, cursor=c, where=SubmissionFilter(period="2023-06"))
        )
        assert [s.version_id for s in june] == ["d"]
        mine = all_pages(
            lambda c: store.deadline_submissions(
                campaign, "issue-list", "2023-05", unit_code="140981", limit=1, cursor=c
            )
        )
        assert [s.version_id for s in mine] == ["c", "a"]  # this unit's, this period's, newest first
        everyone = store.deadline_submissions(campaign, "issue-list", "2023-05", limit=10)
        assert {s.version_id for s in everyone.items} == {"a", "b", "c"}

    def test_refused_keys_are_kept(self, store: CampaignStore, campaign: str) -> None:
        key = f"uploads/{campaign}/140999/x.xlsx"
        store.record_refused_upload(RefusedUpload("uploads", key, "v9", T0, "UNKNOWN_UNIT", "未找到填报单位"))
        [refused] = [r for r in store.refused_uploads(limit=1000) if r.object_key == key]
        assert (refused.version_id, refused.code, refused.received_at) == ("v9", "UNKNOWN_UNIT", T0)

    # --- versions and the pointer --------------------------------------------------------------------

    def test_a_versions_rows_are_kept_under_it_in_order(self, store: CampaignStore, campaign: str) -> None:
        rows = [
            {"row": 6 + n, "sheet": "清单", "aspect": "执法不规范问题", "deadline": date(2023, 6, 30), "n": n}
            for n in range(30)  # more than one batch of 25
        ]
        args = (campaign, "140981", "issue-list", "2023-05")
        assert store.write_version_rows(*args, "v1", rows) == 30
        assert store.write_version_rows(*args, "v1", rows) == 30  # a redelivery rewrites the same rows
        read = store.version_rows(*args, "v1")
        assert [r.number for r in read] == list(range(1, 31)) and [r.row for r in read] == [6 + n for n in range(30)]
        assert read[0].as_dict() == {
            "row": 6,
            "sheet": "清单",
            "aspect": "执法不规范问题",
            "deadline": "2023-06-30",
            "n": 0,
        }
        assert store.current_rows(*args) == []  # no pointer yet: nothing is current

    def test_the_pointer_moves_forward_only(self, store: CampaignStore, campaign: str) -> None:
        args = (campaign, "140981", "issue-list", "2023-05")
        store.write_version_rows(*args, "new", [{"row": 1}, {"row": 2}])
        store.write_version_rows(*args, "old", [{"row": 1}])
        later, earlier = T0 + timedelta(hours=1), T0
        assert store.record_delivery(event(campaign, "new", later, rows=2))
        assert not store.record_delivery(event(campaign, "old", earlier, rows=1))  # arrived late: does not win
        state = store.delivery(*args)
        assert state is not None
        assert (state.current_version, state.current_row_count, state.latest_submission_sk) == ("new", 2, "S#new")
        assert state.first_accepted_at == earlier  # …but it was accepted first: the unit delivered then
        assert [r.row for r in store.current_rows(*args)] == [1, 2]
        # A rejected re-upload is the latest, and shown; the current version stays.
        assert not store.record_delivery(event(campaign, "bad", later + timedelta(hours=1), status="rejected"))
        state = store.delivery(*args)
        assert state is not None and (state.current_version, state.latest_status) == ("new", "rejected")
        # Same instant: the sequencer decides.
        assert store.record_delivery(event(campaign, "seq", later + timedelta(hours=2), sequencer="0A"))
        assert not store.record_delivery(event(campaign, "seq0", later + timedelta(hours=2), sequencer="09"))
        assert store.delivery(*args).current_version == "seq"  # type: ignore[union-attr]

    def test_racing_pointer_moves_end_on_the_newest(self, store: CampaignStore, campaign: str) -> None:
        events = [event(campaign, f"v{n}", T0 + timedelta(seconds=n)) for n in range(8)]
        together([partial(store.record_delivery, e) for e in reversed(events)])
        state = store.delivery(campaign, "140981", "issue-list", "2023-05")
        assert state is not None and state.current_version == "v7" and state.first_accepted_at == T0

    def test_pointers_by_unit_and_by_deadline(self, store: CampaignStore, campaign: str) -> None:
        store.record_delivery(event(campaign, "a", T0))
        store.record_delivery(event(campaign, "b", T0, unit="140921", status="rejected"))
        store.record_delivery(
            DeliveryEvent(campaign, "140981", "typical-case", "2023-05", "S#c", T0, None, "c", "accepted", 3)
        )
        store.record_delivery(
            DeliveryEvent(campaign, "140981", "issue-list", "2023-06", "S#d", T0, None, "d", "accepted", 1)
        )
        by_deadline = store.deadline_deliveries(campaign, "issue-list", "2023-05")
        assert {(p.unit, p.current_version, p.latest_status) for p in by_deadline} == {
            ("140981", "a", "accepted"),
            ("140921", None, "rejected"),
        }
        assert {(p.deliverable, p.period) for p in store.unit_deliveries(campaign, "140981")} == {
            ("issue-list", "2023-05"),
            ("typical-case", "2023-05"),
            ("issue-list", "2023-06"),
        }
        assert {p.deliverable for p in store.unit_deliveries(campaign, "140981", "2023-05")} == {
            "issue-list",
            "typical-case",
        }
        assert store.delivery(campaign, "140999", "issue-list", "2023-05") is None

    # --- the notice log ------------------------------------------------------------------------------

    def test_a_notice_is_created_once_with_its_first_content(self, store: CampaignStore, campaign: str) -> None:
        key = NoticeKey(campaign, "progress/2023-05", "progress/2023-05|140981|reminder|2023-05-18")
        first = store.create_notice(key, "reminder", mail("第一次"), T0)
        again = store.create_notice(key, "reminder", mail("第二次"), T0 + timedelta(minutes=5))
        assert first.status == again.status == NoticeStatus.PENDING
        assert again.text == "第一次" and again.created_at == T0 and again.recipients == ("a@example.cn",)
        assert again.mail().cc == ("b@example.cn",) and again.key == key
        assert store.get_notice(NoticeKey(campaign, "progress/2023-05", "nothing")) is None

    def test_a_claim_is_held_for_its_lease_then_released(self, store: CampaignStore, campaign: str) -> None:
        key = NoticeKey(campaign, "receipt", "140981#v1")
        store.create_notice(key, "receipt", mail(), T0)
        lease = timedelta(minutes=5)
        assert store.claim_notice(key, T0, lease)
        assert not store.claim_notice(key, T0 + timedelta(minutes=1), lease)  # another sender backs off
        assert store.claim_notice(key, T0 + timedelta(minutes=6), lease)  # the first one crashed: lease over
        store.mark_notice_failed(key, "451 稍后重试" * 300)
        failed = store.get_notice(key)
        assert failed is not None and failed.status == NoticeStatus.FAILED and failed.attempts == 2
        assert failed.last_error is not None and len(failed.last_error) == 1000 and failed.lease_until is None
        assert store.claim_notice(key, T0 + timedelta(minutes=7), lease)  # failed: the next run retries
        sent_at = T0 + timedelta(minutes=8)
        store.mark_notice_sent(key, sent_at)
        sent = store.get_notice(key)
        assert sent is not None and (sent.status, sent.sent_at, sent.attempts) == (NoticeStatus.SENT, sent_at, 3)
        assert not store.claim_notice(key, T0 + timedelta(days=1), lease)  # sent: never again

    def test_a_rejected_notice_is_never_claimed_again(self, store: CampaignStore, campaign: str) -> None:
        key = NoticeKey(campaign, "receipt", "140981#v2")
        store.create_notice(key, "receipt", mail(), T0)
        assert store.claim_notice(key, T0, timedelta(minutes=5))
        store.mark_notice_rejected(key, "550 无此用户")
        assert not store.claim_notice(key, T0 + timedelta(days=1), timedelta(minutes=5))
        notice = store.get_notice(key)
        assert notice is not None and (notice.status, notice.last_error) == ("rejected", "550 无此用户")

    def test_racing_claims_have_one_winner(self, store: CampaignStore, campaign: str) -> None:
        key = NoticeKey(campaign, "receipt", "140981#race")
        store.create_notice(key, "receipt", mail(), T0)
        results = together([lambda: store.claim_notice(key, T0, timedelta(minutes=5)) for _ in range(8)])
        assert sorted(results) == [False] * 7 + [True]

    def test_unsent_notices_of_a_scope_since_a_day(self, store: CampaignStore, campaign: str) -> None:
        scope = "progress/2023-05"

        def notice(name: str, created: datetime) -> NoticeKey:
            key = NoticeKey(campaign, scope, name)
            store.create_notice(key, "reminder", mail(), created)
            return key

        notice("pending", T0)
        failed = notice("failed", T0)
        store.claim_notice(failed, T0, timedelta(minutes=5))
        store.mark_notice_failed(failed, "451")
        sending = notice("sending", T0)
        store.claim_notice(sending, T0, timedelta(minutes=5))
        sent = notice("sent", T0)
        store.claim_notice(sent, T0, timedelta(minutes=5))
        store.mark_notice_sent(sent, T0)
        notice("too-old", T0 - timedelta(days=8))
        store.create_notice(NoticeKey(campaign, "other-scope", "x"), "reminder", mail(), T0)
        unsent = store.unsent_notices(campaign, scope, T0 - timedelta(days=7))
        assert sorted(n.key.key for n in unsent) == ["failed", "pending", "sending"]
        assert all(n.key.scope == scope for n in unsent)

    # --- issue 14: office decisions ----------------------------------------------------------------

    def test_a_decision_is_written_once_and_listed_per_unit_apart_from_submissions(
        self, store: CampaignStore, campaign: str
    ) -> None:
        from chalicelib.domain.store import OfficeDecision

        record, _ = store.record_submission(submission(campaign, status=SubmissionStatus.REJECTED))

        def decision(sequence: int, what: str, unit: str = "140981", note: str = "经复核") -> OfficeDecision:
            return OfficeDecision(
                campaign, unit, "issue-list", "2023-05", record.ref, "v1", sequence, what, note, "张海峰",
                T0 + timedelta(days=sequence), row_count=2 if what == "accept" else None,
                overridden=("第6行：【完成时限】应为日期",) if what == "accept" else (),
            )  # fmt: skip

        assert store.record_decision(decision(1, "accept"))
        assert not store.record_decision(decision(1, "accept", note="重复提交"))  # the same natural key
        assert store.record_decision(decision(2, "return"))
        assert store.record_decision(decision(1, "accept", unit="140925"))
        mine = store.unit_decisions(campaign, "140981")
        assert [(d.sequence, d.decision, d.note) for d in mine] == [(1, "accept", "经复核"), (2, "return", "经复核")]
        assert mine[0] == decision(1, "accept")  # reads back whole
        assert store.unit_decisions(campaign, "140999") == []
        # Decisions live beside the unit's submissions but are never listed as one.
        assert [s.version_id for s in store.unit_submissions(campaign, "140981", limit=10).items] == ["v1"]

    def test_replacing_a_pointer_only_when_no_upload_moved_it_meanwhile(
        self, store: CampaignStore, campaign: str
    ) -> None:
        from dataclasses import replace as changed

        from chalicelib.domain.store import DeliveryPointer, order_key

        first = order_key(T0, "1")
        fresh = DeliveryPointer(
            campaign, "140981", "issue-list", "2023-05", latest_order=first, latest_status="returned"
        )
        assert not store.replace_delivery(fresh, "stale")  # no pointer yet: only expected None writes
        assert store.replace_delivery(fresh, None)
        assert store.delivery(campaign, "140981", "issue-list", "2023-05") == fresh
        store.record_delivery(event(campaign, "v2", T0 + timedelta(hours=1)))
        moved = store.delivery(campaign, "140981", "issue-list", "2023-05")
        assert moved is not None and moved.current_version == "v2"
        assert not store.replace_delivery(fresh, first)  # an upload moved it: the caller recomputes
        back = changed(fresh, latest_order=moved.latest_order)
        assert store.replace_delivery(back, moved.latest_order)
        state = store.delivery(campaign, "140981", "issue-list", "2023-05")
        assert state is not None and (state.current_version, state.first_accepted_at) == (None, None)
        assert [p.unit for p in store.deadline_deliveries(campaign, "issue-list", "2023-05")] == ["140981"]

    # --- issue 15: problems (对账销号) --------------------------------------------------------------

    def test_a_units_problems_are_saved_under_a_revision_and_read_back_whole(
        self, store: CampaignStore, campaign: str
    ) -> None:
        empty = store.unit_problems(campaign, "140981")
        assert empty.revision == 0 and empty.state.problems == () and empty.untold == ()
        result = reconcile(empty.state, accepted_list("140981", "v1", PROBLEM_TEXTS))
        untold = ({"id": "140981-2023-05-001", "action": "closed", "when": "2023-06-02T01:00:00Z"},)
        revision = store.save_problems(
            campaign,
            ProblemChange("140981", result.state, result.changed, result.removed, 0, untold, now=T0),
        )
        assert revision == 1
        stored = store.unit_problems(campaign, "140981")
        assert stored.revision == 1 and not stored.writing
        assert [p.as_json() for p in stored.state.problems] == [p.as_json() for p in result.state.problems]
        assert stored.state.current == {"issue-list/2023-05": "v1"} and stored.state.sequences == {"2023-05": 3}
        assert stored.untold == untold
        one = store.get_problem(campaign, "140981-2023-05-002")
        assert one is not None and one.text == PROBLEM_TEXTS[1][1]
        assert store.get_problem(campaign, "140981-2023-05-009") is None
        assert store.get_problem(campaign, "140932-2023-05-001") is None

    def test_a_stale_revision_commits_nothing(self, store: CampaignStore, campaign: str) -> None:
        first = reconcile(UnitProblems("140981"), accepted_list("140981", "v1", PROBLEM_TEXTS))
        store.save_problems(campaign, ProblemChange("140981", first.state, first.changed, (), 0, now=T0))
        with pytest.raises(ProblemConflictError):
            store.save_problems(campaign, ProblemChange("140981", first.state, first.changed, (), 0, now=T0))
        second = reconcile(first.state, accepted_list("140981", "v2", PROBLEM_TEXTS[:2], period="2023-06"))
        assert store.save_problems(campaign, ProblemChange("140981", second.state, second.changed, (), 1, now=T0)) == 2
        with pytest.raises(ProblemConflictError):
            store.save_problems(campaign, ProblemChange("140981", second.state, second.changed, (), 1, now=T0))
        assert store.unit_problems(campaign, "140981").revision == 2

    def test_removed_problems_are_deleted(self, store: CampaignStore, campaign: str) -> None:
        first = reconcile(UnitProblems("140981"), accepted_list("140981", "v1", PROBLEM_TEXTS))
        store.save_problems(campaign, ProblemChange("140981", first.state, first.changed, (), 0, now=T0))
        back = rollback(first.state, "issue-list", "2023-05", "v1")
        assert len(back.removed) == 3
        store.save_problems(campaign, ProblemChange("140981", back.state, back.changed, back.removed, 1, now=T0))
        stored = store.unit_problems(campaign, "140981")
        assert stored.state.problems == () and stored.state.sequences == {"2023-05": 3}
        assert store.get_problem(campaign, "140981-2023-05-001") is None

    def test_every_units_aggregate_in_one_read(self, store: CampaignStore, campaign: str) -> None:
        for unit in ("140981", "140932"):
            result = reconcile(UnitProblems(unit), accepted_list(unit, "v1", PROBLEM_TEXTS))
            store.save_problems(campaign, ProblemChange(unit, result.state, result.changed, (), 0, now=T0))
        found = {a.unit: a for a in store.problem_aggregates(campaign)}
        assert sorted(found) == ["140932", "140981"]
        state = store.unit_problems(campaign, "140981").state
        assert aggregate_counts(found["140981"].aggregate, date(2023, 12, 1)) == problem_counts(
            state, date(2023, 12, 1)
        )
        assert store.problem_aggregates(f"{campaign}-other") == []

    def test_problems_page_by_unit_status_and_campaign(self, store: CampaignStore, campaign: str) -> None:
        for unit in ("140981", "140932"):
            result = reconcile(UnitProblems(unit), accepted_list(unit, "v1", PROBLEM_TEXTS))
            state = close(
                result.state, f"{unit}-2023-05-002", who="办公室", when="2023-06-01T00:00:00Z", note="核实", force=True
            )
            store.save_problems(campaign, ProblemChange(unit, state, result.changed, (), 0, now=T0))

        def pages(where: ProblemFilter | None, limit: int) -> list[str]:
            ids: list[str] = []
            cursor: str | None = None
            for _ in range(50):
                page = store.problem_page(campaign, where=where, limit=limit, cursor=cursor)
                ids += [p.id for p in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    return ids
            raise AssertionError("the listing never ended")

        everything = pages(None, 2)
        assert everything == sorted(everything, key=lambda i: (i.split("-")[0], i)) and len(everything) == 6
        assert pages(ProblemFilter(unit="140981"), 2) == [f"140981-2023-05-00{n}" for n in (1, 2, 3)]
        assert pages(ProblemFilter(status="closed"), 1) == ["140932-2023-05-002", "140981-2023-05-002"]
        assert pages(ProblemFilter(unit="140932", status="open"), 1) == ["140932-2023-05-001", "140932-2023-05-003"]
        assert pages(ProblemFilter(aspect=PROBLEM_TEXTS[2][0]), 4) == ["140932-2023-05-003", "140981-2023-05-003"]
        with pytest.raises(InvalidCursorError):
            first = store.problem_page(campaign, where=ProblemFilter(unit="140981"), limit=1)
            assert first.next_cursor is not None
            store.problem_page(campaign, where=ProblemFilter(unit="140932"), limit=1, cursor=first.next_cursor)

    # --- issue 17: province scale (pointer aggregates, pointer pages) -----------------------------------

    def test_the_pointer_keeps_the_current_versions_counts_and_the_latest_messages(
        self, store: CampaignStore, campaign: str
    ) -> None:
        def counted(version: str, at: datetime, aspects: dict[str, int], **kw: Any) -> DeliveryEvent:
            return replace(event(campaign, version, at, **kw), aspect_counts=aspects, row_problems=(f"{version}缺",))

        later = T0 + timedelta(hours=1)
        args = (campaign, "140981", "issue-list", "2023-05")
        assert store.record_delivery(counted("new", later, {"执法不规范": 2}))
        # An older upload arriving late, and the newer one redelivered: the counts are the current version's.
        assert not store.record_delivery(counted("old", T0, {"执法不规范": 5, "逐利执法": 1}))
        store.record_delivery(counted("new", later, {"执法不规范": 2}))
        state = store.delivery(*args)
        assert state is not None and state.current_aspect_counts == {"执法不规范": 2}
        assert state.current_row_problems == ("new缺",)
        bad = replace(
            event(campaign, "bad", later + timedelta(hours=1), status="rejected", rows=None),
            messages=("第6行【完成时限】应为日期",),
        )
        store.record_delivery(bad)
        state = store.delivery(*args)
        assert state is not None and state.latest_messages == ("第6行【完成时限】应为日期",)
        assert state.current_aspect_counts == {"执法不规范": 2}  # a rejected upload leaves the counts alone
        again = replace(event(campaign, "fixed", later + timedelta(hours=2)), aspect_counts={"逐利执法": 4})
        store.record_delivery(again)
        state = store.delivery(*args)
        assert state is not None and state.latest_messages == () and state.current_aspect_counts == {"逐利执法": 4}
        # A version whose rows were not read with this event (a redelivery judged differently): no figure is
        # kept, so readers count its rows rather than trust another version's counts.
        unknown = replace(event(campaign, "unread", later + timedelta(hours=3)), aspect_counts=None, row_problems=None)
        store.record_delivery(unknown)
        state = store.delivery(*args)
        assert state is not None and state.current_version == "unread"
        assert state.current_aspect_counts is None and state.current_row_problems is None

    def test_pointer_pages_cover_every_unit_once_in_unit_order(self, store: CampaignStore, campaign: str) -> None:
        units = [f"9{n:05d}" for n in range(7)]
        for unit in reversed(units):
            store.record_delivery(event(campaign, f"v{unit}", T0, unit=unit))
        store.record_delivery(event(campaign, "other", T0, unit="900001", period="2023-06"))
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(20):
            page = store.deadline_deliveries_page(campaign, "issue-list", "2023-05", limit=3, cursor=cursor)
            assert len(page.items) <= 3
            seen += [p.unit for p in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == units
        with pytest.raises(InvalidCursorError):
            first = store.deadline_deliveries_page(campaign, "issue-list", "2023-05", limit=3)
            store.deadline_deliveries_page(campaign, "issue-list", "2023-06", limit=3, cursor=first.next_cursor)

    # --- issue 17: export jobs ------------------------------------------------------------------------

    def test_an_export_job_is_created_once_by_id_and_marked_until_done(
        self, store: CampaignStore, campaign: str
    ) -> None:
        from chalicelib.domain.store import ExportJob

        job = ExportJob(
            campaign, "job-1", "issues.xlsx", {"period": "2023-05", "aspect": "执法不规范"}, 30_000, "queued", T0, T0
        )
        created, fresh = store.create_export_job(job)
        assert fresh and created == job
        again, fresh = store.create_export_job(replace(job, estimated_rows=1, status="done"))
        assert not fresh and again == job  # idempotent by id: the first record stands
        assert store.export_job(campaign, "job-1") == job
        assert store.export_job(campaign, "job-2") is None and store.export_job("other", "job-1") is None
        running = store.mark_export_job(campaign, "job-1", "running", T0 + timedelta(seconds=1))
        assert running is not None and running.status == "running" and running.object_key is None
        failed = store.mark_export_job(campaign, "job-1", "failed", T0 + timedelta(seconds=2), message="失败")
        assert failed is not None and (failed.status, failed.message) == ("failed", "失败")
        done = store.mark_export_job(
            campaign, "job-1", "done", T0 + timedelta(seconds=3), object_key="exports/c/job-1.xlsx", rows=29_000
        )
        assert done is not None and (done.status, done.object_key, done.rows, done.message) == (
            "done",
            "exports/c/job-1.xlsx",
            29_000,
            None,
        )
        assert done.updated_at == T0 + timedelta(seconds=3) and done.filters == job.filters
        # Done is final: a redelivered message marking it running (or failed) changes nothing.
        assert store.mark_export_job(campaign, "job-1", "running", T0 + timedelta(seconds=4)) == done
        assert store.export_job(campaign, "job-1") == done
        assert store.mark_export_job(campaign, "no-such-job", "running", T0) is None
        assert store.export_job(campaign, "no-such-job") is None


PROBLEM_TEXTS = (
    ("执法不规范", "执法记录仪未全程开启，现场执法过程记录不完整"),
    ("执法不规范", "处罚决定书未在法定期限内送达当事人"),
    ("监督不到位", "对同类超限运输违法行为罚款数额相差较大"),
)


def accepted_list(unit: str, version: str, texts: tuple[tuple[str, str], ...], period: str = "2023-05") -> AcceptedList:
    rows = [
        {"row": 5 + n, "aspect": aspect, "symptom": text, "measure": "开展专项整改", "deadline": "2023-12-31"}
        for n, (aspect, text) in enumerate(texts)
    ]
    return AcceptedList(unit, "issue-list", period, version, rows, "2023-05-20T02:00:00Z", who=f"单位{unit}")
