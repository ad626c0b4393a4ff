"""Running ``iofs sweep`` from a test, and checking that it left nothing: its mounts are made in
a work directory of the test's own (TMPDIR), so that a test looks only at what it made, never
at another sweep running anywhere on the machine; its cgroups are named after its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from iofs.system import cgroup
from iofs.system.mounts import mounts_under

WORKDIR = "sweep-work"


class Sweeper:
    """``iofs sweep`` runs whose work directory is ``work`` (in the test's tmp_path)."""

    def __init__(self, tmp_path: Path) -> None:
        self.work = tmp_path / WORKDIR
        self.work.mkdir(exist_ok=True)
        self.pids: list[int] = []

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ, TMPDIR=str(self.work))
        env.update(extra or {})
        return env

    def start(self, *args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
        """``iofs sweep ARGS`` in the background (stdout and stderr piped, as text)."""
        p = subprocess.Popen([sys.executable, "-m", "iofs", "sweep", *args], env=self.env(env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        self.pids.append(p.pid)
        return p

    def run(self, *args: str, timeout: float = 300, env: dict[str, str] | None = None,
            **kw) -> subprocess.CompletedProcess:
        """``iofs sweep ARGS`` to its end."""
        p = self.start(*args, env=env, **kw)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=60)
            raise AssertionError(f"iofs sweep ran over {timeout} s:\n{err[-3000:]}") from None
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def mounts(self) -> list[str]:
        return mounts_under(self.work)

    def cgroups(self) -> list[str]:
        """The cgroups a sweep of this test left (named iofs-sweep-PID-N)."""
        base = cgroup.parent_dir()
        if base is None or not os.path.isdir(base):
            return []
        names = os.listdir(base)
        return [n for n in names for pid in self.pids if n.startswith(f"iofs-sweep-{pid}-")]

    def leftovers(self) -> list[str]:
        """What the sweeps left: mounts, cgroups, files in the work directory."""
        return self.mounts() + self.cgroups() + [str(p) for p in self.work.iterdir()]


def killed_processes(marker: str | Path) -> list[str]:
    """The pids of processes whose command line holds ``marker``, each killed, so that a
    failing test leaves none behind either: a sweep must have left none."""
    left = subprocess.run(["pgrep", "-f", str(marker)], capture_output=True, text=True).stdout.split()
    for pid in left:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def lines(text: str, prefix: str) -> list[str]:
    """The lines of ``text`` that start with ``prefix`` (``SILENT ``, ``sweep: ``, ...)."""
    return [ln for ln in text.splitlines() if ln.startswith(prefix)]


__all__ = ["Sweeper", "killed_processes", "lines", "WORKDIR"]
