"""Many processes at once: writers to disjoint ranges of mem0, to separate regular files, to
disjoint ranges of one regular file, and to pipe0 (PIPE_BUF-sized records stay whole). Every
byte is checked afterwards: nothing lost, nothing misplaced, nothing written twice."""

from __future__ import annotations

import multiprocessing
import os
import select
import time

import pytest

from tests.support.data import MiB, first_difference, pattern
from tests.support.backing import KINDS, regular_mount
from tests.support.mounting import module_mount

WORKERS = 8
CTX = multiprocessing.get_context("fork")
# each worker its own request size: tiny, odd, page, around a page, 64 KiB +- 1, 256 KiB, 1 MiB
CHUNKS = [257, 4093, 4096, 8191, 65535, 65537, 262144, MiB]


@pytest.fixture(scope="module")
def cm(tmp_path_factory):
    with module_mount(tmp_path_factory) as m:
        yield m


@pytest.fixture(scope="module", params=KINDS)
def tcm(request, tmp_path_factory):
    """The mount of the regular-file tests: ``cm`` (tmp/ in memory), or one whose tmp/ is a
    host directory."""
    if request.param == "memory":
        yield request.getfixturevalue("cm")
        return
    with regular_mount("backed", tmp_path_factory.mktemp("conc-backed")) as m:
        yield m


def run_workers(target, args_of, timeout: float = 60) -> None:
    """Start WORKERS processes of ``target(i, barrier, *args_of(i))`` released together by a
    barrier; each must exit 0. Every child is gone when this returns or raises."""
    barrier = CTX.Barrier(WORKERS)
    procs = [CTX.Process(target=target, args=(i, barrier, *args_of(i)), daemon=True)
             for i in range(WORKERS)]
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + timeout
        for p in procs:
            p.join(max(deadline - time.monotonic(), 0.1))
        stuck = [i for i, p in enumerate(procs) if p.is_alive()]
        assert not stuck, f"workers {stuck} still running after {timeout} s"
        codes = [p.exitcode for p in procs]
        assert codes == [0] * WORKERS, f"worker exit codes {codes}"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(5)


def _write_ranges(i: int, barrier, path: str, ranges: list[tuple[int, int]], seed: int,
                  chunk: int, flags: int) -> None:
    """Write pattern(seed, off, n) at each (off, n) in ``ranges``, in pieces of ``chunk``."""
    fd = os.open(path, flags, 0o644)
    try:
        barrier.wait(30)
        for off, n in ranges:
            data = pattern(seed, off, n)
            done = 0
            while done < n:
                piece = data[done:done + chunk]
                w = os.pwrite(fd, piece, off + done)
                if w <= 0:
                    os._exit(3)
                done += w
    except BaseException:
        os._exit(2)
    finally:
        os.close(fd)


def owner_view(size: int, base: int, owners: list[tuple[int, int, int]], fill: bytes) -> bytes:
    """The expected bytes of [base, base+size): ``fill`` everywhere but (off, n, seed) ranges."""
    want = bytearray(fill)
    for off, n, seed in owners:
        want[off - base:off - base + n] = pattern(seed, off, n)
    assert len(want) == size
    return bytes(want)


def read_all(path, off: int, n: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        out = bytearray()
        while len(out) < n:
            chunk = os.pread(fd, min(MiB, n - len(out)), off + len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)
    finally:
        os.close(fd)


def prefill(path, off: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        for k in range(0, len(data), MiB):
            assert os.pwrite(fd, data[k:k + MiB], off + k) == len(data[k:k + MiB])
    finally:
        os.close(fd)


# ---- mem0 --------------------------------------------------------------------------------------

def test_mem0_disjoint_ranges(cm):
    """Eight writers, each a contiguous range of ~1 MiB with unaligned ends, each its own request
    size and pattern; the margins around the whole area stay as they were."""
    dev = str(cm / "mem0")
    base, span = 3 * MiB + 123, MiB + 4097
    margin = 70000
    total = WORKERS * span + 2 * margin
    fill = pattern(99, 0, total)
    prefill(dev, base - margin, fill)
    ranges = [(base + i * span, span) for i in range(WORKERS)]
    run_workers(_write_ranges, lambda i: (dev, [ranges[i]], 10 + i, CHUNKS[i], os.O_WRONLY))
    want = owner_view(total, base - margin, [(o, n, 10 + i) for i, (o, n) in enumerate(ranges)], fill)
    got = read_all(dev, base - margin, total)
    assert got == want, first_difference(got, want)


def test_mem0_interleaved_stripes(cm):
    """Stripes of 1000 bytes dealt round-robin to the eight writers: every write has neighbours
    being written by other processes at the same moment."""
    dev = str(cm / "mem0")
    base, stripe, stripes = 20 * MiB + 1, 1000, 2400
    total = stripe * stripes + 2
    fill = pattern(98, 0, total)
    prefill(dev, base - 1, fill)
    mine = {i: [(base + k * stripe, stripe) for k in range(i, stripes, WORKERS)] for i in range(WORKERS)}
    run_workers(_write_ranges, lambda i: (dev, mine[i], 30 + i, stripe, os.O_WRONLY))
    owners = [(o, n, 30 + i) for i in range(WORKERS) for o, n in mine[i]]
    want = owner_view(total, base - 1, owners, fill)
    got = read_all(dev, base - 1, total)
    assert got == want, first_difference(got, want)


# ---- regular files -----------------------------------------------------------------------------

def test_regular_files_one_each(tcm):
    """Eight writers, eight new files of 3 MiB + i bytes, written front to back."""
    names = [tcm / "tmp" / f"conc-{i}" for i in range(WORKERS)]
    sizes = [3 * MiB + i for i in range(WORKERS)]
    try:
        run_workers(_write_ranges, lambda i: (str(names[i]), [(0, sizes[i])], 50 + i, CHUNKS[i],
                                              os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
        for i, f in enumerate(names):
            assert f.stat().st_size == sizes[i]
            got = f.read_bytes()
            want = pattern(50 + i, 0, sizes[i])
            assert got == want, f"{f.name}: {first_difference(got, want)}"
    finally:
        for f in names:
            f.unlink(missing_ok=True)


def test_regular_file_shared(tcm):
    """Eight writers, one file, disjoint unaligned ranges written back to front (the file grows
    under the others' writes, leaving holes that get filled)."""
    f = tcm / "tmp" / "conc-shared"
    span = 512 * 1024 + 333
    ranges = [(i * span, span) for i in range(WORKERS)]

    def back_to_front(i):
        off, n = ranges[i]
        pieces = [(off + k, min(CHUNKS[i] if CHUNKS[i] < MiB else 100000, n - k))
                  for k in range(0, n, CHUNKS[i] if CHUNKS[i] < MiB else 100000)]
        return (str(f), pieces[::-1], 70 + i, MiB, os.O_WRONLY | os.O_CREAT)

    try:
        run_workers(_write_ranges, back_to_front)
        total = WORKERS * span
        assert f.stat().st_size == total
        want = owner_view(total, 0, [(o, n, 70 + i) for i, (o, n) in enumerate(ranges)], bytes(total))
        got = f.read_bytes()
        assert got == want, first_difference(got, want)
        # a fresh open after the page cache went reads the daemon's copy: the same bytes
        with open(f, "rb") as g:
            os.posix_fadvise(g.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            got = g.read()
        assert got == want, "after dropping the page cache: " + first_difference(got, want)
    finally:
        f.unlink(missing_ok=True)


# ---- pipe0: PIPE_BUF records from eight writers stay whole ---------------------------------------

RECORD = 4096  # PIPE_BUF of the pipe driver: writes up to this size are atomic
RECORDS = 150


def _pipe_writer(i: int, barrier, path: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        barrier.wait(30)
        for seq in range(RECORDS):
            rec = bytes([i, seq & 0xFF, seq >> 8]) + pattern(200 + i, seq * RECORD, RECORD - 3)
            if os.write(fd, rec) != RECORD:
                os._exit(3)
    except BaseException:
        os._exit(2)
    finally:
        os.close(fd)


def test_pipe_records_stay_whole(cm):
    """Eight writers of 4096-byte records into the 64 KiB pipe while this process reads: every
    record arrives whole (no interleaving inside one), each writer's in order, none lost."""
    path = str(cm / "pipe0")
    # O_RDWR: counts as a writer too, so the reads never see end of file before the writers open
    fd = os.open(path, os.O_RDWR)
    barrier = CTX.Barrier(WORKERS)
    procs = [CTX.Process(target=_pipe_writer, args=(i, barrier, path), daemon=True)
             for i in range(WORKERS)]
    want_total = WORKERS * RECORDS * RECORD
    stream = bytearray()
    try:
        for p in procs:
            p.start()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + 60
        while len(stream) < want_total:
            # never read without data ready: a FUSE read that waits cannot be interrupted
            assert poller.poll(10000), f"pipe0 went quiet after {len(stream)} of {want_total} bytes"
            stream += os.read(fd, 65536)
            assert time.monotonic() < deadline
        for p in procs:
            p.join(10)
        assert [p.exitcode for p in procs] == [0] * WORKERS
        assert not poller.poll(0), "more bytes than were written"
    finally:
        os.close(fd)  # readers gone: writers still blocked get EPIPE
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(5)
    next_seq = [0] * WORKERS
    for k in range(0, want_total, RECORD):
        rec = bytes(stream[k:k + RECORD])
        i, seq = rec[0], rec[1] | rec[2] << 8
        assert i < WORKERS, f"record at {k}: torn (header {rec[:3].hex()})"
        assert seq == next_seq[i], f"record at {k}: writer {i} record {seq}, expected {next_seq[i]}"
        assert rec[3:] == pattern(200 + i, seq * RECORD, RECORD - 3), f"record at {k} is torn"
        next_seq[i] += 1
    assert next_seq == [RECORDS] * WORKERS
