"""The email a unit gets for each upload: what arrived, its fingerprint, and the verdict."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from html import escape

from chalicelib.domain.deadlines import period_label
from chalicelib.domain.findings import Finding, SubmissionStatus
from chalicelib.domain.notice_texts import linkify
from chalicelib.domain.outgoing import OutgoingMail
from chalicelib.domain.registry import Campaign, Unit
from chalicelib.domain.text import header_safe
from chalicelib.domain.timeutil import cn_date
from chalicelib.domain.upload_keys import UploadTarget

STATUS_LABELS: dict[str, str] = {
    SubmissionStatus.RECEIVED: "已接收，待核验",
    SubmissionStatus.ACCEPTED: "已通过核验",
    "accepted-with-warnings": "已通过核验（有提示）",
    SubmissionStatus.RECEIVED_FOR_REVIEW: "已接收，待人工审阅",
    SubmissionStatus.REJECTED: "未通过核验，请修改后重新上传",
    SubmissionStatus.RETURNED: "已被市专项办退回，请修改后重新上传",
}

# A submission's status in two or five characters, for people (CLI, archive index); JSON keeps the English id.
STATUS_WORDS: dict[str, str] = {
    SubmissionStatus.RECEIVED: "待核验",
    SubmissionStatus.ACCEPTED: "通过",
    SubmissionStatus.REJECTED: "未通过",
    SubmissionStatus.RECEIVED_FOR_REVIEW: "待人工审阅",
    SubmissionStatus.RETURNED: "已退回",
}

SUBJECT_VERDICTS: dict[str, str] = {
    SubmissionStatus.ACCEPTED: "已通过核验",
    SubmissionStatus.REJECTED: "未通过核验，请修改后重新上传",
}


@dataclass(frozen=True)
class Receipt:
    target: UploadTarget
    received_at: datetime
    size: int
    sha256: str
    version_id: str
    status: str
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    row_count: int | None = None
    # The unit's own signed upload link, valid to the end of chasing: what "upload again" points to.
    upload_link: str | None = None
    # Filed by the office for the unit (issue 14): when it really went into the system, and the office's note.
    filed_at: datetime | None = None
    office_note: str | None = None


def _human_size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def local_time_text(instant: datetime, campaign: Campaign) -> str:
    local = instant.astimezone(campaign.zone)
    return f"{cn_date(local.date())} {local:%H:%M:%S}（北京时间）"


def _opening(campaign: Campaign, unit: Unit) -> str:
    source = f"根据《全市交通运输执法领域突出问题专项整治工作实施方案》（{campaign.document_number}），"
    return (source if campaign.document_number else "") + "系统已收到贵单位上传的材料，原件已存档，可凭版本号查询。"


def compose_receipt(receipt: Receipt, message_id: str, office_name: str) -> OutgoingMail:
    t = receipt.target
    period = period_label(t.period)
    status = STATUS_LABELS.get(receipt.status, receipt.status)
    verdict = SUBJECT_VERDICTS.get(receipt.status, "已收到")
    material = t.deliverable.name
    if t.stamped:  # a stamped scan is archived beside the material, not checked as one (issue 14)
        material += "盖章扫描件"
        if receipt.status == SubmissionStatus.ACCEPTED:
            status = verdict = "已存档"
    # The file name is the unit's text: a line break of any kind in it would break the Subject header.
    subject = header_safe(f"【专项整治】{t.unit.name}：{period}{material}{verdict}（{t.file_name}）")
    facts = [
        ("填报单位", f"{t.unit.name}（{t.unit.code}）"),
        ("材料", material),
        ("期次", period),
        ("文件名", t.file_name),
        ("收到时间", local_time_text(receipt.received_at, t.campaign)),
        *(
            [
                (
                    "市专项办代为上传",
                    f"{local_time_text(receipt.filed_at, t.campaign)} {receipt.office_note or ''}".strip(),
                )
            ]
            if receipt.filed_at
            else []
        ),
        ("文件大小", _human_size(receipt.size)),
        ("SHA-256", receipt.sha256),
        ("版本号", receipt.version_id),
        ("状态", status),
    ]
    if receipt.row_count is not None:
        facts.append(("入库条目", f"{receipt.row_count} 条"))
    opening = _opening(t.campaign, t.unit)
    again = (
        f"请按上述提示修改后，通过本单位上传链接重新上传：{receipt.upload_link} 。新版本不会覆盖已存档的原件。"
        if receipt.upload_link
        else "请按上述提示修改后，通过原上传链接重新上传；新版本不会覆盖已存档的原件。"
    )
    lines = [f"{t.unit.addressee}：", "", opening, ""]
    lines += [f"{label}：{value}" for label, value in facts]
    if receipt.errors:
        lines += ["", "需要修改的问题："]
        lines += [f"{i}. {f.located()}" for i, f in enumerate(receipt.errors, 1)]
        lines += ["", again]
    if receipt.warnings:
        lines += ["", "提示（不影响接收）："]
        lines += [f"{i}. {f.located()}" for i, f in enumerate(receipt.warnings, 1)]
    lines += ["", f"—— {office_name}", "（本邮件由系统自动发送，请勿直接回复。）"]

    rows = "\n".join(f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    html = [f"<p>{escape(t.unit.addressee)}：</p><p>{escape(opening)}</p>"]
    html.append(f"<table border='1' cellpadding='4' cellspacing='0'>{rows}</table>")
    for title, findings in (("需要修改的问题", receipt.errors), ("提示（不影响接收）", receipt.warnings)):
        if findings:
            items = "".join(f"<li>{escape(f.located())}</li>" for f in findings)
            html.append(f"<h3>{title}</h3><ol>{items}</ol>")
    if receipt.errors:
        html.append(f"<p>{linkify(again)}</p>")
    html.append(f"<p>—— {escape(office_name)}</p>")

    recipients = tuple(c.email for c in (t.unit.liaisons or t.unit.contacts))
    return OutgoingMail(
        to=recipients, subject=subject, text="\n".join(lines), html="\n".join(html), message_id=message_id
    )


@dataclass(frozen=True)
class RefusedKeyNotice:
    """An object whose key was refused, though the key names a known unit: that unit is told."""

    campaign: Campaign
    unit: Unit
    object_key: str
    version_id: str
    received_at: datetime
    reason: str  # the Chinese refusal (upload_keys.UploadKeyError.message)
    example_key: str  # the key this upload should have had


def compose_refused_receipt(refused: RefusedKeyNotice, message_id: str, office_name: str) -> OutgoingMail:
    """Says that the upload was not recorded, why, and what the right path looks like (or: use the link)."""
    campaign, unit = refused.campaign, refused.unit
    # A refused key may carry control characters (that is one reason for refusing it): never into a header.
    shown_key = "".join("\ufffd" if unicodedata.category(ch).startswith("C") else ch for ch in refused.object_key)
    file_name = shown_key.rsplit("/", 1)[-1]
    subject = f"【专项整治】{unit.name}：上传的文件“{file_name}”未能登记，请按正确路径重新上传"
    known = "；".join(f"{d.id}（{d.name}）" for d in campaign.deliverables.values())
    facts = [
        ("填报单位", f"{unit.name}（{unit.code}）"),
        ("上传路径", shown_key),
        ("收到时间", local_time_text(refused.received_at, campaign)),
        ("版本号", refused.version_id),
        ("状态", "未登记：上传路径不正确"),
    ]
    advice = [
        "原因：" + "".join("\ufffd" if unicodedata.category(ch).startswith("C") else ch for ch in refused.reason),
        "正确的上传路径为 uploads/活动编号/单位代码/材料类型/期次/文件名，例如：",
        refused.example_key,
        f"材料类型可选：{known}。期次为月份（如 2023-05），联系人名单为 setup，九月总结材料为 final。",
        "最简便的做法是使用市局发送的本单位上传链接，在网页中选择文件上传，无需填写路径。",
        "原件已存档，未计入报送，也不会核验；请按正确路径重新上传。",
    ]
    lines = [f"{unit.addressee}：", "", "系统收到了贵单位上传的文件，但上传路径不正确，未能登记为报送材料。", ""]
    lines += [f"{label}：{value}" for label, value in facts]
    lines += ["", *advice, "", f"—— {office_name}", "（本邮件由系统自动发送，请勿直接回复。）"]
    rows = "\n".join(f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    html = [
        f"<p>{escape(unit.addressee)}：</p><p>系统收到了贵单位上传的文件，但上传路径不正确，未能登记为报送材料。</p>",
        f"<table border='1' cellpadding='4' cellspacing='0'>{rows}</table>",
        *(f"<p>{escape(a)}</p>" for a in advice),
        f"<p>—— {escape(office_name)}</p>",
    ]
    recipients = tuple(c.email for c in (unit.liaisons or unit.contacts))
    return OutgoingMail(
        to=recipients, subject=subject, text="\n".join(lines), html="\n".join(html), message_id=message_id
    )


# --- issue 14: the office's decision on an upload ---------------------------------------------------


@dataclass(frozen=True)
class DecisionNotice:
    campaign: Campaign
    unit: Unit
    deliverable_name: str
    period: str
    file_name: str
    version_id: str
    received_at: datetime
    decision: str  # "accept" | "return"
    note: str
    decided_at: datetime
    overridden: tuple[str, ...] = ()
    row_count: int | None = None


def compose_decision_notice(notice: DecisionNotice, message_id: str, office_name: str) -> OutgoingMail:
    """Tells the unit, once, what the office decided on one of its uploads and why."""
    campaign, unit = notice.campaign, notice.unit
    period = period_label(notice.period)
    accepted = notice.decision == "accept"
    verdict = "经市专项办复核予以接收" if accepted else "被市专项办退回，请修改后重新上传"
    subject = f"【专项整治】{unit.name}：{period}{notice.deliverable_name}{verdict}（{notice.file_name}）"
    source = (
        f"根据《全市交通运输执法领域突出问题专项整治工作实施方案》（{campaign.document_number}），"
        if (campaign.document_number)
        else ""
    )
    if accepted:
        opening = f"{source}市专项办对贵单位上传的下列材料进行了人工复核，决定予以接收，视为按收到时间报送。" + (
            "系统核验时提示的问题经复核不影响接收，无需重新上传。" if notice.overridden else ""
        )
    else:
        opening = (
            f"{source}市专项办对贵单位上传的下列材料进行了人工复核，决定退回，该版本不再计入报送。"
            "请按下列理由修改后，通过本单位上传链接重新上传。"
        )
    facts = [
        ("填报单位", f"{unit.name}（{unit.code}）"),
        ("材料", notice.deliverable_name),
        ("期次", period),
        ("文件名", notice.file_name),
        ("收到时间", local_time_text(notice.received_at, campaign)),
        ("版本号", notice.version_id),
        ("复核结果", "予以接收" if accepted else "退回"),
        ("复核时间", local_time_text(notice.decided_at, campaign)),
        ("理由", notice.note),
    ]
    if accepted and notice.row_count is not None:
        facts.append(("入库条目", f"{notice.row_count} 条"))
    lines = [f"{unit.addressee}：", "", opening, ""]
    lines += [f"{label}：{value}" for label, value in facts]
    if notice.overridden:
        lines += ["", "经复核不影响接收的核验提示："]
        lines += [f"{i}. {m}" for i, m in enumerate(notice.overridden, 1)]
    lines += ["", f"—— {office_name}", "（本邮件由系统自动发送，请勿直接回复。）"]
    rows = "\n".join(f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    html = [
        f"<p>{escape(unit.addressee)}：</p><p>{escape(opening)}</p>",
        f"<table border='1' cellpadding='4' cellspacing='0'>{rows}</table>",
    ]
    if notice.overridden:
        items = "".join(f"<li>{escape(m)}</li>" for m in notice.overridden)
        html.append(f"<h3>经复核不影响接收的核验提示</h3><ol>{items}</ol>")
    html.append(f"<p>—— {escape(office_name)}</p>")
    recipients = tuple(c.email for c in (unit.liaisons or unit.contacts))
    return OutgoingMail(
        to=recipients, subject=subject, text="\n".join(lines), html="\n".join(html), message_id=message_id
    )
