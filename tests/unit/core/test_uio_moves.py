"""uio's move recording (start_moves/stop_moves), what the trace's detail shows."""

from __future__ import annotations

import trio

from iofs.uio import (
    UIO_READ, UIO_USERSPACE, UIO_WRITE, IoVec, Uio, start_moves, stop_moves, uiomove,
    uiomove_frombuf,
)


def _read_uio(n: int, offset: int = 0) -> Uio:
    return Uio([IoVec(bytearray(n))], rw=UIO_READ, segflg=UIO_USERSPACE, offset=offset)


def test_nothing_is_recorded_until_started():
    moves = start_moves()
    stop_moves()
    assert uiomove(b"abc", 3, _read_uio(3)) == 0
    assert moves == []


def test_each_move_is_recorded_with_its_bytes_and_the_offset_after():
    moves = start_moves()
    try:
        uio = _read_uio(10, offset=100)
        assert uiomove(b"abcd", 4, uio) == 0
        assert uiomove_frombuf(b"0123456789" * 20, 200, uio) == 0
        assert uiomove(b"x", 0, uio) == 0  # nothing to move: not a move
    finally:
        stop_moves()
    assert moves == [("uiomove", 4, 104), ("uiomove_frombuf", 6, 110)]


def test_a_faulting_move_records_what_it_moved():
    moves = start_moves()
    try:
        uio = Uio([IoVec(bytearray(2)), IoVec(b"ro")], rw=UIO_READ, segflg=UIO_USERSPACE)
        assert uiomove(b"abcd", 4, uio) != 0  # EFAULT in the read-only second iovec
    finally:
        stop_moves()
    assert moves == [("uiomove", 2, 2)]


def test_uiomove_frombuf_past_the_end_records_nothing():
    moves = start_moves()
    try:
        assert uiomove_frombuf(b"abc", 3, _read_uio(5, offset=3)) == 0
    finally:
        stop_moves()
    assert moves == []


def test_writes_are_recorded_too():
    moves = start_moves()
    try:
        uio = Uio([IoVec(b"hello")], rw=UIO_WRITE, segflg=UIO_USERSPACE)
        buf = bytearray(5)
        assert uiomove(buf, 5, uio) == 0 and buf == b"hello"
    finally:
        stop_moves()
    assert moves == [("uiomove", 5, 5)]


def test_each_task_has_its_own_record():
    """Requests are trio tasks: one request's moves never land in another's record."""
    seen: dict[str, list] = {}

    async def request(name: str, n: int) -> None:
        moves = start_moves()
        await trio.sleep(0.01)
        uiomove(b"z" * n, n, _read_uio(n))
        await trio.sleep(0.01)
        stop_moves()
        seen[name] = moves

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(request, "a", 3)
            nursery.start_soon(request, "b", 7)

    trio.run(main)
    assert seen == {"a": [("uiomove", 3, 3)], "b": [("uiomove", 7, 7)]}


def test_uiomove_frombuf_names_its_own_move_after_others():
    moves = start_moves()
    try:
        uio = _read_uio(12)
        for _ in range(3):
            assert uiomove(b"ab", 2, uio) == 0
        assert uiomove_frombuf(b"0123456789ab", 12, uio) == 0  # from offset 6: 6 bytes
    finally:
        stop_moves()
    assert moves == [("uiomove", 2, 2), ("uiomove", 2, 4), ("uiomove", 2, 6),
                     ("uiomove_frombuf", 6, 12)]


def test_td_keeps_the_process_it_is_given():
    from iofs.uio import Td

    td = Td(101, 1000, 1000, tgid=100)
    assert (td.pid, td.uid, td.gid, td.tgid, td.pollhandle) == (101, 1000, 1000, 100, None)
    assert Td(7, 0, 0).tgid is None
