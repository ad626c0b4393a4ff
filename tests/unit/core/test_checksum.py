"""The Internet checksum (RFC 1071): iofs.core.checksum against the RFC's worked example
and a plain word-by-word reference, folding carries, buffers of multi-byte formats, and
csum_and_copy_*_iter accumulating it across segments (iovecs describing a prefix of their
buffer included).
"""

from __future__ import annotations

import warnings
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iofs.core.checksum import csum_add, csum_block_add, csum_fold, csum_partial, ip_compute_csum
from iofs.iov_iter import (
    READ,
    WRITE,
    csum_and_copy_from_iter,
    csum_and_copy_to_iter,
    iov_iter_advance,
    iov_iter_discard,
    iov_iter_init,
    iov_iter_kvec,
)
from iofs.uio import IoVec
from tests.support.views import ref_sum

RFC1071_EXAMPLE = bytes.fromhex("0001f203f4f5f6f7")


def ref_csum(data: bytes) -> int:
    return ~ref_sum(data) & 0xFFFF


def swap16(x: int) -> int:
    return ((x >> 8) | (x << 8)) & 0xFFFF


# ---- RFC 1071's worked example -------------------------------------------------------------------

def test_rfc1071_worked_example_sum():
    # RFC 1071 1.2(B)/3: 0001 + f203 + f4f5 + f6f7 = 2ddf0, folded ddf2
    assert ref_sum(RFC1071_EXAMPLE) == 0xDDF2
    assert csum_partial(RFC1071_EXAMPLE) == 0xDDF2


def test_rfc1071_worked_example_checksum():
    assert ip_compute_csum(RFC1071_EXAMPLE) == 0x220D
    assert csum_fold(csum_partial(RFC1071_EXAMPLE)) == 0x220D


def test_rfc1071_byte_order_independence():
    # swapping every byte pair swaps the sum (RFC 1071 1.2(B)): 0100 + 03f2 + f5f4 + f7f6 = f2dd
    swapped = bytes(b for k in range(0, 8, 2) for b in (RFC1071_EXAMPLE[k + 1], RFC1071_EXAMPLE[k]))
    assert csum_partial(swapped) == 0xF2DD == swap16(0xDDF2)


def test_rfc1071_example_in_pieces():
    whole = csum_partial(RFC1071_EXAMPLE)
    # even split: plain ones'-complement add
    assert csum_add(csum_partial(RFC1071_EXAMPLE[:4]), csum_partial(RFC1071_EXAMPLE[4:])) == whole
    # odd split: the second block starts at an odd offset and is byte-swapped
    a, b = RFC1071_EXAMPLE[:3], RFC1071_EXAMPLE[3:]
    assert csum_block_add(csum_partial(a), csum_partial(b), 3) == whole
    assert csum_add(csum_partial(a), csum_partial(b)) != whole


def test_checksum_with_its_checksum_appended_verifies_to_zero():
    c = ip_compute_csum(RFC1071_EXAMPLE)
    assert ip_compute_csum(RFC1071_EXAMPLE + c.to_bytes(2, "big")) == 0


@pytest.mark.parametrize("data,expected", [
    (b"", 0),
    (b"\x00\x00\x00", 0),
    (b"\x01", 0x0100),           # a trailing odd byte is the high byte of a word
    (b"\xff\xff", 0xFFFF),       # -0 stays -0, never +0
    (b"\xff\xff\xff\xff", 0xFFFF),
    (b"\x80\x00\x80\x00", 0x0001),  # end-around carry
    (b"\x12\x34\x56", 0x6834),
])
def test_partial_sum_small_cases(data, expected):
    assert ref_sum(data) == expected
    assert csum_partial(data) == expected


def test_csum_partial_accepts_other_buffers():
    assert csum_partial(memoryview(RFC1071_EXAMPLE)) == 0xDDF2
    assert csum_partial(bytearray(RFC1071_EXAMPLE)) == 0xDDF2
    assert csum_partial(memoryview(RFC1071_EXAMPLE)[1:]) == ref_sum(RFC1071_EXAMPLE[1:])


def test_csum_partial_adds_to_initial_value():
    assert csum_partial(RFC1071_EXAMPLE, 0x2000) == ref_sum(RFC1071_EXAMPLE, 0x2000)
    assert csum_partial(b"\xff\xff", 1) == 1  # 0xffff + 1 = 0x10000 -> end-around carry: 1


def test_csum_fold_folds_and_complements():
    assert csum_fold(0xDDF2) == 0x220D
    assert csum_fold(0x2DDF0) == 0x220D
    assert csum_fold(0) == 0xFFFF
    assert csum_fold(0xFFFF) == 0


# ---- against the plain reference ----------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 0xFFFF))
def test_csum_partial_matches_reference(data, init):
    assert csum_partial(data, init) == ref_sum(data, init)
    assert ip_compute_csum(data) == ref_csum(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=100), st.binary(max_size=100))
def test_csum_block_add_composes(a, b):
    assert csum_block_add(csum_partial(a), csum_partial(b), len(a)) == ref_sum(a + b)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64).map(lambda b: b if len(b) % 2 == 0 else b + b"\0"))
def test_appended_checksum_verifies(data):
    c = ip_compute_csum(data)
    assert ip_compute_csum(data + c.to_bytes(2, "big")) == 0


# ---- csum_and_copy_*_iter ---------------------------------------------------------------------------

def test_csum_and_copy_from_iter_over_odd_segments():
    i = iov_iter_init(WRITE, [RFC1071_EXAMPLE[:1], RFC1071_EXAMPLE[1:4], b"", RFC1071_EXAMPLE[4:]])
    out = bytearray(8)
    copied, csum = csum_and_copy_from_iter(out, 8, 0, i)
    assert copied == 8 and out == RFC1071_EXAMPLE
    assert csum == 0xDDF2 and csum_fold(csum) == 0x220D
    assert i.count == 0


def test_csum_and_copy_to_iter_over_odd_segments():
    a, b, c = bytearray(3), bytearray(1), bytearray(4)
    i = iov_iter_kvec(READ, [a, b, c])
    copied, csum = csum_and_copy_to_iter(RFC1071_EXAMPLE, 8, 0, i)
    assert copied == 8 and a + b + c == RFC1071_EXAMPLE
    assert csum == 0xDDF2


def test_csum_and_copy_adds_to_the_given_csum_and_continues_across_calls():
    i = iov_iter_init(WRITE, [RFC1071_EXAMPLE])
    out = bytearray(8)
    copied1, c1 = csum_and_copy_from_iter(out, 3, 0x1234, i)
    assert copied1 == 3 and c1 == ref_sum(RFC1071_EXAMPLE[:3], 0x1234)
    copied2, c2 = csum_and_copy_from_iter(memoryview(out)[3:], 5, 0, i)
    assert copied2 == 5
    # a later call's data starts at an odd offset of the whole: the caller combines with csum_block_add
    assert csum_block_add(c1, c2, 3) == ref_sum(RFC1071_EXAMPLE, 0x1234)


def test_csum_and_copy_short_copy_counts_only_what_was_copied():
    a = bytearray(3)
    i = iov_iter_init(READ, [a, b"ro!!!"])  # user memory, second segment read-only
    copied, csum = csum_and_copy_to_iter(RFC1071_EXAMPLE, 8, 0, i)
    assert copied == 3 and a == RFC1071_EXAMPLE[:3]
    assert csum == ref_sum(RFC1071_EXAMPLE[:3])
    assert i.count == 5


def test_csum_and_copy_clamps_to_count():
    i = iov_iter_init(WRITE, [RFC1071_EXAMPLE], count=5)
    out = bytearray(8)
    copied, csum = csum_and_copy_from_iter(out, 8, 0, i)
    assert copied == 5 and csum == ref_sum(RFC1071_EXAMPLE[:5])


def test_csum_and_copy_wrong_direction_warns_and_copies_nothing():
    i = iov_iter_init(READ, [bytearray(8)])
    with pytest.warns(RuntimeWarning):
        assert csum_and_copy_from_iter(bytearray(8), 8, 0x77, i) == (0, 0x77)
    assert i.count == 8
    j = iov_iter_init(WRITE, [bytes(8)])
    with pytest.warns(RuntimeWarning):
        assert csum_and_copy_to_iter(RFC1071_EXAMPLE, 8, 0x77, j) == (0, 0x77)
    assert j.count == 8


def test_csum_and_copy_to_discard_still_sums_the_source():
    i = iov_iter_discard(READ, 6)
    copied, csum = csum_and_copy_to_iter(RFC1071_EXAMPLE, 8, 0, i)
    assert copied == 6 and csum == ref_sum(RFC1071_EXAMPLE[:6]) and i.count == 0


segments = st.lists(st.binary(max_size=9), max_size=6)


@settings(max_examples=200, deadline=None)
@given(segments, st.integers(0, 60), st.integers(0, 0xFFFF), st.integers(0, 3))
def test_csum_and_copy_from_iter_matches_reference(segs, n, init, pre):
    flat = b"".join(segs)
    i = iov_iter_init(WRITE, segs)
    pre = min(pre, len(flat))
    iov_iter_advance(i, pre)
    out = bytearray(n)
    copied, csum = csum_and_copy_from_iter(out, n, init, i)
    want = flat[pre:pre + n]
    assert copied == len(want) and bytes(out[:copied]) == want
    assert csum == ref_sum(want, init)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=6), st.binary(max_size=60), st.integers(0, 0xFFFF))
def test_csum_and_copy_to_iter_matches_reference(seglens, src, init):
    bufs = [bytearray(k) for k in seglens]
    i = iov_iter_kvec(READ, bufs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copied, csum = csum_and_copy_to_iter(src, len(src), init, i)
    want = src[:sum(seglens)]
    assert copied == len(want)
    assert b"".join(bufs)[:copied] == want
    assert csum == ref_sum(want, init)


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
