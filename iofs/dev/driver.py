"""The driver API: a cdevsw-style base class and the device (``struct cdev``).

A driver is a class with the entry points of FreeBSD's ``struct cdevsw``::

    d_open(dev, oflags, td)   d_close(dev, fflag, td)
    d_read(dev, uio, ioflag)  d_write(dev, uio, ioflag)  d_poll(dev, events, td)

Each returns 0 or an errno (d_poll returns the ready events) and may be ``async`` so it can sleep
until something happens (:class:`~iofs.dev.sleep.WaitChannel` is the tsleep/wakeup pair). An
entry point a driver does not define behaves as FreeBSD fills a cdevsw in: d_open and d_close
succeed (nullop), d_read and d_write fail with ENODEV (no_read/no_write), d_poll reports the
standard events as ready (no_poll). Drivers see only the uio, the ioflag, the :class:`Device`
and ``td``: nothing here or in a driver knows FUSE.

iofs extensions to cdevsw, all optional: ``d_size(dev)`` (the st_size to report, for seekable
devices with a size), ``d_truncate(dev, size)`` (regular files; EINVAL by default),
``d_fsync(dev, datasync)`` (fsync/fdatasync; 0 by default), and the class attributes
``stream`` (True: no offsets, the file is nonseekable) and ``description`` (one line for
``iofs drivers``). Every entry point is called through :mod:`iofs.dev.guard`: whatever it
raises or returns, the program sees an errno and the daemon keeps serving; ``None`` means 0.
"""

from __future__ import annotations

import errno
import inspect
import os
import select
from typing import Any, Callable

from ..core.td import Td

# ioflag bits (sys/vnode.h)
IO_APPEND = 0x0002
IO_SYNC = 0x0004
IO_NDELAY = 0x0010
IO_DIRECT = 0x0100

# "restart the system call": after progress it becomes a short count, without progress EINTR
ERESTART = getattr(errno, "ERESTART", 85)

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT
POLLRDNORM = getattr(select, "POLLRDNORM", 0x040)
POLLWRNORM = getattr(select, "POLLWRNORM", 0x100)
POLLHUP = select.POLLHUP
POLLERR = select.POLLERR
POLLSTANDARD = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM


def ioflag_from_open_flags(flags: int) -> int:
    """IO_NDELAY from O_NONBLOCK, IO_DIRECT from O_DIRECT, IO_APPEND, IO_SYNC from O_(D)SYNC."""
    io = 0
    if flags & os.O_NONBLOCK:
        io |= IO_NDELAY
    if flags & getattr(os, "O_DIRECT", 0):
        io |= IO_DIRECT
    if flags & os.O_APPEND:
        io |= IO_APPEND
    if flags & (os.O_SYNC | os.O_DSYNC):
        io |= IO_SYNC
    return io


class DeviceStats:
    """Per-device counters the filesystem keeps (shown by the ``status`` device)."""

    __slots__ = ("reads", "writes", "bytes_read", "bytes_written", "errors")

    def __init__(self) -> None:
        self.reads = self.writes = self.bytes_read = self.bytes_written = self.errors = 0


class Driver:
    """Base class of drivers: FreeBSD's defaults for every entry point a driver leaves out."""

    description = ""
    stream = False

    def d_open(self, dev: Device, oflags: int, td: Td) -> int:
        return 0

    def d_close(self, dev: Device, fflag: int, td: Td) -> int:
        return 0

    def d_read(self, dev: Device, uio: Any, ioflag: int) -> int:
        return errno.ENODEV

    def d_write(self, dev: Device, uio: Any, ioflag: int) -> int:
        return errno.ENODEV

    def d_poll(self, dev: Device, events: int, td: Td) -> int:
        return events & POLLSTANDARD

    def d_size(self, dev: Device) -> int:
        return 0

    def d_truncate(self, dev: Device, size: int) -> int:
        return errno.EINVAL  # truncate(2) of a character device

    def d_fsync(self, dev: Device, datasync: bool) -> int:
        return 0


class Device:
    """``struct cdev``: a named device node served by a driver instance.

    ``limit`` is the uio_limit of writes (None: no limit); ``stream`` devices have no offsets;
    ``regular`` marks the driver of a regular file (it goes through the page cache).
    ``devices`` is the list of all devices of the mount (for drivers that report on them).
    """

    def __init__(self, name: str, driver: Any, *, mode: int = 0o666, uid: int = 0, gid: int = 0,
                 limit: int | None = None, regular: bool = False) -> None:
        self.name = name
        self.driver = driver
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.limit = limit
        self.regular = regular
        self.stream = bool(getattr(driver, "stream", False))
        self.stats = DeviceStats()
        self.devices: list[Device] = []
        self.si_drv1: Any = None  # driver-private, as in struct cdev

    def __repr__(self) -> str:
        return f"Device({self.name!r}, {type(self.driver).__name__})"


def entry_point(driver: Any, name: str) -> tuple[Callable[..., Any], bool]:
    """The driver's entry point ``name`` (the default one if it lacks it) and whether it is async."""
    fn = getattr(driver, name, None)
    if fn is None:
        fn = getattr(Driver, name).__get__(driver)
    return fn, inspect.iscoroutinefunction(fn)


__all__ = [
    "Driver", "Device", "DeviceStats", "Td", "entry_point",
    "IO_NDELAY", "IO_DIRECT", "IO_APPEND", "IO_SYNC", "ERESTART", "ioflag_from_open_flags",
    "POLLIN", "POLLOUT", "POLLRDNORM", "POLLWRNORM", "POLLHUP", "POLLERR", "POLLSTANDARD",
]
