"""Talking to an iofs mount through its control directory (``.iofs``): fault rules, unsynced
bytes, the trace (read to count requests, or followed by a reader during a sample). Plain file
I/O only, so it works the same on the checkout under test and on the baseline."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from typing import Any

from .common import KIB, BenchError, read_text, terminate
from .measure import reader_affinity, run_dd
from .mounts import Fs


def add_rules(m: Fs, lines: list[str]) -> list[int]:
    """Add fault rules through the control file, in one write (all or nothing); their ids."""
    fd = os.open(os.path.join(m.mountpoint, ".iofs", "faults"), os.O_RDWR)
    try:
        os.write(fd, "".join(line + "\n" for line in lines).encode())
        reply = os.read(fd, 1 << 16).decode()
    finally:
        os.close(fd)
    ids = [int(x) for x in reply.split()]
    if len(ids) != len(lines):
        raise BenchError(f"{len(lines)} rules written, the reply was {reply!r}")
    return ids


def rule_listing(m: Fs) -> str:
    """The text of ``.iofs/faults``: one rule per line, with its ``hits=N``."""
    return read_text(os.path.join(m.mountpoint, ".iofs", "faults"))


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unsynced_bytes(m: Fs) -> int:
    """What the mount's ``.iofs/unsynced`` says: bytes a crash would change, summed."""
    text = read_text(os.path.join(m.mountpoint, ".iofs", "unsynced"))
    return sum(int(line.split()[0]) for line in text.splitlines() if line.strip())


def _read_nonblock(fd: int) -> bytes:
    """Everything the trace has for us now (it would block at its end; O_NONBLOCK stops it)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def getxattr_per_write(m: Fs, blocks: int = 64) -> float:
    """getxattr requests the daemon saw per write(2) of ``blocks`` 4 KiB writes to a new file
    (counted in the trace: read to its end before, and what came during, after)."""
    name = "xattr-probe.dat"
    path = os.path.join(m.paths["dir"], name)
    fd = os.open(os.path.join(m.mountpoint, ".iofs", "trace"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        _read_nonblock(fd)
        run_dd("/dev/zero", path, 4 * KIB, blocks, write=False)
        events = [json.loads(line) for line in _read_nonblock(fd).splitlines() if line.strip()]
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
    rel = os.path.relpath(path, m.mountpoint)
    if not any(e.get("path") == rel for e in events):
        raise BenchError(f"the trace shows no request on {rel}")
    return sum(1 for e in events if e.get("op") == "getxattr" and e.get("path") == rel) / blocks


class TraceFollower:
    """``cat MNT/.iofs/trace > /dev/null`` around a sample: started, given the time to read
    what the ring already holds (until its read count has stood still for ``settle`` s: it
    sleeps in a read at the end of the ring), then stopped. BenchError if it exits early."""

    def __init__(self, mountpoint: str, settle: float = 0.1, timeout: float = 30) -> None:
        self.path = os.path.join(mountpoint, ".iofs", "trace")
        self.real = os.path.realpath(self.path)  # as /proc/PID/fd shows it
        self.settle, self.timeout = settle, timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> TraceFollower:
        self.proc = subprocess.Popen(["cat", self.path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=reader_affinity)
        try:
            self._caught_up()
        except BaseException:
            self._stop()
            raise
        return self

    def _rchar(self) -> int | None:
        try:
            with open(f"/proc/{self.proc.pid}/io") as f:
                for line in f:
                    if line.startswith("rchar:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def _opened(self) -> bool:
        fds = f"/proc/{self.proc.pid}/fd"
        try:
            return any(os.readlink(os.path.join(fds, fd)) == self.real for fd in os.listdir(fds))
        except OSError:
            return False

    def _caught_up(self) -> None:
        deadline = time.monotonic() + self.timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the trace reader (cat {self.path}) exited with status "
                                 f"{self.proc.returncode}")
            now = time.monotonic()
            if not self._opened():
                since = now
            else:
                r = self._rchar()
                if r is None:  # /proc/PID/io unreadable: give it time instead
                    time.sleep(1.0)
                    return
                if r != last:
                    last, since = r, now
                elif now - since >= self.settle:
                    return
            time.sleep(0.01)
        raise BenchError(f"the trace reader did not catch up within {self.timeout:.0f} s")

    def _stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        terminate(p)

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        died = self.proc is not None and self.proc.poll() is not None
        self._stop()
        if died and et is None:
            raise BenchError(f"the trace reader exited during the sample (status {self.proc.returncode})")
        return False
