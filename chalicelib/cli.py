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


def cmd_upload(args: argparse.Namespace) -> int:
    """Put a file where a county's upload goes (for the office uploading on a unit's behalf)."""
    import boto3

    from chalicelib.registry import default_registry
    from chalicelib.settings import current
    from chalicelib.upload_keys import UploadKeyError, resolve_upload_key, upload_key

    registry = default_registry()
    campaign = registry.campaign(args.campaign)
    unit = campaign.unit(args.unit) if campaign else None
    path = Path(args.file)
    key = upload_key(args.campaign, unit.code if unit else args.unit, args.deliverable, args.period, path.name)
    try:
        resolve_upload_key(registry, key)
    except UploadKeyError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    settings = current()
    s3 = boto3.client("s3", region_name=settings.region)
    version = s3.put_object(Bucket=settings.bucket_name, Key=key, Body=path.read_bytes())["VersionId"]
    print(f"s3://{settings.bucket_name}/{key}  version {version}")
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

    from chalicelib.calendar_cli import add_calendar_parser, run_calendar

    add_calendar_parser(sub).set_defaults(run=run_calendar)

    upload = sub.add_parser("upload", help="upload a file for a unit, the same way a county does")
    upload.add_argument("file")
    upload.add_argument("--campaign", default="xinzhou-2023")
    upload.add_argument("--unit", required=True, help="code or name, e.g. 140981 or 原平市")
    upload.add_argument("--deliverable", required=True, help="e.g. issue-list")
    upload.add_argument("--period", required=True, help="e.g. 2023-05, setup or final")
    upload.set_defaults(run=cmd_upload)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.local:
        _use_local_stage()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
