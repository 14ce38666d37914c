"""Office routes need a configured token; refusals are 401 JSON and say nothing about the data."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.auth import bearer_token, is_office_token, parse_hashes, token_digest
from tests.conftest import api_get

DIGEST = token_digest("s3cret")


def test_tokens_are_checked_against_hashes_only() -> None:
    hashes = parse_hashes(f"office:{DIGEST}, not-a-hash ,")
    assert hashes == {DIGEST}
    assert is_office_token("Bearer s3cret", hashes)
    assert is_office_token("bearer   s3cret ", hashes)
    assert not is_office_token("Bearer s3cret2", hashes)
    assert not is_office_token("s3cret", hashes)  # the scheme is required
    assert not is_office_token("Bearer s3cret", frozenset())  # nothing configured: nobody in
    assert bearer_token("Bearer ") is None


@pytest.mark.parametrize(
    ("path", "token"),
    [
        ("/campaigns/xinzhou-2023/submissions", None),
        ("/campaigns/xinzhou-2023/submissions", "wrong-token"),
        ("/campaigns/no-such-campaign/submissions", "wrong-token"),
        ("/campaigns/xinzhou-2023/packages", None),
    ],
)
def test_missing_or_wrong_tokens_get_401_json_without_data(system: Any, path: str, token: str | None) -> None:
    status, body = api_get(path, token=token, unit="原平市")
    assert status == 401
    assert body == {"message": "Unauthorized"}  # the same for a campaign that does not exist


def test_the_local_development_token_opens_the_office_routes(system: Any) -> None:
    status, body = api_get("/campaigns/xinzhou-2023/submissions", unit="原平市")
    assert status == 200 and "items" in body


def test_health_needs_no_token(system: Any) -> None:
    assert api_get("/health", token=None) == (200, {"status": "ok"})
