"""Unit tests of the Linux face (iofs.iov_iter), one or more per point of SEMANTICS.md.

Expected values come from lib/iov_iter.c (iterate_and_advance, iov_iter_revert,
rw_copy_check_uvector, import_single_range) and include/linux/uio.h, not from the implementation.
"""

from __future__ import annotations

import errno
import mmap

import pytest

from iofs.iov_iter import (
    ITER_BVEC,
    ITER_DISCARD,
    ITER_IOVEC,
    ITER_KVEC,
    ITER_UBUF,
    MAX_RW_COUNT,
    PAGE_SIZE,
    READ,
    UIO_MAXIOV,
    WRITE,
    BioVec,
    copy_from_iter,
    copy_from_iter_full,
    copy_from_iter_nocache,
    copy_page_from_iter,
    copy_page_to_iter,
    copy_to_iter,
    dup_iter,
    import_iovec,
    import_single_range,
    iov_iter_advance,
    iov_iter_bvec,
    iov_iter_copy_from_user_atomic,
    iov_iter_count,
    iov_iter_discard,
    iov_iter_init,
    iov_iter_kvec,
    iov_iter_reexpand,
    iov_iter_revert,
    iov_iter_rw,
    iov_iter_single_seg_count,
    iov_iter_truncate,
    iov_iter_ubuf,
    iov_iter_zero,
    iov_length,
)
from iofs.core.pages import Page
from iofs.uio import IoVec

from views import pos, released


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


# ---- the basic copy ----------------------------------------------------------------------------

def test_copy_to_iter_scatters_and_returns_bytes_copied(no_warnings):
    a, b, c = bytearray(2), bytearray(3), bytearray(2)
    i = iov_iter_init(READ, [a, b, c])
    assert copy_to_iter(b"abcdefg", 7, i) == 7
    assert (a, b, c) == (b"ab", b"cde", b"fg")
    assert pos(i) == (0, 0, 0)


def test_copy_from_iter_gathers(no_warnings):
    i = iov_iter_kvec(WRITE, [b"ab", bytearray(b"cde")])
    out = bytearray(5)
    assert copy_from_iter(out, 5, i) == 5 and out == b"abcde"
    out2 = bytearray(5)
    j = iov_iter_init(WRITE, [b"xy", b"z"])
    assert copy_from_iter_nocache(out2, 5, j) == 3 and out2[:3] == b"xyz"


def test_n_greater_than_count_is_clamped(no_warnings):
    a = bytearray(b"......")
    i = iov_iter_init(READ, [a], count=4)
    assert copy_to_iter(b"ABCDEFGH", 8, i) == 4
    assert a == b"ABCD.." and i.count == 0
    assert copy_to_iter(b"XY", 2, i) == 0 and a == b"ABCD.."


def test_zero_bytes_moves_nothing(no_warnings):
    i = iov_iter_init(READ, [b"", bytearray(2)])
    assert copy_to_iter(b"", 0, i) == 0
    assert pos(i) == (2, 0, 2)  # a zero-length copy does not skip the empty head


def test_count_larger_than_segments_is_trusted(no_warnings):
    a = bytearray(2)
    i = iov_iter_init(READ, [a], count=5)
    assert copy_to_iter(b"abcde", 5, i) == 2
    assert a == b"ab" and i.count == 3
    assert copy_to_iter(b"abcde", 5, i) == 0 and i.count == 3


# ---- eager stepping past finished and empty segments --------------------------------------------

def test_move_ending_on_a_boundary_steps_past_the_segment_at_once(no_warnings):
    a, b = bytearray(3), bytearray(3)
    i = iov_iter_init(READ, [a, b])
    assert copy_to_iter(b"abc", 3, i) == 3
    assert pos(i) == (1, 0, 3)  # BSD would still be on a, with iov_len 0
    assert copy_to_iter(b"d", 1, i) == 1 and b == b"d\0\0"
    assert pos(i) == (1, 1, 2)


def test_empty_segment_after_a_finished_one_stays_until_reached(no_warnings):
    a, b = bytearray(2), bytearray(2)
    i = iov_iter_init(READ, [a, b"", b])
    assert copy_to_iter(b"ab", 2, i) == 2
    assert pos(i) == (2, 0, 2)  # one step: past a, onto the empty segment
    assert iov_iter_single_seg_count(i) == 0
    assert copy_to_iter(b"c", 1, i) == 1
    assert pos(i) == (1, 1, 1) and b == b"c\0"


def test_empty_segments_at_head(no_warnings):
    a = bytearray(2)
    i = iov_iter_init(READ, [b"", b"", a])
    assert pos(i) == (3, 0, 2)
    assert copy_to_iter(b"x", 1, i) == 1
    assert pos(i) == (1, 1, 1) and a == b"x\0"


def test_empty_segments_in_the_middle_crossed_in_one_copy(no_warnings):
    a, b = bytearray(2), bytearray(2)
    i = iov_iter_kvec(READ, [a, b"", b"", b])
    assert copy_to_iter(b"abcd", 4, i) == 4
    assert (a, b) == (b"ab", b"cd") and pos(i) == (0, 0, 0)


def test_empty_segment_at_tail(no_warnings):
    a = bytearray(2)
    i = iov_iter_init(READ, [a, b""])
    assert copy_to_iter(b"ab", 2, i) == 2
    assert pos(i) == (1, 0, 0)
    assert copy_to_iter(b"c", 1, i) == 0 and pos(i) == (1, 0, 0)


def test_advance_is_eager_too(no_warnings):
    a = bytearray(b"....")
    i = iov_iter_init(READ, [a, b"xy"])
    iov_iter_advance(i, 4)
    assert a == b"...." and pos(i) == (1, 0, 2)
    iov_iter_advance(i, 10)  # clamped to count
    assert pos(i) == (0, 0, 0)


def test_advance_does_not_touch_read_only_or_released_memory(no_warnings):
    i = iov_iter_init(READ, [b"ro", released(3)])
    iov_iter_advance(i, 5)
    assert pos(i) == (0, 0, 0)


def test_advance_partly_into_released_user_memory():
    i = iov_iter_init(READ, [released(4)])
    iov_iter_advance(i, 1)
    assert pos(i) == (1, 1, 3)


# ---- wrong direction -----------------------------------------------------------------------------

def test_copy_to_a_source_iterator_warns_and_returns_0():
    data = bytearray(b"abc")
    i = iov_iter_init(WRITE, [data])
    with pytest.warns(RuntimeWarning):
        assert copy_to_iter(b"xyz", 3, i) == 0
    assert data == b"abc" and pos(i) == (1, 0, 3)


def test_copy_from_a_destination_iterator_warns_and_returns_0():
    i = iov_iter_kvec(READ, [bytearray(b"abc")])
    out = bytearray(b"...")
    with pytest.warns(RuntimeWarning):
        assert copy_from_iter(out, 3, i) == 0
    with pytest.warns(RuntimeWarning):
        assert copy_from_iter_nocache(out, 3, i) == 0
    with pytest.warns(RuntimeWarning):
        assert copy_from_iter_full(out, 3, i) is False
    assert out == b"..." and pos(i) == (1, 0, 3)


def test_copy_from_discard_is_the_wrong_direction():
    i = iov_iter_discard(READ, 5)
    with pytest.warns(RuntimeWarning):
        assert copy_from_iter(bytearray(5), 5, i) == 0
    assert i.count == 5


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


# ---- user faults: short copies, stop at the first short step ----------------------------------------

def test_user_fault_is_a_short_copy_that_stops_at_the_faulting_segment(no_warnings):
    a, c = bytearray(2), bytearray(2)
    i = iov_iter_init(READ, [a, b"", b"ro", c])
    assert copy_to_iter(b"ABCDEF", 6, i) == 2
    assert a == b"AB" and c == b"\0\0"
    assert pos(i) == (2, 0, 4)  # on the faulting segment, nothing of it consumed
    assert copy_to_iter(b"CDEF", 4, i) == 0 and pos(i) == (2, 0, 4)


def test_user_fault_on_first_segment_consumes_nothing(no_warnings):
    i = iov_iter_init(READ, [b"ro", bytearray(2)])
    assert copy_to_iter(b"abcd", 4, i) == 0 and pos(i) == (2, 0, 4)


def test_user_fault_after_partial_segment(no_warnings):
    a = bytearray(3)
    i = iov_iter_init(READ, [a, b"ro"])
    assert copy_to_iter(b"A", 1, i) == 1
    assert copy_to_iter(b"BCDE", 4, i) == 2
    assert a == b"ABC" and pos(i) == (1, 0, 2)


def test_user_fault_from_released_memory_on_write(no_warnings):
    i = iov_iter_init(WRITE, [b"ab", released(2)])
    out = bytearray(4)
    assert copy_from_iter(out, 4, i) == 2 and out[:2] == b"ab"
    assert pos(i) == (1, 0, 2)


def test_iov_iter_zero(no_warnings):
    a, b = bytearray(b"xxx"), bytearray(b"yyy")
    i = iov_iter_init(READ, [a, b])
    assert iov_iter_zero(4, i) == 4
    assert (a, b) == (b"\0\0\0", b"\0yy") and pos(i) == (1, 1, 2)
    j = iov_iter_init(READ, [bytearray(1), b"ro"])
    assert iov_iter_zero(3, j) == 1


# ---- copy_from_iter_full -----------------------------------------------------------------------------

def test_copy_from_iter_full_success(no_warnings):
    i = iov_iter_init(WRITE, [b"abc", b"de"])
    out = bytearray(4)
    assert copy_from_iter_full(out, 4, i) is True
    assert out == b"abcd" and pos(i) == (1, 1, 1)


def test_copy_from_iter_full_short_copy_is_reverted(no_warnings):
    i = iov_iter_init(WRITE, [b"abc", b"", released(2)])
    iov_iter_advance(i, 1)
    before = pos(i)
    out = bytearray(4)
    assert copy_from_iter_full(out, 4, i) is False
    assert pos(i) == before == (3, 1, 4)
    # the revert restored the position exactly: a plain copy now gets the same bytes again
    out2 = bytearray(2)
    assert copy_from_iter(out2, 2, i) == 2 and out2 == b"bc"


def test_copy_from_iter_full_more_than_count_is_all_or_nothing(no_warnings):
    i = iov_iter_kvec(WRITE, [b"abc"])
    out = bytearray(5)
    assert copy_from_iter_full(out, 5, i) is False
    assert pos(i) == (1, 0, 3)


# ---- revert ----------------------------------------------------------------------------------------

def test_revert_zero_does_nothing(no_warnings):
    i = iov_iter_init(READ, [bytearray(3)])
    iov_iter_revert(i, 0)
    assert pos(i) == (1, 0, 3)
    iov_iter_advance(i, 2)
    iov_iter_revert(i, 0)
    assert pos(i) == (1, 2, 1)


def test_revert_within_the_segment(no_warnings):
    i = iov_iter_init(READ, [bytearray(5)])
    iov_iter_advance(i, 4)
    iov_iter_revert(i, 3)
    assert pos(i) == (1, 1, 4)


def test_revert_across_segments(no_warnings):
    a, b, c = bytearray(2), bytearray(3), bytearray(4)
    i = iov_iter_init(READ, [a, b, c])
    iov_iter_advance(i, 7)
    assert pos(i) == (1, 2, 2)
    iov_iter_revert(i, 4)  # back over all of c's 2 and into b
    assert pos(i) == (2, 1, 6)
    assert copy_to_iter(b"XYZW", 4, i) == 4
    assert b == b"\0XY" and c == b"ZW\0\0"


def test_revert_across_empty_segments(no_warnings):
    i = iov_iter_init(READ, [bytearray(3), b"", b"", bytearray(2)])
    iov_iter_advance(i, 4)
    assert pos(i) == (1, 1, 1)
    iov_iter_revert(i, 2)
    assert pos(i) == (4, 2, 3)


def test_revert_after_an_eager_step_past_the_end(no_warnings):
    i = iov_iter_init(READ, [bytearray(2)])
    iov_iter_advance(i, 2)
    assert pos(i) == (0, 0, 0)
    iov_iter_revert(i, 1)
    assert pos(i) == (1, 1, 1)


def test_revert_to_exactly_a_segment_start_lands_at_offset_0(no_warnings):
    i = iov_iter_init(READ, [bytearray(2), bytearray(3)])
    iov_iter_advance(i, 4)
    iov_iter_revert(i, 2)  # 2 bytes back from b[2] is b[0], not the end of a
    assert pos(i) == (1, 0, 3)
    iov_iter_revert(i, 1)
    assert pos(i) == (2, 1, 4)


def test_revert_to_the_start(no_warnings):
    a, b = bytearray(2), bytearray(3)
    i = iov_iter_init(READ, [a, b"", b])
    assert copy_to_iter(b"abcd", 4, i) == 4
    iov_iter_revert(i, 4)
    assert pos(i) == (3, 0, 5)
    assert copy_to_iter(b"ABCDE", 5, i) == 5
    assert (a, b) == (b"AB", b"CDE")


def test_revert_past_the_start_is_a_bug():
    i = iov_iter_init(READ, [bytearray(2), bytearray(2)])
    iov_iter_advance(i, 3)
    with pytest.raises(AssertionError):
        iov_iter_revert(i, 4)


def test_revert_past_the_start_of_a_ubuf_is_a_bug():
    i = iov_iter_ubuf(READ, bytearray(4))
    iov_iter_advance(i, 2)
    with pytest.raises(AssertionError):
        iov_iter_revert(i, 3)


def test_revert_more_than_max_rw_count_warns_and_does_nothing():
    i = iov_iter_init(READ, [bytearray(4)])
    iov_iter_advance(i, 2)
    with pytest.warns(RuntimeWarning):
        iov_iter_revert(i, MAX_RW_COUNT + 1)
    assert pos(i) == (1, 2, 2)


def test_revert_kvec_and_bvec(no_warnings):
    k = iov_iter_kvec(READ, [bytearray(2), bytearray(2)])
    iov_iter_advance(k, 4)
    iov_iter_revert(k, 3)
    assert pos(k) == (2, 1, 3)
    p = Page()
    b = iov_iter_bvec(READ, [BioVec(p, 0, 2), BioVec(p, 100, 2)])
    iov_iter_advance(b, 3)
    iov_iter_revert(b, 2)
    assert pos(b) == (2, 1, 3)


# ---- truncate / reexpand ----------------------------------------------------------------------------

def test_truncate_caps_count_and_never_raises_it(no_warnings):
    a = bytearray(6)
    i = iov_iter_init(READ, [a])
    iov_iter_truncate(i, 4)
    assert i.count == 4
    iov_iter_truncate(i, 10)
    assert i.count == 4
    assert copy_to_iter(b"abcdef", 6, i) == 4 and a == b"abcd\0\0"


def test_truncate_then_reexpand_restores_the_rest(no_warnings):
    a = bytearray(6)
    i = iov_iter_init(READ, [a])
    full = i.count
    iov_iter_truncate(i, 2)
    shorted = full - 2
    assert copy_to_iter(b"ab", 2, i) == 2
    iov_iter_reexpand(i, iov_iter_count(i) + shorted)
    assert i.count == 4
    assert copy_to_iter(b"cdef", 4, i) == 4 and a == b"abcdef"


def test_reexpand_beyond_the_segments_is_refused():
    i = iov_iter_init(READ, [bytearray(3)])
    iov_iter_truncate(i, 1)
    with pytest.raises(ValueError):
        iov_iter_reexpand(i, 4)
    assert i.count == 1


def test_reexpand_to_a_trusted_count_above_the_segments():
    i = iov_iter_init(READ, [bytearray(2)], count=5)
    iov_iter_truncate(i, 1)
    iov_iter_reexpand(i, 5)
    assert i.count == 5


def test_reexpand_beyond_what_was_truncated_is_refused():
    i = iov_iter_init(READ, [bytearray(8)], count=4)
    iov_iter_truncate(i, 2)
    with pytest.raises(ValueError):
        iov_iter_reexpand(i, 8)


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


# ---- import_iovec / import_single_range --------------------------------------------------------------

def test_import_iovec_zero_segments_is_fine():
    ret, i = import_iovec(READ, [])
    assert ret == 0 and pos(i) == (0, 0, 0)


def test_import_iovec_builds_an_iovec_iterator(no_warnings):
    a = bytearray(4)
    ret, i = import_iovec(READ, [a, IoVec(bytearray(3), 2), (bytearray(9), 5)])
    assert ret == 0 and i.iter_type == ITER_IOVEC and pos(i) == (3, 0, 11)
    assert copy_to_iter(b"abcd", 4, i) == 4 and a == b"abcd"


def test_import_iovec_uio_maxiov():
    ret, i = import_iovec(WRITE, [b"x"] * UIO_MAXIOV)
    assert ret == 0 and i.nr_segs == 1024 and i.count == 1024
    assert import_iovec(WRITE, [b"x"] * (UIO_MAXIOV + 1)) == (-errno.EINVAL, None)


def test_import_iovec_negative_length_is_einval():
    assert import_iovec(READ, [(bytearray(4), 2), (bytearray(4), -1)]) == (-errno.EINVAL, None)


def test_import_iovec_length_beyond_the_buffer_is_efault():
    assert import_iovec(READ, [(bytearray(4), 5)]) == (-errno.EFAULT, None)


def test_import_iovec_nr_segs_limits_the_array():
    ret, i = import_iovec(READ, [bytearray(2), bytearray(3), bytearray(4)], 2)
    assert ret == 0 and pos(i) == (2, 0, 5)


@pytest.fixture(scope="module")
def big():
    """A lazily mapped 1.5 GiB anonymous mapping: never touched, so never really allocated."""
    m = mmap.mmap(-1, 0x60000000)
    yield m
    m.close()


def test_import_iovec_total_above_max_rw_count_is_silently_truncated(big):
    first, second = 0x40000000, 0x50000000
    ret, i = import_iovec(WRITE, [(big, first), (big, second), (big, 10)])
    assert ret == 0
    assert i.count == MAX_RW_COUNT
    assert i.nr_segs == 3
    # the segment that crosses the limit is shortened, the ones after it become empty
    iov_iter_advance(i, first)
    assert iov_iter_single_seg_count(i) == MAX_RW_COUNT - first
    iov_iter_advance(i, MAX_RW_COUNT - first)
    assert i.count == 0


def test_import_single_range_caps_at_max_rw_count(big):
    mm = mmap.mmap(-1, MAX_RW_COUNT + PAGE_SIZE)
    try:
        ret, iov, i = import_single_range(READ, mm, MAX_RW_COUNT + 1)
        assert ret == 0 and i.count == MAX_RW_COUNT and iov.iov_len == MAX_RW_COUNT
        del iov, i
    finally:
        mm.close()


def test_import_single_range_checks_access():
    ret, iov, i = import_single_range(READ, bytearray(4), 4)
    assert ret == 0 and pos(i) == (1, 0, 4)
    assert import_single_range(READ, bytearray(4), 5)[0] == -errno.EFAULT


def test_max_rw_count_value():
    assert MAX_RW_COUNT == 0x7FFFF000


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
