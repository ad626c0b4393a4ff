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
* ``short:half``, ``corrupt:N`` and every errno alias: the shared vocabulary of
  :mod:`iofs.faults.steps`, which parses and applies every step (the same steps as fault rules).

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

from ..driver import Driver, ram
from ..faults.steps import OK, Step, apply_to_uio, parse_step
from ..uio import uiomove_frombuf
from ..units import parse_size


class Script:
    """A cyclic (or one-shot) sequence of parsed steps."""

    def __init__(self, steps: Sequence[str], repeat: bool) -> None:
        if isinstance(steps, str):
            raise ValueError("a script is a list of steps, e.g. [\"short:10\", \"ok\"]")
        self.steps = [parse_step(s) for s in steps]
        self.repeat = repeat
        self.pos = 0

    def next(self) -> Step:
        if not self.steps or (self.pos >= len(self.steps) and not self.repeat):
            return OK
        step = self.steps[self.pos % len(self.steps)]
        self.pos += 1
        return step


class Faulty(Driver):
    description = "RAM device whose requests follow a script: short:N, eintr:N, eio, efault:N, eagain, sleep:MS"

    def __init__(self, size: int | str = "1M", read: Sequence[str] = (), write: Sequence[str] = (),
                 repeat: bool = True, seed: int = 0) -> None:
        self.size = parse_size(size)
        self.ram = ram(self.size)
        self.read_script = Script(read, repeat)
        self.write_script = Script(write, repeat)
        self.seed = seed
        self.hits = 0

    def d_size(self, dev):
        return self.size

    def _move(self, uio) -> int:
        return uiomove_frombuf(self.ram, self.size, uio)

    def _write(self, uio) -> int:
        if uio.uio_offset >= self.size:
            return errno.ENOSPC
        return uiomove_frombuf(self.ram, self.size, uio)

    async def d_read(self, dev, uio, ioflag):
        self.hits += 1
        return await apply_to_uio(self.read_script.next(), uio, ioflag, self._move, self.seed, self.hits)

    async def d_write(self, dev, uio, ioflag):
        self.hits += 1
        return await apply_to_uio(self.write_script.next(), uio, ioflag, self._write, self.seed, self.hits)
