"""System calls of the host that Python's os module lacks: renameat2(2) with its flags, and
the open-file limit a daemon that holds a descriptor per inode raises."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource

RENAME_NOREPLACE = 1 << 0
RENAME_EXCHANGE = 1 << 1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)
if _renameat2 is not None:
    _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint]
    _renameat2.restype = ctypes.c_int


def renameat2(old_dir: int, old: bytes, new_dir: int, new: bytes, flags: int = 0) -> None:
    """rename ``old`` in directory fd ``old_dir`` to ``new`` in ``new_dir`` with renameat2's
    ``flags`` (RENAME_NOREPLACE, RENAME_EXCHANGE); OSError with its errno on failure."""
    if not flags:
        os.rename(old, new, src_dir_fd=old_dir, dst_dir_fd=new_dir)
        return
    if _renameat2 is None:
        raise OSError(errno.EINVAL, "renameat2 is not in this C library")
    if _renameat2(old_dir, old, new_dir, new, flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def raise_open_files_limit() -> int:
    """Raise this process's RLIMIT_NOFILE as far as it may go: both limits to fs.nr_open
    (the kernel's ceiling) where it is allowed (root), else the soft limit to the hard one.
    The soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        with open("/proc/sys/fs/nr_open") as f:
            ceiling = int(f.read())
    except (OSError, ValueError):
        ceiling = 1 << 20
    for want in ((ceiling, ceiling), (hard, hard)):
        if want[0] == resource.RLIM_INFINITY or want[0] <= soft and want[1] <= hard:
            continue
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, want)
            return want[0]
        except (ValueError, OSError):
            continue
    return soft


__all__ = ["renameat2", "raise_open_files_limit", "RENAME_NOREPLACE", "RENAME_EXCHANGE"]
