"""Bounded fuzz run of the HTTP API from its own OpenAPI description (``make fuzz``).

Starts the whole local stack on free ports (like the test session), then runs schemathesis against
``/openapi.json`` with the local office token: every operation, generated path and query values, checked
for 5xx answers, responses that do not match the description, and non-JSON errors. Prints how many cases
were tried. ``FUZZ_MAX_EXAMPLES`` (default 40 per operation) bounds the run; ``FUZZ_SEED`` fixes it.
Exit status: schemathesis's (0 when nothing failed).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    from infra.local.settings import LocalSettings

    local = LocalSettings(
        aws_port=_free_port(),
        api_port=_free_port(),
        smtp_port=_free_port(),
        outbox_dir=ROOT / "test-artifacts" / f"fuzz-outbox-{os.getpid()}",
        verbose=False,
    )
    # As tests/conftest.py does: the environment first, so the app binds to this stack's table.
    os.environ.update(local.process_environment())
    from infra.local.system import LocalSystem

    examples = os.environ.get("FUZZ_MAX_EXAMPLES", "40")
    seed = os.environ.get("FUZZ_SEED", "20230518")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(ROOT / "tests" / "schemathesis.toml"),
        "run",
        f"{local.api_url}/openapi.json",
        "--header",
        "Authorization: Bearer local-office-token",
        "--max-examples",
        examples,
        "--seed",
        seed,
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--phases",
        "examples,fuzzing",
        "--request-timeout",
        "30",
        "--workers",
        "1",
    ]
    workdir = ROOT / "test-artifacts" / "fuzz"  # schemathesis keeps its example database in the cwd
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with LocalSystem(local):
            done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=workdir)
    finally:
        shutil.rmtree(local.outbox_dir, ignore_errors=True)
    print(done.stdout)
    print(done.stderr, file=sys.stderr)
    counts = re.findall(r"(\d+)\s+generated", done.stdout)
    total = sum(int(n) for n in counts) if counts else None
    print(f"API fuzz: {total if total is not None else '?'} cases tried, schemathesis exit {done.returncode}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
