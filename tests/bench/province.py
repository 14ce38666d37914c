"""Issue 17: the office's reads and the ledger export on province-size synthetic campaigns (120 and 3,000 units).

A month of uploads (2023-05: every unit's 清单 of 20-200 rows,典型案例 from most, a tenth rejected with the
checker's messages, a tenth re-uploaded) is written straight into the table as the intake leaves it: the
pointers 25 per BatchWriteItem with what ``record_delivery`` keeps on them (counts by 问题方面, the rejection's
messages), and the rows through ``DynamoStore.write_version_rows``. Going through S3 and the pump would take
the local stack most of an hour for 3,000 units (about 20 ms of moto per call on this machine); what the reads
cost does not depend on how the items got there. For 3,000 units only the first two ledger pages' units get
their rows (the reads below touch no others); the export's 150,000 rows are written by the export's own
writer from synthetic rows, in a fresh process, to measure its time and peak memory.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.bench.table_cost import synthetic_campaign

ASPECTS = ("执法不规范", "逐利执法", "服务意识不强", "作风不实", "")
MONTH = "2023-05"
RECEIVED = datetime(2023, 6, 2, 1, 30, tzinfo=UTC)


@dataclass
class ReadCost:
    calls: dict[str, int] = field(default_factory=dict)
    items: int = 0  # items returned (Query Count, GetItem hits)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@contextmanager
def counted() -> Iterator[ReadCost]:
    """Every DynamoDB call from the bench's threads (not the event pump's), with the items each returned."""
    import botocore.client

    cost = ReadCost()
    original = botocore.client.BaseClient._make_api_call
    lock = threading.Lock()

    def record(self: Any, operation: str, params: Any) -> Any:
        response = original(self, operation, params)
        if self.meta.service_model.service_name == "dynamodb" and not threading.current_thread().name.startswith(
            "event-pump"
        ):
            with lock:
                cost.calls[operation] = cost.calls.get(operation, 0) + 1
                cost.items += int(response.get("Count", 1 if response.get("Item") else 0))
        return response

    botocore.client.BaseClient._make_api_call = record  # type: ignore[method-assign]
    started = time.perf_counter()
    try:
        yield cost
    finally:
        cost.seconds = time.perf_counter() - started
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def _rows(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "row": 5 + i,
            "sheet": "清单",
            "seq": str(i + 1),
            "aspect": rng.choice(ASPECTS),
            "symptom": f"问题表现{i}",
            "deadline": "2023-08-31",
        }
        for i in range(rng.randint(20, 200))
    ]


def seed_month(campaign: Any, rows_for_units: int, seed: int = 17) -> dict[str, int]:
    """The month's uploads as the intake leaves them (see the module docstring); returns what was written."""
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.adapters.models import Delivery, current_index_pk, delivery_sk, submission_pk
    from chalicelib.domain.ledger import aspect_tally

    store = default_store()
    rng = random.Random(seed)
    written = {"pointers": 0, "rows": 0}
    lists: list[tuple[str, str, str, list[dict[str, Any]]]] = []
    with Delivery.batch_write() as batch:
        for n, unit in enumerate(campaign.units):
            for deliverable in ("issue-list", "typical-case"):
                roll = rng.random()
                if deliverable == "typical-case" and roll < 0.3:
                    continue  # not every unit sends its cases
                rejected = roll > 0.9
                rows = _rows(rng) if deliverable == "issue-list" else [{"row": 3, "sheet": "案例", "facts": "事实"}]
                version = f"v{n}{deliverable[0]}{'b' if roll < 0.1 else 'a'}"
                order = f"{RECEIVED.isoformat()}#{n:032d}"
                item = Delivery(
                    submission_pk(campaign.id, unit.code),
                    delivery_sk(deliverable, MONTH),
                    gsi1pk=current_index_pk(campaign.id, deliverable, MONTH),
                    gsi1sk=f"U#{unit.code}",
                    campaign=campaign.id,
                    unit=unit.code,
                    deliverable=deliverable,
                    period=MONTH,
                    latest_order=order,
                    latest_status="rejected" if rejected else "accepted",
                    latest_submission_sk=f"S#{RECEIVED.isoformat()}#{version}",
                    latest_received_at=RECEIVED,
                    latest_messages=["第7行【完成时限】应为日期，如 2023-08-31"] if rejected else [],
                )
                if not rejected:
                    item.first_accepted_at = RECEIVED - timedelta(days=1)
                    item.current_version = version
                    item.current_order = order
                    item.current_submission_sk = item.latest_submission_sk
                    item.current_row_count = len(rows)
                    item.current_received_at = RECEIVED
                    item.current_aspect_counts = aspect_tally(rows)
                    item.current_row_problems = []
                    if n < rows_for_units:
                        lists.append((unit.code, deliverable, version, rows))
                batch.save(item)
                written["pointers"] += 1
    for unit_code, deliverable, version, rows in lists:
        store.write_version_rows(campaign.id, unit_code, deliverable, MONTH, version, rows)
        written["rows"] += len(rows)
    return written


def read_costs(campaign: Any) -> dict[str, ReadCost]:
    """Every office read of the campaign, as the API routes call them."""
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.domain.registry import Registry
    from chalicelib.services import queries

    store = default_store()
    registry = Registry({campaign.id: campaign})
    reads: dict[str, Callable[[], Any]] = {
        "status board (every deadline x unit)": lambda: queries.status_board(
            registry, store, campaign.id, as_of="2023-10-31"
        ),
        "stats (aspect x unit x period, every period)": lambda: queries.stats(registry, store, campaign.id),
        "ledger page (25 units, one period)": lambda: queries.list_issues(registry, store, campaign.id, period=MONTH),
        "cases page (25 units, one period)": lambda: queries.list_cases(registry, store, campaign.id, period=MONTH),
        "packages (every unit, the September summary)": lambda: queries.list_packages(registry, store, campaign.id),
        "one unit's ledger (every period)": lambda: queries.list_issues(
            registry, store, campaign.id, unit_ref=campaign.units[3].code
        ),
    }
    costs = {}
    for name, read in reads.items():
        with counted() as cost:
            read()
        costs[name] = cost
    return costs


EXPORT_SCRIPT = r"""
import json, sys, tempfile, time, os
from chalicelib.domain.exports import write_ledger_workbook
from chalicelib.domain.ledger import LedgerRow
units, per_unit = int(sys.argv[1]), int(sys.argv[2])
aspects = ("执法不规范", "逐利执法", "服务意识不强", "作风不实")
def rows():
    for u in range(units):
        for i in range(per_unit):
            yield LedgerRow(f"{900000 + u:06d}", f"测试{u}县交通运输局", "2023-05", f"v{u}", 5 + i, "清单", {
                "seq": str(i + 1), "aspect": aspects[i % 4],
                "symptom": "执法人员在路面执法中存在态度生硬、程序不规范的问题，群众反映较多" + str(i),
                "cause": "教育培训不到位，监督考核机制不健全", "measure": "开展专题培训，完善执法记录仪全程记录制度",
                "deadline": "2023-08-31", "owner": "执法大队", "status": "已完成"})
def hwm_mb():
    # VmHWM: this process image's peak RSS. ru_maxrss would carry the parent's over fork + exec (Linux keeps
    # it across execve), which is the bench's own, moto and all.
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
before = hwm_mb()
started = time.perf_counter()
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "ledger.xlsx")
    n = write_ledger_workbook(path, [("2023-05", rows())], ["忻州市交通运输系统", "专项整治事项清单"],
                              reporting_unit="山西省交通运输厅", filled_on="2023年6月5日")
    size = os.path.getsize(path)
seconds = time.perf_counter() - started
peak = hwm_mb()
print(json.dumps({"rows": n, "seconds": seconds, "peak_mb": peak, "before_mb": before, "bytes": size}))
"""


def export_cost(units: int, per_unit: int) -> dict[str, Any]:
    """The ledger workbook of ``units`` x ``per_unit`` rows written by the export worker's writer
    (constant_memory), in a fresh process: seconds and peak RSS."""
    out = subprocess.run(
        [sys.executable, "-c", EXPORT_SCRIPT, str(units), str(per_unit)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


WORKER_SCRIPT = r"""
import json, sys, time
from datetime import UTC, datetime
from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.domain.ledger import aspect_tally
from chalicelib.domain.registry import Registry
from chalicelib.domain.store import DeliveryEvent
from chalicelib.services import export_jobs
from tests.bench.table_cost import synthetic_campaign
units, per_unit = int(sys.argv[1]), int(sys.argv[2])
aspects = ("执法不规范", "逐利执法", "服务意识不强", "作风不实")
def hwm_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024
campaign = synthetic_campaign(units, "province-export-worker")
store = MemoryStore()
at = datetime(2023, 6, 1, 2, tzinfo=UTC)
for n, unit in enumerate(campaign.units):
    rows = [{"row": 5 + i, "sheet": "清单", "seq": str(i + 1), "aspect": aspects[i % 4],
             "symptom": "执法人员在路面执法中存在态度生硬、程序不规范的问题，群众反映较多" + str(i),
             "cause": "教育培训不到位，监督考核机制不健全", "measure": "开展专题培训，完善执法记录仪全程记录制度",
             "deadline": "2023-08-31", "owner": "执法大队", "status": "已完成"} for i in range(per_unit)]
    store.write_version_rows(campaign.id, unit.code, "issue-list", "2023-05", f"v{n}", rows)
    store.record_delivery(DeliveryEvent(campaign.id, unit.code, "issue-list", "2023-05", f"S#v{n}", at, None, f"v{n}",
                                        "accepted", len(rows), (), aspect_tally(rows)))
registry = Registry({campaign.id: campaign})
seeded = hwm_mb()
estimate = export_jobs.estimated_ledger_rows(registry, store, campaign.id, {"period": "2023-05"})
job = export_jobs.start_export(registry, store, campaign.id, {"period": "2023-05"}, estimate, lambda c, j: None)
put = {}
started = time.perf_counter()
done = export_jobs.run_export(registry, store, campaign.id, job.job_id, lambda key, body: put.update({key: len(body)}))
seconds = time.perf_counter() - started
print(json.dumps({"rows": done.rows, "status": done.status, "estimate": estimate, "seconds": seconds,
                  "bytes": sum(put.values()), "seeded_mb": seeded, "peak_mb": hwm_mb()}))
"""


def worker_cost(units: int, per_unit: int) -> dict[str, Any]:
    """The export worker's own work (``services.export_jobs.run_export``: the ledger by pages of units, problem
    numbers, the constant_memory writer, the put handed the bytes) on an in-memory store seeded with ``units``
    x ``per_unit`` current rows, in a fresh process: seconds and peak RSS (which includes the seeded store)."""
    out = subprocess.run(
        [sys.executable, "-c", WORKER_SCRIPT, str(units), str(per_unit)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def province_campaign(units: int) -> Any:
    return synthetic_campaign(units, f"province-bench-{units}")
