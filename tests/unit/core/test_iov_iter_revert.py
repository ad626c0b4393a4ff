"""Going back and narrowing a Linux iterator (iofs.iov_iter): iov_iter_revert,
iov_iter_truncate and iov_iter_reexpand, as lib/iov_iter.c does them.
"""

from __future__ import annotations

import pytest

from iofs.core import iov_iter as iov_iter_module
from iofs.core.pages import Page
from iofs.iov_iter import (
    MAX_RW_COUNT,
    READ,
    BioVec,
    copy_to_iter,
    dup_iter,
    iov_iter_advance,
    iov_iter_bvec,
    iov_iter_count,
    iov_iter_discard,
    iov_iter_init,
    iov_iter_kvec,
    iov_iter_reexpand,
    iov_iter_revert,
    iov_iter_truncate,
    iov_iter_ubuf,
)
from tests.support.views import pos


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


# An instrumenting tool (mutmut) wraps every function in a trampoline, which adds frames between
# the caller and warnings.warn: the caller a warning names can only be checked in a plain run.
instrumented = hasattr(iov_iter_module.copy_to_iter, "__wrapped__")


# ---- revert --------------------------------------------------------------------------------------

def test_revert_of_exactly_max_rw_count(no_warnings):
    i = iov_iter_discard(READ, MAX_RW_COUNT + 10)
    iov_iter_advance(i, MAX_RW_COUNT)
    assert i.count == 10
    iov_iter_revert(i, MAX_RW_COUNT)
    assert i.count == MAX_RW_COUNT + 10


@pytest.mark.parametrize("unroll", [MAX_RW_COUNT + 1, -1])
def test_revert_out_of_range_warns_and_does_nothing(unroll):
    i = iov_iter_init(READ, [bytearray(4)])
    iov_iter_advance(i, 3)
    with pytest.warns(RuntimeWarning) as rec:
        iov_iter_revert(i, unroll)
    assert [str(w.message) for w in rec] == [f"iov_iter_revert({unroll}) out of range"]
    assert pos(i) == (1, 3, 1)


@pytest.mark.skipif(instrumented, reason="trampolines add frames")
def test_revert_out_of_range_warning_names_the_caller():
    with pytest.warns(RuntimeWarning) as rec:
        iov_iter_revert(iov_iter_init(READ, [bytearray(4)]), -1)
    assert rec[0].filename == __file__


def test_revert_of_a_partly_consumed_discard(no_warnings):
    i = iov_iter_discard(READ, 10)
    iov_iter_advance(i, 4)
    assert i.count == 6
    iov_iter_revert(i, 3)
    assert i.count == 9


def test_revert_past_the_start_message():
    i = iov_iter_init(READ, [bytearray(4)])
    iov_iter_advance(i, 2)
    with pytest.raises(AssertionError) as exc:
        iov_iter_revert(i, 5)
    assert str(exc.value) == "BUG: iov_iter_revert(5) goes back past the start"


# ---- truncate / reexpand -------------------------------------------------------------------------

def test_two_truncates_then_reexpand(no_warnings):
    i = iov_iter_init(READ, [bytearray(10)])
    iov_iter_truncate(i, 6)
    iov_iter_truncate(i, 4)
    assert i.count == 4
    iov_iter_reexpand(i, 10)
    assert pos(i) == (1, 0, 10)


def test_truncate_to_the_count_takes_nothing():
    i = iov_iter_init(READ, [bytearray(10)])
    iov_iter_truncate(i, 10)
    with pytest.raises(ValueError):
        iov_iter_reexpand(i, 11)


def test_reexpand_in_steps(no_warnings):
    i = iov_iter_init(READ, [bytearray(10)])
    iov_iter_truncate(i, 4)
    iov_iter_reexpand(i, 6)
    iov_iter_reexpand(i, 10)
    assert i.count == 10
    with pytest.raises(ValueError) as exc:
        iov_iter_reexpand(i, 11)
    assert str(exc.value) == "iov_iter_reexpand(11): 1 bytes more than truncation took (0)"


def test_truncate_dup_then_reexpand_the_copy(no_warnings):
    i = iov_iter_init(READ, [bytearray(4), bytearray(6)])
    iov_iter_advance(i, 1)
    iov_iter_truncate(i, 5)
    new = dup_iter(i)
    iov_iter_reexpand(new, iov_iter_count(new) + 4)
    assert pos(new) == (2, 1, 9)
    assert pos(i) == (2, 1, 5)  # the original keeps its own count
    with pytest.raises(ValueError):
        iov_iter_reexpand(new, 10)
