"""Fixtures of the tests of driver bugs and error paths: mounts of trees whose user drivers
raise, return what is no errno, botch sizes, poll events and uio_resid, or keep a uio.

``bad`` and ``faulty`` are module-scoped: each test module that uses one gets a mount of its
own, and the daemon must still be up when the module is done with it.
"""

from __future__ import annotations

import pytest

from tests.support.mounting import is_mounted, mounted
from tests.support.processes import pid_gone
from tests.support.programs import device, driver_env

BAD_DRIVERS = '''
import errno
import logging
import sys

import trio

from iofs.driver import Driver, WaitChannel
from iofs.uio import UIO_NOCOPY, uiomove, uioskip


class AsyncSize(Driver):
    """d_size as a coroutine: stat must be answered at once (docs/drivers.md: EIO)."""

    async def d_size(self, dev):
        return 10


class PropertySize(Driver):
    """d_size is a property that raises: looking the entry point up is already the bug."""

    @property
    def d_size(self):
        raise RuntimeError("d_size property")

    @property
    def d_poll(self):
        raise RuntimeError("d_poll property")


KEPT = []


class Keeper(Driver):
    """Keeps the uio of its read (moving nothing), and moves into it later, from d_write."""

    async def d_read(self, dev, uio, ioflag):
        KEPT.append(uio)
        return 0

    def d_write(self, dev, uio, ioflag):
        for kept in KEPT:
            uiomove(b"LATE" * 8, 32, kept)
        uio.uio_resid = 0
        return 0


class ClaimsAll(Driver):
    """Says it moved the whole request (uio_resid = 0) and moves nothing."""

    def d_read(self, dev, uio, ioflag):
        uio.uio_resid = 0
        return 0


class SkipsAll(Driver):
    """Skips the whole request (illumos uioskip): counted as moved, never filled."""

    def d_read(self, dev, uio, ioflag):
        uioskip(uio, uio.uio_resid)
        return 0


class NoCopy(Driver):
    """Moves 4 bytes, then a UIO_NOCOPY move of the rest, as if the data were in place."""

    def d_read(self, dev, uio, ioflag):
        uiomove(b"head", 4, uio)
        uio.uio_segflg = UIO_NOCOPY
        return uiomove(bytes(uio.uio_resid), uio.uio_resid, uio)


class AsyncClaimsAll(Driver):
    async def d_read(self, dev, uio, ioflag):
        uio.uio_resid = 0
        return 0


class Filler(Driver):
    """Moves 16 bytes, sleeps, moves 16 more: a read that holds its reply buffer asleep. With
    ``until_written``, it says in the log that it sleeps, and sleeps until a write to it."""

    def __init__(self, until_written=False):
        self.until_written = until_written
        self.chan = WaitChannel()

    async def d_read(self, dev, uio, ioflag):
        uiomove(b"f" * 16, 16, uio)
        if self.until_written:
            logging.getLogger("iofs").info("%s: moved 16 bytes, asleep", dev.name)
            await self.chan.sleep(None, 30)
        else:
            await trio.sleep(0.5)
        return uiomove(b"g" * 16, 16, uio)

    def d_write(self, dev, uio, ioflag):
        self.chan.wakeup()
        uio.uio_resid = 0
        return 0


class BadSize(Driver):
    """d_size is broken in the way named by how."""
    def __init__(self, how="raise"):
        self.how = how

    def d_size(self, dev):
        if self.how == "raise":
            raise RuntimeError("size boom")
        if self.how == "exit":
            sys.exit(3)
        return {"huge": 2**64, "str": "12", "negative": -1, "float": 1.5}[self.how]


class BadPoll(Driver):
    def __init__(self, how="str"):
        self.how = how

    def d_poll(self, dev, events, td):
        if self.how == "raise":
            raise SystemExit(4)
        return {"str": "x", "negative": -1, "huge": 2**40, "float": 1.0}[self.how]


class BadResid(Driver):
    """Sets uio_resid to something that is not an int."""
    def __init__(self, value="str"):
        self.value = {"str": "5", "none": None, "float": 1.5, "big": 10**30}[value]

    def d_read(self, dev, uio, ioflag):
        uio.uio_resid = self.value
        return 0

    async def d_write(self, dev, uio, ioflag):
        uio.uio_resid = self.value
        return 0


class Exits(Driver):
    """SystemExit (or another BaseException) from the entry point named where."""
    def __init__(self, where="d_read", what="exit"):
        self.where = where
        self.what = what

    def _die(self, entry):
        if entry == self.where:
            if self.what == "exit":
                sys.exit(f"exit from {entry}")
            raise GeneratorExit("base boom")

    def d_open(self, dev, oflags, td):
        self._die("d_open")
        return 0

    def d_close(self, dev, fflag, td):
        self._die("d_close")
        return 0

    def d_read(self, dev, uio, ioflag):
        self._die("d_read")
        return uiomove(b"fine", min(4, uio.uio_resid), uio)

    async def d_write(self, dev, uio, ioflag):
        await trio.sleep(0)
        self._die("d_write")
        uio.uio_resid = 0
        return 0

    def d_fsync(self, dev, datasync):
        self._die("d_fsync")
        return 0


class BadErrno(Driver):
    """Returns an errno the kernel cannot carry."""
    def __init__(self, code=600):
        self.code = code

    def d_open(self, dev, oflags, td):
        return self.code if oflags & 0o3 == 1 else 0   # O_WRONLY opens fail

    def d_read(self, dev, uio, ioflag):
        return self.code

    async def d_write(self, dev, uio, ioflag):
        return self.code


class ReturnsNone(Driver):
    """Moves bytes and returns None (falls off the end), sync reads, async writes."""
    def d_read(self, dev, uio, ioflag):
        uiomove(b"none-sync", min(9, uio.uio_resid), uio)

    async def d_write(self, dev, uio, ioflag):
        await trio.sleep(0)
        uio.uio_resid -= min(uio.uio_resid, 3)

    def d_open(self, dev, oflags, td):
        pass

    def d_fsync(self, dev, datasync):
        pass


class AsyncNone(Driver):
    async def d_read(self, dev, uio, ioflag):
        await trio.sleep(0)
        uiomove(b"none-async", min(10, uio.uio_resid), uio)

    def d_write(self, dev, uio, ioflag):
        uio.uio_resid = 0
'''

BAD_MOD = "iofs_baddrv_h"


def _bad(path: str, cls: str, **opts: object) -> str:
    return device(path, f"{BAD_MOD}:{cls}", **opts)


BAD_TREE = "".join([
    '[[device]]\npath = "zero"\ndriver = "zero"\n',
    *(_bad(f"size_{h}", "BadSize", how=h) for h in ("raise", "exit", "huge", "str", "negative", "float")),
    _bad("size_async", "AsyncSize"),
    *(_bad(f"poll_{h}", "BadPoll", how=h) for h in ("raise", "str", "negative", "huge", "float")),
    *(_bad(f"resid_{v}", "BadResid", value=v) for v in ("str", "none", "float", "big")),
    *(_bad(f"exit_{w}", "Exits", where=w) for w in ("d_open", "d_close", "d_read", "d_write", "d_fsync")),
    _bad("base_read", "Exits", where="d_read", what="base"),
    *(_bad(f"errno_{c}", "BadErrno", code=c) for c in (600, 100000, -3, 38, False, 0.0)),
    _bad("none", "ReturnsNone"),
    _bad("propdir/prop", "PropertySize"),
    _bad("keeper", "Keeper"),
    _bad("filler", "Filler"),
    _bad("filler_waits", "Filler", until_written=True),
    _bad("claims", "ClaimsAll"),
    _bad("skips", "SkipsAll"),
    _bad("nocopy", "NoCopy"),
    _bad("aclaims", "AsyncClaimsAll"),
    '[[device]]\npath = "secret"\ndriver = "text"\nmode = "0600"\ncontent = "root only"\n',
    _bad("anone", "AsyncNone"),
])



FAULTY_DRIVERS = '''
import errno

import trio

from iofs.driver import Driver, ERESTART
from iofs.uio import uiomove


class Raiser(Driver):
    def d_read(self, dev, uio, ioflag):
        raise RuntimeError("boom from the test driver")

    def d_write(self, dev, uio, ioflag):
        uiomove(bytearray(3), 3, uio)  # progress, then a crash: still EIO
        raise ValueError("write boom")


class AsyncRaiser(Driver):
    async def d_read(self, dev, uio, ioflag):
        await trio.sleep(0)
        raise KeyError("async boom")


class OpenRaiser(Driver):
    def d_open(self, dev, oflags, td):
        raise OSError("open boom")


class Partial(Driver):
    """Moves n bytes of the letter P, then returns the errno named err."""

    def __init__(self, n=10, err="EINTR"):
        self.n = n
        self.err = ERESTART if err == "ERESTART" else getattr(errno, err)

    def d_read(self, dev, uio, ioflag):
        n = min(self.n, uio.uio_resid)
        if n:
            error = uiomove(b"P" * n, n, uio)
            assert error == 0
        return self.err

    def d_write(self, dev, uio, ioflag):
        n = min(self.n, uio.uio_resid)
        if n:
            assert uiomove(bytearray(n), n, uio) == 0
        return self.err


class BadReturn(Driver):
    def d_read(self, dev, uio, ioflag):
        return "not an errno"

    def d_write(self, dev, uio, ioflag):
        uio.uio_resid = -5  # claims to have moved more than it was given
        return 0
'''

FAULTY_MOD = "iofs_testdrv_b"


def _faulty(path: str, cls: str, **opts: object) -> str:
    return device(path, f"{FAULTY_MOD}:{cls}", **opts)


FAULTY_TREE = "".join([
    '[[device]]\npath = "zero"\ndriver = "zero"\n',
    _faulty("raise", "Raiser"),
    _faulty("araise", "AsyncRaiser"),
    _faulty("oraise", "OpenRaiser"),
    _faulty("badret", "BadReturn"),
    _faulty("eintr10", "Partial", n=10, err="EINTR"),
    _faulty("eagain10", "Partial", n=10, err="EAGAIN"),
    _faulty("restart10", "Partial", n=10, err="ERESTART"),
    _faulty("eio10", "Partial", n=10, err="EIO"),
    _faulty("efault10", "Partial", n=10, err="EFAULT"),
    _faulty("eintr0", "Partial", n=0, err="EINTR"),
    _faulty("restart0", "Partial", n=0, err="ERESTART"),
    _faulty("enospc0", "Partial", n=0, err="ENOSPC"),
])



@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """Drivers with every bug the guard checks for (BAD_DRIVERS), in one mount."""
    base = tmp_path_factory.mktemp("bad")
    with mounted(base, BAD_TREE, env=driver_env(base, **{BAD_MOD: BAD_DRIVERS})) as m:
        yield m
        assert is_mounted(m.path) and not pid_gone(m.pid), "a bad driver took the daemon down"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """Drivers that raise, return garbage, or move some bytes and then return an errno."""
    base = tmp_path_factory.mktemp("faulty")
    with mounted(base, FAULTY_TREE, env=driver_env(base, **{FAULTY_MOD: FAULTY_DRIVERS})) as m:
        yield m
