"""The email a unit gets for each upload: what arrived, its fingerprint, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from chalicelib.adapters.mail import OutgoingMail
from chalicelib.domain.deadlines import period_label
from chalicelib.domain.text import header_safe
from chalicelib.domain.upload_keys import UploadTarget

STATUS_LABELS = {
    "received": "已接收，待核验",
    "accepted": "已通过核验",
    "accepted-with-warnings": "已通过核验（有提示）",
    "received-for-review": "已接收，待人工审阅",
    "rejected": "未通过核验，请修改后重新上传",
}

SUBJECT_VERDICTS = {"accepted": "已通过核验", "rejected": "未通过核验，请修改后重新上传"}


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    section: str | None = None

    def located(self) -> str:
        where = []
        if self.sheet:
            where.append(f"工作表“{self.sheet}”")
        if self.row is not None:
            where.append(f"第{self.row}行")
        if self.column:
            where.append(f"【{self.column}】")
        if self.section:
            where.append(f"“{self.section}”部分")
        return ("".join(where) + "：" if where else "") + self.message


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


def _human_size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def compose_receipt(receipt: Receipt, message_id: str, office_name: str) -> OutgoingMail:
    t = receipt.target
    local = receipt.received_at.astimezone(t.campaign.zone)
    period = period_label(t.period)
    status = STATUS_LABELS.get(receipt.status, receipt.status)
    verdict = SUBJECT_VERDICTS.get(receipt.status, "已收到")
    # The file name is the unit's text: a line break of any kind in it would break the Subject header.
    subject = header_safe(f"【专项整治】{t.unit.name}：{period}{t.deliverable.name}{verdict}（{t.file_name}）")
    facts = [
        ("填报单位", f"{t.unit.name}（{t.unit.code}）"),
        ("材料", t.deliverable.name),
        ("期次", period),
        ("文件名", t.file_name),
        ("收到时间", local.strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）"),
        ("文件大小", _human_size(receipt.size)),
        ("SHA-256", receipt.sha256),
        ("版本号", receipt.version_id),
        ("状态", status),
    ]
    if receipt.row_count is not None:
        facts.append(("入库条目", f"{receipt.row_count} 条"))
    lines = [f"{t.unit.name}：", "", "系统已收到贵单位上传的材料，原件已存档，可凭版本号查询。", ""]
    lines += [f"{label}：{value}" for label, value in facts]
    if receipt.errors:
        lines += ["", "需要修改的问题："]
        lines += [f"{i}. {f.located()}" for i, f in enumerate(receipt.errors, 1)]
        lines += ["", "请按上述提示修改后，通过原上传链接重新上传；新版本不会覆盖已存档的原件。"]
    if receipt.warnings:
        lines += ["", "提示（不影响接收）："]
        lines += [f"{i}. {f.located()}" for i, f in enumerate(receipt.warnings, 1)]
    lines += ["", f"—— {office_name}", "（本邮件由系统自动发送，请勿直接回复。）"]

    rows = "\n".join(f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    html = [f"<p>{escape(t.unit.name)}：</p><p>系统已收到贵单位上传的材料，原件已存档，可凭版本号查询。</p>"]
    html.append(f"<table border='1' cellpadding='4' cellspacing='0'>{rows}</table>")
    for title, findings in (("需要修改的问题", receipt.errors), ("提示（不影响接收）", receipt.warnings)):
        if findings:
            items = "".join(f"<li>{escape(f.located())}</li>" for f in findings)
            html.append(f"<h3>{title}</h3><ol>{items}</ol>")
    html.append(f"<p>—— {escape(office_name)}</p>")

    recipients = tuple(c.email for c in (t.unit.liaisons or t.unit.contacts))
    return OutgoingMail(
        to=recipients, subject=subject, text="\n".join(lines), html="\n".join(html), message_id=message_id
    )
