"""Making an ``iov_iter`` from a program's iovec array (import_iovec, import_single_range),
duplicating one (dup_iter), and probing its user memory (iov_iter_fault_in_readable)."""

from __future__ import annotations

import errno
from typing import Any, Sequence

from .iov_iter import _USER, ITER_IOVEC, MAX_RW_COUNT, IovIter
from .iovec import IoVec
from .segments import Cursor, as_bytes_view
from .uio import UIO_MAXIOV

__all__ = ["dup_iter", "import_iovec", "import_single_range", "iov_iter_fault_in_readable"]


# ---- duplicating and importing -----------------------------------------------------------------

def dup_iter(old: IovIter) -> IovIter:
    """An independent copy of ``old`` holding its own copy of the remaining segment array."""
    new = Cursor.__new__(IovIter)
    new.iter_type = old.iter_type
    new.data_source = old.data_source
    new.count = old.count
    new._segs = old._segs[old._idx:]
    new._lens = old._lens[old._idx:]
    new._bvecs = old._bvecs[old._idx:] if old._bvecs is not None else None
    new._idx = 0
    new._skip = old._skip
    new._shorted = old._shorted
    return new


def _user_vec(v: Any) -> tuple[Any, int]:
    if isinstance(v, IoVec):
        return v.iov_base, v.iov_len
    if isinstance(v, tuple):
        return v[0], v[1]
    return v, len(memoryview(v))


def import_iovec(direction: int, uvector: Sequence[Any],
                 nr_segs: int | None = None) -> tuple[int, IovIter | None]:
    """Check a user iovec array and make an IOVEC iterator of it (rw_copy_check_uvector).

    Entries are IoVecs, buffers, or ``(buffer, iov_len)`` pairs whose length is the user's claim.
    Returns ``(0, iter)``, or ``(-EINVAL, None)`` for more than UIO_MAXIOV segments or a negative
    length, ``(-EFAULT, None)`` for a length beyond its buffer. A total above MAX_RW_COUNT is
    silently truncated (the segment that crosses it is shortened), as Linux does; FreeBSD's
    copyinuio returns EINVAL instead. Zero segments are fine.
    """
    vecs = list(uvector if nr_segs is None else uvector[:nr_segs])
    if len(vecs) > UIO_MAXIOV:
        return -errno.EINVAL, None
    segs: list[memoryview] = []
    lens: list[int] = []
    total = 0
    for v in vecs:
        base, length = _user_vec(v)
        if length < 0:
            return -errno.EINVAL, None
        mv = as_bytes_view(base)
        if length > len(mv):
            return -errno.EFAULT, None
        if length > MAX_RW_COUNT - total:
            length = MAX_RW_COUNT - total
        segs.append(mv)  # the program's view; the walker slices pieces to length
        lens.append(length)
        total += length
    return 0, IovIter(ITER_IOVEC, direction, segs, lens, total)


def import_single_range(direction: int, buf: Any, length: int) -> tuple[int, IoVec | None,
                                                                          IovIter | None]:
    """One user buffer as an iterator: length capped at MAX_RW_COUNT, -EFAULT past the buffer."""
    if length > MAX_RW_COUNT or length < 0:
        length = MAX_RW_COUNT
    mv = as_bytes_view(buf)
    if length > len(mv):
        return -errno.EFAULT, None, None
    iov = IoVec(mv, length)
    return 0, iov, IovIter(ITER_IOVEC, direction, [mv], [length], length)


def iov_iter_fault_in_readable(i: IovIter, nbytes: int) -> int:
    """0 if the first ``nbytes`` of the current user segment can be read now, else -EFAULT."""
    if i.iter_type not in _USER or i._idx >= len(i._lens):
        return 0
    idx, skip = i._idx, i._skip
    if min(nbytes, i._lens[idx] - skip) <= 0:
        return 0  # fault_in_pages_readable(buf, 0) touches nothing
    try:
        bytes(i._segs[idx][skip:skip + 1])
    except (TypeError, ValueError):
        return -errno.EFAULT
    return 0
