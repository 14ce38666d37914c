"""Operators' command line: ``python -m chalicelib.cli SUBCOMMAND``.

Runs against the stack the environment points at. With ``--local``: the stack ``make run`` started,
found exactly as ``make run`` finds it (``infra/local/settings.py``: ``LOCAL_AWS_PORT``,
``LOCAL_API_PORT``, ``LOCAL_SMTP_PORT``, ...); ``.chalice/config.json``'s ``local`` stage supplies the
rest (mail sender, link signing key).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _use_local_stage() -> None:
    # The operators' CLI ships in the deployment zip, infra/ does not: imported only for --local.
    from infra.local.settings import LocalSettings

    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text(encoding="utf-8"))
    for key, value in config["stages"]["local"]["environment_variables"].items():
        os.environ.setdefault(key, value)
    # Ports and names follow the running stack, never the stage's fixed defaults.
    os.environ.update(LocalSettings.from_env().client_environment())
    from chalicelib.config import settings

    settings.cache_clear()  # read again, with the local stage's defaults


_local_stack = False  # --local given: a connection error means make run is not up (on these ports)


def _unreachable(exc: BaseException) -> str | None:
    """One Chinese line for "the stack is not there", or None when the error is something else."""
    from urllib.parse import urlsplit

    from botocore.exceptions import EndpointConnectionError

    if isinstance(exc, EndpointConnectionError):
        where = urlsplit(str(exc.kwargs.get("endpoint_url", ""))).netloc or "?"
    elif isinstance(exc, ConnectionError):
        where = f"{os.environ.get('SMTP_HOST', '127.0.0.1')}:{os.environ.get('SMTP_PORT', '?')}"
    else:
        return None
    if _local_stack:
        return (
            f"无法连接本地系统 {where}：请确认 make run 已启动且端口一致"
            "（端口由 LOCAL_AWS_PORT、LOCAL_API_PORT、LOCAL_SMTP_PORT 指定，两个终端须相同）。"
        )
    return f"无法连接 {where}：请检查网络及 AWS_ENDPOINT_URL、SMTP_HOST 等设置。"


def _print_json(value: object) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def cmd_units(args: argparse.Namespace) -> int:
    from chalicelib.domain.registry import default_registry

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
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.domain.receipts import STATUS_WORDS
    from chalicelib.domain.registry import default_registry
    from chalicelib.services.queries import QueryError, list_submissions

    try:
        page = list_submissions(
            default_registry(), default_store(), args.campaign, unit_ref=args.unit, limit=str(args.limit)
        )
    except QueryError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if args.json:
        _print_json(page)
    else:
        for s in page["items"]:
            print(
                f"{s['received_at']['local']}  {s['unit']['name']:<6} {s['deliverable']['id']:<18} "
                f"{s['period']:<8} {STATUS_WORDS.get(s['status'], s['status']):<6} {s['file_name']}"
                f"{'（盖章扫描件）' if s.get('kind') == 'stamped-scan' else ''}  版本号 {s['version_id']}"
            )
            for d in s.get("decisions") or ():
                print(f"    {d['at']} {d['by']} {'予以接收' if d['decision'] == 'accept' else '退回'}：{d['note']}")
    return 0


def cmd_upload(args: argparse.Namespace) -> int:
    """Put a file where a county's upload goes (for the office uploading on a unit's behalf)."""
    import boto3

    from chalicelib.config import settings
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.upload_keys import UploadKeyError, resolve_upload_key, upload_key

    registry = default_registry()
    campaign = registry.campaign(args.campaign)
    unit = campaign.unit(args.unit) if campaign else None
    from chalicelib.domain.office_filing import filing_metadata
    from chalicelib.domain.upload_keys import stamped_upload_key

    path = Path(args.file)
    make_key = stamped_upload_key if args.stamped else upload_key
    key = make_key(args.campaign, unit.code if unit else args.unit, args.deliverable, args.period, path.name)
    metadata: dict[str, str] = {}
    if args.received_at is not None or args.note:
        if campaign is None:
            print(f"未找到专项活动 {args.campaign}", file=sys.stderr)
            return 2
        received = args.received_at
        if received is not None and received.tzinfo is None:  # the office writes Beijing time
            received = received.replace(tzinfo=campaign.zone)
        from chalicelib.domain.timeutil import now_utc

        metadata = filing_metadata(received or now_utc(), args.note or "")
    try:
        resolve_upload_key(registry, key)
    except UploadKeyError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    config = settings()
    s3 = boto3.client("s3", region_name=config.region)
    # Office credentials put directly, with the filing as user metadata (domain/office_filing.py); a county's
    # presigned POST cannot carry x-amz-meta-* (its policy allows no such field).
    version = s3.put_object(Bucket=config.bucket_name, Key=key, Body=path.read_bytes(), Metadata=metadata)["VersionId"]
    print(f"s3://{config.bucket_name}/{key}  version {version}")
    return 0


def _instant(raw: str) -> Any:
    from datetime import datetime

    try:
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"“{raw}”不是有效的时间，应如 2023-05-19T16:30+08:00") from exc


def cmd_decide(args: argparse.Namespace) -> int:
    """The office's decision from the command line: exactly what the API route does."""
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.adapters.mail import sender_from_settings
    from chalicelib.adapters.objects import ObjectStore
    from chalicelib.config import settings
    from chalicelib.domain.decisions import DecisionError, checked_request
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services.decisions import DecisionContext, decide

    config = settings()
    ctx = DecisionContext(
        registry=default_registry(),
        store=default_store(),
        objects=ObjectStore(client("s3", config.region)),
        mail=sender_from_settings(config),
        max_upload_bytes=config.max_upload_bytes,
    )
    try:
        decision, note = checked_request({"decision": args.decision, "note": args.note})
        outcome = decide(ctx, args.campaign, args.unit, args.version, decision, note, args.by, now_utc())
    except DecisionError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if args.json:
        _print_json(outcome.as_json())
    else:
        word = "予以接收" if decision == "accept" else "退回"
        done = f"已{word}" if outcome.changed else f"此前已{word}，未作改动"
        current = outcome.pointer.current_version or "无"
        print(f"{done}：版本 {args.version}，现行有效版本 {current}，告知邮件 {outcome.notice}")
    return 0


KIND_LABELS = {
    "reminder": "提醒",
    "overdue": "逾期通知",
    "escalation": "逾期催报（抄送分管领导）",
    "digest": "汇总（市专项办）",
}


def _unit_name(registry: Any, campaign_id: str, unit_code: str | None) -> str:
    unit = registry.campaigns[campaign_id].unit(unit_code) if unit_code else None
    return unit.name if unit else (unit_code or "市专项办")


def cmd_sweep(args: argparse.Namespace) -> int:
    """The daily sweep against the configured stack, as if it were ``--as-of`` at 09:00 local time."""
    from datetime import datetime, time

    from chalicelib.adapters.dynamo_store import default_store
    from chalicelib.adapters.mail import sender_from_settings
    from chalicelib.cli.calendar_cli import format_table
    from chalicelib.config import settings
    from chalicelib.domain.findings import SendOutcome
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services.sweep import OUTCOME_LABELS, link_hint, run_sweep
    from chalicelib.services.unit_links import current_link_settings

    registry = default_registry()
    if args.campaign is not None and registry.campaign(args.campaign) is None:
        print(f"未找到专项活动 {args.campaign!r}；已有：{'、'.join(sorted(registry.campaigns))}", file=sys.stderr)
        return 2
    campaigns = [registry.campaigns[args.campaign]] if args.campaign else list(registry.campaigns.values())
    sender = sender_from_settings(settings())
    reports = []
    for campaign in campaigns:
        # The scheduled run is at 09:00 in the campaign's zone; --as-of replays that morning.
        as_of = datetime.combine(args.as_of, time(9), tzinfo=campaign.zone) if args.as_of else now_utc()
        hint = link_hint(as_of, current_link_settings())
        reports.append(run_sweep(default_store(), campaign, as_of, sender, dry_run=args.dry_run, upload_hint=hint))
    if args.json:
        _print_json([r.to_json() for r in reports])
    for report in [] if args.json else reports:
        mode = "（演练：不写入、不发送）" if report.dry_run else ""
        print(f"{report.campaign_id} {report.day.isoformat()} 催报{mode}")
        deadlines = "、".join(report.deadlines) or "无"
        print(f"涉及截止事项：{deadlines}；查询 {len(report.queries)} 次，读取 {report.gets} 条")
        rows = [
            [
                OUTCOME_LABELS.get(i.outcome, i.outcome),
                KIND_LABELS.get(i.kind, i.kind),
                i.deadline_id,
                _unit_name(registry, report.campaign_id, i.unit_code),
                "、".join(i.to) + (f"（抄送 {'、'.join(i.cc)}）" if i.cc else ""),
                i.subject,
            ]
            for i in report.items
        ]
        if rows:
            print(format_table(["结果", "类型", "截止事项", "单位", "收件人", "主题"], rows))
        summary = "，".join(f"{OUTCOME_LABELS.get(k, k)} {v}" for k, v in report.counts().items())
        print(f"合计 {len(report.items)} 封：{summary or '今日无需发送'}")
        for item in report.undeliverable:
            unit = _unit_name(registry, report.campaign_id, item.unit_code)
            print(f"被拒收，请电话联系：{unit} {'、'.join(item.to)}（{item.natural_key}）")
        print()
    # Failed sends are retried by the next run; say so in the exit code so a wrapper script notices.
    failed = (SendOutcome.FAILED, SendOutcome.REJECTED, SendOutcome.ERROR)
    return 1 if any(i.outcome in failed for r in reports for i in r.items) else 0


# Findings that mean the file itself could not be used, as opposed to content to correct.
UNUSABLE_CODES = frozenset(
    {"UNREADABLE_FILE", "EMPTY_FILE", "FILE_ENCRYPTED", "FILE_TOO_LARGE", "FILE_TOO_COMPLEX", "UNSUPPORTED_FORMAT"}
)


def _check_refused(args: argparse.Namespace, code: str, message: str) -> int:
    """Input that cannot be checked at all (unknown deliverable, no such file): exit 2, JSON when asked."""
    if args.json:
        error = {"code": code, "message": message}
        _print_json({"accepted": False, "status": "unusable", "rows": 0, "errors": [error], "warnings": []})
    else:
        print(message, file=sys.stderr)
    return 2


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a file offline, exactly as an upload would be: 0 accepted, 1 rejected, 2 unusable input.

    The content is read in the same sandbox as an upload (``services.checking``), so a hostile file gives a
    verdict (FILE_TOO_COMPLEX, UNREADABLE_FILE) within the sandbox's limits, never a traceback."""
    try:
        return _check(args)
    except Exception as exc:  # our own bug: still a verdict a script can read
        return _check_refused(args, "CHECK_FAILED", f"检查未能完成：{type(exc).__name__}: {exc}")


def _check(args: argparse.Namespace) -> int:
    from chalicelib.config import settings
    from chalicelib.domain.findings import SubmissionStatus
    from chalicelib.domain.receipts import STATUS_WORDS
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.validation import check_envelope, rejected
    from chalicelib.services.checking import check_bounded

    campaign = default_registry().campaign(args.campaign)
    if campaign is None:
        return _check_refused(args, "UNKNOWN_CAMPAIGN", f"未找到专项活动 {args.campaign}")
    deliverable = campaign.deliverable(args.deliverable)
    if deliverable is None:
        known = "、".join(campaign.deliverables)
        return _check_refused(args, "UNKNOWN_DELIVERABLE", f"未知的材料类型 {args.deliverable}，可选：{known}")
    unit = campaign.unit(args.unit) if args.unit else None
    if args.unit and unit is None:
        return _check_refused(args, "UNKNOWN_UNIT", f"未找到填报单位“{args.unit}”")
    path = Path(args.file)
    if not path.is_file():
        return _check_refused(args, "FILE_NOT_FOUND", f"找不到文件 {path}")
    data = path.read_bytes()
    envelope = check_envelope(deliverable, path.name, len(data), settings().max_upload_bytes)
    verdict = rejected(*envelope) if envelope else check_bounded(campaign, deliverable, unit, path.name, data)
    findings = {
        "errors": [{k: v for k, v in vars(f).items() if v is not None} for f in verdict.errors],
        "warnings": [{k: v for k, v in vars(f).items() if v is not None} for f in verdict.warnings],
    }
    accepted = verdict.status != SubmissionStatus.REJECTED
    if args.json:
        _print_json({"accepted": accepted, "status": verdict.status, "rows": len(verdict.rows), **findings})
    else:
        print(f"{path.name}：{STATUS_WORDS.get(verdict.status, verdict.status)}（{len(verdict.rows)} 条）")
        for label, items in (("错误", verdict.errors), ("提示", verdict.warnings)):
            for finding in items:
                print(f"  [{label}] {finding.code}  {finding.located()}")
    if accepted:
        return 0
    return 2 if {f.code for f in verdict.errors} <= UNUSABLE_CODES else 1


def _queue_urls(sqs: Any, queue_name: str) -> tuple[str, str]:
    """The upload queue and its dead-letter queue, found through the queue's own redrive policy."""
    queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    return queue_url, sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[-1])["QueueUrl"]


def _describe(body: str) -> str:
    from chalicelib.domain.s3_events import NotAnS3EventError, object_refs

    try:
        refs = object_refs(body)
    except NotAnS3EventError:
        return "（不是 S3 事件）"
    return "；".join(f"s3://{r.bucket}/{r.key} 版本 {r.version_id}" for r in refs) or "（S3 测试事件）"


def replay_dlq(sqs: Any, queue_name: str, limit: int | None = None, dry_run: bool = False) -> list[str]:
    """Move dead-lettered S3 events back to the upload queue, unchanged, oldest first.

    The S3 event names bucket, key and version, which is all intake needs: a replayed message is
    processed exactly as a first delivery (submission once per version, receipt once). Each message is
    sent before it is deleted from the DLQ, so a crash in between can only replay it twice, which
    intake absorbs; it is never lost.
    """
    queue_url, dlq_url = _queue_urls(sqs, queue_name)
    moved: list[str] = []
    peeked: list[str] = []  # a dry run's receipt handles: made visible again at the end
    try:
        while limit is None or len(moved) < limit:
            # Invisible for 30 s while being moved (or listed), so one run never sees a message twice.
            response = sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=1, WaitTimeSeconds=0, VisibilityTimeout=30
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            message = messages[0]
            moved.append(message["MessageId"])
            print(f"{'将重放' if dry_run else '已重放'} {message['MessageId']}  {_describe(message['Body'])}")
            if dry_run:
                peeked.append(message["ReceiptHandle"])
                continue
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    finally:
        for handle in peeked:
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return moved


def cmd_replay_dlq(args: argparse.Namespace) -> int:
    from chalicelib.adapters.aws import client
    from chalicelib.config import settings

    config = settings()
    moved = replay_dlq(client("sqs", config.region), config.upload_queue_name, args.max, args.dry_run)
    print(f"{'演练：' if args.dry_run else ''}共 {len(moved)} 条消息{'可重放' if args.dry_run else '已送回上传队列'}")
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    """归档: every original of every version, every record and every notice, into one folder or .zip."""
    from chalicelib.adapters.aws import client
    from chalicelib.config import settings as current_settings
    from chalicelib.domain.registry import default_registry
    from chalicelib.services.archive import write_archive

    campaign = default_registry().campaign(args.campaign)
    if campaign is None:
        print(f"未找到专项活动 {args.campaign}", file=sys.stderr)
        return 2
    target = Path(args.out or f"归档-{campaign.id}.zip")
    if target.exists() and (target.is_file() or any(target.iterdir())):
        print(f"{target} 已存在且不为空，请换一个位置，以免覆盖已有归档", file=sys.stderr)
        return 2
    settings = current_settings()
    clients = {name: client(name, settings.region) for name in ("s3", "dynamodb")}
    manifest = write_archive(campaign, clients, settings.bucket_name, settings.table_name, target)
    records = "，".join(f"{kind} {n}" for kind, n in manifest["records"].items())
    print(f"已归档到 {target}：原件 {len(manifest['originals'])} 个版本，记录 {records}；目录见 目录.csv / index.json")
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

    from chalicelib.cli.calendar_cli import _date_arg, add_calendar_parser, run_calendar

    add_calendar_parser(sub).set_defaults(run=run_calendar)

    check = sub.add_parser("check", help="validate a file offline (exit 0 accepted, 1 rejected, 2 unusable)")
    check.add_argument("file")
    check.add_argument("--campaign", default="xinzhou-2023")
    check.add_argument("--deliverable", required=True, help="e.g. issue-list, self-check-report")
    check.add_argument("--unit", help="the unit the file belongs to (checks 填报单位), e.g. 原平市")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=cmd_check)

    upload = sub.add_parser("upload", help="upload a file for a unit, the same way a county does")
    upload.add_argument("file")
    upload.add_argument("--campaign", default="xinzhou-2023")
    upload.add_argument("--unit", required=True, help="code or name, e.g. 140981 or 原平市")
    upload.add_argument("--deliverable", required=True, help="e.g. issue-list")
    upload.add_argument("--period", required=True, help="e.g. 2023-05, setup or final")
    upload.add_argument(
        "--received-at",
        type=_instant,
        help="when the unit's emailed file really arrived, e.g. 2023-05-19T16:30+08:00 (the board judges by it)",
    )
    upload.add_argument("--note", help="the office's note, e.g. 邮件报送")
    upload.add_argument(
        "--stamped", action="store_true", help="a stamped scan (盖章扫描件, PDF) beside the deliverable"
    )
    upload.set_defaults(run=cmd_upload)

    decide = sub.add_parser("decide", help="the office accepts a rejected upload or returns (退回) an accepted one")
    decide.add_argument("--campaign", default="xinzhou-2023")
    decide.add_argument("--unit", required=True, help="code or name, e.g. 140981 or 原平市")
    decide.add_argument("--version", required=True, help="the upload's version id (cli submissions shows it)")
    decide.add_argument("--decision", required=True, choices=("accept", "return"))
    decide.add_argument("--note", required=True, help="why (the unit reads it)")
    decide.add_argument("--by", default=os.environ.get("USER") or "operator", help="who decides (default: $USER)")
    decide.add_argument("--json", action="store_true")
    decide.set_defaults(run=cmd_decide)

    sweep = sub.add_parser("sweep", help="daily sweep: reminders, overdue notices, escalations, digests (催报)")
    sweep.add_argument("--campaign", default=None, help="campaign id (default: every campaign)")
    sweep.add_argument(
        "--as-of", type=_date_arg, default=None, metavar="DATE", help="run as if it were 09:00 on DATE (YYYY-MM-DD)"
    )
    sweep.add_argument("--dry-run", action="store_true", help="decide and compose only: write and send nothing")
    sweep.add_argument("--json", action="store_true")
    sweep.set_defaults(run=cmd_sweep)

    replay = sub.add_parser("replay-dlq", help="move dead-lettered upload events back to the upload queue")
    replay.add_argument("--max", type=int, default=None, metavar="N", help="at most N messages (default: all)")
    replay.add_argument("--dry-run", action="store_true", help="list what would be replayed, move nothing")
    replay.set_defaults(run=cmd_replay_dlq)

    archive = sub.add_parser("archive", help="归档: every original, record and notice into one folder or .zip")
    archive.add_argument("--campaign", default="xinzhou-2023")
    archive.add_argument("--out", help="a folder, or a file ending in .zip (default: 归档-{campaign}.zip)")
    archive.set_defaults(run=cmd_archive)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.local:
        global _local_stack
        _use_local_stage()
        _local_stack = True
    try:
        return args.run(args)
    except Exception as exc:
        line = _unreachable(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
