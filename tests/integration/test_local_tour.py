"""A new user's first hour, as a subprocess: `make run` on non-default ports, the README's tour, a restart.

The stack is ``python -m infra.local`` (what ``make run`` runs) with LOCAL_AWS_PORT / LOCAL_API_PORT /
LOCAL_SMTP_PORT exported on free ports; every command of the tour runs in a shell with the same
variables, from a folder of its own (``.local/`` there), exactly as a user types it. Then the stack is
stopped with Ctrl-C and started again: the board, the submissions and the originals are still there,
and the campaign archive lists every version.
"""

from __future__ import annotations

import csv
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]
TOKEN = "local-office-token"


def _readme_tour() -> dict[str, str]:
    """The README's tour exactly as written: the commands of the code block under "A five-line tour"."""
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    block = text.split("## A five-line tour", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]
    steps = {
        "demo": "make demo",
        "upload": "chalicelib.cli --local upload",
        "submissions": "/submissions",
        "outbox": "ls .local/outbox",
        "link": "/upload-links",
    }
    tour = {name: next(c for c in commands if marker in c) for name, marker in steps.items()}
    assert len(commands) == len(steps), commands
    return tour


TOUR = _readme_tour()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "LOCAL_AWS_PORT": str(_free_port()),
            "LOCAL_API_PORT": str(_free_port()),
            "LOCAL_SMTP_PORT": str(_free_port()),
            "LOCAL_OUTBOX_DIR": str(home / ".local" / "outbox"),
            "LOCAL_STATE_DIR": str(home / ".local" / "state"),
            "LOCAL_RETRY_DELAY_SECONDS": "1",
            "PYTHONPATH": str(PROJECT),
            "PYTHONUNBUFFERED": "1",
        }
        # Nothing of the test session's own stack leaks into the user's shell.
        for name in ("AWS_ENDPOINT_URL", "SMTP_PORT", "SMTP_HOST", "TABLE_NAME", "BUCKET_NAME", "PUBLIC_BASE_URL"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[str] | None = None
        self.banner = ""

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['LOCAL_API_PORT']}"

    def start(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local"],
            cwd=PROJECT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("make run ended early:\n" + "".join(lines))
            lines.append(line)
            if "Stop:" in line:
                self.banner = "".join(lines)
                return self.banner
        raise AssertionError("no banner:\n" + "".join(lines))

    def stop(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, rest
        self.process = None
        return rest

    def shell(self, command: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-c", command], cwd=self.home, env=self.env, capture_output=True, text=True, timeout=120
        )
        if ok:
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return done

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.api}{urllib.parse.quote(path)}" + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def outbox(self, besides: frozenset[str] = frozenset()) -> list[Any]:
        """The emails in the sink, oldest first, leaving out the files named in ``besides``."""
        paths = sorted((self.home / ".local" / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in paths
            if p.name not in besides
        ]

    def outbox_names(self) -> frozenset[str]:
        return frozenset(p.name for p in (self.home / ".local" / "outbox").glob("*.eml"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("first-hour")
    (home / ".venv").symlink_to(Path(sys.prefix))  # the venv running the tests (.venv, or .venv-3.11.2 …)
    running = Stack(home)
    try:
        yield running
    finally:
        if running.process is not None:
            running.process.kill()
            running.process.wait(timeout=10)


def _wait(predicate: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(0.2)
    return value


def test_the_cli_says_in_one_line_when_the_stack_is_not_running(stack: Stack) -> None:
    done = stack.shell(TOUR["upload"].replace(".local/samples/宁武县5月清单.xlsx", "/etc/hostname"), ok=False)
    assert done.returncode == 3
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert f"127.0.0.1:{stack.env['LOCAL_AWS_PORT']}" in done.stderr and "make run" in done.stderr


def test_the_tour_on_other_ports_then_a_restart_keeps_everything(stack: Stack) -> None:
    banner = stack.start()
    assert stack.env["LOCAL_API_PORT"] in banner and "fresh start" in banner

    # step 1: make demo (the Makefile target runs this module in the venv make creates)
    assert TOUR["demo"] == "make demo"
    demo = stack.shell(".venv/bin/python -m infra.local.demo")
    assert "uploaded" in demo.stdout and (stack.home / ".local" / "samples" / "宁武县5月清单.xlsx").is_file()
    _wait(lambda: len(stack.outbox()) >= 6)
    demo_mail = stack.outbox_names()

    # step 2: the office uploads 宁武县's file under 原平市, through --local on these ports
    upload = stack.shell(TOUR["upload"])
    assert "version" in upload.stdout
    receipt = _wait(lambda: stack.outbox(demo_mail))[0]
    body = receipt.get_body(("plain",)).get_content()
    assert "原平市" in receipt["Subject"] and "宁武县" in body

    # step 3: the submissions of 原平市, newest first: the upload just made, rejected
    listing = json.loads(stack.shell(TOUR["submissions"]).stdout)
    newest = listing["items"][0]
    assert newest["period"] == "2023-06" and newest["status"] == "rejected"

    # step 4: one receipt per upload
    assert len(stack.shell(TOUR["outbox"]).stdout.split()) == len(stack.outbox())

    # step 5: a signed link on this API's port, whose page answers
    link = json.loads(stack.shell(TOUR["link"]).stdout)
    assert link["url"].startswith(stack.api + "/u/")
    with urllib.request.urlopen(link["url"], timeout=10) as page:
        assert "原平市" in page.read().decode()

    # the sweep by hand: its links point at this API, not at port 8000
    before = stack.outbox_names()
    swept = stack.shell(".venv/bin/python -m chalicelib.cli --local sweep --as-of 2023-05-21", ok=False)
    chased = stack.outbox(before)
    assert chased, swept.stdout + swept.stderr
    links = [m.get_body(("plain",)).get_content() for m in chased]
    assert any(stack.api + "/u/" in text for text in links)
    assert not any("127.0.0.1:8000" in text for text in links)

    board = stack.get("/campaigns/xinzhou-2023/status", as_of="2023-05-21")
    submissions = stack.get("/campaigns/xinzhou-2023/submissions", limit="100")["items"]
    stopped = stack.stop()
    assert "saved to" in stopped

    # started again: the same board, the same submissions, every original by its version id
    banner = stack.start()
    assert "restored" in banner
    assert stack.get("/campaigns/xinzhou-2023/status", as_of="2023-05-21") == board
    assert stack.get("/campaigns/xinzhou-2023/submissions", limit="100")["items"] == submissions
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{stack.env['LOCAL_AWS_PORT']}",
        region_name="cn-north-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    for s in submissions:
        original = s3.get_object(Bucket="campaign-uploads-local", Key=s["object_key"], VersionId=s["version_id"])
        assert original["ContentLength"] == s["size"]
    # nothing was processed twice on restore: no new receipts, no new submissions
    time.sleep(2)
    assert stack.get("/campaigns/xinzhou-2023/submissions", limit="100")["items"] == submissions

    # the uploads keep working after a restart
    stack.shell(TOUR["upload"])
    _wait(lambda: len(stack.get("/campaigns/xinzhou-2023/submissions", limit="100")["items"]) > len(submissions))

    # 归档: one zip, every version listed and present
    archive = stack.home / "归档.zip"
    done = stack.shell(f".venv/bin/python -m chalicelib.cli --local archive --out {archive}")
    assert "已归档" in done.stdout
    with zipfile.ZipFile(archive) as z:
        index = json.loads(z.read("index.json"))
        versions = {(o["object_key"], o["version_id"]) for o in index["originals"]}
        everything = stack.get("/campaigns/xinzhou-2023/submissions", limit="100")["items"]
        assert {(s["object_key"], s["version_id"]) for s in everything} <= versions
        for o in index["originals"]:
            assert len(z.read(o["path"])) == o["size"]
        rows = list(csv.reader(z.read("目录.csv").decode("utf-8-sig").splitlines()))
        assert rows[0][0] == "单位" and len(rows) == len(index["originals"]) + 1
        assert index["notices"] >= len(stack.outbox()) - 1  # every notice sent (the sweep's and receipts)
        assert any(n.startswith("notices/") for n in z.namelist())
    stack.stop()

    # make clean-data: a fresh start
    stack.shell(f"rm -rf {stack.env['LOCAL_STATE_DIR']}")
    assert "fresh start" in stack.start()
    assert stack.get("/campaigns/xinzhou-2023/submissions")["items"] == []
    stack.stop()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_the_aws_endpoint_process_ends_with_the_stack_even_when_the_stack_is_killed(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """moto runs as a process of its own (infra/local/moto_stack.py): a stack killed outright (no Ctrl-C,
    no clean stop) must not leave it holding its port and memory."""
    stack = Stack(tmp_path_factory.mktemp("killed"))
    stack.start()
    assert stack.process is not None
    endpoint = [
        child
        for child in _children(stack.process.pid)
        if b"infra.local.moto_stack" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]
    assert len(endpoint) == 1, "the AWS endpoint runs as one child process"
    stack.process.kill()
    stack.process.wait(timeout=10)
    port = int(stack.env["LOCAL_AWS_PORT"])
    assert _wait(lambda: _refused(port), timeout=20), "the AWS endpoint's port is let go"
    assert _wait(lambda: _gone(endpoint[0]), timeout=20)


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


def _gone(pid: int) -> bool:
    """Exited: reaped, or a zombie with nothing left running (PID 1 in a container may never reap it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status and "Threads:\t1\n" in status
