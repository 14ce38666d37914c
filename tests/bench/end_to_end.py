"""200 uploads from every registry unit through the local stack: bucket → queue → handler → table → API.

Two arrivals (issue 17 item 3): all objects put as fast as the client can, as on the last afternoon before a
deadline (the drain rate is the figure: uploads / (last visible − first put)); and the same uploads arriving
at a steady ``rate`` (the latency is the figure: can the stack keep up with that rate?). A poller asks the
office API (campaign feed, newest first, one Query a poll) until every version is visible. Latency is
put → visible, so it includes the queue wait behind earlier uploads; the pump runs
``LocalSettings.pump_workers`` handlers at once, as Lambda runs several invocations.

When everything is put at once, the last upload waits for all before it: at 5 uploads/s that is 40 s, so a
p95 of 10 s for a put-at-once burst would need a drain rate near 19 uploads/s. The latency target is
therefore judged on the steady arrival at the target rate.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.bench.table_cost import CAMPAIGN, api_get, put_upload
from tests.bench.workbooks import issue_workbook

PERIODS = ("2023-05", "2023-06", "2023-07", "2023-08")


@dataclass
class EndToEnd:
    uploads: int
    units: int
    seconds: float
    p50_s: float
    p95_s: float
    max_s: float

    @property
    def per_second(self) -> float:
        return self.uploads / self.seconds


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(system: Any, uploads: int = 200, rows: int = 30, timeout: float = 600, rate: float | None = None) -> EndToEnd:
    """``rate`` None: put everything at once; else one upload every 1/rate seconds."""
    from chalicelib.domain.registry import default_registry

    campaign = default_registry().campaign(CAMPAIGN)
    assert campaign is not None
    units = list(campaign.units)
    bodies = {u.code: issue_workbook(rows, unit_name=f"{u.name}交通运输局", seed=int(u.code)) for u in units}
    put_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                _, body = api_get(system, f"/campaigns/{CAMPAIGN}/submissions", limit="100")
            except OSError:  # moto's server is not thread-safe under load: a 500 now and then; ask again
                time.sleep(1.0)  # an office page refreshing once a second; more often loads the stack under test
                continue
            now = time.perf_counter()
            for item in body.get("items", []):
                seen_at.setdefault(item["version_id"], now)
            if put_at and set(put_at) <= set(seen_at) and len(put_at) == uploads:
                done.set()
            time.sleep(1.0)  # an office page refreshing once a second; more often loads the stack under test

    poller = threading.Thread(target=poll, name="bench-poller", daemon=True)
    poller.start()
    start = time.perf_counter()
    for n in range(uploads):
        if rate is not None:
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))
        unit = units[n % len(units)]
        period = PERIODS[(n // len(units)) % len(PERIODS)]
        version = put_upload(system, unit.code, period, f"{unit.name}{period}清单-{n}.xlsx", bodies[unit.code])
        put_at[version] = time.perf_counter()
    if not done.wait(timeout):
        raise TimeoutError(f"only {len(set(put_at) & set(seen_at))} of {uploads} uploads became visible")
    poller.join(timeout=5)
    latencies = [seen_at[v] - put_at[v] for v in put_at]
    last = max(seen_at[v] for v in put_at)
    return EndToEnd(
        uploads=uploads,
        units=len(units),
        seconds=last - start,
        p50_s=statistics.median(latencies),
        p95_s=_percentile(latencies, 0.95),
        max_s=max(latencies),
    )
