"""Fault actions through a real mount: short, errno (after progress as the syscall layer
says), eagain, sleep, corrupt and ok, byte-exact on reads and writes; and a rule added after a
regular file was opened.
"""

from __future__ import annotations

import errno
import os
import time

from iofs.testing import client
from tests.support.cli import add_fault, rule_lines
from tests.support.processes import wait_for, waiting_on_fuse
from tests.support.syscalls import raw_read, raw_write


def test_short_read_is_byte_exact(m):
    add_fault(m, "path=zero op=read action=short:7")
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        assert raw_read(fd, 4096) == (7, bytes(7), 0)
        assert raw_read(fd, 3) == (3, bytes(3), 0)  # smaller than N: the request is whole
    finally:
        os.close(fd)


def test_short_half(m):
    add_fault(m, "path=zero op=read action=short:half")
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        assert raw_read(fd, 4096)[0] == 2048
        assert raw_read(fd, 1)[0] == 1  # half of 1 is still one byte: a short read moves some
    finally:
        os.close(fd)


def test_short_write_is_byte_exact_and_stored(m):
    add_fault(m, "path=mem0 op=write count=1 action=short:5")
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        assert raw_write(fd, b"0123456789") == (5, 0)
        assert os.pread(fd, 10, 0) == b"01234" + os.pread(fd, 5, 5)
        assert os.pwrite(fd, b"abcdefghij", 0) == 10  # count=1: spent
    finally:
        os.close(fd)


def test_errno_after_progress_follows_the_syscall_layer(m):
    """eintr:N after progress is a short count; eio:N after progress is EIO (the bytes moved)."""
    rid = add_fault(m, "path=mem0 op=read action=eintr:3")
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        os.pwrite(fd, b"abcdefgh", 0)
        assert os.pread(fd, 8, 0) == b"abc"
        client.clear_rules(m.path, rid)
        add_fault(m, "path=mem0 op=read action=eio:3")
        assert raw_read(fd, 8) == (-1, b"", errno.EIO)
        client.clear_rules(m.path)
        add_fault(m, "path=mem0 op=read action=eintr")
        assert raw_read(fd, 8) == (-1, b"", errno.EINTR)
    finally:
        os.close(fd)


def test_eagain_only_for_nonblocking_opens_and_its_alias(m):
    add_fault(m, "path=zero op=read action=ewouldblock")  # the alias: the same step as eagain
    assert rule_lines(m)[0].endswith("action=eagain")
    fd = os.open(m / "zero", os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert raw_read(fd, 10) == (-1, b"", errno.EAGAIN)
    finally:
        os.close(fd)
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        assert os.read(fd, 10) == bytes(10)  # a blocking open: served in full
    finally:
        os.close(fd)


def test_sleep_delays_the_request_and_stalls_nothing_else(m):
    add_fault(m, "path=mem0 op=read count=1 action=sleep:2000")
    fd = os.open(m / "mem0", os.O_RDONLY)
    import threading
    took: list[float] = []

    def slow() -> None:
        t0 = time.monotonic()
        os.pread(fd, 4, 0)
        took.append(time.monotonic() - t0)

    t = threading.Thread(target=slow)
    t.start()
    assert wait_for(lambda: waiting_on_fuse(t.native_id, "pread64"), 10)
    t0 = time.monotonic()
    with open(m / "zero", "rb") as f:
        assert f.read(100) == bytes(100)
    assert time.monotonic() - t0 < 1.5  # (stalled, it would take 2 s)
    t.join(5)
    os.close(fd)
    assert took and took[0] >= 1.95


def test_corrupt_read_changes_exactly_one_byte(m):
    data = bytes(range(256)) * 16
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        os.pwrite(fd, data, 0)
        add_fault(m, "path=mem0 op=read count=1 seed=7 action=corrupt:1")
        got = os.pread(fd, 4096, 0)
        assert len(got) == 4096
        diff = [i for i in range(4096) if got[i] != data[i]]
        assert len(diff) == 1, diff
        assert os.pread(fd, 4096, 0) == data  # the device itself is intact
    finally:
        os.close(fd)


def test_corrupt_is_fixed_by_the_seed(m):
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        os.pwrite(fd, bytes(4096), 0)
        runs = []
        for _ in range(2):
            rid = add_fault(m, "path=mem0 op=read seed=99 action=corrupt:3")
            runs.append([os.pread(fd, 4096, 0) for _ in range(3)])
            client.clear_rules(m.path, rid)
        assert runs[0] == runs[1]
        assert len({r for r in runs[0]}) == 3  # each hit changes other bytes
    finally:
        os.close(fd)


def test_corrupt_write_is_stored(m):
    add_fault(m, "path=mem0 op=write count=1 seed=3 action=corrupt:2")
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        assert os.pwrite(fd, b"A" * 64, 0) == 64
        stored = os.pread(fd, 64, 0)
        assert sum(1 for b in stored if b != ord("A")) == 2
    finally:
        os.close(fd)


def test_ok_counts_hits_and_does_nothing(m):
    rid = add_fault(m, "path=zero op=read action=ok")
    with open(m / "zero", "rb", buffering=0) as f:
        for _ in range(3):
            assert f.read(10) == bytes(10)
    assert rule_lines(m) == [f"{rid} hits=3 path=zero op=read seed={_seed(m, rid)} action=ok"]


def _seed(m, rid: int) -> int:
    for line in rule_lines(m):
        if line.startswith(f"{rid} "):
            return int(line.split("seed=")[1].split()[0])
    raise AssertionError(rid)


def test_a_rule_added_after_the_open_of_a_regular_file(m):
    """As the docs say: the open keeps its page cache, and a short read the kernel takes from
    iofs ends the file early for that open; an open made after the rule is direct_io and sees
    every byte, one at a time."""
    p = m / "tmp" / "cached"
    p.write_bytes(b"0123456789")
    fd = os.open(p, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # nothing cached: reads reach iofs
        add_fault(m, "path=tmp/cached op=read action=short:1")
        assert os.read(fd, 100) == b"0"
        assert os.read(fd, 100) == b""  # the kernel took the short read for the end
    finally:
        os.close(fd)
    fd = os.open(p, os.O_RDONLY)
    try:
        assert [os.read(fd, 100) for _ in range(3)] == [b"0", b"1", b"2"]
    finally:
        os.close(fd)
        p.unlink()
