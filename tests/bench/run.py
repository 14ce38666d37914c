"""``make bench``: measure, print a table with PASS/FAIL against the targets, save the figures.

Usage: ``python -m tests.bench.run [--quick]``. Everything is measured in this run and on this machine;
ratios compare figures taken side by side (interleaved), so a busy machine moves both alike. Results
also go to test-artifacts/bench/results.json (docs/performance.md records a run).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from tests.bench.stack import local_settings, prepare_environment

SETTINGS = local_settings()
prepare_environment(SETTINGS)  # before anything imports chalicelib.adapters.models

from tests.bench import cold_start, end_to_end, province, table_cost, validation, verdict  # noqa: E402
from tests.bench.stack import MetricLinesElsewhere  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "bench" / "results.json"
METRICS_LOG = RESULTS.parent / "metrics.log"  # the handler's EMF lines (Powertools prints them to stdout)
SWEEP_BUDGET_S = 300 / 5  # the prod sweep function's timeout with a 5x margin
# For the extrapolation to AWS (see docs/performance.md): a DynamoDB call from Lambda in-region, and an
# SMTP message on an open connection to the relay, generously; a TLS connection + login to the relay.
AWS_DYNAMODB_CALL_S = 0.010
SMTP_SEND_S = 0.050
SMTP_CONNECT_S = 0.500
# Issue 17 item 3: a deadline-day burst on the local stack.
TARGET_DRAIN_PER_S = 5.0
TARGET_VISIBLE_P95_S = 10.0


class Table:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []
        self.failures = 0

    def row(self, what: str, figure: str, verdict: bool | None = None) -> None:
        mark = "" if verdict is None else "PASS" if verdict else "FAIL"
        self.failures += verdict is False
        self.lines.append((what, figure, mark))
        print(f"  {what:<58} {figure:<62} {mark}", flush=True)

    def section(self, title: str) -> None:
        self.lines.append((f"## {title}", "", ""))
        print(f"\n{title}", flush=True)


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return _plain(asdict(value))  # type: ignore[arg-type]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def bench_validation(table: Table, results: dict[str, Any], quick: bool) -> None:
    table.section("1. Validation (parse + normalise + validate) vs the bare calamine read, same process")
    sizes = ((50, 31), (1000, 11)) if quick else ((50, 51), (1000, 21), (20000, 5))
    for rows, repeats in sizes:
        t = validation.throughput(rows, repeats)
        results.setdefault("validation", []).append({**asdict(t), "ratio": t.ratio, "rows_per_s": t.rows_per_s})
        figure = f"{t.rows_per_s:,.0f} rows/s; {t.validate_ms:.1f} ms vs bare {t.bare_ms:.1f} ms = {t.ratio:.2f}x"
        table.row(f"{rows:,} rows ({t.bytes / 1024:.0f} KB .xlsx)", figure, t.ratio <= 2.5 if rows == 1000 else None)
    parts = validation.breakdown(1000, 11)
    results["validation_breakdown_1000"] = parts
    table.row(
        "  of which, 1,000 rows (ms, median)",
        "; ".join(f"{k} {v:.1f}" for k, v in parts.items()),
    )
    rows = 2000 if quick else 20000
    memory = validation.peak_memory(rows)
    results["memory"] = memory
    table.row(
        f"peak memory, {rows:,} rows (fresh process RSS)",
        f"{memory['peak_mb']:.0f} MB (imports alone {memory['before_mb']:.0f} MB), {memory['rows']:,} rows",
        memory["peak_mb"] < 512,
    )


def bench_cold_start(table: Table, results: dict[str, Any], quick: bool) -> None:
    runs = 5 if quick else 11
    table.section(f"2. Cold start: median of {runs} fresh processes, prod stage environment")
    zip_path, size_mb = cold_start.build_package()
    results["package_mb"] = size_mb
    table.row("deployment package (make package: build/deployment.zip)", f"{size_mb:.1f} MB", size_mb < 50)
    settings = {"venv (site-packages, bytecode cached)": cold_start.venv_cold_start(runs)}
    settings.update({f"package, {k}": v for k, v in cold_start.package_cold_start(zip_path, runs).items()})
    results["cold_start"] = settings
    for setting, entries in settings.items():
        base = float(entries["boto3"]["median_ms"])
        judged = "as built" in setting or setting.startswith("venv")
        table.row(f"{setting}: import boto3", f"{base:.0f} ms")
        for name, figures in entries.items():
            if name == "boto3":
                continue
            ms = float(figures["median_ms"])
            heavy = ", ".join(figures["heavy"]) or "none"
            ok = ms <= 1.5 * base and (name.startswith("upload") or not figures["heavy"])
            table.row(
                f"  {name}", f"{ms:.0f} ms = {ms / base:.2f}x boto3; heavy modules: {heavy}", ok if judged else None
            )


def _bw(count: Any) -> int:
    return int(count.operations.get("BatchWriteItem", 0))


def bench_table(table: Table, results: dict[str, Any], system: Any, quick: bool) -> None:
    table.section("3. DynamoDB operations per action (botocore hook on the local stack; CU as moto reports them)")
    first = table_cost.upload_cost(system, 50, "2023-05")
    table.row("accepted upload, 50 rows", first.summary(), "Scan" not in first.operations)
    again = table_cost.upload_cost(system, 50, "2023-05")
    table.row(
        "re-upload, 50 rows (new version, pointer moves)",
        again.summary(),
        _bw(again) == 2 * math.ceil(50 / 25) and "Scan" not in again.operations,  # rows, then problems
    )
    big = table_cost.upload_cost(system, 1000, "2023-05")
    # Since issue 15 an issue list's intake also writes the problems it changes (25 a BatchWriteItem): the 50
    # re-listed ones and 950 new. Past 1 MB the unit's problems and the version's rows take one more Query page.
    table.row(
        "re-upload, 1,000 rows",
        big.summary(),
        _bw(big) == 2 * math.ceil(1000 / 25) and big.total - _bw(big) <= again.total - _bw(again) + 2,
    )
    status = table_cost.query_cost(system, f"/campaigns/{table_cost.CAMPAIGN}/status", as_of="2023-08-31")
    unit = table_cost.query_cost(system, f"/campaigns/{table_cost.CAMPAIGN}/submissions", unit="140981")
    table.row("status board (every deadline x unit), before the 200 uploads", status.summary())
    # The submissions and the office's decisions on them (issue 14): one Query each, whatever the unit holds.
    table.row("one unit's submissions", unit.summary(), unit.operations == {"Query": 2})
    results["table"] = {"upload": first, "reupload": again, "reupload_1000": big, "status": status, "unit": unit}
    bench_problems(table, results, system)


def bench_problems(table: Table, results: dict[str, Any], system: Any) -> None:
    """Issue 15's line (part of ``stack``; alone with ``--only problems``: it uploads to a unit of its own)."""
    problems = table_cost.problem_reupload_cost(system, 1000)
    results["problems_reupload_1000"] = problems
    table.row(
        "对账销号: a 1,000-problem unit re-uploads its list",
        f"intake {problems.dynamodb.summary()}; put → committed {problems.seconds:.1f} s",
        problems.problems == 1000
        and problems.entries_per_version == 1
        and "Scan" not in problems.dynamodb.operations
        and _bw(problems.dynamodb) == 2 * math.ceil(1000 / 25),
    )
    table.row(
        "  of which refresh_problems (read, match, fold, write 1,000)",
        f"{problems.refresh_dynamodb.summary()}; {problems.refresh_seconds:.1f} s",
        _bw(problems.refresh_dynamodb) == math.ceil(1000 / 25) and problems.refresh_dynamodb.total <= 46,
    )


def bench_sweep(table: Table, results: dict[str, Any], system: Any, quick: bool) -> None:
    table.section("3b. The daily sweep (synthetic campaigns; table reads in full, notices sent through the sink)")
    sizes = (15, 120) if quick else (15, 120, 3000)
    for units in sizes:
        run = table_cost.sweep_cost(system, units, sample=400 if units > 120 else None)
        results.setdefault("sweep", []).append(run)
        calls = run.dynamodb.total
        # AWS: the workers share the calls and the SMTP exchanges; one connection each.
        estimate = (calls * AWS_DYNAMODB_CALL_S + run.notices * SMTP_SEND_S) / run.workers
        estimate += SMTP_CONNECT_S
        # Judged on the AWS estimate: a call to moto in this process costs ~20 ms of Python, not DynamoDB's
        # ~5-10 ms of network, and the workers share one GIL with the server here.
        within = estimate <= SWEEP_BUDGET_S
        how = "local" if run.sent_sample == run.notices else f"local (sent {run.sent_sample}, rest extrapolated)"
        table.row(
            f"daily sweep, {units:,} units ({run.day.isoformat()}, {run.notices:,} notices, {run.workers} workers)",
            f"{run.seconds:.1f} s {how}, est. AWS {estimate:.0f} s (budget {SWEEP_BUDGET_S:.0f} s); "
            f"{run.dynamodb.summary()}; {run.smtp_connections} SMTP conn.",
            within and "Scan" not in run.dynamodb.operations,
        )
    old = table_cost.sweep_cost(system, 120, reuse_connection=False, tag="-per-notice")
    results["sweep_per_notice_connection"] = old
    table.row(
        "  the same 120-unit sweep, one SMTP connection per notice",
        f"{old.seconds:.1f} s local; {old.smtp_connections} SMTP connections "
        f"(est. +{(old.smtp_connections - old.workers) * SMTP_CONNECT_S / old.workers:.0f} s of TLS+login "
        "on the relay)",
    )


def bench_end_to_end(table: Table, results: dict[str, Any], system: Any, quick: bool) -> None:
    workers = system.settings.pump_workers
    table.section(
        f"4. End to end: uploads through bucket → queue → handler ({workers} at once) → table, seen in the API"
    )
    uploads = 40 if quick else 200
    e2e = end_to_end.run(system, uploads=uploads)
    results["end_to_end"] = {**asdict(e2e), "per_second": e2e.per_second}
    table.row(
        f"{e2e.uploads} uploads from {e2e.units} units (30-row lists), put at once: drained",
        f"{e2e.per_second:.1f} uploads/s (target ≥ {TARGET_DRAIN_PER_S:g}); put → visible p50 {e2e.p50_s:.1f} s, "
        f"p95 {e2e.p95_s:.1f} s, max {e2e.max_s:.1f} s",
        e2e.per_second >= TARGET_DRAIN_PER_S,
    )
    steady = end_to_end.run(system, uploads=uploads, rate=TARGET_DRAIN_PER_S)
    results["end_to_end_steady"] = {**asdict(steady), "per_second": steady.per_second}
    table.row(
        f"{steady.uploads} uploads arriving at {TARGET_DRAIN_PER_S:g}/s: put → visible",
        f"p50 {steady.p50_s:.1f} s, p95 {steady.p95_s:.1f} s (target ≤ {TARGET_VISIBLE_P95_S:g} s), "
        f"max {steady.max_s:.1f} s",
        steady.p95_s <= TARGET_VISIBLE_P95_S,
    )
    before = results["table"]["status"]  # measured before the uploads
    after = table_cost.query_cost(system, f"/campaigns/{table_cost.CAMPAIGN}/status", as_of="2023-08-31")
    results["table"]["status_after"] = after
    table.row(
        f"status board after the {uploads} uploads",
        after.summary(),
        after.operations.get("Query") == before.operations.get("Query") and "Scan" not in after.operations,
    )


def bench_province(table: Table, results: dict[str, Any], system: Any, quick: bool) -> None:
    table.section(
        "5. Province scale (issue 17): office reads on synthetic campaigns, a month of uploads written as the "
        f"intake leaves them; est. AWS = calls x {AWS_DYNAMODB_CALL_S * 1000:.0f} ms, one after another"
    )
    sizes = (120, 3000)
    costs: dict[int, dict[str, province.ReadCost]] = {}
    for units in sizes:
        campaign = province.province_campaign(units)
        start = time.perf_counter()
        written = province.seed_month(campaign, rows_for_units=units if units <= 120 else 50)
        table.row(
            f"{units:,} units: the month written",
            f"{written['pointers']:,} pointers, {written['rows']:,} rows in {time.perf_counter() - start:.0f} s",
        )
        costs[units] = province.read_costs(campaign)
    small, big = sizes
    for name in costs[big]:
        for units in sizes:
            cost = costs[units][name]
            ops = ", ".join(f"{op} {n}" for op, n in sorted(cost.calls.items()))
            figure = (
                f"{cost.total} calls ({ops}); {cost.items:,} items; est. AWS {cost.total * AWS_DYNAMODB_CALL_S:.2f} s"
                f" (local {cost.seconds:.1f} s)"
            )
            verdict = None
            if units == big:
                # O(1) or O(pages): the big campaign may only add the pages of a longer index answer
                # (DynamoDB returns at most 1 MB a call; a pointer is well under 1 KB).
                extra_pages = -(-cost.items // 1000)
                verdict = "Scan" not in cost.calls and cost.total <= costs[small][name].total + extra_pages
            table.row(f"  {name}, {units:,} units", figure, verdict)
    results["province"] = {str(u): {k: asdict(v) for k, v in c.items()} for u, c in costs.items()}
    export_units, per_unit = (300, 50) if quick else (3000, 50)
    export = province.export_cost(export_units, per_unit)
    results["province_export"] = export
    reads = export_units + 1  # the worker reads every unit's current rows: a Query each, plus the pointer pages
    table.row(
        f"ledger export, {export_units:,} units x {per_unit} rows (constant_memory writer, fresh process)",
        f"{export['rows']:,} rows, {export['bytes'] / 1e6:.1f} MB .xlsx in {export['seconds']:.1f} s, "
        f"peak {export['peak_mb']:.0f} MB; + reads est. AWS {reads * AWS_DYNAMODB_CALL_S / 8:.1f} s with 8 readers",
        export["seconds"] + reads * AWS_DYNAMODB_CALL_S / 8 <= 60 and export["peak_mb"] <= 512,
    )
    worker = province.worker_cost(export_units, per_unit)
    results["province_export_worker"] = worker
    table.row(
        f"export worker (async path), {export_units:,} units x {per_unit} rows, in-memory store, fresh process",
        f"{worker['rows']:,} rows ({worker['status']}; estimate {worker['estimate']:,}), "
        f"{worker['bytes'] / 1e6:.1f} MB in {worker['seconds']:.1f} s, peak {worker['peak_mb']:.0f} MB "
        f"({worker['seeded_mb']:.0f} MB the seeded store); + reads est. AWS {reads * AWS_DYNAMODB_CALL_S / 8:.1f} s",
        worker["rows"] == export_units * per_unit
        and worker["seconds"] + reads * AWS_DYNAMODB_CALL_S / 8 <= 60
        and worker["peak_mb"] - worker["seeded_mb"] + 20 <= 512,
    )


def bench_verdict(table: Table, results: dict[str, Any], system: Any, quick: bool) -> None:
    table.section("6. Upload → verdict on the county page, 1,000-row list (issue 17 item 3)")
    run = verdict.run(system, uploads=5 if quick else 12)
    results["verdict"] = asdict(run)
    table.row(
        "put → verdict readable in the API (measured)",
        f"p50 {statistics.median(run.visible_s):.2f} s, p95 {verdict.p95(run.visible_s):.2f} s; "
        f"one poll {statistics.median(run.request_s) * 1000:.0f} ms",
    )
    old = run.page_s(verdict.OLD_SCHEDULE_MS)
    new = run.page_s(verdict.new_schedule_ms())
    table.row(
        "  on the page, polling every 1 s (before)", f"p50 {statistics.median(old):.2f} s, p95 {verdict.p95(old):.2f} s"
    )
    table.row(
        "  on the page, polling 150 ms x1.4 up to 500 ms (now)",
        f"p50 {statistics.median(new):.2f} s, p95 {verdict.p95(new):.2f} s",
        verdict.p95(new) <= 1.0,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for trying the bench itself")
    parser.add_argument(
        "--only", choices=("validation", "cold-start", "stack", "problems", "province", "verdict"), default=None
    )
    args = parser.parse_args(argv)
    # The handler's metric lines (EMF JSON on stdout, as Lambda wants them) go to a log file, not the report.
    sys.stdout = MetricLinesElsewhere(sys.stdout, METRICS_LOG)  # type: ignore[assignment]
    table = Table()
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "quick": args.quick}
    began = time.perf_counter()
    if args.only in (None, "validation"):
        bench_validation(table, results, args.quick)
    if args.only in (None, "cold-start"):
        bench_cold_start(table, results, args.quick)
    if args.only in (None, "stack", "problems", "province", "verdict"):
        import http.server

        from infra.local.system import LocalSystem

        # The local API server logs every request; the poller makes hundreds.
        http.server.BaseHTTPRequestHandler.log_message = lambda *args: None  # type: ignore[method-assign]

        with LocalSystem(SETTINGS) as system:
            if args.only in (None, "verdict"):
                bench_verdict(table, results, system, args.quick)
            if args.only in (None, "stack"):
                bench_table(table, results, system, args.quick)
                # Before the sweeps fill the table: moto answers an index Query by reading every item.
                bench_end_to_end(table, results, system, args.quick)
                bench_sweep(table, results, system, args.quick)
            if args.only == "problems":
                table.section("3. DynamoDB operations per action: 对账销号 only")
                bench_problems(table, results, system)
            if args.only in (None, "province"):
                bench_province(table, results, system, args.quick)
        import shutil

        shutil.rmtree(SETTINGS.outbox_dir, ignore_errors=True)  # thousands of notices nobody reads
    results["seconds"] = time.perf_counter() - began
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(_plain(results), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    verdict = "all targets met" if not table.failures else f"{table.failures} target(s) missed"
    metric_lines = getattr(sys.stdout, "metric_lines", 0)
    print(
        f"\n{verdict}; {results['seconds']:.0f} s; figures in {RESULTS}; {metric_lines} metric lines in {METRICS_LOG}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
