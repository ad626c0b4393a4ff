"""Crash simulation through a real mount: what was fsynced survives `iofs crash`, the rest is
lost; torn crashes are seeded; SQLite killed mid-transaction and crashed stays consistent."""

from __future__ import annotations

import errno
import os
import random
import struct
import subprocess
import threading
import time

import pytest

from iofs.testing import client
from tests.support.databases import assert_commits_survive
from tests.support.backing import KINDS, regular_mount
from tests.support.cli import one_line_error, run_iofs
from tests.support.mounting import mounted
from tests.support.processes import rss_kib
from tests.support.sqlite_child import run_sqlite_child
from tests.support.syscalls import write_file

DURABLE = '[options]\ndurability = true\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
BLOCK = 4096


@pytest.fixture(scope="module", params=KINDS)
def m(request, tmp_path_factory):
    """A durable mount: tmp/ in memory, or a host directory (the crash writes the durable
    state back into it)."""
    with regular_mount(request.param, tmp_path_factory.mktemp("crash"), DURABLE) as mnt:
        yield mnt


def crash(m, *extra: str) -> list[str]:
    res = run_iofs("crash", str(m.path), *extra)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_fsynced_data_survives_and_the_rest_is_lost(m):
    d = m / "tmp" / "basic"
    d.mkdir()
    write_file(d / "synced", b"A" * 10000, sync=True)
    write_file(d / "never", b"never fsynced")
    fd = os.open(d / "synced", os.O_RDWR)
    try:
        os.pwrite(fd, b"B" * 100, 5000)  # a rewrite after the fsync
        os.pwrite(fd, b"C" * 50, 10000)  # and an append
        assert os.fstat(fd).st_size == 10050
        reader = os.open(d / "synced", os.O_RDONLY)  # a reader holding the file open
        assert os.pread(reader, 10, 5000) == b"B" * 10
        changed = crash(m)
        assert sorted(changed) == ["tmp/basic/never", "tmp/basic/synced"]
        # the reader sees the reverted content at once (the page cache was dropped)
        assert os.pread(reader, 10100, 0) == b"A" * 10000
        assert os.fstat(reader).st_size == 10000
        os.close(reader)
        # open descriptors keep working afterwards
        assert os.pwrite(fd, b"D", 0) == 1
        assert os.pread(fd, 2, 0) == b"DA"
    finally:
        os.close(fd)
    assert (d / "synced").stat().st_size == 10000
    assert (d / "never").exists() and (d / "never").read_bytes() == b""  # name kept, data lost
    crash(m)
    assert (d / "synced").read_bytes()[:2] == b"AA"  # the "D" was never fsynced either


def test_fdatasync_and_o_sync_make_data_durable(m):
    d = m / "tmp" / "datasync"
    d.mkdir()
    fd = os.open(d / "f", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"fdatasynced")
        os.fdatasync(fd)
    finally:
        os.close(fd)
    write_file(d / "osync", b"written O_SYNC", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_SYNC)  # the kernel fsyncs each write
    crash(m)
    assert (d / "f").read_bytes() == b"fdatasynced"
    assert (d / "osync").read_bytes() == b"written O_SYNC"


def test_sync_makes_nothing_durable(m):
    """sync(1)/syncfs(2) reach no fsync in iofs (pyfuse3 has no SYNCFS handler)."""
    p = m / "tmp" / "synced-by-sync"
    write_file(p, b"sync is not fsync")
    subprocess.run(["sync"], check=True)
    subprocess.run(["sync", "-f", str(p)], check=True)
    crash(m)
    assert p.read_bytes() == b""


def test_truncation_is_undone(m):
    p = m / "tmp" / "truncated"
    data = random.Random(1).randbytes(5 * BLOCK + 123)
    write_file(p, data, sync=True)
    os.truncate(p, 1000)
    os.truncate(p, 3 * BLOCK)  # extended again: a hole where the data was
    assert p.read_bytes() == data[:1000] + bytes(3 * BLOCK - 1000)
    crash(m)
    assert p.read_bytes() == data


def test_namespace_changes_are_durable_at_once(m):
    d = m / "tmp" / "names"
    d.mkdir()
    write_file(d / "tmpfile", b"renamed after fsync", sync=True)
    os.rename(d / "tmpfile", d / "final")
    write_file(d / "gone", b"x", sync=True)
    os.unlink(d / "gone")
    (d / "newdir").mkdir()
    dfd = os.open(d, os.O_RDONLY)
    os.fsync(dfd)  # fsync of a directory: nothing more to do, the namespace is durable
    os.close(dfd)
    crash(m)
    assert sorted(os.listdir(d)) == ["final", "newdir"]
    assert (d / "final").read_bytes() == b"renamed after fsync"


def test_unsynced_lists_files_and_bytes(m):
    d = m / "tmp" / "listing"
    d.mkdir()
    write_file(d / "clean", b"c" * 100, sync=True)
    write_file(d / "grown", b"g" * 100, sync=True)
    with open(d / "grown", "ab") as f:
        f.write(b"h" * 50)
    write_file(d / "new", b"n" * 7)
    res = run_iofs("unsynced", str(m.path))
    assert res.returncode == 0
    listed = {line.split("\t")[1]: int(line.split("\t")[0]) for line in res.stdout.splitlines()}
    assert listed["tmp/listing/grown"] == 50
    assert listed["tmp/listing/new"] == 7
    assert "tmp/listing/clean" not in listed
    crash(m)
    assert not [p for _, p in client.unsynced(m.path) if p.startswith("tmp/listing")]


def test_unsynced_after_a_truncate(m):
    """A truncate below the durable size makes the bytes it cut unsynced (a crash brings them
    back), and so does a regrowth (it would be cut again): iofs unsynced counts them."""
    d = m / "tmp" / "unsynced-truncate"
    d.mkdir()
    data = bytes(range(256)) * (3 * BLOCK // 256)
    write_file(d / "f", data, sync=True)
    os.truncate(d / "f", BLOCK)
    res = run_iofs("unsynced", str(m.path))
    assert res.returncode == 0, res.stderr
    assert f"{2 * BLOCK}\ttmp/unsynced-truncate/f" in res.stdout.splitlines()
    os.truncate(d / "f", 0)
    assert (3 * BLOCK, "tmp/unsynced-truncate/f") in client.unsynced(m.path)
    os.truncate(d / "f", 5 * BLOCK)  # a hole past the durable size: 2 blocks more than durable
    assert (3 * BLOCK + 2 * BLOCK, "tmp/unsynced-truncate/f") in client.unsynced(m.path)
    assert "tmp/unsynced-truncate/f" in crash(m)
    assert (d / "f").read_bytes() == data
    assert not [p for _, p in client.unsynced(m.path) if p.startswith("tmp/unsynced-truncate")]


def _torn_survivors(m, name: str, seed: int) -> set[int]:
    p = m / "tmp" / name
    write_file(p, b"A" * (64 * BLOCK), sync=True)
    fd = os.open(p, os.O_RDWR)
    try:
        os.pwrite(fd, b"B" * (64 * BLOCK), 0)
    finally:
        os.close(fd)
    crash(m, "--torn", "--seed", str(seed))
    data = p.read_bytes()
    assert len(data) == 64 * BLOCK
    blocks = [data[k * BLOCK:(k + 1) * BLOCK] for k in range(64)]
    assert all(b in (b"A" * BLOCK, b"B" * BLOCK) for b in blocks)  # 4 KiB blocks are atomic
    p.unlink()
    return {k for k, b in enumerate(blocks) if b == b"B" * BLOCK}


def test_torn_crash_same_seed_same_survivors(m):
    crash(m)  # nothing else unsynced, so that the draws cover this file's blocks only
    a = _torn_survivors(m, "torn", 7)
    b = _torn_survivors(m, "torn", 7)
    c = _torn_survivors(m, "torn", 8)
    assert a == b
    assert a != c
    assert 16 <= len(a) <= 48  # about half of 64


def test_torn_crash_of_appended_blocks(m):
    crash(m)
    p = m / "tmp" / "torn-append"
    write_file(p, b"A" * BLOCK, sync=True)
    with open(p, "ab") as f:
        f.write(b"B" * (8 * BLOCK))
    crash(m, "--torn", "--seed", "3")
    data = p.read_bytes()
    assert data[:BLOCK] == b"A" * BLOCK
    assert len(data) % BLOCK == 0 and len(data) <= 9 * BLOCK
    rest = [data[k:k + BLOCK] for k in range(BLOCK, len(data), BLOCK)]
    assert all(b in (b"B" * BLOCK, bytes(BLOCK)) for b in rest)  # survivor or a hole
    assert not rest or rest[-1] == b"B" * BLOCK  # the size ends at the last survivor


def test_torn_crash_of_the_block_the_durable_size_ends_in(m):
    """A file durable at 100 bytes, then grown by a write in block 2: the blocks from the one
    the durable size ends in to the end are drawn, holes included. Each seed gives one of the
    crash states the docs name: the durable 100 bytes; the file up to the end of its last
    surviving block, zeros past the data (block 0 or the hole in block 1 kept); or the size
    it had, with block 2's data."""
    crash(m)
    p = m / "tmp" / "torn-tail"
    full = b"d" * 100 + bytes(2 * BLOCK - 100) + b"e" * 100
    seen = set()
    for seed in range(16):
        write_file(p, b"d" * 100, sync=True)
        fd = os.open(p, os.O_RDWR)
        try:
            os.pwrite(fd, b"e" * 100, 2 * BLOCK)
        finally:
            os.close(fd)
        crash(m, "--torn", "--seed", str(seed))
        data = p.read_bytes()
        assert len(data) in (100, BLOCK, 2 * BLOCK, len(full)), (seed, len(data))
        assert data == full[:len(data)], seed
        seen.add(len(data))
        p.unlink()
    # over 16 seeds: the durable state, the grown one, and one ending at a block
    assert {100, len(full)} <= seen and seen & {BLOCK, 2 * BLOCK}, seen


TIB = 1 << 40


@pytest.mark.parametrize("torn", [False, True])
def test_a_sparse_file_a_tib_long_crashes_at_once(m, torn):
    """Blocks are counted where the data is: a write a TiB out, never fsynced, or a TiB-long
    sparse file cut to nothing and written in its hole, costs a crash no more than its data."""
    p, q = m / "tmp" / f"far-{torn}", m / "tmp" / f"sparse-{torn}"
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"h")
        os.fsync(fd)
        os.pwrite(fd, b"H", TIB)
    finally:
        os.close(fd)
    fd = os.open(q, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"end", TIB)
        os.fsync(fd)
        os.pwrite(fd, b"in the hole", TIB // 2)
        os.ftruncate(fd, 10)
        os.pwrite(fd, b"again", TIB // 4)
    finally:
        os.close(fd)
    start = time.monotonic()
    crash(m, *(["--torn", "--seed", "1"] if torn else []))
    assert time.monotonic() - start < 20
    size = p.stat().st_size
    with open(p, "rb") as f:
        assert f.read(4096) == b"h" + bytes(min(size, 4096) - 1)
        if size > 4096:  # torn: the far block survived
            assert size == TIB + 1 and os.pread(f.fileno(), 2, TIB) == b"H"
        else:
            assert size in ((1, BLOCK) if torn else (1,))
    assert q.stat().st_size == TIB + 3
    fd = os.open(q, os.O_RDONLY)
    try:
        if not torn:
            assert os.pread(fd, 3, TIB) == b"end"
            assert os.pread(fd, 11, TIB // 2) == bytes(11)
            assert os.pread(fd, 5, TIB // 4) == bytes(5)
        else:  # each block as it was at the fsync, or as it is now (cut: zeros)
            assert os.pread(fd, 3, TIB) in (b"end", bytes(3))
            assert os.pread(fd, 11, TIB // 2) == bytes(11)
            assert os.pread(fd, 5, TIB // 4) in (b"again", bytes(5))
    finally:
        os.close(fd)
    p.unlink()
    q.unlink()


def test_rewrites_cost_at_most_the_blocks_replaced(m):
    """Every other block rewritten, then all of them: the daemon keeps each durable block once
    (32 MiB here), not a copy of every span a write covered besides."""
    assert m.pid is not None
    p = m / "tmp" / "rewritten"
    mib = 1 << 20
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        for k in range(32):
            os.pwrite(fd, b"a" * mib, k * mib)
        os.fsync(fd)
        before = rss_kib(m.pid) * 1024
        for b in range(1, 32 * mib // BLOCK, 2):
            os.pwrite(fd, b"b" * BLOCK, b * BLOCK)
        for k in range(32):
            os.pwrite(fd, b"c" * mib, k * mib)
        extra = rss_kib(m.pid) * 1024 - before
        assert extra < 40 * mib, f"{extra / mib:.0f} MiB kept for 32 MiB of blocks replaced"
    finally:
        os.close(fd)
    crash(m)
    assert p.read_bytes() == b"a" * (32 * mib)
    p.unlink()


def test_crash_needs_durability(tmp_path):
    with mounted(tmp_path) as mnt:
        res = run_iofs("crash", str(mnt.path))
        assert res.returncode == 1
        assert "durability = true" in one_line_error(res)
        res = run_iofs("crash", str(mnt.path), "--seed", "3")
        assert res.returncode == 2 and "--seed goes with --torn" in one_line_error(res)


def test_crash_control_file_refuses_garbage(m):
    fd = os.open(m / ".iofs" / "crash", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as ei:
            os.write(fd, b"boom")
        assert ei.value.errno == 22
    finally:
        os.close(fd)


def test_fsync_after_a_crash_says_eio_once_to_each_open_it_hit(m):
    """A write, a crash, then fsync on the same descriptor: the write is gone, so the fsync
    must not say it is durable (EIO, once, as Linux reports a lost writeback); a descriptor
    opened after the crash, or a file the crash did not change, fsyncs fine."""
    p, q = m / "tmp" / "eio-once", m / "tmp" / "eio-untouched"
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    other = os.open(q, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"durable")
        os.fsync(fd)
        os.write(fd, b" and lost")
        crash(m)
        after = os.open(p, os.O_RDWR)
        os.fsync(after)
        os.close(after)
        with pytest.raises(OSError) as ei:
            os.fsync(fd)
        assert ei.value.errno == errno.EIO
        os.fsync(fd)  # reported once
        os.fsync(other)
    finally:
        os.close(fd)
        os.close(other)
    assert p.read_bytes() == b"durable"


def test_a_crash_amid_fsynced_writes_keeps_every_acknowledged_one(m):
    """A program that keeps writing and fsyncing while crashes come: every record whose fsync
    returned 0 is there afterwards, in the daemon's own copy (the kernel's cache dropped), and
    every record there is whole."""
    p = m / "tmp" / "stream"
    acked: list[int] = []
    stop = threading.Event()
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                i = 0
                while not stop.is_set():
                    os.write(fd, struct.pack("<Q", i) * 64)  # a 512-byte record
                    try:
                        os.fsync(fd)
                        acked.append(i)
                    except OSError as exc:  # EIO: a crash took the record
                        if exc.errno != errno.EIO:
                            raise
                    i += 1
            finally:
                os.close(fd)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            failure.append(exc)

    th = threading.Thread(target=writer)
    th.start()
    try:
        for _ in range(15):
            time.sleep(0.05)
            crash(m)
    finally:
        stop.set()
        th.join(30)
    assert not failure, failure
    crash(m)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    data = p.read_bytes()
    assert len(data) % 512 == 0
    records = [data[off:off + 512] for off in range(0, len(data), 512)]
    assert all(r == r[:8] * 64 for r in records), "a record that is not whole"
    assert len(acked) > 50, "the writer wrote too little to tell"
    lost = sorted(set(acked) - {struct.unpack_from("<Q", r)[0] for r in records})
    assert not lost, f"fsynced and lost: {lost[:10]} of {len(acked)} ({len(data)} bytes)"


def test_writeback_cache_dirty_pages_are_lost_in_a_crash(tmp_path):
    """With writeback_cache, a write may still sit in the kernel's page cache when the crash
    comes: the crash drops it with everything else that was never fsynced (an fsync first
    writes the pages back and makes them durable). The kernel owns the size of a cached file
    in this mode, so until it forgets the inode the lost bytes read as zeros."""
    cfg = '[options]\ndurability = true\nwriteback_cache = true\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as mnt:
        kept, lost = mnt / "tmp" / "kept", mnt / "tmp" / "lost"
        write_file(kept, b"k" * 20000, sync=True)
        fd = os.open(lost, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"dirty in the page cache" * 100)  # no fsync, no close
            fd2 = os.open(kept, os.O_RDWR)
            os.pwrite(fd2, b"X" * 10, 0)
            changed = crash(mnt)
            assert "tmp/lost" in changed
            seen = os.pread(fd, 1 << 16, 0)
            assert seen == bytes(len(seen))  # none of the dirty data: zeros up to the kernel's size
            assert os.pread(fd2, 12, 0) == b"k" * 12
            os.close(fd2)
        finally:
            os.close(fd)
        assert kept.read_bytes() == b"k" * 20000
        # once the kernel forgets the inode, its size is the durable one
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        assert lost.stat().st_size == 0 and lost.read_bytes() == b""


# ---- SQLite: a correct program survives a crash -------------------------------------------

def _run_sqlite_child(m, tmp_path, name: str, mode: str, sync: str, extra: float) -> list[int]:
    return run_sqlite_child(m / "tmp" / name, tmp_path, mode, sync, extra)


@pytest.mark.parametrize("mode", ["DELETE", "WAL"])
def test_sqlite_killed_and_crashed_keeps_every_commit(m, tmp_path, mode):

    name = f"db-{mode.lower()}.sqlite"
    seen = _run_sqlite_child(m, tmp_path, name, mode, "FULL", random.uniform(0, 0.8))
    assert len(seen) > 3, "the child committed too little to tell"
    changed = crash(m)
    assert_commits_survive(m / "tmp" / name, seen)
    assert changed is not None


def test_sqlite_without_fsync_loses_its_data(m, tmp_path):
    """synchronous=OFF never fsyncs: the crash takes the commits with it (as a power cut does)."""
    import sqlite3

    seen = _run_sqlite_child(m, tmp_path, "db-nosync.sqlite", "DELETE", "OFF", 0.3)
    assert len(seen) > 3
    crash(m)
    db = sqlite3.connect(m / "tmp" / "db-nosync.sqlite")
    try:
        try:
            ids = {row[0] for row in db.execute("SELECT id FROM t")}
        except sqlite3.DatabaseError:
            ids = set()  # not even the table was ever durable
    finally:
        db.close()
    assert len(ids) < len(seen)
