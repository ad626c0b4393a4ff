"""uio_unfilled: the bytes of a one-iovec read counted as moved that no move filled."""

from __future__ import annotations

from iofs.uio import (
    UIO_NOCOPY, UIO_READ, UIO_USERSPACE, UIO_WRITE, IoVec, Uio, cloneuio, uio_unfilled, uiomove,
    uioskip,
)


def _read(n: int, buf_len: int | None = None) -> Uio:
    return Uio.single(memoryview(bytearray(buf_len or n)), n, UIO_READ, UIO_USERSPACE, 0)


def uio_unfilled_of(uio: Uio, n: int) -> list[tuple[int, int]]:
    """uio_unfilled of a request of ``n`` bytes, with what it moved taken from uio_resid."""
    return uio_unfilled(uio, n - uio.uio_resid)


def test_a_driver_that_only_moves_leaves_nothing_unfilled():
    uio = _read(10)
    assert uiomove(b"abcdef", 6, uio) == 0
    assert uio_unfilled_of(uio, 10) == []
    assert uiomove(b"ghij", 4, uio) == 0
    assert uio_unfilled_of(uio, 10) == []


def test_a_skip_between_moves_is_its_span():
    uio = _read(10)
    assert uiomove(b"ab", 2, uio) == 0
    uioskip(uio, 3)
    assert uiomove(b"cd", 2, uio) == 0
    assert uio_unfilled_of(uio, 10) == [(2, 5)]


def test_a_skip_past_resid_does_nothing_and_is_not_a_hole():
    uio = _read(4)
    uioskip(uio, 5)
    assert uio.uio_resid == 4 and uio_unfilled_of(uio, 4) == []


def test_a_nocopy_move_is_a_hole_a_write_skip_is_not():
    uio = _read(8)
    uio.uio_segflg = UIO_NOCOPY
    assert uiomove(bytes(8), 8, uio) == 0
    assert uio_unfilled_of(uio, 8) == [(0, 8)]
    w = Uio.single(memoryview(bytearray(8)), 8, UIO_WRITE, UIO_USERSPACE, 0)
    uioskip(w, 3)
    w.uio_segflg = UIO_NOCOPY
    assert uiomove(bytearray(5), 5, w) == 0
    assert w._holes is None


def test_a_nocopy_move_of_nothing_is_no_hole():
    uio = _read(8)
    uio.uio_segflg = UIO_NOCOPY
    assert uiomove(b"", 0, uio) == 0
    assert uio._holes is None


def test_resid_lowered_by_hand_is_unfilled_past_the_copy_position():
    uio = _read(10)
    assert uiomove(b"abc", 3, uio) == 0
    uio.uio_resid = 0
    assert uio_unfilled_of(uio, 10) == [(3, 10)]


def test_spans_stop_at_what_was_moved_and_at_the_iovec():
    uio = _read(6, buf_len=64)
    uioskip(uio, 4)
    uio.uio_resid += 2  # a driver gave two bytes back: only 2 of the skip count as moved
    assert uio_unfilled_of(uio, 6) == [(0, 2)]
    big = _read(6, buf_len=64)
    uioskip(big, 6)
    big._holes = [(0, 0, 50)]  # a hole longer than the iovec ends with it
    assert uio_unfilled_of(big, 6) == [(0, 6)]


def test_reset_single_and_clone_start_without_holes():
    uio = _read(8)
    uioskip(uio, 2)
    assert uio._holes == [(0, 0, 2)]
    assert cloneuio(uio)._holes is None
    uio.reset(memoryview(bytearray(8)), 8, 0)
    assert uio._holes is None
    assert uiomove(b"abcdefgh", 8, uio) == 0
    assert uio_unfilled_of(uio, 8) == []
    assert Uio([IoVec(bytearray(3))], rw=UIO_READ)._holes is None


def test_every_skip_is_kept_in_order():
    uio = _read(12)
    uioskip(uio, 2)
    assert uiomove(b"xy", 2, uio) == 0
    uioskip(uio, 3)
    assert uio._holes == [(0, 0, 2), (0, 4, 3)]
    assert uio_unfilled_of(uio, 12) == [(0, 2), (4, 7)]


def test_a_hole_past_what_counts_as_moved_is_none():
    uio = _read(8)
    assert uiomove(b"abcdef", 6, uio) == 0
    uioskip(uio, 2)
    uio.uio_resid = 4  # the driver took back all but 4 bytes: the skip is past them
    assert uio_unfilled_of(uio, 8) == []
    uio.uio_resid = 2  # exactly up to the skip: still nothing
    assert uio_unfilled_of(uio, 8) == []
