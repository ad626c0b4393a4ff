"""The read/write path: a request's buffer in a BSD uio, handed to the driver's d_read or
d_write through the guard, and the syscall layer's rule on what comes back. Nothing here knows
FUSE: a failure is ``OSError(errno)``.

* read: a UIO_READ/UIO_USERSPACE uio over the first ``size`` bytes of a reply buffer, with
  uio_offset = offset, goes to d_read, and the reply is a memoryview of exactly
  ``size - uio_resid`` bytes (bytes the driver counted as moved but never filled are zeros).
  Reply buffers are never allocated per request (faulting in fresh pages costs more than the
  copy): a driver that cannot sleep shares one buffer and a per-open uio (reset, not
  rebuilt), since nothing else runs until the reply is sent; a read that may sleep gets a
  buffer of its own (pooled, or a fresh anonymous mapping that costs no memory until the
  driver moves data into it) and its own uio.
* write: a UIO_WRITE uio over the delivered bytes; the reply is ``size - uio_resid``. For a
  seekable device with a size limit (uio_limit), a write at or past the limit fails with EFBIG
  and one crossing it is cut short before the driver sees it.
* Both directions end in one place, :func:`_result`: the guard's check of what the driver
  returned and left in the uio, and FreeBSD's dofileread/dofilewrite rule
  (:func:`iofs.dev.guard.outcome`).
"""

from __future__ import annotations

import errno
import mmap
import os
from typing import Any

from ..core.uio import UIO_READ, UIO_USERSPACE, UIO_WRITE, Uio, uio_unfilled
from ..dev import guard
from ..dev.cdevpriv import current_file
from .namespace import Namespace
from .openfile import OpenFile

REPLY_BUFFER = 1 << 20  # the largest request the kernel sends (direct_io, max_pages 256)
POOLED_BUFFERS = 8      # reply buffers of sleeping reads kept for reuse
_NOTHING = memoryview(b"")


def _result(of: OpenFile, entry: str, size: int, resid: Any, error: Any) -> int:
    """Bytes moved by a d_read/d_write of ``size`` bytes, or OSError with the errno the
    program sees: the one result handler of both directions. (Its common case, 0 and a sane
    resid, is a few tests, which the paths of every request make inline before calling it; a
    false value that is neither None nor 0, such as False or 0.0, is no errno: EIO.)"""
    if error or (error is not None and type(error) is not int) \
            or type(resid) is not int or not 0 <= resid <= size:
        moved, error = guard.outcome(of.dev, entry, size, resid, error)
        if error:
            raise OSError(error, os.strerror(error))
        return moved
    return size - resid


class DataPath:
    """Reads and writes of the open files of one mount (the shared reply buffers are its)."""

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self._bufs: list[memoryview] = []  # reply buffers of reads that may sleep
        self._reply = memoryview(bytearray(REPLY_BUFFER))  # the reply buffer of all other reads
        self._reply_len = REPLY_BUFFER

    async def read(self, of: OpenFile, off: int, size: int) -> memoryview:
        """d_read over ``size`` (> 0) bytes at ``off``: the reply."""
        if of.read_async:
            return await self._read_sleeping(of, off, size)
        if size > self._reply_len:
            self._reply = memoryview(bytearray(size))
            self._reply_len = size
        uio = of.read_uio
        uio.reset(self._reply, size, 0 if of.stream else off)
        current_file.set(of)
        try:
            error = of.d_read(of.dev, uio, of.ioflag)
        except BaseException as exc:
            error = guard.raised(of.dev, "d_read", exc)
        stats = of.stats
        stats.reads += 1
        resid = uio.uio_resid
        if error or (error is not None and type(error) is not int) \
                or type(resid) is not int or not 0 <= resid <= size:
            moved = _result(of, "d_read", size, resid, error)
        else:  # (the common case of _result, inline: this is every read)
            moved = size - resid
        if uio._holes is not None or moved > uio._skip:
            _unfilled_to_zeros(self._reply, uio, moved)
        stats.bytes_read += moved
        if of.times:
            self.ns.accessed(of.node)
        return self._reply[:moved]

    async def _read_sleeping(self, of: OpenFile, off: int, size: int) -> memoryview:
        """read for a driver that may sleep: its reply buffer and uio are its own."""
        bufs = self._bufs
        buf = bufs.pop() if bufs and len(bufs[-1]) >= size else _fresh_buffer(size)
        try:
            uio = Uio.single(buf, size, UIO_READ, UIO_USERSPACE, 0 if of.stream else off,
                             of.td, of.limit, of.flags)
            current_file.set(of)
            try:
                error = await of.d_read(of.dev, uio, of.ioflag)
            except BaseException as exc:
                error = guard.raised(of.dev, "d_read", exc)
            of.stats.reads += 1
            try:
                moved = _result(of, "d_read", size, uio.uio_resid, error)
                if uio._holes is not None or moved > uio._skip:
                    _unfilled_to_zeros(buf, uio, moved)
            finally:
                # the buffer goes back to the pool for another sleeping read: a driver that kept
                # this uio must not be able to move data into that read's reply
                uio._segs[0] = _NOTHING
                uio._lens[0] = uio.uio_resid = 0
            of.stats.bytes_read += moved
            return buf[:moved]
        finally:
            if len(buf) == REPLY_BUFFER and len(bufs) < POOLED_BUFFERS:
                bufs.append(buf)  # the reply is sent before any other task can take it

    async def write(self, of: OpenFile, off: int, data: Any) -> int:
        """d_write of ``data`` at ``off``: the bytes taken."""
        size = len(data)
        if of.limit is not None and not of.stream:
            # uio_limit: a write at or past it fails with EFBIG, one crossing it is cut short
            if off >= of.limit:
                of.stats.writes += 1
                of.stats.errors += 1
                raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
            if off + size > of.limit:
                size = of.limit - off
        if of.write_async:
            uio = Uio.single(memoryview(data), size, UIO_WRITE, UIO_USERSPACE,
                             0 if of.stream else off, of.td, of.limit, of.flags)
        else:
            uio = of.write_uio  # cannot sleep: one uio per open serves all its writes
            uio.reset(memoryview(data), size, 0 if of.stream else off)
        current_file.set(of)
        try:
            error = of.d_write(of.dev, uio, of.ioflag)
            if of.write_async:
                error = await error
        except BaseException as exc:
            error = guard.raised(of.dev, "d_write", exc)
        uio._segs[0] = _NOTHING  # do not keep the request's bytes alive until the next write
        stats = of.stats
        stats.writes += 1
        resid = uio.uio_resid
        if error or (error is not None and type(error) is not int) \
                or type(resid) is not int or not 0 <= resid <= size:
            moved = _result(of, "d_write", size, resid, error)
        else:  # (the common case of _result, inline: this is every write)
            moved = size - resid
        stats.bytes_written += moved
        if of.times and moved:
            self.ns.touched(of.node)
        return moved


def _unfilled_to_zeros(buf: memoryview, uio: Uio, moved: int) -> None:
    """Zeros for the bytes of the reply a d_read counted as moved but never filled (skipped,
    or claimed by lowering uio_resid): the reply buffer held another read's data, maybe of
    another user's file. (The inline test before the call is the cheap form of "are there
    any": the read path pays it on every request.)"""
    for start, end in uio_unfilled(uio, moved):
        buf[start:end] = bytes(end - start)


def _fresh_buffer(size: int) -> memoryview:
    """A reply buffer for a read that may sleep: a request-sized one for small reads, a
    REPLY_BUFFER-sized anonymous mapping (no memory until written) for the rest, so that
    thousands of readers asleep in a driver cost no RSS for their buffers."""
    if size <= 64 * 1024:
        return memoryview(bytearray(size))
    return memoryview(mmap.mmap(-1, max(size, REPLY_BUFFER)))


__all__ = ["DataPath", "REPLY_BUFFER"]
