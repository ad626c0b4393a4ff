"""Each op a rule may fault reaches the system call that made it: fsync, create, mkdir,
symlink, getattr, unlink, rename, link, setattr, truncate, open, readdir, rmdir, flush (what
close returns), statfs, poll and lookup; erestart on any of them is EINTR.
"""

from __future__ import annotations

import errno
import os
import time

import pytest

from iofs.testing import client
from tests.support.cli import add_fault
from tests.support.syscalls import errno_of, raw_call, raw_open


def test_fsync_eio_is_seen_by_fsync(m):
    add_fault(m, "path=tmp/journal op=fsync action=eio")
    fd = os.open(m / "tmp" / "journal", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"entry")
        assert errno_of(os.fsync, fd) == errno.EIO
        assert os.pread(fd, 5, 0) == b"entry"
    finally:
        os.close(fd)
        os.unlink(m / "tmp" / "journal")


HELD: list[int] = []


@pytest.mark.parametrize("op,code,call", [
    ("create", errno.ENOSPC, lambda t: os.open(t / "new", os.O_CREAT | os.O_WRONLY, 0o644)),
    ("mkdir", errno.EDQUOT, lambda t: os.mkdir(t / "newdir")),
    ("symlink", errno.EIO, lambda t: os.symlink("x", t / "newlink")),
    ("getattr", errno.EIO, lambda t: os.fstat(HELD[0])),
    ("unlink", errno.EBUSY, lambda t: os.unlink(t / "victim")),
    ("rename", errno.EXDEV, lambda t: os.rename(t / "victim", t / "renamed")),
    ("link", errno.EMLINK, lambda t: os.link(t / "victim", t / "hard")),
    ("setattr", errno.EPERM, lambda t: os.chmod(t / "victim", 0o600)),
    ("truncate", errno.EIO, lambda t: os.truncate(t / "victim", 0)),
    ("open", errno.EACCES, lambda t: os.open(t / "victim", os.O_RDONLY)),
    ("readdir", errno.EIO, lambda t: os.listdir(t)),
    ("rmdir", errno.EBUSY, lambda t: os.rmdir(t / "emptydir")),
])
def test_each_op_reaches_its_syscall(m, op, code, call):
    t = m / "tmp" / f"ops-{op}"
    t.mkdir()
    (t / "victim").write_bytes(b"v")
    (t / "emptydir").mkdir()
    # fstat of a descriptor asks the daemon once the cached attributes are 1 s old (a stat of
    # a path would look the name up again instead)
    HELD[:] = [os.open(t / "victim", os.O_RDONLY)]
    try:
        target = "tmp/ops-*/*" if op not in ("readdir",) else "tmp/ops-*"
        add_fault(m, f"path={target} op={op} action={errno.errorcode[code].lower()}")
        time.sleep(1.1)  # attributes cached by earlier lookups run out (getattr)
        assert errno_of(call, t) == code
    finally:
        client.clear_rules(m.path)
        os.close(HELD.pop())
        for p in sorted(t.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
        t.rmdir()


def test_erestart_on_a_non_data_op_is_eintr(m):
    """FUSE cannot restart a call: an erestart rule on open, fsync or unlink reaches the
    program as EINTR (errno 85 is the kernel's own), and the trace says what it got."""
    t = m / "tmp" / "restart"
    t.mkdir()
    (t / "f").write_bytes(b"data")
    fd = os.open(t / "f", os.O_RDWR)
    try:
        for op in ("open", "fsync", "unlink"):
            add_fault(m, f"path=tmp/restart/f op={op} action=erestart")
        assert raw_open(t / "f", os.O_RDONLY) == (-1, errno.EINTR)
        assert raw_call("fsync", fd) == errno.EINTR
        assert raw_call("unlink", os.fsencode(t / "f")) == errno.EINTR
        faulted = [(e["op"], e["errno"]) for e in client.read_trace(m.path)
                   if e["path"] == "tmp/restart/f" and e["rule"] is not None]
        assert faulted == [("open", errno.EINTR), ("fsync", errno.EINTR), ("unlink", errno.EINTR)]
    finally:
        client.clear_rules(m.path)
        os.close(fd)
        os.unlink(t / "f")
        t.rmdir()


def test_flush_error_is_what_close_returns(m):
    add_fault(m, "path=zero op=flush action=eio")
    fd = os.open(m / "zero", os.O_RDONLY)
    assert errno_of(os.close, fd) == errno.EIO


def test_statfs_and_poll(m):
    add_fault(m, "op=statfs action=eio")
    assert errno_of(os.statvfs, m.path) == errno.EIO
    client.clear_rules(m.path)
    add_fault(m, "path=pipe0 op=poll action=eio")
    import select
    fd = os.open(m / "pipe0", os.O_RDONLY | os.O_NONBLOCK)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(1000)[0][1] & select.POLLERR
    finally:
        os.close(fd)


def test_sleep_on_a_non_data_op(m):
    add_fault(m, "path=mem0 op=lookup count=1 action=sleep:400")
    time.sleep(1.1)  # the cached name runs out: the stat looks it up again
    t0 = time.monotonic()
    os.stat(m / "mem0")
    assert time.monotonic() - t0 >= 0.35
