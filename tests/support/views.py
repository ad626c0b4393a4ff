"""What the unit tests observe of iovecs, uios and iterators, shared by their modules."""

from __future__ import annotations

from iofs.uio import IoVec, Uio


def lens(uio: Uio) -> list[int]:
    """iov_len of every remaining iovec, current first."""
    return [v.iov_len for v in uio.uio_iov]


def contents(uio: Uio) -> list[bytes]:
    """The bytes of every remaining iovec, current first."""
    return [bytes(v.iov_base[:v.iov_len]) for v in uio.uio_iov]


def pos(i) -> tuple[int, int, int]:
    """(nr_segs, iov_offset, count): the observable position of an iterator."""
    return i.nr_segs, i.iov_offset, i.count


def released(nbytes: int) -> IoVec:
    """An iovec over user memory that has gone away (a released memoryview)."""
    mv = memoryview(bytearray(nbytes))
    v = IoVec(mv)
    mv.release()
    return v


def ref_sum(data: bytes, start: int = 0) -> int:
    """RFC 1071 section 4.1, plainly: 16-bit big-endian words added with end-around carry."""
    s = start
    for k in range(0, len(data), 2):
        s += (data[k] << 8) | (data[k + 1] if k + 1 < len(data) else 0)
        s = (s & 0xFFFF) + (s >> 16)
    return s
