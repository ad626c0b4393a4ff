"""An open file: what the request path needs of it, looked up once at open."""

from __future__ import annotations

from typing import Any

from ..core.td import Td
from ..core.uio import UIO_READ, UIO_USERSPACE, UIO_WRITE, Uio
from ..dev.driver import Device, entry_point, ioflag_from_open_flags
from ..dev.sleep import tgid_of

_NOTHING = memoryview(b"")


class OpenFile:
    """One open of a file (``struct file``): its device and driver entry points, ioflag, who
    opened it, per-open driver state (cdevpriv), and one reusable uio per direction for
    drivers that cannot sleep. ``hook`` is the fault and trace hook, or None (the control
    files are never traced); ``path`` and ``comm`` name the file and the opener for it.
    ``direct``: the open bypasses the page cache. ``times``: the namespace keeps the file's
    times (a regular file in memory: reads move its atime, writes its mtime; a host file's
    are the host's)."""

    __slots__ = ("node", "dev", "d_read", "read_async", "d_write", "write_async", "ioflag",
                 "flags", "td", "limit", "stats", "stream", "times", "cdevpriv", "cdevpriv_dtr",
                 "read_uio", "write_uio", "hook", "path", "comm", "direct")

    def __init__(self, node: Any, dev: Device, flags: int, td: Td) -> None:
        self.node = node
        self.dev = dev
        self.d_read, self.read_async = entry_point(dev.driver, "d_read")
        self.d_write, self.write_async = entry_point(dev.driver, "d_write")
        self.ioflag = ioflag_from_open_flags(flags)
        self.flags = flags
        self.td = td
        self.limit = dev.limit
        self.stats = dev.stats
        self.stream = dev.stream
        self.times = dev.regular and not node.host
        self.cdevpriv: Any = None
        self.cdevpriv_dtr: Any = None
        self.read_uio = Uio.single(_NOTHING, 0, UIO_READ, UIO_USERSPACE, 0, td, dev.limit, flags)
        self.write_uio = Uio.single(_NOTHING, 0, UIO_WRITE, UIO_USERSPACE, 0, td, dev.limit, flags)
        self.hook: Any = None
        self.path = ""
        self.comm = ""
        self.direct = not dev.regular
        if self.read_async or self.write_async:  # its sleeps look for the process's signals
            td.tgid = tgid_of(td.pid)


class OpenDir:
    """One open of a directory, and who opened it. ``names``: what a backend keeps between
    the readdir calls of one listing (a host directory's names)."""

    __slots__ = ("node", "td", "path", "quiet", "names")

    def __init__(self, node: Any, td: Td, path: str, quiet: bool) -> None:
        self.node, self.td, self.path, self.quiet = node, td, path, quiet
        self.names: Any = None


__all__ = ["OpenFile", "OpenDir"]
