"""``struct iovec``: one segment of a request, shared by the BSD face (:mod:`iofs.core.uio`)
and the Linux face (:mod:`iofs.core.iov_iter`, where a kvec has the same layout)."""

from __future__ import annotations

from typing import Any

from .segments import as_bytes_view


class IoVec:
    """``struct iovec``: ``iov_base`` (a flat byte memoryview of ``base``) and ``iov_len``.

    ``iov_len`` defaults to the whole buffer; a smaller one describes a prefix of it.
    ``iov_base`` is the described bytes. Underneath, as a C base pointer does, the iovec keeps the
    program's own view of the whole buffer and slices only when touched, so a program that
    releases its memoryview makes the iovec fault.
    """

    __slots__ = ("_buf", "_off", "iov_len")

    def __init__(self, base: Any, iov_len: int | None = None) -> None:
        mv = as_bytes_view(base)
        if iov_len is None:
            iov_len = len(mv)
        elif not 0 <= iov_len <= len(mv):
            raise ValueError(f"iov_len {iov_len} outside the buffer of {len(mv)} bytes")
        self._buf = mv
        self._off = 0
        self.iov_len = iov_len

    @classmethod
    def _at(cls, buf: memoryview, off: int, iov_len: int) -> IoVec:
        v = cls.__new__(cls)
        v._buf, v._off, v.iov_len = buf, off, iov_len
        return v

    @property
    def iov_base(self) -> memoryview:
        return self._buf[self._off:self._off + self.iov_len]

    def __repr__(self) -> str:
        return f"IoVec(<{self.iov_len} bytes>)"


__all__ = ["IoVec"]
