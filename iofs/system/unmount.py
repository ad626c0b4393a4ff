"""Unmounting an iofs mount and making sure its daemon is gone, in bounded time, saying what
was done: what ``iofs umount`` runs, and what every Mount of the test tools stops with.

1. Detach: ``fusermount3 -u``; if the mount is busy (a process has its cwd or a file open in
   it), a lazy ``fusermount3 -u -z`` (root: ``umount``, ``umount -l``).
2. The daemon, found through its pid file and checked in /proc to be that mount's daemon (a
   recycled pid is never signalled), exits by itself once the kernel closes the session. A
   lazy detach keeps the session while anything holds the mount, so after ``grace`` seconds
   it gets SIGTERM (it closes the session: whoever waits on the mount gets ENOTCONN), and
   after as long again SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

from . import proc
from .mounts import mount_type
from .state import read_pid_file, remove_pid_file


class UnmountError(Exception):
    """The mount could not be detached: one line."""


@dataclass
class Unmounted:
    """What :func:`unmount` did: ``steps`` in words; ``daemon_alive`` if it survived SIGKILL."""

    steps: list[str] = field(default_factory=list)
    daemon_alive: bool = False
    pid: int | None = None


def is_daemon_of(pid: int, start: int | None, mountpoint: str) -> bool:
    """Whether ``pid`` is (still) the iofs daemon of ``mountpoint``: the start time it wrote in
    its pid file and a command line of ``iofs mount ... --foreground`` naming this mount point
    (relative to its cwd)."""
    if start is None or proc.start_time(pid) != start:
        return False
    argv = proc.cmdline(pid)
    if not argv:
        return False
    iofs = any(a == b"iofs" or a.endswith(b"/iofs") for a in argv)
    if not (iofs and b"mount" in argv and (b"--foreground" in argv or b"-f" in argv)):
        return False
    cwd = proc.cwd(pid)
    if cwd is None:
        return False
    target = os.path.normpath(mountpoint)
    return any(os.path.normpath(os.path.join(cwd, os.fsdecode(a))) == target for a in argv if a)


def daemon_of(mountpoint: str) -> int | None:
    """The pid of the daemon of ``mountpoint`` (checked in /proc), or None."""
    recorded = read_pid_file(mountpoint)
    if recorded is not None and is_daemon_of(recorded[0], recorded[1], mountpoint):
        return recorded[0]
    return None


def _detach(mountpoint: str, report: Unmounted) -> None:
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    attempts = [([tool, "-u", mountpoint], "unmounted"),
                ([tool, "-u", "-z", mountpoint], "busy: detached lazily")] if tool else []
    if os.geteuid() == 0 and shutil.which("umount"):
        attempts += [(["umount", mountpoint], "unmounted"),
                     (["umount", "-l", mountpoint], "busy: detached lazily")]
    last = ""
    for cmd, said in attempts:
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            last = ((res.stderr or res.stdout).strip().splitlines() or [""])[-1]
        except subprocess.TimeoutExpired:
            last = f"{cmd[0]} did not return"
        if mount_type(mountpoint) is None:
            report.steps.append(said)
            return
    raise UnmountError(f"cannot unmount {mountpoint}: {last or 'no fusermount3 or umount found'}")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while proc.alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def end_daemon(pid: int, report: Unmounted, grace: float) -> None:
    """Wait ``grace`` seconds for ``pid`` to exit, then SIGTERM, then SIGKILL."""
    for sig, name in ((None, ""), (signal.SIGTERM, "SIGTERM"), (signal.SIGKILL, "SIGKILL")):
        if sig is not None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            report.steps.append(f"daemon {pid} did not exit: sent {name}")
        if _wait_gone(pid, grace):
            return
    report.daemon_alive = True


def unmount(mountpoint: str, grace: float = 1.5) -> Unmounted:
    """Detach the iofs mount at ``mountpoint`` and end its daemon (see the module's text)."""
    report = Unmounted()
    report.pid = pid = daemon_of(mountpoint)
    if mount_type(mountpoint) is not None:
        _detach(mountpoint, report)
    if pid is not None:
        end_daemon(pid, report, grace)
    if pid is None or not report.daemon_alive:
        remove_pid_file(mountpoint)
    return report


__all__ = ["unmount", "Unmounted", "UnmountError", "daemon_of", "is_daemon_of", "end_daemon"]
