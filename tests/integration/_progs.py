"""Helpers for the tests that drive iofs with ordinary programs (C, cat, dd, many processes).

``module_mount(tmp_path_factory, config=None)`` is a context manager that mounts like the
``mount_iofs`` fixture of conftest (the real CLI, background mode) and always unmounts and reaps
the daemon on exit: test modules use it for module-scoped mounts of read-mostly trees.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from iofs.cli import mount_type, pid_file

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20


class ModuleMount:
    def __init__(self, path: Path, log: Path, pid: int | None) -> None:
        self.path = path
        self.log = log
        self.pid = pid

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def _iofs(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iofs", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def _teardown(m: ModuleMount) -> None:
    mp = str(m.path)
    if mount_type(mp) is not None:
        _iofs("umount", mp, timeout=30)
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


@contextlib.contextmanager
def module_mount(tmp_path_factory, config: str | None = None, *extra: str) -> Iterator[ModuleMount]:
    base = tmp_path_factory.mktemp("iofs-mod")
    mp = base / "mnt"
    mp.mkdir()
    log = base / "iofs.log"
    args = ["mount", str(mp), "--log", str(log), *extra]
    if config is not None:
        cfg = base / "tree.toml"
        cfg.write_text(config)
        args += ["--config", str(cfg)]
    m = ModuleMount(mp, log, None)
    try:
        res = _iofs(*args)
        try:
            m.pid = int(Path(pid_file(str(mp))).read_text())
        except (OSError, ValueError):
            pass
        if res.returncode != 0:
            raise AssertionError(f"iofs mount failed ({res.returncode}): {res.stderr.strip()}\n"
                                 f"{m.log_text()[-3000:]}")
        yield m
    finally:
        _teardown(m)


PERIOD = 65521  # prime: the pattern never lines up with a block size


@functools.lru_cache(maxsize=64)
def _base(seed: int) -> bytes:
    return random.Random(seed).randbytes(PERIOD)


def pattern(seed: int, start: int, n: int) -> bytes:
    """``n`` bytes of data set ``seed`` from logical position ``start`` (random bytes repeating
    every 65521): a shifted, repeated, stale or foreign byte almost never matches."""
    base = _base(seed)
    off = start % PERIOD
    out = bytearray()
    while len(out) < n:
        take = min(n - len(out), PERIOD - off)
        out += base[off:off + take]
        off = 0
    return bytes(out)


def first_difference(got: bytes, want: bytes) -> str:
    """A short description of where two byte strings differ (for assertion messages)."""
    if got == want:
        return "equal"
    n = min(len(got), len(want))
    k = next((i for i in range(n) if got[i] != want[i]), n)
    return (f"lengths {len(got)} vs {len(want)}, first difference at {k}: "
            f"got {got[k:k + 8].hex()} want {want[k:k + 8].hex()}")


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
