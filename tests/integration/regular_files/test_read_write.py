"""Regular files read and written as POSIX says: create and O_EXCL, byte-exact round trips,
overwrites, truncate, O_TRUNC and O_APPEND, sizes and times seen through every descriptor.
"""

from __future__ import annotations

import os
import stat
import time

import pytest

from tests.support.data import MiB
from tests.support.syscalls import read_file, write_file

# ---- create, write, read --------------------------------------------------------------------------

def test_create_mode_and_excl(d):
    p = d / "new"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.close(fd)
    st = os.stat(p)
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_size == 0
    assert st.st_nlink == 1
    assert st.st_uid == os.geteuid()
    with pytest.raises(FileExistsError):
        os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.close(os.open(d / "masked", os.O_WRONLY | os.O_CREAT, 0o777))
    assert stat.S_IMODE(os.stat(d / "masked").st_mode) == 0o755  # umask 022


def test_write_read_roundtrip(d):
    data = os.urandom(3 * MiB + 123)
    write_file(d / "f", data)
    assert os.stat(d / "f").st_size == len(data)
    assert read_file(d / "f") == data
    fd = os.open(d / "f", os.O_RDONLY)
    try:
        assert os.pread(fd, 10, MiB - 5) == data[MiB - 5:MiB + 5]  # across a chunk boundary
        assert os.pread(fd, 100, len(data) - 3) == data[-3:]
        assert os.pread(fd, 100, len(data)) == b""
        assert os.pread(fd, 100, len(data) + 4096) == b""
    finally:
        os.close(fd)


def test_overwrite_in_the_middle(d):
    write_file(d / "f", b"a" * 10000)
    fd = os.open(d / "f", os.O_RDWR)
    try:
        assert os.pwrite(fd, b"XYZ", 5000) == 3
        assert os.fstat(fd).st_size == 10000
    finally:
        os.close(fd)
    assert read_file(d / "f") == b"a" * 5000 + b"XYZ" + b"a" * 4997


def test_open_missing_is_enoent(d):
    with pytest.raises(FileNotFoundError):
        os.open(d / "nope", os.O_RDONLY)
    with pytest.raises(FileNotFoundError):
        os.stat(d / "nope")


# ---- truncate -------------------------------------------------------------------------------------

def test_truncate_grow_and_shrink(d):
    p = d / "t"
    write_file(p, b"A" * 100)
    os.truncate(p, 10)
    assert os.stat(p).st_size == 10
    assert read_file(p) == b"A" * 10
    os.truncate(p, 5000)  # the bytes cut off must not come back
    assert os.stat(p).st_size == 5000
    assert read_file(p) == b"A" * 10 + bytes(4990)
    fd = os.open(p, os.O_RDWR)
    try:
        os.ftruncate(fd, 3 * MiB)
        assert os.fstat(fd).st_size == 3 * MiB
        assert os.pread(fd, 16, 3 * MiB - 16) == bytes(16)
        os.ftruncate(fd, 0)
        assert os.fstat(fd).st_size == 0
        assert os.pread(fd, 16, 0) == b""
    finally:
        os.close(fd)


@pytest.mark.parametrize("mode", [os.O_WRONLY, os.O_RDWR], ids=["wronly", "rdwr"])
def test_o_trunc(d, mode):
    p = d / "t"
    write_file(p, b"old content")
    fd = os.open(p, mode | os.O_TRUNC)
    try:
        assert os.fstat(fd).st_size == 0
        os.write(fd, b"new")
    finally:
        os.close(fd)
    assert read_file(p) == b"new"


def test_o_append(d):
    p = d / "a"
    write_file(p, b"abc")
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    fd2 = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        assert os.write(fd, b"def") == 3
        assert os.write(fd2, b"ghi") == 3  # its own offset is stale: append still goes to the end
        assert os.write(fd, b"jk") == 2
    finally:
        os.close(fd)
        os.close(fd2)
    assert read_file(p) == b"abcdefghijk"


# ---- times, sizes, attributes ---------------------------------------------------------------------

def test_size_and_mtime_update_on_write(d):
    p = d / "m"
    write_file(p, b"x")
    os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    st0 = os.stat(p)
    assert st0.st_mtime_ns == 1_000_000_000
    fd = os.open(p, os.O_WRONLY)
    try:
        os.pwrite(fd, b"yyyy", 1)
    finally:
        os.close(fd)
    st1 = os.stat(p)
    assert st1.st_size == 5
    assert st1.st_mtime_ns > time.time_ns() - 60 * 10**9
    assert st1.st_ctime_ns >= st1.st_mtime_ns - 10**9


def test_size_seen_through_other_fd(d):
    p = d / "s"
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    fd2 = os.open(p, os.O_RDONLY)
    try:
        os.write(fd, b"z" * 7000)
        assert os.fstat(fd2).st_size == 7000
        assert os.stat(p).st_size == 7000
        assert os.read(fd2, 10000) == b"z" * 7000
    finally:
        os.close(fd)
        os.close(fd2)
