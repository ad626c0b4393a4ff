"""Crash simulation: what a power cut does to regular files whose writes were never fsynced.

:class:`Durability` keeps the :class:`~iofs.durability.journal.Journal` of every regular file
of a mount (each file registers itself when it is made and leaves when it is freed) and
performs the crash: every file back to its durable state at one instant (the namespace is
durable at once, as LazyFS has it: a file created and never fsynced keeps its name and loses
its data). With a ``seed`` the crash is *torn*: each unsynced 4 KiB block survives or not, as
drawn from the seed (the same seed, the same survivors).

The filesystem tells it where a file is (:data:`Locate`: inode number and path), how to drop
the kernel's caches (:class:`Kernel`), and what to do to a file the crash changed (its times).
With ``namespace_durability = "fsync"`` it also undoes the namespace changes not made durable
(:mod:`iofs.durability.names`).
"""

from __future__ import annotations

import errno
import logging
import random
from typing import Any, Awaitable, Callable, Protocol

from .journal import BLOCK, Journal, OpenView
from .names import NameChanges

log = logging.getLogger("iofs")

Locate = Callable[[Any], "tuple[int, str] | None"]  # a file -> (inode, path), None if gone


class Kernel(Protocol):
    """How the crash plane has the kernel drop what it caches of the state before a crash."""

    def invalidate(self, inodes: list[int]) -> Awaitable[None]: ...

    def forget_entries(self, entries: list[tuple[int, bytes]]) -> Awaitable[None]: ...


class Durability:
    """The crash plane of a mount: the journals of its regular files, and the crash itself."""

    def __init__(self, locate: Locate, kernel: Kernel, changed: Callable[[Any], None],
                 fsync_error: str = "linux", torn_unit: int = BLOCK) -> None:
        self.locate, self.kernel, self.changed = locate, kernel, changed
        self.fsync_error = fsync_error
        self.torn_unit = torn_unit
        self.names: NameChanges | None = None  # namespace changes a crash undoes ("fsync")
        self.stale_entries: list[tuple[int, bytes]] = []  # what the kernel must forget
        # the files the last crash could not put back (the host's ENOSPC, EIO...), with how
        # each was to be torn: the mount may not serve again until they are (:meth:`finish`)
        self.pending: list[tuple[int, str, Any, Any]] = []
        self._journals: dict[Journal, Any] = {}

    def journal(self, file: Any) -> Journal:
        """A new journal for ``file`` (its durable state: empty), registered here."""
        return Journal(file, self._journals, self.fsync_error)

    def fsync_failed(self, file: Any, view: Any) -> None:
        """An fsync of ``file`` through the open description ``view`` failed (a fault rule, or
        the backing store): the mount's ``fsync_error`` model applies."""
        journal = getattr(file, "journal", None)
        if journal is not None:
            journal.writeback_failed(file, view if isinstance(view, OpenView) else None)

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
        await self.kernel.invalidate([ino for ino, _, _ in self.files()])
        changed = self.crash_now(seed)
        await self.forget_stale()
        await self.kernel.invalidate([ino for ino, _ in changed])
        if self.pending:
            raise OSError(errno.EIO, "the crash could not put every file back (see the log)")
        return [path for _, path in changed]

    async def forget_stale(self) -> None:
        """Have the kernel forget the directory entries crashes changed."""
        stale, self.stale_entries = self.stale_entries, []
        if stale:
            await self.kernel.forget_entries(stale)

    def crash_now(self, seed: int | None = None,
                  keep: Callable[[Any], Callable[[int], bool] | None] | None = None) -> list[tuple[int, str]]:
        """The crash itself, one instant (no await): every file back to its durable state;
        torn by ``seed`` (each unsynced ``torn_unit`` survives with probability 1/2, drawn in
        inode order, then unit order), or as ``keep(file)`` says (a torn write's own units).
        The (inode, path) of the files it changed."""
        if self.names is not None:
            self.stale_entries += self.names.crash()
        rng = random.Random(seed) if seed is not None else None
        unit = self.torn_unit
        plan = []
        for ino, path, f in self.files():
            survives = keep(f) if keep is not None else None
            if rng is not None:
                draws = {u: rng.random() < 0.5 for u in _units(f.journal.unsynced_blocks(f), unit)}
                survives = lambda u, d=draws: d.get(u, False)  # noqa: E731
            plan.append((ino, path, f, survives))
        self.pending = []
        changed = self._revert_all(plan)
        if self.pending:  # e.g. ENOSPC regrowing a file before another was cut: once more
            changed += self._revert_all(self.pending)
        return changed

    def finish(self) -> bool:
        """Put back the files the last crash could not (another try); whether none is left."""
        if self.pending:
            self._revert_all(self.pending)
        return not self.pending

    def _revert_all(self, plan: list[tuple[int, str, Any, Any]]) -> list[tuple[int, str]]:
        """Revert each file of ``plan`` (inode, path, file, survives); those whose host refused
        go to :attr:`pending`, logged (a revert that failed left its journal whole, so a later
        one starts over). The (inode, path) of the files changed."""
        changed, failed = [], []
        for item in plan:
            ino, path, f, survives = item
            try:
                if f.journal.revert(f, survives, self.torn_unit):
                    self.changed(f)
                    changed.append((ino, path))
            except OSError as exc:
                log.error("crash: %s could not be put back to its durable state: %s", path,
                          exc.strerror or exc)
                failed.append(item)
        self.pending = failed
        return changed


def _units(blocks: list[int], unit: int) -> list[int]:
    """The ``unit``-byte pieces of the given 4 KiB blocks, in order, each once."""
    out: list[int] = []
    for b in blocks:
        first, last = b * BLOCK // unit, (b * BLOCK + BLOCK - 1) // unit
        for u in range(max(first, out[-1] + 1 if out else first), last + 1):
            out.append(u)
    return out


__all__ = ["Durability"]
