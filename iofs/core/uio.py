"""The BSD face: ``struct iovec``, ``struct uio``, uiomove(9) and friends.

Semantics follow FreeBSD uio(9) and ``sys/kern/subr_uio.c`` (where the texts disagree, FreeBSD
wins), with the illumos helpers (uiocopy, uioskip, ureadc, uwritec) and illumos' uio_limit.
Everything runs on :mod:`iofs.core.segments`, the same walker as :mod:`iofs.core.iov_iter`, with lazy
skipping (``eager=False``) and errno returns.

The model of memory, since Python has no address spaces:

* An iovec's base is any buffer; iofs keeps a memoryview of it and never copies it.
* ``UIO_USERSPACE`` iovecs may *fault*: a move into a read-only buffer, or touching a released
  one, is what copyout/copyin failing is in a kernel. uiomove returns ``EFAULT``; the iovecs
  moved before the faulting one stay consumed and the faulting step counts for nothing.
* ``UIO_SYSSPACE`` iovecs are kernel memory: a fault there is a bug (a kernel would panic), so
  the Python exception propagates.
* ``UIO_NOCOPY`` moves nothing and advances everything as if it had.
* Where the uio's iovecs are bytes that go out whole (a reply buffer, not the program's own
  memory), bytes a read skipped (uioskip, UIO_NOCOPY) would carry whatever the buffer held
  before: :func:`uio_unfilled` names them, so that their owner can clear them.
* A ``uio_rw`` that is neither ``UIO_READ`` nor ``UIO_WRITE`` is a programming error:
  AssertionError, like FreeBSD's KASSERT, raised even under ``python -O``.
* A driver buffer too short for the ``n`` it names, or read-only where data must go, is also a
  driver bug (ValueError/TypeError), never an errno.
"""

from __future__ import annotations

import errno
import sys
from contextvars import ContextVar
from typing import Any, Iterable

from .iovec import IoVec
from .segments import (
    Cursor,
    SegmentFault,
    as_bytes_view,
    step_from_segment,
    step_to_segment,
    walk,
)
from .td import Td

__all__ = [
    "IoVec", "Uio", "Td",
    "UIO_READ", "UIO_WRITE", "UIO_USERSPACE", "UIO_SYSSPACE", "UIO_NOCOPY",
    "UIO_MAXIOV", "IOSIZE_MAX", "OFF_MAX",
    "uiomove", "uiomove_nofault", "uiomove_frombuf",
    "uiocopy", "uioskip", "ureadc", "uwritec", "cloneuio", "copyinuio", "uio_trim_to_limit",
    "uio_unfilled", "start_moves", "stop_moves",
]

# enum uio_rw
UIO_READ = 0
UIO_WRITE = 1
# enum uio_seg
UIO_USERSPACE = 0
UIO_SYSSPACE = 1
UIO_NOCOPY = 2

UIO_MAXIOV = 1024
IOSIZE_MAX = sys.maxsize  # SSIZE_MAX; FreeBSD clamps to INT_MAX when debug.iosize_max_clamp is set
OFF_MAX = (1 << 63) - 1


class Uio(Cursor):
    """``struct uio``: a request to move ``uio_resid`` bytes over a list of iovecs.

    ``iovs`` are IoVecs (plain buffers are accepted as whole-buffer iovecs). ``uio_resid``
    defaults to the sum of the iovec lengths and is trusted afterwards: nothing recomputes it, and
    it may differ from what the iovecs hold (a move stops at whichever runs out first).

    ``uio_iov`` is the sequence of the remaining iovecs, ``uio_iov[0]`` the current one (which may
    be exhausted, ``iov_len == 0``: BSD skips it only when the next move reaches it);
    ``uio_iovcnt == len(uio_iov)``. ``uio_offset`` and ``uio_loffset`` are the same value.
    ``uio_limit`` (illumos ``uio_llimit``) is the offset a write may not cross, or None.
    ``uio_td`` is who asked (a :class:`Td`), ``uio_fmode`` the open flags.
    """

    __slots__ = ("uio_resid", "uio_offset", "uio_rw", "uio_segflg", "uio_td", "uio_limit", "uio_fmode",
                 "_holes")

    def __init__(
        self,
        iovs: Iterable[Any],
        *,
        rw: int,
        segflg: int = UIO_SYSSPACE,
        offset: int = 0,
        resid: int | None = None,
        limit: int | None = None,
        td: Any = None,
        fmode: int = 0,
    ) -> None:
        segs = []
        lens = []
        for v in iovs:
            if type(v) is not IoVec:
                v = IoVec(v)
            segs.append(v._buf[v._off:] if v._off else v._buf)
            lens.append(v.iov_len)
        self._segs = segs
        self._lens = lens
        self._idx = 0
        self._skip = 0
        self._holes: list[tuple[int, int, int]] | None = None  # (idx, skip, n) a read skipped
        self.uio_resid = sum(lens) if resid is None else resid
        self.uio_offset = offset
        self.uio_rw = rw
        self.uio_segflg = segflg
        self.uio_td = td
        self.uio_limit = limit
        self.uio_fmode = fmode

    @classmethod
    def single(cls, base: memoryview, n: int, rw: int, segflg: int, offset: int,
               td: Any = None, limit: int | None = None, fmode: int = 0) -> Uio:
        """One iovec over the first ``n`` bytes of the byte memoryview ``base``: the request path.

        Same result as ``Uio([IoVec(base, n)], ...)`` without the per-argument checks.
        """
        uio = cls.__new__(cls)
        uio._segs = [base]
        uio._lens = [n]
        uio._idx = 0
        uio._skip = 0
        uio._holes = None
        uio.uio_resid = n
        uio.uio_offset = offset
        uio.uio_rw = rw
        uio.uio_segflg = segflg
        uio.uio_td = td
        uio.uio_limit = limit
        uio.uio_fmode = fmode
        return uio

    def reset(self, base: memoryview, n: int, offset: int) -> None:
        """Make this uio a fresh request over the first ``n`` bytes of ``base`` at ``offset``,
        keeping rw, segflg, td, limit and fmode: the allocation-free form of :meth:`single`
        for a caller that serves one request at a time with it."""
        self._segs[0] = base
        self._lens[0] = n
        self._idx = self._skip = 0
        self._holes = None
        self.uio_resid = n
        self.uio_offset = offset

    @property
    def uio_loffset(self) -> int:
        return self.uio_offset

    @uio_loffset.setter
    def uio_loffset(self, value: int) -> None:
        self.uio_offset = value

    @property
    def uio_iov(self) -> tuple[IoVec, ...]:
        """The remaining iovecs, current first. A snapshot: drivers must not write uio_iov."""
        i, skip = self._idx, self._skip
        return tuple(IoVec._at(self._segs[k], skip if k == i else 0,
                               self._lens[k] - (skip if k == i else 0))
                     for k in range(i, len(self._segs)))

    @property
    def uio_iovcnt(self) -> int:
        return max(len(self._lens) - self._idx, 0)

    def __repr__(self) -> str:
        rw = {UIO_READ: "UIO_READ", UIO_WRITE: "UIO_WRITE"}.get(self.uio_rw, self.uio_rw)
        return (f"Uio({rw}, iovcnt={self.uio_iovcnt}, offset={self.uio_offset}, "
                f"resid={self.uio_resid}, segflg={self.uio_segflg})")


# ---- watching moves (the trace's detail) -------------------------------------------------------

_watching = False  # set once anyone has watched: until then uiomove pays one global check
_moves: ContextVar[list | None] = ContextVar("iofs_moves", default=None)


def start_moves() -> list:
    """Record every uiomove/uiomove_frombuf this task makes, as ``(name, bytes, uio_offset
    after)``, into the list returned, until :func:`stop_moves`."""
    global _watching
    _watching = True
    moves: list = []
    _moves.set(moves)
    return moves


def stop_moves() -> None:
    _moves.set(None)


def _moved(name: str, n: int, uio: Uio) -> None:
    moves = _moves.get()
    if moves is not None:
        moves.append((name, n, uio.uio_offset))


def uiomove(buf: Any, n: int, uio: Uio) -> int:
    """Move min(n, uio_resid) bytes between ``buf`` and the uio's iovecs; return 0 or EFAULT.

    UIO_READ copies from ``buf`` into the iovecs, UIO_WRITE from the iovecs into ``buf``. Each
    step moves ``min(iov_len, n)`` and advances iov_base/iov_len/uio_resid/uio_offset by it;
    empty iovecs are skipped only when the move reaches them, and an iovec the move exhausts stays
    current. On EFAULT the faulting step counts for nothing; earlier steps stay consumed.
    """
    resid = uio.uio_resid
    if n > resid:
        n = resid
    rw = uio.uio_rw
    if rw == UIO_READ:
        step = step_to_segment
    elif rw == UIO_WRITE:
        step = step_from_segment
    else:
        raise AssertionError(f"uiomove: mode {rw!r} is neither UIO_READ nor UIO_WRITE")
    if n <= 0:
        return 0
    segflg = uio.uio_segflg
    if segflg == UIO_NOCOPY:
        step = None  # advance only: nothing is touched, so nothing can fault
        if rw == UIO_READ:
            _note_hole(uio, n)
    else:
        if type(buf) is not memoryview or buf.format != "B" or buf.ndim != 1:
            buf = as_bytes_view(buf)
        if n > len(buf):
            raise ValueError(f"uiomove: n={n} exceeds the driver buffer of {len(buf)} bytes")
        if rw == UIO_WRITE and buf.readonly:
            raise TypeError("uiomove: UIO_WRITE into a read-only driver buffer")
    try:
        done = walk(uio, n, step, buf, False)
    except SegmentFault as fault:
        uio.uio_resid = resid - fault.done
        uio.uio_offset += fault.done
        if _watching:
            _moved("uiomove", fault.done, uio)
        if segflg == UIO_USERSPACE:
            return errno.EFAULT
        raise fault.__cause__ from None  # kernel memory faulted: a bug, not an errno
    uio.uio_resid = resid - done
    uio.uio_offset += done
    if _watching:
        _moved("uiomove", done, uio)
    return 0


def _move(buf: Any, n: int, uio: Uio, rw: int) -> int:
    """uiomove in the direction ``rw`` whatever uio_rw says (illumos passes rw as an argument)."""
    saved = uio.uio_rw
    uio.uio_rw = rw
    try:
        return uiomove(buf, n, uio)
    finally:
        uio.uio_rw = saved


def uiomove_nofault(buf: Any, n: int, uio: Uio) -> int:
    """uiomove for contexts that may not fault or sleep.

    iofs never pages anything in or sleeps inside a move, so this behaves exactly like
    :func:`uiomove`: a buffer that cannot take the transfer returns EFAULT at that step.
    """
    return uiomove(buf, n, uio)


def uiomove_frombuf(buf: Any, buflen: int, uio: Uio) -> int:
    """Serve a read or write at ``uio_offset`` against the first ``buflen`` bytes of ``buf``.

    EINVAL if uio_offset or uio_resid is negative or the offset does not fit an off_t; if
    ``buflen <= 0`` or ``uio_offset >= buflen``, returns 0 and leaves the uio untouched (EOF);
    otherwise ``uiomove(buf + uio_offset, buflen - uio_offset, uio)``. The offset comes from the
    uio: a driver that passes its whole buffer serves consecutive partial reads correctly.
    """
    offset = uio.uio_offset
    if offset < 0 or uio.uio_resid < 0 or offset > OFF_MAX:
        return errno.EINVAL
    if buflen <= 0 or offset >= buflen:
        return 0
    if buflen - offset > IOSIZE_MAX:
        return errno.EINVAL
    mv = as_bytes_view(buf)  # buflen and the offset count bytes, whatever the view's format
    if buflen > len(mv):
        raise ValueError(f"uiomove_frombuf: buflen {buflen} exceeds the buffer of {len(mv)} bytes")
    error = uiomove(mv[offset:buflen], buflen - offset, uio)
    if _watching:  # the move uiomove recorded is this call's
        moves = _moves.get()
        if moves:
            moves[-1] = ("uiomove_frombuf",) + moves[-1][1:]
    return error


def uio_trim_to_limit(uio: Uio) -> tuple[int, int]:
    """illumos' rule for writes against ``uio_limit``: returns ``(error, excess)``.

    EFBIG if the write starts at or past the limit (and resid > 0). Otherwise a write that would
    cross the limit is cut short: uio_resid is reduced by ``excess`` bytes, which the caller adds
    back once the move is done (``uio.uio_resid += excess``), so the reply counts only what moved.
    No limit (None) changes nothing.
    """
    limit = uio.uio_limit
    if limit is None or uio.uio_resid <= 0:
        return 0, 0
    if uio.uio_offset >= limit:
        return errno.EFBIG, 0
    excess = uio.uio_offset + uio.uio_resid - limit
    if excess <= 0:
        return 0, 0
    uio.uio_resid -= excess
    return 0, excess


# ---- illumos helpers ---------------------------------------------------------------------------

def uiocopy(buf: Any, n: int, rw: int, uio: Uio) -> tuple[int, int]:
    """illumos uiocopy: like uiomove in direction ``rw`` but without advancing the uio.

    Returns ``(error, cbytes)``: 0 or EFAULT, and the bytes copied.
    """
    scratch = Uio.__new__(Uio)
    uio._copy_position(scratch)
    scratch.uio_resid = uio.uio_resid
    scratch.uio_offset = uio.uio_offset
    scratch.uio_segflg = uio.uio_segflg
    scratch.uio_rw = rw
    scratch._holes = None  # nothing advances, so nothing counts as moved
    err = uiomove(buf, n, scratch)
    return err, uio.uio_resid - scratch.uio_resid


def uioskip(uio: Uio, n: int) -> None:
    """illumos uioskip: advance the uio by ``n`` bytes without copying; does nothing if n > resid."""
    if n > uio.uio_resid or n <= 0:
        return
    if uio.uio_rw == UIO_READ:
        _note_hole(uio, n)
    done = walk(uio, n, None, None, False)
    uio.uio_resid -= done
    uio.uio_offset += done


def _note_hole(uio: Uio, n: int) -> None:
    """Remember that up to ``n`` bytes from the uio's position on are about to be skipped."""
    hole = (uio._idx, uio._skip, n)
    if uio._holes is None:
        uio._holes = [hole]
    else:
        uio._holes.append(hole)


def uio_unfilled(uio: Uio, moved: int) -> list[tuple[int, int]]:
    """The byte ranges ``(start, end)`` of a one-iovec UIO_READ request's iovec that count as
    moved (the first ``moved`` bytes) but that no move filled: what uioskip or a UIO_NOCOPY
    move passed over, and what lies past the copy position when the driver lowered uio_resid
    by hand. Empty for a driver that only moved data. Not a uio(9) function: iofs's own, for
    the owner of a buffer that goes out whole."""
    walked = uio._skip  # the copy position: with lazy skipping one iovec stays current
    spans = []
    for idx, skip, n in uio._holes or ():
        end = min(skip + n, moved)  # moved <= iov_len, as uio_resid >= 0
        if idx == 0 and skip < end:
            spans.append((skip, end))
    if moved > walked:
        spans.append((walked, moved))
    return spans


def ureadc(c: int, uio: Uio) -> int:
    """illumos ureadc: append the byte ``c`` to the uio (toward the reader); 0 or EFAULT.

    EFAULT also when the uio has no room left (resid <= 0 or no non-empty iovec).
    """
    if uio.uio_resid <= 0 or uio._remaining_in_segments() <= 0:
        return errno.EFAULT
    return _move(bytes((c & 0xFF,)), 1, uio, UIO_READ)


def uwritec(uio: Uio) -> int:
    """illumos uwritec: take the next byte from the uio (from the writer); the byte or -1."""
    if uio.uio_resid <= 0 or uio._remaining_in_segments() <= 0:
        return -1
    out = bytearray(1)
    if _move(out, 1, uio, UIO_WRITE):
        return -1
    return out[0]


# ---- FreeBSD helpers ---------------------------------------------------------------------------

def cloneuio(uio: Uio) -> Uio:
    """FreeBSD cloneuio: an independent copy, with its own iovec array, of the remaining request."""
    new = Uio.__new__(Uio)
    i = uio._idx
    new._segs, new._lens, new._idx, new._skip = uio._segs[i:], uio._lens[i:], 0, uio._skip
    for name in Uio.__slots__:
        setattr(new, name, getattr(uio, name))
    new._holes = None  # the clone's skips are its own
    return new


def copyinuio(iovs: Iterable[Any], *, rw: int = UIO_READ,
              iosize_max: int = IOSIZE_MAX) -> tuple[int, Uio | None]:
    """FreeBSD copyinuio: build a UIO_USERSPACE uio from a user iovec array.

    Returns ``(0, uio)`` with ``uio_offset = -1`` (the caller sets it) and ``uio_resid`` the total,
    or ``(EINVAL, None)`` for more than UIO_MAXIOV iovecs or a total above ``iosize_max``.
    """
    iovs = list(iovs)
    if len(iovs) > UIO_MAXIOV:
        return errno.EINVAL, None
    vecs = [v if type(v) is IoVec else IoVec(v) for v in iovs]
    total = 0
    for v in vecs:
        if v.iov_len > iosize_max - total:
            return errno.EINVAL, None
        total += v.iov_len
    return 0, Uio(vecs, rw=rw, segflg=UIO_USERSPACE, offset=-1, resid=total)
