"""uiomove_frombuf (iofs.uio): the move from a buffer at the uio's offset, as FreeBSD's
subr_uio.c does it: EINVAL, end of file, short transfers at the end of the buffer.
"""

from __future__ import annotations

import errno
from array import array

import pytest

from iofs.uio import (
    IOSIZE_MAX,
    OFF_MAX,
    UIO_NOCOPY,
    UIO_READ,
    UIO_USERSPACE,
    UIO_WRITE,
    Uio,
    uiomove,
    uiomove_frombuf,
)
from tests.support.views import lens


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


def state(uio: Uio) -> tuple[int, int, list[int]]:
    return uio.uio_resid, uio.uio_offset, lens(uio)


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
