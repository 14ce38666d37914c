"""JSON for people: UTF-8 Chinese (not \\uXXXX) with a charset, and one error shape on every route."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tests.conftest import LOCAL, OFFICE_TOKEN


def _raw(method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> tuple[int, str, bytes]:
    url = f"{LOCAL.api_url}{urllib.parse.quote(path)}" + ("?" + urllib.parse.urlencode(params) if params else "")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {OFFICE_TOKEN}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_answers_and_errors_are_utf8_chinese_with_a_charset(system: Any) -> None:
    cases = [
        ("GET", "/campaigns/xinzhou-2023/status", None, {"as_of": "2023-05-21"}, 200),
        ("GET", "/campaigns/xinzhou-2023/submissions", None, {"unit": "没有这个县"}, 400),
        ("GET", "/campaigns/no-such/status", None, {}, 404),
        ("POST", "/campaigns/xinzhou-2023/upload-links", {"unit": "没有这个县", "deliverable": "issue-list"}, {}, 400),
    ]
    for method, path, body, params, expected in cases:
        status, content_type, raw = _raw(method, path, body, **params)
        assert status == expected, (path, raw)
        assert content_type == "application/json; charset=utf-8", path
        text = raw.decode("utf-8")
        assert "\\u" not in text and any("\u4e00" <= ch <= "\u9fff" for ch in text), (path, text[:200])
        if status >= 400:
            error = json.loads(text)
            # One shape: Chalice's error name by status, the Chinese message.
            assert error["Code"] == {400: "BadRequestError", 404: "NotFoundError"}[status], (path, error)
            assert error["Message"]
