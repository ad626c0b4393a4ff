"""uio_preadv and uio_pwritev: a uio moved straight to or from a file descriptor, with the
contract of iofs.core.uio_fd (one system call, the uio advanced by what moved exactly as a
uiomove of that many bytes, a short count at end of file, the host's errno as it is)."""

from __future__ import annotations

import errno
import os

import pytest

from iofs.core.uio import start_moves, stop_moves
from iofs.core.uio_fd import uio_preadv, uio_pwritev
from iofs.uio import (
    UIO_MAXIOV, UIO_NOCOPY, UIO_READ, UIO_SYSSPACE, UIO_USERSPACE, UIO_WRITE, IoVec, Uio, uiomove,
)


@pytest.fixture
def fd(tmp_path):
    f = os.open(tmp_path / "data", os.O_RDWR | os.O_CREAT, 0o600)
    os.write(f, bytes(range(256)) * 16)  # 4096 bytes: b[k] == k % 256
    yield f
    os.close(f)


def _read(sizes: list[int], offset: int, resid: int | None = None,
          segflg: int = UIO_USERSPACE) -> tuple[Uio, list[bytearray]]:
    bufs = [bytearray(b"\xee" * n) for n in sizes]
    return Uio([IoVec(b) for b in bufs], rw=UIO_READ, segflg=segflg, offset=offset,
               resid=resid), bufs


def test_a_read_fills_one_iovec_and_advances_as_uiomove(fd):
    uio, (buf,) = _read([100], 10)
    assert uio_preadv(fd, uio) == 0
    assert bytes(buf) == bytes(range(10, 110))
    assert (uio.uio_resid, uio.uio_offset, uio._idx, uio._skip) == (0, 110, 0, 100)


def test_a_read_over_many_iovecs_empty_ones_included(fd):
    uio, bufs = _read([3, 0, 5, 0, 0, 2], 250)
    assert uio_preadv(fd, uio) == 0
    assert b"".join(bufs) == bytes([250, 251, 252, 253, 254, 255, 0, 1, 2, 3])
    assert (uio.uio_resid, uio.uio_offset) == (0, 260)


def test_the_position_is_the_same_as_after_uiomove(fd):
    """Lazy skipping, as BSD: an iovec the move exhausts stays current."""
    a, _ = _read([4, 4, 4], 0, resid=8)
    b, _ = _read([4, 4, 4], 0, resid=8)
    assert uio_preadv(fd, a) == 0
    assert uiomove(bytes(8), 8, b) == 0
    assert (a._idx, a._skip, a.uio_resid) == (b._idx, b._skip, b.uio_resid) == (1, 4, 0)


def test_a_read_resumes_where_a_uiomove_left_off(fd):
    uio, bufs = _read([4, 6], 100)
    assert uiomove(b"XYZ", 3, uio) == 0
    assert uio_preadv(fd, uio) == 0
    assert b"".join(bufs) == b"XYZ" + bytes(range(103, 110))
    assert uio.uio_offset == 110


def test_resid_bounds_the_move(fd):
    uio, (buf,) = _read([100], 0, resid=7)
    assert uio_preadv(fd, uio) == 0
    assert bytes(buf[:7]) == bytes(range(7)) and buf[7:] == b"\xee" * 93


def test_end_of_file_is_a_short_count_not_an_error(fd):
    uio, (buf,) = _read([100], 4090)
    assert uio_preadv(fd, uio) == 0
    assert (uio.uio_resid, uio.uio_offset) == (94, 4096)
    assert bytes(buf[:6]) == bytes(range(250, 256))
    uio, _ = _read([100], 5000)
    assert uio_preadv(fd, uio) == 0 and (uio.uio_resid, uio.uio_offset) == (100, 5000)


def test_a_write_goes_to_the_file_at_the_offset(fd):
    uio = Uio([IoVec(b"ab"), IoVec(b""), IoVec(b"cde")], rw=UIO_WRITE, segflg=UIO_USERSPACE,
              offset=4094)
    assert uio_pwritev(fd, uio) == 0
    assert (uio.uio_resid, uio.uio_offset) == (0, 4099)
    assert os.pread(fd, 10, 4092) == bytes([252, 253]) + b"abcde"


def test_errors_are_the_system_calls_errno_and_move_nothing(fd):
    uio, _ = _read([10], 0)
    assert uio_preadv(-1, uio) == errno.EBADF
    assert (uio.uio_resid, uio.uio_offset, uio._skip) == (10, 0, 0)
    ro = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
    try:
        w = Uio([IoVec(b"x")], rw=UIO_WRITE, segflg=UIO_USERSPACE, offset=0)
        assert uio_pwritev(ro, w) == errno.EBADF and w.uio_resid == 1
    finally:
        os.close(ro)


def test_a_full_filesystem_is_enospc():
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        w = Uio([IoVec(b"data")], rw=UIO_WRITE, segflg=UIO_USERSPACE, offset=0)
        assert uio_pwritev(full, w) == errno.ENOSPC and w.uio_resid == 4
    finally:
        os.close(full)


def test_nothing_to_move_is_nothing(fd):
    uio, _ = _read([10], 0, resid=0)
    assert uio_preadv(fd, uio) == 0 and uio.uio_offset == 0
    uio, _ = _read([], 0)
    assert uio_preadv(fd, uio) == 0


def test_a_negative_offset_and_nocopy_are_einval(fd):
    uio, _ = _read([10], -1)
    assert uio_preadv(fd, uio) == errno.EINVAL
    uio, _ = _read([10], 0)
    uio.uio_segflg = UIO_NOCOPY
    assert uio_preadv(fd, uio) == errno.EINVAL and uio.uio_resid == 10


def test_the_direction_must_be_the_uios(fd):
    uio, _ = _read([10], 0)
    with pytest.raises(AssertionError):
        uio_pwritev(fd, uio)
    w = Uio([IoVec(b"x")], rw=UIO_WRITE, offset=0)
    with pytest.raises(AssertionError):
        uio_preadv(fd, w)


def test_read_only_memory_is_efault_in_userspace_a_bug_in_kernel_space(fd):
    uio = Uio([IoVec(b"read-only")], rw=UIO_READ, segflg=UIO_USERSPACE, offset=0)
    assert uio_preadv(fd, uio) == errno.EFAULT and uio.uio_resid == 9
    uio = Uio([IoVec(b"read-only")], rw=UIO_READ, segflg=UIO_SYSSPACE, offset=0)
    with pytest.raises((TypeError, BufferError)):
        uio_preadv(fd, uio)


def test_at_most_uio_maxiov_pieces_in_one_call(fd):
    uio, bufs = _read([1] * (UIO_MAXIOV + 5), 0)
    assert uio_preadv(fd, uio) == 0
    assert uio.uio_resid == 5 and uio.uio_offset == UIO_MAXIOV
    assert uio_preadv(fd, uio) == 0 and uio.uio_resid == 0
    assert b"".join(bufs) == bytes(range(256)) * 4 + bytes(range(5))


def test_a_watched_move_is_recorded(fd):
    moves = start_moves()
    try:
        uio, _ = _read([10], 5)
        assert uio_preadv(fd, uio) == 0
    finally:
        stop_moves()
    assert moves == [("uio_preadv", 10, 15)]
