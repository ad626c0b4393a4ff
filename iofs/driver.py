"""The driver layer: a cdevsw-style base class, the device (``struct cdev``), and what drivers use.

A driver is a class with the entry points of FreeBSD's ``struct cdevsw``::

    d_open(dev, oflags, td)   d_close(dev, fflag, td)
    d_read(dev, uio, ioflag)  d_write(dev, uio, ioflag)  d_poll(dev, events, td)

Each returns 0 or an errno (d_poll returns the ready events) and may be ``async`` so it can sleep
until something happens (:class:`WaitChannel` is the tsleep/wakeup pair, built on trio). An entry
point a driver does not define behaves as FreeBSD fills a cdevsw in: d_open and d_close succeed
(nullop), d_read and d_write fail with ENODEV (no_read/no_write), d_poll reports the standard
events as ready (no_poll). Drivers see only the uio, the ioflag, the :class:`Device` and ``td``:
nothing here or in a driver imports pyfuse3.

iofs extensions to cdevsw, all optional: ``d_size(dev)`` (the st_size to report, for seekable
devices with a size), ``d_truncate(dev, size)`` (regular files; EINVAL by default),
``d_fsync(dev, datasync)`` (fsync/fdatasync; 0 by default), and the class attributes
``stream`` (True: no offsets, the file is nonseekable) and ``description`` (one line for
``iofs drivers``). Every entry point is called through :mod:`iofs.guard`: whatever it raises
or returns, the program sees an errno and the daemon keeps serving; ``None`` means 0.
"""

from __future__ import annotations

import errno
import inspect
import logging
import os
import select
from contextvars import ContextVar
from typing import Any, Callable

import trio

from .uio import Td  # who asked: the one struct thread of the library and the driver layer

__all__ = [
    "Driver", "Device", "DeviceStats", "Td", "WaitChannel", "SelInfo", "selrecord", "selwakeup",
    "signal_pending", "tgid_of", "ram",
    "IO_NDELAY", "IO_DIRECT", "IO_APPEND", "IO_SYNC", "ERESTART", "ioflag_from_open_flags",
    "devfs_set_cdevpriv", "devfs_get_cdevpriv", "devfs_clear_cdevpriv",
    "POLLIN", "POLLOUT", "POLLRDNORM", "POLLWRNORM", "POLLHUP", "POLLERR", "POLLSTANDARD",
]

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
    import os

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


# The open file the current request came through (FreeBSD: curthread->td_fpop). The filesystem
# sets it before every entry point call; each trio task has its own.
current_file: ContextVar[Any] = ContextVar("iofs_current_file", default=None)


def devfs_set_cdevpriv(priv: Any, dtr: Callable[[Any], None] | None = None) -> int:
    """Attach ``priv`` to the open file of the current request (per-open driver state).

    ``dtr(priv)`` runs when the file is closed. Returns 0, EBUSY if the file already has private
    data, or ENOENT outside a request.
    """
    f = current_file.get()
    if f is None:
        return errno.ENOENT
    if f.cdevpriv is not None:
        return errno.EBUSY
    f.cdevpriv = priv
    f.cdevpriv_dtr = dtr
    return 0


def devfs_get_cdevpriv() -> tuple[int, Any]:
    """``(0, priv)`` for the open file of the current request, or ``(EBADF, None)`` if it has none."""
    f = current_file.get()
    if f is None or f.cdevpriv is None:
        return errno.EBADF, None
    return 0, f.cdevpriv


def devfs_clear_cdevpriv() -> None:
    """Detach (and destroy, through its dtr) the current open file's private data."""
    f = current_file.get()
    if f is not None and f.cdevpriv is not None:
        priv, dtr = f.cdevpriv, f.cdevpriv_dtr
        f.cdevpriv = f.cdevpriv_dtr = None
        if dtr is not None:
            dtr(priv)


class SelInfo:
    """``struct selinfo``: the poll waiters of one condition (readable, writable, ...)."""

    __slots__ = ("_handles",)

    def __init__(self) -> None:
        self._handles: list[Any] = []


def selrecord(td: Td, sip: SelInfo) -> None:
    """Record that the poller behind ``td`` waits on ``sip`` (call from d_poll when not ready)."""
    if td.pollhandle is not None and td.pollhandle not in sip._handles:
        sip._handles.append(td.pollhandle)


def selwakeup(sip: SelInfo) -> None:
    """Wake every poller recorded on ``sip``: poll/select/epoll re-poll the device."""
    handles, sip._handles = sip._handles, []
    for ph in handles:
        ph.notify()


def _status(pid: int) -> bytes | None:
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return os.read(fd, 8192)
        finally:
            os.close(fd)
    except OSError:
        return None


def _field(status: bytes, name: bytes) -> bytes:
    i = status.find(name)
    return status[i + len(name):status.index(b"\n", i)].strip() if i >= 0 else b""


def _mask(status: bytes, name: bytes) -> int:
    try:
        return int(_field(status, name) or b"0", 16)
    except ValueError:
        return 0


_SIGKILL = 1 << 8


def _deliverable(status: bytes) -> bool:
    pending = _mask(status, b"SigPnd:") | _mask(status, b"ShdPnd:")
    masked = _mask(status, b"SigBlk:") | _mask(status, b"SigIgn:")
    return bool(pending & ~masked) or bool(pending & _SIGKILL)


def tgid_of(tid: int) -> int | None:
    """The process (thread group) of thread ``tid``, or None if it is gone."""
    status = _status(tid)
    try:
        return int(_field(status, b"Tgid:")) if status else None
    except ValueError:
        return None


def signal_pending(pid: int, tgid: int | None = None) -> bool:
    """Whether thread ``pid`` (of process ``tgid``) has a signal pending that it neither blocks
    nor ignores.

    pyfuse3 gives the daemon no FUSE_INTERRUPT, but a signal sent to a process waiting on a
    FUSE request stays pending until the request is answered, so it shows in /proc. ``pid``
    is the thread that asked (FUSE's pid is a thread id). If that thread is gone but its
    process is not (a program that opened in one thread and reads in another), the process
    is asked: its shared pending signals, or, when its main thread has exited, a SIGKILL
    pending in any thread. A process that is gone counts as interrupted.
    """
    status = _status(pid)
    if status is not None:
        return _deliverable(status)
    if tgid is None or tgid == pid:
        return True
    leader = _status(tgid)
    if leader is None:
        return True
    if _field(leader, b"State:")[:1] != b"Z":
        return _deliverable(leader)
    try:  # the main thread has exited: the process dies when any thread has SIGKILL
        threads = os.listdir(f"/proc/{tgid}/task")
    except OSError:
        return True
    for tid in threads:
        status = _status(int(tid)) if tid.isdigit() else None
        if status is not None and _mask(status, b"SigPnd:") & _SIGKILL:
            return True
    return not threads


class WaitChannel:
    """tsleep/wakeup on trio: a driver awaits :meth:`sleep`, another request calls :meth:`wakeup`.

    ``await chan.sleep(td)`` returns 0 when woken, EINTR if the process behind ``td`` gets a
    signal meanwhile (tsleep with PCATCH: Ctrl-C and kill work on a program blocked in a
    read), EWOULDBLOCK when ``timeout`` seconds pass. Sleepers re-check their condition after
    waking (wakeups are broadcast and may be spurious), as with tsleep(9).

    A sleeper with a ``td`` looks at its process's pending signals every 0.1 s, or less often
    when thousands sleep (all of them together look at most CHECKS_PER_SECOND times a second).
    Each uid may have :attr:`max_sleeping` sleepers at once (the mount's ``max_sleeping``):
    past that, ``sleep(td)`` returns EAGAIN at once, and the first refusal is logged, so that
    one user's sleeping requests can never use up the daemon's memory.
    """

    __slots__ = ("_event",)

    SIGNAL_CHECK = 0.1  # seconds between looks at a sleeper's pending signals...
    CHECKS_PER_SECOND = 2000  # ...stretched so that all sleepers together stay under this
    max_sleeping = 4096  # per uid; the filesystem sets it from the config
    sleepers = 0  # sleepers watching for signals, across all channels
    _asleep: dict[int, int] = {}  # uid -> sleepers
    _refused: set[int] = set()  # uids whose refusal was logged (again once below half)

    def __init__(self) -> None:
        self._event = trio.Event()

    async def sleep(self, td: Td | None = None, timeout: float | None = None) -> int:
        event = self._event
        deadline = trio.current_time() + timeout if timeout is not None else float("inf")
        if td is not None:
            asleep = WaitChannel._asleep
            n = asleep.get(td.uid, 0)
            if n >= WaitChannel.max_sleeping:
                if td.uid not in WaitChannel._refused:
                    WaitChannel._refused.add(td.uid)
                    logging.getLogger("iofs").warning(
                        "uid %d has %d requests asleep in drivers (max_sleeping): further "
                        "ones get EAGAIN", td.uid, n)
                return errno.EAGAIN
            asleep[td.uid] = n + 1
            WaitChannel.sleepers += 1
        try:
            while True:
                step = deadline - trio.current_time()
                if td is not None:
                    step = min(step, max(self.SIGNAL_CHECK,
                                         WaitChannel.sleepers / self.CHECKS_PER_SECOND))
                if step <= 0:
                    return errno.EWOULDBLOCK
                with trio.move_on_after(step):
                    await event.wait()
                    return 0
                if td is not None and signal_pending(td.pid, td.tgid):
                    return errno.EINTR
        finally:
            if td is not None:
                WaitChannel.sleepers -= 1
                n = WaitChannel._asleep[td.uid] - 1
                if n:
                    WaitChannel._asleep[td.uid] = n
                else:
                    del WaitChannel._asleep[td.uid]
                if n <= WaitChannel.max_sleeping // 2:
                    WaitChannel._refused.discard(td.uid)

    def wakeup(self) -> None:
        """Wake every sleeper (wakeup(9), not wakeup_one)."""
        self._event.set()
        self._event = trio.Event()


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

    ``limit`` is the uio_limit of writes (None: no limit); ``stream`` devices have no offsets.
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


def ram(size: int) -> memoryview:
    """``size`` zeroed bytes of RAM that cost nothing until written (an anonymous mapping).

    bytearray(size) writes every byte at once; a mem device of 1 GiB must not cost 1 GiB of
    RSS before anyone writes to it.
    """
    import mmap

    if size == 0:
        return memoryview(bytearray(0))
    return memoryview(mmap.mmap(-1, size))


def entry_point(driver: Any, name: str) -> tuple[Callable[..., Any], bool]:
    """The driver's entry point ``name`` (the default one if it lacks it) and whether it is async."""
    fn = getattr(driver, name, None)
    if fn is None:
        fn = getattr(Driver, name).__get__(driver)
    return fn, inspect.iscoroutinefunction(fn)
