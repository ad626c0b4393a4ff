"""The Internet checksum (RFC 1071) as Linux's csum_* helpers compute it.

A *partial* checksum (Linux ``__wsum``) is the 16-bit ones'-complement sum of the data read as
big-endian 16-bit words (a trailing odd byte is the high byte of a last word), in 0..0xFFFF.
Ones'-complement addition is addition modulo 0xFFFF with the all-ones value standing for a
non-zero sum; the sum of a whole buffer is therefore ``int.from_bytes(data) % 0xFFFF`` (because
2**16 == 1 mod 0xFFFF), which runs in C, never byte by byte in Python.

Byte order: Linux on x86 sums little-endian words and stores the result in memory; the bytes in
memory equal those of our big-endian value, so checksums compare equal as byte strings. Tests
check RFC 1071's worked example (00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2).
"""

from __future__ import annotations

from typing import Any

__all__ = ["csum_partial", "csum_add", "csum_block_add", "csum_fold", "ip_compute_csum", "csum_shift"]


def csum_add(a: int, b: int) -> int:
    """Ones'-complement add two partial checksums (end-around carry)."""
    s = a + b
    return (s & 0xFFFF) + (s >> 16)


def csum_partial(buf: Any, csum: int = 0) -> int:
    """Partial checksum of ``buf`` added to ``csum``."""
    mv = memoryview(buf).cast("B") if not isinstance(buf, (bytes, bytearray)) else buf
    v = int.from_bytes(mv, "big")
    if len(mv) & 1:
        v <<= 8
    r = v % 0xFFFF
    if r == 0 and v:
        r = 0xFFFF  # a non-zero sum that is 0 mod 0xFFFF is all ones, never +0
    return csum_add(csum, r)


def csum_shift(csum: int, offset: int) -> int:
    """A partial checksum as it counts when its data starts at ``offset``: odd offsets byte-swap."""
    if offset & 1:
        return ((csum >> 8) | (csum << 8)) & 0xFFFF
    return csum


def csum_block_add(csum: int, csum2: int, offset: int) -> int:
    """Add the partial checksum ``csum2`` of a block that starts ``offset`` bytes into the data."""
    return csum_add(csum, csum_shift(csum2, offset))


def csum_fold(csum: int) -> int:
    """The 16-bit checksum to put on the wire: the complement of the folded sum."""
    while csum >> 16:
        csum = (csum & 0xFFFF) + (csum >> 16)
    return ~csum & 0xFFFF


def ip_compute_csum(buf: Any) -> int:
    """Checksum of a whole buffer: ``csum_fold(csum_partial(buf, 0))``."""
    return csum_fold(csum_partial(buf, 0))
