"""The office console: ``/office`` pages in the same Chalice app, for people who work in a browser.

Sign-in takes the office token (the same SHA-256 hashes as the bearer authorizer); the session is a
signed, expiring cookie (``chalicelib.domain.console_session``): HttpOnly, SameSite=Strict, Secure
whenever the public base URL is HTTPS. Every POST carries a CSRF token tied to the session. The
bearer API is untouched: these routes have no authorizer and check the cookie themselves.
Pages are rendered by ``chalicelib.http.console_page`` (escaping lives there).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import cache, wraps
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from chalice import Blueprint, Response

if TYPE_CHECKING:
    from chalicelib.domain.console_session import Session
    from chalicelib.domain.registry import Campaign

office_console = Blueprint(__name__)

FORM = "application/x-www-form-urlencoded"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@cache
def _registry() -> Any:
    from chalicelib.domain.registry import default_registry

    return default_registry()


def _store() -> Any:
    from chalicelib.services.portal import process_store

    return process_store()


def _campaign() -> Campaign:
    """The campaign the console shows: ``CONSOLE_CAMPAIGN``, else the registry's first."""
    registry = _registry()
    from chalicelib.config import settings

    wanted = settings().console_campaign
    campaign = registry.campaign(wanted) if wanted else None
    return campaign or next(iter(registry.campaigns.values()))


def _key() -> bytes:
    from chalicelib.config import settings
    from chalicelib.domain.console_session import session_key
    from chalicelib.services.unit_links import current_link_settings

    # In AWS the link key lives in Secrets Manager: the derived session key follows it (and its rotation).
    key = session_key(settings().console_session_key, current_link_settings().signing_keys)
    if key is None:
        raise RuntimeError("CONSOLE_SESSION_KEY / LINK_SIGNING_KEY not configured")
    return key


def _secure_cookie() -> bool:
    from chalicelib.config import settings
    from chalicelib.domain.console_session import secure_cookie

    return secure_cookie(settings().public_base_url)


def _now() -> Any:
    from chalicelib.domain.timeutil import now_utc

    return now_utc()


def _session() -> Session | None:
    from chalicelib.domain.console_session import cookie_value, decode_session

    request = office_console.current_request
    return decode_session(cookie_value(request.headers.get("cookie")), _key(), _now())


def _set_cookie(session: Session) -> str:
    from chalicelib.domain.console_session import cookie_header, encode_session

    return cookie_header(
        encode_session(session, _key()), secure=_secure_cookie(), max_age=session.expires - int(_now().timestamp())
    )


def _html(
    title: str,
    body: str,
    *,
    here: str = "",
    session: Session | None = None,
    status: int = 200,
    extra: dict[str, str] | None = None,
    refresh_seconds: int | None = None,
) -> Response:
    from chalicelib.domain.console_session import csrf_token
    from chalicelib.http.console_page import console_headers, page

    nonce = secrets.token_urlsafe(16)
    csrf = csrf_token(session, _key()) if session else ""
    signed_in = bool(session and session.signed_in)
    headers: dict[str, str | list[str]] = {**console_headers(nonce), **(extra or {})}
    return Response(
        page(title, body, nonce=nonce, here=here, csrf=csrf, signed_in=signed_in, refresh_seconds=refresh_seconds),
        status_code=status,
        headers=headers,
    )


def _redirect(location: str, cookie: str | None = None) -> Response:
    headers: dict[str, str | list[str]] = {"Location": location, "Cache-Control": "no-store"}
    if cookie:
        headers["Set-Cookie"] = cookie
    return Response("", status_code=303, headers=headers)


def _form() -> dict[str, str]:
    raw = office_console.current_request.raw_body or b""
    if len(raw) > 16_384:
        return {}
    return {
        k: v[0]
        for k, v in parse_qs(
            (raw if isinstance(raw, bytes) else raw.encode()).decode("utf-8", "replace"), keep_blank_values=True
        ).items()
    }


def _params() -> dict[str, str]:
    return {k: v for k, v in (office_console.current_request.query_params or {}).items() if len(v) <= 64}


def signed_in(view: Callable[..., Response]) -> Callable[..., Response]:
    """Pages need a signed-in session; without one the browser goes to the sign-in form."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Response:
        session = _session()
        if session is None or not session.signed_in:
            return _redirect("/office/login")
        return view(session, *args, **kwargs)

    return guarded


def csrf_checked(view: Callable[..., Response]) -> Callable[..., Response]:
    """A POST whose form lacks the session's CSRF token changes nothing: 403."""

    @wraps(view)
    def guarded(session: Session, *args: Any, **kwargs: Any) -> Response:
        from chalicelib.domain.console_session import csrf_ok

        form = _form()
        if not csrf_ok(session, form.get("csrf"), _key()):
            return _html(
                "请求被拒绝",
                '<section><p class="flash">表单已失效或来源不明（缺少校验码），请返回重新操作。</p></section>',
                status=403,
            )
        return view(session, form, *args, **kwargs)

    return guarded


@office_console.route("/login", methods=["GET"])
def login_form() -> Response:
    from chalicelib.domain.console_session import csrf_token, new_session
    from chalicelib.http.console_page import login_body

    anonymous = new_session(_now(), signed_in=False)
    response = _html("专项整治工作办公室 · 登录", login_body(csrf_token(anonymous, _key())), session=anonymous)
    response.headers["Set-Cookie"] = _set_cookie(anonymous)
    return response


@office_console.route("/login", methods=["POST"], content_types=[FORM])
def login() -> Response:
    from chalicelib.config import settings
    from chalicelib.domain.auth import is_office_token, parse_hashes
    from chalicelib.domain.console_session import csrf_ok, csrf_token, new_session
    from chalicelib.http.console_page import login_body

    form = _form()
    anonymous = _session()
    if not csrf_ok(anonymous, form.get("csrf"), _key()):
        fresh = new_session(_now(), signed_in=False)
        response = _html(
            "专项整治工作办公室 · 登录",
            login_body(csrf_token(fresh, _key()), "登录表单已失效，请重新输入令牌。"),
            session=fresh,
            status=403,
        )
        response.headers["Set-Cookie"] = _set_cookie(fresh)
        return response
    if not is_office_token(f"Bearer {form.get('token', '')}", parse_hashes(settings().office_token_sha256)):
        assert anonymous is not None
        return _html(
            "专项整治工作办公室 · 登录",
            login_body(csrf_token(anonymous, _key()), "令牌不正确，请核对后重新输入。"),
            session=anonymous,
            status=401,
        )
    return _redirect("/office", _set_cookie(new_session(_now(), signed_in=True)))


@office_console.route("/logout", methods=["POST"], content_types=[FORM])
@signed_in
@csrf_checked
def logout(session: Session, form: dict[str, str]) -> Response:
    from chalicelib.domain.console_session import COOKIE_NAME

    return _redirect("/office/login", f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")


def _units(campaign: Campaign) -> list[dict[str, str]]:
    return [{"code": u.code, "name": u.name} for u in campaign.units]


def _default_as_of(campaign: Campaign) -> str:
    """Today, but never past the campaign's last deadline (the board of a finished campaign is its end)."""
    from chalicelib.domain.deadlines import campaign_deadlines

    today = _now().astimezone(campaign.zone).date()
    last = max(d.due_date for d in campaign_deadlines(campaign))
    return min(today, last).isoformat()


def _office_error(exc: Exception) -> Response:
    return _html(
        "无法显示", f'<section><p class="flash">{_esc(getattr(exc, "message", "请求无效。"))}</p></section>', status=400
    )


def _esc(text: str) -> str:
    from chalicelib.http.portal_page import esc

    return esc(text)


@office_console.route("/", methods=["GET"])
@signed_in
def board(session: Session) -> Response:
    from chalicelib.http.console_page import board_body
    from chalicelib.services.queries import QueryError, status_board

    campaign = _campaign()
    as_of = _params().get("as_of") or _default_as_of(campaign)
    try:
        answer = status_board(_registry(), _store(), campaign.id, as_of=as_of)
    except QueryError as exc:
        return _office_error(exc)
    return _html(f"{campaign.name} · 报送看板", board_body(answer, _units(campaign)), here="board", session=session)


@office_console.route("/unit", methods=["GET"])
@signed_in
def unit_page(session: Session) -> Response:
    from chalicelib.http.console_page import unit_body
    from chalicelib.services.console import unit_submissions
    from chalicelib.services.queries import QueryError, status_board, unit_or_400

    campaign = _campaign()
    params = _params()
    try:
        unit = unit_or_400(campaign, params.get("unit", ""))
        answer = status_board(_registry(), _store(), campaign.id, as_of=params.get("as_of") or _default_as_of(campaign))
        submissions = unit_submissions(_registry(), _store(), campaign.id, unit.code)["items"]
    except QueryError as exc:
        return _office_error(exc)
    wanted = params.get("deadline")
    entries = [
        {"deadline": d, "entry": e}
        for d in answer["deadlines"]
        if not wanted or d["id"] == wanted
        for e in d["units"]
        if e["unit"]["code"] == unit.code
    ]
    if wanted:
        deadline = next((d for d in answer["deadlines"] if d["id"] == wanted), None)
        if deadline is not None:
            submissions = [s for s in submissions if s["period"] == deadline["period"]]
    from chalicelib.domain.console_session import csrf_token

    body = unit_body(unit.name, entries, submissions, csrf_token(session, _key()), unit.code)
    return _html(f"{unit.name} · 报送材料", body, here="board", session=session)


@office_console.route("/decision", methods=["POST"], content_types=[FORM])
@signed_in
@csrf_checked
def decide_version(session: Session, form: dict[str, str]) -> Response:
    """Accept or return one version from the unit page (issue 14), then back to that page."""
    from urllib.parse import urlencode

    from chalicelib.domain.decisions import DecisionError, checked_request
    from chalicelib.services.decisions import CONSOLE_DECIDER, decide, default_context

    campaign = _campaign()
    try:
        decision, note = checked_request({"decision": form.get("decision"), "note": form.get("note", "")})
        decide(
            default_context(), campaign.id, form.get("unit", ""), form.get("version", ""), decision, note,
            CONSOLE_DECIDER, _now(),
        )  # fmt: skip
    except DecisionError as exc:
        return _office_error(exc)
    return _redirect("/office/unit?" + urlencode({"unit": form.get("unit", "")}))


@office_console.route("/download", methods=["GET"])
@signed_in
def download(session: Session) -> Response:
    """A 303 to a presigned GET of the exact version (60 s), only for keys under the campaign's uploads."""
    from chalicelib.config import settings
    from chalicelib.services.uploads import presigned_download

    params = _params() | {k: v for k, v in (office_console.current_request.query_params or {}).items() if k == "key"}
    key = params.get("key", "")
    campaign = _campaign()
    if not key.startswith(f"uploads/{campaign.id}/") or ".." in key or len(key) > 1024:
        return _office_error(ValueError())
    name = params.get("name") or key.rsplit("/", 1)[-1]
    return _redirect(presigned_download(settings(), key, params.get("version"), name))


@office_console.route("/refused", methods=["GET"])
@signed_in
def refused(session: Session) -> Response:
    from chalicelib.http.console_page import refused_body
    from chalicelib.services.console import refused_uploads

    campaign = _campaign()
    return _html(
        "被拒绝的上传",
        refused_body(refused_uploads(_registry(), _store(), campaign.id)),
        here="refused",
        session=session,
    )


LEDGER_FILTERS = ("period", "unit", "aspect", "overdue")
LEDGER_PAGE = (*LEDGER_FILTERS, "cursor")  # the page's own parameters; the export takes the filters only


@office_console.route("/ledger", methods=["GET"])
@signed_in
def ledger(session: Session) -> Response:
    from chalicelib.domain.deadlines import periods_for
    from chalicelib.http.console_page import ledger_body
    from chalicelib.services.console import problem_ledger_actions
    from chalicelib.services.queries import QueryError, list_issues

    campaign = _campaign()
    params = _params()
    if not params.get("period"):  # issue 15: the problem ledger (one row per problem, 销号 / 问题反弹)
        raw: dict[str, str] = dict(office_console.current_request.query_params or {})
        cursor = raw.get("cursor", "")
        return _problem_ledger(session, campaign, {**params, "cursor": cursor if len(cursor) <= 512 else ""})
    filters = {k: v for k, v in params.items() if k in LEDGER_FILTERS and v}
    page = dict(office_console.current_request.query_params or {}).get("cursor", "")
    if page and len(page) <= 512:  # a page of units (issue 17)
        filters["cursor"] = page
    try:
        named: dict[str, Any] = {("unit_ref" if k == "unit" else k): v for k, v in filters.items()}
        answer = list_issues(_registry(), _store(), campaign.id, **named)
    except QueryError as exc:
        return _office_error(exc)
    body = ledger_body(
        answer["items"],
        filters,
        _units(campaign),
        periods_for(campaign, "issue-list"),
        problem_ledger_actions(),
        _csrf(session),
        answer.get("next_cursor"),
    )
    return _html("专项整治事项清单（汇总台账）", body, here="ledger", session=session)


PROBLEM_FILTERS = ("unit", "aspect", "status", "flag", "cursor")


def _csrf(session: Session) -> str:
    from chalicelib.domain.console_session import csrf_token

    return csrf_token(session, _key())


def _problem_ledger(
    session: Session, campaign: Campaign, params: dict[str, str], flash: str = "", status: int = 200
) -> Response:
    from chalicelib.domain.deadlines import periods_for
    from chalicelib.http.console_page import problem_ledger_body
    from chalicelib.services.console import problem_ledger_actions
    from chalicelib.services.problems import list_problems
    from chalicelib.services.queries import QueryError

    filters = {k: v for k, v in params.items() if k in PROBLEM_FILTERS and v}
    try:
        answer = list_problems(
            _registry(),
            _store(),
            campaign.id,
            **{("unit_ref" if k == "unit" else k): v for k, v in filters.items()},
            limit="50",
        )
    except QueryError as exc:
        return _office_error(exc)
    body = problem_ledger_body(
        answer,
        {k: v for k, v in filters.items() if k != "cursor"},
        _units(campaign),
        problem_ledger_actions(),
        _csrf(session),
        periods_for(campaign, "issue-list"),
        flash,
    )
    return _html("问题台账（对账销号）", body, here="ledger", session=session, status=status)


def _problem_action(session: Session, form: dict[str, str], action: str) -> Response:
    from chalicelib.domain.problems import OfficeActionError
    from chalicelib.services import problems

    campaign = _campaign()
    note = form.get("note", "").strip()[:500]
    who = f"{campaign.office.name}（网页）"
    try:
        if action == "close":
            done = problems.close_problem(
                _store(),
                campaign,
                form.get("id", ""),
                who=who,
                note=note,
                force=form.get("force") == "true",
                now=_now(),
            )
        else:
            done = problems.reopen_problem(_store(), campaign, form.get("id", ""), who=who, note=note, now=_now())
    except OfficeActionError as exc:
        return _problem_ledger(session, campaign, {}, flash=exc.message, status=409)
    flash = f"问题{done.id}已{'销号' if action == 'close' else '标记为问题反弹'}。"
    return _problem_ledger(session, campaign, {"unit": done.unit}, flash=flash)


@office_console.route("/problems/close", methods=["POST"], content_types=[FORM])
@signed_in
@csrf_checked
def close_problem(session: Session, form: dict[str, str]) -> Response:
    return _problem_action(session, form, "close")


@office_console.route("/problems/reopen", methods=["POST"], content_types=[FORM])
@signed_in
@csrf_checked
def reopen_problem(session: Session, form: dict[str, str]) -> Response:
    return _problem_action(session, form, "reopen")


@office_console.route("/ledger.xlsx", methods=["GET"])
@signed_in
def ledger_workbook(session: Session) -> Response:
    from chalicelib.config import settings
    from chalicelib.services.export_jobs import export_if_big
    from chalicelib.services.queries import QueryError, issues_workbook

    campaign = _campaign()
    filters = {k: v for k, v in _params().items() if k in LEDGER_FILTERS and v}
    try:
        # Above EXPORT_SYNC_MAX_ROWS the export worker builds it; the browser waits on the progress page.
        job = export_if_big(_registry(), _store(), campaign.id, filters, settings())
        if job is not None:
            return _redirect(f"/office/exports/{quote(job.job_id)}")
        body = issues_workbook(
            _registry(), _store(), campaign.id, **{("unit_ref" if k == "unit" else k): v for k, v in filters.items()}
        )
    except QueryError as exc:
        return _office_error(exc)
    # A browser's Accept starts with text/html, and API Gateway hands bytes over only when the first type
    # is binary: the workbook goes to exports/ and the browser follows a presigned link (issue 17).
    import uuid

    from chalicelib.services.uploads import stored_export

    key = f"exports/{campaign.id}/{uuid.uuid4().hex}.xlsx"
    return Response(
        "",
        status_code=303,
        headers={
            "Location": stored_export(settings(), key, body, XLSX, "专项整治台账.xlsx"),
            "Cache-Control": "no-store",
        },
    )


@office_console.route("/exports/{job_id}", methods=["GET"])
@signed_in
def export_progress(session: Session, job_id: str) -> Response:
    """An export being built: reloads itself every 2 s (meta refresh) until done, then links the download."""
    from urllib.parse import unquote

    from chalicelib.config import settings
    from chalicelib.http.console_page import export_body
    from chalicelib.services.export_jobs import job_status
    from chalicelib.services.queries import QueryError

    try:
        job = job_status(_store(), _campaign().id, unquote(job_id)[:64], settings())
    except QueryError as exc:
        return _office_error(exc)
    waiting = job["status"] in ("queued", "running")
    return _html("导出台账", export_body(job), here="ledger", session=session, refresh_seconds=2 if waiting else None)


def _file(body: bytes, content_type: str, name: str) -> Response:
    return Response(
        body,
        status_code=200,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _link_deliverables(campaign: Campaign) -> list[tuple[str, str]]:
    return [(d.id, d.name) for d in campaign.deliverables.values()]


@office_console.route("/links", methods=["GET"])
@signed_in
def links_form(session: Session) -> Response:
    from chalicelib.domain.console_session import csrf_token
    from chalicelib.http.console_page import links_body

    campaign = _campaign()
    body = links_body(csrf_token(session, _key()), _units(campaign), _link_deliverables(campaign), None, "", "")
    return _html("生成县区上传链接", body, here="links", session=session)


@office_console.route("/links", methods=["POST"], content_types=[FORM])
@signed_in
@csrf_checked
def issue_link(session: Session, form: dict[str, str]) -> Response:
    import segno

    from chalicelib.domain.console_session import csrf_token
    from chalicelib.domain.links import LinkError
    from chalicelib.domain.links import issue_link as make_link
    from chalicelib.http.console_page import links_body
    from chalicelib.services.unit_links import current_link_settings

    campaign = _campaign()
    request: dict[str, Any] = {k: form.get(k, "") for k in ("unit", "deliverable", "period")}
    if form.get("valid_days", "").isdigit():
        request["valid_days"] = int(form["valid_days"])
    issued, qr, message, status = None, "", "", 201
    try:
        issued = make_link(_registry(), campaign.id, request, current_link_settings(), now=_now())
        # segno's SVG has only presentation attributes (no style, no script): fine under the page's CSP.
        qr = segno.make(issued["url"], error="m").svg_inline(scale=4, title="上传链接二维码")
    except LinkError as exc:
        message, status = exc.message, exc.status
    body = links_body(csrf_token(session, _key()), _units(campaign), _link_deliverables(campaign), issued, qr, message)
    return _html("生成县区上传链接", body, here="links", session=session, status=status)


@office_console.route("/charts", methods=["GET"])
@signed_in
def charts(session: Session) -> Response:
    from chalicelib.http.console_page import bar_chart
    from chalicelib.services.office_reports import chart_series

    campaign = _campaign()
    as_of = _params().get("as_of") or _default_as_of(campaign)
    series = chart_series(_registry(), _store(), campaign.id, as_of)
    body = (
        bar_chart(f"各期报送按时率（截至{as_of}）", series["on_time_rate"], unit="%", maximum=100)
        + bar_chart("问题数量（按问题方面）", series["by_aspect"], unit="个")
        + bar_chart("问题数量（按填报单位）", series["by_unit"], unit="个")
        + _problems_over_months(campaign)
    )
    return _html("统计图", body, here="charts", session=session)


def _problems_over_months(campaign: Campaign) -> str:
    from chalicelib.http.console_page import line_chart
    from chalicelib.services.office_reports import open_and_closed_by_month

    months, series = open_and_closed_by_month(_store(), campaign)
    colours = {"open": "#b22222", "done": "#c08000", "closed": "#11612e"}
    labels = {"open": "未完成", "done": "已完成待销号", "closed": "已销号"}
    return line_chart(
        "问题整改情况（各月末：未完成 / 已完成待销号 / 已销号）",
        months,
        [(labels[k], colours[k], series[k]) for k in ("open", "done", "closed")],
    )


@office_console.route("/reports", methods=["GET"])
@signed_in
def reports(session: Session) -> Response:
    from chalicelib.http.console_page import reports_body

    return _html("月报与通报", reports_body(_campaign().id), here="reports", session=session)


@office_console.route("/reports/monthly", methods=["GET"])
@signed_in
def monthly(session: Session) -> Response:
    from chalicelib.services.office_reports import monthly_docx
    from chalicelib.services.queries import QueryError

    period = _params().get("period", "")
    try:
        body = monthly_docx(_registry(), _store(), _campaign().id, period)
    except QueryError as exc:
        return _office_error(exc)
    return _file(body, DOCX, f"工作简报{period}.docx")


@office_console.route("/reports/monthly.xlsx", methods=["GET"])
@signed_in
def monthly_list(session: Session) -> Response:
    from chalicelib.services.office_reports import monthly_list_workbook
    from chalicelib.services.queries import QueryError

    period = _params().get("period", "")
    try:
        body = monthly_list_workbook(_registry(), _store(), _campaign().id, period)
    except QueryError as exc:
        return _office_error(exc)
    return _file(body, XLSX, f"专项整治事项清单（汇总）{period}.xlsx")


@office_console.route("/reports/circular", methods=["GET"])
@signed_in
def circular(session: Session) -> Response:
    from chalicelib.services.office_reports import circular_docx
    from chalicelib.services.queries import QueryError

    campaign = _campaign()
    as_of = _params().get("as_of") or None
    try:
        body = circular_docx(_registry(), _store(), campaign.id, as_of)
    except QueryError as exc:
        return _office_error(exc)
    return _file(body, DOCX, f"通报（草稿）{as_of or ''}.docx")
