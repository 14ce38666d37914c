"""The Chinese emails of the notice policy: reminders, overdue notices, escalations and the office digest.

Each message says what is due, by when (Beijing time), what the system has received and in what state,
and how to upload, so a county clerk can act on it without phoning the office. Every message is built
once as a list of blocks and rendered to both the text and the HTML part, so the two never disagree.
The caller passes the Message-ID (``chalicelib.domain.outgoing.NoticeKey.message_id``), so a resend is the same message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from chalicelib.domain.deadlines import MONTHLY_PERIOD_FORMAT, Deadline, period_label
from chalicelib.domain.notice_policy import (
    OUTCOME_LABELS,
    OUTCOMES,
    DeliveryState,
    NoticeDecision,
    days_after_due,
    outcome_counts,
    outcomes_by_unit,
    state_of,
)
from chalicelib.domain.outgoing import OutgoingMail
from chalicelib.domain.registry import Campaign, Unit
from chalicelib.domain.timeutil import cn_date

SUBJECT_TAG = "【专项整治】"
# Automatic chasing is 催报. 督办 (挂牌督办) is a formal sanction only the office imposes: never in a machine's mail.
CHASE_TAG = "【催报】"
FOOTER = "（本邮件由系统自动发送，请勿直接回复。）"


# --- blocks, rendered twice --------------------------------------------------------------------------


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Facts:
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Items:
    title: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Para | Facts | Items | Table


def render_text(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if lines:
            lines.append("")
        if isinstance(block, Para):
            lines.append(block.text)
        elif isinstance(block, Facts):
            lines += [f"{label}：{value}" for label, value in block.rows]
        elif isinstance(block, Items):
            lines.append(block.title)
            lines += [f"{i}. {item}" for i, item in enumerate(block.items, 1)]
        else:
            lines.append(block.title)
            lines.append(" | ".join(block.header))
            lines += [" | ".join(row) for row in block.rows]
    return "\n".join(lines) + "\n"


# A URL in a sentence ends where Chinese punctuation or a space begins.
_URL = re.compile(r"https?://[^\s<>\"'，。；：、（）【】]+")


def link_label(url: str) -> str:
    """Short Chinese text for a link: a county's upload page, its pre-filled issue list, or the page it opens."""
    if "/u/" in url and url.endswith("/worksheet"):
        return "点击下载本单位预填问题清单"
    return "点击打开本单位上传页面" if "/u/" in url else "点击打开"


def linkify(text: str) -> str:
    """``text`` as HTML, each URL an ``<a href>`` with short Chinese link text instead of 190 characters."""
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        url = match.group(0)
        parts.append(escape(text[last : match.start()]))
        parts.append(f'<a href="{escape(url, quote=True)}">{link_label(url)}</a>')
        last = match.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


def render_html(blocks: list[Block]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Para):
            parts.append(f"<p>{linkify(block.text)}</p>")
        elif isinstance(block, Facts):
            rows = "".join(f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in block.rows)
            parts.append(f"<table border='1' cellpadding='4' cellspacing='0'>{rows}</table>")
        elif isinstance(block, Items):
            items = "".join(f"<li>{escape(item)}</li>" for item in block.items)
            parts.append(f"<p><strong>{escape(block.title)}</strong></p><ol>{items}</ol>")
        else:
            head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
            body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            parts.append(
                f"<p><strong>{escape(block.title)}</strong></p>"
                f"<table border='1' cellpadding='4' cellspacing='0'><tr>{head}</tr>{body}</table>"
            )
    return "\n".join(parts)


# --- wording -----------------------------------------------------------------------------------------


def month_day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def full_date(day: date) -> str:
    """As the notice writes dates: 2023年6月30日 (``timeutil.cn_date``, the one date style)."""
    return cn_date(day)


def due_text(deadline: Deadline) -> str:
    """E.g. 2023年5月20日23:59:59（北京时间）, and where the date was moved, from what."""
    text = f"{full_date(deadline.due_date)}{deadline.due_at.strftime('%H:%M:%S')}（北京时间）"
    if deadline.moved_from is not None:
        text += f"（原定{month_day(deadline.moved_from)}，遇节假日顺延）"
    return text


def local_time(instant: datetime, deadline: Deadline) -> str:
    local = instant.astimezone(deadline.due_at.tzinfo)
    return f"{cn_date(local.date())} {local:%H:%M}"


def per_notice(campaign: Campaign) -> str:
    """根据《…实施方案》（忻交发〔2023〕56号）要求，: the notice the request rests on."""
    if not campaign.document_number:
        return ""
    return f"根据《全市交通运输执法领域突出问题专项整治工作实施方案》（{campaign.document_number}）要求，"


def what_is_due(deadline: Deadline) -> str:
    """2023年5月专项整治事项清单和典型案例: the period (for monthly deadlines) and the deadline's short name.

    The short name drops the trailing rule in brackets (（每月20日前）), which the subject says better.
    """
    name = re.sub(r"（[^（）]*）\Z", "", deadline.name) or deadline.name
    try:
        datetime.strptime(deadline.period, MONTHLY_PERIOD_FORMAT)
    except ValueError:
        return name
    return f"{period_label(deadline.period)}{name}"


def deliverable_lines(campaign: Campaign, deadline: Deadline) -> tuple[str, ...]:
    counts = dict(deadline.package)
    lines = []
    for deliverable_id in deadline.deliverables:
        deliverable = campaign.deliverable(deliverable_id)
        line = deliverable.name if deliverable else deliverable_id
        if counts.get(deliverable_id, 1) > 1:
            line += f"（{counts[deliverable_id]}份）"
        if deliverable and deliverable.template:
            line += f"（按{deliverable.template}格式）"
        lines.append(line)
    return tuple(lines)


def received_blocks(deadline: Deadline, state: DeliveryState) -> list[Block]:
    """What the system has from the unit for this deadline, in words a clerk can act on."""
    if state.complete_at is not None:
        return [Para(f"已收到情况：已于{local_time(state.complete_at, deadline)}收到并通过核验。")]
    blocks: list[Block] = []
    if state.rejected:
        blocks.append(
            Items(
                "已收到情况：贵单位最近一次上传的材料未通过核验，视为未报送。需要修改的问题：",
                state.rejected,
            )
        )
    if state.package_missing:
        received = (
            f"已于{local_time(state.delivered_at, deadline)}收到部分材料并通过核验，"
            if state.delivered_at is not None
            else ""
        )
        blocks.append(Items(f"已收到情况：{received}材料尚不齐全，还缺：", state.package_missing))
    if not blocks:
        blocks.append(Para("已收到情况：系统尚未收到贵单位的材料。"))
    return blocks


def _recipients(unit: Unit) -> tuple[str, ...]:
    return tuple(c.email for c in (unit.liaisons or unit.contacts))


# --- unit notices ------------------------------------------------------------------------------------


def _state_phrase(state: DeliveryState) -> str | None:
    """Why a unit that uploaded something still counts as not delivered, for the subject line."""
    if state.rejected:
        return "上传材料未通过核验"
    if state.package_missing and state.delivered_at is not None:
        return "材料不全"
    return None


def _unit_subject(unit: Unit, deadline: Deadline, decision: NoticeDecision, state: DeliveryState) -> str:
    what = what_is_due(deadline)
    n = days_after_due(deadline, decision.day)
    why = _state_phrase(state)
    if decision.kind == "reminder":
        if n == 0:
            when = f"今天（{month_day(deadline.due_date)}）截止"
        else:
            when = f"将于{month_day(deadline.due_date)}截止（还剩{-n}天）"
        return f"{SUBJECT_TAG}{unit.name}：{what}{when}" + (f"，{why}" if why else "")
    tag = CHASE_TAG
    return (
        f"{SUBJECT_TAG}{tag}{unit.name}：{what}已逾期{n}天，{why or '未报送'}（截止日期{month_day(deadline.due_date)}）"
    )


def _unit_opening(campaign: Campaign, unit: Unit, deadline: Deadline, decision: NoticeDecision) -> list[Block]:
    what = what_is_due(deadline)
    n = days_after_due(deadline, decision.day)
    if decision.kind == "reminder":
        left = "今天截止" if n == 0 else f"还剩{-n}天"
        return [
            Para(f"{unit.addressee}："),
            Para(
                f"{per_notice(campaign)}请于{due_text(deadline)}前报送{what}（{left}）。"
                "已报送并通过核验的单位不会收到本提醒。"
            ),
        ]
    blocks: list[Block] = [
        Para(f"{unit.addressee}："),
        Para(
            f"{per_notice(campaign)}{what}的截止时间为{due_text(deadline)}。"
            f"截至{full_date(decision.day)}，贵单位尚未完成报送，"
            f"已逾期{n}天。请尽快报送；逾期报送的材料照常接收，但在汇总中记为“逾期报送”。"
        ),
    ]
    if decision.kind == "escalation":
        blocks.append(Para("因逾期时间较长，本通知同时抄送贵单位分管领导，请督促落实。"))
    return blocks


def compose_unit_notice(
    campaign: Campaign,
    deadline: Deadline,
    decision: NoticeDecision,
    state: DeliveryState,
    *,
    upload_hint: str,
    message_id: str,
) -> OutgoingMail:
    """A reminder, overdue notice or escalation to one unit: to its 联络员, the 分管领导 in copy on escalation."""
    if decision.unit_code is None or decision.kind == "digest":
        raise ValueError(f"{decision.natural_key} is not a unit notice")
    unit = campaign.unit(decision.unit_code)
    if unit is None:
        raise ValueError(f"{decision.natural_key}: unknown unit {decision.unit_code}")
    blocks = _unit_opening(campaign, unit, deadline, decision)
    blocks.append(
        Facts(
            (
                ("填报单位", f"{unit.name}（{unit.code}）"),
                ("事项", deadline.name),
                ("期次", period_label(deadline.period)),
                ("截止时间", due_text(deadline)),
            )
        )
    )
    blocks.append(Items("应报送材料：", deliverable_lines(campaign, deadline)))
    blocks += received_blocks(deadline, state)
    blocks.append(Para(f"报送方式：{upload_hint}"))
    blocks.append(Para(f"—— {campaign.office.name}"))
    blocks.append(Para(FOOTER))

    to = _recipients(unit)
    cc = tuple(c.email for c in unit.leaders if c.email not in to) if decision.kind == "escalation" else ()
    return OutgoingMail(
        to=to,
        cc=cc,
        subject=_unit_subject(unit, deadline, decision, state),
        text=render_text(blocks),
        html=render_html(blocks),
        message_id=message_id,
    )


# --- the office digest -------------------------------------------------------------------------------


def _digest_note(deadline: Deadline, state: DeliveryState, outcome: str) -> str:
    if outcome in ("on-time", "late") and state.complete_at is not None:
        return f"{local_time(state.complete_at, deadline)} 通过核验"
    if outcome == "rejected":
        return f"未通过核验（{len(state.rejected)}个问题）：{state.rejected[0]}" if state.rejected else "未通过核验"
    if outcome == "incomplete":
        return "尚缺：" + "；".join(state.package_missing)
    return "未收到材料"


def compose_digest(
    campaign: Campaign,
    deadline: Deadline,
    decision: NoticeDecision,
    states: Mapping[tuple[str, str], DeliveryState],
    *,
    message_id: str,
    board_hint: str | None = None,
) -> OutgoingMail:
    """The morning-after summary of one deadline for the city office: every unit's outcome, with counts."""
    rows = outcomes_by_unit(campaign, deadline, states, decision.day)
    counts = outcome_counts(rows)
    summary = "，".join(f"{OUTCOME_LABELS[o]}{counts[o]}个" for o in OUTCOMES)
    what = what_is_due(deadline)

    blocks: list[Block] = [
        Para(f"{campaign.office.name}："),
        Para(
            f"{what}的截止时间为{due_text(deadline)}。截至{full_date(decision.day)}，"
            f"{len(rows)}个填报单位的报送情况：{summary}。"
        ),
    ]
    for outcome in OUTCOMES:
        if outcome != "on-time" and counts[outcome]:
            names = "、".join(unit.name for unit, _, o in rows if o == outcome)
            blocks.append(Para(f"{OUTCOME_LABELS[outcome]}（{counts[outcome]}个）：{names}"))
    blocks.append(
        Table(
            "各单位明细：",
            ("序号", "单位", "代码", "状态", "说明"),
            tuple(
                (str(i), unit.name, unit.code, OUTCOME_LABELS[outcome], _digest_note(deadline, state, outcome))
                for i, (unit, state, outcome) in enumerate(rows, 1)
            ),
        )
    )
    blocks.append(Para("未报送、未通过核验和材料不全的单位将按催报规则继续收到逾期通知，逾期较长的抄送其分管领导。"))
    if board_hint:
        blocks.append(Para(f"查询：{board_hint}"))
    blocks.append(Para(FOOTER))

    short = "、".join(f"{OUTCOME_LABELS[o]}{counts[o]}" for o in OUTCOMES)
    return OutgoingMail(
        to=(campaign.office.email,),
        subject=f"{SUBJECT_TAG}报送情况汇总：{what}（{month_day(deadline.due_date)}截止）{short}",
        text=render_text(blocks),
        html=render_html(blocks),
        message_id=message_id,
    )


def compose_notice(
    campaign: Campaign,
    deadline: Deadline,
    decision: NoticeDecision,
    states: Mapping[tuple[str, str], DeliveryState],
    *,
    upload_hint: str,
    message_id: str,
) -> OutgoingMail:
    """Any decision of ``decide_notices`` as its email; ``states`` is the same mapping the sweep used."""
    if decision.kind == "digest":
        return compose_digest(campaign, deadline, decision, states, message_id=message_id)
    state = state_of(states, deadline, decision.unit_code or "")
    return compose_unit_notice(campaign, deadline, decision, state, upload_hint=upload_hint, message_id=message_id)


# --- issue 15: problems (对账销号) ------------------------------------------------------------------


def worksheet_sentence(upload_url: str) -> str:
    """The reminder's line offering the unit's pre-filled issue list (the upload link's ``/worksheet``)."""
    return (
        f"本期问题清单可下载预填表（已列出本单位尚未销号的问题及问题编号，请在表上更新整改进展后上传，"
        f"不要改动问题编号）：{upload_url}/worksheet 。"
    )


def compose_problem_actions(campaign: Campaign, unit: Unit, lines: tuple[str, ...], *, message_id: str) -> OutgoingMail:
    """Tells a unit, once, which of its problems the office closed (销号) or marked 问题反弹."""
    blocks: list[Block] = [
        Para(f"{unit.addressee}："),
        Para(
            f"{campaign.office.name}对贵单位问题清单中的以下问题进行了核查。已销号的问题今后无需再报整改进展；"
            "标记为问题反弹的问题请继续整改，并在下期问题清单中如实填报整改进展。"
        ),
        Items("核查结果：", lines),
        Para(f"—— {campaign.office.name}"),
        Para(FOOTER),
    ]
    return OutgoingMail(
        to=_recipients(unit),
        cc=(),
        subject=f"{SUBJECT_TAG}{unit.name}：问题销号情况告知（{len(lines)}个问题）",
        text=render_text(blocks),
        html=render_html(blocks),
        message_id=message_id,
    )
