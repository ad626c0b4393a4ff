"""System calls as a program makes them: once, without Python's retry on EINTR, and the errno
a call fails with."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from typing import Iterator

import pytest

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4


def errno_of(fn, *args, **kw) -> int:
    """The errno of the OSError ``fn(*args, **kw)`` raises (the test fails if it raises none)."""
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    return ei.value.errno


@contextlib.contextmanager
def opened(path, flags: int = os.O_RDWR, mode: int = 0o644) -> Iterator[int]:
    """A file descriptor of ``path`` for a block, closed after it."""
    fd = os.open(path, flags, mode)
    try:
        yield fd
    finally:
        os.close(fd)


def raw_read(fd: int, n: int) -> tuple[int, bytes, int]:
    """read(2) called once, without Python's retry on EINTR: (return value, data, errno)."""
    buf = ctypes.create_string_buffer(n)
    ctypes.set_errno(0)
    r = _libc.read(fd, buf, ctypes.c_size_t(n))
    err = ctypes.get_errno()
    return r, (buf.raw[:r] if r > 0 else b""), (err if r < 0 else 0)


def raw_write(fd: int, data: bytes) -> tuple[int, int]:
    """write(2) called once, without Python's retry on EINTR: (return value, errno)."""
    ctypes.set_errno(0)
    r = _libc.write(fd, data, ctypes.c_size_t(len(data)))
    return r, (ctypes.get_errno() if r < 0 else 0)


def raw_open(path, flags: int = os.O_RDONLY, mode: int = 0o644) -> tuple[int, int]:
    """open(2) called once (Python's os.open retries on EINTR): (descriptor or -1, errno)."""
    ctypes.set_errno(0)
    r = _libc.open(os.fsencode(path), ctypes.c_int(flags), ctypes.c_uint(mode))
    return r, (ctypes.get_errno() if r < 0 else 0)


def raw_call(name: str, *args) -> int:
    """The libc call ``name(*args)`` (fsync, unlink, ...) once, without Python's retry on
    EINTR: 0 or its errno. Paths are given as bytes."""
    ctypes.set_errno(0)
    r = getattr(_libc, name)(*args)
    return 0 if r == 0 else ctypes.get_errno()


def renameat2(old: str, new: str, flags: int) -> int:
    """renameat2(AT_FDCWD, old, AT_FDCWD, new, flags): 0 or the errno."""
    AT_FDCWD = -100
    ctypes.set_errno(0)
    r = _libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), ctypes.c_uint(flags))
    return 0 if r == 0 else ctypes.get_errno()


def libc() -> ctypes.CDLL:
    """The C library, with errno (for calls os does not offer: fallocate, getxattr into a
    buffer of a given size)."""
    return _libc


__all__ = ["errno_of", "opened", "raw_read", "raw_write", "raw_open", "raw_call", "renameat2",
           "libc", "RENAME_NOREPLACE", "RENAME_EXCHANGE", "RENAME_WHITEOUT", "write_file", "read_file"]


def write_file(path, data: bytes, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
               sync: bool = False) -> None:
    """One write(2) of all of ``data`` to ``path`` (created 0644, truncated), asserted whole;
    with ``sync``, an fsync before the close."""
    fd = os.open(path, flags, 0o644)
    try:
        assert os.write(fd, data) == len(data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()
