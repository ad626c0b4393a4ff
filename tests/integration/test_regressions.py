"""Regression tests for behaviour the README promises and no other test pinned down.

Each section answers one item of the mutation exercise over ``fs.py`` and the drivers: the
``faulty`` driver step by step; signals to programs blocked in ``pipe0``; stream devices seeing
offset 0; a d_read leaving ``uio_resid`` out of range; PIPE_BUF-exact atomic pipe writes; a write
that partly fits ``max_memory``; ``max_file_size`` exactly; setgid-directory group inheritance;
``st_blocks``; and a mount with ``writeback_cache = true``. Everything goes through a real mount,
with real programs (cat, dd, truncate, tar, setpriv, fincore, python subprocesses) where natural.

Every mount is unmounted at teardown (conftest's ``mounted``), and every subprocess is killed and
reaped in a ``finally``. A program blocked in a FUSE request can only die once the daemon answers
it, so each ``finally`` first unblocks the program (data, or closing the other end of the pipe).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from _helpers_b import (
    Bg, env_with_pythonpath, in_syscall, is_mounted, mounted, one_line_error, pid_gone,
    proc_number, raw_read, raw_write, run_iofs, wait_for, waiting_on_fuse,
)
from _progs import first_difference, kill_all, pattern

KiB = 1 << 10
MiB = 1 << 20
CAPACITY = 64 * KiB  # pipe0
PIPE_BUF = 4096
BLOCKED = 0.3        # how long a call must stay pending to count as blocked
PROMPT = 1.5         # a sleeping driver looks at pending signals every 0.1 s

MODNAME = "iofs_regress_drv"

DRIVER_MODULE = '''
"""Test drivers for test_regressions: offset recorders and drivers that botch uio_resid."""

import trio

from iofs.driver import Driver
from iofs.uio import uiomove

REC = 64


class Recorder(Driver):
    """A stream device. A read gets one 64-byte record: the uio_offset this read saw and the
    uio_offset of every write so far (``R<off> W<off>,<off>...``); a write is consumed whole."""

    stream = True

    def __init__(self):
        self.writes = []

    def _record(self, uio):
        text = b"R%d W%s" % (uio.uio_offset, b",".join(b"%d" % w for w in self.writes))
        return text.ljust(REC - 1) + b"\\n"

    def d_read(self, dev, uio, ioflag):
        return uiomove(self._record(uio), min(REC, uio.uio_resid), uio)

    def d_write(self, dev, uio, ioflag):
        self.writes.append(uio.uio_offset)
        n = uio.uio_resid
        return uiomove(bytearray(n), n, uio)


class AsyncRecorder(Recorder):
    """The same through entry points that may sleep (the filesystem's other request path)."""

    async def d_read(self, dev, uio, ioflag):
        await trio.sleep(0)
        return Recorder.d_read(self, dev, uio, ioflag)

    async def d_write(self, dev, uio, ioflag):
        await trio.sleep(0)
        return Recorder.d_write(self, dev, uio, ioflag)


class SeekableRecorder(Recorder):
    """The control: not a stream, so the driver sees the program's offsets."""

    stream = False


def _bad_resid(uio, how):
    if how == "negative":
        uio.uio_resid = -5                    # claims more than was asked for
    elif how == "larger":
        uio.uio_resid = uio.uio_resid + 5     # more left than was asked for
    else:
        uio.uio_resid = uio.uio_resid / 2     # not an int at all (a plausible slip)


class BadResid(Driver):
    """Moves a few bytes, then leaves uio_resid out of range and returns 0."""

    def __init__(self, how="negative"):
        self.how = how

    def d_read(self, dev, uio, ioflag):
        uiomove(b"bad", min(3, uio.uio_resid), uio)
        _bad_resid(uio, self.how)
        return 0

    def d_write(self, dev, uio, ioflag):
        uiomove(bytearray(3), min(3, uio.uio_resid), uio)
        _bad_resid(uio, self.how)
        return 0


class AsyncBadResid(BadResid):
    async def d_read(self, dev, uio, ioflag):
        await trio.sleep(0)
        return BadResid.d_read(self, dev, uio, ioflag)

    async def d_write(self, dev, uio, ioflag):
        await trio.sleep(0)
        return BadResid.d_write(self, dev, uio, ioflag)
'''


def _dev(path: str, driver: str, **opts) -> str:
    lines = [f'[[device]]\npath = "{path}"\ndriver = "{driver}"']
    for key, value in opts.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


DRV_CONFIG = "".join([
    _dev("zero", "zero"),
    _dev("status", "status", mode="0444"),
    _dev("hello", "text", content="hello\n"),
    # faulty: one node per test, since a script is per device and every request takes a step
    _dev("f_short", "faulty", size="64K", read=["short:10"], write=["short:7"]),
    _dev("f_eintr", "faulty", size="64K", read=["eintr:10", "eintr"], write=["eintr:10", "eintr"]),
    _dev("f_eio", "faulty", size="64K", read=["eio", "eio:10", "ok"], write=["eio", "eio:10"]),
    _dev("f_efault", "faulty", size="64K", read=["efault:4096", "ok"], write=["efault", "efault:5"]),
    _dev("f_enospc", "faulty", size="64K", write=["enospc", "enospc:5", "ok"]),
    _dev("f_eagain", "faulty", size="64K", read=["eagain"], write=["eagain"]),
    _dev("f_sleep", "faulty", size="64K", read=["sleep:1000", "ok"], write=["sleep:300"]),
    _dev("f_cycle", "faulty", size="64K", read=["short:1", "short:2", "ok"],
         write=["enospc", "ok"]),
    _dev("f_once", "faulty", size="64K", read=["short:1", "short:2", "ok"], write=["enospc", "ok"],
         repeat=False),
    _dev("f_data", "faulty", size="256K", read=["short:5", "eintr:3", "ok", "eintr", "short:1000"],
         write=["short:7", "eintr:13", "ok", "eintr"]),
    _dev("f_odd", "faulty", size=1000),
    # user drivers
    _dev("rec", f"{MODNAME}:Recorder"),
    _dev("arec", f"{MODNAME}:AsyncRecorder"),
    _dev("srec", f"{MODNAME}:SeekableRecorder"),
    _dev("r_negative", f"{MODNAME}:BadResid", how="negative"),
    _dev("r_larger", f"{MODNAME}:BadResid", how="larger"),
    _dev("a_negative", f"{MODNAME}:AsyncBadResid", how="negative"),
    _dev("a_larger", f"{MODNAME}:AsyncBadResid", how="larger"),
])


def _write_driver_module(base: Path) -> Path:
    drv = base / "drv"
    drv.mkdir(exist_ok=True)
    (drv / f"{MODNAME}.py").write_text(DRIVER_MODULE)
    return drv


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    """faulty nodes and the user drivers, in one mount."""
    base = tmp_path_factory.mktemp("regress-drv")
    with mounted(base, DRV_CONFIG, env=env_with_pythonpath(_write_driver_module(base))) as m:
        yield m


@pytest.fixture(scope="module")
def dflt(tmp_path_factory):
    """The default tree (pipe0, mem0, tmp/ ...)."""
    with mounted(tmp_path_factory.mktemp("regress-dflt")) as m:
        yield m


@contextlib.contextmanager
def opened(path, flags=os.O_RDWR, mode=0o644) -> Iterator[int]:
    fd = os.open(path, flags, mode)
    try:
        yield fd
    finally:
        os.close(fd)


def _errno(fn, *args) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args)
    return ei.value.errno


def _status(m) -> dict[str, dict[str, int]]:
    with open(m / "status") as f:
        lines = f.read().splitlines()
    head = lines[0].split()
    rows = {}
    for line in lines[1:]:
        cells = line.split()
        rows[cells[0]] = {k: int(v) for k, v in zip(head[2:], cells[2:])}
    return rows


def _serves(m) -> None:
    """The daemon still answers: a read of /zero."""
    with opened(m / "zero", os.O_RDONLY) as fd:
        assert os.read(fd, 4096) == bytes(4096)


def _run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, timeout=30, **kw)


# ==== 1. faulty: every step kind, byte-exact ====================================================


def test_faulty_short_moves_exactly_n(dm):
    data = pattern(1, 0, 100)
    with opened(dm / "f_short") as fd:
        assert os.write(fd, data) == 7                    # short:7
        assert os.pwrite(fd, data[7:], 7) == 7
        assert os.pread(fd, 100, 0) == data[:10]          # short:10
        assert os.pread(fd, 100, 10) == data[10:14] + bytes(6)
        assert os.pread(fd, 4, 0) == data[:4]             # fewer asked than N: all of it
    # a real program: dd gets three partial records of exactly 10 bytes
    res = _run("dd", f"if={dm / 'f_short'}", "bs=100", "count=3")
    assert res.returncode == 0, res.stderr
    assert res.stdout == data[:14] + bytes(16)
    assert b"0+3 records in" in res.stderr


def test_faulty_eintr_short_after_progress_eintr_without(dm):
    w = pattern(2, 0, 100)
    with opened(dm / "f_eintr") as fd:
        assert raw_write(fd, w) == (10, 0)                # eintr:10 after progress: short count
        assert raw_write(fd, b"X" * 100) == (-1, errno.EINTR)  # eintr: nothing moved
        assert os.lseek(fd, 0, os.SEEK_CUR) == 10
        os.lseek(fd, 0, os.SEEK_SET)
        assert raw_read(fd, 100) == (10, w[:10], 0)       # eintr:10
        assert raw_read(fd, 100) == (-1, b"", errno.EINTR)
        assert raw_read(fd, 100) == (10, bytes(10), 0)    # again from the top: the X never landed
        assert os.lseek(fd, 0, os.SEEK_CUR) == 20


def test_faulty_eio_reaches_the_program_even_after_progress(dm):
    with opened(dm / "f_eio") as fd:
        assert raw_write(fd, b"W" * 100) == (-1, errno.EIO)   # eio: nothing moved
        assert raw_write(fd, b"X" * 100) == (-1, errno.EIO)   # eio:10: 10 bytes moved, still EIO
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
        assert raw_read(fd, 100) == (-1, b"", errno.EIO)      # eio
        assert raw_read(fd, 100) == (-1, b"", errno.EIO)      # eio:10
        # ok: the driver moved exactly 10 bytes of the eio:10 write and none of the eio one
        assert os.pread(fd, 100, 0) == b"X" * 10 + bytes(90)
    res = _run("cat", str(dm / "f_eio"))                      # the script is back at eio
    assert res.returncode == 1
    assert b"Input/output error" in res.stderr and res.stdout == b""


def test_faulty_efault(dm):
    with opened(dm / "f_efault") as fd:
        assert raw_read(fd, 8192) == (-1, b"", errno.EFAULT)  # efault:4096: EFAULT after progress
        assert raw_write(fd, b"a" * 100) == (-1, errno.EFAULT)
        assert raw_write(fd, b"b" * 100) == (-1, errno.EFAULT)  # efault:5
        assert os.pread(fd, 10, 0) == b"b" * 5 + bytes(5)


def test_faulty_enospc(dm):
    with opened(dm / "f_enospc") as fd:
        assert _errno(os.write, fd, b"a" * 100) == errno.ENOSPC
        assert _errno(os.write, fd, b"b" * 100) == errno.ENOSPC  # enospc:5: moved 5, still ENOSPC
        assert os.write(fd, b"c" * 3) == 3                        # ok (at offset 0)
        assert os.pread(fd, 10, 0) == b"ccc" + b"bb" + bytes(5)
    res = _run("bash", "-c", f"echo data > {dm / 'f_enospc'}")    # the script is back at enospc
    assert res.returncode != 0
    assert b"No space left on device" in res.stderr


def test_faulty_eagain_only_for_nonblocking_opens(dm):
    data = pattern(3, 0, 300)
    with opened(dm / "f_eagain", os.O_RDWR) as fd, \
            opened(dm / "f_eagain", os.O_RDWR | os.O_NONBLOCK) as nb:
        assert os.write(fd, data) == 300                  # a blocking open: served in full
        assert _errno(os.write, nb, b"Z" * 300) == errno.EAGAIN
        assert _errno(os.read, nb, 300) == errno.EAGAIN
        assert raw_read(nb, 300) == (-1, b"", errno.EAGAIN)
        assert os.pread(fd, 300, 0) == data               # and the EAGAIN write moved nothing


def test_faulty_sleep_takes_ms_and_stalls_nothing_else(dm):
    data = pattern(4, 0, 1000)
    with opened(dm / "f_sleep") as fd, opened(dm / "f_sleep") as fd2, \
            opened(dm / "zero", os.O_RDONLY) as z:
        t0 = time.monotonic()
        assert os.pwrite(fd, data, 0) == 1000             # sleep:300, then in full
        assert time.monotonic() - t0 >= 0.3

        def slow():
            start = time.monotonic()
            return os.pread(fd, 1000, 0), time.monotonic() - start

        bg = Bg(slow)                                     # takes sleep:1000
        assert wait_for(lambda: waiting_on_fuse(bg.tid, "pread64"), 10)  # queued first
        t1 = time.monotonic()
        assert os.pread(fd2, 1000, 0) == data             # the next step, ok: not stalled
        assert os.read(z, 4096) == bytes(4096)            # nor is another device
        assert time.monotonic() - t1 < 0.8                # (stalled, it would take 1 s)
        assert not bg.done
        assert bg.join(10)
        assert bg.error is None
        got, took = bg.result
        assert got == data
        assert took >= 1.0


@pytest.mark.parametrize("node, lengths, write_errors", [
    ("f_cycle", [1, 2, 10, 1, 2, 10, 1], [errno.ENOSPC, 0, errno.ENOSPC, 0]),
    ("f_once", [1, 2, 10, 10, 10, 10, 10], [errno.ENOSPC, 0, 0, 0]),
])
def test_faulty_script_cycles_unless_repeat_false(dm, node, lengths, write_errors):
    data = pattern(5, 0, 10)
    with opened(dm / node) as fd:
        got_errors = []
        for _ in write_errors:
            try:
                assert os.pwrite(fd, data, 0) == 10
                got_errors.append(0)
            except OSError as exc:
                got_errors.append(exc.errno)
        assert got_errors == write_errors
        got = [os.pread(fd, 10, 0) for _ in lengths]
        assert got == [data[:n] for n in lengths]


def test_faulty_data_around_faults_reads_back_byte_exact(dm, tmp_path):
    """dd writes and cat reads through short counts and EINTR (both retry): byte-exact."""
    src = tmp_path / "src"
    data = pattern(6, 0, 200_000)
    src.write_bytes(data)
    res = _run("dd", f"if={src}", f"of={dm / 'f_data'}", "bs=4096", "conv=notrunc")
    assert res.returncode == 0, res.stderr
    assert b"200000 bytes" in res.stderr
    out = _run("cat", str(dm / "f_data"))
    assert out.returncode == 0, out.stderr
    want = data + bytes(256 * KiB - len(data))
    assert out.stdout == want, first_difference(out.stdout, want)
    # and with Python's own loops (os.read retries EINTR itself)
    with opened(dm / "f_data", os.O_RDONLY) as fd:
        got = b""
        while chunk := os.read(fd, 65536):
            got += chunk
    assert got == want, first_difference(got, want)


@pytest.mark.parametrize("step, phrase", [
    ('["bogus"]', "unknown action 'bogus'"),
    ('["short:x"]', "is not a number"),
    ('["short:-1"]', "cannot be negative"),
    ('["sleep"]', "unknown action 'sleep'"),
    ('"ok"', "a script is a list"),
    ("[1]", "an action is a string"),
])
def test_faulty_bad_step_is_one_line_exit_2(tmp_path, step, phrase):
    mp = tmp_path / "mnt"
    mp.mkdir()
    cfg = tmp_path / "tree.toml"
    cfg.write_text(f'[[device]]\npath = "flaky"\ndriver = "faulty"\nread = {step}\n')
    res = run_iofs("mount", str(mp), "--config", str(cfg), "--log", str(tmp_path / "log"))
    try:
        assert res.returncode == 2
        line = one_line_error(res)
        assert str(cfg) in line and "device 'flaky'" in line and phrase in line, line
        assert not is_mounted(mp)
        assert os.listdir(mp) == []
    finally:
        if is_mounted(mp):
            run_iofs("umount", str(mp))


# ==== 2. signals to programs blocked in pipe0 ===================================================

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


def _drain_nonblocking(fd: int) -> bytes:
    got = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return got
        if not chunk:
            return got
        got += chunk


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
        time.sleep(BLOCKED)
        assert cat.poll() is None
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
        assert _drain_nonblocking(r) == bytes(CAPACITY)  # the blocked block moved nothing
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


# ==== 3. a stream device sees uio_offset 0 ======================================================


def _rec(line: bytes) -> tuple[int, list[int]]:
    assert len(line) == 64 and line.endswith(b"\n"), line
    r, w = line.split()
    assert r.startswith(b"R") and w.startswith(b"W")
    return int(r[1:]), [int(x) for x in w[1:].split(b",") if x]


@pytest.mark.parametrize("node", ["rec", "arec"])
def test_stream_device_sees_offset_zero(dm, node):
    path = dm / node
    with opened(path) as fd:
        assert _rec(os.read(fd, 64)) == (0, [])
        assert _rec(os.read(fd, 64)) == (0, [])        # after reading: still 0
        assert os.write(fd, b"a" * 100) == 100
        assert os.write(fd, b"b" * 5) == 5
        assert _rec(os.read(fd, 64)) == (0, [0, 0])
        # pread/pwrite at other offsets never reach the driver: the file is not seekable
        assert _errno(os.pread, fd, 64, 4096) == errno.ESPIPE
        assert _errno(os.pwrite, fd, b"c", 4096) == errno.ESPIPE
        assert _errno(os.lseek, fd, 100, os.SEEK_SET) == errno.ESPIPE
        assert _rec(os.read(fd, 64)) == (0, [0, 0])
    # real programs: dd skipping input blocks (it reads them) and writing several blocks
    res = _run("dd", f"if={path}", "bs=64", "skip=2", "count=3", "status=none")
    assert res.returncode == 0, res.stderr
    assert [_rec(res.stdout[k:k + 64]) for k in range(0, 192, 64)] == [(0, [0, 0])] * 3
    res = _run("dd", "if=/dev/zero", f"of={path}", "bs=1000", "count=3", "conv=notrunc",
               "status=none")
    assert res.returncode == 0, res.stderr
    with opened(path, os.O_RDONLY) as fd:
        assert _rec(os.read(fd, 64)) == (0, [0] * 5)


def test_seekable_control_device_sees_real_offsets(dm):
    """The same driver without ``stream``: the offsets do reach it (the test above can tell)."""
    with opened(dm / "srec") as fd:
        assert _rec(os.read(fd, 64)) == (0, [])
        assert _rec(os.read(fd, 64)) == (64, [])
        assert os.write(fd, b"a" * 10) == 10
        assert os.pwrite(fd, b"b", 4096) == 1
        assert _rec(os.pread(fd, 64, 1000)) == (1000, [128, 4096])


# ==== 4. a d_read leaving uio_resid out of range: EIO, and the daemon serves on =================


@pytest.mark.parametrize("node, resid", [
    ("r_negative", -5), ("r_larger", 102), ("a_negative", -5), ("a_larger", 102),
])
def test_read_leaving_resid_out_of_range_is_eio(dm, node, resid):
    before = _status(dm)[node]
    with opened(dm / node, os.O_RDONLY) as fd:
        assert raw_read(fd, 100) == (-1, b"", errno.EIO)
        assert _errno(os.read, fd, 100) == errno.EIO
    after = _status(dm)[node]
    assert after["reads"] - before["reads"] == 2
    assert after["errors"] - before["errors"] == 2
    assert after["bytes_read"] == before["bytes_read"]
    assert f"{node}: d_read left uio_resid {resid} of 100: EIO" in dm.log_text()
    _serves(dm)
    assert not pid_gone(dm.pid)


@pytest.mark.parametrize("entry, node", [
    ("d_read", "a_float"), ("d_read", "r_float"), ("d_write", "a_float"), ("d_write", "r_float"),
])
def test_entry_leaving_non_int_resid_is_eio(tmp_path, entry, node):
    """A uio_resid that is not an int (48.5 of 100) is EIO on every path: it once killed the
    daemon from the sync read path (the float sliced the reply buffer) and gave a 51-byte write
    counted as 51.5 on the write paths."""
    cfg = (_dev("zero", "zero") + _dev("status", "status")
           + _dev("r_float", f"{MODNAME}:BadResid", how="float")
           + _dev("a_float", f"{MODNAME}:AsyncBadResid", how="float"))
    with mounted(tmp_path, cfg, env=env_with_pythonpath(_write_driver_module(tmp_path))) as m:
        with opened(m / node) as fd:
            if entry == "d_read":
                assert _errno(os.read, fd, 100) == errno.EIO
            else:
                assert _errno(os.write, fd, b"w" * 100) == errno.EIO
        row = _status(m)[node]
        assert (row["errors"], row["bytes_read"], row["bytes_written"]) == (1, 0, 0)
        _serves(m)


# ==== 5. a PIPE_BUF-exact write to pipe0 stays atomic ===========================================


def test_pipe_buf_write_nonblocking_is_all_or_nothing(dflt):
    r = os.open(dflt / "pipe0", os.O_RDONLY | os.O_NONBLOCK)
    wn = os.open(dflt / "pipe0", os.O_WRONLY | os.O_NONBLOCK)
    try:
        filler = pattern(8, 0, CAPACITY - (PIPE_BUF - 1))    # room: PIPE_BUF - 1
        assert os.write(wn, filler) == len(filler)
        assert _errno(os.write, wn, b"A" * PIPE_BUF) == errno.EAGAIN
        assert raw_write(wn, b"A" * PIPE_BUF) == (-1, errno.EAGAIN)
        assert os.write(wn, b"B" * (PIPE_BUF - 1)) == PIPE_BUF - 1  # what does fit, fits
        got = _drain_nonblocking(r)
        want = filler + b"B" * (PIPE_BUF - 1)
        assert got == want, first_difference(got, want)
        # with exactly PIPE_BUF of room it goes in whole
        filler = pattern(9, 0, CAPACITY - PIPE_BUF)
        assert os.write(wn, filler) == len(filler)
        assert os.write(wn, b"C" * PIPE_BUF) == PIPE_BUF
        got = _drain_nonblocking(r)
        assert got == filler + b"C" * PIPE_BUF, first_difference(got, filler + b"C" * PIPE_BUF)
    finally:
        os.close(wn)
        os.close(r)


def test_pipe_buf_write_blocking_waits_then_moves_all_at_once(dflt):
    r = os.open(dflt / "pipe0", os.O_RDONLY | os.O_NONBLOCK)
    wn = os.open(dflt / "pipe0", os.O_WRONLY | os.O_NONBLOCK)
    wb = os.open(dflt / "pipe0", os.O_WRONLY)
    bg = None
    try:
        filler = pattern(10, 0, CAPACITY - 100)               # room: 100
        assert os.write(wn, filler) == len(filler)
        block = pattern(11, 0, PIPE_BUF)
        bg = Bg(os.write, wb, block)
        time.sleep(BLOCKED)
        assert not bg.done, "a PIPE_BUF write went in without room for it"
        assert os.read(r, 2000) == filler[:2000]               # room: 2100, still < PIPE_BUF
        time.sleep(BLOCKED)
        assert not bg.done
        # one read(2) takes everything buffered: only the filler, so the waiting write has
        # moved nothing yet (a write split into pieces would have put 2100 bytes in by now)
        got = os.read(r, CAPACITY)
        assert got == filler[2000:], first_difference(got, filler[2000:])
        assert bg.join(10)
        assert bg.error is None and bg.result == PIPE_BUF
        got = os.read(r, CAPACITY)                             # the block, whole, at once
        assert got == block, first_difference(got, block)
    finally:
        os.close(wn)
        os.close(r)                                            # a still-blocked write: EPIPE
        if bg is not None:
            bg.join(10)
        os.close(wb)


NONBLOCK_WRITE = r'''
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
try:
    print(os.write(fd, b"m" * 50), flush=True)
except OSError as exc:
    print(exc.errno, flush=True)
'''


def test_writes_to_one_device_wait_behind_a_sleeping_write(dflt):
    """The documented limit (README, what is not supported): FUSE holds the inode lock across
    a direct_io write, and libfuse 3.14/pyfuse3 cannot ask for parallel direct writes, so
    while one write sleeps in pipe0's d_write every other write(2) to pipe0 waits, even an
    O_NONBLOCK one, until the sleeping write returns; then it goes on normally."""
    r = os.open(dflt / "pipe0", os.O_RDONLY | os.O_NONBLOCK)
    wn = os.open(dflt / "pipe0", os.O_WRONLY | os.O_NONBLOCK)
    wb = os.open(dflt / "pipe0", os.O_WRONLY)
    bg = probe = None
    try:
        filler = pattern(17, 0, CAPACITY - 100)               # room: 100
        assert os.write(wn, filler) == len(filler)
        bg = Bg(os.write, wb, b"A" * PIPE_BUF)                 # sleeps: it needs 4096 of room
        assert wait_for(lambda: waiting_on_fuse(bg.tid, "write"), 10)
        assert not bg.join(BLOCKED)
        probe = subprocess.Popen([sys.executable, "-c", NONBLOCK_WRITE, str(dflt / "pipe0")],
                                 stdout=subprocess.PIPE)
        # the probe gets as far as write(2), and waits there for the inode lock
        assert wait_for(lambda: in_syscall(probe.pid, "write"), 10), "the probe never wrote"
        time.sleep(1.0)
        assert probe.poll() is None, "the O_NONBLOCK write did not wait behind the sleeping one"
        assert in_syscall(probe.pid, "write")
        while not bg.done:  # room for the sleeping write: it goes in, and the lock is free
            _drain_nonblocking(r)
            time.sleep(0.05)
        out, _ = probe.communicate(timeout=10)
        assert out.strip() == b"50"
    finally:
        # release everything: the sleeping write gets its room, then the stuck one goes in
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ((bg is not None and not bg.done)
                                               or (probe is not None and probe.poll() is None)):
            _drain_nonblocking(r)
            time.sleep(0.05)
        os.close(wn)
        os.close(r)
        if bg is not None:
            bg.join(10)
        os.close(wb)
        if probe is not None:
            kill_all([probe])
            probe.stdout.close()


# ==== 6. a write that partly fits max_memory is short; the next gets ENOSPC =====================


def test_write_partly_fitting_max_memory_is_short_then_enospc(tmp_path):
    cfg = '[options]\nmax_memory = "1M"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as m:
        first = pattern(12, 0, MiB - 1000)
        second = pattern(13, 0, 4000)
        with opened(m / "tmp" / "f", os.O_RDWR | os.O_CREAT) as fd:
            assert os.write(fd, first) == MiB - 1000
            assert os.write(fd, second) == 1000             # what fits: a short write
            assert _errno(os.write, fd, b"x") == errno.ENOSPC
            assert raw_write(fd, second) == (-1, errno.ENOSPC)
            assert os.fstat(fd).st_size == MiB
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            got = os.pread(fd, 2 * MiB, 0)
            assert got == first + second[:1000], first_difference(got, first + second[:1000])
        assert os.statvfs(m.path).f_bfree == 0
        res = _run("dd", "if=/dev/zero", f"of={m / 'tmp' / 'g'}", "bs=4096", "count=1")
        assert res.returncode == 1 and b"No space left on device" in res.stderr
        os.unlink(m / "tmp" / "f")                          # the memory comes back, with the FORGET
        assert wait_for(lambda: os.statvfs(m.path).f_bfree > 0, 5)
        res = _run("dd", "if=/dev/zero", f"of={m / 'tmp' / 'g'}", "bs=4096", "count=1")
        assert res.returncode == 0, res.stderr
        assert os.stat(m / "tmp" / "g").st_size == 4096


# ==== 7. max_file_size exactly; 8. setgid directories ===========================================

LIMIT_CONFIG = '[options]\nmax_file_size = "1M"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'


@pytest.fixture(scope="module")
def lim(tmp_path_factory):
    # --allow-other: the setgid test creates files as another user and group
    with mounted(tmp_path_factory.mktemp("regress-limits"), LIMIT_CONFIG, "--allow-other") as m:
        yield m


def test_truncate_to_exactly_max_file_size(lim):
    t = lim / "tmp" / "t"
    res = _run("truncate", "-s", "1M", str(t))
    assert res.returncode == 0, res.stderr
    assert os.stat(t).st_size == MiB
    res = _run("truncate", "-s", str(MiB + 1), str(t))
    assert res.returncode == 1 and b"File too large" in res.stderr
    assert os.stat(t).st_size == MiB
    assert _errno(os.truncate, t, MiB + 1) == errno.EFBIG
    with opened(t) as fd:
        os.ftruncate(fd, 10)
        os.ftruncate(fd, MiB)
        assert _errno(os.ftruncate, fd, MiB + 1) == errno.EFBIG
        assert os.fstat(fd).st_size == MiB
        assert os.pread(fd, 16, MiB - 16) == bytes(16)


def test_write_ending_at_max_file_size_and_crossing_it(lim, tmp_path):
    with opened(lim / "tmp" / "w", os.O_RDWR | os.O_CREAT) as fd:
        assert os.pwrite(fd, b"e" * 10, MiB - 10) == 10        # ends exactly at the limit
        assert os.fstat(fd).st_size == MiB
        assert os.pwrite(fd, b"c" * 20, MiB - 15) == 15        # crosses it: cut short
        assert _errno(os.pwrite, fd, b"x", MiB) == errno.EFBIG  # at it: EFBIG
        assert os.pread(fd, 100, MiB - 20) == bytes(5) + b"c" * 15
        # whole pages: the kernel sends the crossing write as one request, which iofs cuts
        block = pattern(18, 0, 8192)
        assert os.pwrite(fd, block, MiB - 4096) == 4096
        assert os.pread(fd, 8192, MiB - 4096) == block[:4096]
        assert os.fstat(fd).st_size == MiB
    # dd writing past the limit: its 48K block across the limit is cut short there, and the
    # rest of the block gets EFBIG: "File too large", with everything up to the limit written
    src = tmp_path / "src"
    data = pattern(14, 0, MiB + 96 * KiB)
    src.write_bytes(data)
    out = lim / "tmp" / "dd"
    res = _run("dd", f"if={src}", f"of={out}", "bs=48K")
    assert res.returncode == 1 and b"File too large" in res.stderr
    assert os.stat(out).st_size == MiB
    assert out.read_bytes() == data[:MiB]


G, OTHER_GID, UID = 1234, 5678, 4321


def test_setgid_directory_group_inheritance(lim):
    base = lim / "tmp"
    sg = base / "sg"
    os.mkdir(sg)
    os.chown(sg, UID, G)
    os.chmod(sg, 0o2775)
    assert stat.S_IMODE(os.stat(sg).st_mode) == 0o2775
    script = ("set -e; umask 002; touch sg/f; mkdir sg/d; touch sg/d/g; mkdir sg/d/e; ln -s f sg/l; "
              "mkfifo sg/p; touch ctl; mkdir ctld; id -g")
    res = _run("setpriv", f"--reuid={UID}", f"--regid={OTHER_GID}", "--clear-groups",
               "sh", "-c", script, cwd=base)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(OTHER_GID).encode()       # not a member of G
    for name in ("sg/f", "sg/d", "sg/d/g", "sg/d/e", "sg/l", "sg/p"):
        st = os.lstat(base / name)
        assert (st.st_uid, st.st_gid) == (UID, G), name
    for name in ("sg/d", "sg/d/e"):                            # subdirectories stay setgid
        assert stat.S_IMODE(os.stat(base / name).st_mode) == 0o2775, name
    assert stat.S_IMODE(os.stat(base / "sg/f").st_mode) == 0o664
    assert stat.S_ISFIFO(os.stat(base / "sg/p").st_mode)
    # outside a setgid directory the creator's own group (so the above is inheritance)
    for name in ("ctl", "ctld"):
        st = os.stat(base / name)
        assert (st.st_uid, st.st_gid) == (UID, OTHER_GID), name
    assert not os.stat(base / "ctld").st_mode & stat.S_ISGID


# ==== 9. st_blocks ==============================================================================


def test_st_blocks_of_device_nodes(dflt, dm):
    for m, name, size in [(dflt, "mem0", 64 * MiB), (dflt, "zero", 0), (dflt, "null", 0),
                          (dflt, "pipe0", 0), (dm, "f_odd", 1000), (dm, "hello", 6)]:
        st = os.stat(m / name)
        assert (st.st_size, st.st_blocks) == (size, (size + 511) // 512), name
    res = _run("stat", "-c", "%b %s", str(dflt / "mem0"))
    assert res.stdout.split() == [b"131072", str(64 * MiB).encode()]


def test_st_blocks_of_sparse_regular_file(dflt):
    p = dflt / "tmp" / "sparse"
    data = pattern(15, 0, MiB)
    with opened(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC) as fd:
        assert os.pwrite(fd, data, 0) == MiB
        assert os.pwrite(fd, data, 100 * MiB) == MiB
        st = os.fstat(fd)
        assert (st.st_size, st.st_blocks) == (101 * MiB, 2 * MiB // 512)
        res = _run("du", "-k", str(p))
        assert res.stdout.split()[0] == b"2048"
        os.ftruncate(fd, 50 * MiB)                            # the far chunk goes
        st = os.fstat(fd)
        assert (st.st_size, st.st_blocks) == (50 * MiB, MiB // 512)
        os.ftruncate(fd, 200 * MiB)                           # a hole holds nothing
        assert os.fstat(fd).st_blocks == MiB // 512
        assert os.pread(fd, 8, 199 * MiB) == bytes(8)
    os.unlink(p)


def test_st_blocks_count_partly_filled_blocks(dflt, tmp_path):
    """st_blocks counts whole pages as tmpfs does: a file of a few bytes once reported 0
    blocks (rounded down), and GNU tar --sparse archived it as one big hole, zeros."""
    p = dflt / "tmp" / "fewbytes"
    with opened(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC) as fd:
        assert os.pwrite(fd, b"hello", 10 * MiB) == 5
    try:
        archive = tmp_path / "a.tar"
        res = _run("tar", "-S", "-cf", str(archive), "-C", str(p.parent), p.name)
        assert res.returncode == 0, res.stderr
        res = _run("tar", "-xOf", str(archive))
        assert res.stdout[-5:] == b"hello"
        assert len(res.stdout) == 10 * MiB + 5
        for n in (3, 1000, 4097):
            with opened(p, os.O_RDWR | os.O_TRUNC) as fd:
                assert os.write(fd, b"d" * n) == n
                assert os.fstat(fd).st_blocks * 512 >= n, n
    finally:
        os.unlink(p)


# ==== 10. writeback_cache = true ================================================================

WB_CONFIG = ('[options]\nmax_memory = "1M"\nwriteback_cache = true\n'
             '[[dir]]\npath = "tmp"\nmode = "1777"\n')


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("regress-wb"), WB_CONFIG) as m:
        yield m


def _resident(path) -> int:
    """Bytes of the file in the page cache (util-linux fincore)."""
    res = _run("fincore", "--bytes", "--noheadings", "--output", "RES", str(path))
    assert res.returncode == 0, res.stderr
    return int(res.stdout.split()[0])


def _from_daemon(path) -> bytes:
    """The file's bytes as the daemon holds them: drop its clean pages, then read afresh."""
    with opened(path, os.O_RDONLY) as fd:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        assert _resident(path) == 0
        with opened(path, os.O_RDONLY) as fresh:
            got = b""
            while chunk := os.read(fresh, 65536):
                got += chunk
        return got


def test_writeback_small_writes_read_back_byte_exact(wb):
    p = wb / "tmp" / "small"
    data = pattern(16, 0, 37 * 1000 + 11)
    with opened(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC) as fd:
        for k in range(0, len(data), 37):
            assert os.write(fd, data[k:k + 37]) == len(data[k:k + 37])
        # overwrite in the middle, across a page boundary
        assert os.pwrite(fd, b"over", 4094) == 4
    want = data[:4094] + b"over" + data[4098:]
    got = _from_daemon(p)
    assert got == want, first_difference(got, want)
    assert os.stat(p).st_size == len(data)
    assert _run("cat", str(p)).stdout == want
    os.unlink(p)


def test_writeback_append(wb):
    p = wb / "tmp" / "app"
    with opened(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND) as fd:
        assert os.write(fd, b"A" * 100) == 100
        os.fsync(fd)                                   # page 0 goes back with 100 bytes
        assert os.write(fd, b"B" * 100) == 100
        os.fsync(fd)                                   # and again with 200
        with opened(p, os.O_WRONLY | os.O_APPEND) as fd2:
            assert os.write(fd2, b"C" * 50) == 50
        assert os.write(fd, b"D" * 10) == 10
    res = _run("sh", "-c", f"printf one >> {p}; printf two >> {p}")
    assert res.returncode == 0, res.stderr
    want = b"A" * 100 + b"B" * 100 + b"C" * 50 + b"D" * 10 + b"onetwo"
    assert _from_daemon(p) == want
    assert os.stat(p).st_size == len(want)
    os.unlink(p)


@pytest.mark.parametrize("at", ["fsync", "close"])
def test_writeback_enospc_shows_at_fsync_or_close(wb, at):
    p = wb / "tmp" / f"big-{at}"
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for k in range(384):                           # 1.5 MiB, past max_memory: all succeed
            assert os.write(fd, bytes([k % 251]) * 4096) == 4096
        if at == "fsync":
            assert _errno(os.fsync, fd) == errno.ENOSPC
    finally:
        if at == "close":
            assert _errno(os.close, fd) == errno.ENOSPC
        else:
            os.close(fd)
    assert os.statvfs(wb.path).f_bfree == 0            # the daemon holds max_memory
    os.unlink(p)
    # and gives it all back, once the kernel forgets the unlinked inode
    assert wait_for(lambda: os.statvfs(wb.path).f_bfree == 256, 5)
