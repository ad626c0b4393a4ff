"""Unit tests of the BSD face (iofs.uio), one or more per point of SEMANTICS.md.

The expected values come from FreeBSD uio(9) / subr_uio.c, NetBSD uiomove(9) and the illumos
uio(9S) helpers, not from the implementation.
"""

from __future__ import annotations

import errno

import pytest

from iofs.uio import (
    IOSIZE_MAX,
    OFF_MAX,
    UIO_MAXIOV,
    UIO_NOCOPY,
    UIO_READ,
    UIO_SYSSPACE,
    UIO_USERSPACE,
    UIO_WRITE,
    IoVec,
    Td,
    Uio,
    cloneuio,
    copyinuio,
    uiocopy,
    uiomove,
    uiomove_frombuf,
    uiomove_nofault,
    uio_trim_to_limit,
    uioskip,
    ureadc,
    uwritec,
)

from views import contents, lens, released


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


# ---- uiomove_frombuf ---------------------------------------------------------------------------

@pytest.mark.parametrize("offset,resid", [(-1, 4), (0, -1), (OFF_MAX + 1, 4)])
def test_frombuf_einval(offset, resid):
    a = bytearray(4)
    uio = Uio([a], rw=UIO_READ, offset=offset, resid=resid)
    assert uiomove_frombuf(b"abcdefgh", 8, uio) == errno.EINVAL
    assert a == bytes(4) and uio.uio_offset == offset and uio.uio_resid == resid
    assert lens(uio) == [4]


@pytest.mark.parametrize("buflen,offset", [(0, 0), (-3, 0), (8, 8), (8, 9), (8, OFF_MAX)])
def test_frombuf_eof_returns_0_and_leaves_the_uio_untouched(buflen, offset):
    a = bytearray(4)
    uio = Uio([a], rw=UIO_READ, offset=offset)
    assert uiomove_frombuf(b"abcdefgh", buflen, uio) == 0
    assert a == bytes(4) and uio.uio_offset == offset and uio.uio_resid == 4
    assert lens(uio) == [4]


def test_frombuf_takes_the_offset_from_the_uio():
    data = b"hello, world"
    out = []
    offset = 0
    while True:
        a = bytearray(5)
        uio = Uio([a], rw=UIO_READ, offset=offset)
        assert uiomove_frombuf(data, len(data), uio) == 0
        n = 5 - uio.uio_resid
        if n == 0:
            break
        out.append(bytes(a[:n]))
        offset = uio.uio_offset  # what the syscall layer copies back
    assert out == [b"hello", b", wor", b"ld"]
    assert offset == len(data)


def test_frombuf_short_transfer_at_the_end_of_the_buffer():
    a = bytearray(b"........")
    uio = Uio([a], rw=UIO_READ, offset=5)
    assert uiomove_frombuf(b"abcdefg", 7, uio) == 0
    assert a == b"fg......"
    assert uio.uio_resid == 6 and uio.uio_offset == 7


def test_frombuf_uses_only_buflen_bytes_of_the_buffer():
    a = bytearray(b"........")
    uio = Uio([a], rw=UIO_READ, offset=1)
    assert uiomove_frombuf(b"abcdefgh", 4, uio) == 0
    assert a == b"bcd....." and uio.uio_resid == 5 and uio.uio_offset == 4


def test_frombuf_write_stores_at_the_offset():
    buf = bytearray(b"__________")
    uio = Uio([b"XYZ"], rw=UIO_WRITE, offset=4)
    assert uiomove_frombuf(buf, len(buf), uio) == 0
    assert buf == b"____XYZ___" and uio.uio_offset == 7 and uio.uio_resid == 0


def test_frombuf_write_is_cut_at_buflen():
    buf = bytearray(b"______")
    uio = Uio([b"ABCDEF"], rw=UIO_WRITE, offset=3)
    assert uiomove_frombuf(buf, 5, uio) == 0
    assert buf == b"___AB_" and uio.uio_resid == 4 and uio.uio_offset == 5


def test_frombuf_scatter_read_across_iovecs():
    a, b = bytearray(2), bytearray(3)
    uio = Uio([a, b""[:0], b], rw=UIO_READ, offset=2)
    assert uiomove_frombuf(b"0123456789", 10, uio) == 0
    assert (a, b) == (b"23", b"456") and uio.uio_offset == 7


def test_frombuf_efault_passes_through():
    a = bytearray(2)
    uio = Uio([a, b"ro"], rw=UIO_READ, segflg=UIO_USERSPACE, offset=0)
    assert uiomove_frombuf(b"abcd", 4, uio) == errno.EFAULT
    assert a == b"ab" and uio.uio_offset == 2 and uio.uio_resid == 2


def test_naive_echo_driver_repeats_the_beginning_while_frombuf_does_not():
    """The handbook echo driver passes the start of its buffer every time: a second read repeats."""
    data = b"abcdef"

    def naive(uio):
        return uiomove(data, min(uio.uio_resid, len(data)), uio)

    def right(uio):
        return uiomove_frombuf(data, len(data), uio)

    def two_reads(driver):
        got, offset = b"", 0
        for _ in range(2):
            a = bytearray(3)
            uio = Uio([a], rw=UIO_READ, offset=offset)
            assert driver(uio) == 0
            got += bytes(a[: 3 - uio.uio_resid])
            offset = uio.uio_offset
        return got

    assert two_reads(naive) == b"abcabc"
    assert two_reads(right) == b"abcdef"


# ---- illumos: uiocopy, uioskip, ureadc, uwritec, loffset, limit ---------------------------------

def test_uiocopy_copies_without_advancing():
    a, b = bytearray(2), bytearray(3)
    uio = Uio([a, b], rw=UIO_READ, offset=9)
    err, cbytes = uiocopy(b"vwxyz", 4, UIO_READ, uio)
    assert (err, cbytes) == (0, 4)
    assert (a, b) == (b"vw", b"xy\0")
    assert uio.uio_resid == 5 and uio.uio_offset == 9 and lens(uio) == [2, 3]
    # a real move afterwards starts at the same place
    assert uiomove(b"12345", 5, uio) == 0 and (a, b) == (b"12", b"345")


def test_uiocopy_direction_is_the_argument_not_uio_rw():
    uio = Uio([b"abc", b"de"], rw=UIO_READ)
    out = bytearray(5)
    assert uiocopy(out, 5, UIO_WRITE, uio) == (0, 5)
    assert out == b"abcde"
    assert uio.uio_rw == UIO_READ and uio.uio_resid == 5


def test_uiocopy_clamps_to_resid_and_counts():
    out = bytearray(b"......")
    uio = Uio([b"abcdef"], rw=UIO_WRITE, resid=4)
    assert uiocopy(out, 6, UIO_WRITE, uio) == (0, 4)
    assert out == b"abcd.."


def test_uiocopy_efault_reports_bytes_copied_before_the_fault():
    a = bytearray(3)
    uio = Uio([a, b"ro", bytearray(2)], rw=UIO_READ, segflg=UIO_USERSPACE)
    err, cbytes = uiocopy(b"ABCDEFG", 7, UIO_READ, uio)
    assert err == errno.EFAULT and cbytes == 3
    assert a == b"ABC"
    assert uio.uio_resid == 7 and uio.uio_offset == 0 and lens(uio) == [3, 2, 2]


def test_uiocopy_from_partly_consumed_uio():
    uio = Uio([b"abc", b"", b"def"], rw=UIO_WRITE)
    uioskip(uio, 3)
    out = bytearray(2)
    assert uiocopy(out, 2, UIO_WRITE, uio) == (0, 2) and out == b"de"
    assert lens(uio) == [0, 0, 3]


def test_uioskip_advances_without_copying():
    a, b = bytearray(b"...."), bytearray(b"....")
    uio = Uio([a, b], rw=UIO_READ, offset=1)
    uioskip(uio, 5)
    assert (a, b) == (b"....", b"....")
    assert uio.uio_resid == 3 and uio.uio_offset == 6 and lens(uio) == [3]


def test_uioskip_more_than_resid_does_nothing():
    uio = Uio([b"abc", b"def"], rw=UIO_WRITE, resid=5)
    uioskip(uio, 6)
    assert uio.uio_resid == 5 and uio.uio_offset == 0 and lens(uio) == [3, 3]
    uioskip(uio, 5)
    assert uio.uio_resid == 0 and uio.uio_offset == 5 and lens(uio) == [1]


def test_uioskip_is_lazy_like_uiomove():
    uio = Uio([b"abc", b"", b"def"], rw=UIO_WRITE)
    uioskip(uio, 3)
    assert lens(uio) == [0, 0, 3] and uio.uio_iovcnt == 3
    uioskip(uio, 1)
    assert lens(uio) == [2]


def test_uioskip_zero_does_nothing():
    uio = Uio([b"", b"abc"], rw=UIO_WRITE)
    uioskip(uio, 0)
    assert lens(uio) == [0, 3] and uio.uio_resid == 3


def test_uioskip_past_the_iovecs_counts_only_what_was_skipped():
    """resid is trusted but the walk stops where the iovecs end; uioskip should then account
    like uiomove under UIO_NOCOPY (uio_resid -= bytes actually stepped over)."""
    a = Uio([b"ab"], rw=UIO_READ, resid=5)
    b = Uio([b"ab"], rw=UIO_READ, resid=5, segflg=UIO_NOCOPY)
    uioskip(a, 4)
    assert uiomove(None, 4, b) == 0
    assert (b.uio_resid, b.uio_offset) == (3, 2)
    assert (a.uio_resid, a.uio_offset) == (b.uio_resid, b.uio_offset)


def test_ureadc_appends_one_byte_at_a_time():
    a, b = bytearray(1), bytearray(2)
    uio = Uio([b"", a, b], rw=UIO_READ, offset=3)
    for c in b"xyz":
        assert ureadc(c, uio) == 0
    assert (a, b) == (b"x", b"yz")
    assert uio.uio_resid == 0 and uio.uio_offset == 6 and lens(uio) == [0]


def test_ureadc_takes_the_low_byte():
    a = bytearray(1)
    uio = Uio([a], rw=UIO_READ)
    assert ureadc(0x1FF, uio) == 0 and a == b"\xff"


def test_ureadc_efault_when_full():
    a = bytearray(1)
    uio = Uio([a], rw=UIO_READ)
    assert ureadc(1, uio) == 0
    assert ureadc(2, uio) == errno.EFAULT
    assert a == b"\x01" and uio.uio_offset == 1


def test_ureadc_efault_when_no_nonempty_iovec_though_resid_positive():
    uio = Uio([b"", b""], rw=UIO_READ, resid=3)
    assert ureadc(1, uio) == errno.EFAULT
    assert uio.uio_resid == 3 and uio.uio_offset == 0


def test_ureadc_efault_when_resid_zero_though_iovec_has_room():
    a = bytearray(2)
    uio = Uio([a], rw=UIO_READ, resid=0)
    assert ureadc(1, uio) == errno.EFAULT and a == b"\0\0"


def test_ureadc_efault_on_read_only_user_memory():
    uio = Uio([b"ro"], rw=UIO_READ, segflg=UIO_USERSPACE)
    assert ureadc(1, uio) == errno.EFAULT
    assert uio.uio_resid == 2 and uio.uio_offset == 0


def test_uwritec_takes_one_byte_at_a_time():
    uio = Uio([b"a", b"", b"bc"], rw=UIO_WRITE, offset=10)
    assert [uwritec(uio) for _ in range(4)] == [ord("a"), ord("b"), ord("c"), -1]
    assert uio.uio_resid == 0 and uio.uio_offset == 13


def test_uwritec_returns_bytes_above_127_unsigned():
    uio = Uio([b"\xff\x80"], rw=UIO_WRITE)
    assert uwritec(uio) == 255 and uwritec(uio) == 128


def test_uwritec_minus_one_on_fault_or_when_empty():
    uio = Uio([released(2)], rw=UIO_WRITE, segflg=UIO_USERSPACE)
    assert uwritec(uio) == -1 and uio.uio_resid == 2
    uio = Uio([b"", b""], rw=UIO_WRITE, resid=1)
    assert uwritec(uio) == -1 and uio.uio_resid == 1
    uio = Uio([b"abc"], rw=UIO_WRITE, resid=0)
    assert uwritec(uio) == -1


def test_ureadc_and_uwritec_ignore_uio_rw():
    a = bytearray(1)
    uio = Uio([a], rw=UIO_WRITE)
    assert ureadc(ord("q"), uio) == 0 and a == b"q"
    uio = Uio([b"r"], rw=UIO_READ)
    assert uwritec(uio) == ord("r")
    assert uio.uio_rw == UIO_READ


def test_loffset_is_the_offset():
    uio = Uio([bytearray(4)], rw=UIO_READ, offset=1 << 40)
    assert uio.uio_loffset == 1 << 40
    uiomove(b"ab", 2, uio)
    assert uio.uio_loffset == uio.uio_offset == (1 << 40) + 2
    uio.uio_loffset = 5
    assert uio.uio_offset == 5


def test_limit_and_the_other_attributes():
    td = Td(pid=1, uid=2, gid=3)
    uio = Uio([bytearray(4)], rw=UIO_WRITE, segflg=UIO_USERSPACE, offset=3, limit=100,
              td=td, fmode=0o2)
    assert uio.uio_limit == 100
    assert uio.uio_td is td and uio.uio_td.uid == 2
    assert uio.uio_fmode == 0o2
    assert uio.uio_rw == UIO_WRITE and uio.uio_segflg == UIO_USERSPACE
    assert uio.uio_offset == 3 and uio.uio_resid == 4


def _limited_write(data: bytes, offset: int, limit: int | None, file: bytearray) -> tuple[int, int]:
    """What the filesystem layer does around d_write: trim, move, give the excess back.

    Returns (error, bytes written)."""
    uio = Uio([data], rw=UIO_WRITE, offset=offset, limit=limit)
    err, excess = uio_trim_to_limit(uio)
    if err:
        return err, 0
    start = uio.uio_resid
    assert uiomove_frombuf(file, len(file), uio) == 0
    moved = start - uio.uio_resid
    uio.uio_resid += excess
    assert len(data) - uio.uio_resid == moved  # the reply counts only what moved
    return 0, moved


def test_limit_none_changes_nothing():
    uio = Uio([b"abcdef"], rw=UIO_WRITE, offset=1 << 40)
    assert uio_trim_to_limit(uio) == (0, 0)
    assert uio.uio_resid == 6 and uio.uio_offset == 1 << 40


def test_limit_write_below_the_limit_is_untouched():
    uio = Uio([b"abcd"], rw=UIO_WRITE, offset=2, limit=10)
    assert uio_trim_to_limit(uio) == (0, 0) and uio.uio_resid == 4


def test_limit_write_ending_exactly_at_the_limit_is_whole():
    uio = Uio([b"abcd"], rw=UIO_WRITE, offset=6, limit=10)
    assert uio_trim_to_limit(uio) == (0, 0) and uio.uio_resid == 4


def test_limit_write_crossing_the_limit_is_cut_short():
    uio = Uio([b"abcde"], rw=UIO_WRITE, offset=8, limit=10)
    assert uio_trim_to_limit(uio) == (0, 3)
    assert uio.uio_resid == 2 and uio.uio_offset == 8


@pytest.mark.parametrize("offset", [10, 11, 1 << 40])
def test_limit_write_at_or_past_the_limit_is_efbig(offset):
    uio = Uio([b"abc"], rw=UIO_WRITE, offset=offset, limit=10)
    assert uio_trim_to_limit(uio) == (errno.EFBIG, 0)
    assert uio.uio_resid == 3 and uio.uio_offset == offset


def test_limit_sequence_short_write_then_efbig():
    file = bytearray(16)
    assert _limited_write(b"01234567", 0, 10, file) == (0, 8)
    assert _limited_write(b"89abc", 8, 10, file) == (0, 2)  # reaches the limit: cut short
    assert file[:11] == b"0123456789\0"
    assert _limited_write(b"x", 10, 10, file) == (errno.EFBIG, 0)  # at the limit: EFBIG
    assert _limited_write(b"x", 12, 10, file) == (errno.EFBIG, 0)
    assert file[10:] == bytes(6)


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
