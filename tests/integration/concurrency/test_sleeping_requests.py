"""Requests asleep in drivers: a thousand readers asleep in pipe0 stall nothing else;
max_sleeping bounds the sleepers of each uid; and writes to one device wait behind a sleeping
write (FUSE's inode lock, a documented limit), then go on.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time


from tests.support.data import pattern
from tests.support.mounting import mounted
from tests.support.processes import Bg, in_syscall, kill_all, pid_gone, rss_kib, wait_for, waiting_on_fuse
from tests.support.syscalls import raw_read
from tests.support.users import OTHER_UID
from tests.support.pipes import BLOCKED, CAPACITY, PIPE_BUF, drain_nonblocking

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
            # a request answered now was queued after every read: the daemon has taken them
            # all, and each went to sleep in the driver before this one was served
            took = _answers_at_once(m)
            assert all(r is None for r in results), "a reader returned while the pipe was empty"
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
            assert wait_for(lambda: waiting_on_fuse(other.pid, "read") or other.poll() is not None,
                            10)
            assert not wait_for(lambda: other.poll() is not None, BLOCKED), \
                "uid 1000's read did not sleep"
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
        assert not wait_for(lambda: probe.poll() is not None, 1.0), \
            "the O_NONBLOCK write did not wait behind the sleeping one"
        assert in_syscall(probe.pid, "write")
        while not bg.done:  # room for the sleeping write: it goes in, and the lock is free
            drain_nonblocking(r)
            time.sleep(0.05)
        out, _ = probe.communicate(timeout=10)
        assert out.strip() == b"50"
    finally:
        # release everything: the sleeping write gets its room, then the stuck one goes in
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ((bg is not None and not bg.done)
                                               or (probe is not None and probe.poll() is None)):
            drain_nonblocking(r)
            time.sleep(0.05)
        os.close(wn)
        os.close(r)
        if bg is not None:
            bg.join(10)
        os.close(wb)
        if probe is not None:
            kill_all([probe])
            probe.stdout.close()

