"""uio_limit (illumos): a write is cut short at the limit and EFBIG at or past it
(uio_trim_to_limit).
"""

from __future__ import annotations

import errno

import pytest

from iofs.uio import (
    UIO_USERSPACE,
    UIO_WRITE,
    Td,
    Uio,
    uio_trim_to_limit,
    uiomove_frombuf,
)
from tests.support.views import lens


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


def state(uio: Uio) -> tuple[int, int, list[int]]:
    return uio.uio_resid, uio.uio_offset, lens(uio)


# ---- uio_limit ---------------------------------------------------------------------------------

def test_limit_zero_length_write_at_the_limit_is_not_efbig():
    uio = Uio([b""], rw=UIO_WRITE, offset=10, limit=10)
    assert uio_trim_to_limit(uio) == (0, 0)
    assert state(uio) == (0, 10, [0])


def test_limit_write_crossing_it_by_exactly_one_byte():
    uio = Uio([b"abcde"], rw=UIO_WRITE, offset=6, limit=10)
    assert uio_trim_to_limit(uio) == (0, 1)
    assert uio.uio_resid == 4 and uio.uio_offset == 6
