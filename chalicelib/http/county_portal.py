"""The counties' door: public routes under ``/u/{token}``. The token is the only credential.

No authorizer: a county holds no office token, and the office authorizer never sees these routes (nor
does a county token open office routes: it is not an office token, so the authorizer answers 401).
Handlers only translate: check the token (``chalicelib.domain.links``), read the unit's records, render
(``chalicelib.http.portal_page``) or presign (``chalicelib.services.uploads``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

# Nothing of chalicelib at import time: app.py imports this module in every function (the office
# authorizer, intake, the sweep), and they should not pay for the registry and calendar on a cold start.
if TYPE_CHECKING:
    from chalicelib.domain.links import Grant, LinkError
    from chalicelib.http.portal_page import PortalView

county_portal = Blueprint(__name__)

SUBMISSIONS_SHOWN = 20  # per deliverable; a unit re-uploads a few times, not hundreds


@cache
def _registry() -> Any:
    from chalicelib.domain.registry import default_registry

    return default_registry()


@cache
def _store() -> Any:
    from chalicelib.services.portal import process_store

    return process_store()


@cache
def _presigner() -> Any:
    from chalicelib.config import settings
    from chalicelib.services.uploads import presigner_from_settings

    return presigner_from_settings(settings())


def _open(token: str) -> Grant:
    from chalicelib.domain.links import open_link
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.services.unit_links import current_link_settings

    return open_link(_registry(), token, current_link_settings().keys(), now=now_utc())


def _contact_line(grant: Grant) -> str:
    """Whom a county clerk calls: the office's liaison by phone if the registry has one, else its email."""
    office = grant.campaign.office
    liaison = office.liaison
    return f"{liaison.name} {liaison.mobile}" if liaison and liaison.mobile else office.email


def _office_contact(grant: Grant | None) -> str:
    if grant is None:
        return "市局专项整治工作办公室"
    return f"{grant.campaign.office.name}（{_contact_line(grant)}）"


def _error_page(exc: LinkError, nonce: str) -> Response:
    from chalicelib.domain.deadlines import period_label
    from chalicelib.domain.links import LinkExpiredError, expired_grant
    from chalicelib.http.portal_page import local_time_text, page_headers, render_message

    titles = {403: "链接无效", 404: "填报任务不存在", 410: "链接已过期", 503: "暂时无法使用"}
    grant = expired_grant(_registry(), exc) if isinstance(exc, LinkExpiredError) else None
    detail = ""
    if grant is not None:
        names = "、".join(d.name for d in grant.deliverables)
        expired = local_time_text(grant.expires_at.astimezone(grant.campaign.zone))
        detail = (
            f"这是{grant.unit.name}报送{period_label(grant.period)}{names}的链接，已于{expired}失效。"
            "如仍需报送，请联系市局专项整治工作办公室重新获取上传链接。"
        )
    message = exc.message if not isinstance(exc, LinkExpiredError) else "此上传链接已过期，不能再用于上传。"
    html = render_message(
        titles.get(exc.status, "无法打开"), message, detail=detail, contact=_office_contact(grant), nonce=nonce
    )
    return Response(body=html, status_code=exc.status, headers=page_headers(nonce))


def _json_error(exc: LinkError) -> Response:
    from chalicelib.http.errors import error_body
    from chalicelib.http.portal_page import json_body, json_headers

    # Same shape as Chalice's own errors, so the page reads one field whatever went wrong.
    return Response(
        json_body(error_body(exc.status, exc.message, exc.code)), status_code=exc.status, headers=json_headers()
    )


def _records(grant: Grant) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str | None]]:
    from chalicelib.services.portal import unit_records

    return unit_records(_store(), grant, SUBMISSIONS_SHOWN)


def _view(grant: Grant, token: str, nonce: str) -> PortalView:
    from chalicelib.config import settings
    from chalicelib.domain.deadlines import DEADLINE_STATUS_LABELS, period_label
    from chalicelib.domain.timeutil import now_utc
    from chalicelib.http.portal_page import DeliverableView, PortalView

    campaign = grant.campaign
    submissions, current_versions = _records(grant)
    window = max(campaign.notice_policy.reminder_days_before, default=3)
    now = now_utc()
    past = any(d is not None and d.status(now, window) == "past" for d in grant.deadlines.values())
    # A late unit must still deliver: say so, rather than let "已截止" read as "too late, don't bother".
    notes = ("截止时间已过，本链接在有效期内仍可补报；系统按实际上传时间记录。",) if past else ()
    return PortalView(
        token=token,
        campaign_name=campaign.name,
        office_name=campaign.office.name,
        office_contact=_contact_line(grant),
        unit_name=grant.unit.name,
        period_label=period_label(grant.period),
        expires_at=grant.expires_at.astimezone(campaign.zone),
        max_bytes=settings().max_upload_bytes,
        nonce=nonce,
        notes=notes,
        deliverables=[
            DeliverableView(
                id=d.id,
                name=d.name,
                formats=d.formats,
                due_at=deadline.due_at if (deadline := grant.deadlines.get(d.id)) else None,
                due_status=DEADLINE_STATUS_LABELS[deadline.status(now, window)] if deadline else None,
                current_version=current_versions.get(d.id),
                submissions=submissions.get(d.id, []),
            )
            for d in grant.deliverables
        ],
    )


def _page(token: str, render: Callable[[PortalView], str], *, uploads: bool) -> Response:
    """A portal page for the link: its own nonce; the upload origin in its policy only if it uploads."""
    from chalicelib.domain.links import LinkError
    from chalicelib.http.portal_page import page_headers

    nonce = secrets.token_urlsafe(16)
    try:
        grant = _open(token)
    except LinkError as exc:
        return _error_page(exc, nonce)
    html = render(_view(grant, token, nonce))
    return Response(
        body=html, status_code=200, headers=page_headers(nonce, _presigner().upload_origin() if uploads else None)
    )


@county_portal.route("/u/{token}", methods=["GET"])
def county_page(token: str) -> Response:
    from chalicelib.http.portal_page import render_portal

    return _page(token, render_portal, uploads=True)


@county_portal.route("/u/{token}/history", methods=["GET"])
def county_history(token: str) -> Response:
    from chalicelib.http.portal_page import render_history

    return _page(token, render_history, uploads=False)


@county_portal.route("/u/{token}/submissions", methods=["GET"])
def county_submissions(token: str) -> Response:
    from chalicelib.domain.links import LinkError
    from chalicelib.http.portal_page import json_body, json_headers

    try:
        grant = _open(token)
    except LinkError as exc:
        return _json_error(exc)
    submissions, current_versions = _records(grant)
    items = sorted(
        (item for group in submissions.values() for item in group),
        key=lambda item: item["received_at"]["utc"],
        reverse=True,
    )
    return Response(json_body({"items": items, "current": current_versions}), status_code=200, headers=json_headers())


@county_portal.route("/u/{token}/presign", methods=["POST"], content_types=["application/json"])
def county_presign(token: str) -> Response:
    from chalicelib.config import settings
    from chalicelib.domain.links import LinkError
    from chalicelib.http.portal_page import json_body, json_headers
    from chalicelib.services.uploads import plan_upload

    try:
        grant = _open(token)
        try:
            body = county_portal.current_request.json_body
        except Exception as exc:  # Chalice raises its own BadRequestError; the page needs the Chinese message
            raise LinkError("请求格式有误，请刷新页面后重试。") from exc
        if not isinstance(body, dict):
            raise LinkError("请求格式有误，请刷新页面后重试。")
        planned = plan_upload(
            _registry(),
            grant,
            body.get("deliverable"),
            body.get("file_name"),
            body.get("size"),
            settings().max_upload_bytes,
            stamped=body.get("stamped") is True,
        )
    except LinkError as exc:
        return _json_error(exc)
    return Response(json_body(_presigner().presign(planned)), status_code=200, headers=json_headers())


@county_portal.route("/u/{token}/worksheet", methods=["GET"])
def county_worksheet(token: str) -> Response:
    """The unit's pre-filled 问题清单 for the link's period (issue 15): its problems with their ids, to update
    and upload back; only on a link that includes the issue list."""
    from urllib.parse import quote

    from chalicelib.domain.links import LinkError
    from chalicelib.domain.problems import ISSUE_LIST
    from chalicelib.services.problems import unit_worksheet

    nonce = secrets.token_urlsafe(16)
    try:
        grant = _open(token)
    except LinkError as exc:
        return _error_page(exc, nonce)
    if all(d.id != ISSUE_LIST for d in grant.deliverables):
        from chalicelib.http.portal_page import page_headers, render_message

        html = render_message(
            "无预填清单",
            "此链接不含问题清单的报送，没有可下载的预填清单。",
            contact=_office_contact(grant),
            nonce=nonce,
        )
        return Response(body=html, status_code=404, headers=page_headers(nonce))
    name, body = unit_worksheet(_store(), grant.campaign, grant.unit.code, grant.period)
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
