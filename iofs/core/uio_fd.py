"""A uio moved to or from a file descriptor: what FreeBSD's vnode-backed md(4) and ``vn`` do
when they hand the request's uio down to VOP_READ/VOP_WRITE of the backing vnode.

:func:`uio_preadv` and :func:`uio_pwritev` are uiomove(9) with a file in place of the driver's
buffer: one ``preadv(2)``/``pwritev(2)`` at ``uio_offset``, straight into (or out of) the
uio's remaining iovecs, with no copy in Python. The contract:

* The direction is the uio's: ``uio_preadv`` needs ``UIO_READ`` (file to iovecs),
  ``uio_pwritev`` ``UIO_WRITE`` (iovecs to file); the other is an AssertionError, as uiomove's
  KASSERT.
* At most ``uio_resid`` bytes move, from the uio's position on (lazy skipping, as uiomove: an
  iovec the move exhausts stays current), in one system call over at most ``UIO_MAXIOV``
  pieces. What moved advances the iovecs, ``uio_resid`` and ``uio_offset``, exactly as a
  uiomove of that many bytes would.
* A short count is not an error: a read returns less only at end of file, a write only when
  the file cannot take more (the next one gets the errno, as write(2) says). 0 is returned.
* A failing call moves nothing and returns its errno (EIO, ENOSPC, EBADF, EFBIG, ...): the
  error of the backing file, as it is.
* ``uio_resid <= 0``: nothing happens (0). A negative ``uio_offset``: EINVAL.
  ``UIO_NOCOPY``: EINVAL (there is nothing to move without memory to move it through).
* A ``UIO_USERSPACE`` iovec that cannot take the transfer (read-only memory for a read, a
  released buffer) is EFAULT, nothing moved; in ``UIO_SYSSPACE`` it is a bug and raises.

Under :func:`~iofs.core.uio.start_moves` each call is recorded as ``("uio_preadv", n, offset)``
or ``("uio_pwritev", ...)``, like a uiomove.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from . import uio as _uio
from .segments import _advance
from .uio import OFF_MAX, UIO_MAXIOV, UIO_NOCOPY, UIO_READ, UIO_USERSPACE, UIO_WRITE, Uio

__all__ = ["uio_preadv", "uio_pwritev"]

_FAULTS = (TypeError, ValueError, BufferError)


def uio_preadv(fd: int, uio: Uio) -> int:
    """Read from ``fd`` at ``uio_offset`` into the uio's iovecs (see the module's text)."""
    if uio.uio_rw != UIO_READ:
        raise AssertionError(f"uio_preadv: uio_rw {uio.uio_rw!r} is not UIO_READ")
    # inline, the request path's case: one user-space iovec holds the whole move
    n, i, skip, off = uio.uio_resid, uio._idx, uio._skip, uio.uio_offset
    lens = uio._lens
    if 0 < n and i < len(lens) and n <= lens[i] - skip and 0 <= off <= OFF_MAX \
            and uio.uio_segflg == UIO_USERSPACE and not _uio._watching:
        seg = uio._segs[i]
        try:
            got = os.preadv(fd, [seg[skip:skip + n] if (skip or n != len(seg)) else seg], off)
        except OSError as exc:
            return exc.errno or errno.EIO
        except _FAULTS:
            return errno.EFAULT
        uio._skip = skip + got
        uio.uio_resid = n - got
        uio.uio_offset = off + got
        return 0
    return _transfer(fd, uio, os.preadv, "uio_preadv")


def uio_pwritev(fd: int, uio: Uio) -> int:
    """Write the uio's iovecs to ``fd`` at ``uio_offset`` (see the module's text)."""
    if uio.uio_rw != UIO_WRITE:
        raise AssertionError(f"uio_pwritev: uio_rw {uio.uio_rw!r} is not UIO_WRITE")
    n, i, skip, off = uio.uio_resid, uio._idx, uio._skip, uio.uio_offset
    lens = uio._lens
    if 0 < n and i < len(lens) and n <= lens[i] - skip and 0 <= off <= OFF_MAX \
            and uio.uio_segflg == UIO_USERSPACE and not _uio._watching:
        seg = uio._segs[i]
        try:
            got = os.pwritev(fd, [seg[skip:skip + n] if (skip or n != len(seg)) else seg], off)
        except OSError as exc:
            return exc.errno or errno.EIO
        except _FAULTS:
            return errno.EFAULT
        uio._skip = skip + got
        uio.uio_resid = n - got
        uio.uio_offset = off + got
        return 0
    return _transfer(fd, uio, os.pwritev, "uio_pwritev")


def _transfer(fd: int, uio: Uio, call: Any, name: str) -> int:
    n = uio.uio_resid
    if n <= 0:
        return 0
    off = uio.uio_offset
    if off < 0 or off > OFF_MAX:
        return errno.EINVAL
    if uio.uio_segflg == UIO_NOCOPY:
        return errno.EINVAL
    i, skip = uio._idx, uio._skip
    lens = uio._lens
    if i >= len(lens):
        return 0
    if n <= lens[i] - skip:  # the whole move in the current iovec: every request of the path
        seg = uio._segs[i]
        pieces = [seg[skip:skip + n] if (skip or n != len(seg)) else seg]
    else:
        pieces = _pieces(uio, n)
        if not pieces:
            return 0
    try:
        got = call(fd, pieces, off)
    except OSError as exc:
        return exc.errno or errno.EIO
    except _FAULTS:
        if uio.uio_segflg == UIO_USERSPACE:
            return errno.EFAULT
        raise
    if got:
        _advance(uio, got, False)
        uio.uio_resid = n - got
        uio.uio_offset = off + got
    if _uio._watching:
        _uio._moved(name, got, uio)
    return 0


def _pieces(uio: Uio, n: int) -> list[memoryview]:
    """The next ``n`` bytes of the uio's iovecs as views (empty iovecs left out), at most
    UIO_MAXIOV of them."""
    segs, lens = uio._segs, uio._lens
    out: list[memoryview] = []
    skip = uio._skip
    for k in range(uio._idx, len(lens)):
        take = min(lens[k] - skip, n)
        if take > 0:
            seg = segs[k]
            out.append(seg[skip:skip + take] if (skip or take != len(seg)) else seg)
            n -= take
            if n == 0 or len(out) == UIO_MAXIOV:
                break
        skip = 0
    return out
