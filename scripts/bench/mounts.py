"""The filesystems under test: what a section needs of one (:class:`Fs`), and the iofs mounts,
made through the one ``iofs.testing.mount.Mount`` of the project.

An iofs mount runs the daemon of a given checkout: this one (the ``iofs`` columns) or the
``--baseline`` one (the ``@base`` columns). The daemon's pid is found in /proc (the
``--foreground`` process whose command line names the mount point), not read from a pid file,
whose place and format belong to the checkout that wrote it.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from iofs.system import proc
from iofs.system.unmount import Unmounted, end_daemon, is_daemon_of
from iofs.testing.mount import Mount
from iofs.testing.mount import MountError as IofsMountError
from iofs.vfs.config import DEFAULT_TREE

from .common import BASE, MountError


class Fs:
    """One filesystem under test: ``paths`` says where its "zero", "mem" and "dir" (regular
    files) are; ``pid`` is its daemon's (None: a kernel filesystem). Subclasses start it;
    :meth:`close` may be called more than once and never raises."""

    def __init__(self, name: str, mountpoint: str, paths: dict[str, str], note: str = "") -> None:
        self.name = name
        self.mountpoint = mountpoint
        self.paths = paths
        self.note = note
        self.log_path: str | None = None

    @property
    def pid(self) -> int | None:
        return None

    def alive(self) -> bool:
        """Whether the daemon (if any) still runs."""
        return True

    def how_gone(self) -> str:
        """How a daemon that is not alive ended, for an error message."""
        return "gone"

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the daemon's log, joined on one line ("" without a log)."""
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        pass


def tree_with(**options: Any) -> str:
    """The default tree with these ``[options]`` added (true/false, numbers, strings)."""
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())
    return DEFAULT_TREE.replace("[options]\n", "[options]\n" + lines, 1)


def checkout_env(checkout: str) -> dict[str, str]:
    """The environment of an ``iofs mount`` that must run the iofs of ``checkout`` and no
    other: PYTHONPATH is that checkout alone, and PYTHONSAFEPATH keeps the working directory
    off sys.path (``python -m iofs`` run in another checkout would import that one)."""
    return dict(os.environ, PYTHONPATH=checkout, PYTHONSAFEPATH="1")


def checkout_note(checkout: str) -> str:
    """``DIR (git describe)``, or DIR alone when it is no git checkout."""
    try:
        res = subprocess.run(["git", "-C", checkout, "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return checkout
    rev = res.stdout.strip()
    return f"{checkout} ({rev})" if res.returncode == 0 and rev else checkout


def find_daemon(mountpoint: str) -> tuple[int, int | None] | None:
    """(pid, start time) of the one ``iofs mount ... --foreground`` process of ``mountpoint``
    in /proc, or None (none, or more than one)."""
    found = []
    for pid in proc.pids():
        start = proc.start_time(pid)
        if start is not None and is_daemon_of(pid, start, mountpoint):
            found.append((pid, start))
    return found[0] if len(found) == 1 else None


class IofsFs(Fs):
    """An iofs mount of ``config_text`` (None: the default tree) whose daemon imports the iofs
    of ``checkout``. Its mount point is ``workdir/NAME`` (``@base`` spelt ``-base``), its
    config and log in ``workdir/NAME.d``."""

    def __init__(self, name: str, workdir: str, checkout: str,
                 config_text: str | None = None, source: str | None = None) -> None:
        mp = os.path.join(workdir, name.replace(BASE, "-base"))
        paths = {"dir": mp} if source else {"zero": f"{mp}/zero", "mem": f"{mp}/mem0",
                                            "dir": f"{mp}/tmp"}
        super().__init__(name, mp, paths)
        state = mp + ".d"
        os.makedirs(state, exist_ok=True)
        self.mount = Mount(state, config_text, env=checkout_env(checkout), mountpoint=mp,
                           args=["--source", source] if source else [])
        self.log_path = str(self.mount.log)
        self._daemon: tuple[int, int | None] | None = None

    def start(self) -> IofsFs:
        """Mount, and find the daemon; MountError (everything undone) if either fails."""
        try:
            self.mount.start()
        except (IofsMountError, OSError, subprocess.SubprocessError) as exc:
            self.close()
            raise MountError(f"{self.name}: {exc} {self.log_tail()}".rstrip()) from None
        self._daemon = find_daemon(self.mountpoint)
        if self._daemon is None:
            self.close()
            raise MountError(f"{self.name}: mounted, but no daemon of {self.mountpoint} in /proc")
        return self

    @property
    def pid(self) -> int | None:
        return self._daemon[0] if self._daemon else None

    def alive(self) -> bool:
        return self._daemon is not None and proc.start_time(self._daemon[0]) == self._daemon[1] \
            and proc.alive(self._daemon[0])

    def how_gone(self) -> str:
        return f"daemon {self.pid} gone: {self.log_tail()}"

    def close(self) -> None:
        """Mount.stop, and then the daemon found at start if it outlived that (a checkout
        whose pid file Mount cannot read): SIGTERM after a grace, then SIGKILL."""
        daemon, self._daemon = self._daemon, None
        try:
            self.mount.stop()
        except (OSError, subprocess.SubprocessError):
            pass  # the daemon below is ended all the same
        if daemon is not None and is_daemon_of(daemon[0], daemon[1], self.mountpoint):
            end_daemon(daemon[0], Unmounted(), 1.5)


def mount_iofs(name: str, workdir: str, checkout: str, config_text: str | None = None,
               source: str | None = None) -> IofsFs:
    """A started :class:`IofsFs` (MountError if it cannot be); with ``source``, the host
    directory it serves as the whole mount (``iofs mount --source``, its files in ``dir``)."""
    return IofsFs(name, workdir, checkout, config_text, source).start()
