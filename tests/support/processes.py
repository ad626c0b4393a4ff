"""Processes and threads as /proc shows them: gone or not, what they hold, whether they wait in
a request on the mount; waiting for a condition; calls run in the background; children reaped.

Wait for what a test depends on, never for a fixed time: :func:`waiting_on_fuse` says that a
thread is blocked in a request the daemon has been handed (docs/testing.md).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from typing import Any, Callable


def pid_gone(pid: int) -> bool:
    """Whether the process has exited (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def proc_number(pid: int, name: str, key: str) -> int | None:
    """The number after ``key:`` in /proc/PID/NAME (status, io), None without such a line
    (OSError if the process is gone)."""
    with open(f"/proc/{pid}/{name}") as f:
        return next((int(line.split()[1]) for line in f if line.startswith(key + ":")), None)


def rss_kib(pid: int) -> int:
    """The resident memory of a live process, in KiB (OSError if it is gone)."""
    return proc_number(pid, "status", "VmRSS") or 0


# system call numbers as /proc/<tid>/syscall shows them: x86_64's, then arm64's
_SYSCALL_NR = {"read": ("0", "63"), "write": ("1", "64"), "pread64": ("17", "67"),
               "openat": ("257", "56")}


def waiting_on_fuse(tid: int, syscall: str) -> bool:
    """Whether thread (or process) ``tid`` is inside ``syscall`` and waiting for the answer to
    a FUSE request: its request is queued for the daemon or being served.

    The daemon reads requests in the order they were queued, so once this is true every
    request made after it is served after this one. That is what a test needs before it sends
    a signal or makes a competing request, and what a fixed sleep only hopes for.
    """
    try:
        with open(f"/proc/{tid}/wchan") as f:
            wchan = f.read()
    except OSError:
        return False
    return wchan == "request_wait_answer" and in_syscall(tid, syscall)


def in_syscall(tid: int, syscall: str) -> bool:
    """Whether thread (or process) ``tid`` is inside ``syscall`` now, whatever it waits on."""
    try:
        with open(f"/proc/{tid}/syscall") as f:
            return f.read().split()[0] in _SYSCALL_NR[syscall]
    except (OSError, IndexError):
        return False


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    """Whether ``cond()`` became true within ``timeout`` seconds (asked every ``step``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


class Bg:
    """A call run in a daemon thread: ``done``, ``result``, ``error`` after ``join``."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished = threading.Event()

        def run() -> None:
            try:
                self.result = fn(*args)
            except BaseException as exc:  # reported to the test through .error
                self.error = exc
            finally:
                self.finished.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.tid: int = self.thread.native_id  # for /proc/<tid>: set before start() returns

    def join(self, timeout: float = 10.0) -> bool:
        return self.finished.wait(timeout)

    @property
    def done(self) -> bool:
        return self.finished.is_set()


def run_program(*cmd: str, **kw) -> subprocess.CompletedProcess:
    """Run a program to its end (at most 30 s), its output captured as bytes."""
    return subprocess.run(list(cmd), capture_output=True, timeout=30, **kw)


def kill_all(procs: list[subprocess.Popen]) -> None:
    """Kill and reap every child still running (for ``finally`` blocks)."""
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


__all__ = ["pid_gone", "proc_number", "rss_kib", "waiting_on_fuse", "in_syscall", "wait_for",
           "Bg", "run_program", "kill_all"]
