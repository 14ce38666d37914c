"""对账销号 through the local stack (issue 15): lists put into the bucket become problems with ids; June's
list keeps them (re-worded, reported done), adds one, leaves two out (dropped); the office closes the done
one over HTTP; July's upload of the pre-filled worksheet, downloaded through the county link, matches
every id exactly.

Every unit's submissions and every month's ledger of the real campaign are read exactly by some other
module, so this flow runs in a campaign of its own: the registry's campaign under another id, added to
the process's registry for the test and taken out after (the app, the pump and the links read that one
registry).

The issue's arithmetic (6 problems; 4 repeated + 1 left out) does not add up; read as docs/problems.md
does: May lists 6, June repeats 4 (one re-worded, one marked 已完成), adds 1 and leaves 2 out.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from infra.local.samples import IssueRow, issue_list_workbook
from tests.conftest import LOCAL, OFFICE_TOKEN, api_get, dynamo_store, mails_with_notice_key, wait_for

CAMPAIGN, UNIT, UNIT_NAME = "problems-flow-2023", "140924", "繁峙县"
ASPECTS = ("“逐利执法”问题", "执法不规范问题", "执法粗暴问题", "执法方式简单僵化问题", "执法“寻租”问题")
MAY = [
    (ASPECTS[0], "治超站对货车超限行为按固定金额罚款，未区分超限程度和情节轻重"),
    (ASPECTS[1], "在国道某路段随意设卡拦截正常行驶车辆检查，3月份群众投诉2起"),
    (ASPECTS[2], "个别执法人员对当事人陈述申辩不耐心，12328热线投诉1起"),
    (ASPECTS[1], "执法记录仪未全程开启，现场执法过程记录不完整"),
    (ASPECTS[3], "对首次轻微违法行为一律顶格处罚，未落实首违不罚清单"),
    (ASPECTS[4], "个别执法人员接受货运企业宴请，存在吃拿卡要苗头"),
]
JUNE = [
    MAY[0],
    (ASPECTS[1], "在国道某路段随意设卡，拦截正常行驶的车辆进行检查，3月份群众投诉2起"),  # re-worded
    MAY[2],  # reported done (备注: 已完成)
    MAY[3],
    (ASPECTS[2], "执法人员着装不规范，执法时未按规定出示执法证件"),  # new
]


def _rows(items: list[tuple[str, str]], done: frozenset[str] = frozenset()) -> list[IssueRow]:
    return [
        IssueRow(
            aspect,
            text,
            "制度执行不严",
            "1.开展专项整改；2.建立长效机制。",
            "2023-06-30",
            "整改报告",
            "执法大队",
            "赵某",
            note="已完成" if text in done else "",
        )
        for aspect, text in items
    ]


def _put(system: Any, period: str, name: str, body: bytes) -> str:
    key = f"uploads/{CAMPAIGN}/{UNIT}/issue-list/{period}/{name}"
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]


def _problems(**params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        status, page = api_get(
            f"/campaigns/{CAMPAIGN}/problems", unit=UNIT, limit="3", **params, **({"cursor": cursor} if cursor else {})
        )
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _applied(version: str) -> list[dict[str, Any]]:
    """The unit's problems once ``version`` is applied (the last step of its intake)."""

    def ready() -> list[dict[str, Any]] | None:
        stored = dynamo_store().unit_problems(CAMPAIGN, UNIT)  # committed: the aggregate names the version
        return _problems() if version in stored.state.current.values() and not stored.writing else None

    return wait_for(ready, timeout=30)


def _post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{LOCAL.api_url}{urllib.parse.quote(path)}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _fetch(url: str) -> tuple[int, bytes, str]:
    """As a browser fetches a link (its Accept header includes */*, which a binary answer needs)."""
    request = urllib.request.Request(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read(), response.headers.get("Content-Type", "")


@pytest.fixture
def own_campaign(campaign_of_its_own: Callable[[str], str]) -> str:
    return campaign_of_its_own(CAMPAIGN)


def test_problems_followed_from_may_to_july(system: Any, own_campaign: str) -> None:
    may = _put(system, "2023-05", "繁峙县5月清单.xlsx", issue_list_workbook(UNIT_NAME, _rows(MAY)))
    problems = _applied(may)
    ids = [p["id"] for p in problems]
    assert ids == [f"{UNIT}-2023-05-00{n}" for n in range(1, 7)]
    assert [p["status"] for p in problems] == ["open"] * 6
    assert [p["text"] for p in problems] == [text for _, text in MAY]

    june_body = issue_list_workbook(UNIT_NAME, _rows(JUNE, frozenset({MAY[2][1]})), filled_on="2023年6月18日")
    june = _put(system, "2023-06", "繁峙县6月清单.xlsx", june_body)
    by_id = {p["id"]: p for p in _applied(june)}
    assert sorted(by_id) == [*ids, f"{UNIT}-2023-06-001"]
    assert by_id[ids[1]]["text"] == JUNE[1][1]  # the re-worded one kept its id
    assert by_id[ids[2]]["status"] == "done"
    assert by_id[f"{UNIT}-2023-06-001"]["text"] == JUNE[4][1]
    assert sorted(p["id"] for p in _problems(flag="dropped")) == [ids[4], ids[5]]
    assert [p["id"] for p in _problems(aspect="执法不规范")] == [ids[1], ids[3]]  # as the ledger reads 问题方面
    june_entries = Counter(p["id"] for p in by_id.values() for e in p["history"] if e["period"] == "2023-06")
    assert sorted(june_entries) == sorted(set(by_id) - {ids[4], ids[5]}) and set(june_entries.values()) == {1}

    # A redelivered event (the pointer did not move) and a re-upload of the same June file change nothing twice.
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services.problems import refresh_problems

    campaign = default_registry().campaign(CAMPAIGN)
    revision = dynamo_store().unit_problems(CAMPAIGN, UNIT).revision
    refresh_problems(dynamo_store(), campaign, UNIT, "issue-list", "2023-06", now=now_utc())
    assert dynamo_store().unit_problems(CAMPAIGN, UNIT).revision == revision
    again = _put(system, "2023-06", "繁峙县6月清单.xlsx", june_body)
    after = {p["id"]: p for p in _applied(again)}
    assert sorted(after) == sorted(by_id)
    for pid, problem in after.items():
        versions = [e["version"] for e in problem["history"] if e["period"] == "2023-06"]
        assert versions == ([] if pid in (ids[4], ids[5]) else [again])

    # The office closes the done one: who (the token's name), when, why.
    status, closed = _post(f"/campaigns/{CAMPAIGN}/problems/{ids[2]}/close", {"note": "现场核查，整改到位"})
    assert status == 200, closed
    assert closed["status"] == "closed"
    entry = closed["history"][-1]
    assert entry["source"] == "office" and entry["note"] == "现场核查，整改到位" and entry["who"] and entry["when"]
    status, refused = _post(f"/campaigns/{CAMPAIGN}/problems/{ids[0]}/close", {"note": "核查"})
    assert status == 409 and "强制销号" in refused["Message"]
    status, one = api_get(f"/campaigns/{CAMPAIGN}/problems/{ids[2]}")
    assert status == 200 and one["status"] == "closed" and one["history"] == closed["history"]

    # The unit is told once, by the daily sweep's step, in an email to its liaison (the SMTP sink).
    from chalicelib.adapters.mail import sender_from_settings
    from chalicelib.config import settings
    from chalicelib.services.sweep import tell_problem_actions

    sender = sender_from_settings(settings())
    [item] = tell_problem_actions(dynamo_store(), campaign, sender, as_of=now_utc())
    assert item.outcome == "sent"
    [mail] = wait_for(lambda: mails_with_notice_key(f"C#{CAMPAIGN}#N#problem-actions|{UNIT}#"))
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert ids[2] in text and "已销号" in text and "现场核查，整改到位" in text and UNIT_NAME in mail["Subject"]
    assert tell_problem_actions(dynamo_store(), campaign, sender, as_of=now_utc()) == []

    # Counts for the board equal a recount of the listing.
    status, board = api_get(f"/campaigns/{CAMPAIGN}/problems/counts")
    assert status == 200
    [mine] = [u for u in board["units"] if u["unit"]["code"] == UNIT]
    listed = _problems()
    recount = Counter(p["status"] for p in listed) + Counter(f for p in listed for f in p["flags"])
    assert {k: v for k, v in mine["total"].items() if v} == dict(recount)

    # July: the county link's page offers the pre-filled worksheet; its upload matches every id exactly.
    status, link = _post(
        f"/campaigns/{CAMPAIGN}/upload-links",
        {"unit": UNIT, "deliverable": "issue-list", "period": "2023-07", "valid_days": 1},
    )
    assert status == 201, link
    status, page, _ = _fetch(link["url"])
    assert status == 200 and "/worksheet" in page.decode() and "预填" in page.decode()
    status, worksheet, content_type = _fetch(link["url"] + "/worksheet")
    assert status == 200 and "spreadsheetml" in content_type
    from openpyxl import load_workbook

    cells = [c.value for row in load_workbook(io.BytesIO(worksheet)).active.iter_rows() for c in row]
    offered = sorted(str(v) for v in cells if isinstance(v, str) and v.startswith(f"{UNIT}-"))
    assert offered == sorted(set(by_id) - {ids[2]})  # every problem not closed, by id
    july = _put(system, "2023-07", "繁峙县7月清单（预填）.xlsx", worksheet)
    final = {p["id"]: p for p in _applied(july)}
    assert sorted(final) == sorted(by_id)  # no new problem
    for pid in offered:
        [listing] = [e for e in final[pid]["history"] if e["version"] == july]
        assert listing["match"] == "id"
    assert final[ids[2]]["status"] == "closed"
    assert final[ids[3]]["status"] == "open" and final[ids[2]]["history"][-1]["source"] == "office"
    assert _problems(flag="dropped") == []
