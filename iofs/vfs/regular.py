"""regular: the driver behind every regular file users create. Memory-backed, POSIX, capped.

The data is kept in chunks of 1 MiB (a dict from chunk number to a bytearray that holds the
chunk's data up to the last byte written), so holes cost nothing and read as zeros, and growing a
file never copies what it already holds. Reads and writes move the bytes with uiomove, one call
per chunk touched.

Every regular file of a mount draws on one :class:`MemoryPool`: a write that needs memory beyond
the cap moves what fits (a short write) or fails with ENOSPC, and so does a MemoryError. A
write or truncate past the maximum file size (uio_limit) fails with EFBIG. IO_APPEND writes go to
the end of the file whatever offset they carry.

With durability on (``journal``), every change first tells the file's journal, which keeps what
the file held at its last fsync (:mod:`iofs.durability.journal`); fsync makes the file durable. The
first fsync of an open after a crash changed the file under it fails with EIO (its earlier
writes were lost), once.
"""

from __future__ import annotations

import errno
from typing import Any

from ..core.uio import uio_trim_to_limit, uiomove
from ..dev.cdevpriv import devfs_get_cdevpriv, devfs_set_cdevpriv
from ..dev.driver import IO_APPEND, Driver
from ..drivers.zero import ZERO_REGION
from .pool import MemoryPool

CHUNK = 1 << 20
assert len(ZERO_REGION) >= CHUNK



def truncate_refused(dev: Any, size: int) -> int:
    """The errno of a d_truncate to ``size`` no regular file takes: EINVAL below 0, EFBIG
    past the device's ``limit`` (the largest offset a write may reach); 0 if it may."""
    if size < 0:
        return errno.EINVAL
    if dev is not None and dev.limit is not None and size > dev.limit:
        return errno.EFBIG
    return 0

class RegularFile(Driver):
    description = "memory-backed regular file (made by create/mknod; not for device nodes)"

    def __init__(self, pool: MemoryPool) -> None:
        self.pool = pool
        self.chunks: dict[int, bytearray] = {}
        self.size = 0
        self.journal: Any = None  # its iofs.durability Journal with durability on
        self.node: Any = None  # the inode it serves (the crash plane names files by it)

    def d_size(self, dev):
        return self.size

    def held_bytes(self) -> int:
        """Memory the data holds, in whole 4 KiB pages as tmpfs counts it (st_blocks): holes
        hold none, and a page with any byte in it counts whole (rounding down would make a
        file of a few bytes look like one big hole to tar --sparse)."""
        return sum((len(c) + 4095) // 4096 for c in self.chunks.values()) * 4096

    def d_read(self, dev, uio, ioflag):
        off = uio.uio_offset
        if off < 0:
            return errno.EINVAL
        end = min(self.size, off + uio.uio_resid)
        error = 0
        while off < end and not error:
            ci, co = divmod(off, CHUNK)
            n = min(end - off, CHUNK - co)
            chunk = self.chunks.get(ci)
            held = len(chunk) - co if chunk is not None else 0
            if held > 0:
                n = min(n, held)
                with memoryview(chunk) as mv:
                    error = uiomove(mv[co:co + n], n, uio)
            else:
                error = uiomove(ZERO_REGION[:n], n, uio)  # a hole
            off = uio.uio_offset
        return error

    def d_write(self, dev, uio, ioflag):
        if ioflag & IO_APPEND:
            uio.uio_offset = self.size
        error, excess = uio_trim_to_limit(uio)
        if error:
            return error
        journal = self.journal
        if journal is not None:
            journal.before_write(self, uio.uio_offset, uio.uio_resid)
        start = uio.uio_resid
        while uio.uio_resid > 0 and not error:
            off = uio.uio_offset
            ci, co = divmod(off, CHUNK)
            n = min(uio.uio_resid, CHUNK - co)
            chunk = self.chunks.get(ci)
            grow = co + n - (len(chunk) if chunk is not None else 0)
            if grow > 0:
                avail = self.pool.available()
                if grow > avail:
                    n -= grow - avail
                    grow = avail
                    if n <= 0:
                        error = errno.ENOSPC
                        break
                try:
                    if chunk is None:
                        chunk = self.chunks[ci] = bytearray(co + n)
                    else:
                        chunk.extend(bytes(grow))
                except MemoryError:
                    error = errno.ENOSPC
                    break
                self.pool.used += grow
            with memoryview(chunk) as mv:
                error = uiomove(mv[co:co + n], n, uio)
            if uio.uio_offset > self.size:
                self.size = uio.uio_offset
        uio.uio_resid += excess
        if error == errno.ENOSPC and uio.uio_resid != start + excess:
            error = 0  # what fitted is a short write; the next write gets ENOSPC
        return error

    def d_truncate(self, dev, size: int) -> int:
        """Set the size: shrinking frees the memory past it, growing makes a hole. 0 or EFBIG."""
        error = truncate_refused(dev, size)
        if error:
            return error
        if self.journal is not None:
            self.journal.before_truncate(self, size)
        self.set_size(size)
        return 0

    def set_size(self, size: int) -> None:
        """Cut or extend the file to ``size`` (a hole), giving memory past it back."""
        if size < self.size:
            last, keep = divmod(size, CHUNK)
            for ci in [c for c in self.chunks if c > last or (c == last and keep == 0)]:
                self.pool.used -= len(self.chunks.pop(ci))
            chunk = self.chunks.get(last)
            if chunk is not None and len(chunk) > keep:
                self.pool.used -= len(chunk) - keep
                del chunk[keep:]
        self.size = size

    def d_open(self, dev, oflags, td):
        if self.journal is None:
            return 0
        return devfs_set_cdevpriv(self.journal.opened())  # the errors this open has seen

    def d_fsync(self, dev, datasync):
        journal = self.journal
        if journal is None:
            return 0
        error, view = devfs_get_cdevpriv()
        return journal.fsync(self, view if not error else None)

    def held_spans(self) -> list[tuple[int, int]]:
        """The byte ranges [start, end) the file holds data for, in order (the rest are holes,
        however large the file)."""
        return sorted((ci * CHUNK, ci * CHUNK + len(c)) for ci, c in self.chunks.items() if c)

    def read_range(self, off: int, n: int) -> bytearray:
        """A copy of the file's bytes [off, off+n), holes and what lies past the end as zeros."""
        out = bytearray(n)
        pos = off
        while pos < off + n:
            ci, co = divmod(pos, CHUNK)
            take = min(off + n - pos, CHUNK - co)
            chunk = self.chunks.get(ci)
            if chunk is not None and co < len(chunk):
                got = min(take, len(chunk) - co)
                with memoryview(chunk) as mv:
                    out[pos - off:pos - off + got] = mv[co:co + got]
            pos += take
        return out

    def write_range(self, off: int, data: bytes) -> None:
        """Put ``data`` at ``off`` whatever the pool says (a crash restoring what was there),
        extending the size if it ends beyond it."""
        pos = 0
        while pos < len(data):
            ci, co = divmod(off + pos, CHUNK)
            take = min(len(data) - pos, CHUNK - co)
            chunk = self.chunks.get(ci)
            if chunk is None:
                chunk = self.chunks[ci] = bytearray()
            if len(chunk) < co + take:
                self.pool.used += co + take - len(chunk)
                chunk.extend(bytes(co + take - len(chunk)))
            chunk[co:co + take] = data[pos:pos + take]
            pos += take
        self.size = max(self.size, off + len(data))

    def release_storage(self) -> None:
        """Give every byte back to the pool (the file is gone)."""
        self.set_size(0)
        if self.journal is not None:
            self.journal.close()
            self.journal = None
