"""Crash simulation: what a power cut does to regular files whose writes were never fsynced.

:class:`Durability` keeps the :class:`~iofs.durability.journal.Journal` of every regular file
of a mount (each file registers itself when it is made and leaves when it is freed) and
performs the crash: every file back to its durable state at one instant (the namespace is
durable at once, as LazyFS has it: a file created and never fsynced keeps its name and loses
its data). With a ``seed`` the crash is *torn*: each unsynced 4 KiB block survives or not, as
drawn from the seed (the same seed, the same survivors).

The filesystem tells it where a file is (:data:`Locate`: inode number and path), how to drop
the kernel's cache of inodes, and what to do to a file the crash changed (its times).
"""

from __future__ import annotations

import random
from typing import Any, Awaitable, Callable

from .journal import Journal

Locate = Callable[[Any], "tuple[int, str] | None"]  # a file -> (inode, path), None if gone
Invalidate = Callable[[list[int]], Awaitable[None]]


class Durability:
    """The crash plane of a mount: the journals of its regular files, and the crash itself."""

    def __init__(self, locate: Locate, invalidate: Invalidate,
                 changed: Callable[[Any], None]) -> None:
        self.locate, self.invalidate, self.changed = locate, invalidate, changed
        self._journals: dict[Journal, Any] = {}

    def journal(self, file: Any) -> Journal:
        """A new journal for ``file`` (its durable state: empty), registered here."""
        return Journal(file, self._journals)

    def files(self) -> list[tuple[int, str, Any]]:
        """(inode, path, file) of every regular file that has a journal, in inode order."""
        found = []
        for journal, file in list(self._journals.items()):
            where = self.locate(file)
            if where is not None:
                found.append((where[0], where[1], file))
        found.sort(key=lambda entry: entry[0])
        return found

    def unsynced(self) -> list[tuple[str, int]]:
        """(path, unsynced bytes) of every file a crash would change."""
        out = []
        for _, path, f in self.files():
            n = f.journal.unsynced_bytes(f)
            if n or f.size != f.journal.durable_size:
                out.append((path, n))
        return out

    async def crash(self, seed: int | None = None) -> list[str]:
        """Every regular file back to its durable state (torn by ``seed``); the paths changed.

        The kernel's cache of every regular file is dropped first (the dirty pages it writes
        back then are journaled as any write), the files are reverted at one instant, and the
        cache of those changed is dropped again. Nothing is dropped silently: a write the
        program was told succeeded and then fsynced is durable, whenever it came.
        """
        await self.invalidate([ino for ino, _, _ in self.files()])
        rng = random.Random(seed) if seed is not None else None
        changed = []
        for ino, path, f in self.files():  # no await in here: the crash is one instant
            survives = None
            if rng is not None:
                draws = {b: rng.random() < 0.5 for b in f.journal.unsynced_blocks(f)}
                survives = draws.__getitem__
            if f.journal.revert(f, survives):
                self.changed(f)
                changed.append((ino, path))
        await self.invalidate([ino for ino, _ in changed])
        return [path for _, path in changed]


__all__ = ["Durability"]
