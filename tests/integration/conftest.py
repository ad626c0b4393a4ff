"""Real mounts for integration tests: every mount is unmounted, and its daemon gone, at teardown.

``mount_iofs(config=None, *extra_args)`` mounts through the real CLI (``python -m iofs mount``,
background mode, so it returns once requests are answered) in a temporary directory and returns
a :class:`Mounted`. The default ``mnt`` fixture is the default tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from iofs.system.mounts import mount_type
from iofs.system.state import read_pid_file, state_path

if not os.path.exists("/dev/fuse"):
    pytest.fail("/dev/fuse is missing: integration tests need FUSE", pytrace=False)


def run_iofs(*args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iofs", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


@dataclass
class Mounted:
    path: Path
    log: Path
    pid: int | None

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def _teardown(m: Mounted) -> None:
    mp = str(m.path)
    if mount_type(mp) is not None:
        run_iofs("umount", mp, timeout=30)
    if mount_type(mp) is not None:
        subprocess.run(["fusermount3", "-u", "-z", mp], capture_output=True)
    if m.pid is not None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(m.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        try:
            os.kill(m.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_mount(base: Path, config: str | None = None, *extra: str,
                env: dict[str, str] | None = None, mountpoint: Path | None = None,
                ) -> tuple[Mounted, subprocess.CompletedProcess]:
    """Run ``iofs mount`` (background mode) in ``base``; the Mounted (pid None if none) and the
    result. The caller tears the Mounted down (``_teardown``) whatever the result."""
    mp = mountpoint if mountpoint is not None else base / "mnt"
    mp.mkdir(exist_ok=True)
    log = base / "iofs.log"
    args = ["mount", str(mp), "--log", str(log), *extra]
    if config is not None:
        cfg = base / "tree.toml"
        cfg.write_text(config)
        args += ["--config", str(cfg)]
    res = run_iofs(*args, env=env) if env is not None else run_iofs(*args)
    return Mounted(mp, log, daemon_pid(mp)), res


def daemon_pid(mp: Path) -> int | None:
    """The pid in the daemon's pid file for mount point ``mp`` (None if there is none)."""
    recorded = read_pid_file(str(mp))
    return recorded[0] if recorded else None


def _check(m: Mounted, res: subprocess.CompletedProcess) -> None:
    if res.returncode != 0:
        raise AssertionError(f"iofs mount failed ({res.returncode}): {res.stderr.strip()}\n"
                             f"{m.log_text()[-3000:]}")


@contextlib.contextmanager
def mounted(base: Path, config: str | None = None, *extra: str,
            env: dict[str, str] | None = None, mountpoint: Path | None = None) -> Iterator[Mounted]:
    """A mount that is unmounted, and its daemon gone, when the block ends (module fixtures)."""
    m, res = start_mount(base, config, *extra, env=env, mountpoint=mountpoint)
    try:
        _check(m, res)
        yield m
    finally:
        _teardown(m)


@pytest.fixture
def mount_iofs(tmp_path_factory):
    mounts: list[Mounted] = []

    def mount(config: str | None = None, *extra: str) -> Mounted:
        m, res = start_mount(tmp_path_factory.mktemp("iofs"), config, *extra)
        mounts.append(m)
        _check(m, res)
        return m

    try:
        yield mount
    finally:
        for m in mounts:
            _teardown(m)


OTHER_UID = 1000  # a user that is not root, for tests of what other users may do


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """An empty directory every user can reach (pytest's tmp_path is root's alone): the mount
    point of tests that run programs as OTHER_UID."""
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="iofs-public-", dir="/tmp"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        if mount_type(str(d)) is None:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def mnt(mount_iofs) -> Mounted:
    """The default tree."""
    return mount_iofs()
