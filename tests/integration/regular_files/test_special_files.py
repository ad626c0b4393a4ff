"""Nodes made with mknod: device nodes are inert (the mount is nodev and nosuid) yet
behave like nodes (chmod, chown, link, rename), and FIFOs work through the kernel.
"""

from __future__ import annotations

import errno
import os
import stat

import pytest

from iofs.system.mounts import mount_options
from tests.support.syscalls import errno_of


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
        assert errno_of(os.open, p, os.O_RDONLY) == errno.EACCES
        assert errno_of(os.open, p, os.O_WRONLY) == errno.EACCES
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
