"""The iov_iter functions built on pages: copy_page_to_iter, copy_page_from_iter,
iov_iter_copy_from_user_atomic, iov_iter_npages, iov_iter_alignment, iov_iter_get_pages(_alloc)
and iov_iter_fault_in_readable.

Expected values are worked out by hand from the page model (iofs/core/pages.py: the address of
a view is its offset in its buffer object) and lib/iov_iter.c.
"""

from __future__ import annotations

import errno

import pytest

from iofs.core.pages import PAGE_SIZE, Page, vaddr
from iofs.iov_iter import (
    READ,
    WRITE,
    BioVec,
    copy_page_from_iter,
    copy_page_to_iter,
    iov_iter_advance,
    iov_iter_alignment,
    iov_iter_bvec,
    iov_iter_copy_from_user_atomic,
    iov_iter_discard,
    iov_iter_fault_in_readable,
    iov_iter_get_pages,
    iov_iter_get_pages_alloc,
    iov_iter_init,
    iov_iter_kvec,
    iov_iter_npages,
    iov_iter_truncate,
    iov_iter_ubuf,
)
from iofs.uio import IoVec
from tests.support.views import pos, released


# ---- pages ------------------------------------------------------------------------------------------

def test_copy_page_to_and_from_iter(no_warnings):
    p = Page()
    p[100:104] = b"abcd"
    a, b = bytearray(1), bytearray(3)
    i = iov_iter_init(READ, [a, b])
    assert copy_page_to_iter(p, 100, 4, i) == 4 and a + b == b"abcd"
    q = Page()
    j = iov_iter_init(WRITE, [b"xy", b"z"])
    assert copy_page_from_iter(q, PAGE_SIZE - 3, 3, j) == 3 and q[-3:] == b"xyz"


def test_copy_page_range_leaving_the_page_copies_nothing(no_warnings):
    i = iov_iter_init(READ, [bytearray(8)])
    assert copy_page_to_iter(Page(), PAGE_SIZE - 2, 4, i) == 0
    assert pos(i) == (1, 0, 8)


def test_copy_from_user_atomic_does_not_advance(no_warnings):
    i = iov_iter_init(WRITE, [b"ab", b"cd"])
    p = Page()
    assert iov_iter_copy_from_user_atomic(p, i, 10, 3) == 3
    assert p[10:13] == b"abc" and pos(i) == (2, 0, 4)


# ---- pages ------------------------------------------------------------------------------------

@pytest.mark.parametrize("offset, nbytes", [(-2, 2), (-1, 4), (PAGE_SIZE - 1, 2), (0, PAGE_SIZE + 1),
                                            (3, -1)])
def test_copy_page_range_outside_the_page_copies_nothing(no_warnings, offset, nbytes):
    src = iov_iter_init(WRITE, [b"abcdefgh"])
    assert copy_page_from_iter(Page(), offset, nbytes, src) == 0
    assert pos(src) == (1, 0, 8)
    dst = iov_iter_init(READ, [bytearray(8)])
    assert copy_page_to_iter(Page(), offset, nbytes, dst) == 0
    assert pos(dst) == (1, 0, 8)


def test_copy_page_of_zero_bytes_still_checks_the_direction():
    """page_copy_sane() accepts an empty range, so the WARN_ON on the direction is reached."""
    with pytest.warns(RuntimeWarning):
        assert copy_page_to_iter(Page(), 0, 0, iov_iter_init(WRITE, [b"ab"])) == 0
    with pytest.warns(RuntimeWarning):
        assert copy_page_from_iter(Page(), PAGE_SIZE, 0, iov_iter_init(READ, [bytearray(2)])) == 0


def test_copy_page_from_iter_at_the_end_of_the_page(no_warnings):
    p = Page()
    i = iov_iter_init(WRITE, [b"xyz"])
    assert copy_page_from_iter(p, PAGE_SIZE - 2, 2, i) == 2
    assert p[-2:] == b"xy" and pos(i) == (1, 2, 1)


@pytest.mark.parametrize("offset, nbytes", [(PAGE_SIZE - 1, 2), (-1, 1)])
def test_copy_from_user_atomic_outside_the_page_copies_nothing(no_warnings, offset, nbytes):
    i = iov_iter_init(WRITE, [b"ab"])
    assert iov_iter_copy_from_user_atomic(Page(), i, offset, nbytes) == 0
    assert pos(i) == (1, 0, 2)


def test_copy_from_user_atomic_into_a_read_only_page():
    i = iov_iter_init(WRITE, [b"ab"])
    with pytest.raises(TypeError) as exc:
        iov_iter_copy_from_user_atomic(bytes(PAGE_SIZE), i, 0, 2)
    assert str(exc.value) == "the destination page is read-only"
    assert pos(i) == (1, 0, 2)


P = PAGE_SIZE


def released_ubuf(direction: int, nbytes: int):
    """A UBUF iterator over user memory that has gone away."""
    mv = memoryview(bytearray(nbytes))
    i = iov_iter_ubuf(direction, mv)
    mv.release()
    return i


def frames(pages: list[memoryview]) -> list[tuple[int, int]]:
    """(address, length) of each page frame."""
    return [(vaddr(p), len(p)) for p in pages]


# ---- iov_iter_npages -----------------------------------------------------------------------------

def test_npages_counts_the_pages_each_segment_touches():
    buf, small = bytearray(4 * P), bytearray(10)
    mv = memoryview(buf)
    segs = [IoVec(mv[100:100 + 2 * P]),  # pages 0, 1, 2 of buf
            IoVec(bytearray(0)),  # nothing
            IoVec(small),  # page 0 of small
            IoVec(mv[P:2 * P])]  # exactly page 1 of buf
    i = iov_iter_init(READ, segs)
    assert iov_iter_npages(i, 100) == 5
    assert iov_iter_npages(i, 5) == 5
    assert iov_iter_npages(i, 4) == 4
    assert iov_iter_npages(i, 2) == 2
    assert iov_iter_npages(i, 1) == 1
    assert i.count == 2 * P + 10 + P and i.nr_segs == 4  # npages does not advance


def test_npages_from_the_iterator_position_and_within_count():
    buf = bytearray(4 * P)
    mv = memoryview(buf)
    i = iov_iter_init(READ, [IoVec(mv[100:100 + 3 * P]), bytearray(5)])
    iov_iter_advance(i, P)  # now at address P + 100: pages 1, 2, 3
    assert iov_iter_npages(i, 100) == 3 + 1
    iov_iter_truncate(i, P - 99)  # one byte into page 2
    assert iov_iter_npages(i, 100) == 2
    iov_iter_truncate(i, P - 100)  # ends exactly at the end of page 1
    assert iov_iter_npages(i, 100) == 1


def test_npages_of_page_aligned_segments():
    buf = bytearray(3 * P)
    mv = memoryview(buf)
    assert iov_iter_npages(iov_iter_ubuf(WRITE, mv[P:3 * P]), 10) == 2
    assert iov_iter_npages(iov_iter_ubuf(WRITE, mv[P - 1:P + 1]), 10) == 2
    assert iov_iter_npages(iov_iter_ubuf(WRITE, mv[P - 1:P]), 10) == 1
    assert iov_iter_npages(iov_iter_kvec(WRITE, [mv[2 * P:]]), 10) == 1


def test_npages_counts_each_bio_vec_as_one_page():
    pages = [Page(), Page(), Page()]
    i = iov_iter_bvec(WRITE, [BioVec(pages[0], 4000, 96), BioVec(pages[1], 0, P),
                              BioVec(pages[2], 0, 0), BioVec(pages[2], 10, 1)])
    assert iov_iter_npages(i, 10) == 3
    assert iov_iter_npages(i, 2) == 2
    iov_iter_advance(i, 96)
    assert iov_iter_npages(i, 10) == 2


def test_npages_of_nothing_is_0():
    assert iov_iter_npages(iov_iter_discard(READ, 5 * P), 10) == 0
    assert iov_iter_npages(iov_iter_init(READ, [bytearray(10)], count=0), 10) == 0
    assert iov_iter_npages(iov_iter_init(READ, []), 10) == 0
    # 0 before maxpages is even looked at (lib/iov_iter.c: if (!size) return 0)
    assert iov_iter_npages(iov_iter_discard(READ, 5 * P), -1) == 0
    assert iov_iter_npages(iov_iter_init(READ, [bytearray(10)], count=0), -1) == 0


def test_npages_of_a_bio_vec_is_one_whatever_its_address():
    """lib/iov_iter.c counts npages++ per bio_vec; a page given as a view starting mid-buffer
    would span two pages of the buffer by address."""
    page = memoryview(bytearray(2 * P))[P - 100:]
    i = iov_iter_bvec(WRITE, [BioVec(page, 0, 200)])
    assert iov_iter_npages(i, 10) == 1
    assert iov_iter_npages(iov_iter_kvec(WRITE, [page[:200]]), 10) == 2  # by address: two


def test_npages_stops_at_maxpages_without_looking_further():
    """lib/iov_iter.c returns as soon as npages reaches maxpages: later segments are not visited
    (a released kvec segment, which would raise, shows it)."""
    i = iov_iter_kvec(WRITE, [bytearray(10), released(10)])
    assert iov_iter_npages(i, 1) == 1


# ---- iov_iter_alignment --------------------------------------------------------------------------

def test_alignment_ors_every_address_and_length():
    a, b = bytearray(3 * P), bytearray(P)
    i = iov_iter_init(READ, [IoVec(memoryview(a)[512:512 + 1024]), IoVec(b, 64)])
    assert iov_iter_alignment(i) == 512 | 1024 | 0 | 64
    assert i.count == 1088 and i.nr_segs == 2  # does not advance


def test_alignment_from_the_position_within_count():
    a = bytearray(2 * P)
    i = iov_iter_init(READ, [IoVec(memoryview(a)[P:2 * P]), bytearray(P)])
    assert iov_iter_alignment(i) == P  # page aligned in every way
    iov_iter_advance(i, 8)
    assert iov_iter_alignment(i) == (P + 8) | (P - 8) | 0 | P
    iov_iter_truncate(i, 2)
    assert iov_iter_alignment(i) == (P + 8) | 2


def test_alignment_of_bio_vecs():
    i = iov_iter_bvec(READ, [BioVec(Page(), 256, 512), BioVec(Page(), 0, P)])
    assert iov_iter_alignment(i) == 256 | 512 | P


def test_alignment_of_nothing_is_0():
    assert iov_iter_alignment(iov_iter_discard(READ, 3)) == 0
    assert iov_iter_alignment(iov_iter_init(READ, [IoVec(memoryview(bytearray(9))[1:])],
                                            count=0)) == 0


# ---- iov_iter_get_pages / iov_iter_get_pages_alloc -----------------------------------------------

@pytest.fixture
def three_pages():
    """An iterator over 2 pages' worth of a 3-page buffer, starting 100 bytes into it."""
    buf = bytearray(3 * P)
    return buf, iov_iter_init(READ, [IoVec(memoryview(buf)[100:100 + 2 * P]), bytearray(7)])


def test_get_pages_pins_the_pages_under_the_current_segment(three_pages):
    buf, i = three_pages
    res, pages, start = iov_iter_get_pages(i, 1 << 30, 16)
    assert (res, start) == (2 * P, 100)  # never past the current segment
    assert frames(pages) == [(0, P), (P, P), (2 * P, P)]
    assert all(p.obj is buf for p in pages)
    pages[1][0] = 0x42  # pinned memory is the program's own
    assert buf[P] == 0x42
    assert i.count == 2 * P + 7 and i.nr_segs == 2 and i.iov_offset == 0  # no advance


def test_get_pages_limited_by_maxpages(three_pages):
    _, i = three_pages
    res, pages, start = iov_iter_get_pages(i, 1 << 30, 2)
    assert (res, start) == (2 * P - 100, 100)
    assert frames(pages) == [(0, P), (P, P)]
    res, pages, start = iov_iter_get_pages(i, 1 << 30, 1)
    assert (res, start, frames(pages)) == (P - 100, 100, [(0, P)])


def test_get_pages_limited_by_maxsize(three_pages):
    _, i = three_pages
    assert iov_iter_get_pages(i, 50, 16)[::2] == (50, 100)
    assert frames(iov_iter_get_pages(i, 50, 16)[1]) == [(0, P)]
    res, pages, start = iov_iter_get_pages(i, P - 99, 16)  # one byte into the second page
    assert (res, start, frames(pages)) == (P - 99, 100, [(0, P), (P, P)])


def test_get_pages_of_one_byte(three_pages):
    _, i = three_pages
    res, pages, start = iov_iter_get_pages(i, 1, 16)
    assert (res, start, frames(pages)) == (1, 100, [(0, P)])


def test_get_pages_of_a_prefix_iovec_stops_at_its_length():
    buf = bytearray(3 * P)
    i = iov_iter_init(READ, [IoVec(buf, P + 10), bytearray(100)])
    iov_iter_advance(i, 10)
    assert i.count == P + 100
    res, pages, start = iov_iter_get_pages_alloc(i, 1 << 30)
    assert (res, start, frames(pages)) == (P, 10, [(0, P), (P, P)])


def test_get_pages_limited_by_count():
    buf = bytearray(2 * P)
    i = iov_iter_init(WRITE, [buf], count=P + 1)
    res, pages, start = iov_iter_get_pages_alloc(i, 1 << 30)
    assert (res, start, frames(pages)) == (P + 1, 0, [(0, P), (P, P)])


def test_get_pages_alloc_takes_as_many_pages_as_the_segment_needs(three_pages):
    _, i = three_pages
    res, pages, start = iov_iter_get_pages_alloc(i, 1 << 30)
    assert (res, start, frames(pages)) == (2 * P, 100, [(0, P), (P, P), (2 * P, P)])
    res, pages, start = iov_iter_get_pages_alloc(i, 10)
    assert (res, start, frames(pages)) == (10, 100, [(0, P)])


def test_get_pages_from_the_iterator_position(three_pages):
    _, i = three_pages
    iov_iter_advance(i, P - 96)  # address P + 4
    res, pages, start = iov_iter_get_pages(i, 1 << 30, 16)
    assert (res, start, frames(pages)) == (P + 96, 4, [(P, P), (2 * P, P)])
    iov_iter_advance(i, P + 96)  # the second segment, a buffer of its own
    res, pages, start = iov_iter_get_pages_alloc(i, 1 << 30)
    assert (res, start, frames(pages)) == (7, 0, [(0, 7)])


def test_get_pages_skips_empty_segments_at_the_head():
    buf = bytearray(P)
    i = iov_iter_init(WRITE, [b"", IoVec(b""), IoVec(memoryview(buf)[10:20])])
    res, pages, start = iov_iter_get_pages(i, 1 << 30, 4)
    assert (res, start, frames(pages)) == (10, 10, [(0, P)])
    assert pages[0].obj is buf
    target, other = bytearray(P), bytearray(5)
    i = iov_iter_init(WRITE, [b"", IoVec(memoryview(target)[30:40]), other])
    res, pages, start = iov_iter_get_pages(i, 1 << 30, 4)
    assert (res, start, frames(pages)) == (10, 30, [(0, P)])
    assert pages[0].obj is target


def test_get_pages_with_nothing_left():
    i = iov_iter_init(READ, [bytearray(4)], count=10)  # a trusted count above the segments
    iov_iter_advance(i, 4)
    assert i.count == 6
    assert iov_iter_get_pages(i, 100, 4) == (0, [], 0)
    assert iov_iter_get_pages_alloc(i, 100) == (0, [], 0)
    j = iov_iter_init(READ, [bytearray(4)])
    assert iov_iter_get_pages(j, 0, 4) == (0, [], 0)
    assert iov_iter_get_pages(j, -1, 4) == (0, [], 0)
    assert iov_iter_get_pages(iov_iter_kvec(READ, [bytearray(4)], count=0), 4, 4) == (0, [], 0)


def test_get_pages_of_kvec_and_discard_is_efault():
    assert iov_iter_get_pages(iov_iter_kvec(READ, [bytearray(4)]), 4, 4) == (-errno.EFAULT, [], 0)
    assert iov_iter_get_pages_alloc(iov_iter_discard(READ, 4), 4) == (-errno.EFAULT, [], 0)


def test_get_pages_of_memory_that_cannot_be_pinned_for_the_access_is_efault():
    # a destination over read-only memory: get_user_pages(write=1) fails
    assert iov_iter_get_pages(iov_iter_init(READ, [b"abcd"]), 4, 4) == (-errno.EFAULT, [], 0)
    # a source over it is fine
    res, pages, start = iov_iter_get_pages(iov_iter_init(WRITE, [b"abcd"]), 4, 4)
    assert (res, start, frames(pages)) == (4, 0, [(0, 4)]) and pages[0].readonly
    # released memory is not mapped at all
    assert iov_iter_get_pages(iov_iter_init(WRITE, [released(4)]), 4, 4) == (-errno.EFAULT, [], 0)
    assert iov_iter_get_pages_alloc(released_ubuf(READ, 4), 4) == (-errno.EFAULT, [], 0)


def test_get_pages_of_bio_vecs_is_the_page_itself():
    p, q = Page(), Page()
    i = iov_iter_bvec(READ, [BioVec(p, 100, 200), BioVec(q, 0, P)])
    res, pages, start = iov_iter_get_pages(i, 1 << 30, 4)
    assert (res, start) == (200, 100) and len(pages) == 1 and pages[0] is p
    iov_iter_advance(i, 50)
    res, pages, start = iov_iter_get_pages_alloc(i, 1 << 30)
    assert (res, start) == (150, 150) and pages[0] is p
    assert iov_iter_get_pages(i, 30, 4)[::2] == (30, 150)
    iov_iter_advance(i, 150)
    res, pages, start = iov_iter_get_pages(i, 1 << 30, 4)
    assert (res, start) == (P, 0) and pages[0] is q


# ---- iov_iter_fault_in_readable ------------------------------------------------------------------

def test_fault_in_readable_of_readable_user_memory():
    i = iov_iter_init(WRITE, [b"abc", bytearray(2)])
    assert iov_iter_fault_in_readable(i, 3) == 0
    assert iov_iter_fault_in_readable(i, 100) == 0
    assert iov_iter_fault_in_readable(iov_iter_ubuf(WRITE, b"x"), 1) == 0


def test_fault_in_readable_of_released_user_memory_is_efault():
    assert iov_iter_fault_in_readable(iov_iter_init(WRITE, [released(4)]), 4) == -errno.EFAULT
    assert iov_iter_fault_in_readable(released_ubuf(WRITE, 4), 1) == -errno.EFAULT
    i = iov_iter_init(WRITE, [b"ab", released(4)])
    assert iov_iter_fault_in_readable(i, 4) == 0  # only the current segment is faulted in
    iov_iter_advance(i, 2)
    assert iov_iter_fault_in_readable(i, 4) == -errno.EFAULT


def test_fault_in_readable_of_zero_bytes_touches_nothing():
    """fault_in_pages_readable(uaddr, 0) returns 0 at once; so does an exhausted segment."""
    assert iov_iter_fault_in_readable(iov_iter_init(WRITE, [released(4)]), 0) == 0
    i = released_ubuf(WRITE, 2)
    iov_iter_advance(i, 2)  # UBUF stays on its buffer, at its end: nothing left to read there
    assert i.nr_segs == 1 and i.iov_offset == 2
    assert iov_iter_fault_in_readable(i, 4) == 0


def test_fault_in_readable_past_the_last_segment():
    i = iov_iter_init(WRITE, [b"ab"])
    iov_iter_advance(i, 2)
    assert i.nr_segs == 0
    assert iov_iter_fault_in_readable(i, 4) == 0


def test_fault_in_readable_of_kernel_memory_is_always_0():
    assert iov_iter_fault_in_readable(iov_iter_kvec(WRITE, [released(4)]), 4) == 0
    assert iov_iter_fault_in_readable(iov_iter_discard(READ, 4), 4) == 0
