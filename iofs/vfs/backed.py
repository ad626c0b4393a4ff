"""backed: the driver of a regular file of a host directory, in the style of FreeBSD's
vnode-backed md(4) and the ``vn`` driver: the request's uio goes down to the backing file.

Each open opens the host file (through the node's O_PATH descriptor, with the open's access
mode: read-only, or read-write for any open that may write) and keeps the descriptor in its
cdevpriv; the destructor closes it. ``d_read``/``d_write`` are one ``preadv(2)``/``pwritev(2)``
straight into the reply buffer or out of the request's bytes
(:func:`~iofs.core.uio_fd.uio_preadv`, :func:`~iofs.core.uio_fd.uio_pwritev`): no copy in
Python, and the host's errno (EIO, ENOSPC, EFBIG, ...) reaches the program as it is.
``d_fsync`` fsyncs the host file. IO_APPEND writes go to the host file's end.

With durability on, every change first tells the file's journal
(:mod:`iofs.durability.journal`), as the in-memory regular file does: the journal keeps the
durable content of each block a write or truncate replaces (read from the host file), and a
crash writes the durable state back into the host file. For that the driver is also the file
the journal works on (``size``, ``read_range``, ``write_range``, ``set_size``, ``held_spans``),
through a read-write descriptor of its own opened when first needed. A file's journal starts
at its first change, with the host file as it is then as its durable state.
"""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ..core.uio import uio_trim_to_limit
from ..core.uio_fd import uio_preadv, uio_pwritev
from ..dev.cdevpriv import current_file, devfs_get_cdevpriv, devfs_set_cdevpriv
from ..dev.driver import IO_APPEND, Driver
from ..durability.journal import OpenView
from .host_nodes import proc_path
from .regular import truncate_refused

SEEK_DATA = getattr(os, "SEEK_DATA", 3)
SEEK_HOLE = getattr(os, "SEEK_HOLE", 4)


class BackedOpen(OpenView):
    """One open of a backed file: its host descriptor, and (as any open view of a journaled
    file) the errors it has seen."""

    __slots__ = ("fd",)

    def __init__(self, fd: int, seen: int) -> None:
        super().__init__(seen)
        self.fd = fd


class BackedFile(Driver):
    description = "regular file of a host directory (preadv/pwritev on the host file)"

    def __init__(self, node: Any, journals: Callable[[Any], Any] | None,
                 fd_of: Callable[[Any], int]) -> None:
        self.node = node  # the HostFile it serves (the crash plane names files by it)
        self.journals = journals  # the crash plane's journal maker, or None
        self.fd_of = fd_of  # the node's O_PATH descriptor
        self.journal: Any = None
        self.fds: list[int] = []  # the host descriptors of its opens

    # ---- the cdevsw entry points ----

    def d_size(self, dev):
        return os.fstat(self.fd_of(self.node)).st_size

    def d_open(self, dev, oflags, td):
        flags = os.O_RDONLY if oflags & os.O_ACCMODE == os.O_RDONLY else os.O_RDWR
        try:
            fd = os.open(proc_path(self.fd_of(self.node)), flags | os.O_CLOEXEC)
        except OSError as exc:
            return exc.errno or errno.EIO
        priv = BackedOpen(fd, self.journal.errseq if self.journal is not None else 0)
        error = devfs_set_cdevpriv(priv, self._closed)
        if error:
            os.close(fd)
        else:
            self.fds.append(fd)
        return error

    def _closed(self, priv: BackedOpen) -> None:
        """The cdevpriv destructor: the open's host descriptor closed."""
        fd, priv.fd = priv.fd, -1
        if fd >= 0:
            self.fds.remove(fd)
            os.close(fd)

    def open_fd(self) -> int:
        """A descriptor of the host file open now (fgetxattr on it is cheaper than a path
        through /proc), or -1."""
        return self.fds[-1] if self.fds else -1

    def d_read(self, dev, uio, ioflag):
        # devfs_get_cdevpriv, inline (every read): the open's host descriptor
        priv = current_file.get().cdevpriv
        return uio_preadv(priv.fd, uio) if priv is not None else errno.EBADF

    def d_write(self, dev, uio, ioflag):
        priv = current_file.get().cdevpriv
        if priv is None:
            return errno.EBADF
        if ioflag & IO_APPEND:
            uio.uio_offset = os.fstat(priv.fd).st_size
        limit = uio.uio_limit
        if limit is not None and uio.uio_offset + uio.uio_resid > limit:
            return self._write_limited(priv, uio)  # (the read/write path cut it short already)
        if self.journals is not None:
            self._journal().before_write(self, uio.uio_offset, uio.uio_resid)
        return uio_pwritev(priv.fd, uio)

    def _write_limited(self, priv: BackedOpen, uio: Any) -> int:
        """A write crossing uio_limit (an append past it): EFBIG, or cut short at it."""
        error, excess = uio_trim_to_limit(uio)
        if error:
            return error
        if self.journals is not None:
            self._journal().before_write(self, uio.uio_offset, uio.uio_resid)
        error = uio_pwritev(priv.fd, uio)
        uio.uio_resid += excess
        return error

    def d_truncate(self, dev, size: int) -> int:
        error = truncate_refused(dev, size)
        if error:
            return error
        try:
            if self.journals is not None:
                self._journal().before_truncate(self, size)
            os.truncate(proc_path(self.fd_of(self.node)), size)
        except OSError as exc:
            return exc.errno or errno.EIO
        return 0

    def d_fsync(self, dev, datasync):
        error, priv = devfs_get_cdevpriv()
        if error:
            return error
        try:
            (os.fdatasync if datasync else os.fsync)(priv.fd)
        except OSError as exc:
            if self.journal is not None:
                self.journal.writeback_failed(self, priv)  # the mount's fsync_error model
            return exc.errno or errno.EIO
        return self.journal.fsync(self, priv) if self.journal is not None else 0

    # ---- the file a journal keeps ----

    def _journal(self) -> Any:
        if self.journal is None:
            self.journal = self.journals(self)  # type: ignore[misc]
            self.journal.durable_size = self.size
        return self.journal

    def dirty(self) -> bool:
        """Whether a crash would change the file (its node must be kept until then)."""
        j = self.journal
        return j is not None and bool(j.saved or j.lost or self.size != j.durable_size)

    @property
    def size(self) -> int:
        return os.fstat(self.fd_of(self.node)).st_size

    @contextmanager
    def _rw(self) -> Iterator[int]:
        """A read-write descriptor of the host file for one journal or crash step, closed after
        it: a crash over thousands of unsynced files must not hold a descriptor for each (the
        files' own O_PATH descriptors are the node budget's, host_nodes.NodeFds)."""
        fd = os.open(proc_path(self.fd_of(self.node)), os.O_RDWR | os.O_CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)

    def read_range(self, off: int, n: int) -> bytearray:
        """The host file's bytes [off, off+n), what lies past its end as zeros."""
        out = bytearray(n)
        view, done = memoryview(out), 0
        with self._rw() as fd:
            while done < n:
                got = os.preadv(fd, [view[done:]], off + done)
                if got <= 0:
                    break
                done += got
        return out

    def write_range(self, off: int, data: bytes) -> None:
        view, done = memoryview(data), 0
        with self._rw() as fd:
            while done < len(view):
                done += os.pwrite(fd, view[done:], off + done)

    def set_size(self, size: int) -> None:
        os.truncate(proc_path(self.fd_of(self.node)), size)

    def held_spans(self) -> list[tuple[int, int]]:
        """The host file's data ranges [start, end), from SEEK_DATA/SEEK_HOLE."""
        spans: list[tuple[int, int]] = []
        pos = 0
        with self._rw() as fd:
            while True:
                try:
                    start = os.lseek(fd, pos, SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:
                        return spans
                    raise
                pos = os.lseek(fd, start, SEEK_HOLE)
                spans.append((start, pos))

    def release(self) -> None:
        """The node is gone: its journal goes with it."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None


__all__ = ["BackedFile", "BackedOpen"]
