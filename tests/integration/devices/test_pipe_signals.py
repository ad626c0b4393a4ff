"""Signals to programs blocked in pipe0: a read or write interrupted without SA_RESTART is
EINTR (or a short count after progress), Ctrl-C and kill end a blocked cat or dd promptly, and
the daemon serves on; a read from another thread than the opener's sleeps until data comes.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import subprocess
import sys
import time


from tests.support.data import first_difference, pattern
from tests.support.mounting import mounted
from tests.support.processes import kill_all, proc_number, wait_for, waiting_on_fuse
from tests.support.syscalls import opened
from tests.support.pipes import BLOCKED, CAPACITY, drain_nonblocking

PROMPT = 3.0         # a sleeping driver looks at pending signals every 0.1 s (a busy host
                     # delays the rest: a bound far below "never", far above 0.1 s)


BLOCKED_IO = r'''
import ctypes, json, os, signal, sys

libc = ctypes.CDLL(None, use_errno=True)
signal.signal(signal.SIGUSR1, lambda signum, frame: None)
signal.siginterrupt(signal.SIGUSR1, True)           # no SA_RESTART
mode, path, *sizes = sys.argv[1:]
fd = os.open(path, os.O_RDONLY if mode == "read" else os.O_WRONLY)
for size in sizes:
    n, ch = int(size[:-1]), size[-1].encode()
    print("ready", flush=True)
    ctypes.set_errno(0)
    if mode == "read":
        buf = ctypes.create_string_buffer(n)
        r = libc.read(fd, buf, ctypes.c_size_t(n))
        out = buf.raw[:max(r, 0)].decode("latin-1")
    else:
        r = libc.write(fd, ch * n, ctypes.c_size_t(n))
        out = ""
    print(json.dumps([r, ctypes.get_errno() if r < 0 else 0, out]), flush=True)
'''


class Lines:
    """A subprocess's stdout, a line at a time, with timeouts (unbuffered: select sees it all)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def ready(self, timeout: float) -> bool:
        return b"\n" in self.buf or bool(select.select([self.fd], [], [], timeout)[0])

    def line(self, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            assert select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))[0], \
                f"no output from the subprocess (so far {self.buf!r})"
            chunk = os.read(self.fd, 4096)
            assert chunk, f"the subprocess closed its output (so far {self.buf!r})"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode().strip()


def _blocked_io(mode: str, path, *sizes: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", BLOCKED_IO, mode, str(path), *sizes],
                            stdout=subprocess.PIPE)


def _interrupt(out: Lines, syscall: str, sig: int = signal.SIGUSR1) -> tuple[list, float]:
    """The process is blocked in ``syscall`` on the mount (and stays so for BLOCKED seconds);
    signal it: (result, latency)."""
    assert out.line() == "ready"
    assert wait_for(lambda: waiting_on_fuse(out.proc.pid, syscall), 10), "it never called"
    assert not out.ready(BLOCKED), "the call returned without blocking"
    t0 = time.monotonic()
    out.proc.send_signal(sig)
    result = json.loads(out.line(5))
    return result, time.monotonic() - t0


def _written(pid: int) -> int:
    """Bytes the process's write(2) calls have returned so far (/proc/PID/io's wchar)."""
    try:
        n = proc_number(pid, "io", "wchar")
    except OSError:
        return -1
    return -1 if n is None else n


def _read_exactly(fd: int, n: int, timeout: float = 10.0) -> bytes:
    """n bytes from a pipe reader, polling so that a missing byte fails instead of hanging."""
    got = b""
    p = select.poll()
    p.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert p.poll(max(0.0, deadline - time.monotonic()) * 1000), \
            f"pipe went quiet after {len(got)} of {n} bytes"
        chunk = os.read(fd, n - len(got))
        assert chunk, f"EOF after {len(got)} of {n} bytes"
        got += chunk
    return got


def test_signal_interrupts_blocked_pipe_read(dflt):
    w = os.open(dflt / "pipe0", os.O_WRONLY)         # a writer: the reader waits, no EOF
    proc = _blocked_io("read", dflt / "pipe0", "100r", "100r")
    try:
        out = Lines(proc)
        result, latency = _interrupt(out, "read")
        assert result == [-1, errno.EINTR, ""]
        assert latency < PROMPT
        # the daemon keeps serving, and the same reader gets the next data
        assert out.line() == "ready"
        assert os.write(w, b"after") == 5
        assert json.loads(out.line()) == [5, 0, "after"]
        assert proc.wait(10) == 0
    finally:
        os.close(w)                                    # EOF for a still-blocked read
        kill_all([proc])
        proc.stdout.close()


def test_signal_interrupts_blocked_pipe_write(dflt):
    r = os.open(dflt / "pipe0", os.O_RDONLY | os.O_NONBLOCK)
    wn = os.open(dflt / "pipe0", os.O_WRONLY | os.O_NONBLOCK)
    filler = pattern(7, 0, CAPACITY - 1000)
    proc = None
    try:
        assert os.write(wn, filler) == len(filler)     # 1000 bytes of room left
        proc = _blocked_io("write", dflt / "pipe0", "5000x", "100y", "5z")
        out = Lines(proc)
        # 5000 > PIPE_BUF: 1000 bytes go in, then it sleeps; the signal makes it a short count
        result, latency = _interrupt(out, "write")
        assert result == [1000, 0, ""]
        assert latency < PROMPT
        # the pipe is full: it sleeps with nothing moved, and gets EINTR
        result, latency = _interrupt(out, "write")
        assert result == [-1, errno.EINTR, ""]
        assert latency < PROMPT
        # the third write waits for room; the daemon still serves, and nothing of the 'y' landed
        assert out.line() == "ready"
        got = _read_exactly(r, CAPACITY + 5)
        want = filler + b"x" * 1000 + b"zzzzz"
        assert got == want, first_difference(got, want)
        assert json.loads(out.line()) == [5, 0, ""]
        assert proc.wait(10) == 0
    finally:
        os.close(wn)
        os.close(r)                                    # a still-blocked writer gets EPIPE
        if proc is not None:
            kill_all([proc])
            proc.stdout.close()


def test_default_action_signals_end_blocked_programs_promptly(dflt):
    pipe0 = str(dflt / "pipe0")
    w = os.open(pipe0, os.O_WRONLY)
    cat = subprocess.Popen(["cat", pipe0], stdout=subprocess.PIPE)
    r = dd = None
    try:
        assert wait_for(lambda: _write_errno(w, b"hi\n") == 0, 5)  # once cat has it open
        assert Lines(cat).line() == "hi"               # cat is reading pipe0, and now waits
        assert wait_for(lambda: waiting_on_fuse(cat.pid, "read"), 10), "cat never blocked"
        t0 = time.monotonic()
        cat.send_signal(signal.SIGINT)                 # Ctrl-C
        assert cat.wait(5) == -signal.SIGINT
        assert time.monotonic() - t0 < PROMPT
        # cat's open was released: no reader is left, so a write is EPIPE
        assert wait_for(lambda: _write_errno(w, b"x") == errno.EPIPE, 5)
        os.close(w)
        w = None

        r = os.open(pipe0, os.O_RDONLY | os.O_NONBLOCK)
        dd = subprocess.Popen(["dd", "if=/dev/zero", f"of={pipe0}", "bs=64K", "count=4",
                               "conv=notrunc", "status=none"], stderr=subprocess.PIPE)
        # the first block fills the pipe (/proc counts it once write(2) returned), the second sleeps
        assert wait_for(lambda: waiting_on_fuse(dd.pid, "write") and _written(dd.pid) == CAPACITY,
                        10), "dd never blocked in its second write"
        assert not wait_for(lambda: dd.poll() is not None, BLOCKED)
        t0 = time.monotonic()
        dd.send_signal(signal.SIGTERM)                 # kill
        assert dd.wait(5) == -signal.SIGTERM
        assert time.monotonic() - t0 < PROMPT
        assert drain_nonblocking(r) == bytes(CAPACITY)  # the blocked block moved nothing
        # dd's open was released too: no writer is left, the reader sees EOF
        assert wait_for(lambda: _eof(r), 5)

        # the daemon keeps serving: a fresh pair moves data
        with opened(pipe0, os.O_WRONLY) as w2:
            assert os.write(w2, b"still here") == 10
            assert _read_exactly(r, 10) == b"still here"
    finally:
        if w is not None:
            os.close(w)                                # EOF for a still-blocked cat
        if r is not None:
            os.close(r)                                # EPIPE for a still-blocked dd
        kill_all([p for p in (cat, dd) if p is not None])
        cat.stdout.close()
        if dd is not None:
            dd.stderr.close()


def _write_errno(fd: int, data: bytes) -> int:
    try:
        os.write(fd, data)
    except OSError as exc:
        return exc.errno
    return 0


def _eof(fd: int) -> bool:
    try:
        return os.read(fd, 1) == b""
    except BlockingIOError:
        return False


THREADED_READER = r'''
import ctypes, os, sys, threading
libc = ctypes.CDLL("libc.so.6", use_errno=True)
fds = []
t = threading.Thread(target=lambda: fds.append(os.open(sys.argv[1], os.O_RDONLY)))
t.start(); t.join()              # the thread that opened pipe0 is gone
print("reading", flush=True)
buf = ctypes.create_string_buffer(100)
r = libc.read(fds[0], buf, 100)  # once: no retry on EINTR, as Python's os.read would
print(r, ctypes.get_errno() if r < 0 else 0, buf.raw[:max(r, 0)], flush=True)
'''


def _any_thread_waiting(pid: int) -> bool:
    """Whether a thread of process ``pid`` waits in a read(2) on the mount."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return False
    return any(waiting_on_fuse(tid, "read") for tid in tids)


def test_a_read_from_another_thread_than_the_opener_sleeps_until_data(tmp_path):
    """The thread that opened pipe0 has exited; a read from another thread of the process must
    not take that for a signal: it sleeps until data comes, and the process's signals still
    end it (SIGTERM, to a second such reader)."""
    with mounted(tmp_path) as m:
        writer = os.open(m / "pipe0", os.O_WRONLY)
        procs = []
        try:
            for _ in range(2):
                p = subprocess.Popen([sys.executable, "-c", THREADED_READER, str(m / "pipe0")],
                                     stdout=subprocess.PIPE, text=True)
                procs.append(p)
                assert p.stdout.readline().strip() == "reading"
                assert wait_for(lambda: _any_thread_waiting(p.pid), 10), "the read never came"
            assert not wait_for(lambda: any(p.poll() is not None for p in procs), 0.6), \
                "a read returned without data"
            os.write(writer, b"for one reader")
            assert wait_for(lambda: sum(p.poll() is not None for p in procs) == 1, 5)
            done = next(p for p in procs if p.poll() is not None)
            assert done.returncode == 0 and done.stdout.read().strip() == "14 0 b'for one reader'"
            waiting = next(p for p in procs if p.poll() is None)
            assert _any_thread_waiting(waiting.pid)  # still in its read
            waiting.send_signal(signal.SIGTERM)
            assert waiting.wait(3) == -signal.SIGTERM
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
            os.close(writer)
