"""More unit tests of the Linux face (iofs.iov_iter): the edges that mutation testing found
unchecked. Expected values come from lib/iov_iter.c and the docstrings, not from running the code.
"""

from __future__ import annotations

import errno

import pytest

from iofs.core import iov_iter as iov_iter_module
from iofs.iov_iter import (
    ITER_IOVEC,
    MAX_RW_COUNT,
    PAGE_SIZE,
    READ,
    WRITE,
    BioVec,
    IovIter,
    copy_from_iter,
    copy_from_iter_full,
    copy_from_iter_nocache,
    copy_page_from_iter,
    copy_page_to_iter,
    copy_to_iter,
    csum_and_copy_from_iter,
    csum_and_copy_to_iter,
    dup_iter,
    import_iovec,
    import_single_range,
    iov_iter_advance,
    iov_iter_bvec,
    iov_iter_copy_from_user_atomic,
    iov_iter_count,
    iov_iter_discard,
    iov_iter_get_pages,
    iov_iter_init,
    iov_iter_kvec,
    iov_iter_reexpand,
    iov_iter_revert,
    iov_iter_truncate,
    iov_iter_zero,
)
from iofs.core.pages import Page
from iofs.uio import UIO_WRITE, IoVec, Uio, uiomove

from views import pos


# An instrumenting tool (mutmut) wraps every function in a trampoline, which adds frames between
# the caller and warnings.warn: the caller a warning names can only be checked in a plain run.
instrumented = hasattr(iov_iter_module.copy_to_iter, "__wrapped__")


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


def test_dup_iter_of_a_bvec_keeps_the_bio_vecs(no_warnings):
    p, q = Page(), Page()
    i = iov_iter_bvec(WRITE, [BioVec(p, 8, 8), BioVec(q, 16, 32)])
    iov_iter_advance(i, 10)
    new = dup_iter(i)
    res, pages, start = iov_iter_get_pages(new, 100, 1)
    assert (res, start) == (30, 18) and pages[0] is q


# ---- import_iovec / import_single_range ---------------------------------------------------------

def test_import_iovec_zero_length_entries_are_fine(no_warnings):
    a, b = bytearray(3), bytearray(2)
    ret, i = import_iovec(READ, [(bytearray(4), 0), a, IoVec(bytearray(5), 0), b""])
    assert ret == 0 and i.iter_type == ITER_IOVEC and pos(i) == (4, 0, 3)
    ret, i = import_iovec(READ, [(a, 0), a, b"", b])
    assert ret == 0 and pos(i) == (4, 0, 5)
    assert copy_to_iter(b"vwxyz", 5, i) == 5 and a == b"vwx" and b == b"yz"


def test_import_iovec_returns_a_user_iterator(no_warnings):
    ret, i = import_iovec(READ, [bytearray(2), b"ro"])
    assert ret == 0 and type(i) is IovIter and i.iter_type == ITER_IOVEC
    assert copy_to_iter(b"abcd", 4, i) == 2  # a fault in user memory is a short copy


def test_import_single_range_of_zero_bytes(no_warnings):
    ret, iov, i = import_single_range(READ, bytearray(4), 0)
    assert ret == 0 and iov.iov_len == 0 and pos(i) == (1, 0, 0)


def test_import_single_range_returns_a_usable_user_iterator(no_warnings):
    buf = bytearray(6)
    ret, iov, i = import_single_range(READ, buf, 4)
    assert ret == 0 and type(i) is IovIter and i.iter_type == ITER_IOVEC
    assert iov.iov_len == 4 and bytes(iov.iov_base) == bytes(4)
    assert copy_to_iter(b"abcdef", 6, i) == 4
    assert buf == b"abcd\0\0" and pos(i) == (0, 0, 0)
    ret, iov, j = import_single_range(READ, b"ro", 2)
    assert ret == 0 and copy_to_iter(b"ab", 2, j) == 0  # user memory: a short copy
    ret, iov, k = import_single_range(WRITE, b"xyz", 3)
    out = bytearray(3)
    assert copy_from_iter_full(out, 3, k) and out == b"xyz"
    assert import_single_range(READ, bytearray(2), 3) == (-errno.EFAULT, None, None)
