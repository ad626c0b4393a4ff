"""The Linux face: ``struct iov_iter`` and the functions of ``lib/iov_iter.c``.

Semantics follow the Linux texts (where they disagree with BSD uio(9), Linux wins here). The
iterator runs on :mod:`iofs.core.segments`, the same walker as :mod:`iofs.core.uio`, with ``eager=True``:
a finished segment is stepped past at once, and functions return the bytes processed (a short
count), never an errno.

Python forms of the C calls (docs/library.md has the full table):

* Constructors return a new :class:`IovIter` instead of filling one in:
  ``i = iov_iter_init(READ, iovs, nr_segs, count)``.
* ``void *addr`` is a buffer; ``struct page *`` is a :class:`~iofs.core.pages.Page` (or any buffer);
  ``struct kvec`` is an :class:`~iofs.core.iovec.IoVec`; a bio_vec is a :class:`BioVec`.
* Out-parameters become return values: get_pages returns ``(res, pages, start)``,
  csum_and_copy_* return ``(copied, csum)``, import_iovec returns ``(ret, iter)``.

Direction: ``READ`` (ITER_DEST) iterators receive data (copy_to_iter), ``WRITE`` (ITER_SOURCE)
iterators supply it (copy_from_iter). Copying the wrong way warns (RuntimeWarning, Linux's
WARN_ON) and returns 0.

Faults: IOVEC and UBUF segments are user memory: a copy into a read-only buffer or touching a
released one is a short copy, as copy_to_user returning bytes not copied. KVEC and BVEC are kernel
memory: a fault there is a bug and raises. DISCARD has no memory: it counts.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable, NamedTuple, Sequence

from .pages import PAGE_SIZE
from .segments import (
    Cursor,
    SegmentFault,
    as_bytes_view,
    step_from_segment,
    step_to_segment,
    walk,
)
from .iovec import IoVec
from .uio import UIO_MAXIOV

__all__ = [
    "READ", "WRITE", "ITER_UBUF", "ITER_IOVEC", "ITER_KVEC", "ITER_BVEC", "ITER_DISCARD",
    "UIO_MAXIOV", "MAX_RW_COUNT", "PAGE_SIZE", "BioVec", "IovIter", "iov_iter_init",
    "iov_iter_ubuf", "iov_iter_kvec", "iov_iter_bvec", "iov_iter_discard", "copy_to_iter",
    "copy_from_iter", "copy_from_iter_nocache", "copy_from_iter_full", "copy_page_to_iter",
    "copy_page_from_iter", "iov_iter_copy_from_user_atomic", "iov_iter_advance",
    "iov_iter_revert", "iov_iter_truncate", "iov_iter_reexpand", "iov_iter_zero",
    "iov_iter_single_seg_count", "iov_length", "iov_iter_count", "iov_iter_rw",
]

READ = 0   # ITER_DEST: the iterator is filled
WRITE = 1  # ITER_SOURCE: the iterator is drained

ITER_UBUF = "ITER_UBUF"
ITER_IOVEC = "ITER_IOVEC"
ITER_KVEC = "ITER_KVEC"
ITER_BVEC = "ITER_BVEC"
ITER_DISCARD = "ITER_DISCARD"

MAX_RW_COUNT = 0x7FFFFFFF & ~(PAGE_SIZE - 1)  # INT_MAX & PAGE_MASK

_USER = (ITER_UBUF, ITER_IOVEC)


class BioVec(NamedTuple):
    """``struct bio_vec``: ``bv_len`` bytes at ``bv_offset`` in the page ``bv_page``."""

    bv_page: Any
    bv_offset: int
    bv_len: int


class IovIter(Cursor):
    """``struct iov_iter``: ``count`` bytes to go over segments of one kind, in one direction.

    ``iov_offset`` (how far into the current segment) and ``nr_segs`` (segments left, the
    current one included) are read from the shared cursor.
    """

    __slots__ = ("iter_type", "data_source", "count", "_bvecs", "_shorted")

    def __init__(self, iter_type: str, direction: int, segs: list[memoryview], lens: list[int],
                 count: int, bvecs: list[BioVec] | None = None) -> None:
        if direction not in (READ, WRITE):
            raise ValueError(f"direction must be READ or WRITE, not {direction!r}")
        self.iter_type = iter_type
        self.data_source = direction == WRITE
        self.count = count
        self._segs = segs
        self._lens = lens
        self._idx = 0
        self._skip = 0
        self._bvecs = bvecs
        self._shorted = 0  # bytes iov_iter_truncate took off count, which reexpand may give back

    @property
    def iov_offset(self) -> int:
        return self._skip

    @property
    def nr_segs(self) -> int:
        return max(len(self._lens) - self._idx, 0)

    def __repr__(self) -> str:
        d = "WRITE" if self.data_source else "READ"
        return (f"IovIter({self.iter_type}, {d}, count={self.count}, nr_segs={self.nr_segs}, "
                f"iov_offset={self.iov_offset})")


# ---- constructors ------------------------------------------------------------------------------

def _vecs(vecs: Sequence[Any], nr_segs: int | None) -> tuple[list[memoryview], list[int]]:
    vecs = list(vecs if nr_segs is None else vecs[:nr_segs])
    vecs = [v if type(v) is IoVec else IoVec(v) for v in vecs]
    return [v._buf[v._off:] if v._off else v._buf for v in vecs], [v.iov_len for v in vecs]


def iov_iter_init(direction: int, iov: Sequence[Any], nr_segs: int | None = None,
                  count: int | None = None) -> IovIter:
    """An ITER_IOVEC iterator over user iovecs (IoVecs or buffers); count defaults to their sum."""
    segs, lens = _vecs(iov, nr_segs)
    return IovIter(ITER_IOVEC, direction, segs, lens, sum(lens) if count is None else count)


def iov_iter_ubuf(direction: int, buf: Any, count: int | None = None) -> IovIter:
    """An ITER_UBUF iterator over one user buffer."""
    v = IoVec(buf, count)
    return IovIter(ITER_UBUF, direction, [v._buf], [v.iov_len], v.iov_len)


def iov_iter_kvec(direction: int, kvec: Sequence[Any], nr_segs: int | None = None,
                  count: int | None = None) -> IovIter:
    """An ITER_KVEC iterator over kernel buffers (IoVecs: kvec and iovec share a layout)."""
    segs, lens = _vecs(kvec, nr_segs)
    return IovIter(ITER_KVEC, direction, segs, lens, sum(lens) if count is None else count)


def iov_iter_bvec(direction: int, bvec: Sequence[BioVec], nr_segs: int | None = None,
                  count: int | None = None) -> IovIter:
    """An ITER_BVEC iterator over (page, offset, len) triples; a bio_vec may not leave its page."""
    bvecs = [BioVec(*b) for b in (bvec if nr_segs is None else bvec[:nr_segs])]
    segs = []
    for b in bvecs:
        page = as_bytes_view(b.bv_page)
        if b.bv_offset < 0 or b.bv_len < 0 or b.bv_offset + b.bv_len > min(len(page), PAGE_SIZE):
            raise ValueError(f"bio_vec {b.bv_offset}+{b.bv_len} does not fit its page")
        segs.append(page[b.bv_offset:b.bv_offset + b.bv_len])
    lens = [b.bv_len for b in bvecs]
    return IovIter(ITER_BVEC, direction, segs, lens, sum(lens) if count is None else count, bvecs)


def iov_iter_discard(direction: int, count: int) -> IovIter:
    """An ITER_DISCARD iterator: a READ destination that only counts what is copied to it."""
    if direction != READ:
        raise ValueError("iov_iter_discard: only READ (ITER_DEST) iterators discard")
    return IovIter(ITER_DISCARD, READ, [], [], count)


# ---- the one iterate-and-advance entry of this face --------------------------------------------

def _iterate(i: IovIter, n: int, step: Any, priv: Any) -> int:
    """iterate_and_advance: clamp to count, walk eagerly, advance count; a user fault is short."""
    if n > i.count:
        n = i.count
    if n <= 0:
        return 0
    if i.iter_type is ITER_DISCARD:
        i.count -= n
        return n
    try:
        # UBUF keeps iov_offset == len when consumed (nothing to step past): lazy, like BSD
        done = walk(i, n, step, priv, i.iter_type is not ITER_UBUF)
    except SegmentFault as fault:
        i.count -= fault.done
        if i.iter_type in _USER:
            return fault.done
        raise fault.__cause__ from None
    i.count -= done
    return done


def _peek(i: IovIter, n: int, step: Any, priv: Any) -> int:
    """iterate_all_kinds: walk ``n`` bytes without advancing ``i``; returns bytes processed."""
    scratch = Cursor.__new__(IovIter)
    i._copy_position(scratch)
    scratch.iter_type = i.iter_type
    scratch.count = i.count
    scratch._shorted = 0
    return _iterate(scratch, n, step, priv)


def _wrong_way(name: str, i: IovIter, wants_source: bool) -> bool:
    if i.data_source != wants_source:
        warnings.warn(f"{name} on a {'source' if i.data_source else 'destination'} iterator",
                      RuntimeWarning, stacklevel=3)
        return True
    return False


def _buffer(addr: Any, nbytes: int, writable: bool) -> memoryview:
    mv = as_bytes_view(addr)
    if nbytes > len(mv):
        raise ValueError(f"{nbytes} bytes named, the buffer holds {len(mv)}")
    if writable and mv.readonly:
        raise TypeError("the destination buffer is read-only")
    return mv


# ---- copies ------------------------------------------------------------------------------------

def copy_to_iter(addr: Any, nbytes: int, i: IovIter) -> int:
    """Copy up to ``nbytes`` from ``addr`` into the iterator and advance it; returns bytes copied."""
    if _wrong_way("copy_to_iter", i, False):
        return 0
    return _iterate(i, nbytes, step_to_segment, _buffer(addr, min(nbytes, i.count), False))


def copy_from_iter(addr: Any, nbytes: int, i: IovIter) -> int:
    """Copy up to ``nbytes`` from the iterator into ``addr`` and advance it; returns bytes copied."""
    if _wrong_way("copy_from_iter", i, True):
        return 0
    return _iterate(i, nbytes, step_from_segment, _buffer(addr, min(nbytes, i.count), True))


def copy_from_iter_nocache(addr: Any, nbytes: int, i: IovIter) -> int:
    """copy_from_iter without polluting the cache: the same copy in Python."""
    if _wrong_way("copy_from_iter_nocache", i, True):
        return 0
    return _iterate(i, nbytes, step_from_segment, _buffer(addr, min(nbytes, i.count), True))


def copy_from_iter_full(addr: Any, nbytes: int, i: IovIter) -> bool:
    """All or nothing: copy ``nbytes`` or, if fewer could be copied, revert them and return False."""
    copied = copy_from_iter(addr, nbytes, i)
    if copied == nbytes:
        return True
    iov_iter_revert(i, copied)
    return False


def _page_range(page: Any, offset: int, nbytes: int) -> memoryview | None:
    """page + offset for nbytes, or None where Linux's page_copy_sane() refuses the range."""
    mv = as_bytes_view(page)
    if offset < 0 or nbytes < 0 or offset + nbytes > len(mv):
        return None
    return mv[offset:offset + nbytes]


def copy_page_to_iter(page: Any, offset: int, nbytes: int, i: IovIter) -> int:
    """Copy ``nbytes`` at ``offset`` in ``page`` into the iterator; 0 if the range leaves the page."""
    src = _page_range(page, offset, nbytes)
    return 0 if src is None else copy_to_iter(src, nbytes, i)


def copy_page_from_iter(page: Any, offset: int, nbytes: int, i: IovIter) -> int:
    """Copy ``nbytes`` from the iterator to ``offset`` in ``page``; 0 if the range leaves the page."""
    dst = _page_range(page, offset, nbytes)
    return 0 if dst is None else copy_from_iter(dst, nbytes, i)


def iov_iter_copy_from_user_atomic(page: Any, i: IovIter, offset: int, nbytes: int) -> int:
    """Copy up to ``nbytes`` from the iterator into ``page`` at ``offset`` WITHOUT advancing it."""
    dst = _page_range(page, offset, min(nbytes, i.count))
    if dst is None:
        return 0
    if dst.readonly:
        raise TypeError("the destination page is read-only")
    return _peek(i, nbytes, step_from_segment, dst)


_zeros = memoryview(bytes(1 << 16))


def iov_iter_zero(nbytes: int, i: IovIter) -> int:
    """Fill the next ``nbytes`` of the iterator with zeros and advance; returns bytes zeroed."""
    global _zeros
    n = min(nbytes, i.count)
    if n > len(_zeros):
        _zeros = memoryview(bytes(n))
    return _iterate(i, n, step_to_segment, _zeros)


# ---- position ----------------------------------------------------------------------------------

def iov_iter_advance(i: IovIter, size: int) -> None:
    """Skip ``size`` bytes (at most count) without touching memory."""
    _iterate(i, size, None, None)


def iov_iter_revert(i: IovIter, unroll: int) -> None:
    """Go back ``unroll`` bytes, across earlier segments if needed; the inverse of advance.

    0 does nothing; more than MAX_RW_COUNT warns and does nothing; going back past the first
    segment the iterator holds is a bug (AssertionError), as Linux's BUG().
    """
    if not unroll:
        return
    if unroll > MAX_RW_COUNT or unroll < 0:
        warnings.warn(f"iov_iter_revert({unroll}) out of range", RuntimeWarning, stacklevel=2)
        return
    if i.iter_type is ITER_DISCARD:
        i.count += unroll
        return
    if unroll <= i._skip:
        i._skip -= unroll
        i.count += unroll
        return
    left = unroll - i._skip
    idx = i._idx
    lens = i._lens
    while True:
        idx -= 1
        if idx < 0 or i.iter_type is ITER_UBUF:  # UBUF has one buffer and never leaves it
            raise AssertionError(f"BUG: iov_iter_revert({unroll}) goes back past the start")
        if left <= lens[idx]:
            i._idx = idx
            i._skip = lens[idx] - left
            i.count += unroll
            return
        left -= lens[idx]


def iov_iter_truncate(i: IovIter, count: int) -> None:
    """Cap count at ``count`` (never raises it)."""
    if i.count > count:
        i._shorted += i.count - count
        i.count = count


def iov_iter_reexpand(i: IovIter, count: int) -> None:
    """Set count to ``count``, giving back what iov_iter_truncate took (the pattern is
    ``shorted = count - max; truncate(i, max); ...; reexpand(i, iov_iter_count(i) + shorted)``).

    Growing by more than truncation took off is a bug: ValueError. The count stays trusted, so
    a count set above the segments at construction can be truncated and re-expanded to it.
    """
    grow = count - i.count
    if grow > i._shorted:
        raise ValueError(f"iov_iter_reexpand({count}): {grow} bytes more than truncation took "
                         f"({i._shorted})")
    i._shorted -= grow
    i.count = count


def iov_iter_count(i: IovIter) -> int:
    return i.count


def iov_iter_rw(i: IovIter) -> int:
    return WRITE if i.data_source else READ


def iov_iter_single_seg_count(i: IovIter) -> int:
    """Bytes left in the current segment (capped by count); count if it is the only segment."""
    if i.nr_segs > 1:
        return min(i.count, i._lens[i._idx] - i._skip)
    return i.count


def iov_length(iov: Iterable[Any], nr_segs: int | None = None) -> int:
    """The total length of an iovec array."""
    vecs = list(iov)[:nr_segs] if nr_segs is not None else list(iov)
    return sum(v.iov_len if hasattr(v, "iov_len") else len(memoryview(v)) for v in vecs)
