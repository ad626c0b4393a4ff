"""The control directory (``.iofs`` at the mount root, by default): where a running mount is
steered from inside itself.

It is a sealed directory (programs cannot add, remove or rename anything in it, or it), owned
by the user who mounted and mode 0700, so that on an ``--allow-other`` mount nobody else can
read or change it. Its files are device nodes whose drivers the planes provide (fault rules,
the trace, crash simulation); they are not listed by ``status``, and requests to the directory
and its files are never traced or faulted.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any, Awaitable, Callable

from ..core.uio import uiomove
from ..dev.driver import Device, Driver
from .memory import MemoryNamespace

DEFAULT_NAME = ".iofs"


def build(ns: MemoryNamespace, name: str, files: list[tuple[str, Any, int]]) -> set[int]:
    """Make the control directory ``name`` in the root with ``files`` (name, driver, mode);
    the inodes it took."""
    uid, gid = os.getuid(), os.getgid()
    d = ns.mkdir_as(ns.root.ino, name.encode(), 0o700, uid, gid)
    d.mode = stat.S_IFDIR | 0o700  # not the root's setgid inheritance or anything else
    inodes = {d.ino}
    for fname, driver, mode in files:
        dev = Device(f"{name}/{fname}", driver, mode=mode, uid=uid, gid=gid)
        inodes.add(ns.add_device(d.ino, fname.encode(), dev).ino)
    d.sealed = True
    return inodes


class ResetFile(Driver):
    """Writing ``reset`` makes the mount as it was when it was mounted (the tree from its
    config, the rules of the config, an empty trace): what ``iofs sweep`` does between runs."""

    description = "control: reset the mount (write reset)"
    stream = True

    def __init__(self, reset: Callable[[], Awaitable[None]]) -> None:
        self.reset = reset

    async def d_write(self, dev, uio, ioflag):
        if uio.uio_resid > 64:
            return errno.EINVAL
        buf = bytearray(uio.uio_resid)
        error = uiomove(buf, len(buf), uio)
        if error:
            return error
        if buf.split() != [b"reset"]:
            return errno.EINVAL
        await self.reset()
        return 0


__all__ = ["build", "ResetFile", "DEFAULT_NAME"]
