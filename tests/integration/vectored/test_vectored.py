"""os.readv / os.writev / os.preadv / os.pwritev through iofs: 1, 2, 17 and 1024 iovecs of mixed
sizes (empty ones included), every byte checked, against mem0, a regular file, zero, null, random
and pipe0 (readv/writev only: a stream has no offsets)."""

from __future__ import annotations

import errno
import os
import select

import pytest

from tests.support.backing import KINDS, regular_mount
from tests.support.data import MiB, first_difference, pattern
from tests.support.mounting import module_mount

COUNTS = [1, 2, 17, 1024]
POISON = 0xA5
# sizes an iovec takes, cycled: empty ones, single bytes, around a page, odd, 64 KiB + 1
MIXED = [0, 1, 2, 3, 17, 0, 511, 512, 513, 4095, 4096, 4097, 1, 8195, 100, 0, 65537]
SMALL = [0, 1, 2, 3, 7, 17, 0, 31, 64, 5, 1, 0, 100, 255]


def cycle(count: int, table: list[int], salt: int = 0) -> list[int]:
    return [table[(i * 7 + salt) % len(table)] for i in range(count)]


def split(total: int, count: int, salt: int = 0) -> list[int]:
    """``count`` sizes, some of them 0, adding up to exactly ``total``."""
    if count == 1:
        return [total]
    weights = [3, 0, 1, 7, 2, 0, 5, 1, 11, 4, 0, 9, 1, 6]
    w = [weights[(i * 5 + salt) % len(weights)] for i in range(count)]
    if not any(w):
        w[-1] = 1
    s = sum(w)
    sizes = [total * x // s for x in w]
    last = max(i for i, x in enumerate(w) if x)
    sizes[last] += total - sum(sizes)
    return sizes


def write_layouts(count: int) -> list[list[int]]:
    """The layouts written with ``count`` iovecs."""
    if count == 1:
        return [[1], [(3 << 19) + 3]]  # 1.5 MiB + 3: more than one FUSE request
    if count == 2:
        return [[0, 70001], [4097, 1], [0, 0]]
    return [cycle(count, MIXED, count), cycle(count, SMALL), [1] * count, [0] * count]


def scatter(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos = [], 0
    for n in sizes:
        out.append(data[pos:pos + n])
        pos += n
    assert pos == len(data)
    return out


def poisoned(sizes: list[int]) -> list[bytearray]:
    return [bytearray([POISON]) * n for n in sizes]


def gather(bufs: list[bytearray], n: int | None = None) -> bytes:
    data = b"".join(bufs)
    return data if n is None else data[:n]


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    with module_mount(tmp_path_factory) as m:
        yield m


@pytest.fixture(scope="module", params=KINDS)
def tm(request, tmp_path_factory):
    """The mount of the regular-file tests: ``vm`` (tmp/ in memory), or one whose tmp/ is a
    host directory."""
    if request.param == "memory":
        yield request.getfixturevalue("vm")
        return
    with regular_mount("backed", tmp_path_factory.mktemp("vec-backed")) as m:
        yield m


def _opener(mnt):
    fds: list[int] = []

    def opener(name: str, flags: int = os.O_RDWR, mode: int = 0o644) -> int:
        fd = os.open(mnt / name, flags, mode)
        fds.append(fd)
        return fd

    return opener, fds


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.fixture
def fd_of(vm):
    opener, fds = _opener(vm)
    yield opener
    _close_all(fds)


@pytest.fixture
def tfd_of(tm):
    """fd_of for the regular-file tests, on both kinds of mount."""
    opener, fds = _opener(tm)
    yield opener
    _close_all(fds)


def read_back_all_ways(fd: int, off: int, want: bytes, salt: int) -> None:
    """preadv/readv of [off, off+len(want)) with 1, 2, 17 and 1024 iovecs: each byte-exact, the
    poison past a short read untouched, the file offset moved only by readv."""
    for k, count in enumerate(COUNTS):
        sizes = split(len(want), count, salt + k)
        bufs = poisoned(sizes)
        pos_before = os.lseek(fd, 12345, os.SEEK_SET)
        n = os.preadv(fd, bufs, off)
        assert n == len(want), f"preadv({count} iovecs) moved {n} of {len(want)}"
        got = gather(bufs)
        assert got == want, f"preadv({count} iovecs): {first_difference(got, want)}"
        assert os.lseek(fd, 0, os.SEEK_CUR) == pos_before, "preadv moved the file offset"

        bufs = poisoned(sizes)
        os.lseek(fd, off, os.SEEK_SET)
        n = os.readv(fd, bufs)
        assert n == len(want), f"readv({count} iovecs) moved {n} of {len(want)}"
        got = gather(bufs)
        assert got == want, f"readv({count} iovecs): {first_difference(got, want)}"
        assert os.lseek(fd, 0, os.SEEK_CUR) == off + len(want), "readv: wrong file offset"


def seekable_roundtrip(fd: int, count: int, base: int, seed: int) -> int:
    """writev then pwritev every layout of ``count`` iovecs from ``base``; read each back every
    way; the bytes just outside each range stay untouched. Returns the end of what was used."""
    off = base
    for j, sizes in enumerate(write_layouts(count)):
        total = sum(sizes)
        for positional in (False, True):
            start = off + (4093 if positional else 0)  # an odd, unaligned offset for pwritev
            data = pattern(seed * 100 + j * 2 + positional, start, total)
            before, after = b"\x3c", b"\xc3"
            os.pwrite(fd, before, start - 1) if start else None
            os.pwrite(fd, after, start + total)
            iov = scatter(data, sizes)
            if positional:
                os.lseek(fd, 777, os.SEEK_SET)
                n = os.pwritev(fd, iov, start)
                assert os.lseek(fd, 0, os.SEEK_CUR) == 777, "pwritev moved the file offset"
            else:
                os.lseek(fd, start, os.SEEK_SET)
                n = os.writev(fd, iov)
                assert os.lseek(fd, 0, os.SEEK_CUR) == start + total, "writev: wrong file offset"
            assert n == total, f"{'pwritev' if positional else 'writev'}({count} iovecs) wrote {n} of {total}"
            read_back_all_ways(fd, start, data, seed + j)
            if start:
                assert os.pread(fd, 1, start - 1) == before, "the byte before the range changed"
            assert os.pread(fd, 1, start + total) == after, "the byte after the range changed"
            off = start + total + 1
        off = (off + 4095) // 4096 * 4096
    return off


# ---- mem0 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("count", COUNTS)
def test_mem0_roundtrip(fd_of, count):
    fd = fd_of("mem0")
    # each count gets its own 12 MiB of the device: nothing left by another test can match
    end = seekable_roundtrip(fd, count, COUNTS.index(count) * 12 * MiB, 1 + count)
    assert end <= (COUNTS.index(count) + 1) * 12 * MiB


@pytest.mark.parametrize("count", COUNTS)
def test_mem0_at_device_end(fd_of, count):
    """A write is cut at the end of the device (the rest is not written anywhere), one at the end
    fails with ENOSPC; a read is short at the end and 0 past it."""
    fd = fd_of("mem0")
    size = os.fstat(fd).st_size
    assert size == 64 * MiB
    sizes = [0] + split(300, count - 1, 3) if count > 1 else [300]  # an empty iovec first
    total = sum(sizes)
    fit = 100
    start = size - fit
    assert total > fit
    data = pattern(70 + count, start, total)
    os.pwrite(fd, b"\x11" * 10, start - 10)
    n = os.pwritev(fd, scatter(data, sizes), start)
    assert n == fit
    assert os.pread(fd, 200, start - 10) == b"\x11" * 10 + data[:fit]

    bufs = poisoned(sizes)
    n = os.preadv(fd, bufs, start)
    assert n == fit
    got = gather(bufs)
    assert got[:fit] == data[:fit]
    assert got[fit:] == bytes([POISON]) * (total - fit), "a short read wrote past its count"

    with pytest.raises(OSError) as exc:
        os.pwritev(fd, scatter(data, sizes), size)
    assert exc.value.errno == errno.ENOSPC
    bufs = poisoned(sizes)
    assert os.preadv(fd, bufs, size) == 0
    assert os.preadv(fd, poisoned(sizes), size + 4096) == 0
    assert gather(bufs) == bytes([POISON]) * total


def test_mem0_iovecs_over_max_is_einval(fd_of):
    """More than IOV_MAX (1024) iovecs never reach the filesystem: EINVAL from the kernel."""
    fd = fd_of("mem0")
    before = os.pread(fd, 4096, 0)
    with pytest.raises(OSError) as exc:
        os.pwritev(fd, [b"\xee"] * 1025, 0)
    assert exc.value.errno == errno.EINVAL
    assert os.pread(fd, 4096, 0) == before


# ---- a regular file ----------------------------------------------------------------------------

@pytest.mark.parametrize("count", COUNTS)
def test_regular_file_roundtrip(tm, tfd_of, count):
    fd_of = tfd_of
    name = f"tmp/vec-{count}"
    fd = fd_of(name, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    try:
        end = seekable_roundtrip(fd, count, 0, 200 + count)
        st = os.fstat(fd)
        assert end - 4096 < st.st_size <= end
        # a new fd sees the same bytes (page cache and daemon agree)
        fd2 = fd_of(name, os.O_RDONLY)
        assert os.pread(fd2, st.st_size, 0) == os.pread(fd, st.st_size, 0)
    finally:
        os.unlink(tm / name)


@pytest.mark.parametrize("count", COUNTS)
def test_regular_file_hole_and_append(tm, tfd_of, count):
    """pwritev past the end leaves a hole of zeros; writev on O_APPEND goes to the end."""
    fd_of = tfd_of
    name = f"tmp/hole-{count}"
    fd = fd_of(name, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    try:
        head = pattern(300 + count, 0, 1000)
        assert os.writev(fd, scatter(head, split(1000, count, 1))) == 1000
        sizes = cycle(count, SMALL, 5) if count > 2 else [7, 0] if count == 2 else [7]
        total = sum(sizes)
        far = 3 * MiB + 5
        tail = pattern(301 + count, far, total)
        assert os.pwritev(fd, scatter(tail, sizes), far) == total
        assert os.fstat(fd).st_size == far + total
        whole = head + bytes(far - 1000) + tail
        read_back_all_ways(fd, 0, whole, count)

        afd = fd_of(name, os.O_WRONLY | os.O_APPEND)
        more = pattern(302 + count, 0, total)
        os.lseek(afd, 0, os.SEEK_SET)
        assert os.writev(afd, scatter(more, sizes)) == total
        assert os.fstat(fd).st_size == far + 2 * total
        assert os.pread(fd, 2 * total + 10, far) == tail + more
        assert os.pread(fd, 1000, 0) == head

        # readv across the end of file: short, the rest of the iovecs untouched
        bufs = poisoned([0, 10, 0, 5000])
        n = os.preadv(fd, bufs, far + 2 * total - 3)
        assert n == 3
        assert gather(bufs) == more[-3:] + bytes([POISON]) * 5007
    finally:
        os.unlink(tm / name)


# ---- zero, null, random ------------------------------------------------------------------------

@pytest.mark.parametrize("count", COUNTS)
def test_zero(fd_of, count):
    fd = fd_of("zero")
    for sizes in write_layouts(count):
        total = sum(sizes)
        bufs = poisoned(sizes)
        assert os.readv(fd, bufs) == total
        assert gather(bufs) == bytes(total)
        bufs = poisoned(sizes)
        assert os.preadv(fd, bufs, 4095) == total
        assert gather(bufs) == bytes(total)
        data = pattern(400, 0, total)
        assert os.writev(fd, scatter(data, sizes)) == total
        assert os.pwritev(fd, scatter(data, sizes), 1 << 40) == total
        bufs = poisoned(sizes)
        assert os.preadv(fd, bufs, 0) == total
        assert gather(bufs) == bytes(total), "zero returned what was written to it"


@pytest.mark.parametrize("count", COUNTS)
def test_null(fd_of, count):
    fd = fd_of("null")
    for sizes in write_layouts(count):
        total = sum(sizes)
        data = pattern(500, 0, total)
        assert os.writev(fd, scatter(data, sizes)) == total
        assert os.pwritev(fd, scatter(data, sizes), 12345) == total
        bufs = poisoned(sizes)
        assert os.readv(fd, bufs) == 0
        assert os.preadv(fd, bufs, 0) == 0
        assert gather(bufs) == bytes([POISON]) * total, "a read of null wrote into the buffers"


@pytest.mark.parametrize("count", COUNTS)
def test_random(fd_of, count):
    fd = fd_of("random")
    for sizes in write_layouts(count):
        total = sum(sizes)
        bufs = poisoned(sizes)
        assert os.readv(fd, bufs) == total
        first = gather(bufs)
        assert len(first) == total
        bufs = poisoned(sizes)
        assert os.preadv(fd, bufs, 999) == total
        second = gather(bufs)
        if total >= 64:
            # 64 random bytes are neither all poison nor equal to another 64: length is what counts,
            # but every iovec of 16+ bytes must have been filled
            assert first != second
            for b in bufs:
                if len(b) >= 16:
                    assert bytes(b) != bytes([POISON]) * len(b)
        assert os.writev(fd, scatter(pattern(600, 0, total), sizes)) == total


# ---- pipe0 -------------------------------------------------------------------------------------

CAPACITY = 64 * 1024


class Stream:
    """Both ends of pipe0 through one O_RDWR fd, tracking the stream position."""

    def __init__(self, fd: int, seed: int) -> None:
        self.fd = fd
        self.seed = seed
        self.wpos = 0
        self.rpos = 0

    @property
    def buffered(self) -> int:
        return self.wpos - self.rpos

    def write(self, sizes: list[int]) -> None:
        total = sum(sizes)
        assert self.buffered + total <= CAPACITY, "test bug: would block forever"
        data = pattern(self.seed, self.wpos, total)
        assert os.writev(self.fd, scatter(data, sizes)) == total
        self.wpos += total

    def read(self, sizes: list[int]) -> None:
        total = sum(sizes)
        assert total <= self.buffered, "test bug: would block forever"
        if total:
            # a FUSE read that waits cannot be interrupted, not even by SIGKILL: if bytes got
            # lost, readv would hang the test run. They must be readable first (then readv
            # returns at once, short if some are missing).
            p = select.poll()
            p.register(self.fd, select.POLLIN)
            assert p.poll(5000), f"{self.buffered} bytes written but pipe0 is not readable"
        bufs = poisoned(sizes)
        n = os.readv(self.fd, bufs)
        assert n == total, f"readv({len(sizes)} iovecs) of {total} buffered bytes gave {n}"
        got = gather(bufs)
        want = pattern(self.seed, self.rpos, total)
        assert got == want, f"stream position {self.rpos}: {first_difference(got, want)}"
        self.rpos += total


@pytest.fixture
def stream(fd_of):
    fd = fd_of("pipe0")
    s = Stream(fd, 700)
    yield s
    # what a failed test leaves goes when fd_of closes the only open of pipe0: a pipe that
    # nobody holds forgets its data


def pipe_layouts(count: int) -> list[list[int]]:
    if count == 1:
        return [[1], [4096], [40000]]
    if count == 2:
        return [[0, 30001], [4096, 1], [0, 0]]
    return [cycle(count, SMALL, count), [1] * count, split(min(count * 40, 60000), count, count)]


@pytest.mark.parametrize("count", COUNTS)
def test_pipe_roundtrip(stream, count):
    for j, sizes in enumerate(pipe_layouts(count)):
        total = sum(sizes)
        stream.write(sizes)
        assert stream.buffered == total
        stream.read(sizes)  # the writer's own layout
        stream.write(sizes)
        other = COUNTS[(COUNTS.index(count) + j + 1) % len(COUNTS)]
        stream.read(split(total, other, j))  # another count, same total
        assert stream.buffered == 0


def test_pipe_fill_exactly_and_wrap(stream):
    """64 KiB in 17 iovecs fills the pipe exactly; then the ring wraps around under mixed layouts."""
    stream.write(split(CAPACITY, 17, 1))
    stream.read(split(CAPACITY, 1024, 2))
    stream.write(split(40000, 17, 3))
    stream.read(split(30001, 2, 0))
    stream.write(split(50000, 1024, 4))  # 59999 buffered, wrapped
    stream.read(split(20000, 1, 0))
    stream.write(split(25537, 2, 5))     # exactly full again
    assert stream.buffered == CAPACITY
    stream.read(split(CAPACITY, 17, 6))


def test_pipe_interleaved_small(stream):
    for k in range(40):
        stream.write(cycle(1 + k % 17, SMALL, k))
        if k % 3 == 2:
            stream.read(split(stream.buffered // 2 + 1, 1 + (k * 13) % 1024, k))
    stream.read(split(stream.buffered, 1024, 1))
    stream.write([0] * 1024)
    stream.read([0] * 17)  # an empty readv does not block, even on an empty pipe
    assert stream.buffered == 0


def test_pipe_has_no_offsets(stream):
    with pytest.raises(OSError) as exc:
        os.preadv(stream.fd, [bytearray(1)], 0)
    assert exc.value.errno == errno.ESPIPE
    with pytest.raises(OSError) as exc:
        os.pwritev(stream.fd, [b"x"], 0)
    assert exc.value.errno == errno.ESPIPE
    stream.write([3, 0, 4])  # still works, nothing went in by those calls
    stream.read([7])
