"""Which checks an upload gets, by deliverable: one verdict shape for every kind of material."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.data import REPORT_TEMPLATE_DIR as _REPORT_TEMPLATE_DIR
from chalicelib.data import TABLE_TEMPLATE_DIR
from chalicelib.domain.contacts import CONTACTS_DELIVERABLE
from chalicelib.domain.findings import Finding, SubmissionStatus
from chalicelib.domain.registry import Campaign, Deliverable, Unit
from chalicelib.domain.upload_keys import UploadTarget

TEMPLATE_DIR = TABLE_TEMPLATE_DIR
REPORT_TEMPLATE_DIR = _REPORT_TEMPLATE_DIR


@dataclass(frozen=True)
class Verdict:
    status: SubmissionStatus | str
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    rows: tuple[dict[str, Any], ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    # Rows the checker could read even when the file is rejected: what the office's accept writes (issue 14).
    readable_rows: tuple[dict[str, Any], ...] = ()


def rejected(*errors: Finding) -> Verdict:
    return Verdict(SubmissionStatus.REJECTED, errors=errors)


def extension_of(file_name: str) -> str:
    return file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""


def check_envelope(deliverable: Deliverable, file_name: str, size: int, max_bytes: int) -> tuple[Finding, ...]:
    """What can be judged before opening the file: format and size."""
    findings = []
    if extension_of(file_name) not in deliverable.formats:
        accepted = "、".join(f".{ext}" for ext in deliverable.formats)
        findings.append(
            Finding(
                "FORMAT_NOT_ACCEPTED",
                f"文件“{file_name}”的格式不在{deliverable.name}接受的范围内，请另存为 {accepted} 后重新上传。",
            )
        )
    if size == 0:
        findings.append(Finding("EMPTY_FILE", f"文件“{file_name}”是空文件（0 字节），请检查后重新上传。"))
    elif size > max_bytes:
        findings.append(
            Finding(
                "FILE_TOO_LARGE",
                f"文件“{file_name}”大小为 {size / 1048576:.1f} MB，超过上限 {max_bytes / 1048576:.0f} MB，"
                "请删除多余的图片或工作表后重新上传。",
            )
        )
    return tuple(findings)


def unit_names(unit: Unit | None) -> tuple[str, ...]:
    """How the unit may be written in the file's 填报单位 line; none when the unit is unknown."""
    if unit is None:
        return ()
    return (unit.name, *unit.aliases, *((unit.bureau,) if unit.bureau else ()))


def _contacts_without_email(unit: Unit, rows: tuple[dict[str, Any], ...]) -> tuple[Finding, ...]:
    """附件4 collects no email address: when the list gives none, say where notices will keep going."""
    if any(str(row.get("email") or "").strip() for row in rows):
        return ()
    registered = "、".join(dict.fromkeys(c.email for c in unit.contacts if c.email))
    where = f"市局登记的本单位邮箱（{registered}）" if registered else "市局登记的本单位邮箱"
    return (
        Finding(
            "CONTACTS_NO_EMAIL",
            f"名单未填写电子邮箱，已接收。系统的提醒、催报和回执邮件将继续发送至{where}；"
            "如需改发至名单中的联系人，请在“电子邮箱”列填写后重新上传。",
        ),
    )


def has_table_template(deliverable_id: str) -> bool:
    return (TEMPLATE_DIR / f"{deliverable_id}.json").is_file()


def has_report_template(deliverable_id: str) -> bool:
    return (REPORT_TEMPLATE_DIR / f"{deliverable_id}.json").is_file()


def validate_upload(target: UploadTarget, data: bytes) -> Verdict:
    return check_file(target.campaign, target.deliverable, target.unit, target.file_name, data)


def check_file(campaign: Campaign, deliverable: Deliverable, unit: Unit | None, file_name: str, data: bytes) -> Verdict:
    """The content checks of one file for one deliverable (the unit, when known, for 填报单位)."""
    if has_table_template(deliverable.id) and extension_of(file_name) not in ("docx", "pdf"):
        from chalicelib.domain.tables import validate_table  # spreadsheet readers load only when needed

        others = [unit_names(other) for other in campaign.units if unit is not None and other.code != unit.code]
        table = validate_table(
            data,
            file_name,
            deliverable.id,
            unit_names=unit_names(unit),
            other_units=others if unit is not None else None,
            campaign_year=campaign.year,
        )
        warnings = tuple(table.warnings)
        if deliverable.id == CONTACTS_DELIVERABLE and table.accepted and unit is not None:
            warnings += _contacts_without_email(unit, table.rows)
        return Verdict(
            SubmissionStatus.ACCEPTED if table.accepted else SubmissionStatus.REJECTED,
            errors=tuple(table.errors),
            warnings=warnings,
            rows=tuple(table.rows) if table.accepted else (),
            details={"header": table.header},
            readable_rows=tuple(table.rows),
        )
    if has_report_template(deliverable.id):
        from chalicelib.domain.reports import validate_report  # docx / pdf readers load only when needed

        report = validate_report(data, file_name, deliverable.id)
        return Verdict(
            report.status,
            report.errors,
            report.warnings,
            rows=report.rows,
            details=report.details,
            readable_rows=tuple(report.rows),
        )
    return Verdict(SubmissionStatus.RECEIVED)


def check_failed(file_name: str, reason: str) -> Verdict:
    """The verdict for a check that did not finish: ``reason`` is what stopped the reader (``memory``,
    ``time`` or ``recursion``: the file asks too much; anything else: it could not be read)."""
    if reason in ("memory", "time", "recursion"):
        return rejected(
            Finding(
                "FILE_TOO_COMPLEX",
                f"文件“{file_name}”结构过于复杂（如大量重复引用的长文本、层层合并的单元格、数量异常的段落或页面），"
                "系统无法在限定的时间和内存内完成读取。"
                "请在 Excel、WPS 或 Word 中打开，删除多余内容、取消不必要的合并单元格，"
                "另存为新文件（表格为 .xlsx，报告为 .docx）后重新上传；如仍有问题请联系市交通运输局。",
            )
        )
    return rejected(
        Finding(
            "UNREADABLE_FILE",
            f"系统无法读取文件“{file_name}”，文件可能已损坏或格式与扩展名不符。"
            "请用 Excel、WPS 或 Word 打开确认无误后，另存为新文件重新上传。",
        )
    )
