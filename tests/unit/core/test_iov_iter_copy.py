"""Copies through a Linux iterator (iofs.iov_iter): copy_to_iter, copy_from_iter(_full,
_nocache), iov_iter_advance and iov_iter_zero; eager stepping past finished segments, the wrong
direction (a warning and 0), user faults (a short copy), and the driver's buffer.

Expected values come from lib/iov_iter.c (iterate_and_advance), not from the implementation.
"""

from __future__ import annotations

import pytest

from iofs.core import iov_iter as iov_iter_module
from iofs.iov_iter import (
    READ,
    WRITE,
    copy_from_iter,
    copy_from_iter_full,
    copy_from_iter_nocache,
    copy_to_iter,
    csum_and_copy_from_iter,
    csum_and_copy_to_iter,
    iov_iter_advance,
    iov_iter_discard,
    iov_iter_init,
    iov_iter_kvec,
    iov_iter_single_seg_count,
    iov_iter_zero,
)
from tests.support.views import pos, released


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


# An instrumenting tool (mutmut) wraps every function in a trampoline, which adds frames between
# the caller and warnings.warn: the caller a warning names can only be checked in a plain run.
instrumented = hasattr(iov_iter_module.copy_to_iter, "__wrapped__")


# ---- wrong direction ---------------------------------------------------------------------------

WRONG_WAY = [
    (lambda i: copy_to_iter(b"ab", 2, i), WRITE, "copy_to_iter on a source iterator", 0),
    (lambda i: copy_from_iter(bytearray(2), 2, i), READ,
     "copy_from_iter on a destination iterator", 0),
    (lambda i: copy_from_iter_nocache(bytearray(2), 2, i), READ,
     "copy_from_iter_nocache on a destination iterator", 0),
    (lambda i: csum_and_copy_from_iter(bytearray(2), 2, 5, i), READ,
     "csum_and_copy_from_iter on a destination iterator", (0, 5)),
    (lambda i: csum_and_copy_to_iter(b"ab", 2, 5, i), WRITE,
     "csum_and_copy_to_iter on a source iterator", (0, 5)),
]


@pytest.mark.parametrize("call, direction, message, result", WRONG_WAY)
def test_wrong_direction_warning_text(call, direction, message, result):
    i = iov_iter_init(direction, [bytearray(2)])
    with pytest.warns(RuntimeWarning) as rec:
        assert call(i) == result
    assert [str(w.message) for w in rec] == [message]
    assert pos(i) == (1, 0, 2)


@pytest.mark.skipif(instrumented, reason="trampolines add frames")
def test_wrong_direction_warning_names_the_caller():
    src, dst = iov_iter_init(WRITE, [bytearray(2)]), iov_iter_init(READ, [bytearray(2)])
    with pytest.warns(RuntimeWarning) as rec:  # called directly from here, each of them
        copy_to_iter(b"ab", 2, src)
        copy_from_iter(bytearray(2), 2, dst)
        copy_from_iter_nocache(bytearray(2), 2, dst)
        csum_and_copy_from_iter(bytearray(2), 2, 0, dst)
        csum_and_copy_to_iter(b"ab", 2, 0, src)
    assert [w.filename for w in rec] == [__file__] * 5


# ---- the driver's buffer ---------------------------------------------------------------------------

def test_buffer_too_short_message():
    with pytest.raises(ValueError) as exc:
        copy_to_iter(b"ab", 3, iov_iter_init(READ, [bytearray(4)]))
    assert str(exc.value) == "3 bytes named, the buffer holds 2"


@pytest.mark.parametrize("copy", [copy_from_iter, copy_from_iter_nocache])
def test_read_only_destination_with_a_user_iterator_is_a_bug_not_a_short_copy(copy):
    """The driver's own buffer is kernel memory: read-only raises, even though the iterator is
    user memory (whose faults would be short copies)."""
    i = iov_iter_init(WRITE, [b"abcd"])
    with pytest.raises(TypeError) as exc:
        copy(b"....", 4, i)
    assert str(exc.value) == "the destination buffer is read-only"
    assert pos(i) == (1, 0, 4)
    with pytest.raises(TypeError):
        csum_and_copy_from_iter(b"....", 4, 0, i)
    assert pos(i) == (1, 0, 4)


def test_read_only_source_is_fine(no_warnings):
    a = bytearray(4)
    assert copy_to_iter(b"abcd", 4, iov_iter_init(READ, [a])) == 4 and a == b"abcd"
    assert csum_and_copy_to_iter(b"abcd", 4, 0, iov_iter_init(READ, [a]))[0] == 4


# ---- user faults: where the iterator stops ------------------------------------------------------

def test_fault_in_the_second_whole_segment_of_a_copy(no_warnings):
    a, b, d = bytearray(2), bytearray(3), bytearray(2)
    i = iov_iter_init(READ, [a, b, b"ro!", d])
    assert copy_to_iter(b"ABCDEFGHIJ", 10, i) == 5
    assert a == b"AB" and b == b"CDE" and d == b"\0\0"
    assert pos(i) == (2, 0, 5)
    # the iterator is on the faulting segment: a retry faults there again
    assert copy_to_iter(b"FGHIJ", 5, i) == 0 and pos(i) == (2, 0, 5)


# ---- iov_iter_zero ------------------------------------------------------------------------------

def test_zero_more_than_64k(no_warnings, monkeypatch):
    monkeypatch.setattr(iov_iter_module, "_zeros", memoryview(bytes(1 << 16)))
    n = (1 << 16) + 4097
    big = bytearray(b"\xaa") * (n + 3)
    i = iov_iter_kvec(READ, [big])
    assert iov_iter_zero(n, i) == n
    assert big == bytes(n) + b"\xaa" * 3
    assert pos(i) == (1, n, 3)
    small = bytearray(b"\xbb\xbb")
    assert iov_iter_zero(2, iov_iter_init(READ, [small])) == 2 and small == b"\0\0"
