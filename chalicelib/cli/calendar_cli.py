"""``cli calendar``: every deadline of a campaign, and with ``--as-of`` where each one stands.

Wired into ``chalicelib.cli`` by ``add_calendar_parser``; kept apart so the command and its tests do not
depend on the rest of the operators' CLI.

    python -m chalicelib.cli calendar --campaign xinzhou-2023 --as-of 2023-05-18 [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import date
from typing import Any

from chalicelib.domain.deadlines import (
    DEADLINE_STATUS_LABELS,
    Deadline,
    calendar_warnings,
    campaign_deadlines,
    period_label,
)
from chalicelib.domain.registry import Campaign, default_registry
from chalicelib.domain.workdays import WorkdayCalendar

DUE_DAY_POLICY_LABELS = {"keep": "按原定日期", "next-working-day": "遇周末或法定节假日顺延至下一个工作日"}


def _date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"日期应为 YYYY-MM-DD 格式，例如 2023-05-18，而不是 {text!r}") from exc


def add_calendar_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``calendar`` sub-command to an ``argparse`` sub-parsers object; returns its parser."""
    parser = subparsers.add_parser(
        "calendar",
        help="list every deadline of a campaign (截止日历)",
        description="List every deadline with its deliverables, period and due instant (Asia/Shanghai). "
        "With --as-of, classify each as open / due-soon (within the reminder window) / due-today / past.",
    )
    parser.add_argument("--campaign", required=True, help="campaign id, e.g. xinzhou-2023")
    parser.add_argument("--as-of", type=_date_arg, default=None, metavar="DATE", help="local date, YYYY-MM-DD")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run_calendar)
    return parser


def reminder_window_days(campaign: Campaign) -> int:
    """How many days before a due date it counts as due soon: the earliest reminder."""
    return max(campaign.notice_policy.reminder_days_before, default=0)


def deadline_json(campaign: Campaign, deadline: Deadline, as_of: date | None) -> dict[str, Any]:
    counts = dict(deadline.package)
    item: dict[str, Any] = {
        "id": deadline.id,
        "name": deadline.name,
        "period": deadline.period,
        "period_label": period_label(deadline.period),
        "deliverables": [
            {
                "id": d,
                "name": campaign.deliverables[d].name,
                **({"count": counts[d]} if d in counts else {}),
            }
            for d in deadline.deliverables
        ],
        "due_date": deadline.due_date.isoformat(),
        "due_at": deadline.due_at.isoformat(),
        "moved_from": deadline.moved_from.isoformat() if deadline.moved_from else None,
        "chase_until": deadline.chase_until.isoformat() if deadline.chase_until else None,
        "warnings": list(deadline.warnings),
    }
    if as_of is not None:
        status = deadline.status(as_of, reminder_window_days(campaign))
        item["status"] = status
        item["status_label"] = DEADLINE_STATUS_LABELS[status]
        item["days_left"] = (deadline.due_date - as_of).days
    return item


def calendar_json(campaign: Campaign, deadlines: list[Deadline], as_of: date | None) -> dict[str, Any]:
    return {
        "campaign": campaign.id,
        "name": campaign.name,
        "timezone": str(campaign.zone),
        "due_day_policy": campaign.due_day_policy,
        "reminder_window_days": reminder_window_days(campaign),
        "as_of": as_of.isoformat() if as_of else None,
        "warnings": calendar_warnings(deadlines),
        "deadlines": [deadline_json(campaign, d, as_of) for d in deadlines],
    }


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _status_cell(item: dict[str, Any]) -> str:
    days = item["days_left"]
    if item["status"] in ("open", "due-soon"):
        return f"{item['status_label']}（还剩{days}天）"
    if item["status"] == "past":
        return f"{item['status_label']}（{-days}天前）"
    return item["status_label"]


def calendar_text(campaign: Campaign, deadlines: list[Deadline], as_of: date | None) -> str:
    data = calendar_json(campaign, deadlines, as_of)
    header = ["截止时间（北京时间）", "事项", "期次", "应报送材料"]
    if as_of is not None:
        header.append(f"{as_of.isoformat()}状态")
    rows = []
    for item in data["deadlines"]:
        due = item["due_at"][:10] + " " + item["due_at"][11:19]
        if item["moved_from"]:
            due += f"（原定{item['moved_from']}）"
        materials = "、".join(
            d["name"] + (f"×{d['count']}" if d.get("count", 1) > 1 else "") for d in item["deliverables"]
        )
        row = [due, item["name"], item["period_label"], materials]
        if as_of is not None:
            row.append(_status_cell(item))
        rows.append(row)
    policy = DUE_DAY_POLICY_LABELS.get(campaign.due_day_policy, campaign.due_day_policy)
    lines = [
        f"{campaign.name}（{campaign.id}）截止日历",
        f"时区：{data['timezone']}；截止日处理：{policy}"
        + (f"；临近截止：截止前{data['reminder_window_days']}天内" if as_of is not None else ""),
        "",
        format_table(header, rows),
    ]
    if data["warnings"]:
        lines += ["", "注意："] + [f"- {w}" for w in data["warnings"]]
    return "\n".join(lines) + "\n"


def run_calendar(args: argparse.Namespace, calendar: WorkdayCalendar | None = None) -> int:
    """Print the calendar; 0 on success, 2 for an unknown campaign (message on stderr)."""
    campaign = default_registry().campaign(args.campaign)
    if campaign is None:
        known = "、".join(sorted(default_registry().campaigns))
        print(f"未找到专项活动 {args.campaign!r}；已有：{known}", file=sys.stderr)
        return 2
    deadlines = campaign_deadlines(campaign, calendar)
    if args.json:
        print(json.dumps(calendar_json(campaign, deadlines, args.as_of), ensure_ascii=False, indent=2))
    else:
        print(calendar_text(campaign, deadlines, args.as_of), end="")
    return 0
