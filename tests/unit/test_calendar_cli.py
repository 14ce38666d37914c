"""``cli calendar``: the deadline list as a Chinese table or JSON, with statuses as of a date."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date

import pytest

from chalicelib.cli.calendar_cli import add_calendar_parser, calendar_text, run_calendar
from chalicelib.domain.deadlines import campaign_deadlines
from chalicelib.domain.registry import default_registry


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cli")
    add_calendar_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["calendar", *argv])


def test_json_lists_every_deadline_with_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_calendar(_parse("--campaign", "xinzhou-2023", "--as-of", "2023-05-18", "--json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["as_of"] == "2023-05-18" and data["due_day_policy"] == "keep" and data["warnings"] == []
    assert len(data["deadlines"]) == 15
    by_id = {d["id"]: d for d in data["deadlines"]}
    rect = by_id["rectification/2023-05"]
    assert rect["due_at"] == "2023-05-20T23:59:59+08:00"
    assert [d["id"] for d in rect["deliverables"]] == ["issue-list", "typical-case"]
    assert (rect["status"], rect["days_left"], rect["period_label"]) == ("due-soon", 2, "2023年5月")
    assert by_id["self-check/2023-05"]["status"] == "past"
    assert by_id["progress/2023-06"]["status"] == "open"
    summary = by_id["summary/final"]
    assert {"id": "typical-case", "name": "典型案例", "count": 3} in summary["deliverables"]


def test_due_today_and_without_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    run_calendar(_parse("--campaign", "xinzhou-2023", "--as-of", "2023-09-10", "--json"))
    by_id = {d["id"]: d for d in json.loads(capsys.readouterr().out)["deadlines"]}
    assert by_id["summary/final"]["status"] == "due-today"
    run_calendar(_parse("--campaign", "xinzhou-2023", "--json"))
    assert "status" not in json.loads(capsys.readouterr().out)["deadlines"][0]


def test_plain_output_is_a_chinese_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_calendar(_parse("--campaign", "xinzhou-2023", "--as-of", "2023-05-18")) == 0
    out = capsys.readouterr().out
    assert "截止时间（北京时间）" in out and "应报送材料" in out and "2023-05-18状态" in out
    assert "2023-05-20 23:59:59" in out and "临近截止（还剩2天）" in out and "已截止（10天前）" in out
    assert "典型案例×3" in out


def test_moved_dates_and_warnings_are_shown() -> None:
    class KnowsNothing:
        def knows(self, year: int) -> bool:
            return False

        def is_workday(self, day: date) -> bool:
            raise AssertionError("not asked for unknown years")

    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    campaign = replace(campaign, due_day_policy="next-working-day")
    text = calendar_text(campaign, campaign_deadlines(campaign, KnowsNothing()), date(2023, 5, 18))
    assert "2023-05-22 23:59:59（原定2023-05-20）" in text
    assert "注意：" in text and "2023年" in text and "仅按周末" in text


def test_unknown_campaign_and_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_calendar(_parse("--campaign", "nowhere-2023")) == 2
    assert "未找到专项活动" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse("--campaign", "xinzhou-2023", "--as-of", "2023-5-18x")
    assert "YYYY-MM-DD" in capsys.readouterr().err
