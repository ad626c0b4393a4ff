"""Walks over an ``iov_iter`` that look at its segments rather than copy through them: pages
touched (iov_iter_npages, iov_iter_get_pages), alignment, and copies that also add the
Internet checksum (csum_and_copy_*). The same rules as :mod:`iofs.core.iov_iter`."""

from __future__ import annotations

import errno
from typing import Any

from .checksum import csum_block_add, csum_partial
from .iov_iter import ITER_BVEC, ITER_DISCARD, ITER_KVEC, IovIter, _buffer, _iterate, _peek, _wrong_way
from .pages import PAGE_SIZE, page_frames, vaddr

__all__ = ["iov_iter_npages", "iov_iter_alignment", "iov_iter_get_pages", "iov_iter_get_pages_alloc",
           "csum_and_copy_from_iter", "csum_and_copy_to_iter"]


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
