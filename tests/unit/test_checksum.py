"""The Internet checksum (RFC 1071): iofs.checksum against the RFC's worked example and a plain
word-by-word reference, and csum_and_copy_*_iter accumulating it across segments."""

from __future__ import annotations

import warnings

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

from views import ref_sum

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
