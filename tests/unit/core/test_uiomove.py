"""uiomove(9) (iofs.uio): bytes moved between a driver's buffer and a uio, and where the
uio stands after the move: resid trusted as given, empty iovecs skipped lazily, the direction
an assertion, NOCOPY and SYSSPACE, EFAULT and uiomove_nofault, driver buffers of any format.

The expected values come from FreeBSD uio(9) / subr_uio.c and NetBSD uiomove(9), not from the
implementation.
"""

from __future__ import annotations

import errno
from array import array

import pytest

from iofs.uio import (
    UIO_NOCOPY,
    UIO_READ,
    UIO_SYSSPACE,
    UIO_USERSPACE,
    UIO_WRITE,
    IoVec,
    Uio,
    cloneuio,
    uiomove,
    uiomove_nofault,
    uioskip,
)
from tests.support.views import contents, lens, released


# ---- the basic move ----------------------------------------------------------------------------

def test_read_scatters_driver_buffer_into_iovecs():
    a, b, c = bytearray(3), bytearray(2), bytearray(4)
    uio = Uio([a, b, c], rw=UIO_READ, offset=100)
    assert uio.uio_resid == 9 and uio.uio_iovcnt == 3
    assert uiomove(b"abcdefghi", 9, uio) == 0
    assert (a, b, c) == (b"abc", b"de", b"fghi")
    assert uio.uio_resid == 0
    assert uio.uio_offset == 109
    # the last iovec is exhausted and stays current (lazy skip)
    assert lens(uio) == [0]
    assert uio.uio_iovcnt == 1


def test_write_gathers_iovecs_into_driver_buffer():
    uio = Uio([b"ab", bytearray(b"cde"), memoryview(b"fg")], rw=UIO_WRITE)
    out = bytearray(7)
    assert uiomove(out, 7, uio) == 0
    assert out == b"abcdefg"
    assert uio.uio_resid == 0 and uio.uio_offset == 7


def test_consecutive_partial_moves_continue_where_the_last_stopped():
    uio = Uio([b"abc", b"defg"], rw=UIO_WRITE)
    got = []
    for _ in range(4):
        before = uio.uio_resid
        out = bytearray(b"..")
        assert uiomove(out, 2, uio) == 0
        got.append(bytes(out[: before - uio.uio_resid]))
    assert got == [b"ab", b"cd", b"ef", b"g"]
    assert uio.uio_resid == 0 and uio.uio_offset == 7


def test_each_step_advances_iov_base_and_iov_len():
    a, b = bytearray(4), bytearray(4)
    uio = Uio([a, b], rw=UIO_READ)
    assert uiomove(b"xyz", 3, uio) == 0
    assert lens(uio) == [1, 4]
    # iov_base of the current iovec points 3 bytes in: writing through it lands at a[3]
    uio.uio_iov[0].iov_base[0] = ord("!")
    assert a == b"xyz!"
    assert uio.uio_resid == 5 and uio.uio_offset == 3


def test_zero_and_negative_n_move_nothing():
    a = bytearray(b"....")
    uio = Uio([a], rw=UIO_READ, offset=5)
    for n in (0, -1):
        assert uiomove(b"abcd", n, uio) == 0
        assert a == b"...." and uio.uio_resid == 4 and uio.uio_offset == 5
        assert lens(uio) == [4]


# ---- n > resid, resid != sum of iov_len ---------------------------------------------------------

def test_n_greater_than_resid_moves_only_resid():
    a = bytearray(b"......")
    uio = Uio([a], rw=UIO_READ, resid=4)
    assert uiomove(b"ABCDEFGH", 8, uio) == 0
    assert a == b"ABCD.."
    assert uio.uio_resid == 0 and uio.uio_offset == 4
    assert lens(uio) == [2]  # the iovec still has room; resid said stop
    # with resid 0 nothing more moves, even though the iovec has room
    assert uiomove(b"XY", 2, uio) == 0
    assert a == b"ABCD.." and uio.uio_resid == 0 and lens(uio) == [2]


def test_n_greater_than_resid_on_write():
    uio = Uio([b"abcdef"], rw=UIO_WRITE)
    uioskip(uio, 4)
    out = bytearray(b"*****")
    assert uiomove(out, 5, uio) == 0
    assert out == b"ef***"
    assert uio.uio_resid == 0 and uio.uio_offset == 6


def test_resid_smaller_than_iovecs_is_trusted():
    a, b = bytearray(3), bytearray(3)
    uio = Uio([a, b], rw=UIO_READ, resid=4)
    assert uiomove(b"abcdef", 6, uio) == 0
    assert (a, b) == (b"abc", b"d\0\0")
    assert uio.uio_resid == 0 and uio.uio_offset == 4
    assert lens(uio) == [2]  # resid is not recomputed from the iovecs
    assert uio.uio_iovcnt == 1


def test_resid_larger_than_iovecs_is_trusted_and_not_recomputed():
    a = bytearray(2)
    uio = Uio([a, b""], rw=UIO_READ, resid=5)
    assert uio.uio_resid == 5
    assert uiomove(b"abcde", 5, uio) == 0
    assert a == b"ab"
    # the iovecs ran out: only 2 bytes moved, resid keeps the other 3
    assert uio.uio_resid == 3 and uio.uio_offset == 2
    assert sum(lens(uio)) == 0
    # and stays there: nothing more can move
    assert uiomove(b"xyz", 3, uio) == 0
    assert uio.uio_resid == 3 and uio.uio_offset == 2 and a == b"ab"


def test_resid_set_by_hand_after_construction_is_trusted():
    a = bytearray(6)
    uio = Uio([a], rw=UIO_READ)
    uio.uio_resid = 2
    assert uiomove(b"abcdef", 6, uio) == 0
    assert a == b"ab\0\0\0\0" and uio.uio_resid == 0


def test_zero_iovecs():
    uio = Uio([], rw=UIO_READ)
    assert uio.uio_resid == 0 and uio.uio_iovcnt == 0 and uio.uio_iov == ()
    assert uiomove(b"abc", 3, uio) == 0
    assert uio.uio_resid == 0 and uio.uio_offset == 0


# ---- empty iovecs, moves ending on a boundary (lazy skip) ---------------------------------------

def test_empty_iovec_at_head_is_current_until_a_move_reaches_it():
    a = bytearray(3)
    uio = Uio([b"", a], rw=UIO_READ)
    assert lens(uio) == [0, 3] and uio.uio_iovcnt == 2
    assert uiomove(b"x", 0, uio) == 0
    assert lens(uio) == [0, 3] and uio.uio_iovcnt == 2  # n == 0 skips nothing
    assert uiomove(b"x", 1, uio) == 0
    assert a == b"x\0\0"
    assert lens(uio) == [2] and uio.uio_iovcnt == 1


def test_several_empty_iovecs_at_head():
    a = bytearray(2)
    uio = Uio([b"", b"", b"", a], rw=UIO_READ)
    assert uio.uio_iovcnt == 4
    assert uiomove(b"ab", 2, uio) == 0
    assert a == b"ab" and lens(uio) == [0] and uio.uio_iovcnt == 1


def test_empty_iovec_in_the_middle_is_skipped_only_when_reached():
    a, b = bytearray(2), bytearray(2)
    uio = Uio([a, b"", b], rw=UIO_READ)
    assert uiomove(b"ab", 2, uio) == 0
    # the move ended exactly at the end of a: a stays current, exhausted; the empty one waits
    assert lens(uio) == [0, 0, 2] and uio.uio_iovcnt == 3
    assert uiomove(b"c", 1, uio) == 0
    # the next move skipped both the exhausted a and the empty iovec
    assert lens(uio) == [1] and uio.uio_iovcnt == 1
    assert (a, b) == (b"ab", b"c\0")


def test_move_across_an_empty_iovec_in_one_call():
    a, b = bytearray(2), bytearray(2)
    uio = Uio([a, b"", b""[:0], b], rw=UIO_READ)
    assert uiomove(b"abc", 3, uio) == 0
    assert (a, b) == (b"ab", b"c\0")
    assert lens(uio) == [1] and uio.uio_iovcnt == 1 and uio.uio_resid == 1


def test_empty_iovec_at_tail_stays_after_the_last_data_iovec_is_exhausted():
    a = bytearray(2)
    uio = Uio([a, b""], rw=UIO_READ)
    assert uiomove(b"ab", 2, uio) == 0
    assert lens(uio) == [0, 0] and uio.uio_iovcnt == 2
    assert uio.uio_resid == 0
    # resid == 0: further moves do nothing, and skip nothing
    assert uiomove(b"c", 1, uio) == 0
    assert lens(uio) == [0, 0] and uio.uio_iovcnt == 2 and uio.uio_offset == 2


def test_move_ending_exactly_on_a_boundary_leaves_the_iovec_current_with_len_0():
    a, b = bytearray(3), bytearray(3)
    uio = Uio([a, b], rw=UIO_READ)
    assert uiomove(b"abc", 3, uio) == 0
    assert lens(uio) == [0, 3]
    assert uio.uio_iovcnt == 2
    assert len(uio.uio_iov[0].iov_base) == 0
    assert uio.uio_resid == 3 and uio.uio_offset == 3
    assert uiomove(b"d", 1, uio) == 0
    assert lens(uio) == [2] and uio.uio_iovcnt == 1
    assert b == b"d\0\0"


def test_move_ending_on_boundary_before_empty_iovecs_on_write():
    uio = Uio([b"ab", b"", b"", b"cd"], rw=UIO_WRITE)
    out = bytearray(2)
    assert uiomove(out, 2, uio) == 0 and out == b"ab"
    assert lens(uio) == [0, 0, 0, 2]
    assert uiomove(out, 2, uio) == 0 and out == b"cd"
    assert lens(uio) == [0]


def test_exhausted_iovec_is_still_counted_in_iovcnt():
    uio = Uio([b"a", b"b"], rw=UIO_WRITE)
    out = bytearray(1)
    uiomove(out, 1, uio)
    assert uio.uio_iovcnt == 2 == len(uio.uio_iov)


# ---- direction ---------------------------------------------------------------------------------

@pytest.mark.parametrize("rw", [2, -1, None, "read"])
def test_wrong_direction_is_an_assertion_not_an_errno(rw):
    a = bytearray(3)
    uio = Uio([a], rw=rw)
    with pytest.raises(AssertionError):
        uiomove(b"abc", 3, uio)
    assert a == b"\0\0\0" and uio.uio_resid == 3 and uio.uio_offset == 0


def test_wrong_direction_is_an_assertion_even_with_nothing_to_move():
    uio = Uio([bytearray(3)], rw=7)
    with pytest.raises(AssertionError):
        uiomove(b"", 0, uio)


def test_read_does_not_touch_driver_buffer_and_write_does_not_touch_iovecs():
    src = bytearray(b"DRIVER")
    user = bytearray(b"user..")
    uio = Uio([user], rw=UIO_READ)
    uiomove(src, 6, uio)
    assert src == b"DRIVER" and user == b"DRIVER"
    src2 = bytearray(b"xxxxxx")
    user2 = bytearray(b"hello!")
    uio = Uio([user2], rw=UIO_WRITE)
    uiomove(src2, 6, uio)
    assert user2 == b"hello!" and src2 == b"hello!"


# ---- segflg: NOCOPY, SYSSPACE --------------------------------------------------------------------

def test_nocopy_read_moves_nothing_but_advances_everything():
    a, b = bytearray(b"...."), bytearray(b"....")
    uio = Uio([a, b""[:0], b], rw=UIO_READ, segflg=UIO_NOCOPY, offset=10)
    assert uiomove(b"abcdef", 6, uio) == 0
    assert (a, b) == (b"....", b"....")
    assert uio.uio_resid == 2 and uio.uio_offset == 16
    assert lens(uio) == [2] and uio.uio_iovcnt == 1


def test_nocopy_into_read_only_memory_does_not_fault():
    uio = Uio([b"abc", b"def"], rw=UIO_READ, segflg=UIO_NOCOPY)
    assert uiomove(b"XXXXXX", 6, uio) == 0
    assert uio.uio_resid == 0


def test_nocopy_write_leaves_driver_buffer_alone():
    out = bytearray(b"______")
    uio = Uio([b"abc", b"def"], rw=UIO_WRITE, segflg=UIO_NOCOPY)
    assert uiomove(out, 4, uio) == 0
    assert out == b"______" and uio.uio_resid == 2 and lens(uio) == [2]


def test_nocopy_still_honours_resid_and_lazy_skip():
    uio = Uio([b"abc", b"", b"def"], rw=UIO_READ, segflg=UIO_NOCOPY, resid=5)
    assert uiomove(None, 3, uio) == 0
    assert lens(uio) == [0, 0, 3]
    assert uiomove(None, 9, uio) == 0
    assert lens(uio) == [1] and uio.uio_resid == 0 and uio.uio_offset == 5


def test_sysspace_fault_is_a_bug_not_an_errno():
    uio = Uio([b"abc"], rw=UIO_READ, segflg=UIO_SYSSPACE)
    with pytest.raises((TypeError, ValueError, BufferError)):
        uiomove(b"xyz", 3, uio)


def test_sysspace_released_buffer_is_a_bug_not_an_errno():
    uio = Uio([released(3)], rw=UIO_WRITE, segflg=UIO_SYSSPACE)
    with pytest.raises((TypeError, ValueError, BufferError)):
        uiomove(bytearray(3), 3, uio)


def test_driver_buffer_too_short_is_a_driver_bug():
    uio = Uio([bytearray(8)], rw=UIO_READ)
    with pytest.raises(ValueError):
        uiomove(b"abc", 5, uio)


def test_write_into_read_only_driver_buffer_is_a_driver_bug():
    uio = Uio([b"abc"], rw=UIO_WRITE)
    with pytest.raises(TypeError):
        uiomove(b"xyz", 3, uio)


# ---- EFAULT ------------------------------------------------------------------------------------

def test_efault_on_first_iovec_consumes_nothing():
    uio = Uio([b"ro!"], rw=UIO_READ, segflg=UIO_USERSPACE, offset=7)
    assert uiomove(b"abc", 3, uio) == errno.EFAULT
    assert uio.uio_resid == 3 and uio.uio_offset == 7 and lens(uio) == [3]


def test_partial_efault_keeps_earlier_steps_consumed():
    a, c = bytearray(2), bytearray(2)
    uio = Uio([a, b"", b"ro!", c], rw=UIO_READ, segflg=UIO_USERSPACE)
    assert uio.uio_resid == 7
    assert uiomove(b"ABCDEFG", 7, uio) == errno.EFAULT
    assert a == b"AB"  # copied before the fault
    assert c == b"\0\0"  # never reached
    assert uio.uio_resid == 5 and uio.uio_offset == 2
    # the faulting iovec is current, untouched: the failing step counted for nothing
    assert lens(uio) == [3, 2] and uio.uio_iovcnt == 2
    assert contents(uio)[0] == b"ro!"
    # a retry faults again at the same place and moves nothing more
    assert uiomove(b"CDEFG", 5, uio) == errno.EFAULT
    assert uio.uio_resid == 5 and uio.uio_offset == 2


def test_partial_efault_within_a_partly_consumed_iovec():
    a = bytearray(4)
    uio = Uio([a, b"ro"], rw=UIO_READ, segflg=UIO_USERSPACE)
    assert uiomove(b"AB", 2, uio) == 0
    assert uiomove(b"CDEF", 4, uio) == errno.EFAULT
    assert a == b"ABCD"
    assert uio.uio_resid == 2 and uio.uio_offset == 4
    assert lens(uio) == [2]


def test_efault_after_an_exhausted_current_iovec():
    a = bytearray(2)
    uio = Uio([a, b"ro"], rw=UIO_READ, segflg=UIO_USERSPACE)
    assert uiomove(b"AB", 2, uio) == 0
    assert lens(uio) == [0, 2]
    assert uiomove(b"CD", 2, uio) == errno.EFAULT
    assert lens(uio) == [2] and uio.uio_resid == 2 and uio.uio_offset == 2


def test_efault_on_write_from_released_user_memory():
    out = bytearray(b"......")
    uio = Uio([b"abc", released(3)], rw=UIO_WRITE, segflg=UIO_USERSPACE)
    assert uiomove(out, 6, uio) == errno.EFAULT
    assert out[:3] == b"abc"
    assert uio.uio_resid == 3 and uio.uio_offset == 3 and lens(uio) == [3]


def test_read_only_user_memory_is_fine_as_a_write_source():
    out = bytearray(3)
    uio = Uio([b"abc"], rw=UIO_WRITE, segflg=UIO_USERSPACE)
    assert uiomove(out, 3, uio) == 0 and out == b"abc"


def test_move_that_stops_before_the_bad_iovec_does_not_fault():
    a = bytearray(2)
    uio = Uio([a, b"ro"], rw=UIO_READ, segflg=UIO_USERSPACE)
    assert uiomove(b"AB", 2, uio) == 0
    assert a == b"AB" and uio.uio_resid == 2


def test_empty_bad_iovec_never_faults():
    a = bytearray(2)
    uio = Uio([b"", released(0), a], rw=UIO_READ, segflg=UIO_USERSPACE)
    assert uiomove(b"AB", 2, uio) == 0 and a == b"AB"


def test_released_prefix_iovec_faults():
    """A user iovec over a prefix of a buffer the program then releases must fault too."""
    mv = memoryview(bytearray(8))
    uio = Uio([IoVec(mv, 3)], rw=UIO_READ, segflg=UIO_USERSPACE)
    mv.release()
    assert uiomove(b"abc", 3, uio) == errno.EFAULT
    assert uio.uio_resid == 3


def test_nocopy_over_released_user_memory_moves_nothing_and_does_not_fault():
    uio = Uio([released(4)], rw=UIO_READ, segflg=UIO_NOCOPY)
    assert uiomove(None, 1, uio) == 0
    assert uio.uio_resid == 3 and uio.uio_offset == 1


def test_uioskip_over_released_user_memory():
    uio = Uio([released(4)], rw=UIO_READ, segflg=UIO_USERSPACE)
    uioskip(uio, 1)
    assert uio.uio_resid == 3 and uio.uio_offset == 1


def test_uio_iov_and_cloneuio_after_the_user_buffer_goes_away():
    mv = memoryview(bytearray(b"abcd"))
    uio = Uio([mv], rw=UIO_WRITE, segflg=UIO_USERSPACE)
    out = bytearray(1)
    assert uiomove(out, 1, uio) == 0 and out == b"a"
    mv.release()
    assert uiomove(bytearray(3), 3, uio) == errno.EFAULT
    assert uio.uio_resid == 3
    assert lens(uio) == [3]  # reading the uio is not touching user memory
    assert lens(cloneuio(uio)) == [3]


def test_uiomove_nofault_returns_efault_at_once_with_partial_progress():
    a = bytearray(1)
    uio = Uio([a, b"ro"], rw=UIO_READ, segflg=UIO_USERSPACE)
    assert uiomove_nofault(b"xyz", 3, uio) == errno.EFAULT
    assert a == b"x" and uio.uio_resid == 2 and uio.uio_offset == 1


def test_uiomove_nofault_moves_like_uiomove():
    a, b = bytearray(2), bytearray(2)
    uio = Uio([a, b], rw=UIO_READ, segflg=UIO_USERSPACE)
    assert uiomove_nofault(b"abc", 3, uio) == 0
    assert (a, b) == (b"ab", b"c\0") and uio.uio_resid == 1 and lens(uio) == [1]


def state(uio: Uio) -> tuple[int, int, list[int]]:
    return uio.uio_resid, uio.uio_offset, lens(uio)


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
