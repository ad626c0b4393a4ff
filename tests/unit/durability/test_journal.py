"""Journals of regular files: what is kept, what a crash restores, torn crashes, unsynced bytes."""

from __future__ import annotations

import random

from iofs.durability.crash import Durability
from iofs.durability.journal import BLOCK
from iofs.uio import UIO_USERSPACE, UIO_WRITE, IoVec, Uio
from iofs.vfs.pool import MemoryPool
from iofs.vfs.regular import RegularFile


class _Kernel:
    async def invalidate(self, inodes):
        return None

    async def forget_entries(self, entries):
        return None


def _file() -> RegularFile:
    f = RegularFile(MemoryPool(1 << 30))
    f.journal = Durability(lambda f: None, _Kernel(), lambda f: None).journal(f)
    return f


def _write(f: RegularFile, off: int, data: bytes) -> None:
    uio = Uio([IoVec(data)], rw=UIO_WRITE, segflg=UIO_USERSPACE, offset=off)
    assert f.d_write(None, uio, 0) == 0 and uio.uio_resid == 0


def _data(f: RegularFile) -> bytes:
    return f.read_range(0, f.size)


def test_appending_keeps_nothing_and_a_crash_cuts_it_off():
    f = _file()
    _write(f, 0, b"a" * 10000)
    f.d_fsync(None, False)
    _write(f, 10000, b"b" * 50000)
    assert f.journal.saved == {}
    assert f.journal.unsynced_bytes(f) == 50000
    assert f.journal.revert(f)
    assert _data(f) == b"a" * 10000


def test_a_rewrite_keeps_each_block_once_and_a_crash_restores_it():
    f = _file()
    original = random.Random(1).randbytes(5 * BLOCK)
    _write(f, 0, original)
    f.d_fsync(None, True)
    _write(f, 100, b"x" * 10)
    _write(f, 105, b"y" * (BLOCK + 10))  # blocks 0 and 1, block 0 again
    assert sorted(f.journal.saved) == [0, 1]
    assert f.journal.saved[0] == original[:BLOCK]
    assert f.journal.unsynced_bytes(f) == 2 * BLOCK
    f.journal.revert(f)
    assert _data(f) == original
    assert f.journal.saved == {} and f.journal.durable_size == 5 * BLOCK


def test_the_last_partial_block_keeps_only_what_was_durable():
    f = _file()
    _write(f, 0, b"d" * (BLOCK + 10))
    f.d_fsync(None, False)
    _write(f, BLOCK + 5, b"n" * 100)  # inside the durable tail, then beyond it
    assert f.journal.saved == {1: b"d" * 10}
    f.journal.revert(f)
    assert _data(f) == b"d" * (BLOCK + 10)


def test_truncation_and_regrowth_are_undone():
    f = _file()
    original = random.Random(2).randbytes(3 * BLOCK + 7)
    _write(f, 0, original)
    f.d_fsync(None, False)
    assert f.d_truncate(None, 100) == 0
    assert f.d_truncate(None, 2 * BLOCK) == 0
    _write(f, 50, b"z" * 20)
    f.journal.revert(f)
    assert _data(f) == original


def test_a_file_never_synced_loses_everything():
    f = _file()
    _write(f, 0, b"never")
    assert f.journal.unsynced_bytes(f) == 5
    f.journal.revert(f)
    assert f.size == 0 and f.held_bytes() == 0


def test_torn_survivors_keep_their_new_content_whole():
    f = _file()
    _write(f, 0, b"A" * (8 * BLOCK))
    f.d_fsync(None, False)
    _write(f, 0, b"B" * (8 * BLOCK))
    _write(f, 8 * BLOCK, b"C" * (4 * BLOCK))  # appended
    survivors = {1, 4, 9}
    f.journal.revert(f, survivors.__contains__)
    data = _data(f)
    blocks = [data[k * BLOCK:(k + 1) * BLOCK] for k in range(len(data) // BLOCK)]
    assert len(data) == 10 * BLOCK  # up to the last appended survivor
    assert [b[:1] for b in blocks] == [b"A", b"B", b"A", b"A", b"B", b"A", b"A", b"A", b"\0", b"C"]


def test_nothing_unsynced_is_no_change():
    f = _file()
    _write(f, 0, b"x" * 100)
    f.d_fsync(None, False)
    assert f.journal.unsynced_blocks(f) == [] and f.journal.unsynced_bytes(f) == 0
    assert not f.journal.revert(f)


def _kept_bytes(f: RegularFile) -> int:
    """The memory the journal's copies hold (each copy once, however many blocks view it)."""
    copies = {id(v.obj): v.obj for v in f.journal.saved.values() if isinstance(v, memoryview)}
    return sum(len(c) for c in copies.values())


def test_a_rewrite_over_blocks_already_kept_copies_only_the_others():
    f = _file()
    _write(f, 0, b"a" * (64 * BLOCK))
    f.d_fsync(None, False)
    for b in range(1, 64, 2):  # every other block first, one at a time
        _write(f, b * BLOCK, b"b" * BLOCK)
    _write(f, 0, b"c" * (64 * BLOCK))  # then all of them
    assert sorted(f.journal.saved) == list(range(64))
    assert _kept_bytes(f) == 64 * BLOCK  # the blocks replaced, and no more
    f.journal.revert(f)
    assert _data(f) == b"a" * (64 * BLOCK)
