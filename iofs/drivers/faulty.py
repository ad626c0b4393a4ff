"""faulty: a RAM device whose requests follow a script of faults, byte-exact.

Each read (and each write) request takes the next step of its script; at the end the script
starts over (``repeat = true``, the default) or every later request is ``ok``. A step is:

* ``ok``: serve the request in full.
* ``short:N``: move at most N bytes, then succeed (a short transfer).
* ``ERRNO`` or ``ERRNO:N`` (e.g. ``eio``, ``eintr:100``, ``efault:4096``, ``enospc``): move at
  most N bytes (default 0), then fail with that errno. The syscall layer turns EINTR, EAGAIN and
  ERESTART after progress into a short count and passes any other errno to the program, so
  ``eintr:100`` is a 100-byte read while ``eio:100`` moves 100 bytes and then fails with EIO.
* ``eagain``: EAGAIN if the file was opened O_NONBLOCK, otherwise like ``ok`` (a real device
  only says EAGAIN to non-blocking callers).
* ``sleep:MS``: wait MS milliseconds (without stalling other requests), then serve in full.

Data: reads and writes go to ``size`` bytes of RAM (default 1M) at uio_offset, like ``mem``, so
what a program writes comes back byte-exact around the faults.

    [[device]]
    path = "flaky"
    driver = "faulty"
    size = "1M"
    read = ["short:100", "eintr:10", "ok", "eio"]
    write = ["short:1", "ok"]
"""

from __future__ import annotations

import errno
from typing import Sequence

import trio

from ..driver import IO_NDELAY, Driver, ram
from ..uio import uiomove_frombuf
from ..units import parse_size

_ERRNOS = {name.lower(): code for code, name in errno.errorcode.items()}


def parse_step(step: str) -> tuple[str, int | None, int]:
    """``(kind, limit, code)``: kind is ok/short/errno/eagain/sleep; limit caps the bytes moved."""
    if not isinstance(step, str):
        raise ValueError(f"a script step is a string, not {step!r}")
    name, _, arg = step.strip().lower().partition(":")
    number = None
    if arg:
        try:
            number = int(arg)
        except ValueError:
            raise ValueError(f"step {step!r}: {arg!r} is not a number") from None
        if number < 0:
            raise ValueError(f"step {step!r}: the number cannot be negative")
    if name == "ok" and not arg:
        return "ok", None, 0
    if name == "short" and number is not None:
        return "short", number, 0
    if name == "sleep" and number is not None:
        return "sleep", number, 0
    if name == "eagain" and not arg:
        return "eagain", None, errno.EAGAIN
    if name in _ERRNOS:
        return "errno", number or 0, _ERRNOS[name]
    raise ValueError(f"unknown step {step!r} (ok, short:N, ERRNO[:N], eagain, sleep:MS)")


class Script:
    """A cyclic (or one-shot) sequence of parsed steps."""

    def __init__(self, steps: Sequence[str], repeat: bool) -> None:
        if isinstance(steps, str):
            raise ValueError("a script is a list of steps, e.g. [\"short:10\", \"ok\"]")
        self.steps = [parse_step(s) for s in steps]
        self.repeat = repeat
        self.pos = 0

    def next(self) -> tuple[str, int | None, int]:
        if not self.steps or (self.pos >= len(self.steps) and not self.repeat):
            return "ok", None, 0
        step = self.steps[self.pos % len(self.steps)]
        self.pos += 1
        return step


class Faulty(Driver):
    description = "RAM device whose requests follow a script: short:N, eintr:N, eio, efault:N, eagain, sleep:MS"

    def __init__(self, size: int | str = "1M", read: Sequence[str] = (), write: Sequence[str] = (),
                 repeat: bool = True) -> None:
        self.size = parse_size(size)
        self.ram = ram(self.size)
        self.read_script = Script(read, repeat)
        self.write_script = Script(write, repeat)

    def d_size(self, dev):
        return self.size

    async def _serve(self, script: Script, uio, ioflag: int, writing: bool) -> int:
        kind, limit, code = script.next()
        if kind == "sleep":
            await trio.sleep(limit / 1000)
            limit = None
        elif kind == "eagain":
            if ioflag & IO_NDELAY:
                return errno.EAGAIN
            kind = "ok"
        if writing and uio.uio_offset >= self.size and uio.uio_resid > 0:
            return errno.ENOSPC
        excess = 0
        if limit is not None and uio.uio_resid > limit:
            excess = uio.uio_resid - limit
            uio.uio_resid = limit
        error = uiomove_frombuf(self.ram, self.size, uio) if uio.uio_resid > 0 else 0
        uio.uio_resid += excess
        return error or (code if kind == "errno" else 0)

    async def d_read(self, dev, uio, ioflag):
        return await self._serve(self.read_script, uio, ioflag, False)

    async def d_write(self, dev, uio, ioflag):
        return await self._serve(self.write_script, uio, ioflag, True)
