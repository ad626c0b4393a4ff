"""The memory all regular files (and extended attributes) of one mount share."""

from __future__ import annotations


class MemoryPool:
    """At most ``cap`` bytes; ``used`` is what the files and attributes hold now."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0

    def available(self) -> int:
        return max(self.cap - self.used, 0)


__all__ = ["MemoryPool"]
