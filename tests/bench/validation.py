"""Validation throughput against the bare calamine read of the same bytes, and peak memory."""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.bench.workbooks import issue_workbook

PROJECT_DIR = __import__("pathlib").Path(__file__).resolve().parents[2]
UNIT_NAMES = ("原平市", "原平", "原平市交通运输局")


@dataclass(frozen=True)
class Throughput:
    rows: int
    bytes: int
    bare_ms: float
    validate_ms: float
    accepted_rows: int

    @property
    def ratio(self) -> float:
        return self.validate_ms / self.bare_ms

    @property
    def rows_per_s(self) -> float:
        return self.rows / (self.validate_ms / 1000)


def bare_read(data: bytes) -> Any:
    """What the target compares with: python-calamine reading the first sheet to Python values."""
    import python_calamine

    return python_calamine.load_workbook(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def validate(data: bytes) -> Any:
    from chalicelib.domain.tables import validate_table

    return validate_table(data, "原平市5月清单.xlsx", "issue-list", unit_names=UNIT_NAMES, campaign_year=2023)


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def throughput(rows: int, repeats: int) -> Throughput:
    """Bare read and validation alternate, so both see the same machine load; the median of each counts."""
    data = issue_workbook(rows)
    verdict = validate(data)  # warm: template, compiled schema, imports
    bare_read(data)
    bare, full = [], []
    for _ in range(repeats):
        bare.append(_timed(lambda: bare_read(data)))
        full.append(_timed(lambda: validate(data)))
    return Throughput(rows, len(data), statistics.median(bare), statistics.median(full), len(verdict.rows))


_MEMORY_PROBE = """
import json, sys
sys.path.insert(0, {root!r})

def high_water_kb():
    # VmHWM belongs to this process image; getrusage's ru_maxrss would carry the parent's over exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

from tests.bench.validation import validate
data = open({path!r}, "rb").read()
import chalicelib.domain.tables, python_calamine  # imports are not the file's cost
before = high_water_kb()
verdict = validate(data)
after = high_water_kb()
print(json.dumps({{"before_kb": before, "peak_kb": after, "rows": len(verdict.rows), "accepted": verdict.accepted}}))
"""


def peak_memory(rows: int) -> dict[str, Any]:
    """Peak RSS (VmHWM) of a fresh process validating the file: Rust allocations included, unlike tracemalloc."""
    from tests.bench.workbooks import CACHE_DIR

    issue_workbook(rows)
    path = next(CACHE_DIR.glob(f"issue-list-{rows}-*.xlsx"))
    probe = _MEMORY_PROBE.format(root=str(PROJECT_DIR), path=str(path))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PROJECT_DIR)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_mb"] = result["peak_kb"] / 1024
    result["before_mb"] = result["before_kb"] / 1024
    return result


def breakdown(rows: int, repeats: int) -> dict[str, float]:
    """Where the time of one validation goes (median ms): the bare read, our reader, header search, rules."""
    from chalicelib.domain.tables.header import find_header
    from chalicelib.domain.tables.readers import read_grids
    from chalicelib.domain.tables.rules import check_rows
    from chalicelib.domain.tables.templates import load_template

    data = issue_workbook(rows)
    template = load_template("issue-list")
    grid = read_grids(data, "x.xlsx")[0]
    match = find_header(grid, template)
    assert match is not None
    calls: dict[str, Callable[[], Any]] = {
        "bare read": lambda: bare_read(data),
        "read_grids": lambda: read_grids(data, "x.xlsx"),
        "find_header": lambda: find_header(grid, template),
        "check_rows": lambda: check_rows(grid, match, template, year=2023, unit_names=UNIT_NAMES),
        "validate_table": lambda: validate(data),
    }
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(_timed(call))
    return {name: statistics.median(values) for name, values in samples.items()}
