"""County upload links, pure: tokens (sign, verify, expiry, forgery, tampering), what a link binds, and
which key an upload through it can get. No stack, no clock: ``now`` is passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.presign import plan_upload
from chalicelib.domain.deadlines import campaign_deadlines
from chalicelib.domain.links import (
    PURPOSE,
    LinkClaims,
    LinkConfigError,
    LinkError,
    LinkExpiredError,
    LinkForgedError,
    LinkNotFoundError,
    LinkSettings,
    issue_link,
    open_link,
    sign_token,
    upload_link,
    verify_token,
)
from chalicelib.domain.registry import default_registry
from chalicelib.http.portal_page import render_submission

KEY = "k" * 40
OTHER_KEY = "o" * 40
NOW = datetime(2023, 8, 1, 2, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=3)
CLAIMS = LinkClaims("xinzhou-2023", "140922", ("issue-list",), "2023-08", LATER)
SETTINGS = LinkSettings(signing_keys=(KEY,), base_url="https://reports.example.cn/api", grace_days=7)
MAX = 20 * 1024 * 1024


def _token_of(url: str) -> str:
    return url.rsplit("/u/", 1)[1]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_signed_token_verifies_to_its_claims() -> None:
    token = sign_token(CLAIMS, KEY)
    assert verify_token(token, [KEY], now=NOW) == CLAIMS
    # URL-safe as it is: no padding, no characters a mail client or a path would mangle.
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_a_token_expires_at_its_expiry_and_still_says_whose_it_was() -> None:
    token = sign_token(CLAIMS, KEY)
    assert verify_token(token, [KEY], now=LATER - timedelta(seconds=1)) == CLAIMS
    with pytest.raises(LinkExpiredError) as caught:
        verify_token(token, [KEY], now=LATER)
    assert caught.value.status == 410
    assert caught.value.claims.unit == "140922"


def test_a_token_signed_with_another_key_is_forged() -> None:
    token = sign_token(CLAIMS, OTHER_KEY)
    with pytest.raises(LinkForgedError) as caught:
        verify_token(token, [KEY], now=NOW)
    assert caught.value.status == 403
    # An expired forgery is still a forgery: the signature is checked before anything in the payload is believed.
    with pytest.raises(LinkForgedError):
        verify_token(token, [KEY], now=LATER + timedelta(days=1))


@pytest.mark.parametrize(
    "token",
    ["", "abc", "abc.def", "a.b.c", "..", "eyJ2IjoxfQ.", ".c2ln", "é.é", "x" * 5000, "eyJ2Ijox fQ.AAAA"],
)
def test_malformed_tokens_are_forged_not_crashes(token: str) -> None:
    with pytest.raises(LinkForgedError):
        verify_token(token, [KEY], now=NOW)


def test_tampering_with_the_payload_or_the_mac_is_detected() -> None:
    token = sign_token(CLAIMS, KEY)
    payload_b64, mac_b64 = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    for field, value in (("u", "140981"), ("d", ["issue-list", "typical-case"]), ("p", "2023-07"), ("exp", 4102444800)):
        forged = _b64(json.dumps(payload | {field: value}, separators=(",", ":")).encode())
        with pytest.raises(LinkForgedError):
            verify_token(f"{forged}.{mac_b64}", [KEY], now=NOW)
    flipped = mac_b64[:-2] + ("A" if mac_b64[-2] != "A" else "B") + mac_b64[-1]
    with pytest.raises(LinkForgedError):
        verify_token(f"{payload_b64}.{flipped}", [KEY], now=NOW)
    with pytest.raises(LinkForgedError):
        verify_token(f"{payload_b64}.{mac_b64[:-4]}", [KEY], now=NOW)  # truncated MAC


def test_a_genuine_but_unreadable_payload_is_refused_not_a_crash() -> None:
    for payload in (
        {"v": 2},
        {"v": 1, "c": "x"},
        {"v": 1, "c": "c", "u": "u", "d": ["d"], "p": "p", "exp": 10**30},
        [1],
    ):
        payload_b64 = _b64(json.dumps(payload).encode())
        mac = _b64(hmac.new(KEY.encode(), PURPOSE + payload_b64.encode(), hashlib.sha256).digest())
        with pytest.raises(LinkForgedError):
            verify_token(f"{payload_b64}.{mac}", [KEY], now=NOW)


def _links(env: dict[str, str]) -> LinkSettings:
    """The link settings as the app reads them from its environment (chalicelib.config)."""
    from chalicelib.config import Settings

    return Settings.from_env(env).links()


def test_keys_rotate_the_first_signs_and_all_verify() -> None:
    old = sign_token(CLAIMS, OTHER_KEY)
    settings = _links({"LINK_SIGNING_KEY": f"{KEY}, {OTHER_KEY}"})
    assert settings.keys() == (KEY, OTHER_KEY)
    assert verify_token(old, settings.keys(), now=NOW) == CLAIMS


def test_without_a_proper_key_no_link_can_be_made_or_used() -> None:
    for env in ({}, {"LINK_SIGNING_KEY": "  "}, {"LINK_SIGNING_KEY": "short"}):
        with pytest.raises(LinkConfigError) as caught:
            _links(env).keys()
        assert caught.value.status == 503
    with pytest.raises(LinkConfigError):
        verify_token(sign_token(CLAIMS, KEY), [], now=NOW)


def test_settings_defaults() -> None:
    settings = _links({"PUBLIC_BASE_URL": "https://x.example.cn/api/", "UPLOAD_LINK_GRACE_DAYS": "3"})
    assert (settings.base_url, settings.grace_days) == ("https://x.example.cn/api", 3)
    defaults = _links({})
    assert (defaults.base_url, defaults.grace_days) == ("http://127.0.0.1:8000", 7)


def test_upload_link_is_what_the_sweep_puts_in_a_notice() -> None:
    url = upload_link(
        "xinzhou-2023", "140922", "issue-list", "2023-08", base_url="https://r.example.cn/api/", signing_key=KEY,
        expires_at=LATER + timedelta(microseconds=500),
    )  # fmt: skip
    assert url.startswith("https://r.example.cn/api/u/")
    assert verify_token(_token_of(url), [KEY], now=NOW) == CLAIMS
    several = upload_link(
        "xinzhou-2023", "140922", ["issue-list", "typical-case"], "2023-08", base_url="http://h", signing_key=KEY,
        expires_at=LATER,
    )  # fmt: skip
    assert verify_token(_token_of(several), [KEY], now=NOW).deliverables == ("issue-list", "typical-case")
    with pytest.raises(ValueError, match="aware"):
        upload_link("c", "u", "d", "p", base_url="h", signing_key=KEY, expires_at=datetime(2023, 8, 1))


# --- the office's request ----------------------------------------------------------------------------------


def _deadline(deadline_id: str) -> datetime:
    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    return next(d.due_at for d in campaign_deadlines(campaign) if d.id == deadline_id)


def test_a_link_expires_the_grace_period_after_its_deadline_by_default() -> None:
    link = issue_link(
        default_registry(),
        "xinzhou-2023",
        {"unit": "五台", "deliverable": "issue-list", "period": "2023-08"},
        SETTINGS,
        now=NOW,
    )
    due = _deadline("rectification/2023-08")
    claims = verify_token(_token_of(link["url"]), [KEY], now=NOW)
    assert claims == LinkClaims(
        "xinzhou-2023", "140922", ("issue-list",), "2023-08", due.astimezone(UTC) + timedelta(7)
    )
    assert link["path"] == "/u/" + _token_of(link["url"]) and link["url"].startswith(SETTINGS.base_url + "/u/")
    assert link["unit"] == {"code": "140922", "name": "五台县"}
    assert link["deliverables"][0]["due_at"] == due.isoformat()
    assert link["expires_at"]["local"].endswith("+08:00")


def test_a_link_for_several_deliverables_of_one_deadline_and_explicit_validity() -> None:
    link = issue_link(
        default_registry(),
        "xinzhou-2023",
        {"unit": "140922", "deliverable": ["issue-list", "typical-case", "issue-list"], "period": "2023-08"},
        SETTINGS,
        now=NOW,
    )
    claims = verify_token(_token_of(link["url"]), [KEY], now=NOW)
    assert claims.deliverables == ("issue-list", "typical-case")
    # After the grace period the default would be dead on arrival: the office must say how long.
    body = {"unit": "140922", "deliverable": "issue-list", "period": "2023-08"}
    with pytest.raises(LinkError, match="valid_days"):
        issue_link(default_registry(), "xinzhou-2023", body, SETTINGS, now=NOW + timedelta(days=60))
    link = issue_link(default_registry(), "xinzhou-2023", body | {"valid_days": 5}, SETTINGS, now=NOW)
    assert verify_token(_token_of(link["url"]), [KEY], now=NOW).expires_at == NOW + timedelta(days=5)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"unit": "北京", "deliverable": "issue-list", "period": "2023-08"}, "未找到填报单位"),
        ({"deliverable": "issue-list", "period": "2023-08"}, "unit"),
        ({"unit": "五台县", "deliverable": "nonsense", "period": "2023-08"}, "无法识别"),
        ({"unit": "五台县", "deliverable": [], "period": "2023-08"}, "deliverable"),
        ({"unit": "五台县", "deliverable": "issue-list", "period": "2023-03"}, "没有“2023-03”这一期"),
        ({"unit": "五台县", "deliverable": ["issue-list", "summary-report"], "period": "2023-08"}, "总结报告没有"),
        ({"unit": "五台县", "deliverable": "issue-list", "period": "2023-08", "valid_days": 0}, "valid_days"),
        ({"unit": "五台县", "deliverable": "issue-list", "period": "2023-08", "valid_days": True}, "valid_days"),
        (["not", "an", "object"], "JSON 对象"),
    ],
)
def test_bad_requests_are_refused_in_chinese(body: object, fragment: str) -> None:
    with pytest.raises(LinkError) as caught:
        issue_link(default_registry(), "xinzhou-2023", body, SETTINGS, now=NOW)
    assert caught.value.status == 400
    assert fragment in caught.value.message


def test_an_unknown_campaign_is_404_and_no_key_is_503() -> None:
    body = {"unit": "五台县", "deliverable": "issue-list", "period": "2023-08"}
    with pytest.raises(LinkNotFoundError):
        issue_link(default_registry(), "nope", body, SETTINGS, now=NOW)
    with pytest.raises(LinkConfigError):
        issue_link(default_registry(), "xinzhou-2023", body, LinkSettings((), "http://h", 7), now=NOW)


# --- what a link binds ---------------------------------------------------------------------------------------


def _grant(deliverables: tuple[str, ...] = ("issue-list",), unit: str = "140922") -> object:
    claims = LinkClaims("xinzhou-2023", unit, deliverables, "2023-08", LATER)
    return open_link(default_registry(), sign_token(claims, KEY), [KEY], now=NOW)


def test_the_key_is_the_links_prefix_plus_the_file_name() -> None:
    planned = plan_upload(default_registry(), _grant(), None, "五台县8月清单.xlsx", 1234, MAX)
    assert planned.key == "uploads/xinzhou-2023/140922/issue-list/2023-08/五台县8月清单.xlsx"
    assert planned.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    # A decomposed name (as macOS sends it) is stored composed.
    assert plan_upload(default_registry(), _grant(), None, "cafe\u0301.csv", 1, MAX).file_name == "café.csv"


@pytest.mark.parametrize(
    "file_name",
    [
        "../140981/issue-list/2023-08/x.xlsx",
        "140981/x.xlsx",
        "..\\x.xlsx",
        "..",
        ".xlsx/..",
        "x\u0000.xlsx",
        "a\nb.xlsx",
        "x" * 300 + ".xlsx",
        "",
        None,
    ],
)
def test_no_file_name_escapes_the_units_prefix(file_name: object) -> None:
    with pytest.raises(LinkError):
        plan_upload(default_registry(), _grant(), None, file_name, 10, MAX)


def test_only_the_deliverables_formats_and_size_are_accepted() -> None:
    with pytest.raises(LinkError, match=r"\.xlsx、\.xls"):
        plan_upload(default_registry(), _grant(), None, "清单.docx", 10, MAX)
    with pytest.raises(LinkError, match="超过上限"):
        plan_upload(default_registry(), _grant(), None, "清单.xlsx", MAX + 1, MAX)
    with pytest.raises(LinkError, match="空文件"):
        plan_upload(default_registry(), _grant(), None, "清单.xlsx", 0, MAX)


def test_a_link_uploads_only_the_deliverables_it_names() -> None:
    with pytest.raises(LinkError, match="只能上传"):
        plan_upload(default_registry(), _grant(), "typical-case", "案例.docx", 10, MAX)
    both = _grant(("issue-list", "typical-case"))
    with pytest.raises(LinkError, match="只能上传"):  # two on the link: the page must say which
        plan_upload(default_registry(), both, None, "案例.docx", 10, MAX)
    planned = plan_upload(default_registry(), both, "typical-case", "案例.docx", 10, MAX)
    assert planned.key == "uploads/xinzhou-2023/140922/typical-case/2023-08/案例.docx"


def test_a_genuine_token_for_something_the_registry_lacks_is_404() -> None:
    with pytest.raises(LinkNotFoundError):
        _grant(unit="110101")
    with pytest.raises(LinkNotFoundError):
        _grant(deliverables=("no-such-deliverable",))


def test_the_page_escapes_what_the_county_controls() -> None:
    item = {
        "version_id": '"><script>alert(1)</script>',
        "file_name": "<img src=x onerror=alert(1)>.xlsx",
        "status": "rejected",
        "received_at": {"local": "2023-08-01T10:00:00+08:00"},
        "errors": [{"code": "X", "message": "<b>第6行</b>", "row": 6, "column": "完成<时限>", "sheet": None}],
        "warnings": [],
    }
    html = render_submission(item, current_version=None)
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "第6行" in html and "【完成&lt;时限&gt;】" in html and "未通过核验" in html


def test_notices_carry_each_units_own_link_valid_after_the_notice() -> None:
    from datetime import UTC, datetime

    from chalicelib.domain.deadlines import campaign_deadlines
    from chalicelib.domain.links import verify_token
    from chalicelib.domain.registry import default_registry
    from chalicelib.services.sweep import link_hint, upload_path_hint

    campaign = default_registry().campaign("xinzhou-2023")
    assert campaign is not None
    deadline = next(d for d in campaign_deadlines(campaign) if d.id == "rectification/2023-05")
    key = "k" * 40
    sent = datetime(2023, 6, 2, 1, 0, tzinfo=UTC)  # an overdue notice, two weeks after the due date
    hint = link_hint(sent, _links({"LINK_SIGNING_KEY": key, "PUBLIC_BASE_URL": "https://reports.example.cn/api"}))
    assert callable(hint)
    text = hint(campaign, deadline, "140981")
    url = text.split("：", 1)[1].split(" ")[0]
    assert url.startswith("https://reports.example.cn/api/u/")
    claims = verify_token(url.rsplit("/", 1)[1], [key], now=sent)
    assert (claims.unit, claims.period, set(claims.deliverables)) == (
        "140981",
        "2023-05",
        {"issue-list", "typical-case"},
    )
    assert (claims.expires_at - sent).days >= 7  # still open a week after the notice, not just the deadline
    assert link_hint(sent, _links({})) is upload_path_hint  # no key configured: the path hint, never a broken link


def test_a_token_spelled_differently_but_decoding_the_same_is_refused() -> None:
    from datetime import UTC, datetime, timedelta

    from chalicelib.domain.links import LinkForgedError, upload_link, verify_token

    key = "k" * 40
    now = datetime(2023, 5, 1, tzinfo=UTC)
    token = upload_link("xinzhou-2023", "140981", "issue-list", "2023-05", base_url="", signing_key=key,
                        expires_at=now + timedelta(days=30)).rsplit("/", 1)[1]  # fmt: skip
    payload, mac = token.split(".")
    # 32 bytes take 43 base64 characters; the last one's two low bits are unused, so four spellings
    # decode to the same MAC. Only the canonical one is accepted.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(mac[-1])
    twins = [alphabet[(index & ~3) | low] for low in range(4) if (index & ~3) | low != index]
    for twin in twins:
        with pytest.raises(LinkForgedError):
            verify_token(f"{payload}.{mac[:-1]}{twin}", [key], now=now)
    assert verify_token(token, [key], now=now).unit == "140981"


# --- settings in AWS: the key from Secrets Manager, a missing setting logged (issue 18) ---------------------


def test_with_a_secret_id_the_key_is_read_from_the_secret_not_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import chalicelib.adapters.secrets as secrets

    asked: list[str] = []

    def secret_string(secret_id: str, region: str) -> str:
        asked.append(secret_id)
        return f"{KEY},{OTHER_KEY}"

    monkeypatch.setattr(secrets, "secret_string", secret_string)
    env = {
        "LINK_SIGNING_KEY_SECRET_ID": "campaign-reporting/link-signing-key",
        "LINK_SIGNING_KEY": "ignored-because-a-secret-id-is-set-xxxxxxxxxxxx",
        "PUBLIC_BASE_URL": "https://reports.example.cn/api",
    }
    from chalicelib.config import Settings

    settings = secrets.link_settings(Settings.from_env(env))
    assert asked == ["campaign-reporting/link-signing-key"]
    assert settings.keys() == (KEY, OTHER_KEY) and settings.base_url == "https://reports.example.cn/api"
    assert not [r for r in caplog.records if "not configured" in r.getMessage()]


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"PUBLIC_BASE_URL": "https://reports.example.cn/api"}, "LINK_SIGNING_KEY"),
        ({"LINK_SIGNING_KEY": KEY}, "PUBLIC_BASE_URL"),
    ],
)
def test_a_missing_link_setting_is_logged_as_an_error(
    caplog: pytest.LogCaptureFixture, env: dict[str, str], missing: str
) -> None:
    from chalicelib.adapters.secrets import link_settings
    from chalicelib.config import Settings

    link_settings(Settings.from_env(env))
    [record] = [r for r in caplog.records if "not configured" in r.getMessage()]
    assert record.levelname == "ERROR" and any(m.startswith(missing) for m in record.missing)
