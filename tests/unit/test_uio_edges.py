"""More unit tests of the BSD face (iofs.uio): the edges that mutation testing found unchecked.

Each test names the behaviour it pins; expected values come from FreeBSD uio(9) / subr_uio.c
(uiomove, uiomove_frombuf), illumos (uio_limit) and the docstrings, not from running the code.
"""

from __future__ import annotations

import errno
from array import array

import pytest

from iofs.uio import (
    IOSIZE_MAX,
    UIO_NOCOPY,
    UIO_READ,
    UIO_SYSSPACE,
    UIO_USERSPACE,
    UIO_WRITE,
    IoVec,
    Td,
    Uio,
    uiomove,
    uiomove_frombuf,
    uio_trim_to_limit,
)

from views import contents, lens


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


# ---- uiomove: errors a driver makes --------------------------------------------------------------

def test_wrong_direction_message():
    uio = Uio([bytearray(1)], rw=5)
    with pytest.raises(AssertionError) as exc:
        uiomove(b"a", 1, uio)
    assert str(exc.value) == "uiomove: mode 5 is neither UIO_READ nor UIO_WRITE"


def test_driver_buffer_too_short_message():
    with pytest.raises(ValueError) as exc:
        uiomove(b"ab", 3, Uio([bytearray(4)], rw=UIO_READ))
    assert str(exc.value) == "uiomove: n=3 exceeds the driver buffer of 2 bytes"


def test_read_only_driver_buffer_message():
    with pytest.raises(TypeError) as exc:
        uiomove(b"abc", 3, Uio([b"xyz"], rw=UIO_WRITE))
    assert str(exc.value) == "uiomove: UIO_WRITE into a read-only driver buffer"


# ---- uiomove: driver buffers of other formats count bytes ----------------------------------------

def test_driver_buffer_of_a_multibyte_format():
    a = array("H", [0x4142, 0x4344, 0x4546])
    raw = a.tobytes()
    for buf in (a, memoryview(a)):
        dst = bytearray(6)
        uio = Uio([dst], rw=UIO_READ)
        assert uiomove(buf, 6, uio) == 0  # 6 bytes, though 3 items
        assert dst == raw and state(uio) == (0, 6, [0])
    out = array("H", [0, 0, 0])
    uio = Uio([b"\x01\x02\x03\x04\x05"], rw=UIO_WRITE)
    assert uiomove(memoryview(out), 5, uio) == 0
    assert out.tobytes() == b"\x01\x02\x03\x04\x05\x00"


def test_driver_buffer_of_signed_bytes():
    dst = bytearray(3)
    assert uiomove(memoryview(bytearray(b"\xff\x01\x80")).cast("b"), 3,
                   Uio([dst], rw=UIO_READ)) == 0
    assert dst == b"\xff\x01\x80"


def test_driver_buffer_that_is_a_2d_byte_view():
    grid = memoryview(bytearray(b"abcdef")).cast("B", (2, 3))
    dst = bytearray(6)
    uio = Uio([dst], rw=UIO_READ)
    assert uiomove(grid, 6, uio) == 0  # 6 bytes, though 2 rows
    assert dst == b"abcdef" and uio.uio_resid == 0
    back = memoryview(bytearray(6)).cast("B", (3, 2))
    assert uiomove(back, 4, Uio([b"ABCD"], rw=UIO_WRITE)) == 0
    assert back.tobytes() == b"ABCD\0\0"


# ---- uiomove: where the cursor stops after EFAULT -----------------------------------------------

def test_efault_in_the_second_whole_iovec_of_a_move():
    a, b, d = bytearray(2), bytearray(3), bytearray(2)
    uio = Uio([a, b, b"ro!", d], rw=UIO_READ, segflg=UIO_USERSPACE, offset=10)
    assert uiomove(b"ABCDEFGHIJ", 10, uio) == errno.EFAULT
    assert a == b"AB" and b == b"CDE" and d == b"\0\0"
    assert state(uio) == (5, 15, [3, 2]) and contents(uio)[0] == b"ro!"


def test_efault_in_the_third_whole_iovec_of_a_write():
    mv = memoryview(bytearray(2))
    vecs = [IoVec(b"ab"), IoVec(b"cd"), IoVec(b"efg"), IoVec(mv), IoVec(b"hi")]
    mv.release()
    uio = Uio(vecs, rw=UIO_WRITE, segflg=UIO_USERSPACE)
    out = bytearray(11)
    assert uiomove(out, 11, uio) == errno.EFAULT
    assert out == b"abcdefg\0\0\0\0"
    assert state(uio) == (4, 7, [2, 2])


def test_prefix_iovecs_in_the_middle_of_a_move():
    bufs = [bytearray(2), bytearray(8), bytearray(8), bytearray(3)]
    uio = Uio([IoVec(bufs[0]), IoVec(bufs[1], 3), IoVec(bufs[2], 1), IoVec(bufs[3])],
              rw=UIO_READ)
    assert uiomove(b"ABCDEFGHI", 9, uio) == 0
    assert [bytes(b) for b in bufs] == [b"AB", b"CDE\0\0\0\0\0", b"F" + bytes(7), b"GHI"]
    out = bytearray(7)
    uio = Uio([IoVec(b"xy"), IoVec(b"abcdef", 2), IoVec(b"uvw", 1), IoVec(b"z")], rw=UIO_WRITE)
    assert uiomove(out, 7, uio) == 0
    assert out == b"xyabuz\0" and uio.uio_resid == 0


# ---- uiomove_frombuf ---------------------------------------------------------------------------

def test_frombuf_from_a_one_byte_buffer():
    dst = bytearray(4)
    uio = Uio([dst], rw=UIO_READ)
    assert uiomove_frombuf(b"z", 1, uio) == 0
    assert dst == b"z\0\0\0" and state(uio) == (3, 1, [3])
    assert uiomove_frombuf(b"z", 1, uio) == 0  # now at EOF
    assert state(uio) == (3, 1, [3])


def test_frombuf_of_a_multibyte_format_counts_bytes():
    a = array("H", [0x4142, 0x4344, 0x4546, 0x4748])
    raw = a.tobytes()
    for buf in (a, memoryview(a)):
        dst = bytearray(4)
        uio = Uio([dst], rw=UIO_READ, offset=2)
        assert uiomove_frombuf(buf, 8, uio) == 0
        assert dst == raw[2:6] and state(uio) == (0, 6, [0])
    store = array("H", [0, 0, 0, 0])
    uio = Uio([b"\x01\x02\x03"], rw=UIO_WRITE, offset=5)
    assert uiomove_frombuf(memoryview(store), 8, uio) == 0
    assert store.tobytes() == b"\0\0\0\0\0\x01\x02\x03"


@pytest.mark.parametrize("offset", [5, 6])
def test_frombuf_at_eof_never_reaches_uiomove(offset):
    """FreeBSD returns 0 before calling uiomove: not even its KASSERT on uio_rw is reached."""
    uio = Uio([bytearray(4)], rw=9, offset=offset)
    assert uiomove_frombuf(b"abcde", 5, uio) == 0
    assert state(uio) == (4, offset, [4])


def test_frombuf_iosize_max_bounds_the_bytes_to_move():
    """EINVAL only if buflen - offset > IOSIZE_MAX; at exactly IOSIZE_MAX the buffer is checked."""
    assert uiomove_frombuf(b"abc", IOSIZE_MAX + 1, Uio([bytearray(1)], rw=UIO_READ)) == errno.EINVAL
    with pytest.raises(ValueError) as exc:
        uiomove_frombuf(b"abc", IOSIZE_MAX, Uio([bytearray(1)], rw=UIO_READ))
    assert str(exc.value) == f"uiomove_frombuf: buflen {IOSIZE_MAX} exceeds the buffer of 3 bytes"
    # a large offset leaves few bytes to move, however large buflen is
    uio = Uio([bytearray(1)], rw=UIO_READ, offset=1 << 62)
    with pytest.raises(ValueError):
        uiomove_frombuf(b"abc", (1 << 62) + 5, uio)


def test_frombuf_nocopy_moves_nothing_and_advances():
    uio = Uio([bytearray(4)], rw=UIO_READ, segflg=UIO_NOCOPY, offset=1)
    assert uiomove_frombuf(b"abcdef", 6, uio) == 0
    assert state(uio) == (0, 5, [0])


# ---- uio_limit ---------------------------------------------------------------------------------

def test_limit_zero_length_write_at_the_limit_is_not_efbig():
    uio = Uio([b""], rw=UIO_WRITE, offset=10, limit=10)
    assert uio_trim_to_limit(uio) == (0, 0)
    assert state(uio) == (0, 10, [0])


def test_limit_write_crossing_it_by_exactly_one_byte():
    uio = Uio([b"abcde"], rw=UIO_WRITE, offset=6, limit=10)
    assert uio_trim_to_limit(uio) == (0, 1)
    assert uio.uio_resid == 4 and uio.uio_offset == 6
