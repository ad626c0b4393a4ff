"""The kinds of Linux iterator (iofs.iov_iter): IOVEC, UBUF, KVEC, BVEC and DISCARD, how
they are made and duplicated (dup_iter), and iov_iter_single_seg_count.

Expected values come from lib/iov_iter.c and include/linux/uio.h, not from the implementation.
"""

from __future__ import annotations

import pytest

from iofs.core.pages import Page
from iofs.iov_iter import (
    ITER_BVEC,
    ITER_DISCARD,
    ITER_IOVEC,
    ITER_KVEC,
    ITER_UBUF,
    PAGE_SIZE,
    READ,
    WRITE,
    BioVec,
    copy_from_iter,
    copy_from_iter_full,
    copy_to_iter,
    dup_iter,
    import_iovec,
    iov_iter_advance,
    iov_iter_bvec,
    iov_iter_count,
    iov_iter_discard,
    iov_iter_get_pages,
    iov_iter_init,
    iov_iter_kvec,
    iov_iter_reexpand,
    iov_iter_revert,
    iov_iter_rw,
    iov_iter_single_seg_count,
    iov_iter_truncate,
    iov_iter_ubuf,
    iov_length,
)
from iofs.uio import UIO_WRITE, IoVec, Uio, uiomove
from tests.support.views import pos


# ---- construction ------------------------------------------------------------------------------

def test_init_defaults():
    i = iov_iter_init(READ, [bytearray(3), b"", bytearray(4)])
    assert i.iter_type == ITER_IOVEC
    assert pos(i) == (3, 0, 7)
    assert iov_iter_count(i) == 7 and iov_iter_rw(i) == READ
    j = iov_iter_init(WRITE, [b"abc", b"defg"], 1)
    assert pos(j) == (1, 0, 3) and iov_iter_rw(j) == WRITE


def test_kinds():
    assert iov_iter_kvec(READ, [bytearray(1)]).iter_type == ITER_KVEC
    assert iov_iter_ubuf(READ, bytearray(2)).iter_type == ITER_UBUF
    assert iov_iter_bvec(READ, [BioVec(Page(), 0, 8)]).iter_type == ITER_BVEC
    d = iov_iter_discard(READ, 9)
    assert d.iter_type == ITER_DISCARD and d.count == 9


def test_bad_direction_rejected():
    with pytest.raises(ValueError):
        iov_iter_init(2, [bytearray(1)])


def test_iov_length():
    assert iov_length([b"ab", IoVec(bytearray(5), 3), b""]) == 5
    assert iov_length([b"ab", b"cde"], 1) == 2


# ---- DISCARD, UBUF, KVEC, BVEC ---------------------------------------------------------------------

def test_discard_counts_without_copying(no_warnings):
    i = iov_iter_discard(READ, 10)
    assert copy_to_iter(b"abcd", 4, i) == 4 and i.count == 6
    assert copy_to_iter(b"abcdefgh", 8, i) == 6 and i.count == 0
    assert copy_to_iter(b"a", 1, i) == 0
    iov_iter_revert(i, 3)
    assert i.count == 3


def test_discard_is_read_only():
    with pytest.raises(ValueError):
        iov_iter_discard(WRITE, 5)


def test_ubuf_single_buffer(no_warnings):
    buf = bytearray(6)
    i = iov_iter_ubuf(READ, buf, 4)
    assert pos(i) == (1, 0, 4)
    assert copy_to_iter(b"abcdef", 6, i) == 4 and buf == b"abcd\0\0"
    # a UBUF has no segment array to step along: iov_offset grows to the length, nr_segs stays 1
    assert pos(i) == (1, 4, 0)
    assert iov_iter_single_seg_count(i) == 0


def test_ubuf_revert_after_full_consumption(no_warnings):
    buf = bytearray(4)
    i = iov_iter_ubuf(READ, buf)
    assert copy_to_iter(b"abcd", 4, i) == 4
    iov_iter_revert(i, 1)
    assert i.count == 1 and i.iov_offset == 3
    assert copy_to_iter(b"Z", 1, i) == 1 and buf == b"abcZ"


def test_ubuf_copy_from_iter_full_more_than_count(no_warnings):
    i = iov_iter_ubuf(WRITE, b"abcd")
    assert copy_from_iter_full(bytearray(6), 6, i) is False
    assert i.count == 4


def test_ubuf_fault_is_a_short_copy(no_warnings):
    i = iov_iter_ubuf(READ, b"ro")
    assert copy_to_iter(b"ab", 2, i) == 0 and pos(i) == (1, 0, 2)


def test_kvec_fault_is_a_bug_not_a_short_copy():
    i = iov_iter_kvec(READ, [bytearray(2), b"ro"])
    with pytest.raises((TypeError, ValueError, BufferError)):
        copy_to_iter(b"abcd", 4, i)


def test_bvec_copies_within_pages(no_warnings):
    p1, p2 = Page(), Page()
    i = iov_iter_bvec(READ, [BioVec(p1, PAGE_SIZE - 2, 2), BioVec(p2, 10, 3)])
    assert pos(i) == (2, 0, 5)
    assert copy_to_iter(b"abcde", 5, i) == 5
    assert p1[-2:] == b"ab" and p2[10:13] == b"cde" and p2[9] == 0 and p2[13] == 0
    j = iov_iter_bvec(WRITE, [BioVec(p2, 11, 2), BioVec(p1, PAGE_SIZE - 1, 1)])
    out = bytearray(3)
    assert copy_from_iter(out, 3, j) == 3 and out == b"deb"


def test_bvec_may_not_leave_its_page():
    with pytest.raises(ValueError):
        iov_iter_bvec(READ, [BioVec(Page(), PAGE_SIZE - 1, 2)])


def test_bvec_fault_is_a_bug():
    i = iov_iter_bvec(READ, [BioVec(bytes(PAGE_SIZE), 0, 4)])
    with pytest.raises((TypeError, ValueError, BufferError)):
        copy_to_iter(b"abcd", 4, i)


# ---- single_seg_count ------------------------------------------------------------------------------

def test_single_seg_count():
    one = iov_iter_init(READ, [bytearray(10)], count=7)
    assert iov_iter_single_seg_count(one) == 7  # one segment: count
    several = iov_iter_init(READ, [bytearray(5), bytearray(4)])
    assert iov_iter_single_seg_count(several) == 5
    iov_iter_advance(several, 3)
    assert iov_iter_single_seg_count(several) == 2
    iov_iter_truncate(several, 1)
    assert iov_iter_single_seg_count(several) == 1  # min(count, seg_len - offset)
    iov_iter_reexpand(several, 6)
    iov_iter_advance(several, 2)
    assert several.nr_segs == 1 and iov_iter_single_seg_count(several) == 4


# ---- dup_iter ---------------------------------------------------------------------------------------

def test_dup_iter_is_independent_both_ways(no_warnings):
    i = iov_iter_init(WRITE, [b"abc", b"", b"defg"])
    iov_iter_advance(i, 1)
    d = dup_iter(i)
    assert pos(d) == pos(i) == (3, 1, 6)
    assert d.iter_type == i.iter_type and iov_iter_rw(d) == WRITE
    out = bytearray(6)
    assert copy_from_iter(out, 6, d) == 6 and out == b"bcdefg"
    assert pos(i) == (3, 1, 6)
    out2 = bytearray(3)
    assert copy_from_iter(out2, 3, i) == 3 and out2 == b"bcd"
    assert pos(d) == (0, 0, 0)
    iov_iter_revert(d, 6)
    assert pos(d) == (3, 1, 6) and pos(i) == (1, 1, 3)


def test_dup_iter_bvec_and_discard(no_warnings):
    p = Page()
    p[5:8] = b"xyz"
    b = iov_iter_bvec(WRITE, [BioVec(p, 5, 3)])
    d = dup_iter(b)
    out = bytearray(3)
    assert copy_from_iter(out, 3, d) == 3 and out == b"xyz" and b.count == 3
    di = iov_iter_discard(READ, 4)
    dd = dup_iter(di)
    copy_to_iter(b"ab", 2, dd)
    assert di.count == 4 and dd.count == 2


# ---- construction ------------------------------------------------------------------------------

def test_bad_direction_message():
    with pytest.raises(ValueError) as exc:
        iov_iter_init(2, [bytearray(1)])
    assert str(exc.value) == "direction must be READ or WRITE, not 2"


def test_repr():
    i = iov_iter_init(READ, [bytearray(3), bytearray(4)])
    iov_iter_advance(i, 1)
    assert repr(i) == "IovIter(ITER_IOVEC, READ, count=6, nr_segs=2, iov_offset=1)"
    assert repr(iov_iter_kvec(WRITE, [b"ab"])) == (
        "IovIter(ITER_KVEC, WRITE, count=2, nr_segs=1, iov_offset=0)")


def test_iterators_over_the_uio_iov_of_a_partly_moved_uio(no_warnings):
    uio = Uio([b"abcdef", b"gh"], rw=UIO_WRITE)
    assert uiomove(bytearray(4), 4, uio) == 0
    for make in (iov_iter_init, iov_iter_kvec):
        i = make(WRITE, uio.uio_iov)
        assert pos(i) == (2, 0, 4)
        out = bytearray(4)
        assert copy_from_iter(out, 4, i) == 4 and out == b"efgh"


def test_constructors_take_any_iterable_without_nr_segs(no_warnings):
    """Like Uio, the constructors take the iovec array as any iterable when nr_segs is not given."""
    assert pos(iov_iter_init(READ, (bytearray(n) for n in (2, 3)))) == (2, 0, 5)
    assert pos(iov_iter_kvec(WRITE, iter([b"abc", b"d"]))) == (2, 0, 4)
    assert pos(iov_iter_bvec(READ, (BioVec(Page(), 0, n) for n in (7, 9)))) == (2, 0, 16)
    ret, i = import_iovec(READ, (bytearray(n) for n in (1, 4)))
    assert ret == 0 and pos(i) == (2, 0, 5)


def test_kvec_nr_segs_limits_the_array(no_warnings):
    i = iov_iter_kvec(READ, [bytearray(2), bytearray(3), bytearray(4)], 2)
    assert pos(i) == (2, 0, 5)
    assert iov_iter_kvec(READ, [bytearray(2), bytearray(3)], 0).count == 0


def test_bvec_nr_segs_limits_the_array(no_warnings):
    bv = [BioVec(Page(), 0, 10), BioVec(Page(), 5, 20), BioVec(Page(), 0, 30)]
    i = iov_iter_bvec(READ, bv, 2)
    assert pos(i) == (2, 0, 30)
    assert iov_iter_bvec(READ, bv).count == 60


@pytest.mark.parametrize("offset, length", [(-1, 4), (-4, 4), (0, -1), (10, -2), (4000, 97)])
def test_bvec_outside_its_page_is_refused(offset, length):
    with pytest.raises(ValueError) as exc:
        iov_iter_bvec(READ, [BioVec(Page(), offset, length)])
    assert str(exc.value) == f"bio_vec {offset}+{length} does not fit its page"


def test_discard_message():
    with pytest.raises(ValueError) as exc:
        iov_iter_discard(WRITE, 1)
    assert str(exc.value) == "iov_iter_discard: only READ (ITER_DEST) iterators discard"


def test_dup_iter_of_a_bvec_keeps_the_bio_vecs(no_warnings):
    p, q = Page(), Page()
    i = iov_iter_bvec(WRITE, [BioVec(p, 8, 8), BioVec(q, 16, 32)])
    iov_iter_advance(i, 10)
    new = dup_iter(i)
    res, pages, start = iov_iter_get_pages(new, 100, 1)
    assert (res, start) == (30, 18) and pages[0] is q
