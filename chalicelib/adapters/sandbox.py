"""Run a function in a child process under hard limits: address space, CPU time and a wall-clock deadline.

Reading an uploaded file is the one place where a few kilobytes from outside can ask for gigabytes or
minutes (a shared string referenced by every cell, a quadratic merge walk, a PDF stream decoded per page).
Predicting every parser's behaviour does not scale, so the reading is measured instead: the child gets
``RLIMIT_AS`` and ``RLIMIT_CPU``, the parent kills it at the deadline, and whatever happens to it (an
exception, ``MemoryError``, SIGABRT from an allocator that cannot allocate, SIGKILL, SIGXCPU) comes back
as a ``Failed`` the caller turns into a verdict. The parent never runs the reader, so it always lives to
record the upload and send the receipt.

Lambda has no ``/dev/shm``, so ``multiprocessing`` (its queues, pools and semaphores) is not used: the
child is a plain ``os.fork()`` (or, with ``method="spawn"``, a fresh interpreter) and sends its result
back pickled through a pipe. Only our own child writes that pipe, so unpickling it is safe.

``fork`` is the default: the child shares the warm parent's imported readers copy-on-write, and starts
in about a millisecond (``spawn`` pays for a fresh interpreter and the readers' imports on every upload;
docs/reliability.md has the figures). The address-space limit of a forked child is set as the parent's
current size plus the budget, since the child inherits (and mostly shares) the parent's mappings.
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

FailureKind = Literal["memory", "time", "recursion", "crash", "error"]
StartMethod = Literal["fork", "spawn"]

DEFAULT_MEMORY_MB = 600
DEFAULT_SECONDS = 20


@dataclass(frozen=True)
class Limits:
    memory_mb: int = DEFAULT_MEMORY_MB  # address space the child may add to what it starts with
    seconds: float = DEFAULT_SECONDS  # wall clock (parent kills) and CPU time (kernel kills)
    method: StartMethod = "fork"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Limits:
        env = dict(os.environ if env is None else env)
        method = env.get("CHECK_START_METHOD", "fork")
        return cls(
            memory_mb=int(env.get("CHECK_MEMORY_MB", str(DEFAULT_MEMORY_MB))),
            seconds=float(env.get("CHECK_SECONDS", str(DEFAULT_SECONDS))),
            method="spawn" if method == "spawn" else "fork",
        )


@dataclass(frozen=True)
class Completed:
    value: Any
    seconds: float


@dataclass(frozen=True)
class Failed:
    """The child did not return: ``kind`` says why (memory, time, recursion, crash, error)."""

    kind: FailureKind
    detail: str
    seconds: float


def _classify(exc: BaseException) -> FailureKind:
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, RecursionError):
        return "recursion"
    # pypdf's LimitReachedError (a decompression bomb) and the like: a limit of the reader, not damage.
    if "Limit" in type(exc).__name__:
        return "memory"
    return "error"


def _vm_size_bytes() -> int:
    """This process's current address space (VmSize), 0 where /proc is not there."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _apply_limits(memory_bytes: int, seconds: float) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    cpu = max(1, int(seconds + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the soft limit, SIGKILL at the hard
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort leaves no core file behind


def _run_and_report(fn: Callable[..., Any], args: tuple[Any, ...], out: int) -> int:
    """In the child: run, pickle ("ok", value) or ("failed", kind, detail) to ``out``; the exit status."""
    try:
        payload = pickle.dumps(("ok", fn(*args)), protocol=pickle.HIGHEST_PROTOCOL)
        status = 0
    except BaseException as exc:
        try:
            payload = pickle.dumps(("failed", _classify(exc), f"{type(exc).__name__}: {exc}"[:500]))
        except BaseException:
            return 3
        status = 1
    view = memoryview(payload)
    while view:
        written = os.write(out, view)
        view = view[written:]
    return status


def _collect(read_end: int, deadline: float) -> tuple[bytes, bool]:
    """Everything the child writes until it closes the pipe or the deadline passes (then ``timed_out``)."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), True
        ready, _, _ = select.select([read_end], [], [], left)
        if not ready:
            continue
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)


def _outcome(payload: bytes, timed_out: bool, status: int, started: float, limits: Limits) -> Completed | Failed:
    elapsed = time.monotonic() - started
    if timed_out:
        return Failed("time", f"over {limits.seconds:g} s", elapsed)
    if payload:
        try:
            message = pickle.loads(payload)  # noqa: S301 (written by our own child)
        except Exception:
            message = None
        if message and message[0] == "ok":
            return Completed(message[1], elapsed)
        if message:
            return Failed(message[1], message[2], elapsed)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        # SIGXCPU / SIGKILL: out of CPU time (or the kernel's OOM killer); SIGABRT / SIGSEGV: an allocation
        # refused under RLIMIT_AS inside native code (Rust aborts, C may crash).
        kind: FailureKind = "time" if signum in (signal.SIGXCPU, signal.SIGKILL) else "memory"
        if signum == signal.SIGSEGV:
            kind = "crash"
        return Failed(kind, f"killed by {signal.Signals(signum).name}", elapsed)
    return Failed("memory" if os.WEXITSTATUS(status) == 3 else "crash", f"exit status {status}", elapsed)


def _run_forked(fn: Callable[..., Any], args: tuple[Any, ...], limits: Limits) -> Completed | Failed:
    started = time.monotonic()
    budget = _vm_size_bytes() + limits.memory_mb * 1024 * 1024
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 4
        try:
            os.close(read_end)
            _apply_limits(budget, limits.seconds)
            status = _run_and_report(fn, args, write_end)
        finally:
            os._exit(status)
    os.close(write_end)
    timed_out = True  # until the child is heard out: an interrupted parent never leaves it running
    try:
        payload, timed_out = _collect(read_end, started + limits.seconds)
    finally:
        os.close(read_end)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    return _outcome(payload, timed_out, status, started, limits)


def _run_spawned(fn: Callable[..., Any], args: tuple[Any, ...], limits: Limits) -> Completed | Failed:
    started = time.monotonic()
    budget = limits.memory_mb * 1024 * 1024
    job = pickle.dumps((fn, args, budget, limits.seconds), protocol=pickle.HIGHEST_PROTOCOL)
    child = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.adapters.sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(job)
        child.stdin.close()
    except BrokenPipeError:
        pass
    try:
        payload, timed_out = _collect(child.stdout.fileno(), started + limits.seconds)
    finally:
        child.stdout.close()
    if timed_out:
        child.kill()
    child.wait()
    status = child.returncode
    # Popen's returncode is -signum for a signal; rebuild a wait status for _outcome.
    wait_status = (-status & 0x7F) if status < 0 else (status << 8)
    return _outcome(payload, timed_out, wait_status, started, limits)


def run_limited(fn: Callable[..., Any], *args: Any, limits: Limits | None = None) -> Completed | Failed:
    """``fn(*args)`` in a child process under ``limits``; ``fn``, its arguments and its result must pickle
    (for ``fork`` only the result must)."""
    limits = limits or Limits.from_env()
    if limits.method == "spawn":
        return _run_spawned(fn, args, limits)
    return _run_forked(fn, args, limits)


def _spawned_main() -> int:
    """The spawned child: read the pickled job from stdin, apply the limits, report on stdout."""
    fn, args, budget, seconds = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 (from our own parent)
    _apply_limits(budget, seconds)
    return _run_and_report(fn, args, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(_spawned_main())
