"""The durable state of one regular file: what a power cut would leave of it.

With ``[options] durability = true`` every regular file keeps a :class:`Journal` of its
*durable state*: its data and size as of its last successful fsync/fdatasync. A journal holds
only what changed since: the size then, and the old content of each 4 KiB block below that
size that a write or truncate has changed since (blocks beyond it need nothing kept: a crash
cuts them off). Appending costs nothing; rewriting a block costs one 4 KiB copy the first
time; the extra memory is at most the blocks replaced.

A failed fsync (a fault rule on op=fsync, or the backing store's own error) is handled as
the mount's ``fsync_error`` model says (docs/crash.md has the table and its sources):

* ``linux`` (ext4, XFS): the dirty data the fsync covered is marked clean. It stays readable,
  but it is not durable, and a later fsync does not write it (there is nothing dirty left):
  its blocks keep their old durable content (:attr:`Journal.lost`) until they are written
  again. The error is reported once to each open file description (errseq): the one that got
  it sees 0 when it retries; every other open description sees EIO at its next fsync.
* ``keep``: nothing changes: the data stays dirty, and a retried fsync makes it durable.
* ``btrfs``: as ``linux``, and the file's content goes back to its durable state at once
  (btrfs drops the pages of a failed writeback: reads see what is on disk).

A crash counts as an error too: the next fsync of every open description of a file the crash
changed is EIO, once (its writes before the crash are gone).
"""

from __future__ import annotations

import errno
from typing import Any, Callable, Iterator

BLOCK = 4096
MODES = ("linux", "keep", "btrfs")


class OpenView:
    """What one open file description has seen of its file's errors (errseq's sample)."""

    __slots__ = ("seen",)

    def __init__(self, seen: int) -> None:
        self.seen = seen


class Journal:
    """The durable state of one regular file: ``durable_size``; ``saved`` (block number ->
    its durable content, for blocks below that size changed since: views into one copy per
    span kept); ``lost`` (blocks whose writeback failed and that were not written since: their
    durable content, which a later fsync keeps); ``errseq`` (errors so far)."""

    __slots__ = ("file", "durable_size", "saved", "lost", "errseq", "mode", "_registry")

    def __init__(self, file: Any, registry: dict[Journal, Any], mode: str = "linux") -> None:
        self.file = file  # the file it keeps: size, read_range, write_range, set_size, held_spans
        self._registry = registry
        registry[self] = file
        self.mode = mode
        self.durable_size = 0
        self.saved: dict[int, bytes | memoryview] = {}
        self.lost: dict[int, bytes | memoryview] = {}
        self.errseq = 0

    def close(self) -> None:
        """The file is gone: nothing to keep for it any more."""
        self._registry.pop(self, None)

    def opened(self) -> OpenView:
        """A new open description: it has seen every error so far."""
        return OpenView(self.errseq)

    # ---- changes ----

    def before_write(self, f: Any, off: int, n: int) -> None:
        """Bytes [off, off+n) are about to change: keep the durable content of their blocks."""
        if self.lost and n:
            for b in range(off // BLOCK, (off + n - 1) // BLOCK + 1):
                self.lost.pop(b, None)  # dirty again: the next fsync writes it
        end = min(off + n, self.durable_size)
        if off >= end:
            return  # all beyond the durable size (appending): nothing to keep
        self._keep(f, off // BLOCK, (end - 1) // BLOCK)

    def before_truncate(self, f: Any, size: int) -> None:
        """The file is about to be cut to ``size``: keep the durable content being cut. Holes
        need nothing kept: cut, they read as zeros until written (and a write keeps them),
        and a crash that restores the size brings them back as holes."""
        end = min(f.size, self.durable_size)
        if size >= end:
            return
        for a, b in _held_blocks(f, size // BLOCK, (end - 1) // BLOCK):
            self._keep(f, a, b)

    def _keep(self, f: Any, first: int, last: int) -> None:
        saved = self.saved
        b = first
        while b <= last:  # one copy per run of blocks not kept yet, cut into blocks
            if b in saved:
                b += 1
                continue
            end = b
            while end + 1 <= last and end + 1 not in saved:
                end += 1
            self._keep_run(f, b, end)
            b = end + 1

    def _keep_run(self, f: Any, first: int, last: int) -> None:
        durable = self.durable_size
        lo = first * BLOCK
        span = memoryview(f.read_range(lo, min((last + 1) * BLOCK, durable) - lo))
        for b in range(first, last + 1):
            at = b * BLOCK - lo
            self.saved[b] = span[at:at + min(BLOCK, durable - b * BLOCK)]

    # ---- fsync ----

    def fsync(self, f: Any, view: OpenView | None) -> int:
        """A successful fsync/fdatasync through ``view``: what the file holds now is durable,
        but for its lost blocks. EIO (once per description) for an error it has not seen."""
        self.commit(f)
        if view is None or view.seen == self.errseq:
            return 0
        view.seen = self.errseq
        return errno.EIO

    def commit(self, f: Any) -> None:
        """What the file holds now is durable, but for its lost blocks, whose durable content
        stays what it was (the pages were marked clean when their writeback failed)."""
        self.durable_size = size = f.size
        self.saved = {b: old[:max(0, min(BLOCK, size - b * BLOCK))]
                      for b, old in self.lost.items() if b * BLOCK < size}

    def writeback_failed(self, f: Any, view: OpenView | None) -> None:
        """An fsync through ``view`` failed: the ``mode`` model (see the module's text)."""
        if self.mode == "keep":
            return
        self.errseq += 1
        if view is not None:
            view.seen = self.errseq  # it was told: its retry gets 0
        for b in self.unsynced_blocks(f):
            if b not in self.lost:
                self.lost[b] = self._durable_block(f, b)
        if self.mode == "btrfs":
            self.revert(f, count=False)

    def _durable_block(self, f: Any, b: int) -> bytes:
        """Block ``b`` as the durable state has it, a whole block: below the durable size what
        was kept (or, unchanged, what the file holds), zeros above it."""
        start = b * BLOCK
        old = self.saved.get(b)
        if old is None:
            old = f.read_range(start, max(0, min(BLOCK, self.durable_size - start)))
        return bytes(old) + bytes(BLOCK - len(old))

    # ---- what a crash would change ----

    def unsynced_blocks(self, f: Any) -> list[int]:
        """The blocks whose content may differ from the durable state, in order: those kept,
        and beyond the durable size those holding data and the one the size ends in (a hole
        there is a hole either way: a sparse file a TiB long has no more blocks than data)."""
        blocks = set(self.saved)
        durable = self.durable_size
        if f.size > durable:
            last = (f.size - 1) // BLOCK
            for a, b in _held_blocks(f, durable // BLOCK, last):
                blocks.update(range(a, b + 1))
            blocks.add(last)
        return sorted(blocks)

    def unsynced_bytes(self, f: Any) -> int:
        """Bytes a crash would change: of the changed blocks below the durable size, what the
        file still holds; then what lies beyond the durable size, or what a truncation cut."""
        size = f.size
        changed = sum(min(len(v), max(0, size - b * BLOCK)) for b, v in self.saved.items())
        return changed + abs(size - self.durable_size)

    def revert(self, f: Any, survives: Callable[[int], bool] | None = None, unit: int = BLOCK,
               count: bool = True) -> bool:
        """Put the file back to its durable state; whether anything changed. With ``survives``
        (a torn crash) each ``unit``-byte piece of the unsynced data for which it says True
        keeps what it holds now. The result is the new durable state; ``count``: the open
        descriptions learn of it at their next fsync."""
        blocks = self.unsynced_blocks(f)
        if not blocks and f.size == self.durable_size:
            return False
        durable, size = self.durable_size, f.size
        new_size = _torn_size(durable, size, unit, survives, blocks)
        for b in blocks:
            start = b * BLOCK
            top = min(start + BLOCK, max(new_size, size))  # the block's bytes that exist
            kept = self.saved.get(b)
            # what goes back: the kept durable bytes, else (unchanged below the durable size)
            # only the part beyond it; beyond the durable size, zeros (a hole)
            lo0 = start if kept is not None else max(start, durable)
            want = bytes(kept or b"") + bytes(max(0, top - lo0 - len(kept or b"")))
            for lo, hi in _restored_runs(lo0, len(want), unit, survives):
                f.write_range(lo, want[lo - lo0:hi - lo0])
        f.set_size(new_size)
        self.durable_size = f.size
        self.saved, self.lost = {}, {}
        if count:
            self.errseq += 1
        return True


def _torn_size(durable: int, size: int, unit: int, survives: Callable[[int], bool] | None,
               blocks: list[int]) -> int:
    """The size after a crash: the durable size, or further if a unit of the grown part
    survives (the last surviving unit's end, at most the size before the crash). Only the
    units of the unsynced ``blocks`` are drawn (a sparse file's holes are not), so only they
    are asked."""
    if survives is None or size <= durable:
        return durable
    new = durable
    lo, hi = durable // unit, (size - 1) // unit
    seen = -1
    for b in blocks:
        for u in range(max(b * BLOCK // unit, seen + 1), (b * BLOCK + BLOCK - 1) // unit + 1):
            seen = u
            if lo <= u <= hi and survives(u):
                new = max(new, min(size, (u + 1) * unit))
    return new


def _restored_runs(start: int, n: int, unit: int,
                   survives: Callable[[int], bool] | None) -> Iterator[tuple[int, int]]:
    """The byte ranges of [start, start+n) that go back to their durable content: all of it,
    or (torn) the units ``survives`` says are lost, merged into runs."""
    if survives is None:
        if n:
            yield start, start + n
        return
    lo = None
    end = start + n
    pos = start
    while pos < end:
        u = pos // unit
        nxt = min(end, (u + 1) * unit)
        if survives(u):
            if lo is not None:
                yield lo, pos
                lo = None
        elif lo is None:
            lo = pos
        pos = nxt
    if lo is not None:
        yield lo, end


def _held_blocks(f: Any, first: int, last: int) -> Iterator[tuple[int, int]]:
    """The runs ``(a, b)`` of blocks first..last (inclusive) in which the file holds data:
    a sparse file's holes cost nothing, however large."""
    for lo, hi in f.held_spans():
        a, b = max(first, lo // BLOCK), min(last, (hi - 1) // BLOCK)
        if a <= b:
            yield a, b


__all__ = ["Journal", "OpenView", "BLOCK", "MODES"]
