"""Steps: what one faulted request does. The one step parser, shared by the ``faulty`` driver,
fault rules (the TOML, the control file and the CLI) and ``iofs sweep``.

A step, as written::

    ok            serve the request in full
    short:N       move at most N bytes, then succeed (a short transfer)
    short:half    move at most half the request (at least 1 byte)
    ERRNO         fail with that errno (eio, enospc, eintr, ewouldblock, ...)
    ERRNO:N       move at most N bytes first, then fail with it
    eagain        EAGAIN, but only for a file opened O_NONBLOCK (a blocking open: ok)
    sleep:MS      wait MS milliseconds (other requests go on), then serve in full; a
                  signal to the program ends the wait with EINTR
    corrupt:N     serve in full, with N bytes of the data moved changed (seeded)

Errno names are case-insensitive and take every alias Python's ``errno`` knows (ewouldblock is
eagain, so ``ewouldblock`` alone is the O_NONBLOCK-only step too). After the step, the syscall
layer applies as always (:func:`iofs.guard.settle`): EINTR, EAGAIN and ERESTART after progress
become a short count, any other errno reaches the program even after progress.

A :class:`Step` knows what it means (:meth:`Step.limit`, :meth:`Step.error`, :meth:`corrupt`);
:func:`apply_to_uio` runs it around a transfer on a uio, for drivers.
"""

from __future__ import annotations

import errno
import inspect
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ..driver import IO_NDELAY, WaitChannel, tgid_of
from ..guard import REAL_ERRNOS

ERRNOS: dict[str, int] = {
    name.lower(): getattr(errno, name) for name in dir(errno)
    if name.startswith("E") and getattr(errno, name) in REAL_ERRNOS
}
_CANONICAL = {code: name.lower() for code, name in errno.errorcode.items()}

SLEEP_MAX_MS = 10**15  # sleep:MS waits at most this long (as good as forever, and still a float)
KINDS = ("ok", "short", "errno", "eagain", "sleep", "corrupt")
VOCABULARY = "ok, short:N, short:half, ERRNO[:N], eagain, sleep:MS, corrupt:N"


@dataclass(frozen=True)
class Step:
    """One parsed step. ``n`` is the byte count (short, errno, corrupt) or milliseconds (sleep);
    ``half`` is short:half; ``code`` the errno (errno and eagain kinds)."""

    kind: str
    n: int | None = None
    code: int = 0
    half: bool = False

    @property
    def moves_data(self) -> bool:
        """Whether the step only makes sense for read and write (it shapes the data moved)."""
        return self.kind in ("short", "eagain", "corrupt") or (self.kind == "errno" and self.n is not None)

    def limit(self, size: int) -> int:
        """How many of a ``size``-byte request's bytes may move before :meth:`error`."""
        if self.kind == "short":
            return max(size // 2, 1) if self.half else min(self.n, size)
        if self.kind == "errno":
            return min(self.n or 0, size)
        return size

    def error(self, ioflag: int) -> int:
        """The errno after the bytes moved (0 for none); ``eagain`` only under IO_NDELAY."""
        if self.kind == "errno":
            return self.code
        if self.kind == "eagain" and ioflag & IO_NDELAY:
            return errno.EAGAIN
        return 0

    def corrupt(self, data: memoryview, seed: int, hit: int) -> None:
        """Change ``min(n, len(data))`` bytes of ``data`` in place, at positions and to values
        fixed by ``(seed, hit)``; every chosen byte changes (it is XORed with 1..255)."""
        if self.kind != "corrupt" or not len(data):
            return
        rng = random.Random(f"{seed}:{hit}")
        for pos in rng.sample(range(len(data)), min(self.n or 0, len(data))):
            data[pos] ^= rng.randrange(1, 256)

    def __str__(self) -> str:
        if self.kind in ("ok", "eagain"):
            return self.kind
        if self.kind == "short" and self.half:
            return "short:half"
        if self.kind == "errno":
            name = _CANONICAL.get(self.code, str(self.code))
            return name if self.n is None else f"{name}:{self.n}"
        return f"{self.kind}:{self.n}"


OK = Step("ok")


def whole_number(text: str) -> int | None:
    """The whole number written in ASCII digits as ``text``, or None (also for one with more
    digits than Python converts)."""
    if not (text.isascii() and text.isdigit()):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def parse_step(text: Any) -> Step:
    """The :class:`Step` written as ``text``; ValueError naming what is wrong with it."""
    if not isinstance(text, str):
        raise ValueError(f"a step is a string such as \"short:10\", not {text!r}")
    name, colon, arg = text.strip().lower().partition(":")
    number = None
    if colon:
        if name == "short" and arg == "half":
            return Step("short", half=True)
        if arg.startswith("-") and arg[1:].isdigit():
            raise ValueError(f"step {text!r}: the number cannot be negative")
        number = whole_number(arg)
        if number is None:
            raise ValueError(f"step {text!r}: {arg!r} is not a number")
    if name == "ok" and not colon:
        return OK
    if name in ("short", "sleep", "corrupt") and number is not None:
        return Step(name, number)
    if name == "enosys":
        raise ValueError(f"step {text!r}: refused: the kernel takes ENOSYS as \"not implemented\" "
                         "and stops sending that request to the whole mount")
    code = ERRNOS.get(name)
    if code == errno.EAGAIN and not colon:
        return Step("eagain", code=errno.EAGAIN)
    if code is not None:
        return Step("errno", number, code)
    raise ValueError(f"unknown step {text!r} (steps: {VOCABULARY})")


async def sleep(step: Step, td: Any = None, chan: WaitChannel | None = None) -> int:
    """Wait the ms of a ``sleep:MS`` step: 0 when they have passed, or when ``chan`` is woken
    (the rule was removed). As every sleep in iofs (:class:`iofs.driver.WaitChannel`, tsleep
    with PCATCH), EINTR as soon as the process behind ``td`` has a signal, so a program
    interrupted or killed mid-sleep is let go (pyfuse3 gives no FUSE_INTERRUPT), and EAGAIN
    past its uid's ``max_sleeping``."""
    if td is not None and not td.pid:
        td = None  # a request nobody asked for (a release after the program is gone)
    if td is not None and td.tgid is None:
        td.tgid = tgid_of(td.pid)
    error = await (chan or WaitChannel()).sleep(td, min(step.n or 0, SLEEP_MAX_MS) / 1000)
    return 0 if error == errno.EWOULDBLOCK else error


async def apply_to_uio(step: Step, uio: Any, ioflag: int,
                       move: Callable[[Any], int | Awaitable[int]], seed: int = 0, hit: int = 0) -> int:
    """Run the transfer ``move(uio) -> errno`` as ``step`` says; 0 or an errno.

    The uio sees at most ``step.limit(uio_resid)`` bytes of resid during the move (the rest is
    given back after, so the caller counts only what moved); corrupt changes bytes of what a
    read moved into the iovecs. This is the form for drivers (``faulty``); the filesystem's
    fault hook applies the same Step to whole requests.
    """
    if step.kind == "sleep":
        error = await sleep(step, uio.uio_td)
        if error:
            return error
    error = step.error(ioflag)
    if step.kind == "eagain":
        if error:
            return error
    resid = uio.uio_resid
    limit = step.limit(resid)
    if limit < resid:
        uio.uio_resid = limit
    result = move(uio) if limit > 0 else 0
    if inspect.isawaitable(result):
        result = await result
    moved = limit - uio.uio_resid
    uio.uio_resid += resid - limit
    if step.kind == "corrupt" and moved > 0 and uio.uio_rw == 0:
        _corrupt_moved(uio, moved, step, seed, hit)
    return result or error


def _corrupt_moved(uio: Any, moved: int, step: Step, seed: int, hit: int) -> None:
    """Corrupt the last ``moved`` bytes a read put into the uio's iovecs (behind its cursor)."""
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
    step.corrupt(memoryview(joined), seed, hit)
    at = 0
    for piece in reversed(pieces):
        piece[:] = joined[at:at + len(piece)]
        at += len(piece)


__all__ = ["Step", "OK", "parse_step", "apply_to_uio", "sleep", "whole_number", "ERRNOS", "VOCABULARY"]
