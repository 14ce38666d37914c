"""Issue 17 on the in-memory store: the ledger's pages by units cover every current row once across periods,
cursors only continue their own listing, the stats equal a recount, and the console links the next page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.domain.ledger import aspect_tally
from chalicelib.domain.registry import Registry
from chalicelib.domain.store import DeliveryEvent
from chalicelib.services.queries import QueryError, list_issues, stats
from tests.bench.table_cost import synthetic_campaign

T0 = datetime(2023, 6, 1, 2, 0, tzinfo=UTC)
PERIODS = ("2023-05", "2023-06", "2023-07")


def _deliver(
    store: MemoryStore, campaign: str, unit: str, period: str, version: str, rows: list[dict[str, Any]], at: datetime
) -> None:
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


@pytest.fixture(scope="module")
def world() -> tuple[Registry, Any, MemoryStore, dict[tuple[str, str], int]]:
    campaign = synthetic_campaign(40, "pages-40")
    store = MemoryStore()
    expected: dict[tuple[str, str], int] = {}
    for n, unit in enumerate(campaign.units):
        for p, period in enumerate(PERIODS):
            if (n + p) % 4 == 0:
                continue  # not every unit delivers every month
            rows = [{"row": 5 + i, "aspect": ("执法不规范", "逐利执法", "")[i % 3]} for i in range(1 + (n + p) % 5)]
            _deliver(store, campaign.id, unit.code, period, f"a{n}{p}", rows, T0)
            if n % 6 == 0:  # a re-upload, then the first version's event again, late
                fewer = rows[:1]
                _deliver(store, campaign.id, unit.code, period, f"b{n}{p}", fewer, T0 + timedelta(hours=1))
                _deliver(store, campaign.id, unit.code, period, f"a{n}{p}", rows, T0)
                rows = fewer
            expected[(unit.code, period)] = len(rows)
    return Registry({campaign.id: campaign}), campaign, store, expected


def test_pages_of_units_cover_every_current_row_once_across_periods(world: Any) -> None:
    registry, campaign, store, expected = world
    seen: dict[tuple[str, str], int] = {}
    cursor, pages = None, 0
    while True:
        page = list_issues(registry, store, campaign.id, cursor=cursor, units_per_page=7)
        pages += 1
        for item in page["items"]:
            key = (item["unit"]["code"], item["period"])
            seen[key] = seen.get(key, 0) + 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    pointers = len(expected)  # every delivered (unit, period) has one pointer
    assert pointers // 7 <= pages <= pointers // 7 + len(PERIODS) + 1


def test_a_cursor_only_continues_its_own_listing(world: Any) -> None:
    registry, campaign, store, _ = world
    first = list_issues(registry, store, campaign.id, units_per_page=5, period="2023-06")
    assert first["next_cursor"]
    with pytest.raises(QueryError):
        list_issues(registry, store, campaign.id, cursor=first["next_cursor"], units_per_page=5, period="2023-07")
    with pytest.raises(QueryError):
        list_issues(registry, store, campaign.id, cursor="not-a-cursor", period="2023-06")


def test_the_stats_equal_a_recount_of_the_current_rows(world: Any) -> None:
    registry, campaign, store, expected = world
    answer = stats(registry, store, campaign.id)
    recount: dict[tuple[str, str, str], int] = {}
    for unit_code, period in expected:
        for row in store.current_rows(campaign.id, unit_code, "issue-list", period):
            key = (row.fields.get("aspect") or "（未填）", unit_code, period)
            recount[key] = recount.get(key, 0) + 1
    got = {(s["aspect"], s["unit"]["code"], s["period"]): s["count"] for s in answer["by_aspect_unit_period"]}
    assert got == recount and answer["total"] == sum(expected.values())


def test_the_console_links_the_next_page_and_exports_without_the_cursor() -> None:
    from chalicelib.http.console_page import ledger_body

    body = ledger_body([], {"period": "2023-05", "cursor": "abc"}, [], ["2023-05"], [], next_cursor="def")
    assert "cursor=def" in body and "下一页" in body and "本页 0 条" in body
    assert "ledger.xlsx?period=2023-05&quot;" in body or 'ledger.xlsx?period=2023-05"' in body
    assert "下一页" not in ledger_body([], {}, [], ["2023-05"], [], next_cursor=None)
