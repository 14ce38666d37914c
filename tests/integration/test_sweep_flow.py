"""The daily sweep against the local stack: decisions from the table, emails in the SMTP sink, each once.

The stack, its table and its outbox are shared with every other test module, and the registry is fixed,
so each test here sweeps a day no other test sweeps and asserts on the notice keys that day creates
(``{deadline}|{unit}|{kind}|{day}``), counting ``.eml`` files per ``X-Notice-Key``. The sweeps here mail
an SMTP sink of this module's own (the stack's ``SmtpSink`` on another port, see ``sink``), because the
stack's outbox directory is shared with any other pytest session running in the same checkout.

The sweep counts only what the table knew as of its morning. Real uploads are stamped with today's time
(2026), after every 2023 deadline, so a test that needs "uploaded on 2023-05-16" puts a real file through
the bucket, lets the pump deliver the real event, then replays that same S3 event with its ``eventTime``
moved back: the intake records the upload as received then, and the delivery pointer's
``first_accepted_at`` moves back to it. Other modules' uploads stay in 2026 and cannot change the
notices asserted here.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from infra.local.samples import GOOD_ROWS, issue_list_workbook
from infra.local.smtp_sink import SmtpSink
from tests.conftest import LOCAL, dynamo_store, wait_for

CAMPAIGN = "xinzhou-2023"
CST = ZoneInfo("Asia/Shanghai")
NO_RETRY: tuple[float, ...] = ()  # transient failures are left "failed" at once, no sleeping


# --- helpers -----------------------------------------------------------------------------------------


def _campaign() -> Any:
    from chalicelib.domain.registry import default_registry

    return default_registry().campaign(CAMPAIGN)


def _morning(day: str, minutes: int = 0) -> datetime:
    """09:00 Asia/Shanghai on ``day``: when the scheduled sweep runs (plus ``minutes`` for a rerun)."""
    return datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=CST) + timedelta(minutes=minutes)


_sink: dict[str, Any] = {}  # this module's sink and its port, while its tests run


@pytest.fixture(scope="module", autouse=True)
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    """An SMTP sink of this module's own, like the stack's: the stack's outbox directory
    (test-artifacts/outbox) is shared by every pytest session in the checkout, and a session starting
    meanwhile empties it, so counting .eml files there is only reliable when nothing else runs."""
    with socket.socket() as probe:
        probe.bind((LOCAL.host, 0))
        port = probe.getsockname()[1]
    running = SmtpSink(LOCAL.host, port, tmp_path_factory.mktemp("sweep-outbox"))
    running.start()
    _sink.update(sink=running, port=port)
    yield running
    _sink.clear()
    running.stop()


def _smtp() -> Any:
    from chalicelib.adapters.mail import SmtpSender

    return SmtpSender(LOCAL.host, _sink["port"], "专项整治工作办公室 <noreply@example.cn>")


def _sweep(day: str, sender: Any = None, minutes: int = 0, **kwargs: Any) -> Any:
    from chalicelib.services.sweep import run_sweep

    return run_sweep(
        dynamo_store(), _campaign(), _morning(day, minutes), sender or _smtp(), retry_delays=NO_RETRY, **kwargs
    )


def _notice(deadline_id: str, natural_key: str) -> Any:
    from chalicelib.domain.outgoing import NoticeKey

    return dynamo_store().get_notice(NoticeKey(CAMPAIGN, deadline_id, natural_key))


def _header(deadline_id: str, natural_key: str) -> str:
    return f"C#{CAMPAIGN}#N#{deadline_id}|{natural_key}"


def _key(deadline_id: str, unit: str | None, kind: str, day: str) -> str:
    return f"{deadline_id}|{unit or 'office'}|{kind}|{day}"


def _notice_header(mail: Any) -> str:
    # A long header is folded onto a continuation line; unfolded, it keeps the fold's leading space.
    return str(mail.get("X-Notice-Key", "")).strip()


def _ours() -> list[Any]:
    """Every message this module's sink stored (the same .eml files as ``tests.conftest.outbox()``)."""
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(_sink["sink"].outbox.glob("*.eml"))
    ]


def _sent_counts() -> Counter[str]:
    """How many .eml files the sink holds per X-Notice-Key (one pass over the outbox)."""
    return Counter(_notice_header(m) for m in _ours())


def _mails(deadline_id: str, natural_key: str) -> list[Any]:
    header = _header(deadline_id, natural_key)
    return [m for m in _ours() if _notice_header(m) == header]


def _text(mail: Any) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def _unit_codes() -> list[str]:
    return [u.code for u in _campaign().units]


def _assert_each_once(deadline_id: str, kind: str, day: str, units: list[str]) -> None:
    counts = _sent_counts()
    per_key = {u: counts[_header(deadline_id, _key(deadline_id, u, kind, day))] for u in units}
    assert per_key == dict.fromkeys(units, 1)


def _typical_case_workbook(unit_name: str, cases: int) -> bytes:
    """典型案例 in the table template: header lines, one header row, one row per case, footer."""
    workbook = Workbook()
    sheet = workbook.active
    lines: list[list[Any]] = [
        ["填报时间：2023年5月16日"],
        [f"填报单位（盖章）：{unit_name}"],
        ["序号", "案例名称", "基本情况", "具体措施", "整改效果", "点评", "备注"],
    ]
    for n in range(1, cases + 1):
        lines.append(
            [
                n,
                f"某治超站罚款指标整改案例（之{n}）",
                f"2023年3月群众反映某治超站按固定金额罚款，涉及货车司机20余人次（案例{n}）。",
                "修订裁量基准，逐件复查案卷，退还不当罚款。",
                "不当罚款全部退还，相关投诉清零。",
                "以案促改，举一反三，效果明显。",
                None,
            ]
        )
    lines += [["审核人：刘七"], ["联系人：张三"], ["联系电话：13812345678"]]
    for line in lines:
        sheet.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# (unit code, deliverable, period, file name, body, when it is to count as received)
Upload = tuple[str, str, str, str, bytes, datetime]


def _deliver(system: Any, uploads: list[Upload]) -> None:
    """Real uploads through the bucket, then each one's S3 event replayed as if it had arrived then."""
    from infra.local.pump import LambdaContext, lambda_sqs_event

    s3 = system.client("s3")
    versions = [
        s3.put_object(Bucket=system.outputs.bucket, Key=f"uploads/{CAMPAIGN}/{u}/{d}/{p}/{name}", Body=body)[
            "VersionId"
        ]
        for u, d, p, name, body, _ in uploads
    ]
    for version, (unit, deliverable, period, _, _, at) in zip(versions, uploads, strict=True):
        [event_body] = wait_for(lambda v=version: [b for b in system.pump.bodies if v in b])
        event = json.loads(event_body)
        for record in event["Records"]:
            record["eventTime"] = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": json.dumps(event)}
        system.app_module.handle_upload(
            lambda_sqs_event(message, system.outputs.queue_arn, system.settings.region), LambdaContext("handle_upload")
        )
        assert _first_accepted(unit, deliverable, period) == at


def _first_accepted(unit: str, deliverable: str, period: str) -> datetime | None:
    state = dynamo_store().delivery(CAMPAIGN, unit, deliverable, period)
    return state.first_accepted_at if state else None


def _rectification(unit: str, period: str, at: datetime, *, cases: bool = True) -> list[Upload]:
    """An accepted 清单 and (unless ``cases`` is False) accepted 典型案例 of one unit for one month."""
    name = _campaign().unit(unit).name
    uploads: list[Upload] = [(unit, "issue-list", period, f"{name}清单.xlsx", issue_list_workbook(name, GOOD_ROWS), at)]
    if cases:
        uploads.append((unit, "typical-case", period, f"{name}典型案例.xlsx", _typical_case_workbook(name, 2), at))
    return uploads


class SimulatedCrash(BaseException):
    """The process dying (a Lambda timing out is killed, not raised into): no ``except Exception`` sees it,
    whereas ``send_once`` records any ordinary exception of sending as a failure (issue 18)."""


class CrashAfter:
    """A sender that dies (as a Lambda timing out would) instead of sending its (n+1)th mail."""

    def __init__(self, inner: Any, n: int) -> None:
        self.inner, self.left = inner, n

    def send(self, mail: Any) -> None:
        if self.left == 0:
            raise SimulatedCrash("simulated crash in the middle of the sweep")
        self.left -= 1
        self.inner.send(mail)


class FailFor:
    """A sender whose relay refuses one address with the given mail error; everything else goes out."""

    def __init__(self, inner: Any, address: str, error: Callable[[str], Exception]) -> None:
        self.inner, self.address, self.error = inner, address, error

    def send(self, mail: Any) -> None:
        if self.address in mail.to:
            raise self.error(f"relay refused {self.address}")
        self.inner.send(mail)


# --- (a) reminders go to units that have not delivered ------------------------------------------------


def test_a_reminder_three_days_before_goes_to_every_unit_that_has_not_delivered(system: Any) -> None:
    day = "2023-05-17"  # rectification/2023-05 and progress/2023-05 are due on 05-20
    before = _morning("2023-05-16", minutes=60)
    _deliver(
        system,
        _rectification("140932", "2023-05", before)  # 偏关县: 清单 and 典型案例
        + _rectification("140929", "2023-05", before, cases=False),  # 岢岚县: only the 清单
    )

    report = _sweep(day)

    # Only the deadlines with a notice today were read, one Query per deliverable and period.
    # (setup-contacts, due 04-12, is chased on 05-16 and 05-19, not today.)
    assert report.deadlines == ["progress/2023-05", "rectification/2023-05"]
    assert sorted(report.queries) == [
        "issue-list/2023-05",
        "progress-report/2023-05",
        "typical-case/2023-05",
    ]
    deadline = "rectification/2023-05"
    others = [u for u in _unit_codes() if u != "140932"]
    _assert_each_once(deadline, "reminder", day, others)
    assert _mails(deadline, _key(deadline, "140932", "reminder", day)) == []
    outcomes = {i.unit_code: i.outcome for i in report.items if i.deadline_id == deadline}
    assert "140932" not in outcomes and set(outcomes.values()) == {"sent"}
    # Delivering one deadline does not excuse another: 偏关县 still owes its progress report.
    _assert_each_once("progress/2023-05", "reminder", day, ["140932"])

    [mail] = _mails(deadline, _key(deadline, "140981", "reminder", day))
    assert mail["To"] == "liaison.140981@example.cn" and mail["Cc"] is None
    assert "原平市" in mail["Subject"] and "还剩3天" in mail["Subject"]
    text = _text(mail)
    assert "2023年5月20日23:59:59（北京时间）" in text and "星期" not in text
    assert "uploads/xinzhou-2023/140981/issue-list/2023-05/文件名" in text
    assert "uploads/xinzhou-2023/140981/typical-case/2023-05/文件名" in text

    # Half a delivery is not a delivery: 岢岚县 is told what is still missing.
    [partial] = _mails(deadline, _key(deadline, "140929", "reminder", day))
    assert "材料不全" in partial["Subject"]
    assert "还缺" in _text(partial) and "典型案例" in _text(partial)


# --- (b), (c) twice, and concurrently: still once --------------------------------------------------------


def test_running_the_sweep_twice_sends_nothing_twice(system: Any) -> None:
    day = "2023-04-11"  # setup-contacts/setup is due on 04-12: reminders only (April's self-check is soft)
    first = _sweep(day)
    second = _sweep(day, minutes=30)

    assert [i.natural_key for i in first.items] == [i.natural_key for i in second.items]
    assert Counter(i.outcome for i in first.items) == {"sent": 14}
    assert Counter(i.outcome for i in second.items) == {"already-sent": 14}
    _assert_each_once("setup-contacts/setup", "reminder", day, _unit_codes())


def test_two_sweeps_at_once_send_each_notice_once(system: Any) -> None:
    day = "2023-04-12"
    start = threading.Barrier(2)
    reports: list[Any] = []

    def sweep() -> None:
        start.wait()
        reports.append(_sweep(day))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(reports) == 2
    by_key: dict[str, list[str]] = {}
    for report in reports:
        for item in report.items:
            by_key.setdefault(item.natural_key, []).append(item.outcome)
    assert len(by_key) == 14
    for outcomes in by_key.values():
        # One run sent it; the other found it sent, or found the first run's lease on it.
        assert sorted(outcomes)[-1] == "sent" and outcomes.count("sent") == 1
        assert set(outcomes) <= {"sent", "already-sent", "in-flight"}
    _assert_each_once("setup-contacts/setup", "reminder", day, _unit_codes())


# --- (d) a crash half-way ------------------------------------------------------------------------------


def test_a_rerun_after_a_crash_half_way_sends_the_rest_and_nothing_twice(system: Any) -> None:
    day, deadline = "2023-05-05", "self-check/2023-05"  # self-check reports of May are due on 05-08
    with pytest.raises(SimulatedCrash, match="simulated crash"):
        _sweep(day, CrashAfter(_smtp(), 5))
    counts = _sent_counts()
    headers = [_header(deadline, _key(deadline, u, "reminder", day)) for u in _unit_codes()]
    assert sorted(counts[h] for h in headers) == [0] * 9 + [1] * 5

    # A retry minutes later (Lambda's own retry): the rest goes out; the notice the crashed run had
    # claimed is still leased to it, so it waits rather than risking a double send.
    retry = _sweep(day, minutes=1)
    assert Counter(i.outcome for i in retry.items) == {"already-sent": 5, "sent": 8, "in-flight": 1}

    # Once the lease is over, the next run sends that last one.
    later = _sweep(day, minutes=10)
    assert Counter(i.outcome for i in later.items) == {"already-sent": 13, "sent": 1}
    _assert_each_once(deadline, "reminder", day, _unit_codes())


# --- (e) transient and permanent mail failures -----------------------------------------------------------


def test_a_transient_failure_is_recorded_failed_and_sent_once_by_the_next_run(system: Any) -> None:
    from chalicelib.adapters.mail import TransientMailError

    day, deadline = "2023-04-20", "progress/2023-04"  # progress reports of April are due today, 04-20
    flaky = _key(deadline, "140929", "reminder", day)
    first = _sweep(day, FailFor(_smtp(), "liaison.140929@example.cn", TransientMailError))
    outcomes = {i.natural_key: i.outcome for i in first.items}
    assert outcomes.pop(flaky) == "failed"
    assert set(outcomes.values()) == {"sent"}
    notice = _notice(deadline, flaky)
    assert (notice.status, notice.attempts) == ("failed", 1)
    assert "140929" in notice.last_error or "liaison.140929" in notice.last_error
    assert _mails(deadline, flaky) == []

    second = _sweep(day, minutes=15)
    assert {i.natural_key: i.outcome for i in second.items if i.outcome != "already-sent"} == {flaky: "sent"}
    _assert_each_once(deadline, "reminder", day, _unit_codes())
    notice = _notice(deadline, flaky)
    assert (notice.status, notice.attempts) == ("sent", 2)


def test_a_permanently_refused_notice_is_reported_and_never_resent(system: Any) -> None:
    from chalicelib.adapters.mail import PermanentMailError

    day, deadline = "2023-04-13", "setup-contacts/setup"  # overdue notices, the day after 04-12 (and the digest)
    refused = _key(deadline, "140923", "overdue", day)
    first = _sweep(day, FailFor(_smtp(), "liaison.140923@example.cn", PermanentMailError))
    assert [(i.natural_key, i.to) for i in first.undeliverable] == [(refused, ("liaison.140923@example.cn",))]

    second = _sweep(day, minutes=15)
    assert [i.natural_key for i in second.undeliverable] == [refused]
    assert Counter(i.outcome for i in second.items) == {
        "already-sent": 14,
        "rejected": 1,
    }  # 13 overdue notices and the digest
    assert _mails(deadline, refused) == []
    _assert_each_once(deadline, "overdue", day, [u for u in _unit_codes() if u != "140923"])


# --- (f) the office digest --------------------------------------------------------------------------------


def test_the_office_digest_arrives_the_morning_after_with_counts(system: Any) -> None:
    day, deadline = "2023-06-21", "rectification/2023-06"  # due 2023-06-20 23:59:59
    late = datetime(2023, 6, 21, 0, 30, tzinfo=CST)  # half an hour past the due instant
    _deliver(
        system,
        _rectification("140922", "2023-06", _morning("2023-06-19", minutes=360))  # 五台县, on time
        + _rectification("140971", "2023-06", late)  # 五台山风景区, late
        + _rectification("140928", "2023-06", _morning("2023-06-18"), cases=False),  # 五寨县, no cases
    )

    report = _sweep(day)

    [digest] = _mails(deadline, _key(deadline, None, "digest", day))
    assert digest["To"] == _campaign().office.email
    assert "按时报送1、逾期报送1、未报送11、未通过核验0、材料不全1" in digest["Subject"]
    text = _text(digest)
    assert "14个填报单位的报送情况" in text
    assert "逾期报送（1个）：五台山风景区" in text or "逾期报送（1个）：五台山" in text
    assert "材料不全（1个）：五寨县" in text
    # The units that delivered are not chased; the rest get their first overdue notice.
    overdue = {i.unit_code for i in report.items if i.deadline_id == deadline and i.kind == "overdue"}
    assert overdue == set(_unit_codes()) - {"140922", "140971"}
    _assert_each_once(deadline, "overdue", day, sorted(overdue))
    # The progress report of June has its own digest the same morning: nobody delivered it (as of then).
    [progress] = _mails("progress/2023-06", _key("progress/2023-06", None, "digest", day))
    assert "未报送14" in progress["Subject"]


# --- dry run, the CLI, the scheduled function ---------------------------------------------------------


def test_a_dry_run_decides_and_composes_but_writes_and_sends_nothing(system: Any) -> None:

    day, deadline = "2023-04-16", "setup-contacts/setup"
    report = _sweep(day, dry_run=True)
    assert Counter(i.outcome for i in report.items) == {"would-send": 14}
    assert all("联系人名单" in i.subject and "逾期4天" in i.subject for i in report.items)
    for item in report.items:
        assert _notice(deadline, item.natural_key) is None
    assert not any(day in key for key in _sent_counts())


def test_cli_sweep_replays_a_morning_and_prints_what_it_sent(
    system: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import chalicelib.adapters.mail
    from chalicelib.cli import main

    # The settings' sender, pointed at this module's sink (the settings name the stack's shared one).
    used: list[Any] = []
    monkeypatch.setattr(
        chalicelib.adapters.mail, "sender_from_settings", lambda settings: used.append(settings) or _smtp()
    )

    day, deadline = "2023-04-22", "setup-contacts/setup"  # 10 days overdue: escalations, 分管领导 in copy
    assert main(["sweep", "--campaign", CAMPAIGN, "--as-of", day, "--json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["day"] == day and report["as_of"] == "2023-04-22T09:00:00+08:00"
    assert report["counts"] == {"sent": 14}
    assert {tuple(i["cc"]) for i in report["items"]} == {(f"leader.{u}@example.cn",) for u in _unit_codes()}
    _assert_each_once(deadline, "escalation", day, _unit_codes())
    [mail] = _mails(deadline, _key(deadline, "140981", "escalation", day))
    assert mail["Cc"] == "leader.140981@example.cn" and "【催报】" in mail["Subject"] and "督办" not in mail["Subject"]

    assert used and used[0].mail_transport == "smtp"

    assert main(["sweep", "--campaign", CAMPAIGN, "--as-of", day, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2023-04-22 催报（演练：不写入、不发送）" in out
    assert "查询 1 次" in out and "合计 14 封：此前已发送 14" in out
    [line] = [row for row in out.splitlines() if "liaison.140981@example.cn" in row]
    assert line.startswith("此前已发送") and "逾期催报（抄送分管领导）" in line and "原平市" in line


def test_cli_sweep_refuses_an_unknown_campaign(system: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.cli import main

    assert main(["sweep", "--campaign", "nowhere-2024", "--as-of", "2023-04-15"]) == 2
    assert "nowhere-2024" in capsys.readouterr().err


def test_the_scheduled_function_sweeps_every_campaign_for_today(system: Any) -> None:
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": system.settings.region,
        "resources": [],
        "detail": {},
    }
    from infra.local.pump import LambdaContext

    # Today (2026) is after the 2023 campaign: nothing is owed, and nothing is read.
    assert system.app_module.daily_sweep(event, LambdaContext("daily_sweep")) == {CAMPAIGN: {}}


# --- the table read: rejected uploads ---------------------------------------------------------------------


def test_a_rejected_upload_that_was_never_fixed_is_read_with_its_errors(system: Any) -> None:
    from chalicelib.domain.deadlines import campaign_deadlines
    from chalicelib.services.board import TableReads, table_states

    campaign = _campaign()
    key = f"uploads/{CAMPAIGN}/140926/issue-list/2023-08/静乐县8月清单.xlsx"
    version = system.client("s3").put_object(Bucket=system.outputs.bucket, Key=key, Body=b"not a workbook")["VersionId"]
    wait_for(lambda: [b for b in system.pump.bodies if version in b])
    [deadline] = [d for d in campaign_deadlines(campaign) if d.id == "rectification/2023-08"]

    reads = TableReads()
    states = table_states(dynamo_store(), campaign, [deadline], datetime.now(UTC), reads)

    assert reads.queries == ["issue-list/2023-08", "typical-case/2023-08"]
    assert reads.gets == 0  # the rejection's messages are kept on its pointer (issue 17): no GetItem
    state = states[(deadline.id, "140926")]
    assert state.delivered_at is None and state.package_missing == ()
    assert state.rejected and all(m.startswith("专项整治事项清单（2023年新问题）：") for m in state.rejected)
    assert "静乐县8月清单.xlsx" in " ".join(state.rejected)
    # As of a morning before that upload, it had not happened.
    assert (deadline.id, "140926") not in table_states(dynamo_store(), campaign, [deadline], _morning("2023-08-21"))


def test_deadlines_due_are_only_those_with_a_notice_that_day() -> None:
    from chalicelib.services.sweep import deadlines_due

    campaign = _campaign()
    # 04-09: the digest of April's (soft) self-check report, and the contacts list's first reminder.
    assert [d.id for d in deadlines_due(campaign, date(2023, 4, 9))] == ["self-check/2023-04", "setup-contacts/setup"]
    assert [d.id for d in deadlines_due(campaign, date(2023, 4, 5))] == []  # before the notice was issued
    assert [d.id for d in deadlines_due(campaign, date(2023, 4, 10))] == []
    assert [d.id for d in deadlines_due(campaign, date(2026, 11, 27))] == []


# --- pure: pointers → states ------------------------------------------------------------------------------


def _summary_deadline() -> Any:
    from chalicelib.domain.deadlines import campaign_deadlines

    return next(d for d in campaign_deadlines(_campaign()) if d.id == "summary/final")


def test_the_summary_package_needs_every_part_and_three_typical_cases() -> None:
    from chalicelib.domain.delivery_state import package_missing

    campaign, deadline = _campaign(), _summary_deadline()
    assert package_missing(campaign, deadline, {}) == (
        "总结报告",
        "专项整治事项清单（2023年新问题）",
        "专项整治事项清单（2022年自查整改问题）",
        "典型案例（需3个，已有0个）",
        "追责问责、容错免责情况专题说明",
    )
    parts = {
        "summary-report": 0,
        "issue-list": 12,
        "legacy-issue-list": 5,
        "typical-case": 2,
        "accountability-statement": 0,
    }
    assert package_missing(campaign, deadline, parts) == ("典型案例（需3个，已有2个）",)
    assert package_missing(campaign, deadline, {**parts, "typical-case": 3}) == ()
    # The 2022 list must say how far each problem got; an open one needs its stage result and measure.
    open_row = {"row": 7, "status": "持续推进", "stage_result": "", "long_term_measure": "建立月度通报制度"}
    assert package_missing(campaign, deadline, {**parts, "typical-case": 3}, [open_row]) == (
        "专项整治事项清单（2022年自查整改问题）：第7行问题尚在推进或需长期推进，【阶段性成效】不能为空",
    )


def test_a_package_is_complete_when_its_last_part_is_accepted_and_rejections_name_their_part() -> None:
    from chalicelib.domain.delivery_state import Pointer, delivery_state
    from chalicelib.domain.notice_policy import delivery_outcome

    campaign, deadline = _campaign(), _summary_deadline()
    as_of = _morning("2023-09-11")
    early, late = datetime(2023, 9, 1, tzinfo=CST), datetime(2023, 9, 11, 8, tzinfo=CST)
    pointers = {
        "summary-report": Pointer("140981", "summary-report", early, 0, "accepted", "S#1", early),
        "issue-list": Pointer("140981", "issue-list", early, 12, "accepted", "S#0", early),
        "legacy-issue-list": Pointer("140981", "legacy-issue-list", early, 4, "accepted", "S#2", early),
        "typical-case": Pointer("140981", "typical-case", late, 3, "accepted", "S#3", late),
        "accountability-statement": Pointer("140981", "accountability-statement", None, None, "rejected", "S#4", early),
    }
    rejections = {("140981", "S#4"): ("缺少“容错免责情况”部分。",)}
    state = delivery_state(campaign, deadline, "140981", pointers, rejections, as_of)
    assert state is not None
    assert state.delivered_at == early and state.completed_at is None
    assert state.package_missing == ("追责问责、容错免责情况专题说明",)
    assert state.rejected == ("追责问责、容错免责情况专题说明：缺少“容错免责情况”部分。",)
    assert delivery_outcome(deadline, state, as_of) == "rejected"

    fixed = datetime(2023, 9, 11, 8, 30, tzinfo=CST)
    pointers["accountability-statement"] = Pointer("140981", "accountability-statement", fixed, 0, "accepted", "S#5")
    state = delivery_state(campaign, deadline, "140981", pointers, rejections, as_of)
    assert state is not None and state.rejected == () and state.package_missing == ()
    assert (state.delivered_at, state.completed_at) == (early, fixed)
    assert delivery_outcome(deadline, state, as_of) == "late"
    # As of the due instant the last two parts had not arrived: incomplete then, and told what is missing.
    then = delivery_state(campaign, deadline, "140981", pointers, {}, deadline.due_at)
    assert then is not None and len(then.package_missing) == 2
    assert delivery_outcome(deadline, then, deadline.due_at) == "incomplete"
    # Nothing accepted and nothing rejected: no state at all (the policy reads that as "missing").
    assert delivery_state(campaign, deadline, "140981", {}, {}, as_of) is None


def test_a_notice_that_failed_one_morning_goes_out_the_next_morning_once(system: Any) -> None:
    from chalicelib.adapters.mail import TransientMailError

    day, deadline = "2023-07-17", "progress/2023-07"  # a reminder morning (due 07-20); 07-18 owes nothing new
    flaky = _key(deadline, "140928", "reminder", day)
    first = _sweep(day, FailFor(_smtp(), "liaison.140928@example.cn", TransientMailError))
    assert {i.natural_key: i.outcome for i in first.items}[flaky] == "failed"
    assert _mails(deadline, flaky) == []

    # The relay is back; the next morning's run has its own decisions and also sends yesterday's failure.
    second = _sweep("2023-07-18")
    assert [(i.natural_key, i.outcome) for i in second.items if i.natural_key == flaky] == [(flaky, "sent")]
    assert len(_mails(deadline, flaky)) == 1
    notice = _notice(deadline, flaky)
    assert notice.status == "sent"
    third = _sweep("2023-07-18", minutes=10)
    assert flaky not in {i.natural_key for i in third.items}  # sent: no longer looked at
    assert len(_mails(deadline, flaky)) == 1
