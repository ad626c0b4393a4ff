"""The one guarded way to call a driver, and the checks on what it returns.

A driver is user code: it may raise anything, return anything, or leave the uio in any state.
Whatever it does, the daemon keeps serving and the program sees an errno the kernel can carry.
Every entry point the filesystem calls goes through here:

* :func:`call` (d_open, d_close, d_fsync, d_truncate, ...): the result as an errno.
* :func:`call_size` (d_size) and :func:`call_poll` (d_poll): a size, or ready events.
* d_read and d_write on the request path call the driver inline (a function call less per
  request) and hand an exception to :func:`raised` and the result to :func:`outcome`.

The rules:

* Any exception, ``SystemExit`` and other ``BaseException`` included, is a driver bug: EIO
  (POLLERR for poll), with the traceback logged the first time that entry point of that device
  fails and a one-line count at most every :data:`REPEAT_EVERY` seconds after. Only trio's
  ``Cancelled`` and ``KeyboardInterrupt`` pass through: they are how the daemon itself stops.
* An errno is an int that names a real errno below 512 (``errno.errorcode``, or ERESTART).
  Anything else (600, 100000, -5, "12", 1.0, True, and False or 0.0 too) is EIO, logged, on
  every path: an errno the kernel cannot carry would leave the caller stuck in D state until
  unmount. ENOSYS is EIO too: the kernel takes it from most requests as "never send this
  again" for the whole mount. ERESTART from an entry point that moves no data (d_open, ...) is
  EINTR, since FUSE cannot restart a call.
* ``None`` means 0 (success), in every entry point and on every path: a Python function that
  falls off its end returns None, and its author means "nothing went wrong".
* A size is an int in ``0..OFF_MAX``; anything else is EIO.
* Ready events are an int in ``0..0xFFFF`` (poll's ``short revents``); anything else is POLLERR.
* After d_read/d_write, ``uio_resid`` must be an int in ``0..size``; anything else is EIO.

Then the syscall layer (FreeBSD ``dofileread``/``dofilewrite``), :func:`outcome`: ERESTART,
EINTR and EWOULDBLOCK after progress become a short count; ERESTART without progress is EINTR
(FUSE cannot restart a call); any other errno reaches the program, even after progress.
"""

from __future__ import annotations

import errno
import logging
import time
from typing import Any

import trio

from ..core.uio import OFF_MAX
from .driver import ERESTART, POLLERR, Device, entry_point

log = logging.getLogger("iofs")

ERRNO_LIMIT = 512  # the kernel treats -512 and below as internal codes (ERESTARTSYS...)
# ENOSYS is left out: from OPEN, FSYNC, FLUSH, POLL, ... the kernel takes it to mean "never send
# this request again" and stops sending it to the whole mount.
REAL_ERRNOS = (frozenset(e for e in errno.errorcode if 0 < e < ERRNO_LIMIT) | {ERESTART}) \
    - {errno.ENOSYS}
RESTARTABLE = frozenset({ERESTART, errno.EINTR, errno.EWOULDBLOCK, errno.EAGAIN})
PASS_THROUGH = (trio.Cancelled, KeyboardInterrupt)  # the daemon's own ways of stopping
REPEAT_EVERY = 10.0  # seconds between the one-line reports of a failure that repeats


class _Reports:
    """Log a failure in full the first time, then a one-line count at most every few seconds."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], list[float]] = {}  # key -> [last report, count since]

    def report(self, dev: Device, entry: str, message: str, exc: BaseException | None) -> None:
        key = (dev.name or f"inode of {type(dev.driver).__name__}", entry)
        seen = self._seen.get(key)
        now = time.monotonic()
        if seen is None:
            self._seen[key] = [now, 0]
            log.error("%s: %s %s: EIO", key[0], entry, message, exc_info=exc)
            return
        seen[1] += 1
        if now - seen[0] >= REPEAT_EVERY:
            log.error("%s: %s %s again (%d times since the last report): EIO",
                      key[0], entry, message, seen[1])
            seen[0], seen[1] = now, 0


reports = _Reports()


def raised(dev: Device, entry: str, exc: BaseException) -> int:
    """A driver entry point raised ``exc``: EIO, reported. Re-raises what must pass through."""
    if isinstance(exc, PASS_THROUGH):
        raise exc
    if isinstance(exc, BaseExceptionGroup) and exc.subgroup(PASS_THROUGH) is not None:
        raise exc
    reports.report(dev, entry, f"raised {type(exc).__name__}", exc)
    return errno.EIO


def as_errno(value: Any, dev: Device, entry: str) -> int:
    """A driver's return value as the errno to use: 0 for None and 0, EIO for a non-errno."""
    if value is None or value == 0 and type(value) is int:
        return 0
    if type(value) is int and value in REAL_ERRNOS:
        return value
    reports.report(dev, entry, f"returned {value!r:.60}, not 0 or an errno", None)
    return errno.EIO


async def call(dev: Device, entry: str, *args: Any) -> int:
    """``entry(dev, *args)`` of the device's driver, guarded: 0 or an errno, never an exception."""
    try:
        fn, is_async = entry_point(dev.driver, entry)  # a property of the driver may raise
        result = (await fn(dev, *args)) if is_async else fn(dev, *args)
    except BaseException as exc:
        return raised(dev, entry, exc)
    error = as_errno(result, dev, entry)
    return errno.EINTR if error == ERESTART else error


def call_size(dev: Device) -> int | None:
    """The device's ``d_size``, guarded: an int in 0..OFF_MAX, or None (reported) if broken."""
    try:
        fn, is_async = entry_point(dev.driver, "d_size")
        if is_async:
            reports.report(dev, "d_size", "is async (it must return at once)", None)
            return None
        size = fn(dev)
    except BaseException as exc:
        raised(dev, "d_size", exc)
        return None
    if size is None:
        return 0
    if type(size) is int and 0 <= size <= OFF_MAX:
        return size
    reports.report(dev, "d_size", f"returned {size!r:.60}, not a size in 0..OFF_MAX", None)
    return None


async def call_poll(dev: Device, events: int, td: Any) -> int:
    """The device's ``d_poll``, guarded: ready events in 0..0xFFFF, POLLERR if it is broken."""
    try:
        fn, is_async = entry_point(dev.driver, "d_poll")
        revents = (await fn(dev, events, td)) if is_async else fn(dev, events, td)
    except BaseException as exc:
        raised(dev, "d_poll", exc)
        return POLLERR
    if revents is None:
        return 0
    if type(revents) is int and 0 <= revents <= 0xFFFF:
        return revents
    reports.report(dev, "d_poll", f"returned {revents!r:.60}, not poll events", None)
    return POLLERR


def moved(dev: Device, entry: str, size: int, resid: Any) -> int:
    """Bytes a d_read/d_write moved of a ``size``-byte request, or -1 (reported) if the driver
    left ``uio_resid`` outside 0..size or not an int."""
    if type(resid) is int and 0 <= resid <= size:
        return size - resid
    reports.report(dev, entry, f"left uio_resid {resid!r:.60} of {size}", None)
    return -1


def outcome(dev: Device, entry: str, size: int, resid: Any, error: Any) -> tuple[int, int]:
    """The syscall layer after d_read/d_write: ``(moved, errno)``, errno 0 to reply ``moved``.

    ERESTART, EINTR and EWOULDBLOCK after progress become a short count (ERESTART without
    progress is EINTR); any other errno fails the call; a bad resid or errno gives EIO.
    """
    n = moved(dev, entry, size, resid)
    if n < 0:
        dev.stats.errors += 1
        return 0, errno.EIO
    if error is not None and (error != 0 or type(error) is not int):  # False, 0.0: no errno
        error = as_errno(error, dev, entry)
    return settle(dev, n, error)


def settle(dev: Device, n: int, error: int) -> tuple[int, int]:
    """FreeBSD's rule for an errno after ``n`` bytes moved: ``(n, 0)`` or ``(0, errno)``."""
    if not error or (n and error in RESTARTABLE):
        return n, 0
    dev.stats.errors += 1
    return 0, errno.EINTR if error == ERESTART else error


__all__ = ["call", "call_size", "call_poll", "raised", "as_errno", "moved", "outcome", "settle",
           "REAL_ERRNOS", "RESTARTABLE", "PASS_THROUGH"]
