"""County upload links: signed, expiring tokens that bind one unit to some deliverables of one period.

A link is ``{PUBLIC_BASE_URL}/u/{token}``. The token is ``base64url(payload) "." base64url(mac)``, the
payload a compact JSON object ``{"v", "c", "u", "d", "p", "exp"}`` (campaign, unit code, deliverable ids,
period, expiry in Unix seconds) and the MAC HMAC-SHA256 over a purpose label and the encoded payload.
Nothing is stored: whoever holds the link may upload for exactly what it names until it expires, and
no further (the key prefix is derived from the token, never from the request). The stdlib is enough
for this; a library would add a dependency to every Lambda function for some twenty lines.

Everything here is pure: keys, clocks and the registry are passed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.domain.deadlines import Deadline, campaign_deadlines, period_label, periods_for
from chalicelib.domain.registry import Campaign, Deliverable, Registry, Unit
from chalicelib.domain.timeutil import iso_local, iso_utc

TOKEN_VERSION = 1
# The MAC covers this label too, so a token can never be replayed as some other signed thing made with
# the same key (and a future v2 cannot be confused with v1).
PURPOSE = b"campaign-reporting/county-upload-link/v1\x00"
MAX_TOKEN_CHARS = 2048  # far above any real token; bounds the work a forged one can cause
MIN_KEY_CHARS = 32
MAX_VALID_DAYS = 180


class LinkError(Exception):
    """A link that cannot be used or made; ``status`` is the HTTP status it deserves."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LinkForgedError(LinkError):
    """Malformed, tampered with, or signed with a key we do not hold: nothing in it can be trusted."""

    status = 403
    code = "LINK_FORGED"


class LinkExpiredError(LinkError):
    """Genuine but past its expiry; the claims are trustworthy and say whose link it was."""

    status = 410
    code = "LINK_EXPIRED"

    def __init__(self, message: str, claims: LinkClaims) -> None:
        super().__init__(message)
        self.claims = claims


class LinkNotFoundError(LinkError):
    status = 404
    code = "NOT_FOUND"


class LinkConfigError(LinkError):
    """No usable signing key: links can be neither made nor checked."""

    status = 503
    code = "LINK_NOT_CONFIGURED"


@dataclass(frozen=True)
class LinkClaims:
    campaign: str
    unit: str
    deliverables: tuple[str, ...]
    period: str
    expires_at: datetime  # aware, UTC, whole seconds


@dataclass(frozen=True)
class LinkSettings:
    signing_keys: tuple[str, ...]  # the first signs; all verify (rotation: prepend the new key)
    base_url: str
    grace_days: int

    def keys(self) -> tuple[str, ...]:
        """The usable keys; a short key is refused outright rather than quietly making guessable links."""
        if not self.signing_keys:
            raise LinkConfigError("系统未配置上传链接签名密钥（LINK_SIGNING_KEY），暂时无法生成或使用上传链接。")
        if any(len(k) < MIN_KEY_CHARS for k in self.signing_keys):
            raise LinkConfigError(f"上传链接签名密钥（LINK_SIGNING_KEY）过短，每个密钥至少 {MIN_KEY_CHARS} 个字符。")
        return self.signing_keys


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # The last character carries unused bits: only the canonical spelling of a token is the token.
    if _b64encode(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def _mac(key: str, payload_b64: str) -> bytes:
    return hmac.new(key.encode("utf-8"), PURPOSE + payload_b64.encode("ascii"), hashlib.sha256).digest()


def sign_token(claims: LinkClaims, signing_key: str) -> str:
    payload = {
        "v": TOKEN_VERSION,
        "c": claims.campaign,
        "u": claims.unit,
        "d": list(claims.deliverables),
        "p": claims.period,
        "exp": int(claims.expires_at.timestamp()),
    }
    payload_b64 = _b64encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    return f"{payload_b64}.{_b64encode(_mac(signing_key, payload_b64))}"


FORGED_MESSAGE = (
    "此上传链接无效：链接不完整或已被改动。请从市局发送的通知邮件中完整复制链接后重新打开，或联系市局重新获取。"
)


def _claims(payload: Any) -> LinkClaims:
    """The payload's shape, checked even though it is signed: a signed token of a later version must not crash."""
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise ValueError("unknown payload")
    campaign, unit, deliverables, period, exp = (payload.get(k) for k in ("c", "u", "d", "p", "exp"))
    # Spelled out (not a loop) so the type checker sees three non-empty strings.
    if not (isinstance(campaign, str) and campaign and isinstance(unit, str) and unit):
        raise ValueError("bad strings")
    if not (isinstance(period, str) and period):
        raise ValueError("bad strings")
    if not isinstance(deliverables, list) or not deliverables or not all(isinstance(d, str) for d in deliverables):
        raise ValueError("bad deliverables")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise ValueError("bad expiry")
    return LinkClaims(campaign, unit, tuple(deliverables), period, datetime.fromtimestamp(exp, UTC))


def verify_token(token: str, signing_keys: Sequence[str], *, now: datetime) -> LinkClaims:
    """The claims of a genuine, unexpired token; else ``LinkForgedError`` or ``LinkExpiredError``."""
    if not signing_keys:
        raise LinkConfigError("系统未配置上传链接签名密钥（LINK_SIGNING_KEY），暂时无法使用上传链接。")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise LinkForgedError(FORGED_MESSAGE)
    payload_b64, mac_b64 = token.split(".")
    try:
        presented = _b64decode(mac_b64)
        _b64decode(payload_b64)
    except (ValueError, binascii.Error) as exc:
        raise LinkForgedError(FORGED_MESSAGE) from exc
    # Every key is tried, so the time taken says nothing about which key (if any) came close.
    matches = [hmac.compare_digest(_mac(key, payload_b64), presented) for key in signing_keys]
    if not any(matches):
        raise LinkForgedError(FORGED_MESSAGE)
    try:
        claims = _claims(json.loads(_b64decode(payload_b64)))
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError, OSError) as exc:  # exp out of range
        raise LinkForgedError(FORGED_MESSAGE) from exc
    if now >= claims.expires_at:
        raise LinkExpiredError("此上传链接已过期。", claims)
    return claims


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/u/{token}"


def upload_link(
    campaign: str,
    unit_code: str,
    deliverables: str | Sequence[str],
    period: str,
    *,
    base_url: str,
    signing_key: str,
    expires_at: datetime,
) -> str:
    """The county's link for some deliverables of one period; what notices (and the office route) hand out.

    The caller has checked unit, deliverables and period against the registry (``issue_link`` does).
    """
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be aware")
    names = (deliverables,) if isinstance(deliverables, str) else tuple(deliverables)
    claims = LinkClaims(campaign, unit_code, names, period, expires_at.astimezone(UTC).replace(microsecond=0))
    return link_url(base_url, sign_token(claims, signing_key))


def deadline_of(campaign: Campaign, deliverable_id: str, period: str) -> Deadline | None:
    """The deadline a deliverable of a period is due by (policy-adjusted, as the calendar shows it)."""
    return next(
        (d for d in campaign_deadlines(campaign) if d.period == period and deliverable_id in d.deliverables),
        None,
    )


def default_expiry(deadlines: Iterable[Deadline], grace_days: int) -> datetime:
    """The latest due instant of the link's deadlines plus the grace period: late units can still deliver."""
    return max(d.due_at for d in deadlines).astimezone(UTC) + timedelta(days=grace_days)


@dataclass(frozen=True)
class Grant:
    """What a genuine token lets its holder do, resolved against the registry."""

    campaign: Campaign
    unit: Unit
    deliverables: tuple[Deliverable, ...]
    period: str
    expires_at: datetime
    deadlines: dict[str, Deadline | None]  # by deliverable id

    def deliverable(self, deliverable_id: str | None) -> Deliverable:
        """The deliverable an upload is for; may be omitted when the link names only one."""
        if deliverable_id is None and len(self.deliverables) == 1:
            return self.deliverables[0]
        for deliverable in self.deliverables:
            if deliverable.id == deliverable_id:
                return deliverable
        names = "、".join(f"{d.id}（{d.name}）" for d in self.deliverables)
        raise LinkError(f"此链接只能上传：{names}，请选择其中一项。")


def _resolve(registry: Registry, claims: LinkClaims) -> Grant:
    campaign = registry.campaign(claims.campaign)
    unit = campaign.unit(claims.unit) if campaign else None
    deliverables = tuple(campaign.deliverable(d) for d in claims.deliverables) if campaign else ()
    # A genuine token naming what the registry no longer has (a unit merged away): the link is dead.
    if campaign is None or unit is None or unit.code != claims.unit or not all(deliverables):
        raise LinkNotFoundError("此上传链接对应的填报任务已不存在，请联系市局专项整治工作办公室。")
    found = tuple(d for d in deliverables if d is not None)
    return Grant(
        campaign=campaign,
        unit=unit,
        deliverables=found,
        period=claims.period,
        expires_at=claims.expires_at,
        deadlines={d.id: deadline_of(campaign, d.id, claims.period) for d in found},
    )


def open_link(registry: Registry, token: str, signing_keys: Sequence[str], *, now: datetime) -> Grant:
    """What a token grants now, or the ``LinkError`` to show instead."""
    return _resolve(registry, verify_token(token, signing_keys, now=now))


def expired_grant(registry: Registry, error: LinkExpiredError) -> Grant | None:
    """Whose link it was, to word the expiry page; None if the registry no longer knows it."""
    try:
        return _resolve(registry, error.claims)
    except LinkError:
        return None


# --- the office's request for a link -----------------------------------------------------------------------


def _requested_deliverables(raw: Any) -> tuple[str, ...]:
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise LinkError("deliverable 应为材料类型编号（如 issue-list），或同一期多个材料类型编号的列表。")
    return tuple(dict.fromkeys(names))


def issue_link(
    registry: Registry, campaign_id: str, body: Any, settings: LinkSettings, *, now: datetime
) -> dict[str, Any]:
    """Check an office request ``{unit, deliverable, period[, valid_days]}`` and make its link.

    The link expires ``grace_days`` after the (latest) deadline, or ``valid_days`` from now when asked:
    after a deadline's grace period only an explicit ``valid_days`` makes a link for a late unit.
    """
    campaign = registry.campaign(campaign_id)
    if campaign is None:
        raise LinkNotFoundError("未找到该专项活动。")
    if not isinstance(body, dict):
        raise LinkError('请求体应为 JSON 对象：{"unit": …, "deliverable": …, "period": …}。')
    unit_ref, period = body.get("unit"), body.get("period")
    if not isinstance(unit_ref, str) or not unit_ref.strip():
        raise LinkError("请填写 unit（填报单位名称或行政区划代码，如 原平市 或 140981）。")
    unit = campaign.unit(unit_ref)
    if unit is None:
        raise LinkError(f"未找到填报单位“{unit_ref[:40]}”，请填写单位名称或行政区划代码（如 原平市 或 140981）。")
    names = _requested_deliverables(body.get("deliverable"))
    deliverables = []
    for name in names:
        deliverable = campaign.deliverable(name)
        if deliverable is None:
            known = "、".join(f"{d.id}（{d.name}）" for d in campaign.deliverables.values())
            raise LinkError(f"材料类型“{name[:40]}”无法识别，可选：{known}。")
        deliverables.append(deliverable)
    if not isinstance(period, str) or not period:
        raise LinkError("请填写 period（期次，如 2023-05、setup 或 final）。")
    for deliverable in deliverables:
        periods = periods_for(campaign, deliverable.id)
        if period not in periods:
            raise LinkError(f"{deliverable.name}没有“{period[:20]}”这一期，可报送的期次为：{'、'.join(periods)}。")
    deadlines = {d.id: deadline_of(campaign, d.id, period) for d in deliverables}

    valid_days = body.get("valid_days")
    if valid_days is not None:
        if not isinstance(valid_days, int) or isinstance(valid_days, bool) or not 1 <= valid_days <= MAX_VALID_DAYS:
            raise LinkError(f"valid_days 应为 1 到 {MAX_VALID_DAYS} 之间的整数（链接自现在起的有效天数）。")
        expires_at = now.astimezone(UTC) + timedelta(days=valid_days)
    else:
        expires_at = default_expiry([d for d in deadlines.values() if d is not None], settings.grace_days)
        if expires_at <= now:
            raise LinkError(
                f"本期截止时间已过{settings.grace_days}天宽限期，按默认有效期生成的链接将立即失效；"
                f"如需补报，请在请求中加 valid_days（1–{MAX_VALID_DAYS}，自现在起的有效天数）。"
            )
    keys = settings.keys()
    url = upload_link(
        campaign.id,
        unit.code,
        [d.id for d in deliverables],
        period,
        base_url=settings.base_url,
        signing_key=keys[0],
        expires_at=expires_at,
    )
    expires_at = expires_at.replace(microsecond=0)
    return {
        "url": url,
        "path": url[len(settings.base_url) :],
        "expires_at": {"utc": iso_utc(expires_at), "local": iso_local(expires_at, campaign.zone)},
        "campaign": campaign.id,
        "unit": {"code": unit.code, "name": unit.name},
        "deliverables": [
            {
                "id": d.id,
                "name": d.name,
                "due_at": iso_local(due.due_at, campaign.zone) if (due := deadlines[d.id]) else None,
            }
            for d in deliverables
        ],
        "period": period,
        "period_label": period_label(period),
    }
