"""The illumos uio(9S) helpers of iofs.uio: uiocopy, uioskip, ureadc, uwritec and
uio_loffset, against the illumos manual pages.
"""

from __future__ import annotations

import errno

from iofs.uio import (
    UIO_NOCOPY,
    UIO_READ,
    UIO_USERSPACE,
    UIO_WRITE,
    Uio,
    uiocopy,
    uiomove,
    uioskip,
    ureadc,
    uwritec,
)
from tests.support.views import lens, released


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


def test_ureadc_and_uwritec_stop_where_the_iovecs_end_though_resid_says_more():
    """resid is trusted, but no byte is moved past the last iovec: once the walk stands at its
    end, ureadc is EFAULT and uwritec -1, and neither moves resid or the offset."""
    a = bytearray(2)
    uio = Uio([a], rw=UIO_READ, resid=5)
    assert [ureadc(c, uio) for c in b"xyz"] == [0, 0, errno.EFAULT]
    assert a == b"xy" and (uio.uio_resid, uio.uio_offset) == (3, 2)
    uio = Uio([b"ab"], rw=UIO_WRITE, resid=5)
    assert [uwritec(uio) for _ in range(3)] == [ord("a"), ord("b"), -1]
    assert (uio.uio_resid, uio.uio_offset) == (3, 2)


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
