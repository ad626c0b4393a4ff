"""Extended attributes as tmpfs keeps them: the user, trusted and security namespaces,
XATTR_CREATE and XATTR_REPLACE, ERANGE and size queries, E2BIG and ENOSPC, their memory counted
against max_memory, on directories, symbolic links and device nodes; and xattr = false.
"""

from __future__ import annotations

import ctypes
import errno
import os

import pytest

from tests.support.backing import backed
from tests.support.mounting import mounted
from tests.support.processes import wait_for
from tests.support.syscalls import errno_of, libc

_libc = libc()


def _getxattr_into(path: str, name: str, size: int) -> tuple[int, int]:
    buf = ctypes.create_string_buffer(max(size, 1))
    r = _libc.getxattr(path.encode(), name.encode(), buf, ctypes.c_size_t(size))
    return r, (ctypes.get_errno() if r < 0 else 0)


def _listxattr_into(path: str, size: int) -> tuple[int, int]:
    buf = ctypes.create_string_buffer(max(size, 1))
    r = _libc.listxattr(path.encode(), buf, ctypes.c_size_t(size))
    return r, (ctypes.get_errno() if r < 0 else 0)


@pytest.fixture
def xfile(m):
    p = m / "tmp" / "xattrs"
    p.write_bytes(b"")
    try:
        yield p
    finally:
        os.unlink(p)


def test_xattr_set_get_list_remove(xfile):
    os.setxattr(xfile, "user.colour", b"blue")
    os.setxattr(xfile, "trusted.level", b"\x00\x01")
    os.setxattr(xfile, "security.label", b"s0")
    assert os.getxattr(xfile, "user.colour") == b"blue"
    assert os.getxattr(xfile, "trusted.level") == b"\x00\x01"
    assert sorted(os.listxattr(xfile)) == ["security.label", "trusted.level", "user.colour"]
    os.setxattr(xfile, "user.colour", b"red")  # replace
    assert os.getxattr(xfile, "user.colour") == b"red"
    os.setxattr(xfile, "user.empty", b"")
    assert os.getxattr(xfile, "user.empty") == b""
    os.removexattr(xfile, "user.colour")
    assert errno_of(os.getxattr, xfile, "user.colour") == errno.ENODATA
    assert errno_of(os.removexattr, xfile, "user.colour") == errno.ENODATA
    assert "user.colour" not in os.listxattr(xfile)


def test_xattr_create_and_replace_flags(xfile):
    os.setxattr(xfile, "user.a", b"1", os.XATTR_CREATE)
    assert errno_of(os.setxattr, xfile, "user.a", b"2", os.XATTR_CREATE) == errno.EEXIST
    assert os.getxattr(xfile, "user.a") == b"1"
    assert errno_of(os.setxattr, xfile, "user.b", b"2", os.XATTR_REPLACE) == errno.ENODATA
    os.setxattr(xfile, "user.a", b"3", os.XATTR_REPLACE)
    assert os.getxattr(xfile, "user.a") == b"3"


def test_xattr_small_buffer_is_erange_and_size_query_works(xfile):
    os.setxattr(xfile, "user.long", b"0123456789")
    assert _getxattr_into(str(xfile), "user.long", 0) == (10, 0)  # size query
    assert _getxattr_into(str(xfile), "user.long", 4) == (-1, errno.ERANGE)
    assert _getxattr_into(str(xfile), "user.long", 10) == (10, 0)
    need, err = _listxattr_into(str(xfile), 0)
    assert err == 0 and need == len(b"user.long\0")
    assert _listxattr_into(str(xfile), 3) == (-1, errno.ERANGE)


def test_xattr_limits_e2big_and_enospc(m, xfile):
    assert errno_of(os.setxattr, xfile, "user.big", b"x" * 65537) == errno.E2BIG
    os.setxattr(xfile, "user.max", b"x" * 65536)  # exactly the largest value
    if backed(m):
        return  # the rest is iofs's own bound on the memory of one node's attributes
    for k in range(1, 3):
        os.setxattr(xfile, f"user.v{k}", b"y" * 65536)
    # 256 KiB per node: the fourth full value does not fit
    assert errno_of(os.setxattr, xfile, "user.v3", b"z" * 65536) == errno.ENOSPC
    os.setxattr(xfile, "user.v3", b"z" * 1000)  # a small one still does
    os.removexattr(xfile, "user.v1")
    os.setxattr(xfile, "user.v4", b"w" * 60000)  # room again after a removal


def test_xattr_namespace_prefix_alone_is_einval(xfile):
    """tmpfs: a name that is only a namespace prefix is EINVAL, not EOPNOTSUPP."""
    for name in ("user.", "trusted.", "security."):
        assert errno_of(os.setxattr, xfile, name, b"v") == errno.EINVAL
        assert errno_of(os.getxattr, xfile, name) == errno.EINVAL
    assert errno_of(os.setxattr, xfile, "system.other", b"v") in (errno.EOPNOTSUPP, errno.EINVAL)


def test_xattrs_count_against_max_memory(tmp_path):
    cfg = '[options]\nmax_memory = "100K"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as mnt:
        a, b = mnt / "tmp" / "a", mnt / "tmp" / "b"
        a.write_bytes(b"")
        b.write_bytes(b"")
        os.setxattr(a, "user.v", b"x" * 60000)
        assert errno_of(os.setxattr, b, "user.v", b"x" * 60000) == errno.ENOSPC
        os.unlink(a)  # its attributes go with it, once the kernel forgets it

        def set_big() -> bool:
            try:
                os.setxattr(b, "user.v", b"x" * 60000)
                return True
            except OSError:
                return False
        assert wait_for(set_big, 5)
        assert os.getxattr(b, "user.v") == b"x" * 60000


def test_xattrs_on_directories_and_symlinks(m):
    d = m / "tmp" / "xdir"
    d.mkdir()
    link = m / "tmp" / "xlink"
    link.symlink_to("xdir")
    try:
        os.setxattr(d, "user.d", b"dir")
        assert os.getxattr(d, "user.d") == b"dir"
        # the VFS keeps user.* off symlinks; trusted.* and security.* are for everyone
        assert errno_of(os.setxattr, link, "user.l", b"x", follow_symlinks=False) == errno.EPERM
        os.setxattr(link, "trusted.l", b"link", follow_symlinks=False)
        assert os.getxattr(link, "trusted.l", follow_symlinks=False) == b"link"
        assert os.listxattr(link, follow_symlinks=False) == ["trusted.l"]
        assert os.getxattr(link, "user.d") == b"dir"  # followed to the directory
        os.rename(d, m / "tmp" / "xdir2")
        assert os.getxattr(m / "tmp" / "xdir2", "user.d") == b"dir"
    finally:
        link.unlink()
        (m / "tmp" / "xdir2").rmdir() if (m / "tmp" / "xdir2").exists() else d.rmdir()


def test_xattr_on_a_device_node_of_the_tree(m):
    os.setxattr(m / "mem0", "trusted.note", b"dev")
    assert os.getxattr(m / "mem0", "trusted.note") == b"dev"
    os.removexattr(m / "mem0", "trusted.note")


def test_xattr_false_answers_enosys_once_and_writes_ask_nothing(tmp_path):
    """[options] xattr = false: extended attributes are not supported (EOPNOTSUPP), and the
    kernel stops asking for security.capability before each write(2)."""
    from iofs.testing import client

    cfg = '[options]\nxattr = false\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as mnt:
        p = mnt / "tmp" / "f"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            for _ in range(5):
                os.write(fd, b"x" * 100)
        finally:
            os.close(fd)
        assert errno_of(os.setxattr, p, "user.a", b"1") == errno.EOPNOTSUPP
        assert errno_of(os.getxattr, p, "user.a") == errno.EOPNOTSUPP
        ops = [e["op"] for e in client.read_trace(mnt.path) if e["path"] == "tmp/f"]
        assert ops.count("write") == 5 and ops.count("getxattr") <= 1
    (tmp_path / "on").mkdir()
    with mounted(tmp_path / "on") as mnt:
        p = mnt / "tmp" / "f"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            for _ in range(5):
                os.write(fd, b"x" * 100)
        finally:
            os.close(fd)
        ops = [e["op"] for e in client.read_trace(mnt.path) if e["path"] == "tmp/f"]
        assert ops.count("getxattr") == 5  # xattr = true: one per write(2), as the docs say
