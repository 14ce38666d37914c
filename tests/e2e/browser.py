"""One way to start Debian's chromium for the browser tests (Playwright drives it; its own browser downloads
are never used). A missing browser skips only a bare `pytest` on a laptop: under `make test` (which installs
it and sets REQUIRE_BROWSER) or CI it fails, since a skipped browser test would hide a broken install step."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_context(profile: Path, **options: Any) -> Iterator[Any]:
    """A persistent Chinese-locale context on a fresh ``profile``; ``options`` as Playwright takes them."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("CI") or os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS, locale="zh-CN", **options
        )
        try:
            yield context
        finally:
            context.close()
