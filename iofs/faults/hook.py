"""The fault and trace hook: where the filesystem's requests enter the fault plane, once each.

The request path calls, for every request (knowing nothing of rules or the trace):

* ``await hook.request(op, path, td, serve)`` for a request that moves no data: ``serve()`` is
  the filesystem's own work. A rule that fires may fail it with its errno before that work,
  or delay it; the event is recorded with the errno the request ended with.
* ``await hook.read(of, off, size, serve)`` / ``await hook.write(of, off, data, serve)`` for
  the data path: ``serve`` is the filesystem's own d_read/d_write of a whole request. A rule
  that fires shapes the request as its action says (:func:`iofs.faults.actions.apply`),
  byte-exact, and the syscall layer's rule (:func:`iofs.dev.guard.settle`) turns what moved
  and the errno into what the program sees.
* ``hook.wants_direct(path, td, comm)`` when a regular file is opened: whether a read/write
  rule could fault it, so that it is opened direct_io (the page cache would turn a short read
  into end of file).

Failures are ``OSError(errno)``: the hook knows no FUSE. The filesystem never calls it for
the control directory. With no rule, a request costs the hook one check and one trace record.
``of`` (an open file) needs ``path``, ``td``, ``comm``, ``ioflag``, ``stream`` and ``dev``.
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any, Awaitable, Callable

from ..core.td import Td
from ..core.uio import start_moves, stop_moves
from ..dev import guard
from ..system import proc
from .actions import Powers, Request, apply
from .rules import Rule
from .ruleset import RuleSet
from .trace import Ring

_now = time.monotonic_ns
NO_TD = Td(0, 0, 0)


def _fail(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class Hook:
    """Fault rules and the trace of one mount."""

    def __init__(self, rules: RuleSet, ring: Ring | None, detail: bool = False,
                 powers: Powers | None = None) -> None:
        self.rules = rules
        self.ring = ring
        self.detail = detail
        self.powers = powers  # what crash actions call (None: the mount cannot crash)
        self.down = False  # crashed at a crash point: every request fails with EIO
        self._comms: dict[int, str] = {}

    def comm(self, pid: int) -> str:
        """The process name of ``pid``, read from /proc the first time iofs sees that pid."""
        comm = self._comms.get(pid)
        if comm is None:
            raw = proc.comm(pid) if pid else b""
            comm = raw.decode(errors="surrogateescape") if raw is not None else "?"
            if len(self._comms) > 4096:
                self._comms.clear()
            self._comms[pid] = comm
        return comm

    def wants_direct(self, path: str, td: Td, comm: str) -> bool:
        """Whether some rule could fault reads or writes of this open."""
        return bool(self.rules.active) and self.rules.selects_data(path, td, comm)

    def record(self, op: str, path: str, td: Td, comm: str, off: int | None, size: int | None,
               moved: int, err: int, t0: int, rule: Rule | None, detail: Any = None,
               ioflag: int = 0) -> None:
        ring = self.ring
        if ring is not None:
            ring.add(op, path, td, comm, off, size, moved, err, t0, rule, detail, ioflag)

    # ---- requests that move no data ----

    async def request(self, op: str, path: str, td: Td | None, serve: Callable[[], Awaitable[Any]],
                      faultable: bool = True, target: Any = None) -> Any:
        """Run ``serve()`` for request ``op`` on ``path`` (through the open file ``target``, if
        any), faulted and traced."""
        t0 = _now()
        td = td or NO_TD
        comm = self.comm(td.pid)
        rule = None
        try:
            if self.down and faultable:  # (what is never faulted is the way to the controls)
                raise _fail(errno.EIO)  # a disk that lost power
            if faultable and self.rules.active:
                req = Request(op, False, 0, 0, td)
                req.target = target
                rule = self.rules.firing(req, path, comm, 0)
                if rule is not None:
                    self._armed(req, rule)
                    result, code = await apply(rule.action, req, serve)
                    if code:
                        if self.powers is not None:
                            self.powers.failed(req, code)
                        raise _fail(code)
                    self.record(op, path, td, comm, None, None, 0, 0, t0, rule)
                    return result
            result = await serve()
        except OSError as exc:
            if self.ring is not None:  # (record, inline: the kernel's getxattr probe before
                # every write(2) fails this way, with ENODATA)
                self.ring.add(op, path, td, comm, None, None, 0, exc.errno or errno.EIO, t0, rule)
            raise
        except BaseException:
            self.record(op, path, td, comm, None, None, 0, errno.EIO, t0, rule)
            raise
        if self.ring is not None:
            self.ring.add(op, path, td, comm, None, None, 0, 0, t0, rule)
        return result

    # ---- the data path ----

    async def read(self, of: Any, off: int, size: int, serve: Callable[..., Awaitable[Any]]) -> Any:
        """A read of ``size`` bytes at ``off``: ``serve(of, off, size)`` is the filesystem's."""
        t0 = _now()
        moves = start_moves() if self.detail else None
        rule = None
        try:
            if self.down:
                raise _fail(errno.EIO)
            if self.rules.active:
                rule, req = self._firing("read", of, off, size)
                if rule is not None:
                    result = await self._shaped_read(of, off, rule, req, serve)
                else:
                    result = await serve(of, off, size)
            else:
                result = await serve(of, off, size)
        except OSError as exc:
            self._record_data("read", of, off, size, 0, exc.errno or errno.EIO, t0, rule, moves)
            raise
        ring = self.ring
        if ring is not None:  # Ring.add, inline: this is every read
            seq = ring.seq
            ring.events[seq % ring.size] = (
                t0, _now(), "read", of.path, of.td, of.comm, off, size, len(result), 0, rule,
                None if moves is None else self._detail(moves, of, off, size, len(result)), of.ioflag)
            ring.seq = seq + 1
            if ring.waiters:
                ring.wake()
        return result

    async def write(self, of: Any, off: int, data: Any, serve: Callable[..., Awaitable[int]]) -> int:
        """A write of ``data`` at ``off``: ``serve(of, off, data)`` is the filesystem's."""
        t0 = _now()
        size = len(data)
        moves = start_moves() if self.detail else None
        rule = None
        try:
            if self.down:
                raise _fail(errno.EIO)
            if self.rules.active:
                rule, req = self._firing("write", of, off, size)
                if rule is not None:
                    moved = await self._shaped_write(of, off, data, rule, req, serve)
                else:
                    moved = await serve(of, off, data)
            else:
                moved = await serve(of, off, data)
        except OSError as exc:
            self._record_data("write", of, off, size, 0, exc.errno or errno.EIO, t0, rule, moves)
            raise
        ring = self.ring
        if ring is not None:  # Ring.add, inline: this is every write
            seq = ring.seq
            ring.events[seq % ring.size] = (
                t0, _now(), "write", of.path, of.td, of.comm, off, size, moved, 0, rule,
                None if moves is None else self._detail(moves, of, off, size, moved), of.ioflag)
            ring.seq = seq + 1
            if ring.waiters:
                ring.wake()
        return moved

    def _firing(self, op: str, of: Any, off: int, size: int) -> tuple[Rule | None, Request]:
        req = Request(op, True, size, of.ioflag, of.td, _expect(op, of, off, size))
        req.off, req.target = off, of
        rule = self.rules.firing(req, of.path, of.comm, off)
        if rule is not None:
            self._armed(req, rule)
        return rule, req

    def _armed(self, req: Request, rule: Rule) -> None:
        """What a firing rule's action may use: its seed and hit, where its sleeps wait, and
        the mount's powers."""
        req.seed, req.hit, req.sleeps = rule.seed, rule.hits, self.rules.sleeps(rule)
        req.powers = self.powers

    async def _shaped_read(self, of: Any, off: int, rule: Rule, req: Request, serve: Any) -> Any:
        async def transfer(limit: int, shaper: Any) -> Any:
            result = await serve(of, off, limit) if limit > 0 else b""
            if shaper is not None and len(result):
                result = bytearray(result)
                shaper(memoryview(result))
            return result

        result, code = await apply(rule.action, req, transfer)
        _, code = guard.settle(of.dev, len(result) if result is not None else 0, code)
        if code:
            raise _fail(code)
        return result

    async def _shaped_write(self, of: Any, off: int, data: Any, rule: Rule, req: Request,
                            serve: Any) -> int:
        async def transfer(limit: int, shaper: Any) -> int:
            view = data
            if shaper is not None and len(data):
                view = bytearray(data)
                shaper(memoryview(view))
            return await serve(of, off, memoryview(view)[:limit]) if limit > 0 else 0

        moved, code = await apply(rule.action, req, transfer)
        moved, code = guard.settle(of.dev, moved or 0, code)
        if code:
            raise _fail(code)
        return moved

    def _record_data(self, op: str, of: Any, off: int, size: int, moved: int, err: int, t0: int,
                     rule: Rule | None, moves: list | None) -> None:
        detail = None if moves is None else self._detail(moves, of, off, size, moved)
        self.record(op, of.path, of.td, of.comm, off, size, moved, err, t0, rule, detail, of.ioflag)

    @staticmethod
    def _detail(moves: list, of: Any, off: int, size: int, moved: int) -> dict[str, Any]:
        """The uio before and after the driver, and its moves."""
        stop_moves()
        off0 = 0 if of.stream else off
        last = moves[-1] if moves else None
        after_off = last[2] if last is not None else off0
        return {"uio_before": {"uio_offset": off0, "uio_resid": size},
                "uio_after": {"uio_offset": after_off, "uio_resid": size - moved},
                "moves": [[name, n] for name, n, _ in moves]}


def _expect(op: str, of: Any, off: int, size: int) -> int:
    """Bytes a request would move unfaulted, as far as iofs can tell: a read of a regular file
    stops at its end; anything else is taken at its word (a device's st_size need not be where
    its data ends: /zero has size 0)."""
    if op != "read" or not of.dev.regular:
        return size
    dsize = guard.call_size(of.dev)
    return size if dsize is None else max(0, min(size, dsize - off))


__all__ = ["Hook", "NO_TD"]
