"""The pipe device (/pipe0, a 64 KiB FIFO) through a real mount: blocking, O_NONBLOCK, poll, EOF, EPIPE.

Every blocking call runs in a background thread or a subprocess with a timeout, and every test
closes its writers before its readers at the end, so a reader stuck in a FUSE read is always
woken (EOF) before the mount goes away.
"""

from __future__ import annotations

import errno
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.mounting import mounted
from tests.support.processes import Bg, wait_for, waiting_on_fuse
from tests.support.trace import served, wait_served
from tests.support.pipes import BLOCKED, CAPACITY, PIPE_BUF



@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("pipe")) as m:
        yield m


class Ends:
    """Opens of the pipe that are all closed at the end: writers first, then readers."""

    def __init__(self, mount: Path, path: str) -> None:
        self.mount = mount
        self.path = path
        self.writers: list[int] = []
        self.readers: list[int] = []

    def reader(self, nonblock: bool = False) -> int:
        fd = os.open(self.path, os.O_RDONLY | (os.O_NONBLOCK if nonblock else 0))
        self.readers.append(fd)
        return fd

    def writer(self, nonblock: bool = False) -> int:
        fd = os.open(self.path, os.O_WRONLY | (os.O_NONBLOCK if nonblock else 0))
        self.writers.append(fd)
        return fd

    def close(self, fd: int, released: bool = False) -> None:
        """Close ``fd``; ``released``: and wait until the daemon has its RELEASE (close(2)
        returns before the kernel sends it)."""
        before = self.releases() if released else 0
        for lst in (self.writers, self.readers):
            if fd in lst:
                lst.remove(fd)
                os.close(fd)
                break
        if released:
            assert wait_served(self.mount, "close", "pipe0", before + 1), "no RELEASE came"

    def releases(self) -> int:
        return served(self.mount, "close", "pipe0")

    def close_all(self) -> None:
        before, n = self.releases(), len(self.writers) + len(self.readers)
        for lst in (self.writers, self.readers):
            while lst:
                os.close(lst.pop())
        # the releases reach the daemon (and wake sleepers) after close(2) returned
        assert wait_served(self.mount, "close", "pipe0", before + n), "the RELEASEs never came"


@pytest.fixture
def pipe(shared):
    ends = Ends(shared.path, str(shared / "pipe0"))
    try:
        yield ends
    finally:
        ends.close_all()


def _fill(w: int, n: int = CAPACITY) -> bytes:
    """Write exactly n bytes of a pattern through the non-blocking writer w."""
    data = bytes((i * 7 + 3) % 251 for i in range(n))
    assert os.write(w, data) == n
    return data


def _drain(r: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = os.read(r, n - len(out))
        assert chunk, f"EOF after {len(out)} of {n} bytes"
        out += chunk
    return out


# ---- blocking reads ----------------------------------------------------------------------------

def test_blocked_reader_process_woken_by_writer(pipe):
    w = pipe.writer()  # a writer is open, so the reader blocks instead of seeing EOF
    code = ("import os,sys\n"
            f"fd = os.open({pipe.path!r}, os.O_RDONLY)\n"
            "sys.stdout.write(os.read(fd, 1000).hex())\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        # python start-up, the open, then the read must block
        assert wait_for(lambda: waiting_on_fuse(proc.pid, "read"), 30), "the reader never read"
        time.sleep(BLOCKED)
        assert proc.poll() is None, "the reader did not block on an empty pipe"
        assert os.write(w, b"wake up, reader") == 15
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert bytes.fromhex(out) == b"wake up, reader"
    finally:
        pipe.close_all()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_blocked_reader_thread_gets_exact_bytes(pipe):
    w = pipe.writer()
    r = pipe.reader()
    bg = Bg(os.read, r, 4096)
    assert not bg.join(BLOCKED), "read on an empty pipe with a writer returned early"
    payload = bytes(range(256)) * 3
    assert os.write(w, payload) == len(payload)
    assert bg.join(10), "reader was not woken by the write"
    assert bg.error is None
    assert bg.result == payload


def test_nonblock_read_empty_with_writer_is_eagain(pipe):
    pipe.writer()
    r = pipe.reader(nonblock=True)
    t0 = time.monotonic()
    with pytest.raises(BlockingIOError) as ei:
        os.read(r, 100)
    assert ei.value.errno == errno.EAGAIN
    assert time.monotonic() - t0 < 1.0


def test_nonblock_read_returns_what_is_buffered(pipe):
    w = pipe.writer()
    r = pipe.reader(nonblock=True)
    os.write(w, b"abc")
    assert os.read(r, 100) == b"abc"
    with pytest.raises(BlockingIOError):
        os.read(r, 100)


def test_read_with_no_writer_is_eof(pipe):
    r = pipe.reader()
    bg = Bg(os.read, r, 100)
    assert bg.join(5), "read with no writer open blocked"
    assert bg.error is None
    assert bg.result == b""


def test_buffered_data_read_after_writer_closes_then_eof(pipe):
    r = pipe.reader()
    w = pipe.writer()
    os.write(w, b"left behind")
    pipe.close(w, released=True)
    assert os.read(r, 100) == b"left behind"
    assert os.read(r, 100) == b""


def test_short_reads_in_fifo_order(pipe):
    r = pipe.reader()
    w = pipe.writer()
    os.write(w, b"0123456789")
    os.write(w, b"abcdef")
    assert os.read(r, 4) == b"0123"
    assert os.read(r, 8) == b"456789ab"
    assert os.read(r, 100) == b"cdef"


def test_last_writer_closing_gives_eof_to_blocked_reader(pipe):
    r = pipe.reader()
    w1 = pipe.writer()
    w2 = pipe.writer()
    bg = Bg(os.read, r, 100)
    assert not bg.join(BLOCKED)
    pipe.close(w1)
    assert not bg.join(BLOCKED), "reader woke although a writer is still open"
    pipe.close(w2)
    assert bg.join(10), "closing the last writer did not wake the reader"
    assert bg.error is None
    assert bg.result == b""


def test_pipe_forgets_data_when_nobody_holds_it(pipe):
    r = pipe.reader()
    w = pipe.writer()
    os.write(w, b"stale")
    pipe.close(w, released=True)
    pipe.close(r, released=True)
    r = pipe.reader()
    bg = Bg(os.read, r, 100)
    assert bg.join(5)
    assert bg.result == b""


# ---- poll / select -----------------------------------------------------------------------------

def _poll(fd: int, events: int, timeout_ms: int = 0) -> int:
    p = select.poll()
    p.register(fd, events)
    got = p.poll(timeout_ms)
    return got[0][1] if got else 0


def test_poll_readiness(pipe):
    w = pipe.writer(nonblock=True)
    r = pipe.reader(nonblock=True)
    assert _poll(r, select.POLLIN) == 0, "empty pipe with a writer polled readable"
    assert _poll(w, select.POLLOUT) & select.POLLOUT
    assert select.select([r], [w], [], 0) == ([], [w], [])
    os.write(w, b"x" * 10)
    assert _poll(r, select.POLLIN) & select.POLLIN
    assert select.select([r], [], [], 0)[0] == [r]
    assert os.read(r, 100) == b"x" * 10
    assert _poll(r, select.POLLIN) == 0
    # full: not writable, and writable again once a reader makes room
    _fill(w)
    assert _poll(w, select.POLLOUT) & select.POLLOUT == 0
    assert select.select([], [w], [], 0)[1] == []
    assert len(os.read(r, 1000)) == 1000
    assert _poll(w, select.POLLOUT) & select.POLLOUT


def test_poll_no_writer_is_readable_with_hup(pipe):
    r = pipe.reader(nonblock=True)
    ev = _poll(r, select.POLLIN)
    assert ev & select.POLLIN
    assert ev & select.POLLHUP
    assert os.read(r, 10) == b""


def test_poller_woken_by_write_from_another_process(pipe):
    pipe.writer()
    r = pipe.reader()

    def wait() -> tuple[float, int]:
        t0 = time.monotonic()
        ev = _poll(r, select.POLLIN, 30000)
        return time.monotonic() - t0, ev

    bg = Bg(wait)
    assert not bg.join(BLOCKED), "poll on an empty pipe returned at once"
    code = ("import os\n"
            f"fd = os.open({pipe.path!r}, os.O_WRONLY)\n"
            "assert os.write(fd, b'ping') == 4\n"
            "os.close(fd)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert bg.join(10)
    assert bg.error is None
    elapsed, ev = bg.result
    assert ev & select.POLLIN
    assert elapsed < 20.0, f"poller woke only after {elapsed:.2f} s (timeout 30 s)"
    assert os.read(r, 100) == b"ping"


def test_select_woken_by_write(pipe):
    w = pipe.writer()
    r = pipe.reader()

    def wait():
        t0 = time.monotonic()
        ready = select.select([r], [], [], 30)[0]
        return time.monotonic() - t0, ready

    bg = Bg(wait)
    assert not bg.join(BLOCKED)
    os.write(w, b"sel")
    assert bg.join(10)
    elapsed, ready = bg.result
    assert ready == [r]
    assert elapsed < 20.0
    assert os.read(r, 10) == b"sel"


# ---- writes ------------------------------------------------------------------------------------

def test_write_with_no_reader_is_epipe(pipe):
    w = pipe.writer()
    with pytest.raises(BrokenPipeError) as ei:
        os.write(w, b"nobody listens")
    assert ei.value.errno == errno.EPIPE


def test_write_after_reader_leaves_is_epipe(pipe):
    r = pipe.reader()
    w = pipe.writer()
    assert os.write(w, b"ok") == 2
    pipe.close(r, released=True)
    with pytest.raises(BrokenPipeError):
        os.write(w, b"gone")


def test_writer_blocks_when_full_and_resumes_after_drain(pipe):
    r = pipe.reader()
    wn = pipe.writer(nonblock=True)
    w = pipe.writer()
    filled = _fill(wn)
    bg = Bg(os.write, w, b"B" * 1000)
    assert not bg.join(BLOCKED), "write to a full pipe did not block"
    assert _drain(r, CAPACITY) == filled
    assert bg.join(10), "writer not resumed after the reader drained the pipe"
    assert bg.error is None
    assert bg.result == 1000
    assert os.read(r, 5000) == b"B" * 1000


def test_blocked_writer_gets_epipe_when_reader_leaves(pipe):
    r = pipe.reader()
    wn = pipe.writer(nonblock=True)
    w = pipe.writer()
    _fill(wn)
    bg = Bg(os.write, w, b"C" * 10)
    assert not bg.join(BLOCKED)
    pipe.close(r)
    assert bg.join(10), "a writer blocked on a full pipe was not woken by the last reader closing"
    assert isinstance(bg.error, BrokenPipeError), (bg.result, bg.error)


def test_large_write_streams_through_the_ring(pipe):
    r = pipe.reader()
    w = pipe.writer()
    data = os.urandom(300_000)  # several times the ring: wraps around, writer blocks repeatedly
    bg = Bg(os.write, w, data)
    got = bytearray()
    deadline = time.monotonic() + 20
    while len(got) < len(data) and time.monotonic() < deadline:
        chunk = os.read(r, 7001)
        assert chunk
        got += chunk
    assert bg.join(10)
    assert bg.error is None
    assert bg.result == len(data)
    assert bytes(got) == data


def test_nonblock_write_to_full_pipe_is_eagain(pipe):
    pipe.reader()
    w = pipe.writer(nonblock=True)
    _fill(w)
    with pytest.raises(BlockingIOError) as ei:
        os.write(w, b"x")
    assert ei.value.errno == errno.EAGAIN
    with pytest.raises(BlockingIOError):
        os.write(w, b"y" * 100_000)


def test_nonblock_write_partial_room(pipe):
    r = pipe.reader()
    w = pipe.writer(nonblock=True)
    _fill(w, CAPACITY - 100)
    # at most PIPE_BUF bytes: atomic, so all or nothing (EAGAIN)
    with pytest.raises(BlockingIOError):
        os.write(w, b"a" * 200)
    # more than PIPE_BUF: what fits goes in, a short count
    assert os.write(w, b"b" * (PIPE_BUF + 1000)) == 100
    assert len(_drain(r, CAPACITY - 100)) == CAPACITY - 100
    assert os.read(r, 1000) == b"b" * 100


def test_pipe_is_not_seekable(pipe):
    r = pipe.reader()
    with pytest.raises(OSError) as ei:
        os.lseek(r, 0, os.SEEK_SET)
    assert ei.value.errno == errno.ESPIPE
    with pytest.raises(OSError) as ei:
        os.pread(r, 10, 0)
    assert ei.value.errno == errno.ESPIPE


def test_small_pipe_takes_writes_larger_than_itself(tmp_path):
    """A pipe smaller than PIPE_BUF: a write bigger than the pipe cannot be atomic, so it
    streams through in pieces (it must not wait for room that can never exist)."""
    cfg = '[[device]]\npath = "tiny"\ndriver = "pipe"\nsize = 100\n'
    with mounted(tmp_path, cfg) as m:
        r = os.open(m / "tiny", os.O_RDONLY)
        w = os.open(m / "tiny", os.O_WRONLY)
        try:
            data = bytes(range(256)) * 2  # 512 bytes, below PIPE_BUF, above the pipe's size
            writer = Bg(lambda: os.write(w, data))
            got = b""
            deadline = time.monotonic() + 10
            while len(got) < len(data) and time.monotonic() < deadline:
                got += os.read(r, 1000)
            writer.join(10)
            assert writer.result == len(data)
            assert got == data
        finally:
            os.close(w)
            os.close(r)
