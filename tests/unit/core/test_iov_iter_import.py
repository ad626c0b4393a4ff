"""import_iovec and import_single_range (iofs.iov_iter): a program's iovec array checked
and turned into an iterator, as fs/read_write.c and lib/iov_iter.c do it (UIO_MAXIOV,
MAX_RW_COUNT, EINVAL, EFAULT).
"""

from __future__ import annotations

import errno
import mmap

import pytest

from iofs.iov_iter import (
    ITER_IOVEC,
    MAX_RW_COUNT,
    PAGE_SIZE,
    READ,
    UIO_MAXIOV,
    WRITE,
    IovIter,
    copy_from_iter_full,
    copy_to_iter,
    import_iovec,
    import_single_range,
    iov_iter_advance,
    iov_iter_single_seg_count,
)
from iofs.uio import IoVec
from tests.support.views import pos


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
