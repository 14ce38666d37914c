"""Issue lists through the stack: accepted rows become items under their version, a rejected
upload changes nothing but its own record, a corrected re-upload replaces the rows as a whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from tests.conftest import api_get, dynamo_store, mails_with_notice_key, wait_for

CAMPAIGN = "xinzhou-2023"
UNIT, DELIVERABLE, PERIOD = "140930", "issue-list", "2023-06"  # 河曲县


def _put(system: Any, file_name: str, body: bytes) -> str:
    key = f"uploads/{CAMPAIGN}/{UNIT}/{DELIVERABLE}/{PERIOD}/{file_name}"
    return system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=body)["VersionId"]


def _record(version: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        status, page = api_get(f"/campaigns/{CAMPAIGN}/submissions", unit=UNIT)
        assert status == 200
        return next((s for s in page["items"] if s["version_id"] == version), None)

    return wait_for(find)


def _current() -> tuple[str | None, list[dict[str, Any]]]:
    from chalicelib.domain.store import rows_as_dicts

    store = dynamo_store()
    state = store.delivery(CAMPAIGN, UNIT, DELIVERABLE, PERIOD)
    rows = rows_as_dicts(store.current_rows(CAMPAIGN, UNIT, DELIVERABLE, PERIOD))
    return (state.current_version if state else None), rows


def test_good_then_flawed_then_corrected_issue_list(system: Any) -> None:
    from chalicelib.domain.store import rows_as_dicts

    good = _put(system, "河曲县6月清单.xlsx", issue_list_workbook("河曲县交通运输局", GOOD_ROWS))
    assert _record(good)["status"] == "accepted"
    # The record is written first, then the rows, then the pointer moves: wait for the pointer.
    _, rows = wait_for(lambda: (state := _current())[0] == good and state)
    assert [r["row"] for r in rows] == [6, 7, 8]  # Excel's row numbers under two header rows
    assert rows[0]["symptom"].startswith("1.某治超站")

    flawed_rows = [
        replace(GOOD_ROWS[0], deadline="待定"),
        replace(GOOD_ROWS[1], aspect="作风问题"),
        replace(GOOD_ROWS[2], measure=""),
    ]
    flawed = _put(system, "河曲县6月清单（新）.xlsx", issue_list_workbook("河曲县交通运输局", flawed_rows))
    record = _record(flawed)
    assert record["status"] == "rejected"
    located = {(e["row"], e["column"]) for e in record["errors"]}
    assert {(6, "完成时限"), (7, "问题方面"), (8, "整改措施")} <= located
    [date_error] = [e for e in record["errors"] if e["row"] == 6]
    assert "待定" in date_error["message"] and "2023-06-30" in date_error["message"]
    # A rejected upload does not touch the current rows (its receipt is the last step).
    wait_for(lambda: mails_with_notice_key(f"receipt|{UNIT}#{flawed}"))
    assert _current()[0] == good
    [mail] = wait_for(lambda: mails_with_notice_key(f"receipt|{UNIT}#{flawed}"))
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "第6行" in text and "【完成时限】" in text and "待定" in text

    corrected = _put(system, "河曲县6月清单（修改后）.xlsx", issue_list_workbook("河曲县交通运输局", GOOD_ROWS[:2]))
    assert _record(corrected)["status"] == "accepted"
    _, rows = wait_for(lambda: (state := _current())[0] == corrected and state)
    assert len(rows) == 2  # replaced as a whole, never mixed with the first version's third row
    # History: the first version's rows are still there under its version.
    assert len(rows_as_dicts(dynamo_store().version_rows(CAMPAIGN, UNIT, DELIVERABLE, PERIOD, good))) == 3


def test_an_older_upload_arriving_late_does_not_replace_the_newer_one(system: Any) -> None:
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.upload_keys import resolve_upload_key

    target = resolve_upload_key(default_registry(), f"uploads/{CAMPAIGN}/140932/{DELIVERABLE}/2023-07/偏关县.xlsx")
    newer = datetime(2023, 7, 19, 8, 0, tzinfo=UTC)
    older = datetime(2023, 7, 18, 8, 0, tzinfo=UTC)
    store = dynamo_store()

    def event(ref: str, at: datetime, sequencer: str, version: str, rows: int) -> Any:
        from chalicelib.domain.store import DeliveryEvent

        t = target
        return DeliveryEvent(
            t.campaign.id, t.unit.code, t.deliverable.id, t.period, ref, at, sequencer, version, "accepted", rows
        )

    assert store.record_delivery(event("S#new", newer, "0A", "v-new", 3))
    assert not store.record_delivery(event("S#old", older, "09", "v-old", 5))
    state = store.delivery(CAMPAIGN, "140932", DELIVERABLE, "2023-07")
    assert state is not None
    assert state.current_version == "v-new"
    # …but the older one was accepted first in time, so that is when the unit delivered.
    assert state.first_accepted_at == older
