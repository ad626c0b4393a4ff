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
  :mod:`iofs.faults.actions`, which parses and applies every step (the same actions as fault
  rules). ``corrupt`` changes what a read moves into the program's buffer, and what a write
  stores.

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
from typing import Any, Callable, Sequence

from ..core.uio import UIO_READ, Uio, uiomove_frombuf
from ..dev.driver import Driver
from ..dev.memory import ram
from ..faults.actions import OK, Action, Request, apply, parse_action
from ..system.units import parse_size


class Script:
    """A cyclic (or one-shot) sequence of parsed steps."""

    def __init__(self, steps: Sequence[str], repeat: bool) -> None:
        if isinstance(steps, str):
            raise ValueError("a script is a list of steps, e.g. [\"short:10\", \"ok\"]")
        self.steps = [parse_action(s) for s in steps]
        self.repeat = repeat
        self.pos = 0

    def next(self) -> Action:
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
        self.hits = 0  # requests served, reads and writes: with the seed, what corrupt changes

    def d_size(self, dev):
        return self.size

    def _write(self, uio: Uio) -> int:
        if uio.uio_offset >= self.size:
            return errno.ENOSPC
        return uiomove_frombuf(self.ram, self.size, uio)

    async def d_read(self, dev, uio, ioflag):
        move = lambda u: uiomove_frombuf(self.ram, self.size, u)  # noqa: E731
        return await self._run("read", self.read_script.next(), uio, ioflag, move)

    async def d_write(self, dev, uio, ioflag):
        return await self._run("write", self.write_script.next(), uio, ioflag, self._write)

    async def _run(self, op: str, step: Action, uio: Uio, ioflag: int,
                   move: Callable[[Uio], int]) -> int:
        """``move(uio)`` as ``step`` says: the uio sees at most the step's limit of resid
        during the move (the rest is given back after, so the caller counts only what moved)."""
        self.hits += 1
        resid, start = uio.uio_resid, uio.uio_offset
        expect = min(resid, max(self.size - start, 0)) if op == "read" else resid
        req = Request(op, True, resid, ioflag, uio.uio_td, expect, self.seed, self.hits)

        async def transfer(limit: int, shaper: Any) -> int:
            if limit < resid:
                uio.uio_resid = limit
            error = move(uio) if limit > 0 else 0
            moved = limit - uio.uio_resid
            uio.uio_resid += resid - limit
            if shaper is not None and moved > 0:
                if uio.uio_rw == UIO_READ:
                    _shape_moved(uio, moved, shaper)
                else:
                    shaper(self.ram[start:start + moved])
            return error

        error, code = await apply(step, req, transfer)
        return error or code


def _shape_moved(uio: Uio, moved: int, shaper: Callable[[memoryview], None]) -> None:
    """Apply ``shaper`` to the last ``moved`` bytes a read put into the uio's iovecs (behind
    its cursor), gathered into one buffer and scattered back."""
    segs, lens, idx, skip = uio._segs, uio._lens, uio._idx, uio._skip
    pieces = []
    need = moved
    k, end = idx, skip
    while need > 0 and k >= 0:
        start = max(end - need, 0)
        if end > start:
            pieces.append(segs[k][start:end])
            need -= end - start
        k -= 1
        end = lens[k] if k >= 0 else 0
    joined = bytearray(b"".join(reversed(pieces)))
    shaper(memoryview(joined))
    at = 0
    for piece in reversed(pieces):
        piece[:] = joined[at:at + len(piece)]
        at += len(piece)
