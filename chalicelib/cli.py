"""Operators' command line: ``python -m chalicelib.cli SUBCOMMAND``.

Runs against the stack the environment points at (the local stack's defaults come from
``.chalice/config.json``'s ``local`` stage when ``--local`` is given).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _use_local_stage() -> None:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text(encoding="utf-8"))
    for key, value in config["stages"]["local"]["environment_variables"].items():
        os.environ.setdefault(key, value)


def _print_json(value: object) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def cmd_units(args: argparse.Namespace) -> int:
    from chalicelib.registry import default_registry

    campaign = default_registry().campaign(args.campaign)
    if campaign is None:
        print(f"未找到专项活动 {args.campaign}", file=sys.stderr)
        return 2
    rows = [
        {"code": u.code, "name": u.name, "aliases": list(u.aliases), "contacts": [c.email for c in u.contacts]}
        for u in campaign.units
    ]
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            print(f"{row['code']}  {row['name']:<8}  {'、'.join(row['aliases'])}")
    return 0


def cmd_submissions(args: argparse.Namespace) -> int:
    from chalicelib.queries import QueryError, list_submissions
    from chalicelib.registry import default_registry

    try:
        page = list_submissions(default_registry(), args.campaign, unit_ref=args.unit, limit=str(args.limit))
    except QueryError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if args.json:
        _print_json(page)
    else:
        for s in page["items"]:
            print(
                f"{s['received_at']['local']}  {s['unit']['name']:<6} {s['deliverable']['id']:<18} "
                f"{s['period']:<8} {s['status']:<10} {s['file_name']}"
            )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli", description="专项整治材料报送系统：运维命令")
    parser.add_argument("--local", action="store_true", help="use the local stack (make run) settings")
    sub = parser.add_subparsers(dest="command", required=True)

    units = sub.add_parser("units", help="list the reporting units of a campaign")
    units.add_argument("--campaign", default="xinzhou-2023")
    units.add_argument("--json", action="store_true")
    units.set_defaults(run=cmd_units)

    submissions = sub.add_parser("submissions", help="latest submissions, newest first")
    submissions.add_argument("--campaign", default="xinzhou-2023")
    submissions.add_argument("--unit", help="code or name, e.g. 140981 or 原平市")
    submissions.add_argument("--limit", type=int, default=20)
    submissions.add_argument("--json", action="store_true")
    submissions.set_defaults(run=cmd_submissions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.local:
        _use_local_stage()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
