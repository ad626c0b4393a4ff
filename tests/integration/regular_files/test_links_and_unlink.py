"""Hard links, symbolic links and unlink: a file unlinked while the kernel still holds it
(an open descriptor, an O_PATH one) keeps its data, and its memory comes back only when the
kernel forgets it.
"""

from __future__ import annotations

import errno
import os
import stat

import pytest

from tests.support.backing import statfs_of
from tests.support.data import MiB
from tests.support.mounting import mounted
from tests.support.processes import wait_for
from tests.support.syscalls import read_file, write_file


def _free(m) -> int:
    s = statfs_of(m)
    return s.f_bfree * s.f_bsize


# ---- unlink ---------------------------------------------------------------------------------------

def test_unlink_open_file_still_readable(m, d):
    data = os.urandom(2 * MiB)
    write_file(d / "u", data)
    fd = os.open(d / "u", os.O_RDWR)
    try:
        free_before_unlink = _free(m)
        os.unlink(d / "u")
        assert os.listdir(d) == []
        with pytest.raises(FileNotFoundError):
            os.stat(d / "u")
        assert os.fstat(fd).st_nlink == 0
        assert os.pread(fd, len(data) + 10, 0) == data
        assert os.pwrite(fd, b"still writable", 0) == 14
        assert os.pread(fd, 14, 0) == b"still writable"
        assert _free(m) == free_before_unlink  # the memory is held by the open file
    finally:
        os.close(fd)
    # the last close frees it: close(2) returns before the kernel's RELEASE and FORGET reach
    # the daemon, so the memory comes back a moment later, never sooner than that
    assert wait_for(lambda: _free(m) >= free_before_unlink + 2 * MiB, 5)


def test_unlink_errors(d):
    os.mkdir(d / "dir")
    with pytest.raises(IsADirectoryError):
        os.unlink(d / "dir")
    with pytest.raises(FileNotFoundError):
        os.unlink(d / "missing")


# ---- links ----------------------------------------------------------------------------------------

def test_hard_links(d):
    write_file(d / "orig", b"shared")
    os.link(d / "orig", d / "alias")
    a, b = os.stat(d / "orig"), os.stat(d / "alias")
    assert a.st_ino == b.st_ino
    assert a.st_nlink == b.st_nlink == 2
    fd = os.open(d / "alias", os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b" bytes")
    finally:
        os.close(fd)
    assert read_file(d / "orig") == b"shared bytes"
    os.unlink(d / "orig")
    assert os.stat(d / "alias").st_nlink == 1
    assert read_file(d / "alias") == b"shared bytes"
    with pytest.raises(FileExistsError):
        os.link(d / "alias", d / "alias")
    os.mkdir(d / "dir")
    with pytest.raises(PermissionError):
        os.link(d / "dir", d / "dirlink")


def test_symlinks(d):
    write_file(d / "target", b"via symlink")
    os.symlink("target", d / "rel")
    os.symlink(str(d / "target"), d / "abs")
    os.symlink("nowhere", d / "dangling")
    assert os.readlink(d / "rel") == "target"
    assert os.readlink(d / "abs") == str(d / "target")
    st = os.lstat(d / "rel")
    assert stat.S_ISLNK(st.st_mode)
    assert st.st_size == len("target")
    assert read_file(d / "rel") == b"via symlink"
    assert read_file(d / "abs") == b"via symlink"
    with pytest.raises(FileNotFoundError):
        read_file(d / "dangling")
    with pytest.raises(OSError) as ei:
        os.readlink(d / "target")
    assert ei.value.errno == errno.EINVAL
    os.unlink(d / "rel")
    assert read_file(d / "target") == b"via symlink"


DATA = b"abcdefghijklmnopqrstuvwxyz"


# ---- unlinked files the kernel still holds keep their data ----------------------------------------

def test_unlinked_file_held_by_o_path_keeps_its_data(m):
    """tmpfs: 26 and 26. The data must live until the kernel forgets the inode, not only
    while it has names or opens."""
    p = m / "tmp" / "opath"
    p.write_bytes(DATA)
    op = os.open(p, os.O_PATH)
    try:
        os.unlink(p)
        assert os.fstat(op).st_size == 26
        fd = os.open(f"/proc/self/fd/{op}", os.O_RDONLY)
        try:
            assert os.read(fd, 100) == DATA
        finally:
            os.close(fd)
        assert os.fstat(op).st_nlink == 0
    finally:
        os.close(op)


def test_unlinked_file_memory_comes_back_when_the_kernel_forgets_it(tmp_path):
    cfg = '[options]\nmax_memory = "4M"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as mnt:
        before = os.statvfs(mnt.path).f_bfree
        p = mnt / "tmp" / "big"
        fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
        os.write(fd, b"x" * (3 << 20))
        os.unlink(p)
        assert os.statvfs(mnt.path).f_bfree < before  # still held by the open
        assert os.pread(fd, 4, 0) == b"xxxx"
        os.close(fd)
        # the kernel forgets the unlinked inode after the last close; then it is all back
        assert wait_for(lambda: os.statvfs(mnt.path).f_bfree == before, 5)
