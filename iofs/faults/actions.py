"""Actions: what a firing rule (or a step of the ``faulty`` driver's script) does to one
request. One class per action; :func:`parse_action` is the one parser, :func:`apply` the one
function that runs an action around a request, for the fault hook (whole FUSE requests) and
for the ``faulty`` driver (a uio) alike.

An action, as written::

    ok            serve the request in full
    short:N       move at most N bytes, then succeed (a short transfer)
    short:half    move at most half of what the request would move (at least 1 byte)
    ERRNO         fail with that errno (eio, enospc, eintr, ewouldblock, ...)
    ERRNO:N       move at most N bytes first, then fail with it
    eagain        EAGAIN, but only for a file opened O_NONBLOCK (a blocking open: ok)
    sleep:MS      wait MS milliseconds (other requests go on), then serve in full; a
                  signal to the program ends the wait with EINTR
    corrupt:N     serve in full, with N bytes of the data moved changed (seeded)
    crash         serve the request, then crash the mount: what was durable at that instant
                  is what the disk holds, and every later request fails with EIO until
                  ``iofs restart`` (needs durability)
    crash:before  crash instead of serving the request (the program gets EIO)
    crash:torn    serve a write, then crash keeping a seeded part of the write's own units
    kill          SIGKILL the process that made the request (it never sees the reply)

Errno names are case-insensitive and take every alias Python's ``errno`` knows (ewouldblock is
eagain, so ``ewouldblock`` alone is the O_NONBLOCK-only action too). After the action, the
syscall layer applies as always (:func:`iofs.dev.guard.settle`): EINTR, EAGAIN and ERESTART
after progress become a short count, any other errno reaches the program even after progress.

Every action says whether it would change anything on a given request
(:meth:`Action.effective`): ``eagain`` on a blocking open, ``short:N`` or a restartable
``ERRNO:N`` on a request that would move at most N bytes, ``short:half`` on one that would
move at most 1, ``corrupt`` on one that moves nothing are no-ops, and a rule does not count
them as hits.
"""

from __future__ import annotations

import errno
import os
import random
import signal
from typing import Any, Awaitable, Callable, ClassVar, Protocol

from ..dev.driver import ERESTART, IO_NDELAY
from ..dev.guard import REAL_ERRNOS, RESTARTABLE
from ..dev.sleep import WaitChannel, tgid_of
from ..system.units import whole_number

ERRNOS: dict[str, int] = {
    name.lower(): getattr(errno, name) for name in dir(errno)
    if name.startswith("E") and getattr(errno, name) in REAL_ERRNOS
}
_CANONICAL = {code: name.lower() for code, name in errno.errorcode.items()}
SLEEP_MAX_MS = 10**15  # sleep:MS waits at most this long (as good as forever, and still a float)


class Powers(Protocol):
    """What the mount lets an action do beyond the request: crash it (the crash plane)."""

    async def crash(self, req: Request, moved: int, torn: bool) -> None:
        """Crash the mount now; ``torn``: keep a seeded part of this write's ``moved`` bytes."""

    def failed(self, req: Request, code: int) -> None:
        """A rule failed ``req`` with ``code`` (a failed fsync loses what it covered)."""


class Request:
    """What an action knows of the request it acts on. ``size``: bytes asked for (0 for a
    request that moves no data); ``expect``: bytes it would move unfaulted, as far as known
    (a read near the end of a file), else ``size``; ``seed`` and ``hit``: the firing rule's
    seed and hit number (they fix what ``corrupt`` changes); ``off`` and ``target``: the
    offset and the open file of a data request; ``powers``: the mount's (crash)."""

    __slots__ = ("op", "data", "size", "expect", "ioflag", "td", "seed", "hit", "sleeps",
                 "off", "target", "powers")

    def __init__(self, op: str, data: bool, size: int, ioflag: int, td: Any,
                 expect: int | None = None, seed: int = 0, hit: int = 0,
                 sleeps: WaitChannel | None = None) -> None:
        self.op, self.data, self.size, self.ioflag, self.td = op, data, size, ioflag, td
        self.expect = size if expect is None else expect
        self.seed, self.hit, self.sleeps = seed, hit, sleeps
        self.off = 0
        self.target: Any = None
        self.powers: Powers | None = None


Shaper = Callable[[memoryview], None]


class Action:
    """The base: serve the request as it is. Subclasses change what they need to."""

    name: ClassVar[str] = ""
    shapes_data = False  # it shapes the bytes moved: only read and write can take it
    needs_powers = False  # it needs the mount's powers (crash: durability on)
    # a read/write rule with it opens the files it matches direct_io, so that what it does
    # reaches the program as it is (the page cache would take a short read for the end)
    direct = True

    def effective(self, req: Request) -> bool:
        """Whether firing on ``req`` would change anything."""
        return True

    async def before(self, req: Request) -> int:
        """Before anything is served: an errno to fail with, or 0 to go on."""
        return 0

    def limit(self, req: Request) -> int:
        """How many of the request's bytes may move."""
        return req.size

    def error(self, req: Request) -> int:
        """The errno after the bytes moved (0 for none)."""
        return 0

    def shaper(self, req: Request) -> Shaper | None:
        """What to do to the bytes moved (in place), or None."""
        return None

    async def after(self, req: Request, moved: int) -> None:
        """After the request was served (``moved`` bytes, for a data request)."""

    def __str__(self) -> str:
        return self.name


class Ok(Action):
    name = "ok"


class Short(Action):
    """``short:N`` (``n``) or ``short:half`` (``n`` None)."""

    name = "short"
    shapes_data = True

    def __init__(self, n: int | None) -> None:
        self.n = n

    def limit(self, req: Request) -> int:
        if self.n is None:
            return min(max(req.expect // 2, 1), req.size)
        return min(self.n, req.size)

    def effective(self, req: Request) -> bool:
        return self.limit(req) < req.expect

    def __str__(self) -> str:
        return "short:half" if self.n is None else f"short:{self.n}"


class Errno(Action):
    """``ERRNO`` (``n`` None: fail at once) or ``ERRNO:N`` (move at most N bytes first)."""

    name = "errno"

    def __init__(self, code: int, n: int | None = None) -> None:
        self.code, self.n = code, n

    @property  # type: ignore[override]
    def shapes_data(self) -> bool:
        return self.n is not None

    def limit(self, req: Request) -> int:
        return min(self.n or 0, req.size)

    def error(self, req: Request) -> int:
        # FUSE cannot restart a call: ERESTART without progress is EINTR (as guard says)
        return errno.EINTR if self.code == ERESTART and not req.data else self.code

    def effective(self, req: Request) -> bool:
        if self.n and self.code in RESTARTABLE:
            return self.n < req.expect  # after progress it is a short count
        return True

    def __str__(self) -> str:
        name = _CANONICAL.get(self.code, str(self.code))
        return name if self.n is None else f"{name}:{self.n}"


class Eagain(Action):
    """EAGAIN for an O_NONBLOCK open; a blocking open is served as it is."""

    name = "eagain"
    shapes_data = True

    def effective(self, req: Request) -> bool:
        return bool(req.ioflag & IO_NDELAY)

    async def before(self, req: Request) -> int:
        return errno.EAGAIN if req.ioflag & IO_NDELAY else 0


class Sleep(Action):
    """``sleep:MS``: wait, then serve. A signal to the program ends the wait with EINTR (as
    every sleep in iofs: tsleep with PCATCH); removing the rule ends it (served)."""

    name = "sleep"

    def __init__(self, ms: int) -> None:
        self.ms = ms

    async def before(self, req: Request) -> int:
        td = req.td if req.td is not None and req.td.pid else None  # a release nobody asked for
        if td is not None and td.tgid is None:
            td.tgid = tgid_of(td.pid)
        chan = req.sleeps or WaitChannel()
        error = await chan.sleep(td, min(self.ms, SLEEP_MAX_MS) / 1000)
        return 0 if error == errno.EWOULDBLOCK else error

    def __str__(self) -> str:
        return f"sleep:{self.ms}"


class Corrupt(Action):
    """``corrupt:N``: serve in full; N bytes of what moved change, fixed by (seed, hit)."""

    name = "corrupt"
    shapes_data = True

    def __init__(self, n: int) -> None:
        self.n = n

    def effective(self, req: Request) -> bool:
        return self.n > 0 and req.expect > 0

    def shaper(self, req: Request) -> Shaper:
        return lambda data: self.corrupt(data, req.seed, req.hit)

    def corrupt(self, data: memoryview, seed: int, hit: int) -> None:
        """Change ``min(n, len(data))`` bytes of ``data`` in place, at positions and to values
        fixed by ``(seed, hit)``; every chosen byte changes (it is XORed with 1..255)."""
        if not len(data):
            return
        rng = random.Random(f"{seed}:{hit}")
        for pos in rng.sample(range(len(data)), min(self.n, len(data))):
            data[pos] ^= rng.randrange(1, 256)

    def __str__(self) -> str:
        return f"corrupt:{self.n}"


class Crash(Action):
    """``crash`` (after serving), ``crash:before`` (instead), ``crash:torn`` (after a write,
    keeping a seeded part of its units). The mount must have durability on."""

    name = "crash"
    needs_powers = True
    direct = False  # writes reach iofs one by one anyway (write-through): the page cache stays

    def __init__(self, when: str = "") -> None:
        self.when = when  # "", "before" or "torn"

    @property  # type: ignore[override]
    def shapes_data(self) -> bool:
        return self.when == "torn"  # only a write has units to tear

    async def before(self, req: Request) -> int:
        if self.when != "before":
            return 0
        if req.powers is not None:
            await req.powers.crash(req, 0, False)
        return errno.EIO

    async def after(self, req: Request, moved: int) -> None:
        if req.powers is not None:
            await req.powers.crash(req, moved, self.when == "torn")

    def __str__(self) -> str:
        return f"crash:{self.when}" if self.when else "crash"


class Kill(Action):
    """``kill``: SIGKILL the process that made the request, which then never sees it end."""

    name = "kill"
    direct = False

    async def before(self, req: Request) -> int:
        td = req.td
        pid = (td.tgid or tgid_of(td.pid) or td.pid) if td is not None else 0
        if pid > 1 and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass  # gone already
        return errno.EINTR


OK = Ok()
# actions written NAME:N, by name: the class and whether N may be "half"
_WITH_NUMBER: dict[str, Callable[[int | None], Action]] = {
    "short": Short, "sleep": Sleep, "corrupt": Corrupt,
}
_WORDS: dict[str, Callable[[], Action]] = {
    "ok": Ok, "kill": Kill, "crash": Crash, "crash:before": lambda: Crash("before"),
    "crash:torn": lambda: Crash("torn"),
}
VOCABULARY = ("ok, short:N, short:half, ERRNO[:N], eagain, sleep:MS, corrupt:N, crash, "
              "crash:before, crash:torn, kill")


def parse_action(text: Any) -> Action:
    """The :class:`Action` written as ``text``; ValueError naming what is wrong with it."""
    if not isinstance(text, str):
        raise ValueError(f"an action is a string such as \"short:10\", not {text!r}")
    word = text.strip().lower()
    if word in _WORDS:
        return _WORDS[word]()
    name, colon, arg = word.partition(":")
    if name == "short" and arg == "half":
        return Short(None)
    number = None
    if colon:
        if arg.startswith("-") and arg[1:].isdigit():
            raise ValueError(f"action {text!r}: the number cannot be negative")
        number = whole_number(arg)
        if number is None:
            raise ValueError(f"action {text!r}: {arg!r} is not a number")
    if name in _WITH_NUMBER and number is not None:
        return _WITH_NUMBER[name](number)
    if name == "enosys":
        raise ValueError(f"action {text!r}: refused: the kernel takes ENOSYS as \"not "
                         "implemented\" and stops sending that request to the whole mount")
    code = ERRNOS.get(name)
    if code == errno.EAGAIN and not colon:
        return Eagain()
    if code is not None:
        return Errno(code, number)
    raise ValueError(f"unknown action {text!r} (actions: {VOCABULARY})")


async def apply(action: Action, req: Request,
                serve: Callable[..., Awaitable[Any]]) -> tuple[Any, int]:
    """Run ``action`` around one request: ``(what serve returned, errno to end with)``.

    A request that moves no data is ``serve()``, run unless the action fails it first (the
    result is then None). A data request is ``serve(limit, shaper)``: move at most ``limit``
    bytes and apply ``shaper`` (if any) to the bytes moved, in place; the errno that follows
    is for the caller to settle with what moved (the syscall layer's rule).
    """
    code = await action.before(req)
    if code:
        return None, code
    if not req.data:
        code = action.error(req)
        if code:
            return None, code
        result = await serve()
        await action.after(req, 0)
        return result, 0
    result = await serve(action.limit(req), action.shaper(req))
    await action.after(req, result if type(result) is int else len(result or b""))
    return result, action.error(req)


__all__ = ["Action", "Request", "Powers", "Ok", "Short", "Errno", "Eagain", "Sleep", "Corrupt",
           "Crash", "Kill", "OK",
           "parse_action", "apply", "ERRNOS", "VOCABULARY", "SLEEP_MAX_MS"]
