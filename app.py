"""Chalice entry points. Handlers only translate events and requests into chalicelib calls."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote, unquote

from aws_lambda_powertools import Logger
from chalice import AuthResponse, BadRequestError, Chalice, Cron, NotFoundError, Response
from chalice.app import AuthRequest, CloudWatchEvent, SQSEvent

from chalicelib.config import settings
from chalicelib.http.console import office_console
from chalicelib.http.county_portal import county_portal
from chalicelib.http.errors import JSON_CONTENT_TYPE, error_body, json_for_people

# Powertools owns logging (structured JSON); Chalice's own handler would print every line twice.
app = Chalice(app_name="campaign-reporting", configure_logs=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# API Gateway returns these as bytes (clients send a matching Accept header, or */*).
app.api.binary_types.append(XLSX)
logger = Logger(service="campaign-reporting")

# The counties' door: public /u/{token} pages; the signed token is their only credential.
app.register_blueprint(county_portal)
# The office's desk in a browser: /office pages behind a signed session cookie (docs/console.md).
app.register_blueprint(office_console, url_prefix="/office")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
app.api.binary_types.append(DOCX)


@app.middleware("http")
def utf8_json(event: Any, get_response: Any) -> Response:
    """Every JSON answer and error body in UTF-8 Chinese (Chalice would write \\u escapes)."""
    response = get_response(event)
    if not isinstance(response.body, str | bytes):
        response.body = json_for_people(response.body)
        response.headers = {**response.headers, "Content-Type": JSON_CONTENT_TYPE}
    return response


@cache
def _registry() -> Any:
    from chalicelib.domain.registry import default_registry

    return default_registry()


@cache
def _store() -> Any:
    """The process's one CampaignStore (DynamoDB), made on first use: the office routes, intake and the sweep
    share it (and the county portal, through the same ``default_store``)."""
    from chalicelib.adapters.dynamo_store import default_store

    return default_store()


@cache
def _intake_context() -> Any:
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.mail import sender_from_settings
    from chalicelib.adapters.objects import ObjectStore
    from chalicelib.services.intake import IntakeContext

    config = settings()
    return IntakeContext(
        registry=_registry(),
        objects=ObjectStore(client("s3", config.region)),
        store=_store(),
        mail=sender_from_settings(config),
        max_upload_bytes=config.max_upload_bytes,
    )


def _query(call: Any, *args: Any, **kwargs: Any) -> Any:
    from chalicelib.services.queries import QueryError, QueryNotFoundError

    try:
        return call(*args, **kwargs)
    except QueryNotFoundError as exc:
        raise NotFoundError(exc.message) from exc
    except QueryError as exc:
        raise BadRequestError(exc.message) from exc


@cache
def _office_hashes() -> frozenset[str]:
    from chalicelib.domain.auth import parse_hashes

    return parse_hashes(settings().office_token_sha256)


def _request() -> Any:
    """The request being handled (Chalice sets it before any route runs)."""
    request = app.current_request
    assert request is not None
    return request


class Unauthorized(Exception):  # noqa: N818 (API Gateway answers 401 for exactly this message)
    def __init__(self) -> None:
        super().__init__("Unauthorized")


@app.authorizer()
def office_token(auth_request: AuthRequest) -> AuthResponse:
    """Office routes need a bearer token whose SHA-256 is configured; anything else is a 401."""
    from chalicelib.domain.auth import UNNAMED_TOKEN, is_office_token, office_token_name

    if not is_office_token(auth_request.token, _office_hashes()):
        raise Unauthorized()
    # The token's configured name (``name:digest``) is who the office's decisions are recorded under.
    name = office_token_name(auth_request.token, settings().office_token_sha256) or UNNAMED_TOKEN
    return AuthResponse(routes=["*"], principal_id=name)


def _office_name() -> str:
    """Who acts: the name the authorizer found for the presented token (its ``principalId``)."""
    from chalicelib.domain.auth import UNNAMED_TOKEN

    context = _request().context or {}
    return str((context.get("authorizer") or {}).get("principalId") or UNNAMED_TOKEN)


@app.route("/health", methods=["GET"])
def health() -> dict[str, str]:
    return {"status": "ok"}


def _office_query(call: Any, campaign_id: str, allowed: tuple[str, ...]) -> Any:
    """Check the query string, then answer; ``unit`` is passed on as ``unit_ref``."""
    from chalicelib.services.queries import checked_params

    params = _query(checked_params, _request().query_params, allowed)
    kwargs = {("unit_ref" if name == "unit" else name): value for name, value in params.items()}
    return _query(call, _registry(), _store(), campaign_id, **kwargs)


@app.route("/campaigns/{campaign_id}/submissions", methods=["GET"], authorizer=office_token)
def list_submissions(campaign_id: str) -> dict[str, Any]:
    from chalicelib.services.queries import list_submissions as query

    return _office_query(query, campaign_id, ("unit", "deliverable", "period", "status", "limit", "cursor"))


@app.route("/campaigns/{campaign_id}/refused", methods=["GET"], authorizer=office_token)
def list_refused(campaign_id: str) -> dict[str, Any]:
    from chalicelib.services.queries import list_refused as query

    return _office_query(query, campaign_id, ("limit", "cursor"))


@app.route("/campaigns/{campaign_id}/packages", methods=["GET"], authorizer=office_token)
def list_packages(campaign_id: str) -> dict[str, Any]:
    from chalicelib.services.queries import list_packages as query

    return _office_query(query, campaign_id, ("unit",))


LEDGER_PARAMS = ("period", "unit", "aspect", "overdue", "as_of")


@app.route("/campaigns/{campaign_id}/issues", methods=["GET"], authorizer=office_token)
def list_issues(campaign_id: str) -> dict[str, Any]:
    from chalicelib.services.queries import list_issues as query

    return _office_query(query, campaign_id, (*LEDGER_PARAMS, "cursor"))


@app.route("/campaigns/{campaign_id}/issues.xlsx", methods=["GET"], authorizer=office_token)
def issues_workbook(campaign_id: str) -> Response:
    from chalicelib.services.queries import checked_params
    from chalicelib.services.queries import issues_workbook as query

    filters = _query(checked_params, _request().query_params, LEDGER_PARAMS)
    started = _export_job_if_big(campaign_id, filters)
    if started is not None:
        return started
    body = _office_query(query, campaign_id, LEDGER_PARAMS)
    if not _accepts_binary(XLSX):
        return _export_link(campaign_id, body, XLSX, "专项整治台账.xlsx")
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": XLSX,
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote('专项整治台账.xlsx')}",
        },
    )


PROBLEM_PARAMS = ("unit", "status", "aspect", "flag", "as_of", "limit", "cursor")


@app.route("/campaigns/{campaign_id}/problems", methods=["GET"], authorizer=office_token)
def list_problems(campaign_id: str) -> dict[str, Any]:
    """对账销号: the campaign's problems with status, flags and history (docs/problems.md)."""
    from chalicelib.services.problems import list_problems as query

    return _office_query(query, campaign_id, PROBLEM_PARAMS)


@app.route("/campaigns/{campaign_id}/problems/counts", methods=["GET"], authorizer=office_token)
def problem_counts(campaign_id: str) -> dict[str, Any]:
    from chalicelib.services.problems import problem_counts_board as query

    return _office_query(query, campaign_id, ("as_of",))


@app.route("/campaigns/{campaign_id}/problems/{problem_id}", methods=["GET"], authorizer=office_token)
def get_problem(campaign_id: str, problem_id: str) -> dict[str, Any]:
    from chalicelib.services.problems import get_problem as query

    return _office_query(lambda r, s, c, **kw: query(r, s, c, unquote(problem_id), **kw), campaign_id, ("as_of",))


def _problem_action(campaign_id: str, problem_id: str, action: str) -> Response:
    from chalicelib.domain.problems import OfficeActionError
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services import problems
    from chalicelib.services.queries import campaign_or_404

    campaign = _query(campaign_or_404, _registry(), campaign_id)
    body = _request().json_body if _request().raw_body else {}
    if not isinstance(body, dict) or not isinstance(body.get("note", ""), str) or len(body.get("note", "")) > 500:
        raise BadRequestError('请求体应为 JSON 对象：{"note": "说明（500字以内）", "force": false}。')
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise BadRequestError("force 应为 true 或 false。")
    who = _office_name()
    note = body.get("note", "")
    try:
        if action == "close":
            problem = problems.close_problem(
                _store(), campaign, unquote(problem_id), who=who, note=note, force=force, now=now_utc()
            )
        else:
            problem = problems.reopen_problem(
                _store(), campaign, unquote(problem_id), who=who, note=note, now=now_utc()
            )
    except OfficeActionError as exc:
        status = 404 if exc.code == "PROBLEM_NOT_FOUND" else 409
        return Response(error_body(status, exc.message, exc.code), status_code=status)
    return Response(problems.get_problem(_registry(), _store(), campaign_id, problem.id), status_code=200)


@app.route("/campaigns/{campaign_id}/problems/{problem_id}/close", methods=["POST"], authorizer=office_token)
def close_problem(campaign_id: str, problem_id: str) -> Response:
    """销号 (``force`` for a problem the unit has not reported done); who = the token's name."""
    return _problem_action(campaign_id, problem_id, "close")


@app.route("/campaigns/{campaign_id}/problems/{problem_id}/reopen", methods=["POST"], authorizer=office_token)
def reopen_problem(campaign_id: str, problem_id: str) -> Response:
    """问题反弹: a closed or done problem is open again."""
    return _problem_action(campaign_id, problem_id, "reopen")


def _accepts_binary(content_type: str) -> bool:
    """Whether the request's Accept lets API Gateway hand the body over as bytes: its first type must match
    the binary type (or be */*); otherwise the client would get base64 text (and Chalice answers 400)."""
    accept = {k.lower(): v for k, v in (_request().headers or {}).items()}.get("accept", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()
    return first in (content_type, "*/*", content_type.split("/")[0] + "/*")


def _export_link(campaign_id: str, body: bytes, content_type: str, file_name: str) -> Response:
    """Issue 19 item 7: a client that sends no Accept (Python's urllib) or another one follows a 303 to a
    presigned GET of the same file, put under exports/ (deleted after a day); the bytes never cross API
    Gateway as text."""
    import uuid

    from chalicelib.services.uploads import stored_export

    key = f"exports/{campaign_id}/{uuid.uuid4().hex}.xlsx"
    url = stored_export(settings(), key, body, content_type, file_name)
    return Response(
        body={"Message": "请从 Location 所示链接下载（15 分钟内有效）。", "url": url},
        status_code=303,
        headers={"Location": url, "Cache-Control": "no-store"},
    )


# --- issue 17: exports too big for one request -------------------------------------------------------


def _export_job_if_big(campaign_id: str, filters: dict[str, str]) -> Response | None:
    """Above ``EXPORT_SYNC_MAX_ROWS`` (estimated from the pointers' row counts) the export worker builds the
    workbook: 202 with the job and where to poll it; None: small enough to build in this request."""
    from chalicelib.services.export_jobs import export_if_big

    job = _query(export_if_big, _registry(), _store(), campaign_id, filters, settings())
    if job is None:
        return None
    # The status route beside this one, under the same stage prefix (API Gateway's path includes it).
    path = str((_request().context or {}).get("path") or f"/campaigns/{campaign_id}/issues.xlsx")
    status_url = f"{path.rsplit('/', 1)[0]}/exports/{job.job_id}"
    return Response(
        body={
            "Message": f"台账约 {job.estimated_rows} 行，正在后台生成；请按 status_url 查询进度并下载。",
            "job": job.job_id,
            "status": job.status,
            "estimated_rows": job.estimated_rows,
            "status_url": status_url,
        },
        status_code=202,
        headers={"Location": status_url, "Cache-Control": "no-store"},
    )


@app.route("/campaigns/{campaign_id}/exports/{job_id}", methods=["GET"], authorizer=office_token)
def export_job_status(campaign_id: str, job_id: str) -> Response:
    """An export job: queued, running, done (with a presigned link, 15 minutes) or failed."""
    from chalicelib.services.export_jobs import job_status
    from chalicelib.services.queries import campaign_or_404

    campaign = _query(campaign_or_404, _registry(), campaign_id)
    answer = _query(job_status, _store(), campaign.id, unquote(job_id), settings())
    return Response(body=answer, status_code=200, headers={"Cache-Control": "no-store"})


@app.route("/campaigns/{campaign_id}/cases", methods=["GET"], authorizer=office_token)
def list_cases(campaign_id: str) -> dict[str, Any]:
    from chalicelib.services.queries import list_cases as query

    return _office_query(query, campaign_id, ("period", "unit", "cursor"))


@app.route("/campaigns/{campaign_id}/status", methods=["GET"], authorizer=office_token)
def status_board(campaign_id: str) -> dict[str, Any]:
    from chalicelib.services.queries import status_board as query

    return _office_query(query, campaign_id, ("as_of",))


@app.route("/campaigns/{campaign_id}/stats", methods=["GET"], authorizer=office_token)
def campaign_stats(campaign_id: str) -> dict[str, Any]:
    from chalicelib.services.queries import stats as query

    return _office_query(query, campaign_id, ("period",))


@app.route("/campaigns/{campaign_id}/upload-links", methods=["POST"], authorizer=office_token)
def create_upload_link(campaign_id: str) -> Response:
    """A county's signed upload link for some deliverables of one period (see docs/upload-links.md)."""
    from chalicelib.domain.links import LinkError, issue_link
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services.unit_links import current_link_settings

    try:
        link = issue_link(_registry(), campaign_id, _request().json_body, current_link_settings(), now=now_utc())
    except LinkError as exc:
        return Response(error_body(exc.status, exc.message, exc.code), status_code=exc.status)
    return Response(link, status_code=201)


def _download(body: bytes, content_type: str, name: str) -> Response:
    headers: dict[str, str | list[str]] = {
        "Content-Type": content_type,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
    }
    return Response(body=body, status_code=200, headers=headers)


@app.route("/campaigns/{campaign_id}/reports/monthly", methods=["GET"], authorizer=office_token)
def monthly_report(campaign_id: str) -> Response:
    """The month's 工作简报 (.docx) for the province and the bureau's leaders."""
    from chalicelib.services.office_reports import monthly_docx

    params = _office_query(lambda _r, _s, _c, **kw: kw, campaign_id, ("period",))
    body = _query(monthly_docx, _registry(), _store(), campaign_id, params.get("period"))
    return _download(body, DOCX, f"工作简报{params.get('period', '')}.docx")


@app.route("/campaigns/{campaign_id}/reports/monthly.xlsx", methods=["GET"], authorizer=office_token)
def monthly_report_list(campaign_id: str) -> Response:
    """Attachment 2 city-wide for the month, to go with the 简报."""
    from chalicelib.services.office_reports import monthly_list_workbook

    params = _office_query(lambda _r, _s, _c, **kw: kw, campaign_id, ("period",))
    body = _query(monthly_list_workbook, _registry(), _store(), campaign_id, params.get("period"))
    return _download(body, XLSX, f"专项整治事项清单（汇总）{params.get('period', '')}.xlsx")


@app.route("/campaigns/{campaign_id}/reports/circular", methods=["GET"], authorizer=office_token)
def circular_draft(campaign_id: str) -> Response:
    """A 通报 draft (.docx): units late or missing by deadline, days overdue. Never sent by the system."""
    from chalicelib.services.office_reports import circular_docx

    params = _office_query(lambda _r, _s, _c, **kw: kw, campaign_id, ("as_of",))
    body = _query(circular_docx, _registry(), _store(), campaign_id, params.get("as_of"))
    return _download(body, DOCX, f"通报（草稿）{params.get('as_of', '')}.docx")


@cache
def _decision_context() -> Any:
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.mail import sender_from_settings
    from chalicelib.adapters.objects import ObjectStore
    from chalicelib.services.decisions import DecisionContext

    config = settings()
    return DecisionContext(
        registry=_registry(),
        objects=ObjectStore(client("s3", config.region)),
        store=_store(),
        mail=sender_from_settings(config),
        max_upload_bytes=config.max_upload_bytes,
    )


@app.route(
    "/campaigns/{campaign_id}/submissions/{unit}/{version}/decision",
    methods=["POST"],
    authorizer=office_token,
    content_types=["application/json"],
)
def decide_submission(campaign_id: str, unit: str, version: str) -> Response:
    """The office accepts a rejected upload or returns (退回) an accepted one (docs/decisions.md)."""
    from urllib.parse import unquote

    from chalicelib.domain.decisions import DecisionError, checked_request
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services.decisions import decide

    request = _request()
    who = _office_name()
    try:
        decision, note = checked_request(request.json_body)
        outcome = decide(
            _decision_context(), campaign_id, unquote(unit), unquote(version), decision, note, who, now_utc()
        )
    except DecisionError as exc:
        return Response(error_body(exc.status, exc.message), status_code=exc.status)
    return Response(outcome.as_json(), status_code=200 if not outcome.changed else 201)


@app.route("/openapi.json", methods=["GET"])
def openapi() -> dict[str, Any]:
    from chalicelib.http.openapi import openapi_document

    return openapi_document()


@app.on_sqs_message(queue=settings().upload_queue_name, batch_size=1)
def handle_upload(event: SQSEvent) -> None:
    """One S3 notification per message (batch size 1: a failure retries only itself)."""
    from chalicelib.adapters import metrics
    from chalicelib.domain.s3_events import object_refs
    from chalicelib.services.intake import ingest

    context = _intake_context()
    try:
        for record in event:
            raw = record.to_dict()
            logger.clear_state()  # keys of the previous invocation must not label this one
            # Which delivery this is: intake gives up on an object that keeps crashing after a few (intake.py).
            attempt = int((raw.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            logger.append_keys(message_id=raw.get("messageId"), attempt=attempt)
            for ref in object_refs(record.body):
                ingest(ref, context, attempt=attempt)
    finally:
        metrics.flush()  # also for a failed invocation: what was counted before the failure


@app.on_sqs_message(queue=settings().export_queue_name, batch_size=1)
def build_export(event: SQSEvent) -> None:
    """The export worker (issue 17): one job per message; a done job is not built again on redelivery."""
    from chalicelib.adapters.export_queue import export_job_refs
    from chalicelib.services.export_jobs import XLSX_TYPE, run_export
    from chalicelib.services.uploads import put_export

    for record in event:
        logger.clear_state()
        refs = export_job_refs(record.body)
        if refs is None:
            logger.warning("not an export message", extra={"body": record.body[:200]})
            continue
        campaign_id, job_id = refs
        logger.append_keys(campaign=campaign_id, job=job_id)
        job = run_export(
            _registry(), _store(), campaign_id, job_id, lambda key, body: put_export(settings(), key, body, XLSX_TYPE)
        )
        logger.info("export", extra={"status": job.status if job else "unknown job", "rows": job.rows if job else None})


# 01:00 UTC is 09:00 Asia/Shanghai (no daylight saving): the county clerks read the day's reminders when
# they start work, and the sweep's day (its local date) is unambiguous. Rerunning is safe: each notice is
# sent once per natural key, so a retry of this invocation only sends what is missing.
@app.schedule(Cron(0, 1, "*", "*", "?", "*"))
def daily_sweep(event: CloudWatchEvent) -> dict[str, dict[str, int]]:
    """Reminders, overdue notices, escalations and digests of every campaign, for today."""
    from chalicelib.adapters import metrics
    from chalicelib.adapters.mail import sender_from_settings
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services.sweep import link_hint, run_sweep
    from chalicelib.services.unit_links import current_link_settings

    as_of = now_utc()
    sender = sender_from_settings(settings())
    counts: dict[str, dict[str, int]] = {}
    for campaign in _registry().campaigns.values():
        report = run_sweep(_store(), campaign, as_of, sender, upload_hint=link_hint(as_of, current_link_settings()))
        counts[campaign.id] = report.counts()
        metrics.notices(counts[campaign.id])
        logger.info(
            "sweep done",
            extra={"campaign": campaign.id, "day": report.day.isoformat(), "counts": counts[campaign.id]},
        )
        for item in report.undeliverable:
            logger.warning("notice refused by the mail server", extra={"key": item.natural_key, "to": item.to})
    metrics.flush()
    return counts
