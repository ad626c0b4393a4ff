"""One run of the program, and everything it started, ended whole.

The program runs in a cgroup v2 of its own (:mod:`iofs.system.cgroup`): it is started as
``sh -c 'echo $$ > GROUP/cgroup.procs && exec "$@"' ...``, so that it is in the group before
it runs, and whatever it forks stays there (a double-forked daemon that called setsid and
pointed its stdio at /dev/null included). When the program exits, or at the timeout, the
group is killed (``cgroup.kill``) and removed.

Where no cgroup can be made (no cgroup2, a container without delegation), the fallback ends
what it can find: the program's session (it runs in one of its own), any process holding its
stdout or stderr, and any process with its cwd or a file open in the mount. A process this
one forked that is not the program is never taken for a leftover: with ``--jobs`` a sibling
may be between fork and exec of its own program or mount, holding copies of every
descriptor.

The program's exit is seen at once through a pidfd; its output is read to the end (for at
most GRACE seconds after the group was killed).
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from ...system import cgroup, proc
from .outcome import Capture, Outcome

GRACE = 2.0  # seconds the output of what was killed may take to end
EMPTY_PASSES = 3  # fallback: passes over /proc in a row that must find nobody
MAX_PASSES = 50
AGAIN = 0.1  # fallback: while the output stays open after the kill, seconds between kills
WRAPPER = 'echo $$ > "$0" || exit 125; exec "$@"'
_counter = iter(range(1, 1 << 62))
_count_lock = threading.Lock()


def _next_name() -> str:
    with _count_lock:
        return f"iofs-sweep-{os.getpid()}-{next(_counter)}"


@dataclass
class Spec:
    """What to run: ``argv`` (resolved), its environment and directory, the mount it uses,
    whether to use a cgroup, and pids never to kill (the mount's daemon)."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    mnt: str
    timeout: float
    cgroups: bool = True
    spare: frozenset[int] = frozenset()


class Running:
    """A started program and its group."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.group = cgroup.make(_next_name()) if spec.cgroups else None
        argv = spec.argv
        if self.group is not None:
            argv = ["/bin/sh", "-c", WRAPPER, self.group.procs, *argv]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=spec.env, cwd=spec.cwd,
                                     start_new_session=True)
        self.pipes = set()
        for f in (self.proc.stdout, self.proc.stderr):
            try:
                self.pipes.add(os.readlink(f"/proc/self/fd/{f.fileno()}"))
            except OSError:
                pass
        self.killed = False

    def kill_all(self) -> None:
        """SIGKILL the program and everything it started."""
        self.killed = True
        if self.group is not None:
            if self.group.populated():  # (the program alone, exited: nothing to kill)
                self.group.kill()
                self.group.wait_empty()
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        # A pass lists /proc, then reads each process: a child forked after the listing by a
        # process that then exits (a double fork) is in no pass that saw its parent alive. So
        # passes repeat until EMPTY_PASSES in a row, a moment apart, find nobody.
        empty = 0
        for _ in range(MAX_PASSES):
            left = leftovers(self.proc.pid, self.pipes, self.spec.mnt, self.spec.spare)
            if not left:
                empty += 1
                if empty >= EMPTY_PASSES:
                    return
                time.sleep(0.002)
                continue
            empty = 0
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def release(self) -> None:
        """After the run: the group removed (killed first if anything is left); without a
        group, one more search for what the program left (a late double fork)."""
        if self.group is not None and not self.group.destroy():
            self.group.kill()  # a process that cannot die yet: tried again at the end
        if self.proc.returncode is None or self.group is None:
            self.kill_all()
        if self.proc.returncode is None:
            self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


def leftovers(sid: int, pipes: set[str], mnt: str, spare: frozenset[int]) -> list[int]:
    """Live processes in session ``sid``, holding one of ``pipes``, or with their cwd or an
    open file in ``mnt``; never this process, ``spare``, nor a child of this process but the
    program (a sibling's fork before its exec)."""
    me = os.getpid()
    under = os.path.join(mnt, "")
    found = []
    for pid in proc.pids():
        if pid == me or pid in spare:
            continue
        fields = proc.stat_fields(pid)
        if not fields or fields[proc.STATE] in ("Z", "X"):
            continue
        if fields[proc.PPID] == str(me) and pid != sid:
            continue
        if fields[proc.SESSION] == str(sid):
            found.append(pid)
            continue
        targets = proc.fd_targets(pid)
        cwd = proc.cwd(pid) or ""
        if (pipes & set(targets)) or cwd == mnt or cwd.startswith(under) \
                or any(t == mnt or t.startswith(under) for t in targets):
            found.append(pid)
    return found


def resolve(argv0: str, env: dict[str, str], cwd: str | None) -> str | None:
    """``argv0`` as exec would find it (None: it would not)."""
    if "/" in argv0:
        path = os.path.join(cwd or os.getcwd(), argv0)
        return argv0 if os.access(path, os.X_OK) and not os.path.isdir(path) else None
    return shutil.which(argv0, path=env.get("PATH", os.defpath))


def run(spec: Spec, stop: threading.Event | None = None) -> Outcome:
    """Run the program to its end (or the timeout, or ``stop``); what it did."""
    out, err = Capture(spec.mnt), Capture(spec.mnt)
    t0 = time.monotonic()
    running = Running(spec)
    try:
        timed_out, seconds = _collect(running, out, err, spec.timeout, stop)
        code = running.proc.wait()
    finally:
        running.release()
    outcome = Outcome(code if code >= 0 else None, -code if code < 0 else None, out.close(),
                      err.close(), seconds=seconds, timed_out=timed_out)
    outcome.timings["spawn_to_reaped"] = time.monotonic() - t0
    return outcome


def _collect(running: Running, out: Capture, err: Capture, timeout: float,
             stop: threading.Event | None) -> tuple[bool, float]:
    """Read the program's output until it exited and its output ended (what it left running
    is killed when it exits), or the timeout; (timed out, seconds it ran)."""
    p = running.proc
    sinks = {p.stdout.fileno(): out.feed, p.stderr.fileno(): err.feed}
    sel = selectors.DefaultSelector()
    for fd in sinks:
        sel.register(fd, selectors.EVENT_READ)
    pidfd = _pidfd(p.pid)
    if pidfd is not None:
        sel.register(pidfd, selectors.EVENT_READ)
    t0 = time.monotonic()
    deadline, ended, timed_out = t0 + timeout, None, False
    last_kill = t0
    try:
        while True:
            now = time.monotonic()
            if ended is None and (now >= deadline or (stop is not None and stop.is_set())):
                timed_out, ended, last_kill = now >= deadline, now, now
                running.kill_all()
            elif ended is None and pidfd is None and p.poll() is not None:
                ended = last_kill = now
                running.kill_all()
            pipes = [fd for fd in sel.get_map() if fd in sinks]
            if ended is not None and (not pipes or now >= ended + GRACE):
                break
            if ended is not None and running.group is None and now >= last_kill + AGAIN:
                running.kill_all()  # something still holds the output: find it again
                last_kill = now
            wait = (min(deadline, now + 0.25) if ended is None else min(ended + GRACE, now + AGAIN)) - now
            if pidfd is None:
                wait = min(wait, 0.01)
            for key, _ in sel.select(max(wait, 0)):
                if key.fd == pidfd:
                    sel.unregister(pidfd)
                    ended = last_kill = time.monotonic()
                    running.kill_all()
                    continue
                data = os.read(key.fd, 1 << 16)
                if data:
                    sinks[key.fd](data)
                else:
                    sel.unregister(key.fd)
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
    return timed_out, (ended or time.monotonic()) - t0


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


__all__ = ["Spec", "Running", "run", "resolve", "leftovers", "GRACE"]
