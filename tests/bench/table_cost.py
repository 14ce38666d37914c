"""DynamoDB cost of the hot paths, counted against the local stack: an upload, a re-upload, the office's
queries, and the daily sweep for 15, 120 and 3,000 units (synthetic campaigns built like the registry's)."""

from __future__ import annotations

import copy
import json
import random
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

from tests.bench.stack import DynamoCount, dynamodb_calls
from tests.bench.workbooks import issue_workbook

CAMPAIGN = "xinzhou-2023"
OFFICE_TOKEN = "local-office-token"
CAMPAIGN_FILE = "chalicelib/data/campaigns/xinzhou-2023.json"
PUMP_THREADS = ("event-pump", *(f"event-pump-{n}" for n in range(16)))  # the pump and its workers


def api_get(system: Any, path: str, **params: str) -> tuple[int, Any]:
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    request = urllib.request.Request(
        f"{system.settings.api_url}{urllib.parse.quote(path)}{query}",
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.load(response)


def put_upload(system: Any, unit: str, period: str, name: str, body: bytes, deliverable: str = "issue-list") -> str:
    key = f"uploads/{CAMPAIGN}/{unit}/{deliverable}/{period}/{name}"
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]


def wait_handled(system: Any, version_id: str, timeout: float = 120) -> None:
    """Until the pump has handled the S3 event of this very version (its body names the version)."""
    deadline = time.monotonic() + timeout
    while not any(version_id in body for body in list(system.pump.bodies)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the event pump did not handle version {version_id}")
        time.sleep(0.02)


def upload_cost(system: Any, rows: int, period: str) -> DynamoCount:
    """The DynamoDB calls the upload handler makes for one accepted upload (the pump's thread only)."""
    body = issue_workbook(rows, unit_name="原平市交通运输局")
    with dynamodb_calls(threads=PUMP_THREADS) as count:
        version = put_upload(system, "140981", period, f"原平市{period}清单.xlsx", body)
        wait_handled(system, version)
    return count


def query_cost(system: Any, path: str, **params: str) -> DynamoCount:
    with dynamodb_calls(exclude=("event-pump",)) as count:  # the API's calls only
        status, _ = api_get(system, path, **params)
    assert status == 200, status
    return count


# --- the sweep on synthetic campaigns ------------------------------------------------------------------


def synthetic_campaign(units: int, campaign_id: str) -> Any:
    """The registry's campaign with ``units`` made-up units (codes 9xxxxx), built by registry.build_campaign."""
    from chalicelib.domain.registry import build_campaign
    from infra.local.settings import PROJECT_DIR

    raw = json.loads((PROJECT_DIR / CAMPAIGN_FILE).read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    raw["id"] = campaign_id
    raw["units"] = [
        {
            "code": f"{900000 + n:06d}",
            "name": f"测试{n}县",
            "contacts": [
                {
                    "role": "分管领导",
                    "name": f"领导{n}",
                    "title": "副局长",
                    "mobile": None,
                    "email": f"leader{n}@example.cn",
                },
                {
                    "role": "联络员",
                    "name": f"联络员{n}",
                    "title": "科员",
                    "mobile": None,
                    "email": f"liaison{n}@example.cn",
                },
            ],
        }
        for n in range(units)
    ]
    return build_campaign(raw)


def busiest_day(campaign: Any) -> date:
    """The campaign day on which a unit that delivered nothing gets the most notices (the sweep's worst day)."""
    from chalicelib.domain.notice_policy import unit_notice_kind
    from chalicelib.services.sweep import deadlines_due

    best, best_count = date(2023, 5, 21), -1
    day = date(2023, 4, 1)
    while day <= date(2023, 10, 31):
        due = deadlines_due(campaign, day)
        count = sum(1 for d in due if unit_notice_kind(campaign.notice_policy, d, day) is not None)
        if count > best_count:
            best, best_count = day, count
        day += timedelta(days=1)
    return best


def seed_pointers(campaign: Any, day: date, seed: int = 7) -> dict[str, int]:
    """Delivery pointers for the deadlines owing notices on ``day``: 60 % delivered on time, 10 % rejected,
    30 % nothing; written 25 per request (BatchWriteItem), as an upload season would leave them."""
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.adapters.models import Delivery, current_index_pk, delivery_sk, submission_pk
    from chalicelib.domain.packages import required_parts
    from chalicelib.services.sweep import deadlines_due

    default_store()  # binds the models to the stack's table; seeding writes them directly, 25 per request
    rng = random.Random(seed)
    shares = {"accepted": 0, "rejected": 0, "nothing": 0}
    with Delivery.batch_write() as batch:
        for deadline in deadlines_due(campaign, day):
            for deliverable, _ in required_parts(deadline):
                for unit in campaign.units:
                    roll = rng.random()
                    kind = "accepted" if roll < 0.6 else "rejected" if roll < 0.7 else "nothing"
                    shares[kind] += 1
                    if kind == "nothing":
                        continue
                    received = deadline.due_at.astimezone(UTC) - timedelta(days=2)
                    item = Delivery(
                        submission_pk(campaign.id, unit.code),
                        delivery_sk(deliverable, deadline.period),
                        gsi1pk=current_index_pk(campaign.id, deliverable, deadline.period),
                        gsi1sk=f"U#{unit.code}",
                        campaign=campaign.id,
                        unit=unit.code,
                        deliverable=deliverable,
                        period=deadline.period,
                        latest_order=f"{received.isoformat()}#0",
                        latest_status=kind,
                        latest_submission_sk=f"S#{deliverable}#{deadline.period}#{unit.code}",
                        latest_received_at=received,
                    )
                    if kind == "accepted":
                        item.first_accepted_at = received
                        item.current_version = f"v-{unit.code}"
                        item.current_order = item.latest_order
                        item.current_submission_sk = item.latest_submission_sk
                        item.current_row_count = 3
                        item.current_received_at = received
                    batch.save(item)
    return shares


class PerNoticeConnection:
    """The sender as it was: no ``session()``, so a new SMTP connection for every notice."""

    def __init__(self, sender: Any) -> None:
        self._sender = sender

    def send(self, mail: Any) -> None:
        self._sender.send(mail)


@dataclass
class SweepRun:
    units: int
    day: date
    seconds: float  # measured, or reads measured + sending extrapolated from ``sent_sample`` notices
    dynamodb: DynamoCount  # likewise: the sample's calls scaled to every notice
    notices: int
    outcomes: dict[str, int]
    smtp_connections: int
    workers: int
    sent_sample: int  # notices actually sent; == notices when nothing was extrapolated
    read_seconds: float = 0.0


def sweep_cost(
    system: Any, units: int, reuse_connection: bool = True, tag: str = "", sample: int | None = None
) -> SweepRun:
    """The sweep's table reads and decisions in full; then every notice sent, or the first ``sample``
    of them (with the workers the full sweep would use) and the rest extrapolated linearly."""
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.adapters.mail import SmtpSender
    from chalicelib.domain.notice_policy import decide_notices, sweep_day
    from chalicelib.services.board import table_states
    from chalicelib.services.sweep import deadlines_due, deliver_notices, sweep_workers, upload_path_hint

    campaign = synthetic_campaign(units, f"bench-{units}{tag}")
    day = busiest_day(campaign)
    seed_pointers(campaign, day)
    smtp = SmtpSender(system.settings.host, system.settings.smtp_port, "办公室 <office@example.cn>")
    sender = smtp if reuse_connection else PerNoticeConnection(smtp)
    as_of = datetime.combine(day, clock(9, 0), tzinfo=campaign.zone)
    assert sweep_day(as_of, campaign) == day
    with dynamodb_calls() as reads:
        start = time.perf_counter()
        deadlines = deadlines_due(campaign, day)
        states = table_states(default_store(), campaign, deadlines, as_of)
        decisions = decide_notices(campaign, deadlines, states, day)
        read_seconds = time.perf_counter() - start
    workers = sweep_workers(len(decisions))
    sent = decisions if sample is None else decisions[:sample]
    with dynamodb_calls() as sends:
        start = time.perf_counter()
        items = deliver_notices(
            default_store(),
            campaign,
            deadlines,
            sent,
            states,
            sender,
            as_of=as_of,
            upload_hint=upload_path_hint,
            retry_delays=(),
            workers=workers,
        )
        send_seconds = time.perf_counter() - start
    scale = len(decisions) / max(1, len(sent))
    total = DynamoCount()
    total.operations.update(reads.operations)
    for name, n in sends.operations.items():
        total.operations[name] += round(n * scale)
    total.capacity = reads.capacity + sends.capacity * scale
    total.capacity_reported = reads.capacity_reported + sends.capacity_reported
    outcomes: dict[str, int] = {}
    for item in items:
        outcomes[item.outcome] = outcomes.get(item.outcome, 0) + 1
    assert "Scan" not in total.operations
    return SweepRun(
        units=units,
        day=day,
        seconds=read_seconds + send_seconds * scale,
        dynamodb=total,
        notices=len(decisions),
        outcomes=outcomes,
        smtp_connections=smtp.connections,
        workers=workers,
        sent_sample=len(sent),
        read_seconds=read_seconds,
    )


# --- issue 15: a 1,000-problem unit re-uploads its list ---------------------------------------------------


@dataclass
class ProblemReupload:
    rows: int
    problems: int
    dynamodb: DynamoCount
    seconds: float  # put → the unit's problems committed under the new version (the whole intake)
    refresh_seconds: float  # refresh_problems alone on the same list again: read, match, fold, write
    refresh_dynamodb: DynamoCount
    entries_per_version: int  # history entries of the re-upload per problem: 1


def _wait_problems(unit: str, version: str, timeout: float = 300) -> None:
    from chalicelib.adapters.dynamo_store import default_store

    deadline = time.monotonic() + timeout
    while True:
        stored = default_store().unit_problems(CAMPAIGN, unit)
        if version in stored.state.current.values() and not stored.writing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"problems of {unit} never reached version {version}")
        time.sleep(0.2)


def problem_reupload_cost(system: Any, rows: int = 1000) -> ProblemReupload:
    """河曲县 lists ``rows`` problems in June, then re-uploads the list with a progress remark (已完成) on half of
    the rows: every problem keeps its id, half become done; the DynamoDB calls of the re-upload's intake."""
    from dataclasses import replace

    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.store import DeliveryEvent
    from chalicelib.services.problems import refresh_problems
    from infra.local.samples import issue_list_workbook
    from tests.bench.workbooks import issue_rows

    unit, period = "140930", "2023-06"
    listed = issue_rows(rows, seed=15)
    first = issue_list_workbook("河曲县交通运输局", listed)
    version = put_upload(system, unit, period, "河曲县6月清单.xlsx", first)
    _wait_problems(unit, version)
    again = issue_list_workbook(
        "河曲县交通运输局", [replace(r, note="已完成") if n % 2 else r for n, r in enumerate(listed)]
    )
    with dynamodb_calls(threads=PUMP_THREADS) as count:
        started = time.perf_counter()
        second = put_upload(system, unit, period, "河曲县6月清单（更新）.xlsx", again)
        _wait_problems(unit, second)
        seconds = time.perf_counter() - started
    store = default_store()
    stored = store.unit_problems(CAMPAIGN, unit)
    entries = {sum(1 for e in p.history if e.version == second) for p in stored.state.problems}
    # refresh_problems alone (read 1,000 problems, match, fold, write), in this thread: the same rows once more
    # as a newer version, so every problem is matched again and rewritten.
    campaign = default_registry().campaign(CAMPAIGN)
    listed_rows = [r.as_dict() for r in store.version_rows(CAMPAIGN, unit, "issue-list", period, second)]
    store.write_version_rows(CAMPAIGN, unit, "issue-list", period, "bench-timed", listed_rows)
    now = datetime.now(UTC)
    event = DeliveryEvent(CAMPAIGN, unit, "issue-list", period, "S#bench", now, None, "bench-timed", "accepted", rows)
    store.record_delivery(event)
    with dynamodb_calls(threads=(threading.current_thread().name,)) as direct:
        timer = time.perf_counter()
        refresh_problems(store, campaign, unit, "issue-list", period, now=now)
        refresh_seconds = time.perf_counter() - timer
    return ProblemReupload(
        rows, len(stored.state.problems), count, seconds, refresh_seconds, direct, max(entries, default=0)
    )
