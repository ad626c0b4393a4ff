"""The durable state of one regular file: what a power cut would leave of it.

With ``[options] durability = true`` every regular file keeps a :class:`Journal` of its
*durable state*: its data and size as of its last fsync/fdatasync. A journal holds only what
changed since: the size then, and the old content of each 4 KiB block below that size that a
write or truncate has changed since (blocks beyond it need nothing kept: a crash cuts them
off). Appending costs nothing; rewriting a block costs one 4 KiB copy the first time; the
extra memory is at most the blocks replaced.

:meth:`Durability.crash` puts every regular file back to its durable state at once (the
namespace is durable at once, as LazyFS has it: a file created and never fsynced keeps its
name and loses its data). With a ``seed`` the crash is *torn*: each unsynced 4 KiB block
survives or not, as drawn from the seed (the same seed, the same survivors). The kernel's page
cache is dropped around it. The crash itself is one instant (the files are reverted with no
await in between): writes that arrive while the cache is dropped (dirty pages the kernel
writes back because of the invalidation, with ``writeback_cache``, or a program still writing)
are kept as any write is, so those before the instant are reverted with the rest and those
after it stay; an fsync acknowledged meanwhile stays durable.

``sync(1)`` and ``syncfs(2)`` make nothing durable: pyfuse3 has no SYNCFS handler, so the
kernel only writes dirty pages back (as FUSE writes) and never sends an fsync.
"""

from __future__ import annotations

import errno
from typing import Any, Callable, Iterator


BLOCK = 4096


class Journal:
    """The durable state of one regular file: ``durable_size`` and ``saved`` (block number ->
    its content at the last fsync, for blocks below that size changed since; views into one
    copy per span kept, so a span costs its bytes and no more)."""

    __slots__ = ("file", "durable_size", "saved", "crashes", "_registry")

    def __init__(self, file: Any, registry: dict[Journal, Any]) -> None:
        self.file = file  # the file it keeps: size, read_range, write_range, set_size, held_spans
        self._registry = registry
        registry[self] = file
        self.durable_size = 0
        self.saved: dict[int, bytes | memoryview] = {}
        self.crashes = 0  # crashes that changed the file: an open sees each once, at fsync

    def close(self) -> None:
        """The file is gone: nothing to keep for it any more."""
        self._registry.pop(self, None)

    def fsync_error(self, seen: list[int]) -> int:
        """EIO once for an open (``seen``: the crashes it knew of) that a crash has changed the
        file under since: its writes before the crash are gone, so its next fsync must not
        say they are durable (Linux reports a lost writeback to each open file once)."""
        if seen[0] == self.crashes:
            return 0
        seen[0] = self.crashes
        return errno.EIO

    def before_write(self, f: Any, off: int, n: int) -> None:
        """Bytes [off, off+n) are about to change: keep the durable content of their blocks."""
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

    def commit(self, f: Any) -> None:
        """fsync/fdatasync: what the file holds now is durable."""
        self.durable_size = f.size
        self.saved = {}

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

    def revert(self, f: Any, survives: Callable[[int], bool] | None = None) -> bool:
        """Put the file back to its durable state (blocks for which ``survives`` says True keep
        what they hold now); whether anything changed. The result is the new durable state."""
        blocks = self.unsynced_blocks(f)
        if not blocks and f.size == self.durable_size:
            return False
        durable = self.durable_size
        new_size = durable
        for b in blocks:
            start = b * BLOCK
            if survives is not None and survives(b):
                if start + BLOCK > durable:
                    new_size = max(new_size, min(f.size, start + BLOCK))
                continue
            old = self.saved.get(b)
            if old is not None:
                f.write_range(start, old)
            if start + BLOCK > durable and start + BLOCK <= f.size:  # its new part: a hole
                lo = max(start, durable)
                f.write_range(lo, bytes(start + BLOCK - lo))
        f.set_size(new_size)
        self.durable_size = f.size
        self.saved = {}
        self.crashes += 1
        return True


def _held_blocks(f: Any, first: int, last: int) -> Iterator[tuple[int, int]]:
    """The runs ``(a, b)`` of blocks first..last (inclusive) in which the file holds data:
    a sparse file's holes cost nothing, however large."""
    for lo, hi in f.held_spans():
        a, b = max(first, lo // BLOCK), min(last, (hi - 1) // BLOCK)
        if a <= b:
            yield a, b


