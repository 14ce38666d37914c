"""Shared fixtures. The local stack runs once per test session, on free ports, in-process.

The environment is set here, before any test module imports ``chalicelib``, so the models
bind to the local stack's table exactly as the Lambda functions bind to theirs.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from infra.local.settings import LocalSettings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LOCAL = LocalSettings(
    aws_port=_free_port(),
    api_port=_free_port(),
    smtp_port=_free_port(),
    # One outbox per test session, so two sessions in one checkout never count each other's mail.
    outbox_dir=ARTIFACTS / f"outbox-{os.getpid()}",
    retry_delay_seconds=1,
)

os.environ.update(LOCAL.process_environment())


@pytest.fixture(scope="session")
def system() -> Iterator[Any]:
    import shutil

    from infra.local.system import LocalSystem

    shutil.rmtree(LOCAL.outbox_dir, ignore_errors=True)
    with LocalSystem(LOCAL) as running:
        yield running


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


OFFICE_TOKEN = "local-office-token"  # the local stage's documented development token


def api_get(path: str, token: str | None = OFFICE_TOKEN, **params: str) -> tuple[int, Any]:
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    url = f"{LOCAL.api_url}{urllib.parse.quote(path)}{query}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def outbox() -> list[EmailMessage]:
    """Every message the SMTP sink stored, oldest first."""
    messages = []
    for path in sorted(LOCAL.outbox_dir.glob("*.eml")):
        messages.append(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    return messages  # type: ignore[return-value]


def mails_with_notice_key(fragment: str) -> list[EmailMessage]:
    return [m for m in outbox() if fragment in str(m.get("X-Notice-Key", ""))]


@pytest.fixture(scope="session")
def demo_month(system: Any, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """`make demo`'s uploads, on the campaign's own dates (May 2023), once per session; waits until all
    are recorded. The console tests (integration and browser) read the board for 2023-05-21 from them."""
    from infra.local.demo import upload_month, uploads

    lines = upload_month(system.client("s3"), system.outputs.bucket, tmp_path_factory.mktemp("demo-samples"))
    known = [u for u in uploads() if u[0] != "140900"]  # 140900 names no unit: refused, not a submission

    def recorded() -> bool:
        status, page = api_get(f"/campaigns/{CAMPAIGN_ID}/submissions", limit="100")
        names = {item["file_name"] for item in page.get("items", [])} if status == 200 else set()
        return all(u[3] in names for u in known)

    wait_for(recorded, timeout=60)
    return lines


CAMPAIGN_ID = "xinzhou-2023"


def dynamo_store() -> Any:
    """The process's DynamoStore: the one the in-process app uses, bound to the local stack's table."""
    from chalicelib.adapters.dynamo_store import default_store

    return default_store()


@pytest.fixture
def campaign_of_its_own(system: Any) -> Iterator[Callable[[str], str]]:
    """The real campaign copied under another id, for a flow whose units' records other modules of the
    session also read or write (every real unit is used somewhere); removed from the registry afterwards."""
    from chalicelib.data import CAMPAIGN_DIR
    from chalicelib.domain.registry import build_campaign, default_registry

    registry, added = default_registry(), []

    def make(campaign_id: str) -> str:
        raw = json.loads((CAMPAIGN_DIR / "xinzhou-2023.json").read_text(encoding="utf-8"))
        raw["id"] = campaign_id
        registry.campaigns[campaign_id] = build_campaign(raw)
        added.append(campaign_id)
        return campaign_id

    try:
        yield make
    finally:
        for campaign_id in added:
            registry.campaigns.pop(campaign_id, None)
