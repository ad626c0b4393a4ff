"""pipe: a bounded FIFO between the processes that open the device; opens never block.

* read: moves what is buffered (a short read is normal). With nothing buffered: end of file if
  no writer has the device open, EAGAIN under IO_NDELAY, otherwise sleep until data arrives or
  the last writer closes.
* write: with no reader open, EPIPE (no SIGPIPE: FUSE cannot send one). With the ring full,
  EAGAIN under IO_NDELAY (a short count if some bytes went in), otherwise sleep for room.
  Writes of at most PIPE_BUF bytes (and at most the pipe's size) are atomic: they wait until
  they fit whole.
* A sleeping reader or writer is woken by a signal to its process: EINTR (or a short count
  after progress), so Ctrl-C and kill work as on a real pipe.
* poll: readable when data is buffered or no writer is left (POLLHUP), writable when there is
  room; pollers are woken (selwakeup) whenever that changes.

The data lives in one ring buffer of ``size`` bytes; reads and writes move it with uiomove over
at most two pieces of the ring, never a per-byte loop and never an allocation.
"""

from __future__ import annotations

import errno
import os

from ..core.uio import uiomove
from ..dev.driver import IO_NDELAY, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, Driver
from ..dev.select import SelInfo, selrecord, selwakeup
from ..dev.sleep import WaitChannel
from ..system.units import parse_size

PIPE_BUF = 4096


class Pipe(Driver):
    description = "bounded FIFO (option size, default 64K); blocking, O_NONBLOCK and poll"
    stream = True

    def __init__(self, size: int | str = "64K") -> None:
        self.capacity = parse_size(size)
        if self.capacity <= 0:
            raise ValueError("a pipe needs a size of at least 1 byte")
        self.ring = memoryview(bytearray(self.capacity))
        self.head = 0      # where the next read starts
        self.count = 0     # bytes buffered
        self.readers = 0
        self.writers = 0
        self.readable = WaitChannel()
        self.writable = WaitChannel()
        self.rsel = SelInfo()
        self.wsel = SelInfo()

    def _changed(self) -> None:
        self.readable.wakeup()
        self.writable.wakeup()
        selwakeup(self.rsel)
        selwakeup(self.wsel)

    def d_open(self, dev, oflags, td):
        acc = oflags & os.O_ACCMODE
        if acc in (os.O_RDONLY, os.O_RDWR):
            self.readers += 1
        if acc in (os.O_WRONLY, os.O_RDWR):
            self.writers += 1
        self._changed()
        return 0

    def d_close(self, dev, fflag, td):
        acc = fflag & os.O_ACCMODE
        if acc in (os.O_RDONLY, os.O_RDWR):
            self.readers -= 1
        if acc in (os.O_WRONLY, os.O_RDWR):
            self.writers -= 1
        if self.readers == 0 and self.writers == 0:
            self.head = self.count = 0  # a pipe nobody holds forgets its data
        self._changed()
        return 0

    async def d_read(self, dev, uio, ioflag):
        while self.count == 0:
            if self.writers == 0:
                return 0
            if ioflag & IO_NDELAY:
                return errno.EAGAIN
            error = await self.readable.sleep(uio.uio_td)
            if error:
                return error
        error = 0
        while self.count and uio.uio_resid > 0 and not error:
            n = min(self.count, self.capacity - self.head, uio.uio_resid)
            before = uio.uio_resid
            error = uiomove(self.ring[self.head:self.head + n], n, uio)
            moved = before - uio.uio_resid
            self.head = (self.head + moved) % self.capacity
            self.count -= moved
        if self.count == 0:
            self.head = 0
        self._changed()
        return error

    async def d_write(self, dev, uio, ioflag):
        atomic = uio.uio_resid <= min(PIPE_BUF, self.capacity)  # a write that can ever fit whole
        while uio.uio_resid > 0:
            if self.readers == 0:
                return errno.EPIPE
            room = self.capacity - self.count
            if room == 0 or (atomic and room < uio.uio_resid):
                if ioflag & IO_NDELAY:
                    return errno.EAGAIN
                error = await self.writable.sleep(uio.uio_td)
                if error:
                    return error  # after progress, the syscall layer makes it a short write
                continue
            tail = (self.head + self.count) % self.capacity
            n = min(room, self.capacity - tail, uio.uio_resid)
            before = uio.uio_resid
            error = uiomove(self.ring[tail:tail + n], n, uio)
            self.count += before - uio.uio_resid
            self._changed()
            if error:
                return error
        return 0

    def d_poll(self, dev, events, td):
        revents = 0
        if self.count or self.writers == 0:
            revents |= events & (POLLIN | POLLRDNORM)
        else:
            selrecord(td, self.rsel)
        if self.writers == 0:
            revents |= POLLHUP
        if self.count < self.capacity and self.readers:
            revents |= events & (POLLOUT | POLLWRNORM)
        else:
            selrecord(td, self.wsel)
        return revents
