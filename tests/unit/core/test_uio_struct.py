"""The uio and its iovecs (iofs.uio): Td, IoVec, Uio built by a driver or for a request
(Uio.single, Uio.reset), cloneuio and copyinuio.
"""

from __future__ import annotations

import errno

import pytest

from iofs.uio import (
    IOSIZE_MAX,
    UIO_MAXIOV,
    UIO_READ,
    UIO_SYSSPACE,
    UIO_USERSPACE,
    UIO_WRITE,
    IoVec,
    Td,
    Uio,
    cloneuio,
    copyinuio,
    uiomove,
    uioskip,
)
from tests.support.views import contents, lens


def test_uio_built_by_a_driver_starts_zeroed():
    uio = Uio([], rw=UIO_READ)
    assert uio.uio_offset == 0 and uio.uio_resid == 0 and uio.uio_iovcnt == 0
    assert uio.uio_limit is None and uio.uio_td is None and uio.uio_fmode == 0
    assert uio.uio_segflg == UIO_SYSSPACE


def test_uio_iov_is_a_snapshot_a_driver_cannot_write_through():
    a = bytearray(4)
    uio = Uio([a], rw=UIO_READ)
    snap = uio.uio_iov
    assert isinstance(snap, tuple)
    snap[0].iov_len = 1  # writing the snapshot must not change the request
    assert lens(uio) == [4] and uio.uio_resid == 4
    assert uiomove(b"abcd", 4, uio) == 0 and a == b"abcd"


# ---- IoVec -------------------------------------------------------------------------------------

def test_iovec_defaults_to_the_whole_buffer_and_can_describe_a_prefix():
    buf = bytearray(b"abcdef")
    v = IoVec(buf)
    assert v.iov_len == 6 and bytes(v.iov_base) == b"abcdef"
    w = IoVec(buf, 2)
    assert w.iov_len == 2 and bytes(w.iov_base) == b"ab"
    uio = Uio([w], rw=UIO_READ)
    assert uio.uio_resid == 2
    uiomove(b"XYZ", 3, uio)
    assert buf == b"XYcdef"  # the prefix, no copy, nothing past it


@pytest.mark.parametrize("n", [-1, 7])
def test_iovec_length_outside_the_buffer(n):
    with pytest.raises(ValueError):
        IoVec(bytearray(6), n)


def test_iovec_over_a_multibyte_format_is_flattened_to_bytes():
    import array
    arr = array.array("H", [0, 0])
    v = IoVec(arr)
    assert v.iov_len == 4
    uio = Uio([v], rw=UIO_READ)
    uiomove(b"\x01\x00\x02\x00", 4, uio)
    assert arr.tobytes() == b"\x01\x00\x02\x00"


# ---- cloneuio ------------------------------------------------------------------------------------

def test_cloneuio_copies_the_state():
    uio = Uio([b"abc", b"", b"defg"], rw=UIO_WRITE, segflg=UIO_USERSPACE, offset=40, limit=9,
              td=Td(1, 2, 3), fmode=1)
    uioskip(uio, 3)
    c = cloneuio(uio)
    assert c is not uio
    assert lens(c) == lens(uio) == [0, 0, 4]
    assert c.uio_iovcnt == 3
    for name in ("uio_resid", "uio_offset", "uio_rw", "uio_segflg", "uio_td", "uio_limit",
                 "uio_fmode"):
        assert getattr(c, name) == getattr(uio, name), name
    assert contents(c) == contents(uio)


def test_cloneuio_is_independent_both_ways():
    uio = Uio([b"abc", b"defg"], rw=UIO_WRITE)
    uioskip(uio, 1)
    c = cloneuio(uio)
    out = bytearray(6)
    assert uiomove(out, 6, c) == 0 and out == b"bcdefg"
    assert c.uio_resid == 0
    assert uio.uio_resid == 6 and uio.uio_offset == 1 and lens(uio) == [2, 4]
    out2 = bytearray(3)
    assert uiomove(out2, 3, uio) == 0 and out2 == b"bcd"
    assert c.uio_resid == 0 and c.uio_offset == 7 and lens(c) == [0]
    c.uio_resid = 99
    assert uio.uio_resid == 3


def test_cloneuio_of_a_mid_iovec_position_then_original_advances():
    uio = Uio([b"abcdef"], rw=UIO_WRITE)
    uioskip(uio, 2)
    c = cloneuio(uio)
    uioskip(uio, 3)
    out = bytearray(4)
    assert uiomove(out, 4, c) == 0 and out == b"cdef"


# ---- copyinuio -----------------------------------------------------------------------------------

def test_copyinuio_builds_a_user_uio():
    err, uio = copyinuio([b"ab", bytearray(3), IoVec(bytearray(5), 1)], rw=UIO_WRITE)
    assert err == 0
    assert uio.uio_segflg == UIO_USERSPACE and uio.uio_rw == UIO_WRITE
    assert uio.uio_offset == -1
    assert uio.uio_resid == 6 and uio.uio_iovcnt == 3 and lens(uio) == [2, 3, 1]


def test_copyinuio_zero_iovecs():
    err, uio = copyinuio([])
    assert err == 0 and uio.uio_resid == 0 and uio.uio_iovcnt == 0


def test_copyinuio_uio_maxiov_is_the_limit():
    assert UIO_MAXIOV == 1024
    err, uio = copyinuio([b"x"] * UIO_MAXIOV)
    assert err == 0 and uio.uio_iovcnt == 1024 and uio.uio_resid == 1024
    assert copyinuio([b"x"] * (UIO_MAXIOV + 1)) == (errno.EINVAL, None)
    assert copyinuio([b""] * (UIO_MAXIOV + 1)) == (errno.EINVAL, None)


def test_copyinuio_total_above_iosize_max_is_einval_not_truncated():
    err, uio = copyinuio([b"abc", b"defg"], iosize_max=7)
    assert err == 0 and uio.uio_resid == 7
    assert copyinuio([b"abc", b"defg"], iosize_max=6) == (errno.EINVAL, None)
    assert copyinuio([b"abcdefgh"], iosize_max=7) == (errno.EINVAL, None)
    assert IOSIZE_MAX >= 0x7FFFFFFF


def test_copyinuio_result_moves_and_faults_as_user_memory():
    a = bytearray(2)
    err, uio = copyinuio([a, b"ro"], rw=UIO_READ)
    assert err == 0
    uio.uio_offset = 0
    assert uiomove(b"wxyz", 4, uio) == errno.EFAULT
    assert a == b"wx" and uio.uio_resid == 2


def state(uio: Uio) -> tuple[int, int, list[int]]:
    return uio.uio_resid, uio.uio_offset, lens(uio)


# ---- Td, IoVec, Uio construction ----------------------------------------------------------------

def test_td_keeps_who_asked():
    td = Td(10, 20, 30, pollhandle="h")
    assert (td.pid, td.uid, td.gid, td.pollhandle) == (10, 20, 30, "h")
    assert Td(1, 2, 3).pollhandle is None
    assert repr(td) == "Td(pid=10, uid=20, gid=30)"


def test_iovec_length_outside_the_buffer_message():
    with pytest.raises(ValueError) as exc:
        IoVec(bytearray(4), 9)
    assert str(exc.value) == "iov_len 9 outside the buffer of 4 bytes"


def test_uio_built_from_the_uio_iov_of_a_partly_moved_uio():
    """uio_iov after a partial move starts mid-buffer; a new uio over it starts there too."""
    src = Uio([b"abcdef", b"ghij"], rw=UIO_WRITE)
    assert uiomove(bytearray(2), 2, src) == 0
    again = Uio(src.uio_iov, rw=UIO_WRITE)
    assert again.uio_resid == 8 and lens(again) == [4, 4]
    out = bytearray(8)
    assert uiomove(out, 8, again) == 0
    assert out == b"cdefghij"


def test_uio_repr():
    uio = Uio([bytearray(3), bytearray(4)], rw=UIO_READ, offset=5)
    assert repr(uio) == "Uio(UIO_READ, iovcnt=2, offset=5, resid=7, segflg=1)"
    uio = Uio([b"ab"], rw=UIO_WRITE, segflg=UIO_USERSPACE)
    assert repr(uio) == "Uio(UIO_WRITE, iovcnt=1, offset=0, resid=2, segflg=0)"
    uio.uio_rw = 7
    assert repr(uio) == "Uio(7, iovcnt=1, offset=0, resid=2, segflg=0)"


# ---- Uio.single and Uio.reset (the request path) ------------------------------------------------

def test_single_is_one_iovec_over_a_prefix_of_the_buffer():
    base = memoryview(bytearray(b"abcdefgh"))
    uio = Uio.single(base, 5, UIO_WRITE, UIO_USERSPACE, 40)
    assert (uio.uio_rw, uio.uio_segflg, uio.uio_offset, uio.uio_resid) == (UIO_WRITE,
                                                                          UIO_USERSPACE, 40, 5)
    assert uio.uio_td is None and uio.uio_limit is None and uio.uio_fmode == 0
    assert uio.uio_iovcnt == 1 and lens(uio) == [5] and contents(uio) == [b"abcde"]
    out = bytearray(8)
    assert uiomove(out, 8, uio) == 0  # clamped to resid: only the 5 bytes described
    assert out == b"abcde\0\0\0"
    assert state(uio) == (0, 45, [0])


def test_single_keeps_td_limit_and_fmode():
    td = Td(1, 2, 3)
    dst = bytearray(4)
    uio = Uio.single(memoryview(dst), 4, UIO_READ, UIO_SYSSPACE, 0, td, 100, 0o4000)
    assert uio.uio_td is td and uio.uio_limit == 100 and uio.uio_fmode == 0o4000
    assert uiomove(b"wxyz", 4, uio) == 0
    assert dst == b"wxyz" and state(uio) == (0, 4, [0])


def test_single_faults_as_user_memory():
    uio = Uio.single(memoryview(b"ro"), 2, UIO_READ, UIO_USERSPACE, 0)
    assert uiomove(b"ab", 2, uio) == errno.EFAULT
    assert state(uio) == (2, 0, [2])


def test_reset_makes_a_fresh_request_keeping_the_rest():
    td = Td(1, 2, 3)
    first = bytearray(6)
    uio = Uio.single(memoryview(first), 6, UIO_READ, UIO_USERSPACE, 0, td, 50, 0o2)
    assert uiomove(b"abcd", 4, uio) == 0
    assert state(uio) == (2, 4, [2])
    second = bytearray(b"........")
    uio.reset(memoryview(second), 3, 100)
    assert state(uio) == (3, 100, [3]) and uio.uio_iovcnt == 1
    assert (uio.uio_rw, uio.uio_segflg, uio.uio_td, uio.uio_limit, uio.uio_fmode) == (
        UIO_READ, UIO_USERSPACE, td, 50, 0o2)
    assert uiomove(b"XYZW", 4, uio) == 0
    assert second == b"XYZ....." and first == b"abcd\0\0"
    assert state(uio) == (0, 103, [0])


def test_reset_after_a_move_that_exhausted_the_iovec():
    uio = Uio.single(memoryview(b"abc"), 3, UIO_WRITE, UIO_SYSSPACE, 7)
    out = bytearray(3)
    assert uiomove(out, 3, uio) == 0 and state(uio) == (0, 10, [0])
    uio.reset(memoryview(b"defgh"), 5, 0)
    out = bytearray(5)
    assert uiomove(out, 5, uio) == 0 and out == b"defgh"
