"""Issue 17: every office read costs the same DynamoDB calls with 14 units and with 300, and the counts the
pointers keep equal a recount from the raw rows after re-uploads, redelivered and out-of-order events.

Two synthetic campaigns (the registry's campaign with made-up units, as the benchmark builds them) are
written through the store the intake uses (a province-size upload season through S3 would take minutes here),
then read through the same services the office routes call, counting botocore's DynamoDB calls.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.findings import SubmissionStatus
from chalicelib.domain.ledger import aspect_tally
from chalicelib.domain.packages import legacy_row_problems
from chalicelib.domain.registry import Registry
from chalicelib.domain.store import DeliveryEvent
from tests.bench.table_cost import synthetic_campaign

ASPECTS = ("执法不规范", "逐利执法", "服务意识不强", "")
T0 = datetime(2023, 6, 1, 2, 0, tzinfo=UTC)


@contextmanager
def dynamodb_calls() -> Iterator[Counter[str]]:
    """DynamoDB operations sent by this test's threads (the event pump's workers are left out)."""
    import botocore.client

    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call
    lock = threading.Lock()

    def record(self: Any, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "dynamodb" and not threading.current_thread().name.startswith(
            "event-pump"
        ):
            with lock:
                calls[operation] += 1
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = record  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def _rows(n: int, version: int) -> list[dict[str, Any]]:
    count = 1 + (n + version) % 4
    return [
        {"row": 4 + i, "sheet": "清单", "aspect": ASPECTS[(n + i + version) % len(ASPECTS)], "problem": f"问题{i}"}
        for i in range(count)
    ]


def _upload(
    store: Any,
    campaign: str,
    unit: str,
    deliverable: str,
    period: str,
    version: str,
    at: datetime,
    rows: list[dict[str, Any]] | None,
    messages: tuple[str, ...] = (),
) -> None:
    """What intake writes for one upload: the version's rows (when accepted), then the pointer."""
    status = SubmissionStatus.ACCEPTED if rows is not None else SubmissionStatus.REJECTED
    if rows is not None:
        store.write_version_rows(campaign, unit, deliverable, period, version, rows)
    store.record_delivery(
        DeliveryEvent(
            campaign,
            unit,
            deliverable,
            period,
            f"S#{at.isoformat()}#{version}",
            at,
            None,
            version,
            status,
            len(rows) if rows is not None else None,
            messages,
            aspect_tally(rows) if rows is not None else None,
            legacy_row_problems(rows) if rows is not None and deliverable == "legacy-issue-list" else (),
        )
    )


def _season(store: Any, campaign: Any) -> None:
    """Every unit's list for 2023-05; every 7th re-uploads (the first then redelivered, late); every 3rd has
    its June list rejected; every 5th delivers the 2022 list for the final package (every 10th lacking a 完成情况)."""

    def unit_season(n: int) -> None:
        code = campaign.units[n].code
        _upload(store, campaign.id, code, "issue-list", "2023-05", f"a{n}", T0, _rows(n, 0))
        if n % 7 == 0:
            _upload(store, campaign.id, code, "issue-list", "2023-05", f"b{n}", T0 + timedelta(days=1), _rows(n, 1))
            _upload(store, campaign.id, code, "issue-list", "2023-05", f"a{n}", T0, _rows(n, 0))  # redelivered
        if n % 3 == 0:
            _upload(store, campaign.id, code, "issue-list", "2023-06", f"r{n}", T0, None, ("第5行【问题方面】未填写",))
        if n % 5 == 0:
            legacy = [{"row": 4, "status": "" if n % 10 == 0 else "已完成"}]
            _upload(store, campaign.id, code, "legacy-issue-list", "final", f"l{n}", T0, legacy)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(unit_season, range(len(campaign.units))))


@pytest.fixture(scope="module")
def campaigns(system: Any) -> dict[int, tuple[Registry, Any]]:
    from chalicelib.adapters.dynamo_store import default_store

    made = {}
    for size in (14, 300):
        campaign = synthetic_campaign(size, f"province-{size}")
        _season(default_store(), campaign)
        made[size] = (Registry({campaign.id: campaign}), campaign)
    return made


def _calls(read: Any) -> Counter[str]:
    with dynamodb_calls() as calls:
        read()
    return calls


def test_the_status_board_costs_the_same_with_14_and_300_units(campaigns: dict[int, Any]) -> None:
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.services.queries import status_board

    costs = {}
    for size, (registry, campaign) in campaigns.items():
        with dynamodb_calls() as calls:
            board = status_board(registry, default_store(), campaign.id, as_of="2023-10-31")
        costs[size] = calls
        june = next(d for d in board["deadlines"] if d["id"] == "rectification/2023-06")
        rejected = [u for u in june["units"] if u["outcome"] == "rejected"]
        assert len(rejected) == len(range(0, size, 3))
        assert all("第5行【问题方面】未填写" in u["rejected"][0] for u in rejected)  # from the pointer, no GetItem
    assert costs[14] == costs[300] and set(costs[300]) == {"Query"}


def test_stats_cost_the_same_and_equal_a_recount_of_the_raw_rows(campaigns: dict[int, Any]) -> None:
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.services.queries import stats

    store = default_store()
    costs = {}
    for size, (registry, campaign) in campaigns.items():
        with dynamodb_calls() as calls:
            answer = stats(registry, store, campaign.id)
        costs[size] = calls
        recount: Counter[tuple[str, str, str]] = Counter()
        for unit in campaign.units:
            for period in ("2023-05", "2023-06"):
                for row in store.current_rows(campaign.id, unit.code, "issue-list", period):
                    recount[(row.fields.get("aspect") or "（未填）", unit.code, period)] += 1
        got = {(s["aspect"], s["unit"]["code"], s["period"]): s["count"] for s in answer["by_aspect_unit_period"]}
        assert got == dict(recount) and answer["total"] == sum(recount.values())
        # The re-uploaded units count their second version only, once, though the first was redelivered late.
        assert sum(n for (_, code, _), n in recount.items() if code == campaign.units[7].code) == len(_rows(7, 1))
    assert costs[14] == costs[300] and set(costs[300]) == {"Query"}


def test_a_ledger_page_costs_the_same_and_the_pages_cover_every_row_once(campaigns: dict[int, Any]) -> None:
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.services.queries import list_issues

    store = default_store()
    costs = {}
    for size, (registry, campaign) in campaigns.items():
        with dynamodb_calls() as calls:
            first = list_issues(registry, store, campaign.id, units_per_page=10, period="2023-05")
        costs[size] = calls
        items, cursor, pages = list(first["items"]), first["next_cursor"], 1
        while cursor:
            page = list_issues(registry, store, campaign.id, cursor=cursor, units_per_page=10, period="2023-05")
            items += page["items"]
            cursor, pages = page["next_cursor"], pages + 1
        assert pages >= size // 10
        expected = sum(len(_rows(n, 1 if n % 7 == 0 else 0)) for n in range(size))
        assert len(items) == expected
        assert len({(i["unit"]["code"], i["row"]) for i in items}) == expected
        # One unit's ledger: a GetItem per period, one Query for its rows and one for its problems (issue 15:
        # each row's 问题编号 and status), whatever the campaign's size.
        one = _calls(lambda r=registry, c=campaign: list_issues(r, store, c.id, unit_ref=c.units[7].code))
        assert one == Counter({"GetItem": 5, "Query": 2})
    # A page of 10 units: the pointer index, each unit's rows and each unit's problems.
    assert costs[14] == costs[300] == Counter({"Query": 21})


def test_every_units_packages_cost_the_same_and_agree_with_each_units_own(campaigns: dict[int, Any]) -> None:
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.services.queries import list_packages

    store = default_store()
    costs = {}
    for size, (registry, campaign) in campaigns.items():
        with dynamodb_calls() as calls:
            every = list_packages(registry, store, campaign.id)
        costs[size] = calls
        assert len(every["items"]) == size  # one package deadline (summary/final) per unit
        for n in (0, 5, 10, 13):  # the 2022 list delivered (every 5th; every 10th lacking 完成情况), or not
            unit = campaign.units[n]
            own = list_packages(registry, store, campaign.id, unit_ref=unit.code)["items"]
            assert [i for i in every["items"] if i["unit"] == unit.code] == own
    assert costs[14] == costs[300] and set(costs[300]) == {"Query"}
