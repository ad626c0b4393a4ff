"""The daemon outlives every driver bug and load a user can bring (issue: hardening).

Through a real mount: a thousand readers asleep in pipe0 stall nothing; per-uid bound on
sleeping requests; every driver result is checked in one place (guard): raising anything,
returning non-errnos, bad sizes, bad poll events, a non-int uio_resid; None means 0 on both
paths.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

from _helpers_b import (
    env_with_pythonpath, is_mounted, mounted, pid_gone, raw_read, rss_kib, wait_for,
    waiting_on_fuse,
)
from conftest import OTHER_UID

READERS = 1000


def _blocked_in_read(tids: list[int]) -> int:
    """How many of these threads wait in read(2) for the daemon's answer."""
    return sum(waiting_on_fuse(tid, "read") for tid in tids)


def _answers_at_once(m, limit: float = 3.0) -> float:
    """stat, listdir and a read of /zero on the mount, timed; fails if they hang."""
    t0 = time.monotonic()
    done = threading.Event()
    result: list[object] = []

    def probe() -> None:
        try:
            os.stat(m / "zero")
            result.append(sorted(os.listdir(m.path)))
            with open(m / "zero", "rb") as f:
                result.append(f.read(4096))
            os.stat(m / "mem0")
        except BaseException as exc:  # reported below
            result.append(exc)
        finally:
            done.set()

    threading.Thread(target=probe, daemon=True).start()
    assert done.wait(limit), f"the mount did not answer within {limit} s"
    assert not any(isinstance(r, BaseException) for r in result), result
    assert result[1] == bytes(4096)
    return time.monotonic() - t0


def test_thousand_sleeping_readers_stall_nothing(tmp_path):
    """1000 readers asleep in pipe0 (a writer holds it, nothing is written): every other node
    still answers at once, the daemon's memory stays small, and closing the writer ends every
    read with EOF. (pyfuse3's default cap of 99 workers hung every request here.)"""
    with mounted(tmp_path) as m:
        writer = os.open(m / "pipe0", os.O_WRONLY)
        fds = [os.open(m / "pipe0", os.O_RDONLY) for _ in range(READERS)]
        rss_before = rss_kib(m.pid)
        results: list[object] = [None] * READERS
        tids: list[int] = []
        lock = threading.Lock()
        threading.stack_size(256 * 1024)
        try:
            def reader(k: int) -> None:
                with lock:
                    tids.append(threading.get_native_id())
                try:
                    results[k] = os.read(fds[k], 128 * 1024)
                except OSError as exc:
                    results[k] = exc

            threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(READERS)]
            for t in threads:
                t.start()
            assert wait_for(lambda: _blocked_in_read(tids) == READERS, 60), \
                f"only {_blocked_in_read(tids)} of {READERS} readers are blocked in read(2)"
            time.sleep(0.5)  # every request has reached the driver and sleeps there
            assert all(r is None for r in results), "a reader returned while the pipe was empty"
            took = _answers_at_once(m)
            assert took < 3.0
            rss = rss_kib(m.pid)
            assert rss - rss_before < 150 * 1024, f"{READERS} sleepers cost {rss - rss_before} KiB"
        finally:
            os.close(writer)  # the last writer goes: every reader gets end of file
            for t in threads:
                t.join(30)
            for fd in fds:
                os.close(fd)
            threading.stack_size(0)
        assert all(r == b"" for r in results), [r for r in results if r != b""][:3]
        assert not pid_gone(m.pid)
        _answers_at_once(m)


def test_sleeping_requests_are_bounded_per_uid(tmp_path, public_dir):
    """max_sleeping = 3: a 4th read that would sleep fails with EAGAIN at once, logged once;
    the others keep sleeping and every other request is served; another uid has its own 3."""
    cfg = '[options]\nmax_sleeping = 3\n[[device]]\npath = "pipe0"\ndriver = "pipe"\n' \
          '[[device]]\npath = "zero"\ndriver = "zero"\n[[device]]\npath = "mem0"\ndriver = "mem"\n'
    with mounted(tmp_path, cfg, "--allow-other", mountpoint=public_dir) as m:
        writer = os.open(m / "pipe0", os.O_WRONLY)
        fds = [os.open(m / "pipe0", os.O_RDONLY) for _ in range(3)]
        threads = []
        out: list[object] = []
        other = None
        try:
            for fd in fds:
                t = threading.Thread(target=lambda fd=fd: out.append(os.read(fd, 10)), daemon=True)
                t.start()
                threads.append(t)
            # all three reads queued before the fourth: the daemon serves them in that order
            assert wait_for(lambda: _blocked_in_read([t.native_id for t in threads]) == 3, 10)
            extra = os.open(m / "pipe0", os.O_RDONLY)
            try:
                t0 = time.monotonic()
                assert raw_read(extra, 10) == (-1, b"", errno.EAGAIN)
                assert raw_read(extra, 10) == (-1, b"", errno.EAGAIN)
                assert time.monotonic() - t0 < 2
            finally:
                os.close(extra)
            _answers_at_once(m)
            # uid 1000 is not bound by root's sleepers: its read sleeps until data comes
            other = subprocess.Popen(["dd", f"if={m / 'pipe0'}", "bs=10", "count=1", "status=none"],
                                     user=OTHER_UID, group=OTHER_UID, stdout=subprocess.PIPE)
            time.sleep(0.5)
            assert other.poll() is None, "uid 1000's read did not sleep"
            os.write(writer, b"x" * 40)
            assert other.communicate(timeout=10)[0] == b"x" * 10
            for t in threads:
                t.join(10)
            assert sorted(out) == [b"x" * 10] * 3
        finally:
            if other is not None and other.poll() is None:
                other.kill()
                other.wait()
            os.close(writer)
            for t in threads:
                t.join(10)
            for fd in fds:
                os.close(fd)
        assert m.log_text().count("requests asleep in drivers (max_sleeping)") == 1


# ---- every driver result is checked, in one place -------------------------------------------

BAD_DRIVERS = '''
import errno
import sys

import trio

from iofs.driver import Driver
from iofs.uio import UIO_NOCOPY, uiomove, uioskip


class AsyncSize(Driver):
    """d_size as a coroutine: stat must be answered at once (docs/drivers.md: EIO)."""

    async def d_size(self, dev):
        return 10


class PropertySize(Driver):
    """d_size is a property that raises: looking the entry point up is already the bug."""

    @property
    def d_size(self):
        raise RuntimeError("d_size property")

    @property
    def d_poll(self):
        raise RuntimeError("d_poll property")


KEPT = []


class Keeper(Driver):
    """Keeps the uio of its read (moving nothing), and moves into it later, from d_write."""

    async def d_read(self, dev, uio, ioflag):
        KEPT.append(uio)
        return 0

    def d_write(self, dev, uio, ioflag):
        for kept in KEPT:
            uiomove(b"LATE" * 8, 32, kept)
        uio.uio_resid = 0
        return 0


class ClaimsAll(Driver):
    """Says it moved the whole request (uio_resid = 0) and moves nothing."""

    def d_read(self, dev, uio, ioflag):
        uio.uio_resid = 0
        return 0


class SkipsAll(Driver):
    """Skips the whole request (illumos uioskip): counted as moved, never filled."""

    def d_read(self, dev, uio, ioflag):
        uioskip(uio, uio.uio_resid)
        return 0


class NoCopy(Driver):
    """Moves 4 bytes, then a UIO_NOCOPY move of the rest, as if the data were in place."""

    def d_read(self, dev, uio, ioflag):
        uiomove(b"head", 4, uio)
        uio.uio_segflg = UIO_NOCOPY
        return uiomove(bytes(uio.uio_resid), uio.uio_resid, uio)


class AsyncClaimsAll(Driver):
    async def d_read(self, dev, uio, ioflag):
        uio.uio_resid = 0
        return 0


class Filler(Driver):
    """Moves 16 bytes, sleeps, moves 16 more: a read that holds its reply buffer asleep."""

    async def d_read(self, dev, uio, ioflag):
        uiomove(b"f" * 16, 16, uio)
        await trio.sleep(0.5)
        return uiomove(b"g" * 16, 16, uio)


class BadSize(Driver):
    """d_size is broken in the way named by how."""
    def __init__(self, how="raise"):
        self.how = how

    def d_size(self, dev):
        if self.how == "raise":
            raise RuntimeError("size boom")
        if self.how == "exit":
            sys.exit(3)
        return {"huge": 2**64, "str": "12", "negative": -1, "float": 1.5}[self.how]


class BadPoll(Driver):
    def __init__(self, how="str"):
        self.how = how

    def d_poll(self, dev, events, td):
        if self.how == "raise":
            raise SystemExit(4)
        return {"str": "x", "negative": -1, "huge": 2**40, "float": 1.0}[self.how]


class BadResid(Driver):
    """Sets uio_resid to something that is not an int."""
    def __init__(self, value="str"):
        self.value = {"str": "5", "none": None, "float": 1.5, "big": 10**30}[value]

    def d_read(self, dev, uio, ioflag):
        uio.uio_resid = self.value
        return 0

    async def d_write(self, dev, uio, ioflag):
        uio.uio_resid = self.value
        return 0


class Exits(Driver):
    """SystemExit (or another BaseException) from the entry point named where."""
    def __init__(self, where="d_read", what="exit"):
        self.where = where
        self.what = what

    def _die(self, entry):
        if entry == self.where:
            if self.what == "exit":
                sys.exit(f"exit from {entry}")
            raise GeneratorExit("base boom")

    def d_open(self, dev, oflags, td):
        self._die("d_open")
        return 0

    def d_close(self, dev, fflag, td):
        self._die("d_close")
        return 0

    def d_read(self, dev, uio, ioflag):
        self._die("d_read")
        return uiomove(b"fine", min(4, uio.uio_resid), uio)

    async def d_write(self, dev, uio, ioflag):
        await trio.sleep(0)
        self._die("d_write")
        uio.uio_resid = 0
        return 0

    def d_fsync(self, dev, datasync):
        self._die("d_fsync")
        return 0


class BadErrno(Driver):
    """Returns an errno the kernel cannot carry."""
    def __init__(self, code=600):
        self.code = code

    def d_open(self, dev, oflags, td):
        return self.code if oflags & 0o3 == 1 else 0   # O_WRONLY opens fail

    def d_read(self, dev, uio, ioflag):
        return self.code

    async def d_write(self, dev, uio, ioflag):
        return self.code


class ReturnsNone(Driver):
    """Moves bytes and returns None (falls off the end), sync reads, async writes."""
    def d_read(self, dev, uio, ioflag):
        uiomove(b"none-sync", min(9, uio.uio_resid), uio)

    async def d_write(self, dev, uio, ioflag):
        await trio.sleep(0)
        uio.uio_resid -= min(uio.uio_resid, 3)

    def d_open(self, dev, oflags, td):
        pass

    def d_fsync(self, dev, datasync):
        pass


class AsyncNone(Driver):
    async def d_read(self, dev, uio, ioflag):
        await trio.sleep(0)
        uiomove(b"none-async", min(10, uio.uio_resid), uio)

    def d_write(self, dev, uio, ioflag):
        uio.uio_resid = 0
'''

BAD_MOD = "iofs_baddrv_h"


def _dev(path: str, cls: str, **opts: object) -> str:
    text = f'[[device]]\npath = "{path}"\ndriver = "{BAD_MOD}:{cls}"\n'
    for k, v in opts.items():
        text += f'{k} = {v!r}\n'.replace("'", '"')
    return text


BAD_TREE = "".join([
    '[[device]]\npath = "zero"\ndriver = "zero"\n',
    *(_dev(f"size_{h}", "BadSize", how=h) for h in ("raise", "exit", "huge", "str", "negative", "float")),
    _dev("size_async", "AsyncSize"),
    *(_dev(f"poll_{h}", "BadPoll", how=h) for h in ("raise", "str", "negative", "huge", "float")),
    *(_dev(f"resid_{v}", "BadResid", value=v) for v in ("str", "none", "float", "big")),
    *(_dev(f"exit_{w}", "Exits", where=w) for w in ("d_open", "d_close", "d_read", "d_write", "d_fsync")),
    _dev("base_read", "Exits", where="d_read", what="base"),
    *(_dev(f"errno_{c}", "BadErrno", code=c) for c in (600, 100000, -3, 38)),
    _dev("none", "ReturnsNone"),
    _dev("propdir/prop", "PropertySize"),
    _dev("keeper", "Keeper"),
    _dev("filler", "Filler"),
    _dev("claims", "ClaimsAll"),
    _dev("skips", "SkipsAll"),
    _dev("nocopy", "NoCopy"),
    _dev("aclaims", "AsyncClaimsAll"),
    '[[device]]\npath = "secret"\ndriver = "text"\nmode = "0600"\ncontent = "root only"\n',
    _dev("anone", "AsyncNone"),
])


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad")
    (base / "drv").mkdir()
    (base / "drv" / f"{BAD_MOD}.py").write_text(BAD_DRIVERS)
    with mounted(base, BAD_TREE, env=env_with_pythonpath(base / "drv")) as m:
        yield m
        assert is_mounted(m.path) and not pid_gone(m.pid), "a bad driver took the daemon down"


def _alive(m) -> None:
    assert not pid_gone(m.pid), "the daemon died"
    with open(m / "zero", "rb") as f:
        assert f.read(100) == bytes(100)


def _errno(fn, *args) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args)
    return ei.value.errno


@pytest.mark.parametrize("how", ["raise", "exit", "huge", "str", "negative", "float", "async"])
def test_bad_d_size_is_eio_on_stat_and_the_dir_still_lists(bad, how):
    """stat is EIO (every time: the broken size is never cached); so is open, since the kernel
    needs the attributes to check permissions; readdir still lists the node."""
    assert _errno(os.stat, bad / f"size_{how}") == errno.EIO
    assert _errno(os.stat, bad / f"size_{how}") == errno.EIO
    assert _errno(os.open, bad / f"size_{how}", os.O_RDONLY) == errno.EIO
    assert f"size_{how}" in os.listdir(bad.path)
    _alive(bad)


def test_a_driver_attribute_that_raises_is_eio_and_its_dir_still_lists(bad):
    """A d_size (or d_poll) property that raises when looked up: stat is EIO and so is open,
    as for a d_size that raises; readdir of the directory still lists the node (and the rest)."""
    assert os.listdir(bad / "propdir") == ["prop"]
    assert _errno(os.stat, bad / "propdir/prop") == errno.EIO
    _alive(bad)


def test_a_kept_uio_cannot_move_into_another_reads_reply(bad):
    """A driver keeps the uio of a read and moves into it after returning. The reply buffer of
    that read serves the next sleeping read (of another device); the late move must not reach
    that read's reply."""
    with open(bad / "keeper", "rb", buffering=0) as f:
        assert f.read(128 * 1024) == b""  # a reply buffer of its own, pooled after the reply
    got = []

    def read_filler() -> None:
        with open(bad / "filler", "rb", buffering=0) as f:
            got.append(f.read(128 * 1024))

    reader = threading.Thread(target=read_filler)
    reader.start()
    time.sleep(0.2)  # the filler moved its first 16 bytes and sleeps
    with open(bad / "keeper", "wb", buffering=0) as f:
        f.write(b"x")  # the keeper moves 32 bytes into the uio it kept
    reader.join(10)
    assert got == [b"f" * 16 + b"g" * 16]
    _alive(bad)


def test_bytes_a_driver_claims_but_never_moved_are_zeros_not_another_reads(bad):
    """A d_read that lowers uio_resid without moving anything: the reply buffer it claims
    held the previous read's data (here a 0600 file of root's); the program gets zeros."""
    for claims, before in (("claims", "secret"), ("aclaims", "filler")):
        with open(bad / before, "rb", buffering=0) as f:
            assert f.read(128 * 1024) in (b"root only", b"f" * 16 + b"g" * 16)
        with open(bad / claims, "rb", buffering=0) as f:
            assert f.read(128 * 1024) == bytes(128 * 1024), claims
    _alive(bad)


@pytest.mark.parametrize("driver, head", [("skips", b""), ("nocopy", b"head")])
def test_bytes_a_driver_skips_are_zeros_not_another_reads(bad, driver, head):
    """uioskip and a UIO_NOCOPY move count bytes as moved without filling them: in a kernel
    the program's buffer keeps its own bytes; over FUSE the reply replaces them, and the
    reply buffer held the previous read (a 0600 file of root's), so they must be zeros."""
    with open(bad / "secret", "rb", buffering=0) as f:
        assert f.read(4096) == b"root only"
    with open(bad / driver, "rb", buffering=0) as f:
        assert f.read(4096) == head + bytes(4096 - len(head))
    _alive(bad)


@pytest.mark.parametrize("how", ["raise", "str", "negative", "huge", "float"])
def test_bad_d_poll_is_pollerr(bad, how):
    fd = os.open(bad / f"poll_{how}", os.O_RDONLY)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        events = p.poll(2000)
        assert events and events[0][1] & select.POLLERR, events
    finally:
        os.close(fd)
    _alive(bad)


@pytest.mark.parametrize("value", ["str", "none", "float", "big"])
def test_non_int_uio_resid_is_eio(bad, value):
    fd = os.open(bad / f"resid_{value}", os.O_RDWR)
    try:
        assert _errno(os.read, fd, 100) == errno.EIO
        assert _errno(os.write, fd, b"abc") == errno.EIO
    finally:
        os.close(fd)
    _alive(bad)
    assert "left uio_resid" in bad.log_text()


def test_system_exit_in_d_open_is_eio(bad):
    assert _errno(os.open, bad / "exit_d_open", os.O_RDONLY) == errno.EIO
    _alive(bad)


def test_system_exit_in_d_close_is_logged_and_close_succeeds(bad):
    fd = os.open(bad / "exit_d_close", os.O_RDONLY)
    os.close(fd)  # FUSE's release cannot fail a close(2); the daemon lives on
    time.sleep(0.2)
    _alive(bad)
    assert "exit_d_close: d_close raised SystemExit" in bad.log_text()


@pytest.mark.parametrize("dev", ["exit_d_read", "base_read"])
def test_base_exceptions_in_d_read_are_eio(bad, dev):
    fd = os.open(bad / dev, os.O_RDONLY)
    try:
        assert _errno(os.read, fd, 10) == errno.EIO
    finally:
        os.close(fd)
    _alive(bad)


def test_system_exit_in_async_d_write_and_d_fsync_is_eio(bad):
    fd = os.open(bad / "exit_d_write", os.O_RDWR)
    try:
        assert _errno(os.write, fd, b"x") == errno.EIO
    finally:
        os.close(fd)
    fd = os.open(bad / "exit_d_fsync", os.O_RDWR)
    try:
        assert os.read(fd, 10) == b"fine"
        assert _errno(os.fsync, fd) == errno.EIO
    finally:
        os.close(fd)
    _alive(bad)


@pytest.mark.parametrize("code", [600, 100000, -3, 38])
def test_errno_the_kernel_cannot_carry_is_eio_not_d_state(bad, code):
    """600 or 100000 reached the kernel as an invalid error and left the caller in D state;
    ENOSYS (38) from OPEN would make the kernel stop sending opens to the whole mount."""
    path = bad / f"errno_{code}"
    probe = subprocess.run(
        [sys.executable, "-c", f"""
import errno, os, sys
fd = os.open({str(path)!r}, os.O_RDONLY)
for fn in (lambda: os.read(fd, 10),):
    try:
        fn()
    except OSError as e:
        print(e.errno)
try:
    os.open({str(path)!r}, os.O_WRONLY)
except OSError as e:
    print(e.errno)
fd2 = os.open({str(path)!r}, os.O_RDWR)
try:
    os.write(fd2, b"x")
except OSError as e:
    print(e.errno)
"""], capture_output=True, text=True, timeout=20)
    assert probe.stdout.split() == [str(errno.EIO)] * 3, (probe.stdout, probe.stderr)
    # opens still reach the daemon (no ENOSYS got through): a failing open still fails
    assert _errno(os.open, path, os.O_WRONLY) == errno.EIO
    _alive(bad)


def test_a_repeated_failure_logs_its_traceback_once(bad):
    fd = os.open(bad / "exit_d_read", os.O_RDONLY)
    try:
        for _ in range(5):
            assert _errno(os.read, fd, 10) == errno.EIO
    finally:
        os.close(fd)
    log = bad.log_text()
    assert log.count("exit_d_read: d_read raised SystemExit: EIO") == 1
    assert log.count("SystemExit: exit from d_read") == 1  # the traceback, once


def test_none_means_zero_on_the_fast_and_the_slow_path(bad):
    """A driver that falls off its end (returns None) succeeded: what it moved is the answer,
    whether its entry point is sync (the fast path) or async (the sleeping path)."""
    fd = os.open(bad / "none", os.O_RDWR)
    try:
        assert os.read(fd, 100) == b"none-sync"
        assert os.write(fd, b"abcdef") == 3
        os.fsync(fd)
    finally:
        os.close(fd)
    fd = os.open(bad / "anone", os.O_RDWR)
    try:
        assert os.read(fd, 100) == b"none-async"
        assert os.write(fd, b"abcdef") == 6
    finally:
        os.close(fd)
    _alive(bad)


def test_bad_drivers_never_took_the_daemon_down(bad):
    _alive(bad)
    assert "Traceback" in bad.log_text()  # the bugs were logged, with their tracebacks


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
            time.sleep(0.6)
            assert all(p.poll() is None for p in procs), "a read returned without data"
            os.write(writer, b"for one reader")
            assert wait_for(lambda: sum(p.poll() is not None for p in procs) == 1, 5)
            done = next(p for p in procs if p.poll() is not None)
            assert done.returncode == 0 and done.stdout.read().strip() == "14 0 b'for one reader'"
            waiting = next(p for p in procs if p.poll() is None)
            time.sleep(0.3)
            assert waiting.poll() is None
            waiting.send_signal(signal.SIGTERM)
            assert waiting.wait(3) == -signal.SIGTERM
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
            os.close(writer)
