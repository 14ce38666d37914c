"""Office decisions and 对账销号 together, through the local stack (issues 14 and 15): the office returns
June's accepted list through the decision route → the unit's problems are May's again; it accepts it again
→ June's are back, same ids, no doubled history; a list the checker rejected for a true fault (a row
without 整改措施) that the office accepts becomes problems exactly as an accepted upload's rows would.
A repeated decision and a redelivered event change nothing twice.

In a campaign of its own (as test_problems_flow): every real unit's records are read by other modules.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from infra.local.samples import IssueRow, issue_list_workbook
from tests.conftest import api_get, dynamo_store, wait_for
from tests.integration.test_problems_flow import JUNE, MAY, _post

CAMPAIGN = "problems-decisions-2023"
# One unit per test: the campaign's records outlive a test.
UNIT, UNIT_NAME = "140924", "繁峙县"


def _rows(items: list[tuple[str, str]], done: frozenset[str] = frozenset(), no_measure: str = "") -> list[IssueRow]:
    return [
        IssueRow(
            aspect,
            text,
            "制度执行不严",
            "" if text == no_measure else "1.开展专项整改；2.建立长效机制。",
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
        extra = {"cursor": cursor} if cursor else {}
        status, page = api_get(f"/campaigns/{CAMPAIGN}/problems", unit=UNIT, limit="4", **params, **extra)
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _submission(version: str) -> dict[str, Any] | None:
    status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit=UNIT, limit="100")
    assert status == 200
    return next((i for i in page["items"] if i["version_id"] == version), None)


def _settled(version: str, current: bool = True) -> list[dict[str, Any]]:
    """The unit's problems once intake has finished with ``version`` (recorded; applied when accepted)."""

    def ready() -> list[dict[str, Any]] | None:
        recorded = _submission(version)
        stored = dynamo_store().unit_problems(CAMPAIGN, UNIT)
        applied = version in stored.state.current.values()
        return _problems() if recorded and applied == current and not stored.writing else None

    return wait_for(ready, timeout=30)


def _decide(version: str, decision: str, note: str) -> tuple[int, dict[str, Any]]:
    return _post(f"/campaigns/{CAMPAIGN}/submissions/{UNIT}/{version}/decision", {"decision": decision, "note": note})


def _counts_agree() -> None:
    status, board = api_get(f"/campaigns/{CAMPAIGN}/problems/counts")
    assert status == 200
    [mine] = [u for u in board["units"] if u["unit"]["code"] == UNIT]
    listed = _problems()
    recount = Counter(p["status"] for p in listed) + Counter(f for p in listed for f in p["flags"])
    assert {k: v for k, v in mine["total"].items() if v} == dict(recount)


@pytest.fixture
def own_campaign(campaign_of_its_own: Callable[[str], str]) -> str:
    return campaign_of_its_own(CAMPAIGN)


@pytest.fixture
def other_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second test's unit (代县): the helpers read the module's UNIT / UNIT_NAME."""
    monkeypatch.setattr(sys.modules[__name__], "UNIT", "140923")
    monkeypatch.setattr(sys.modules[__name__], "UNIT_NAME", "代县")


def test_return_and_accept_again_move_the_problems_with_the_pointer(system: Any, own_campaign: str) -> None:
    may = _put(system, "2023-05", f"{UNIT_NAME}5月清单.xlsx", issue_list_workbook(UNIT_NAME, _rows(MAY)))
    may_state = _settled(may)
    assert len(may_state) == 6 and all(not p["flags"] or p["flags"] == ["overdue"] for p in may_state)
    june_body = issue_list_workbook(UNIT_NAME, _rows(JUNE, frozenset({MAY[2][1]})), filled_on="2023年6月18日")
    june = _put(system, "2023-06", f"{UNIT_NAME}6月清单.xlsx", june_body)
    june_state = _settled(june)
    june_ids = [p["id"] for p in june_state]
    assert june_ids == [*(p["id"] for p in may_state), f"{UNIT}-2023-06-001"]
    assert sum("dropped" in p["flags"] for p in june_state) == 2
    _counts_agree()

    # 退回 June: the problems are May's again, entry for entry (June's listings are taken out; the
    # submission's history keeps the decision), the problem June alone listed is gone, no dropped flag.
    status, returned = _decide(june, "return", "第10行问题表现与5月清单重复，请核实后重新报送")
    assert status == 201 and returned["changed"] and returned["current_version"] is None, returned
    assert _problems() == may_state
    assert _problems(flag="dropped") == []
    _counts_agree()
    record = _submission(june)
    assert record is not None and record["status"] == "returned"
    assert [d["decision"] for d in record["decisions"]] == ["return"]

    # The same decision again, and a redelivered event: nothing is written.
    revision = dynamo_store().unit_problems(CAMPAIGN, UNIT).revision
    status, again = _decide(june, "return", "重复提交")
    assert status == 200 and not again["changed"]
    _redeliver("2023-06")
    assert dynamo_store().unit_problems(CAMPAIGN, UNIT).revision == revision

    # Accepted again: June's state is back, the same ids (the new one too), one June entry per problem.
    status, accepted = _decide(june, "accept", "经核实不重复，予以接收")
    assert status == 201 and accepted["current_version"] == june, accepted
    assert _problems() == june_state
    for problem in _problems():
        assert [e["version"] for e in problem["history"]].count(june) == (0 if "dropped" in problem["flags"] else 1)
    _counts_agree()
    revision = dynamo_store().unit_problems(CAMPAIGN, UNIT).revision
    assert _decide(june, "accept", "重复提交")[1]["changed"] is False
    _redeliver("2023-06")
    assert dynamo_store().unit_problems(CAMPAIGN, UNIT).revision == revision
    assert _problems() == june_state


def test_an_accepted_rejection_becomes_problems_as_an_accepted_upload_would(
    system: Any, own_campaign: str, other_unit: None
) -> None:
    may = _put(system, "2023-05", f"{UNIT_NAME}5月清单.xlsx", issue_list_workbook(UNIT_NAME, _rows(MAY)))
    may_state = _settled(may)
    # June's list with a true fault: the new problem's row has no 整改措施. The checker rejects it.
    faulty = _rows(JUNE, frozenset({MAY[2][1]}), no_measure=JUNE[3][1])
    june = _put(system, "2023-06", f"{UNIT_NAME}6月清单.xlsx", issue_list_workbook(UNIT_NAME, faulty))
    assert _settled(june, current=False) == may_state
    record = _submission(june)
    assert record is not None and record["status"] == "rejected"

    status, accepted = _decide(june, "accept", "整改措施经电话核实，见整改报告")
    assert status == 201 and accepted["current_version"] == june, accepted
    by_id = {p["id"]: p for p in _problems()}
    ids = [p["id"] for p in may_state]
    # The rows the checker could read are listed, matched as an accepted upload's: the re-worded one keeps
    # its id, the one reported done is done, the new one is new; the row without 整改措施 is not listed,
    # so its problem (still open) is dropped beside the two June left out.
    assert sorted(by_id) == [*ids, f"{UNIT}-2023-06-001"]
    assert by_id[ids[1]]["text"] == JUNE[1][1] and by_id[ids[2]]["status"] == "done"
    assert by_id[f"{UNIT}-2023-06-001"]["text"] == JUNE[4][1]
    assert sorted(p["id"] for p in _problems(flag="dropped")) == [ids[3], ids[4], ids[5]]
    listings = [e for p in by_id.values() for e in p["history"] if e["version"] == june]
    assert sorted(e["match"] for e in listings) == ["new", "text", "text", "text"]
    # The ledger's June rows are those problems.
    status, ledger = api_get(f"/campaigns/{CAMPAIGN}/issues", period="2023-06", unit=UNIT)
    assert status == 200
    assert sorted(r["problem_id"] for r in ledger["items"]) == sorted(
        p["id"] for p in by_id.values() if any(e["version"] == june for e in p["history"])
    )
    _counts_agree()


def _redeliver(period: str) -> None:
    """What a redelivered S3 event ends in: the problems step run again on an unmoved pointer."""
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services.problems import refresh_problems

    campaign = default_registry().campaign(CAMPAIGN)
    assert campaign is not None
    refresh_problems(dynamo_store(), campaign, UNIT, "issue-list", period, now=now_utc())
