"""The Linux face: ``struct iov_iter`` and the functions of ``lib/iov_iter.c``.

Semantics follow the Linux texts (where they disagree with BSD uio(9), Linux wins here). The
iterator runs on :mod:`iofs.segments`, the same walker as :mod:`iofs.uio`, with ``eager=True``:
a finished segment is stepped past at once, and functions return the bytes processed (a short
count), never an errno.

Python forms of the C calls (the README has the full table):

* Constructors return a new :class:`IovIter` instead of filling one in:
  ``i = iov_iter_init(READ, iovs, nr_segs, count)``.
* ``void *addr`` is a buffer; ``struct page *`` is a :class:`~iofs.pages.Page` (or any buffer);
  ``struct kvec`` is an :class:`~iofs.uio.IoVec`; a bio_vec is a :class:`BioVec`.
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

import errno
import warnings
from typing import Any, Iterable, NamedTuple, Sequence

from .checksum import csum_block_add, csum_partial
from .pages import PAGE_SIZE, page_frames, vaddr
from .segments import (
    Cursor,
    SegmentFault,
    as_bytes_view,
    step_from_segment,
    step_to_segment,
    walk,
)
from .uio import UIO_MAXIOV, IoVec

__all__ = [
    "READ", "WRITE", "ITER_UBUF", "ITER_IOVEC", "ITER_KVEC", "ITER_BVEC", "ITER_DISCARD",
    "UIO_MAXIOV", "MAX_RW_COUNT", "PAGE_SIZE", "BioVec", "IovIter",
    "iov_iter_init", "iov_iter_ubuf", "iov_iter_kvec", "iov_iter_bvec", "iov_iter_discard",
    "copy_to_iter", "copy_from_iter", "copy_from_iter_nocache", "copy_from_iter_full",
    "copy_page_to_iter", "copy_page_from_iter", "iov_iter_copy_from_user_atomic",
    "iov_iter_advance", "iov_iter_revert", "iov_iter_truncate", "iov_iter_reexpand",
    "iov_iter_zero", "iov_iter_single_seg_count", "iov_iter_npages", "iov_length",
    "iov_iter_alignment", "iov_iter_get_pages", "iov_iter_get_pages_alloc",
    "csum_and_copy_from_iter", "csum_and_copy_to_iter", "dup_iter", "import_iovec",
    "import_single_range", "iov_iter_fault_in_readable", "iov_iter_count", "iov_iter_rw",
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


# ---- page views --------------------------------------------------------------------------------

class _Acc:
    __slots__ = ("value", "limit", "off", "dst")

    def __init__(self, value: int = 0, limit: int = 0, dst: Any = None) -> None:
        self.value = value
        self.limit = limit
        self.off = 0
        self.dst = dst


def _step_pages(piece: memoryview, acc: _Acc, done: int) -> int:
    p = vaddr(piece)
    acc.value += -(-(p + len(piece)) // PAGE_SIZE) - p // PAGE_SIZE
    return 1 if acc.value >= acc.limit else 0


def _step_one_page(piece: memoryview, acc: _Acc, done: int) -> int:
    acc.value += 1
    return 1 if acc.value >= acc.limit else 0


def _step_align(piece: memoryview, acc: _Acc, done: int) -> int:
    acc.value |= vaddr(piece) | len(piece)
    return 0


def iov_iter_npages(i: IovIter, maxpages: int) -> int:
    """Pages the remaining count touches, at most ``maxpages`` (a bio_vec counts as one page)."""
    if not i.count or i.iter_type is ITER_DISCARD:
        return 0
    acc = _Acc(limit=maxpages)
    _peek(i, i.count, _step_one_page if i.iter_type is ITER_BVEC else _step_pages, acc)
    return min(acc.value, maxpages)


def iov_iter_alignment(i: IovIter) -> int:
    """OR of every segment's address and length over the remaining count (0 if nothing left)."""
    if not i.count or i.iter_type is ITER_DISCARD:
        return 0
    acc = _Acc()
    _peek(i, i.count, _step_align, acc)
    return acc.value


def iov_iter_get_pages(i: IovIter, maxsize: int, maxpages: int) -> tuple[int, list[Any], int]:
    """Pin the pages under the start of the iterator, without advancing it.

    Returns ``(res, pages, start)``: ``res`` bytes are reachable from ``start`` in ``pages[0]``
    on (at most maxsize, at most maxpages pages, never past the current segment), or a negative
    errno: -EFAULT for a KVEC or DISCARD iterator (as in lib/iov_iter.c) or for user memory that
    cannot be pinned for the access (a READ iterator over read-only memory).
    """
    return _get_pages(i, maxsize, maxpages)


def iov_iter_get_pages_alloc(i: IovIter, maxsize: int) -> tuple[int, list[Any], int]:
    """iov_iter_get_pages with as many pages as the segment needs (the list is allocated)."""
    return _get_pages(i, maxsize, None)


def _get_pages(i: IovIter, maxsize: int, maxpages: int | None) -> tuple[int, list[Any], int]:
    if maxsize > i.count:
        maxsize = i.count
    if maxsize <= 0:
        return 0, [], 0
    kind = i.iter_type
    if kind is ITER_KVEC or kind is ITER_DISCARD:
        return -errno.EFAULT, [], 0
    idx, skip = i._idx, i._skip
    while idx < len(i._lens) and skip == i._lens[idx]:  # the first non-empty segment
        idx += 1
        skip = 0
    if idx >= len(i._lens):
        return 0, [], 0
    if kind is ITER_BVEC:
        b = i._bvecs[idx]
        return min(maxsize, b.bv_len - skip), [b.bv_page], b.bv_offset + skip
    try:
        piece = i._segs[idx][skip:skip + min(maxsize, i._lens[idx] - skip)]
        addr = vaddr(piece)
    except (TypeError, ValueError):
        return -errno.EFAULT, [], 0
    if not i.data_source and piece.readonly:
        return -errno.EFAULT, [], 0  # get_user_pages(write=1) on read-only memory
    start = addr % PAGE_SIZE
    length = len(piece) + start
    if maxpages is not None and length > maxpages * PAGE_SIZE:
        length = maxpages * PAGE_SIZE
    n = -(-length // PAGE_SIZE)
    return length - start, page_frames(piece, addr // PAGE_SIZE, n), start


# ---- checksums ---------------------------------------------------------------------------------

def _step_csum_from(piece: memoryview, acc: _Acc, done: int) -> int:
    acc.dst[done:done + len(piece)] = piece
    acc.value = csum_block_add(acc.value, csum_partial(piece), acc.off)
    acc.off += len(piece)
    return 0


def _step_csum_to(piece: memoryview, acc: _Acc, done: int) -> int:
    src = acc.dst[done:done + len(piece)]
    piece[:] = src
    acc.value = csum_block_add(acc.value, csum_partial(src), acc.off)
    acc.off += len(piece)
    return 0


def csum_and_copy_from_iter(addr: Any, nbytes: int, csum: int, i: IovIter) -> tuple[int, int]:
    """copy_from_iter that also adds the Internet checksum of what was copied to ``csum``.

    Returns ``(copied, csum)``; a faulting segment adds nothing to the checksum.
    """
    if _wrong_way("csum_and_copy_from_iter", i, True):
        return 0, csum
    acc = _Acc(csum, dst=_buffer(addr, min(nbytes, i.count), True))
    copied = _iterate(i, nbytes, _step_csum_from, acc)
    return copied, acc.value


def csum_and_copy_to_iter(addr: Any, nbytes: int, csum: int, i: IovIter) -> tuple[int, int]:
    """copy_to_iter that also adds the Internet checksum of what was copied to ``csum``.

    Into a DISCARD iterator nothing is copied, but the checksum of the source is still added.
    """
    if _wrong_way("csum_and_copy_to_iter", i, False):
        return 0, csum
    n = min(nbytes, i.count)
    src = _buffer(addr, n, False)
    if i.iter_type is ITER_DISCARD:
        i.count -= n
        return n, csum_block_add(csum, csum_partial(src[:n]), 0)
    acc = _Acc(csum, dst=src)
    copied = _iterate(i, nbytes, _step_csum_to, acc)
    return copied, acc.value


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
