"""The open files and directories of a mount, by handle: opening (which decides whether a
regular file bypasses the page cache: O_DIRECT, or a read/write rule that could fault it),
d_open and d_close through the guard, per-open driver state. Nothing here knows FUSE: a
failure is ``OSError(errno)``."""

from __future__ import annotations

import errno
import logging
import os
from typing import Any

from ..core.td import Td
from ..dev import guard
from ..dev.cdevpriv import current_file
from ..dev.driver import IO_APPEND
from .assembly import Filesystem
from .namespace import fail
from .openfile import OpenDir, OpenFile

log = logging.getLogger("iofs")


class OpenFiles:
    """Handles of open files (``files``) and directories (``dirs``); handles are never reused
    while open and count up from 1."""

    def __init__(self, fs: Filesystem, writeback_cache: bool) -> None:
        self.fs = fs
        self.writeback_cache = writeback_cache
        self.files: dict[int, OpenFile] = {}
        self.dirs: dict[int, OpenDir] = {}
        self._next = 1

    def _handle(self) -> int:
        fh = self._next
        self._next += 1
        return fh

    def file(self, fh: int) -> OpenFile:
        of = self.files.get(fh)
        if of is None:
            raise fail(errno.EBADF)
        return of

    def dir(self, fh: int) -> OpenDir:
        d = self.dirs.get(fh)
        if d is None:
            raise fail(errno.EBADF)
        return d

    async def open(self, node: Any, flags: int, td: Td) -> tuple[int, OpenFile]:
        """Open ``node``: its handle and open file (``direct``: bypass the page cache)."""
        fs, ns = self.fs, self.fs.ns
        dev = ns.device(node)
        of = OpenFile(node, dev, flags, td)
        if not fs.is_quiet(node):
            hook = fs.hook
            of.hook, of.path, of.comm = hook, ns.path(node), hook.comm(td.pid)
            if dev.regular and hook.wants_direct(of.path, td, of.comm):
                of.direct = True  # the page cache would turn a short read into end of file
        if dev.regular:
            if flags & os.O_DIRECT:
                # one request per write(2), its count as the driver made it: the kernel's
                # direct I/O of a cached open (async_dio) would report a short write as EIO
                of.direct = True
            if flags & os.O_TRUNC and flags & os.O_ACCMODE != os.O_RDONLY:
                error = await guard.call(dev, "d_truncate", 0)
                if error:
                    raise fail(error)
                ns.touched(node)
            if self.writeback_cache:
                # the kernel owns the file position of appends and writes pages back at their
                # own offsets (libfuse's passthrough_ll does the same)
                of.ioflag &= ~IO_APPEND
        current_file.set(of)
        error = await guard.call(dev, "d_open", flags, td)
        if error:
            _destroy_cdevpriv(of)
            raise fail(error)
        fh = self._handle()
        self.files[fh] = of
        ns.opened(node)
        return fh, of

    async def release(self, fh: int) -> None:
        """The last close of handle ``fh``: d_close (its errno is logged: nobody waits for
        it), per-open state destroyed, the node maybe freed."""
        of = self.files.pop(fh, None)
        if of is None:
            return
        try:
            current_file.set(of)
            error = await guard.call(of.dev, "d_close", of.flags, of.td)
            if error:
                log.warning("%s: d_close returned %s", of.dev.name, errno.errorcode.get(error, error))
        finally:
            _destroy_cdevpriv(of)
            self.fs.ns.closed(of.node)

    def opendir(self, node: Any, td: Td) -> int:
        fh = self._handle()
        self.dirs[fh] = OpenDir(node, td, self.fs.ns.path(node), self.fs.is_quiet(node))
        return fh

    def releasedir(self, fh: int) -> None:
        self.dirs.pop(fh, None)


def _destroy_cdevpriv(of: OpenFile) -> None:
    if of.cdevpriv is not None and of.cdevpriv_dtr is not None:
        try:
            of.cdevpriv_dtr(of.cdevpriv)
        except BaseException as exc:
            guard.raised(of.dev, "cdevpriv destructor", exc)
    of.cdevpriv = of.cdevpriv_dtr = None


__all__ = ["OpenFiles"]
