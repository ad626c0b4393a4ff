"""Which namespace changes a crash keeps, under ``[options] namespace_durability = "fsync"``.

The rule, after ext4 and XFS as applications must assume them (and as ALICE and CrashMonkey
model them): a change to a directory is durable once that directory has been fsynced after
it. A create, mknod, mkdir, symlink or link is durable once its parent is fsynced, or, for a
regular file, once the file itself is fsynced (both filesystems commit the transaction that
created the inode with it, so the new name is reachable after a crash); an unlink or rmdir
once its parent is fsynced; a rename once both its old and its new parent are (one fsync when
they are the same). A crash undoes every change not yet durable, newest first, each whole: a
rename goes back entire, with the name it replaced. (ext4 in fact commits everything pending
with any fsync; requiring the directories is stricter, and finds the bugs that bite on the
filesystems and mount options that do not.)

The namespace records each change with how to undo it and what it holds (a removed file must
keep its data while the removal may be undone); this module decides when a change is durable
and undoes the rest at a crash. With ``"immediate"`` (the default, LazyFS's) nothing is
recorded: every change is durable at once.
"""

from __future__ import annotations

from typing import Callable


class Change:
    """One namespace change that is not durable yet."""

    __slots__ = ("dirs", "file", "undo", "release", "entries")

    def __init__(self, dirs: set[int], file: int | None, undo: Callable[[], None],
                 release: Callable[[], None], entries: list[tuple[int, bytes]]) -> None:
        self.dirs = dirs  # the directories (inodes) still to be fsynced
        self.file = file  # a regular file whose own fsync also makes it durable, or None
        self.undo = undo  # put the namespace back as it was before the change
        self.release = release  # let go of what the change holds (it will not be undone)
        self.entries = entries  # the (directory, name) entries it changed


class NameChanges:
    """The namespace changes of a mount that a crash would undo, oldest first."""

    def __init__(self) -> None:
        self.pending: list[Change] = []
        self._undoing = False

    def record(self, dirs: set[int], entries: list[tuple[int, bytes]], undo: Callable[[], None],
               release: Callable[[], None] = lambda: None, file: int | None = None) -> None:
        """A change of ``entries`` (directory inode, name) was made; ``undo`` puts it back,
        ``release`` lets go of what it holds. (A change made by an undo is not recorded.)"""
        if not self._undoing:
            self.pending.append(Change(set(dirs), file, undo, release, entries))

    def synced(self, ino: int, is_dir: bool) -> None:
        """``ino`` was fsynced: what that makes durable is durable now."""
        if not self.pending:
            return
        kept = []
        for change in self.pending:
            if is_dir:
                change.dirs.discard(ino)
            if not change.dirs or (not is_dir and change.file == ino):
                change.release()
            else:
                kept.append(change)
        self.pending = kept

    def crash(self) -> list[tuple[int, bytes]]:
        """Undo every change not durable, newest first; the entries they changed (which the
        kernel may have cached as they were)."""
        entries: list[tuple[int, bytes]] = []
        self._undoing = True
        try:
            while self.pending:
                change = self.pending.pop()
                change.undo()
                change.release()
                entries += change.entries
        finally:
            self._undoing = False
        return entries

    def __len__(self) -> int:
        return len(self.pending)


__all__ = ["NameChanges", "Change"]
