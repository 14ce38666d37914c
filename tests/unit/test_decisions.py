"""The office decides (issue 14), on ``MemoryStore``: accept a rejected upload, return an accepted one, the
same decision twice, typical cases that add up across files, stamped scans, office filings.

The same service runs through the real local stack in tests/integration/test_decisions_flow.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.domain.auth import office_token_name, token_digest
from chalicelib.domain.decisions import DecisionError, checked_request
from chalicelib.domain.delivery_state import Pointer
from chalicelib.domain.office_filing import filing_metadata, read_filing
from chalicelib.domain.registry import default_registry
from chalicelib.domain.store import rows_as_dicts
from chalicelib.services.decisions import DecisionContext, decide
from chalicelib.services.intake import IntakeContext, ingest
from chalicelib.services.queries import list_submissions
from infra.local.samples import GOOD_ROWS, issue_list_workbook, typical_case_docx
from tests.unit.test_services_on_memory_store import CAMPAIGN, Bucket, Outbox, _upload

UNIT, LIST, PERIOD = "140981", "issue-list", "2023-05"
T = datetime(2023, 5, 18, 2, 0, tzinfo=UTC)
BAD_ROWS = (GOOD_ROWS[0], replace(GOOD_ROWS[1], deadline="待定"), GOOD_ROWS[2])  # row 7 names no time


class Desk:
    """A campaign on MemoryStore: intake and the office's decisions share the store, bucket and relay."""

    def __init__(self) -> None:
        self.store, self.bucket, self.outbox = MemoryStore(), Bucket(), Outbox()
        registry = default_registry()
        self.intake = IntakeContext(registry, self.bucket, self.store, self.outbox, 20 * 1024 * 1024)  # type: ignore[arg-type]
        self.office = DecisionContext(registry, self.store, self.bucket, self.outbox, 20 * 1024 * 1024)  # type: ignore[arg-type]

    def upload(self, name: str, version: str, data: bytes, at: datetime, deliverable: str = LIST) -> None:
        key = f"uploads/{CAMPAIGN}/{UNIT}/{deliverable}/{PERIOD}/{name}"
        ingest(_upload(self.bucket, key, version, data, at), self.intake)

    def decide(self, version: str, decision: str, note: str = "经人工复核") -> object:
        return decide(self.office, CAMPAIGN, UNIT, version, decision, note, "zhang", T + timedelta(days=3))

    def pointer(self, deliverable: str = LIST) -> Pointer:
        state = self.store.delivery(CAMPAIGN, UNIT, deliverable, PERIOD)
        assert state is not None
        return Pointer.of(state)

    def rows(self, deliverable: str = LIST) -> list[dict[str, object]]:
        return rows_as_dicts(self.store.current_rows(CAMPAIGN, UNIT, deliverable, PERIOD))

    def decision_mails(self) -> list[str]:
        return [m.headers["X-Notice-Key"] for m in self.outbox.sent if "#N#decision|" in m.headers["X-Notice-Key"]]


def test_accepting_a_rejected_upload_makes_its_readable_rows_current_as_of_its_arrival() -> None:
    desk = Desk()
    desk.upload("清单.xlsx", "bad", issue_list_workbook("原平市交通运输局", BAD_ROWS), T)
    assert desk.pointer().current_version is None and desk.pointer().rejected_by(T + timedelta(days=1))

    outcome = desk.decide("bad", "accept", "完成时限经电话核实为2023年6月底")
    assert outcome.changed and outcome.status == "accepted"  # type: ignore[attr-defined]
    pointer = desk.pointer()
    assert (pointer.current_version, pointer.first_accepted_at, pointer.latest_status) == ("bad", T, "accepted")
    assert [r["row"] for r in desk.rows()] == [6, 8]  # the rows the checker could read
    [mail_key] = desk.decision_mails()
    mail = desk.outbox.sent[-1]
    assert "予以接收" in mail.subject and "清单.xlsx" in mail.subject and "完成时限经电话核实" in mail.text
    assert "代县" not in mail.text and "原平市交通运输局" in mail.text

    history = list_submissions(default_registry(), desk.store, CAMPAIGN, unit_ref=UNIT)["items"]
    [item] = history
    assert (item["status"], item["checked_status"]) == ("accepted", "rejected")
    assert [(d["decision"], d["by"]) for d in item["decisions"]] == [("accept", "zhang")]
    assert item["decisions"][0]["overridden"] and "第7行" in item["decisions"][0]["overridden"][0]

    # The same decision twice changes nothing twice and sends nothing twice.
    again = desk.decide("bad", "accept", "重复点击")
    assert not again.changed and desk.decision_mails() == [mail_key]  # type: ignore[attr-defined]
    assert len(list_submissions(default_registry(), desk.store, CAMPAIGN, unit_ref=UNIT)["items"][0]["decisions"]) == 1


def test_returning_moves_the_pointer_back_to_the_previous_accepted_version_or_none() -> None:
    desk = Desk()
    good = issue_list_workbook("原平市交通运输局", GOOD_ROWS)
    desk.upload("清单.xlsx", "v1", good, T)
    desk.upload(
        "清单（修改）.xlsx", "v2", issue_list_workbook("原平市交通运输局", GOOD_ROWS[:2]), T + timedelta(days=1)
    )
    assert desk.pointer().current_version == "v2" and len(desk.rows()) == 2

    desk.decide("v2", "return", "第2条整改措施不具体")
    pointer = desk.pointer()
    assert (pointer.current_version, pointer.latest_status, len(desk.rows())) == ("v1", "returned", 3)
    assert pointer.first_accepted_at == T and not pointer.rejected_by(T + timedelta(days=2))

    desk.decide("v1", "return", "全部退回")
    pointer = desk.pointer()
    assert (pointer.current_version, pointer.first_accepted_at, desk.rows()) == (None, None, [])
    assert pointer.latest_status == "returned" and pointer.rejected_by(T + timedelta(days=2))  # owed again

    # Accepting a returned version again brings it back; the history keeps every decision.
    desk.decide("v2", "accept", "已电话补充说明")
    assert desk.pointer().current_version == "v2"
    items = {
        i["version_id"]: i for i in list_submissions(default_registry(), desk.store, CAMPAIGN, unit_ref=UNIT)["items"]
    }
    assert [d["decision"] for d in items["v2"]["decisions"]] == ["return", "accept"]
    assert items["v1"]["status"] == "returned" and len(desk.decision_mails()) == 3


def test_returning_what_the_checker_rejected_changes_nothing_and_sends_nothing() -> None:
    desk = Desk()
    desk.upload("清单.xlsx", "bad", b"not a workbook", T)
    outcome = desk.decide("bad", "return", "本来就未通过")
    assert not outcome.changed and outcome.decision is None and desk.decision_mails() == []  # type: ignore[attr-defined]


def test_an_unknown_version_or_a_stamped_scan_is_not_decided() -> None:
    desk = Desk()
    with pytest.raises(DecisionError) as missing:
        desk.decide("nope", "accept")
    assert missing.value.status == 404 and "nope" in missing.value.message
    desk.upload("清单.xlsx", "v1", issue_list_workbook("原平市交通运输局", GOOD_ROWS), T)
    desk.upload("盖章/清单盖章页.pdf", "scan", b"%PDF-1.4\n%scan\n", T + timedelta(minutes=5))
    assert desk.pointer().current_version == "v1"  # the scan never replaces the Excel's pointer
    items = list_submissions(default_registry(), desk.store, CAMPAIGN, unit_ref=UNIT)["items"]
    scan = next(i for i in items if i["version_id"] == "scan")
    assert (scan["kind"], scan["status"], scan["deliverable"]["id"], scan["file_name"]) == (
        "stamped-scan",
        "accepted",
        LIST,
        "清单盖章页.pdf",
    )
    with pytest.raises(DecisionError, match="盖章扫描件"):
        desk.decide("scan", "return")


def test_typical_cases_add_up_across_files_and_a_same_name_reupload_replaces_itself() -> None:
    desk = Desk()
    for n, title in enumerate(("治超站规范执法", "首违不罚", "源头治超"), 1):
        desk.upload(
            f"案例{n}.docx",
            f"c{n}",
            typical_case_docx("原平市交通运输局", title),
            T + timedelta(hours=n),
            "typical-case",
        )
    assert desk.pointer("typical-case").current_row_count == 3 and len(desk.rows("typical-case")) == 3
    desk.upload(
        "案例2.docx",
        "c2b",
        typical_case_docx("原平市交通运输局", "首违不罚（修改）"),
        T + timedelta(hours=5),
        "typical-case",
    )
    rows = desk.rows("typical-case")
    assert len(rows) == 3 and sorted(str(r["source_file"]) for r in rows) == ["案例1.docx", "案例2.docx", "案例3.docx"]
    assert {r["source_version"] for r in rows} == {"c1", "c2b", "c3"}

    desk.decide("c3", "return", "案例3不属于本期")
    assert sorted(str(r["source_file"]) for r in desk.rows("typical-case")) == ["案例1.docx", "案例2.docx"]
    assert desk.pointer("typical-case").current_row_count == 2


@pytest.mark.parametrize(
    ("claimed", "used", "warned"),
    [
        ("2023-05-19T16:30+08:00", datetime(2023, 5, 19, 8, 30, tzinfo=UTC), False),
        ("2023-05-19T16:30", datetime(2023, 5, 19, 8, 30, tzinfo=UTC), False),  # no offset: Beijing time
        ("2023-06-30T09:00+08:00", T, True),  # after the real upload: in the future of the filing
        ("2023-03-01T09:00+08:00", T, True),  # before the notice was issued
        ("5月19日下午", T, True),
    ],
)
def test_an_office_filing_is_dated_when_the_email_arrived_if_that_time_is_possible(
    claimed: str, used: datetime, warned: bool
) -> None:
    campaign = default_registry().campaign(CAMPAIGN)
    assert campaign is not None
    uploaded = datetime(2023, 5, 25, 2, 0, tzinfo=UTC)
    meta = filing_metadata(datetime(2000, 1, 1, tzinfo=UTC), "邮件报送") | {"received-at": claimed}
    filing = read_filing(meta, uploaded, campaign)
    assert filing is not None and filing.note == "邮件报送" and filing.uploaded_at == uploaded
    assert filing.received_at == (used if not warned else uploaded)
    assert (filing.warning is not None) == warned
    assert read_filing({}, uploaded, campaign) is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([], "JSON 对象"),
        ({"decision": "approve", "note": "x"}, "accept"),
        ({"decision": "accept"}, "理由"),
        ({"decision": "accept", "note": "  "}, "理由"),
        ({"decision": "accept", "note": "x" * 501}, "500"),
        ({"decision": "accept", "note": "x", "who": "me"}, "who"),
    ],
)
def test_a_decision_request_says_in_chinese_what_is_wrong(body: object, fragment: str) -> None:
    with pytest.raises(DecisionError, match=fragment):
        checked_request(body)


def test_the_decider_is_the_name_configured_for_the_token() -> None:
    raw = f"zhang:{token_digest('t-zhang')}, {token_digest('t-anon')},li:{token_digest('t-li')}"
    assert office_token_name("Bearer t-zhang", raw) == "zhang"
    assert office_token_name("bearer t-li", raw) == "li"
    assert office_token_name("Bearer t-anon", raw) == "市专项办"
    assert office_token_name("Bearer other", raw) is None and office_token_name(None, raw) is None


@pytest.mark.parametrize(
    ("key", "stamped", "code"),
    [
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/盖章/清单盖章页.pdf", True, None),
        ("uploads/xinzhou-2023/140981/typical-case/2023-05/盖章/案例.PDF", True, None),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/清单.xlsx", False, None),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/盖章/清单.xlsx", None, "STAMPED_NOT_PDF"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/扫描/清单.pdf", None, "KEY_SHAPE"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-13/盖章/清单.pdf", None, "UNKNOWN_PERIOD"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/盖章/../x.pdf", None, "KEY_SHAPE"),
    ],
)
def test_a_stamped_scan_key_resolves_to_its_deliverable(key: str, stamped: bool | None, code: str | None) -> None:
    from chalicelib.domain.upload_keys import UploadKeyError, resolve_upload_key

    if code is None:
        target = resolve_upload_key(default_registry(), key)
        assert (target.deliverable.id, target.period, target.stamped) == (key.split("/")[3], "2023-05", stamped)
        assert target.file_name == key.rsplit("/", 1)[-1]
    else:
        with pytest.raises(UploadKeyError) as refused:
            resolve_upload_key(default_registry(), key)
        assert refused.value.code == code and refused.value.message
