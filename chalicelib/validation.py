"""Which checks an upload gets, by deliverable: one verdict shape for every kind of material."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.receipts import Finding
from chalicelib.upload_keys import UploadTarget

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
REPORT_TEMPLATE_DIR = Path(__file__).resolve().parent / "report_templates"


@dataclass(frozen=True)
class Verdict:
    status: str  # "accepted", "rejected", "received" (no content checks yet) or "received-for-review"
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    rows: tuple[dict[str, Any], ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


def rejected(*errors: Finding) -> Verdict:
    return Verdict("rejected", errors=errors)


def _unit_names(target: UploadTarget) -> tuple[str, ...]:
    unit = target.unit
    return (unit.name, *unit.aliases, *((unit.bureau,) if unit.bureau else ()))


def has_table_template(deliverable_id: str) -> bool:
    return (TEMPLATE_DIR / f"{deliverable_id}.json").is_file()


def has_report_template(deliverable_id: str) -> bool:
    return (REPORT_TEMPLATE_DIR / f"{deliverable_id}.json").is_file()


def validate_upload(target: UploadTarget, data: bytes) -> Verdict:
    if has_table_template(target.deliverable.id) and target.extension not in ("docx", "pdf"):
        from chalicelib.tables import validate_table  # spreadsheet readers load only when needed

        table = validate_table(
            data,
            target.file_name,
            target.deliverable.id,
            unit_names=_unit_names(target),
            campaign_year=target.campaign.year,
        )
        return Verdict(
            "accepted" if table.accepted else "rejected",
            errors=tuple(table.errors),
            warnings=tuple(table.warnings),
            rows=tuple(table.rows) if table.accepted else (),
            details={"header": table.header},
        )
    if has_report_template(target.deliverable.id):
        from chalicelib.reports import validate_report  # docx / pdf readers load only when needed

        report = validate_report(data, target.file_name, target.deliverable.id)
        return Verdict(report.status, report.errors, report.warnings, rows=report.rows, details=report.details)
    return Verdict("received")
