"""The crash plane's files of the control directory: ``crash`` and ``unsynced``."""

from __future__ import annotations

import errno
import logging
from typing import Any, Awaitable, Callable

from ..core.uio import uiomove, uiomove_frombuf
from ..dev.cdevpriv import devfs_get_cdevpriv, devfs_set_cdevpriv
from ..dev.driver import Driver
from .crash import Durability

log = logging.getLogger("iofs")


class CrashFile(Driver):
    """Writing ``crash`` reverts every regular file to its durable state; ``torn SEED`` lets a
    seeded half of the unsynced units survive; ``restart`` serves again after a crash point. A read on the same open then tells which files
    changed (one path per line)."""

    description = "control: simulate a crash (write crash, or torn SEED)"
    stream = True

    def __init__(self, durability: Durability, restart: Callable[[], Awaitable[None]]) -> None:
        self.durability = durability
        self.restart = restart

    def d_open(self, dev, oflags, td):
        return devfs_set_cdevpriv([b"", 0])  # this open's reply, and how much of it was read

    async def d_write(self, dev, uio, ioflag):
        n = uio.uio_resid
        if n > 4096:
            return errno.EINVAL
        buf = bytearray(n)
        error = uiomove(buf, n, uio)
        if error:
            return error
        words = buf.decode(errors="replace").split()
        try:
            return await self._command(dev, words, buf)
        except OSError as exc:  # a file the crash could not put back: said in the log
            return exc.errno or errno.EIO

    async def _command(self, dev: Any, words: list[str], buf: bytearray) -> int:
        if words == ["restart"]:
            await self.restart()
            log.info("restart: serving again")
            return 0
        if words == ["crash"]:
            seed = None
        elif len(words) == 2 and words[0] == "torn" and words[1].isdigit():
            seed = int(words[1])
        else:
            log.warning("%s: write 'crash', 'torn SEED' or 'restart', not %r: EINVAL", dev.name,
                        buf[:80])
            return errno.EINVAL
        changed = await self.durability.crash(seed)
        await self.restart()  # one step: crash and serve again (also after a crash point)
        log.info("crash%s: %d files reverted to their durable state",
                 "" if seed is None else f" (torn, seed {seed})", len(changed))
        error, state = devfs_get_cdevpriv()
        if not error:
            state[0], state[1] = "".join(f"{p}\n" for p in changed).encode("utf-8", "surrogateescape"), 0
        return 0

    def d_read(self, dev, uio, ioflag):
        error, state = devfs_get_cdevpriv()
        if error:
            return 0
        data, pos = state
        before = uio.uio_resid
        error = uiomove(data[pos:], min(len(data) - pos, before), uio) if pos < len(data) else 0
        state[1] += before - uio.uio_resid
        return error


class UnsyncedFile(Driver):
    """Each open reads a snapshot: ``BYTES PATH`` for every file with unsynced bytes."""

    description = "control: files with unsynced bytes"

    def __init__(self, durability: Durability) -> None:
        self.durability = durability

    def d_open(self, dev, oflags, td):
        text = "".join(f"{n} {p}\n" for p, n in self.durability.unsynced())
        return devfs_set_cdevpriv(text.encode("utf-8", "surrogateescape"))

    def d_read(self, dev, uio, ioflag):
        error, text = devfs_get_cdevpriv()
        return 0 if error else uiomove_frombuf(text, len(text), uio)

    def d_write(self, dev, uio, ioflag):
        return errno.EACCES


def control_files(durability: Durability,
                  restart: Callable[[], Awaitable[None]]) -> list[tuple[str, Driver, int]]:
    """``crash`` (write ``crash``, ``torn SEED`` or ``restart``) and ``unsynced`` (read:
    ``BYTES PATH`` per file with unsynced bytes) in the control directory: (name, driver,
    mode)."""
    return [("crash", CrashFile(durability, restart), 0o600),
            ("unsynced", UnsyncedFile(durability), 0o400)]


__all__ = ["CrashFile", "UnsyncedFile", "control_files"]
