"""The daily sweep: read who delivered what, decide the day's notices, send each one exactly once.

``run_sweep`` is the service behind the scheduled function and ``cli sweep``:

1. the sweep's day is the campaign's local date of ``as_of``; only deadlines that owe a notice that day
   (a reminder, overdue or escalation day, or the digest's morning after) are read;
2. for each of them, one Query per (deliverable, period) on the delivery pointers (``deliveries_for``)
   gives every unit's state; a unit whose latest upload was rejected and never fixed costs one GetItem
   for the submission's error messages. Never a Scan;
3. ``notice_policy.decide_notices`` decides, ``notice_texts.compose_notice`` writes the email, and
   ``notice_log.send_once`` sends it under the decision's natural key.

The natural key (deadline, unit, kind, day) makes the sweep safe to repeat: a second run the same day,
a concurrent run, or a rerun after a crash finds each notice already sent (or leased by the other run)
and sends only what is missing; a notice left ``failed`` by a transient mail error is retried by the
next run of the same day. Everything is evaluated "as of" ``as_of``: uploads received later do not count,
so ``cli sweep --as-of 2023-05-17`` answers what the sweep would have done that morning.

The pure part (pointer views → ``DeliveryState``, ``package_missing``) is kept apart from the table reads
so it can be tested and refined without the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from chalicelib.adapters.deliveries import current_rows, deliveries_for, rows_as_dicts
from chalicelib.adapters.mail import MailSender, OutgoingMail, mail_session
from chalicelib.adapters.models import Delivery, Notice, Submission, submission_pk
from chalicelib.adapters.notice_log import DEFAULT_LEASE, RETRY_DELAYS_SECONDS, NoticeKey, send_once, stored_mail
from chalicelib.domain.deadlines import Deadline, campaign_deadlines, period_label
from chalicelib.domain.notice_policy import (
    DeliveryState,
    NoticeDecision,
    decide_notices,
    is_digest_day,
    sweep_day,
    unit_notice_kind,
)
from chalicelib.domain.notice_texts import compose_notice
from chalicelib.domain.packages import PackageStatus, items_of, package_parts, required_parts
from chalicelib.domain.registry import Campaign
from chalicelib.domain.workdays import WorkdayCalendar

SweepOutcome = Literal["sent", "already-sent", "in-flight", "failed", "rejected", "error", "would-send"]
OUTCOME_LABELS: dict[str, str] = {
    "sent": "已发送",
    "already-sent": "此前已发送",
    "in-flight": "另一进程发送中",
    "failed": "发送失败（下次运行重试）",
    "rejected": "被拒收（需人工处理）",
    "error": "生成或发送出错（已记录，需人工处理）",
    "would-send": "将发送（演练）",
}
# Parallel senders for a big sweep (see sweep_workers); an SMTP relay accepts this many connections from one
# client (Postfix: 50 by default), DynamoDB on demand does not notice.
NOTICES_PER_WORKER = 100
MAX_WORKERS = 32
# What the intake counts as an accepted version (deliveries.record_delivery moves the pointer for these).
ACCEPTED_STATUSES = frozenset({"accepted", "received-for-review"})

# (campaign, deadline, unit code) → the "报送方式" line of a unit notice.
UploadHint = Callable[[Campaign, Deadline, str], str]


# --- pure: pointers → delivery states ----------------------------------------------------------------


@dataclass(frozen=True)
class Pointer:
    """What the sweep needs of one unit's delivery pointer for one deliverable and period."""

    unit_code: str
    deliverable: str
    first_accepted_at: datetime | None = None
    current_row_count: int | None = None
    latest_status: str | None = None
    latest_submission_sk: str | None = None
    latest_received_at: datetime | None = None
    current_version: str | None = None

    def accepted_by(self, as_of: datetime) -> bool:
        return self.first_accepted_at is not None and self.first_accepted_at <= as_of

    def rejected_by(self, as_of: datetime) -> bool:
        """The latest upload (as of then) was rejected and no version was ever accepted."""
        return (
            not self.accepted_by(as_of)
            and self.latest_status == "rejected"
            and self.latest_received_at is not None
            and self.latest_received_at <= as_of
            and self.latest_submission_sk is not None
        )


def package_missing(
    campaign: Campaign,
    deadline: Deadline,
    accepted: Mapping[str, int | None],
    legacy_rows: Sequence[Mapping[str, Any]] = (),
) -> tuple[str, ...]:
    """What a unit still owes for a deadline, as Chinese labels for the notice; () when complete.

    ``accepted`` maps each deliverable with an accepted version (as of the sweep) to its current version's
    row count; ``chalicelib.domain.packages`` decides what complete means (three cases, the 2022 list's rows).
    """
    have = {d: items_of(dict(required_parts(deadline)).get(d, 1), n) for d, n in accepted.items()}
    return PackageStatus(deadline.id, "", package_parts(campaign, deadline, have, legacy_rows), None).missing


def delivery_state(
    campaign: Campaign,
    deadline: Deadline,
    unit_code: str,
    pointers: Mapping[str, Pointer],
    rejections: Mapping[tuple[str, str], tuple[str, ...]],
    as_of: datetime,
    legacy_rows: Sequence[Mapping[str, Any]] = (),
) -> DeliveryState | None:
    """One unit's state for one deadline from its pointers (by deliverable), or None when there is nothing.

    Delivered means every required part is accepted: ``delivered_at`` is the first accepted part and
    ``completed_at`` the latest of the parts' first acceptances, so a deadline with two deliverables
    (清单 and 典型案例) is on time only if both were. A unit with some parts accepted is "incomplete" and
    told what is missing; ``rejections`` ((unit, submission sk) → error messages) explains parts whose
    latest upload was rejected and never fixed.
    """
    parts = [d for d, _ in required_parts(deadline)]
    accepted = {d: p for d in parts if (p := pointers.get(d)) is not None and p.accepted_by(as_of)}
    rejected: list[str] = []
    for d in parts:
        p = pointers.get(d)
        if p is None or not p.rejected_by(as_of) or p.latest_submission_sk is None:
            continue
        messages = rejections.get((unit_code, p.latest_submission_sk), ())
        if len(parts) > 1:  # say which of the deliverables each message is about
            deliverable = campaign.deliverable(d)
            messages = tuple(f"{deliverable.name if deliverable else d}：{m}" for m in messages)
        rejected += messages or [f"{period_label(deadline.period)}材料未通过核验"]
    if not accepted and not rejected:
        return None
    first_times = [p.first_accepted_at for p in accepted.values() if p.first_accepted_at is not None]
    missing = package_missing(campaign, deadline, {d: p.current_row_count for d, p in accepted.items()}, legacy_rows)
    return DeliveryState(
        unit_code=unit_code,
        delivered_at=min(first_times) if first_times else None,
        rejected=tuple(rejected),
        # Only a unit that delivered something is told "incomplete"; one with nothing accepted is "missing".
        package_missing=missing if accepted else (),
        completed_at=max(first_times) if first_times and not missing else None,
    )


def deadlines_due(campaign: Campaign, day: date, calendar: WorkdayCalendar | None = None) -> list[Deadline]:
    """The deadlines that may owe a notice on ``day``: the only ones the sweep reads the table for."""
    policy = campaign.notice_policy
    return [
        d
        for d in campaign_deadlines(campaign, calendar)
        if unit_notice_kind(policy, d, day) is not None or is_digest_day(policy, d, day)
    ]


def upload_path_hint(campaign: Campaign, deadline: Deadline, unit_code: str) -> str:
    """Where to put the files, until issue 6 brings per-unit upload links."""
    keys = "；".join(
        f"uploads/{campaign.id}/{unit_code}/{d}/{deadline.period}/文件名（{campaign.deliverables[d].name}）"
        if d in campaign.deliverables
        else f"uploads/{campaign.id}/{unit_code}/{d}/{deadline.period}/文件名"
        for d in deadline.deliverables
    )
    return (
        f"请通过市专项整治办发送的上传链接上传，文件路径为 {keys}。"
        "同一材料可重复上传，以最后一次通过核验的版本为准；上传后系统会发送回执邮件。"
    )


def link_hint(as_of: datetime, env: Mapping[str, str] | None = None) -> str | UploadHint:
    """Each unit's own signed upload link in its notices, when links are configured; else the path hint.

    A link stays valid for the grace period after the deadline or after the notice, whichever is later,
    so an overdue notice never carries a dead link.
    """
    from chalicelib.adapters.secrets import link_settings
    from chalicelib.domain.links import LinkConfigError, upload_link

    settings = link_settings(env)  # logs an error when the key or base URL is missing
    try:
        key = settings.keys()[0]
    except LinkConfigError:
        return upload_path_hint

    def hint(campaign: Campaign, deadline: Deadline, unit_code: str) -> str:
        if not unit_code:
            return "各单位可通过各自的上传链接补报，链接随催报通知发送。"
        expires = max(deadline.due_at, as_of).astimezone(UTC) + timedelta(days=settings.grace_days)
        url = upload_link(
            campaign.id,
            unit_code,
            [d for d, _ in required_parts(deadline)],
            deadline.period,
            base_url=settings.base_url,
            signing_key=key,
            expires_at=expires,
        )
        until = expires.astimezone(campaign.zone).strftime("%Y年%m月%d日")
        return (
            f"请打开本单位专用上传链接上传（{until}前有效，请勿转发）：{url} 。"
            "同一材料可重复上传，以最后一次通过核验的版本为准；上传后系统会发送回执邮件。"
        )

    return hint


# --- the table ---------------------------------------------------------------------------------------


@dataclass
class TableReads:
    """How the sweep read the table, for the report (and the tests): never a Scan."""

    queries: list[str] = field(default_factory=list)  # "deliverable/period", one Query each
    gets: int = 0  # GetItem of rejected submissions


def _pointer(item: Delivery) -> Pointer:
    return Pointer(
        unit_code=item.unit,
        deliverable=item.deliverable,
        first_accepted_at=item.first_accepted_at,
        current_row_count=int(item.current_row_count) if item.current_row_count is not None else None,
        latest_status=item.latest_status,
        latest_submission_sk=item.latest_submission_sk,
        latest_received_at=item.latest_received_at,
        current_version=item.current_version,
    )


def _rejection_messages(campaign_id: str, unit_code: str, submission_sk: str) -> tuple[str, ...]:
    try:
        submission = Submission.get(submission_pk(campaign_id, unit_code), submission_sk)
    except Submission.DoesNotExist:
        return ()
    return tuple(f.message for f in submission.errors or ())


def _fetch_rejections(campaign_id: str, keys: Sequence[tuple[str, str]]) -> list[tuple[str, ...]]:
    """The error messages of rejected submissions, one GetItem each; concurrent when there are many (a
    campaign of thousands of units has hundreds), each call waiting on the network, not on Python."""
    workers = max(1, min(MAX_WORKERS, len(keys) // 25))
    if workers == 1:
        return [_rejection_messages(campaign_id, *key) for key in keys]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep-read") as pool:
        return list(pool.map(lambda key: _rejection_messages(campaign_id, *key), keys))


def table_states(
    campaign: Campaign,
    deadlines: Iterable[Deadline],
    as_of: datetime,
    reads: TableReads | None = None,
    pointers: dict[tuple[str, str], dict[str, Pointer]] | None = None,
) -> dict[tuple[str, str], DeliveryState]:
    """Every unit's state for the given deadlines as of an instant, keyed (deadline id, unit code).

    ``pointers`` ((deliverable, period) → unit → pointer) is filled for callers that show them.
    """
    reads = reads if reads is not None else TableReads()
    deadlines = list(deadlines)
    pointers = pointers if pointers is not None else {}
    for deadline in deadlines:
        for deliverable_id, _ in required_parts(deadline):
            pair = (deliverable_id, deadline.period)
            if pair not in pointers:
                reads.queries.append(f"{deliverable_id}/{deadline.period}")
                pointers[pair] = {
                    p.unit_code: p for p in map(_pointer, deliveries_for(campaign.id, deliverable_id, deadline.period))
                }
    wanted: dict[tuple[str, str], None] = {}  # insertion-ordered set
    for by_unit in pointers.values():
        for p in by_unit.values():
            key = (p.unit_code, p.latest_submission_sk or "")
            if p.rejected_by(as_of):
                wanted[key] = None
    reads.gets += len(wanted)
    rejections = dict(zip(wanted, _fetch_rejections(campaign.id, list(wanted)), strict=True))
    # The 2022 list in a package must also say how far every problem got: read its current rows.
    legacy: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for deadline in deadlines:
        if "legacy-issue-list" in dict(required_parts(deadline)):
            for p in pointers[("legacy-issue-list", deadline.period)].values():
                if p.accepted_by(as_of) and (p.unit_code, deadline.period) not in legacy:
                    reads.queries.append(f"legacy-issue-list/{deadline.period}/{p.unit_code} rows")
                    rows = current_rows(campaign.id, p.unit_code, "legacy-issue-list", deadline.period)
                    legacy[(p.unit_code, deadline.period)] = rows_as_dicts(rows)
    states: dict[tuple[str, str], DeliveryState] = {}
    for deadline in deadlines:
        for unit in campaign.units:
            unit_pointers = {
                d: by_unit[unit.code]
                for d, _ in required_parts(deadline)
                if unit.code in (by_unit := pointers[(d, deadline.period)])
            }
            state = delivery_state(
                campaign,
                deadline,
                unit.code,
                unit_pointers,
                rejections,
                as_of,
                legacy.get((unit.code, deadline.period), ()),
            )
            if state is not None:
                states[(deadline.id, unit.code)] = state
    return states


def _logged_outcome(key: NoticeKey) -> SweepOutcome:
    """For a dry run: what the log already says about a notice (a read, never a write)."""
    try:
        notice = Notice.get(key.pk, key.key)
    except Notice.DoesNotExist:
        return "would-send"
    if notice.status == "sent":
        return "already-sent"
    if notice.status == "rejected":
        return "rejected"
    return "would-send"


# --- the sweep ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepItem:
    natural_key: str
    kind: str
    deadline_id: str
    unit_code: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    outcome: str


@dataclass
class SweepReport:
    campaign_id: str
    as_of: datetime
    day: date
    dry_run: bool
    deadlines: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    gets: int = 0
    items: list[SweepItem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.outcome] = counts.get(item.outcome, 0) + 1
        return counts

    @property
    def undeliverable(self) -> list[SweepItem]:
        """Notices the mail server refused for good (bad address …): the office must follow up by phone."""
        return [i for i in self.items if i.outcome == "rejected"]

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign_id,
            "as_of": self.as_of.isoformat(),
            "day": self.day.isoformat(),
            "dry_run": self.dry_run,
            "deadlines": self.deadlines,
            "queries": self.queries,
            "gets": self.gets,
            "counts": self.counts(),
            "undeliverable": [asdict(i) for i in self.undeliverable],
            "items": [asdict(i) for i in self.items],
        }


def _hint_for(upload_hint: str | UploadHint, campaign: Campaign, deadline: Deadline, unit_code: str | None) -> str:
    if isinstance(upload_hint, str):
        return upload_hint
    return upload_hint(campaign, deadline, unit_code or "")


def run_sweep(
    campaign: Campaign,
    as_of: datetime,
    sender: MailSender,
    *,
    dry_run: bool = False,
    upload_hint: str | UploadHint = upload_path_hint,
    retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
    lease: timedelta = DEFAULT_LEASE,
    calendar: WorkdayCalendar | None = None,
) -> SweepReport:
    """Send the notices the campaign owes on ``as_of``'s local day, each once; see the module docstring.

    ``as_of`` must be aware. It is also the notice log's clock (``now``): a rerun after a crash
    reclaims a notice left mid-send once its lease (``lease`` after the crashed run's ``as_of``) is over.
    ``dry_run`` decides and composes, reads the log, and writes and sends nothing.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be an aware datetime")
    day = sweep_day(as_of, campaign)
    deadlines = deadlines_due(campaign, day, calendar)
    reads = TableReads()
    states = table_states(campaign, deadlines, as_of, reads)
    report = SweepReport(
        campaign.id, as_of, day, dry_run, deadlines=[d.id for d in deadlines], queries=reads.queries, gets=reads.gets
    )
    decisions = decide_notices(campaign, deadlines, states, day)
    report.items = deliver_notices(
        campaign,
        deadlines,
        decisions,
        states,
        sender,
        as_of=as_of,
        dry_run=dry_run,
        upload_hint=upload_hint,
        lease=lease,
        retry_delays=retry_delays,
    )
    if not dry_run:
        done = {item.natural_key for item in report.items}
        report.items += retry_unsent(campaign, sender, as_of=as_of, skip=done, lease=lease, retry_delays=retry_delays)
    return report


RETRY_UNSENT_DAYS = 7


def retry_unsent(
    campaign: Campaign,
    sender: MailSender,
    *,
    as_of: datetime,
    skip: set[str] | frozenset[str] = frozenset(),
    lease: timedelta = DEFAULT_LEASE,
    retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
    days: int = RETRY_UNSENT_DAYS,
) -> list[SweepItem]:
    """Notices of the last ``days`` that could not go out (the relay down that morning, a run that died
    mid-send) are sent now, once, with the text recorded then. Natural keys carry their day, so without
    this a notice that failed would only ever be retried by a rerun on the same day. One Query per
    deadline of the campaign."""
    since = as_of - timedelta(days=days)
    unsent = Notice.status.is_in("pending", "failed", "sending") & (Notice.created_at >= since)
    items = []
    for deadline in campaign_deadlines(campaign):
        scope = NoticeKey(campaign.id, deadline.id, "")
        for notice in Notice.query(scope.pk, filter_condition=unsent):
            if notice.sk in skip:
                continue
            key = NoticeKey(campaign.id, deadline.id, notice.sk)
            outcome = send_once(
                key, notice.kind, stored_mail(notice), sender, now=as_of, lease=lease, retry_delays=retry_delays
            )
            unit = notice.sk.split("|")[1] if notice.sk.count("|") >= 3 else None
            items.append(
                SweepItem(
                    natural_key=notice.sk,
                    kind=notice.kind,
                    deadline_id=deadline.id,
                    unit_code=None if unit in (None, "office") else unit,
                    to=tuple(notice.recipients),
                    cc=tuple(notice.cc or ()),
                    subject=notice.subject,
                    outcome=outcome,
                )
            )
    return items


def sweep_workers(notices: int) -> int:
    """One sender per ``NOTICES_PER_WORKER`` notices, up to ``MAX_WORKERS``: a campaign of 14 units is sent
    one by one as before; 3,000 units' ten thousand notices (three table writes and an SMTP exchange each)
    would not fit the function's 300 s one by one."""
    return max(1, min(MAX_WORKERS, -(-notices // NOTICES_PER_WORKER)))


def deliver_notices(
    campaign: Campaign,
    deadlines: Sequence[Deadline],
    decisions: Sequence[NoticeDecision],
    states: Mapping[tuple[str, str], DeliveryState],
    sender: MailSender,
    *,
    as_of: datetime,
    dry_run: bool = False,
    upload_hint: str | UploadHint = upload_path_hint,
    lease: timedelta = DEFAULT_LEASE,
    retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
    workers: int | None = None,
) -> list[SweepItem]:
    """Compose and send each decided notice once; the items in the decisions' order.

    Each worker sends its share over one SMTP connection (``mail_session``: not one connection per notice).
    Notices are independent (each has its own natural key in the log), so their order of sending does not
    matter to exactly-once; the report keeps the decisions' order.
    """
    by_id = {d.id: d for d in deadlines}

    def one(decision: NoticeDecision) -> SweepItem:
        deadline = by_id[decision.deadline_id]
        key = NoticeKey(campaign.id, scope=deadline.id, key=decision.natural_key)
        mail = compose_notice(
            campaign,
            deadline,
            decision,
            states,
            upload_hint=_hint_for(upload_hint, campaign, deadline, decision.unit_code),
            message_id=key.message_id,
        )
        if dry_run:
            outcome: str = _logged_outcome(key)
        else:
            outcome = send_once(key, decision.kind, mail, sender, now=as_of, lease=lease, retry_delays=retry_delays)
        return _item(decision, mail, outcome)

    def share(part: Sequence[NoticeDecision]) -> list[SweepItem]:
        with mail_session(sender):
            return [one(decision) for decision in part]

    count = workers or sweep_workers(len(decisions))
    if count <= 1:
        return share(decisions)
    parts = [decisions[i::count] for i in range(count)]  # interleaved: every worker gets every kind
    items: list[SweepItem | None] = [None] * len(decisions)
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="sweep") as pool:
        for i, done in enumerate(pool.map(share, parts)):
            items[i::count] = done
    return [item for item in items if item is not None]


def _item(decision: NoticeDecision, mail: OutgoingMail, outcome: str) -> SweepItem:
    return SweepItem(
        natural_key=decision.natural_key,
        kind=decision.kind,
        deadline_id=decision.deadline_id,
        unit_code=decision.unit_code,
        to=mail.to,
        cc=mail.cc,
        subject=mail.subject,
        outcome=outcome,
    )
