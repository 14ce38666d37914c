"""The office console's session: a signed, expiring cookie value, and CSRF tokens tied to it.

The cookie holds ``{sid, exp, auth}`` as base64url JSON plus an HMAC-SHA256 over it, so nothing is
stored server-side. ``auth`` is false for the anonymous session the sign-in form hands out (its CSRF
token protects the sign-in itself); signing in issues a fresh ``sid`` (no session fixation). A CSRF
token is an HMAC of the ``sid`` under a separate purpose, so it is useless without the cookie and
the cookie is useless without it for any state-changing form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

COOKIE_NAME = "office_session"
SESSION_HOURS = 8  # one working day
ANONYMOUS_MINUTES = 30  # the sign-in form's own session
SESSION_PURPOSE = b"console-session\x00"
CSRF_PURPOSE = b"console-csrf\x00"


@dataclass(frozen=True)
class Session:
    sid: str
    expires: int  # Unix seconds
    signed_in: bool


def session_key(own: str, link_keys: Sequence[str]) -> bytes | None:
    """``CONSOLE_SESSION_KEY``, else derived from the first link signing key (its own purpose); None if neither."""
    if own:
        return hashlib.sha256(b"console-key\x00" + own.encode()).digest()
    if not link_keys:
        return None
    return hmac.new(link_keys[0].encode(), b"derive:console-session", hashlib.sha256).digest()


def secure_cookie(public_base_url: str) -> bool:
    """Secure outside the local stage: only the local stack serves plain http, on loopback."""
    base = urlsplit(public_base_url or "https://")
    return not (base.scheme == "http" and base.hostname in ("127.0.0.1", "localhost", "::1"))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def new_session(now: datetime, *, signed_in: bool) -> Session:
    lifetime = timedelta(hours=SESSION_HOURS) if signed_in else timedelta(minutes=ANONYMOUS_MINUTES)
    return Session(secrets.token_urlsafe(18), int((now + lifetime).timestamp()), signed_in)


def encode_session(session: Session, key: bytes) -> str:
    payload = _b64(json.dumps({"sid": session.sid, "exp": session.expires, "auth": session.signed_in}).encode())
    mac = hmac.new(key, SESSION_PURPOSE + payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def decode_session(value: str | None, key: bytes, now: datetime) -> Session | None:
    """The session if the value is ours, untampered and unexpired; else None."""
    if not value or value.count(".") != 1 or len(value) > 512:
        return None
    payload, mac = value.split(".")
    expected = _b64(hmac.new(key, SESSION_PURPOSE + payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        session = Session(str(data["sid"]), int(data["exp"]), bool(data["auth"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > now.timestamp() else None


def csrf_token(session: Session, key: bytes) -> str:
    return _b64(hmac.new(key, CSRF_PURPOSE + session.sid.encode(), hashlib.sha256).digest())


def csrf_ok(session: Session | None, presented: str | None, key: bytes) -> bool:
    if session is None or not presented:
        return False
    return hmac.compare_digest(presented, csrf_token(session, key))


def cookie_header(value: str, *, secure: bool, max_age: int) -> str:
    """HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure over HTTPS."""
    parts = [f"{COOKIE_NAME}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cookie_value(header: str | None) -> str | None:
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME:
            return value
    return None
