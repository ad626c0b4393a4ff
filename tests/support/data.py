"""Test data that a shifted, repeated, stale or foreign byte cannot match, and how to say where
two byte strings differ."""

from __future__ import annotations

import functools
import random

KiB = 1 << 10
MiB = 1 << 20
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


__all__ = ["KiB", "MiB", "PERIOD", "pattern", "first_difference"]
