"""The daily sweep: read who delivered what, decide the day's notices, send each one exactly once.

``run_sweep`` is the service behind the scheduled function and ``cli sweep``:

1. the sweep's day is the campaign's local date of ``as_of``; only deadlines that owe a notice that day
   (a reminder, overdue or escalation day, or the digest's morning after) are read;
2. for each of them, ``chalicelib.services.board.table_states`` reads every unit's state through the store:
   one Query per (deliverable, period) on the delivery pointers; a unit whose latest upload was rejected
   and never fixed costs one GetItem for the submission's error messages. Never a Scan;
3. ``notice_policy.decide_notices`` decides, ``notice_texts.compose_notice`` writes the email, and
   ``chalicelib.services.notices.send_once`` sends it under the decision's natural key, in parallel
   for a big campaign; ``retry_unsent`` resends what earlier days could not.

The natural key (deadline, unit, kind, day) makes the sweep safe to repeat: a second run the same day,
a concurrent run, or a rerun after a crash finds each notice already sent (or leased by the other run)
and sends only what is missing; a notice left ``failed`` by a transient mail error is retried by the
next run of the same day. Everything is evaluated "as of" ``as_of``: uploads received later do not count,
so ``cli sweep --as-of 2023-05-17`` answers what the sweep would have done that morning.

The pure part (pointer views → ``DeliveryState``, ``package_missing``) is ``chalicelib.domain.delivery_state``;
the store is passed in, so the whole sweep also runs on ``MemoryStore`` without the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from chalicelib.adapters.mail import MailSender, mail_session
from chalicelib.domain.deadlines import Deadline, campaign_deadlines
from chalicelib.domain.findings import NoticeStatus, SendOutcome
from chalicelib.domain.links import LinkConfigError, LinkSettings, upload_link
from chalicelib.domain.notice_policy import (
    DeliveryState,
    NoticeDecision,
    decide_notices,
    is_digest_day,
    sweep_day,
    unit_notice_kind,
)
from chalicelib.domain.notice_texts import compose_notice, worksheet_sentence
from chalicelib.domain.outgoing import NoticeKey, OutgoingMail
from chalicelib.domain.packages import required_parts
from chalicelib.domain.registry import Campaign
from chalicelib.domain.store import CampaignStore
from chalicelib.domain.workdays import WorkdayCalendar
from chalicelib.services.board import MAX_WORKERS, TableReads, table_states
from chalicelib.services.notices import DEFAULT_LEASE, RETRY_DELAYS_SECONDS, send_once

WOULD_SEND: Literal["would-send"] = "would-send"  # a dry run's outcome: decided, composed, not in the log yet
SweepOutcome = SendOutcome | Literal["would-send"]
OUTCOME_LABELS: dict[str, str] = {
    SendOutcome.SENT: "已发送",
    SendOutcome.ALREADY_SENT: "此前已发送",
    SendOutcome.IN_FLIGHT: "另一进程发送中",
    SendOutcome.FAILED: "发送失败（下次运行重试）",
    SendOutcome.REJECTED: "被拒收（需人工处理）",
    SendOutcome.ERROR: "生成或发送出错（已记录，需人工处理）",
    WOULD_SEND: "将发送（演练）",
}
# Parallel senders for a big sweep (see sweep_workers; MAX_WORKERS is the board's); an SMTP relay accepts this
# many connections from one client (Postfix: 50 by default), DynamoDB on demand does not notice.
NOTICES_PER_WORKER = 100

# (campaign, deadline, unit code) → the "报送方式" line of a unit notice.
UploadHint = Callable[[Campaign, Deadline, str], str]


def deadlines_due(campaign: Campaign, day: date, calendar: WorkdayCalendar | None = None) -> list[Deadline]:
    """The deadlines that may owe a notice on ``day``: the only ones the sweep reads the table for."""
    policy = campaign.notice_policy
    if campaign.issued is not None and day < campaign.issued:
        return []  # nothing is owed before the notice existed (chalicelib.domain.notice_policy.decide_notices)
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


def link_hint(as_of: datetime, settings: LinkSettings) -> str | UploadHint:
    """Each unit's own signed upload link in its notices, when links are configured; else the path hint.

    A link stays valid for the grace period after the deadline or after the notice, whichever is later,
    so an overdue notice never carries a dead link.
    """
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
        text = (
            f"请打开本单位专用上传链接上传（{until}前有效，请勿转发）：{url} 。"
            "同一材料可重复上传，以最后一次通过核验的版本为准；上传后系统会发送回执邮件。"
        )
        if "issue-list" in deadline.deliverables:  # issue 15: the pre-filled list behind the same link
            text += worksheet_sentence(url)
        return text

    return hint


def _logged_outcome(store: CampaignStore, key: NoticeKey) -> SweepOutcome:
    """For a dry run: what the log already says about a notice (a read, never a write)."""
    notice = store.get_notice(key)
    if notice is None:
        return WOULD_SEND
    if notice.status == NoticeStatus.SENT:
        return SendOutcome.ALREADY_SENT
    if notice.status == NoticeStatus.REJECTED:
        return SendOutcome.REJECTED
    return WOULD_SEND


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
        return [i for i in self.items if i.outcome == SendOutcome.REJECTED]

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
    store: CampaignStore,
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
    states = table_states(store, campaign, deadlines, as_of, reads)
    report = SweepReport(
        campaign.id, as_of, day, dry_run, deadlines=[d.id for d in deadlines], queries=reads.queries, gets=reads.gets
    )
    decisions = decide_notices(campaign, deadlines, states, day)
    report.items = deliver_notices(
        store,
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
        report.items += retry_unsent(
            store, campaign, sender, as_of=as_of, skip=done, lease=lease, retry_delays=retry_delays
        )
        report.items += tell_problem_actions(
            store, campaign, sender, as_of=as_of, lease=lease, retry_delays=retry_delays
        )
    return report


PROBLEM_ACTIONS_SCOPE = "problem-actions"


def tell_problem_actions(
    store: CampaignStore,
    campaign: Campaign,
    sender: MailSender,
    *,
    as_of: datetime,
    lease: timedelta = DEFAULT_LEASE,
    retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
) -> list[SweepItem]:
    """Issue 15: each unit hears once which of its problems the office closed or reopened since it was last told.

    One Query of the units' problem aggregates finds the untold actions. The notice's natural key is the
    unit and its newest untold action, so a rerun (or a crash between sending and marking) sends nothing
    twice; the actions are then marked told with the aggregate's conditional write.
    """
    from chalicelib.domain.notice_texts import compose_problem_actions
    from chalicelib.services.problems import mark_told, told_lines, untold_actions

    items: list[SweepItem] = []
    for unit_code, untold in sorted(untold_actions(store, campaign).items()):
        unit = campaign.unit(unit_code)
        if unit is None:
            continue
        newest = max(untold, key=lambda u: (u["when"], u["id"], u["action"]))
        key = NoticeKey(
            campaign.id, PROBLEM_ACTIONS_SCOPE, f"{unit_code}#{newest['when']}#{newest['id']}#{newest['action']}"
        )
        mail = compose_problem_actions(campaign, unit, tuple(told_lines(untold)), message_id=key.message_id)
        outcome = send_once(
            store, key, "problem-actions", mail, sender, now=as_of, lease=lease, retry_delays=retry_delays
        )
        if outcome in (SendOutcome.SENT, SendOutcome.ALREADY_SENT, SendOutcome.REJECTED):
            mark_told(store, campaign, unit_code, untold)
        items.append(
            SweepItem(
                key.key, "problem-actions", PROBLEM_ACTIONS_SCOPE, unit_code, mail.to, mail.cc, mail.subject, outcome
            )
        )
    return items


RETRY_UNSENT_DAYS = 7


def retry_unsent(
    store: CampaignStore,
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
    items = []
    for deadline in campaign_deadlines(campaign):
        for notice in store.unsent_notices(campaign.id, deadline.id, since):
            natural_key = notice.key.key
            if natural_key in skip:
                continue
            outcome = send_once(
                store,
                notice.key,
                notice.kind,
                notice.mail(),
                sender,
                now=as_of,
                lease=lease,
                retry_delays=retry_delays,
            )
            unit = natural_key.split("|")[1] if natural_key.count("|") >= 3 else None
            items.append(
                SweepItem(
                    natural_key=natural_key,
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
    store: CampaignStore,
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
            outcome: str = _logged_outcome(store, key)
        else:
            outcome = send_once(
                store, key, decision.kind, mail, sender, now=as_of, lease=lease, retry_delays=retry_delays
            )
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
