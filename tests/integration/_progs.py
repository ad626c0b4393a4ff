"""Helpers for the tests that drive iofs with ordinary programs (C, cat, dd, many processes).

``module_mount(tmp_path_factory, config=None)`` is a context manager that mounts like the
``mount_iofs`` fixture of conftest (the real CLI, background mode) and always unmounts and reaps
the daemon on exit: test modules use it for module-scoped mounts of read-mostly trees.
"""

from __future__ import annotations

import contextlib
import functools
import random
import subprocess
from typing import Iterator

from conftest import Mounted, mounted

MiB = 1 << 20


@contextlib.contextmanager
def module_mount(tmp_path_factory, config: str | None = None, *extra: str) -> Iterator[Mounted]:
    """A mount for a whole test module, always unmounted (conftest's ``mounted``)."""
    with mounted(tmp_path_factory.mktemp("iofs-mod"), config, *extra) as m:
        yield m


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
