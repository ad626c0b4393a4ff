"""cgroup v2: a group of processes that none of them can leave, and that can be killed whole.

A program that double-forks, calls setsid and points its stdio at /dev/null leaves its session
and its pipes behind, but not its cgroup: membership is inherited by every child, and only a
write to ``cgroup.procs`` (by someone allowed to) moves a process out. So ``iofs sweep`` runs
each program in a cgroup of its own and ends the run with ``cgroup.kill``.

:func:`make` creates a child of this process's own cgroup (``/proc/self/cgroup``, the ``0::``
line) in the cgroup2 hierarchy (found in the mount table: ``/sys/fs/cgroup`` on a unified
host, ``/sys/fs/cgroup/unified`` on a hybrid one); it returns None where cgroups cannot be made
(no cgroup2 mounted, a read-only or undelegated hierarchy, as in many containers), and the
caller falls back to what it can do without.

A process joins a group by writing its own pid to :attr:`Cgroup.procs` before it execs (the
sweep starts programs through ``sh -c 'echo $$ > PROCS && exec "$@"'``), so that nothing it
forks is ever outside.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time

from . import mounts

KILL_WAIT = 5.0  # seconds to wait for a killed group to empty before leaving it behind


def hierarchy() -> str | None:
    """Where the cgroup2 hierarchy is mounted, or None."""
    found = mounts.mounts_of_type("cgroup2")
    return found[0] if found else None


def own_path() -> str | None:
    """This process's cgroup v2 path (``/`` or ``/user.slice/...``), or None."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip() or "/"
    except OSError:
        return None
    return None


class Cgroup:
    """One cgroup directory, made by :func:`make` (``path``: its directory)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.procs = os.path.join(path, "cgroup.procs")
        self.removed = False

    def pids(self) -> list[int]:
        """The processes in it now ([] once it is gone)."""
        try:
            with open(self.procs) as f:
                return [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            return []

    def populated(self) -> bool:
        """Whether a live process is in it (``cgroup.events``: populated 1)."""
        try:
            with open(os.path.join(self.path, "cgroup.events")) as f:
                return "populated 1" in f.read()
        except OSError:
            return bool(self.pids())

    def kill(self) -> None:
        """SIGKILL every process in it: ``cgroup.kill`` (Linux 5.14), else frozen first so
        that none forks between the listing and the kill."""
        try:
            with open(os.path.join(self.path, "cgroup.kill"), "w") as f:
                f.write("1")
            return
        except OSError:
            pass
        frozen = self._freeze("1")
        for _ in range(100):
            left = self.pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if frozen:
                break  # frozen: nothing forked meanwhile
        if frozen:
            self._freeze("0")

    def _freeze(self, value: str) -> bool:
        try:
            with open(os.path.join(self.path, "cgroup.freeze"), "w") as f:
                f.write(value)
            return True
        except OSError:
            return False

    def wait_empty(self, timeout: float = KILL_WAIT) -> bool:
        """Whether it emptied within ``timeout`` seconds (killed processes take a moment)."""
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while self.populated():
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        return True

    def remove(self) -> bool:
        """Remove the directory (it must be empty); whether it is gone."""
        if self.removed:
            return True
        try:
            os.rmdir(self.path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                return False
        self.removed = True
        return True

    def destroy(self, timeout: float = KILL_WAIT) -> bool:
        """Kill everything in it, wait for it to empty, remove it; whether it is gone."""
        if self.removed:
            return True
        if self.populated():
            self.kill()
            self.wait_empty(timeout)
        return self.remove()


def parent_dir() -> str | None:
    """The directory of this process's own cgroup, or None."""
    root, own = hierarchy(), own_path()
    if root is None or own is None:
        return None
    return os.path.join(root, own.lstrip("/"))


def make(name: str, parent: str | None = None) -> Cgroup | None:
    """A new cgroup ``name`` under ``parent`` (default: this process's own cgroup), or None
    where none can be made. An existing one of that name (left by a crashed run with this
    pid) is emptied and reused."""
    base = parent if parent is not None else parent_dir()
    if base is None:
        return None
    path = os.path.join(base, name)
    try:
        os.mkdir(path)
    except FileExistsError:
        Cgroup(path).destroy()
        try:
            os.mkdir(path)
        except OSError:
            return None
    except OSError:
        return None
    group = Cgroup(path)
    if not os.access(group.procs, os.W_OK):
        group.remove()
        return None
    return group


_usable: dict[str, bool] = {}


def usable(prefix: str = "iofs-probe") -> bool:
    """Whether a process can be put into a cgroup made here: a group is made, a shell writes
    its pid into it, and the group is removed (the answer is kept for the process's life)."""
    if "answer" in _usable:
        return _usable["answer"]
    group = make(f"{prefix}-{os.getpid()}")
    ok = False
    if group is not None:
        try:
            res = subprocess.run(["/bin/sh", "-c", 'echo $$ > "$0"', group.procs],
                                 capture_output=True, timeout=30)
            ok = res.returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        ok = group.destroy() and ok
    _usable["answer"] = ok
    return ok


def remove_all(prefix: str) -> int:
    """Kill and remove every cgroup under this process's own whose name starts with
    ``prefix`` (what a run could not remove at once); how many are left."""
    base = parent_dir()
    if base is None:
        return 0
    try:
        names = [n for n in os.listdir(base) if n.startswith(prefix)]
    except OSError:
        return 0
    return sum(1 for n in names if not Cgroup(os.path.join(base, n)).destroy())


__all__ = ["Cgroup", "make", "usable", "remove_all", "hierarchy", "own_path", "parent_dir",
           "KILL_WAIT"]
