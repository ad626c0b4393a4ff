"""What the README lists as not supported fails with a clear errno: fallocate(2) and
O_TMPFILE (EOPNOTSUPP; posix_fallocate works); and a zero-length write never reaches a driver.
"""

from __future__ import annotations

import ctypes
import errno
import os

from tests.support.syscalls import errno_of, libc

_libc = libc()


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
    assert errno_of(os.open, m / "tmp", os.O_TMPFILE | os.O_RDWR, 0o600) == errno.EOPNOTSUPP
    fd = os.open(m / "full", os.O_WRONLY)
    try:
        assert os.write(fd, b"") == 0
        assert errno_of(os.write, fd, b"x") == errno.ENOSPC
    finally:
        os.close(fd)
