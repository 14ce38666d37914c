"""Issue 17 item 3: upload → verdict on the county page, for a 1,000-row list on the local stack.

The server side is measured: from the S3 put (what the page's presigned POST does) until the submission's
verdict is readable through the API (polled every 20 ms), split into the pump's pickup and the handler's run.
The page's side is its polling schedule: it sees the verdict at its first poll at or after that moment
(plus one request), so the page's figure is computed from the measured times and each schedule.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from tests.bench.table_cost import CAMPAIGN, api_get, put_upload
from tests.bench.workbooks import issue_workbook

OLD_SCHEDULE_MS = [1000 * (n + 1) for n in range(120)]  # sleep(1000) before every look


def new_schedule_ms() -> list[int]:
    """chalicelib/http/portal_page.py's waitFor: 150 ms, then x1.4 up to 500 ms."""
    times, at, delay = [], 0, 150
    while at < 120_000:
        at += delay
        times.append(at)
        delay = min(500, round(delay * 1.4))
    return times


@dataclass
class VerdictRun:
    visible_s: list[float] = field(default_factory=list)  # put → readable in the API
    request_s: list[float] = field(default_factory=list)  # one poll of the API

    def page_s(self, schedule_ms: list[int]) -> list[float]:
        poll = statistics.median(self.request_s)
        return [next(t for t in schedule_ms if t / 1000 >= v) / 1000 + poll for v in self.visible_s]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def run(system: Any, uploads: int = 10, rows: int = 1000) -> VerdictRun:
    body = issue_workbook(rows, unit_name="宁武县交通运输局")
    result = VerdictRun()
    for n in range(uploads):
        started = time.perf_counter()
        version = put_upload(system, "140925", "2023-06", f"宁武县清单{n}.xlsx", body)
        while True:
            asked = time.perf_counter()
            _, page = api_get(system, f"/campaigns/{CAMPAIGN}/submissions", unit="140925", limit="5")
            result.request_s.append(time.perf_counter() - asked)
            if any(item["version_id"] == version for item in page["items"]):
                result.visible_s.append(time.perf_counter() - started)
                break
            if time.perf_counter() - started > 60:
                raise TimeoutError("no verdict within 60 s")
            time.sleep(0.02)
        # A clerk's upload meets a quiet system: the previous one's rows, receipt and problems finish first
        # (a burst is the end-to-end line's business).
        while system.pump.busy and time.perf_counter() - started < 120:
            time.sleep(0.05)
    return result
