"""The console's session cookie and CSRF tokens: signed, expiring, tied together, unusable elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.console_session import (
    cookie_header,
    cookie_value,
    csrf_ok,
    csrf_token,
    decode_session,
    encode_session,
    new_session,
    session_key,
)

NOW = datetime(2023, 5, 21, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


def test_a_session_round_trips_and_expires() -> None:
    session = new_session(NOW, signed_in=True)
    value = encode_session(session, KEY)
    assert decode_session(value, KEY, NOW) == session
    assert decode_session(value, KEY, NOW + timedelta(hours=8, seconds=1)) is None
    assert decode_session(value, b"other-key" * 4, NOW) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v.replace(v.split(".")[0], v.split(".")[0][:-2] + "AA"),
        lambda v: v + "x",
        lambda v: v.split(".")[0],
        lambda v: "",
        lambda v: v + ".x",
    ],
)
def test_a_tampered_cookie_is_no_session(tamper: object) -> None:
    value = encode_session(new_session(NOW, signed_in=True), KEY)
    assert decode_session(tamper(value), KEY, NOW) is None  # type: ignore[operator]


def test_csrf_tokens_belong_to_one_session() -> None:
    mine, theirs = new_session(NOW, signed_in=True), new_session(NOW, signed_in=True)
    assert csrf_ok(mine, csrf_token(mine, KEY), KEY)
    assert not csrf_ok(mine, csrf_token(theirs, KEY), KEY)
    assert not csrf_ok(mine, "", KEY) and not csrf_ok(None, csrf_token(mine, KEY), KEY)
    assert csrf_token(mine, KEY) not in encode_session(mine, KEY)  # the cookie alone does not give the token


def test_the_cookie_is_httponly_strict_and_secure_outside_local() -> None:
    header = cookie_header("v", secure=True, max_age=60)
    assert {"HttpOnly", "SameSite=Strict", "Secure"} <= {p.strip() for p in header.split(";")}
    assert "Secure" not in cookie_header("v", secure=False, max_age=60)
    assert cookie_value("a=b; office_session=xyz.abc; c=d") == "xyz.abc"


def test_the_key_comes_from_configuration() -> None:
    assert session_key("", ()) is None
    derived = session_key("", ("link-key-long-enough-0123456789",))
    own = session_key("console", ("link-key-long-enough-0123456789",))
    assert derived and own and derived != own
    # Derived, not the link key itself: a console cookie's MAC is no link signature.
    assert derived != b"link-key-long-enough-0123456789"


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [
        ("http://127.0.0.1:8000", False),
        ("http://localhost:8000", False),
        ("https://report.xinzhou-jtj.example.cn", True),
        ("http://127.0.0.1.evil.example", True),  # only the loopback stage goes without Secure
        (None, True),
    ],
)
def test_the_cookie_is_secure_outside_the_local_stage(base_url: str | None, secure: bool) -> None:
    from chalicelib.domain.console_session import secure_cookie

    assert secure_cookie(base_url or "") is secure
