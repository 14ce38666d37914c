"""Issue 17 item 2 on the in-memory store: the export job's estimate, start, worker and status.

The worker's workbook (built a page of units at a time) holds exactly the rows of the synchronous workbook;
a redelivered message writes nothing; a failure marks the job failed and a later delivery finishes it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest

from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.domain.exports import HEADER_LAST
from chalicelib.domain.ledger import aspect_tally
from chalicelib.domain.registry import Registry
from chalicelib.domain.store import DeliveryEvent
from chalicelib.services import export_jobs
from chalicelib.services.queries import QueryError, QueryNotFoundError, issues_workbook
from tests.bench.table_cost import synthetic_campaign

T0 = datetime(2023, 6, 1, 2, 0, tzinfo=UTC)
PERIODS = ("2023-05", "2023-06")
ASPECTS = ("执法不规范", "逐利执法", "监督不到位")


def _deliver(store: MemoryStore, campaign: str, unit: str, period: str, version: str, rows: list[Any], at: Any) -> None:
    store.write_version_rows(campaign, unit, "issue-list", period, version, rows)
    store.record_delivery(
        DeliveryEvent(
            campaign,
            unit,
            "issue-list",
            period,
            f"S#{version}",
            at,
            None,
            version,
            "accepted",
            len(rows),
            (),
            aspect_tally(rows),
        )
    )


@pytest.fixture
def world() -> tuple[Registry, Any, MemoryStore, dict[str, int]]:
    """60 units (more than two ledger pages), two periods, some re-uploads (only the current version counts)."""
    campaign = synthetic_campaign(60, "exports-60")
    store = MemoryStore()
    per_period = dict.fromkeys(PERIODS, 0)
    for n, unit in enumerate(campaign.units):
        for p, period in enumerate(PERIODS):
            if (n + p) % 5 == 0:
                continue
            rows = [
                {"row": 5 + i, "aspect": ASPECTS[(n + i) % 3], "symptom": f"问题{n}-{p}-{i}", "measure": "整改"}
                for i in range(1 + (n * 7 + p) % 6)
            ]
            if n % 9 == 0:  # an older, longer version first
                _deliver(store, campaign.id, unit.code, period, f"old{n}{p}", rows * 2, T0)
            _deliver(store, campaign.id, unit.code, period, f"v{n}{p}", rows, T0 + timedelta(hours=1))
            per_period[period] += len(rows)
    return Registry({campaign.id: campaign}), campaign, store, per_period


def _sheets(body: bytes) -> dict[str, list[tuple[Any, ...]]]:
    """Each sheet's data rows (below the header), sorted: the worker pages by unit code, the request by registry."""
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    found = {}
    for sheet in book.worksheets:
        rows = [tuple(r) for r in sheet.iter_rows(min_row=HEADER_LAST + 2, values_only=True) if any(r)]
        found[sheet.title] = sorted(rows, key=repr)
    return found


class Queue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, campaign: str, job: str) -> None:
        self.sent.append((campaign, job))


class Bucket:
    def __init__(self, fail: int = 0) -> None:
        self.puts: list[tuple[str, bytes]] = []
        self.fail = fail

    def put(self, key: str, body: bytes) -> None:
        if self.fail:
            self.fail -= 1
            raise OSError("S3 unavailable")
        self.puts.append((key, body))


def test_the_estimate_is_the_current_versions_row_counts(world: Any) -> None:
    registry, campaign, store, per_period = world
    assert export_jobs.estimated_ledger_rows(registry, store, campaign.id, {}) == sum(per_period.values())
    assert (
        export_jobs.estimated_ledger_rows(registry, store, campaign.id, {"period": "2023-06"}) == per_period["2023-06"]
    )
    unit = campaign.units[1]
    one_unit = sum(
        p.current_row_count
        for period in PERIODS
        if (p := store.delivery(campaign.id, unit.code, "issue-list", period)) is not None
    )
    assert export_jobs.estimated_ledger_rows(registry, store, campaign.id, {"unit": unit.code}) == one_unit
    with pytest.raises(QueryError):
        export_jobs.estimated_ledger_rows(registry, store, campaign.id, {"period": "1999-01"})


@pytest.mark.parametrize(
    "filters",
    [{}, {"period": "2023-05"}, {"aspect": "逐利执法"}, {"unit": "one unit"}],
    ids=["all", "period", "aspect", "unit"],
)
def test_the_worker_writes_the_synchronous_workbooks_rows_once_and_a_redelivery_writes_nothing(
    world: Any, filters: dict[str, str]
) -> None:
    registry, campaign, store, _ = world
    if "unit" in filters:  # the campaign is built by the fixture: its third unit
        filters = {"unit": campaign.units[2].code}
    queue, bucket = Queue(), Bucket()
    job = export_jobs.start_export(registry, store, campaign.id, filters, 1234, queue.send)
    assert job.status == "queued" and queue.sent == [(campaign.id, job.job_id)]
    assert store.export_job(campaign.id, job.job_id) == job

    done = export_jobs.run_export(registry, store, campaign.id, job.job_id, bucket.put)
    assert done is not None and done.status == "done"
    [(key, body)] = bucket.puts
    assert key == done.object_key == export_jobs.export_object_key(campaign.id, job.job_id)
    expected = _sheets(
        issues_workbook(
            registry, store, campaign.id, **{("unit_ref" if k == "unit" else k): v for k, v in filters.items()}
        )
    )
    assert _sheets(body) == expected
    assert done.rows == sum(len(rows) for rows in expected.values()) > 0

    # Redelivered (SQS is at least once): the job is done, nothing is built or put again.
    assert export_jobs.run_export(registry, store, campaign.id, job.job_id, bucket.put) == done
    assert len(bucket.puts) == 1


def test_a_failed_build_is_marked_then_retried_to_the_same_key(world: Any) -> None:
    registry, campaign, store, _ = world
    queue, bucket = Queue(), Bucket(fail=1)
    job = export_jobs.start_export(registry, store, campaign.id, {}, 99, queue.send)
    with pytest.raises(OSError):
        export_jobs.run_export(registry, store, campaign.id, job.job_id, bucket.put)
    failed = export_jobs.export_status(store, campaign.id, job.job_id, lambda key: f"https://signed/{key}")
    assert failed["status"] == "failed" and "重新导出" in failed["message"] and "url" not in failed
    done = export_jobs.run_export(registry, store, campaign.id, job.job_id, bucket.put)
    assert done is not None and done.status == "done" and done.message is None
    assert [key for key, _ in bucket.puts] == [export_jobs.export_object_key(campaign.id, job.job_id)]


def test_the_status_links_the_workbook_only_when_done(world: Any) -> None:
    registry, campaign, store, _ = world
    job = export_jobs.start_export(registry, store, campaign.id, {"period": "2023-05"}, 500, Queue().send)
    sign = lambda key: f"https://signed/{key}"  # noqa: E731
    queued = export_jobs.export_status(store, campaign.id, job.job_id, sign)
    assert (queued["status"], queued["estimated_rows"], queued["filters"]) == ("queued", 500, {"period": "2023-05"})
    assert "url" not in queued
    export_jobs.run_export(registry, store, campaign.id, job.job_id, Bucket().put)
    done = export_jobs.export_status(store, campaign.id, job.job_id, sign)
    assert done["status"] == "done" and done["url"] == f"https://signed/exports/{campaign.id}/{job.job_id}.xlsx"
    assert done["rows"] > 0 and done["file_name"].endswith(".xlsx")
    with pytest.raises(QueryNotFoundError):
        export_jobs.export_status(store, campaign.id, "no-such-job", sign)
    # A message for a job that does not exist (or another campaign's) is dropped.
    assert export_jobs.run_export(registry, store, campaign.id, "no-such-job", Bucket().put) is None


def test_bad_filters_start_no_job(world: Any) -> None:
    registry, campaign, store, _ = world
    queue = Queue()
    for filters in ({"period": "2030-01"}, {"unit": "没有这个单位"}, {"cursor": "x"}):
        with pytest.raises(QueryError):
            export_jobs.start_export(registry, store, campaign.id, filters, 1, queue.send)
    assert queue.sent == []


class Settings:
    export_sync_max_rows = 50


def test_small_exports_stay_in_the_request(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    registry, campaign, store, per_period = world
    import chalicelib.adapters.export_queue as export_queue

    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(export_queue, "send_export_job", lambda _config, c, j: sent.append((c, j)))
    small = {"unit": campaign.units[3].code}
    assert export_jobs.estimated_ledger_rows(registry, store, campaign.id, small) <= Settings.export_sync_max_rows
    assert export_jobs.export_if_big(registry, store, campaign.id, small, Settings()) is None
    big = export_jobs.export_if_big(registry, store, campaign.id, {}, Settings())
    assert big is not None and big.estimated_rows == sum(per_period.values()) > Settings.export_sync_max_rows
    assert sent == [(campaign.id, big.job_id)]
