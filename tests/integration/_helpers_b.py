"""Helpers for the integration tests of pipes, devices, regular files and errors.

``mounted()`` and ``start_mount()`` (from conftest) mount through the real CLI, also with an
environment (user drivers found through PYTHONPATH) or an existing mount point.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

from conftest import Mounted, _teardown, mounted, run_iofs, start_mount  # noqa: F401 (re-exported)

from iofs.system.mounts import mount_type

DEFAULT_NAMES = {"null", "zero", "full", "mem0", "pipe0", "random", "status", "tmp", ".iofs"}


def env_with_pythonpath(path: Path | str) -> dict[str, str]:
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(path) + (os.pathsep + old if old else "")
    return env


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def is_mounted(path: Path | str) -> bool:
    return mount_type(str(path)) is not None


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


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def raw_read(fd: int, n: int) -> tuple[int, bytes, int]:
    """read(2) called once, without Python's retry on EINTR: (return value, data, errno)."""
    buf = ctypes.create_string_buffer(n)
    ctypes.set_errno(0)
    r = _libc.read(fd, buf, ctypes.c_size_t(n))
    err = ctypes.get_errno()
    return r, (buf.raw[:r] if r > 0 else b""), (err if r < 0 else 0)


def raw_write(fd: int, data: bytes) -> tuple[int, int]:
    """write(2) called once, without Python's retry on EINTR: (return value, errno)."""
    ctypes.set_errno(0)
    r = _libc.write(fd, data, ctypes.c_size_t(len(data)))
    return r, (ctypes.get_errno() if r < 0 else 0)


def renameat2(old: str, new: str, flags: int) -> int:
    """renameat2(AT_FDCWD, old, AT_FDCWD, new, flags): 0 or the errno."""
    AT_FDCWD = -100
    ctypes.set_errno(0)
    r = _libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), ctypes.c_uint(flags))
    return 0 if r == 0 else ctypes.get_errno()


def one_line_error(res: subprocess.CompletedProcess) -> str:
    """Assert the CLI failed with exactly one 'iofs: ' line on stderr and no traceback."""
    assert res.returncode != 0, res
    lines = res.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {res.stderr!r}"
    assert lines[0].startswith("iofs: "), lines
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    return lines[0]


__all__ = [
    "DEFAULT_NAMES", "Bg", "Mounted", "env_with_pythonpath", "is_mounted", "mounted",
    "one_line_error", "pid_gone", "raw_read", "raw_write", "renameat2", "rss_kib", "run_iofs",
    "start_mount", "wait_for",
]
