"""More tests of the Internet checksum (RFC 1071): folding carries, buffers of multi-byte formats,
and csum_and_copy over iovecs that describe a prefix of their buffer."""

from __future__ import annotations

from array import array

import pytest

from iofs.core.checksum import csum_fold, csum_partial, ip_compute_csum
from iofs.iov_iter import READ, WRITE, csum_and_copy_from_iter, csum_and_copy_to_iter, iov_iter_init
from iofs.uio import IoVec


def words_sum(data: bytes) -> int:
    """RFC 1071 by hand: 16-bit big-endian words (an odd last byte is a high byte), carries folded."""
    s = sum((data[k] << 8) | (data[k + 1] if k + 1 < len(data) else 0)
            for k in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


@pytest.mark.parametrize("csum, folded", [
    (0x10000, 0xFFFE),  # 0x0000 + 1
    (0x10001, 0xFFFD),
    (0x12345, 0xDCB9),  # 0x2345 + 1 = 0x2346
    (0x1FFFE, 0x0000),  # 0xFFFE + 1 = 0xFFFF
    (0x1FFFF, 0xFFFE),  # 0xFFFF + 1 = 0x10000, folded again: 1
    (0xFFFFFFFF, 0x0000),  # 0xFFFF + 0xFFFF = 0x1FFFE -> 0xFFFF
])
def test_csum_fold_of_a_carry_into_bit_16(csum, folded):
    assert csum_fold(csum) == folded


def test_csum_partial_of_multibyte_formats_sums_the_bytes():
    for a in (array("H", [0x0102, 0x0304, 0x0506]), array("I", [0x01020304]),
              array("I", [0xDEADBEEF, 7, 0xFFFFFFFF])):
        raw = a.tobytes()
        assert len(raw) % 2 == 0 and len(a) % 2 == 1  # an odd number of items, even of bytes
        assert csum_partial(a) == words_sum(raw) == csum_partial(raw)
        assert csum_partial(memoryview(a)) == words_sum(raw)
        assert ip_compute_csum(a) == ~words_sum(raw) & 0xFFFF


def test_csum_partial_of_a_bytes_like_view():
    data = bytes(range(1, 10))
    assert csum_partial(memoryview(data)[1:]) == words_sum(data[1:])
    assert csum_partial(bytearray(data)) == words_sum(data)
    assert csum_partial(memoryview(bytearray(data)).cast("B", (3, 3))) == words_sum(data)


def test_ip_compute_csum_starts_from_zero():
    assert ip_compute_csum(b"") == 0xFFFF
    assert ip_compute_csum(b"\x12\x34") == 0xEDCB


def test_csum_and_copy_over_prefix_iovecs_in_the_middle():
    data = b"ABCDEFGHIJ"
    srcs = [IoVec(data[:1]), IoVec(b"BCDxxxx", 3), IoVec(b"EFyy", 2), IoVec(data[6:])]
    out = bytearray(10)
    copied, csum = csum_and_copy_from_iter(out, 10, 0, iov_iter_init(WRITE, srcs))
    assert copied == 10 and out == data and csum == words_sum(data)

    bufs = [bytearray(1), bytearray(6), bytearray(5), bytearray(4)]
    dsts = [IoVec(bufs[0]), IoVec(bufs[1], 3), IoVec(bufs[2], 2), IoVec(bufs[3])]
    copied, csum = csum_and_copy_to_iter(data, 10, 0, iov_iter_init(READ, dsts))
    assert copied == 10 and csum == words_sum(data)
    assert [bytes(b) for b in bufs] == [b"A", b"BCD\0\0\0", b"EF\0\0\0", b"GHIJ"]
