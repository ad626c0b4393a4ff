"""Driver memory that costs nothing until it is written."""

from __future__ import annotations

import mmap


def ram(size: int) -> memoryview:
    """``size`` zeroed bytes of RAM that cost nothing until written (an anonymous mapping).

    bytearray(size) writes every byte at once; a mem device of 1 GiB must not cost 1 GiB of
    RSS before anyone writes to it.
    """
    if size == 0:
        return memoryview(bytearray(0))
    return memoryview(mmap.mmap(-1, size))


__all__ = ["ram"]
