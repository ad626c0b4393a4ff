"""Regular files and directories behave like tmpfs: unlinked files the kernel still holds keep
their data; mknod of device nodes (inert: the mount is nodev); extended attributes; and the
documented edges: truncate of a device, SEEK_DATA/SEEK_HOLE, splice/sendfile/copy_file_range."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat

import pytest

from _helpers_b import mounted, renameat2, wait_for

from iofs.system.mounts import mount_options

DATA = b"abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("tmpfs-like")) as mnt:
        yield mnt


def _errno(fn, *args, **kw) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    return ei.value.errno


# ---- no data loss for unlinked files the kernel still holds ----------------------------------

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


# ---- device nodes made with mknod ------------------------------------------------------------

def test_the_mount_is_nodev_and_nosuid(m):
    opts = mount_options(str(m.path))
    assert {"nodev", "nosuid"} <= opts, opts


@pytest.mark.parametrize("kind,dev", [(stat.S_IFCHR, (1, 3)), (stat.S_IFBLK, (7, 0))])
def test_mknod_device_node_is_inert_and_behaves_like_a_node(m, kind, dev):
    p = m / "tmp" / f"dev-{kind:o}"
    os.mknod(p, kind | 0o640, os.makedev(*dev))
    try:
        st = os.lstat(p)
        assert stat.S_IFMT(st.st_mode) == kind
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == dev
        assert st.st_size == 0
        # nodev: opening it never reaches the host's device (1,3 is /dev/null, 7,0 a loop)
        assert _errno(os.open, p, os.O_RDONLY) == errno.EACCES
        assert _errno(os.open, p, os.O_WRONLY) == errno.EACCES
        os.chmod(p, 0o600)
        assert stat.S_IMODE(os.lstat(p).st_mode) == 0o600
        os.chown(p, 1000, 1000)
        assert (os.lstat(p).st_uid, os.lstat(p).st_gid) == (1000, 1000)
        q = m / "tmp" / f"dev-{kind:o}-link"
        os.link(p, q)
        assert os.lstat(p).st_nlink == 2 and os.lstat(q).st_rdev == st.st_rdev
        r = m / "tmp" / f"dev-{kind:o}-moved"
        os.rename(q, r)
        assert os.lstat(r).st_rdev == st.st_rdev and not os.path.lexists(q)
        os.unlink(r)
        assert os.lstat(p).st_nlink == 1
    finally:
        os.unlink(p)
    assert not os.path.lexists(p)


def test_mknod_fifo_still_works(m):
    p = m / "tmp" / "fifo"
    os.mkfifo(p)
    try:
        assert stat.S_ISFIFO(os.lstat(p).st_mode)
        r = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
        w = os.open(p, os.O_WRONLY)
        os.write(w, b"through the kernel")
        assert os.read(r, 100) == b"through the kernel"
        os.close(w)
        os.close(r)
    finally:
        os.unlink(p)


# ---- extended attributes ---------------------------------------------------------------------

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


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
    assert _errno(os.getxattr, xfile, "user.colour") == errno.ENODATA
    assert _errno(os.removexattr, xfile, "user.colour") == errno.ENODATA
    assert "user.colour" not in os.listxattr(xfile)


def test_xattr_create_and_replace_flags(xfile):
    os.setxattr(xfile, "user.a", b"1", os.XATTR_CREATE)
    assert _errno(os.setxattr, xfile, "user.a", b"2", os.XATTR_CREATE) == errno.EEXIST
    assert os.getxattr(xfile, "user.a") == b"1"
    assert _errno(os.setxattr, xfile, "user.b", b"2", os.XATTR_REPLACE) == errno.ENODATA
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


def test_xattr_limits_e2big_and_enospc(xfile):
    assert _errno(os.setxattr, xfile, "user.big", b"x" * 65537) == errno.E2BIG
    os.setxattr(xfile, "user.max", b"x" * 65536)  # exactly the largest value
    for k in range(1, 3):
        os.setxattr(xfile, f"user.v{k}", b"y" * 65536)
    # 256 KiB per node: the fourth full value does not fit
    assert _errno(os.setxattr, xfile, "user.v3", b"z" * 65536) == errno.ENOSPC
    os.setxattr(xfile, "user.v3", b"z" * 1000)  # a small one still does
    os.removexattr(xfile, "user.v1")
    os.setxattr(xfile, "user.v4", b"w" * 60000)  # room again after a removal


def test_xattr_namespace_prefix_alone_is_einval(xfile):
    """tmpfs: a name that is only a namespace prefix is EINVAL, not EOPNOTSUPP."""
    for name in ("user.", "trusted.", "security."):
        assert _errno(os.setxattr, xfile, name, b"v") == errno.EINVAL
        assert _errno(os.getxattr, xfile, name) == errno.EINVAL
    assert _errno(os.setxattr, xfile, "system.other", b"v") in (errno.EOPNOTSUPP, errno.EINVAL)


RENAME_WHITEOUT = 4


def test_rename_whiteout_is_einval_not_a_plain_rename(m):
    """RENAME_WHITEOUT (overlayfs) asks for a whiteout left at the old name. iofs makes none,
    so it refuses the call, as a filesystem without whiteouts does: a plain rename would leave
    overlayfs with the lower file showing through."""
    d = m / "tmp" / "whiteout"
    d.mkdir()
    try:
        (d / "a").write_bytes(b"A")
        assert renameat2(str(d / "a"), str(d / "b"), RENAME_WHITEOUT) == errno.EINVAL
        assert sorted(os.listdir(d)) == ["a"]
        assert renameat2(str(d / "a"), str(d / "b"), RENAME_WHITEOUT | 1) == errno.EINVAL
        assert sorted(os.listdir(d)) == ["a"]
    finally:
        for name in os.listdir(d):
            os.unlink(d / name)
        d.rmdir()


def test_xattrs_count_against_max_memory(tmp_path):
    cfg = '[options]\nmax_memory = "100K"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as mnt:
        a, b = mnt / "tmp" / "a", mnt / "tmp" / "b"
        a.write_bytes(b"")
        b.write_bytes(b"")
        os.setxattr(a, "user.v", b"x" * 60000)
        assert _errno(os.setxattr, b, "user.v", b"x" * 60000) == errno.ENOSPC
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
        assert _errno(os.setxattr, link, "user.l", b"x", follow_symlinks=False) == errno.EPERM
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


# ---- devices refuse truncation; O_TRUNC is ignored -------------------------------------------

def test_truncate_of_a_device_is_einval_and_o_trunc_is_ignored(m):
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        os.pwrite(fd, b"kept", 0)
        assert _errno(os.ftruncate, fd, 0) == errno.EINVAL
    finally:
        os.close(fd)
    assert _errno(os.truncate, m / "mem0", 10) == errno.EINVAL
    assert _errno(os.truncate, m / "zero", 0) == errno.EINVAL
    fd = os.open(m / "mem0", os.O_RDWR | os.O_TRUNC)  # as a character device: no effect
    try:
        assert os.pread(fd, 4, 0) == b"kept"
        assert os.fstat(fd).st_size == 64 << 20
    finally:
        os.close(fd)


# ---- documented edges ------------------------------------------------------------------------

def test_seek_data_and_seek_hole_are_the_kernels_fallback(m):
    """pyfuse3 has no lseek handler, so the kernel answers SEEK_DATA/SEEK_HOLE itself: the
    whole file is data, the only hole is at its end (as the README says)."""
    p = m / "tmp" / "sparse"
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"x", 1 << 20)  # a 1 MiB hole, then one byte
        size = (1 << 20) + 1
        assert os.lseek(fd, 0, os.SEEK_DATA) == 0
        assert os.lseek(fd, 0, os.SEEK_HOLE) == size
        assert os.lseek(fd, 4096, os.SEEK_DATA) == 4096
        assert _errno(os.lseek, fd, size, os.SEEK_DATA) == errno.ENXIO
        assert os.fstat(fd).st_blocks * 512 <= 1 << 20  # yet the hole holds no memory
    finally:
        os.close(fd)
        os.unlink(p)


@pytest.mark.parametrize("node", ["zero", "random"])
def test_splice_and_sendfile_need_o_direct(m, node):
    """The kernel serves splice and sendfile of a direct_io file from the page cache, bounded
    by st_size (0 for a device): end of file at once. Opened O_DIRECT, the kernel reads
    through the driver instead (the README's workaround)."""
    r, w = os.pipe()
    out = os.open(m / "tmp" / f"sent-{node}", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        fd = os.open(m / node, os.O_RDONLY)
        try:
            assert os.splice(fd, w, 4096) == 0
            assert os.sendfile(out, fd, None, 4096) == 0
        finally:
            os.close(fd)
        fd = os.open(m / node, os.O_RDONLY | os.O_DIRECT)
        try:
            assert os.splice(fd, w, 4096) == 4096
            assert len(os.read(r, 8192)) == 4096
            assert os.sendfile(out, fd, None, 5000) == 5000
            assert os.fstat(out).st_size == 5000
            # copy_file_range clamps to the source's st_size before anything else: always 0
            assert os.copy_file_range(fd, out, 4096) == 0
        finally:
            os.close(fd)
    finally:
        os.close(out)
        os.close(r)
        os.close(w)
        os.unlink(m / "tmp" / f"sent-{node}")
    if node == "zero":
        assert (m / "tmp").exists()


def test_splice_from_pipe0_with_o_direct_moves_the_data_waiting(m):
    """Each splice of an O_DIRECT pipe0 is a read of the driver: FIFO order, nothing cached."""
    r, w = os.pipe()
    direct = os.open(m / "pipe0", os.O_RDONLY | os.O_DIRECT)
    writer = os.open(m / "pipe0", os.O_WRONLY)
    try:
        os.write(writer, b"waiting in pipe0")
        assert os.splice(direct, w, 7) == 7
        assert os.read(r, 100) == b"waiting"
        os.write(writer, b", then more")
        assert os.splice(direct, w, 100) == 20
        assert os.read(r, 100) == b" in pipe0, then more"
    finally:
        for fd in (writer, direct, r, w):
            os.close(fd)


def test_what_pyfuse3_cannot_do_is_a_clear_errno(m):
    """The README's list of what is not supported: fallocate(2) and O_TMPFILE (pyfuse3 has no
    handler for them) fail with EOPNOTSUPP (posix_fallocate works: glibc writes zeros); a zero-length write never reaches a driver, so
    /full cannot refuse it."""
    fd = os.open(m / "tmp" / "falloc", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        r = _libc.fallocate(fd, 0, ctypes.c_long(0), ctypes.c_long(4096))
        assert (r, ctypes.get_errno()) == (-1, errno.EOPNOTSUPP)
        os.posix_fallocate(fd, 0, 4096)  # glibc falls back to writing zeros: that works
        assert os.fstat(fd).st_size == 4096
    finally:
        os.close(fd)
        os.unlink(m / "tmp" / "falloc")
    assert _errno(os.open, m / "tmp", os.O_TMPFILE | os.O_RDWR, 0o600) == errno.EOPNOTSUPP
    fd = os.open(m / "full", os.O_WRONLY)
    try:
        assert os.write(fd, b"") == 0
        assert _errno(os.write, fd, b"x") == errno.ENOSPC
    finally:
        os.close(fd)


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
        assert _errno(os.setxattr, p, "user.a", b"1") == errno.EOPNOTSUPP
        assert _errno(os.getxattr, p, "user.a") == errno.EOPNOTSUPP
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
