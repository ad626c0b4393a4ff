"""Real mounts for the tests, all made through the one Mount (:class:`iofs.testing.mount.Mount`):
``python -m iofs mount`` in the background in a directory of the test's own, returning once
requests are answered; :meth:`Mount.stop` unmounts and makes sure the daemon is gone.

``mounted(base, config, *args)`` is a mount for a block (module fixtures use it);
``start_mount`` runs ``iofs mount`` whatever comes of it, for tests of its failures.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from iofs.system.mounts import mount_type
from iofs.system.state import read_pid_file
from iofs.testing.mount import Mount

from .processes import pid_gone


# what the root of the default tree holds
DEFAULT_NAMES = {"null", "zero", "full", "mem0", "pipe0", "random", "status", "tmp", ".iofs"}


def is_mounted(path: Path | str) -> bool:
    return mount_type(str(path)) is not None


def daemon_pid(mp: Path | str) -> int | None:
    """The pid in the daemon's pid file for mount point ``mp`` (None if there is none)."""
    recorded = read_pid_file(str(mp))
    return recorded[0] if recorded else None


def env_with_pythonpath(path: Path | str) -> dict[str, str]:
    """This environment with ``path`` first on PYTHONPATH (where a tree's user drivers are)."""
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(path) + (os.pathsep + old if old else "")
    return env


def start_mount(base: Path, config: str | None = None, *args: str,
                env: dict[str, str] | None = None, mountpoint: Path | None = None) -> Mount:
    """Run ``iofs mount`` (background mode) in ``base`` for the tree ``config`` (TOML text, or
    None for the default tree), whatever comes of it: ``.result`` is the finished command, and
    the caller stops the Mount (``.stop()``) whatever it was."""
    return Mount(base, config, args=args, env=env, mountpoint=mountpoint).start(check=False)


def check_started(m: Mount) -> Mount:
    """``m``, if its ``iofs mount`` succeeded; else the test fails with its stderr and log."""
    res = m.result
    assert res is not None, "the mount was never started"
    if res.returncode != 0:
        raise AssertionError(f"iofs mount failed ({res.returncode}): {res.stderr.strip()}\n"
                             f"{m.log_text()[-3000:]}")
    return m


@contextlib.contextmanager
def mounted(base: Path, config: str | None = None, *args: str,
            env: dict[str, str] | None = None, mountpoint: Path | None = None) -> Iterator[Mount]:
    """A mount that is unmounted, and its daemon gone, when the block ends."""
    m = start_mount(base, config, *args, env=env, mountpoint=mountpoint)
    try:
        yield check_started(m)
    finally:
        m.stop()


@contextlib.contextmanager
def module_mount(tmp_path_factory, config: str | None = None, *args: str) -> Iterator[Mount]:
    """A mount for a whole test module, in a directory of its own, always unmounted."""
    with mounted(tmp_path_factory.mktemp("iofs-mod"), config, *args) as m:
        yield m


def unmount_if_mounted(mp: Path) -> None:
    """Unmount whatever iofs mount a test may have left at ``mp`` (and end its daemon)."""
    if is_mounted(mp):
        Mount(mp.parent, mountpoint=mp).stop()


def serves(m: Mount) -> None:
    """The daemon of ``m`` is alive and answers: a read of its /zero."""
    assert m.pid is None or not pid_gone(m.pid), "the daemon died"
    with open(m / "zero", "rb", buffering=0) as f:
        assert f.read(4096) == bytes(4096)


__all__ = ["DEFAULT_NAMES", "is_mounted", "daemon_pid", "env_with_pythonpath", "start_mount",
           "check_started", "mounted", "module_mount", "unmount_if_mounted", "serves", "Mount"]
