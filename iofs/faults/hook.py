"""The fault and trace hook: where the filesystem's requests enter this room, once each.

The filesystem calls, for every request:

* ``async with hook.request(op, node, name, td, of):`` around a request that moves no data.
  A rule that fires fails it with its errno before the filesystem acts (or sleeps first);
  the event is recorded when the block ends, with the errno it ended with.
* ``await hook.read(of, off, size, serve)`` / ``await hook.write(of, off, data, serve)`` for
  the data path: ``serve`` is the filesystem's own d_read/d_write of a whole request. A rule
  that fires shapes the request as its step says (short, errno after N bytes, corrupt,
  eagain, sleep), byte-exact, and the syscall layer's rule (:func:`iofs.guard.settle`) turns
  what moved and the errno into what the program sees.
* ``hook.opened(of)`` when a file is opened: whether the open is traced (control files are
  not) and whether a regular file is opened direct_io (a read/write rule matches it, so the
  page cache cannot turn a short read into end of file).

Requests to the control directory are never traced or faulted. With no rule, a request costs
the hook one check and one trace record; a rule that does not match costs its ``selects``.
"""

from __future__ import annotations

import errno
import logging
import time
from typing import Any, Awaitable, Callable

import pyfuse3

from .. import guard
from ..driver import ERESTART, Td, WaitChannel
from ..tree import Node
from ..uio import start_moves, stop_moves
from . import steps
from .rules import DATA_OPS, Rule
from .trace import Ring

log = logging.getLogger("iofs")

_now = time.monotonic_ns
_NO_TD = Td(0, 0, 0)


def comm_of(pid: int, cache: dict[int, str]) -> str:
    """The process name of ``pid``, read from /proc the first time iofs sees that pid."""
    comm = cache.get(pid)
    if comm is None:
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                comm = f.read().rstrip(b"\n").decode(errors="replace")
        except OSError:
            comm = "?"
        if len(cache) > 4096:
            cache.clear()
        cache[pid] = comm
    return comm


class Rules:
    """The active rules, in the order added; ids count up from 1 and are never reused."""

    def __init__(self) -> None:
        self.active: list[Rule] = []
        self._next_id = 1
        self._sleeps: dict[int, WaitChannel] = {}  # rule id -> where its sleep:MS requests wait

    def add(self, rule: Rule) -> int:
        rule.id = self._next_id
        self._next_id += 1
        self.active = self.active + [rule]  # a new list: a request iterating the old one is fine
        return rule.id

    def remove(self, rule_id: int) -> bool:
        kept = [r for r in self.active if r.id != rule_id]
        found = len(kept) != len(self.active)
        self.active = kept
        self._wake(rule_id)
        return found

    def clear(self) -> None:
        self.active = []
        sleeps, self._sleeps = self._sleeps, {}
        for chan in sleeps.values():
            chan.wakeup()

    def sleeps(self, rule: Rule) -> WaitChannel:
        """Where the requests asleep in ``rule`` wait: removing the rule wakes them (served)."""
        chan = self._sleeps.get(rule.id)
        if chan is None:
            chan = self._sleeps[rule.id] = WaitChannel()
        return chan

    def _wake(self, rule_id: int) -> None:
        chan = self._sleeps.pop(rule_id, None)
        if chan is not None:
            chan.wakeup()

    def listing(self) -> str:
        return "".join(f"{r.id} hits={r.hits} {r}\n" for r in self.active)


class _Quiet:
    """The request context of a request nothing watches (the control directory)."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: Any) -> bool:
        return False


_QUIET = _Quiet()


class _Request:
    """The hook around one request that moves no data: fault on entry, trace on exit."""

    __slots__ = ("hook", "op", "path", "td", "comm", "t0", "rule")

    def __init__(self, hook: Hook, op: str, path: str, td: Td, comm: str) -> None:
        self.hook, self.op, self.path, self.td, self.comm = hook, op, path, td, comm
        self.rule: Rule | None = None
        self.t0 = _now()

    async def __aenter__(self) -> None:
        hook = self.hook
        if hook.rules.active:
            rule = hook.firing(self.op, self.path, self.td, self.comm, 0, 0)
            if rule is not None:
                self.rule = rule
                step = rule.action
                code = 0
                if step.kind == "sleep":
                    code = await steps.sleep(step, self.td, hook.rules.sleeps(rule))
                elif step.kind == "errno":
                    code = errno.EINTR if step.code == ERESTART else step.code
                if code:
                    hook.record(self.op, self.path, self.td, self.comm, None, None, 0, code,
                                self.t0, rule)
                    self.t0 = -1  # recorded
                    raise pyfuse3.FUSEError(code)

    async def __aexit__(self, et: Any, ev: Any, tb: Any) -> bool:
        if self.t0 >= 0:
            code = 0 if ev is None else (getattr(ev, "errno", None) or errno.EIO)
            self.hook.record(self.op, self.path, self.td, self.comm, None, None, 0, code,
                             self.t0, self.rule)
        return False


class _Unfaulted(_Request):
    """A request that is traced but never faulted: the root's getattr, which the kernel asks
    for on the way to the control directory, so that no rule can lock its user out."""

    __slots__ = ()

    async def __aenter__(self) -> None:
        return None


class Hook:
    """Fault rules and the trace of one mount (``fs.hook``)."""

    def __init__(self, fs: Any, ring: Ring | None, rules: list[Rule]) -> None:
        self.ns = fs.ns
        self.ring = ring
        self.rules = Rules()
        for rule in rules:
            self.rules.add(rule)
        self.detail = False
        self.quiet: set[int] = set()  # inodes of the control directory and its files
        self.quiet_name: bytes | None = None
        self._comms: dict[int, str] = {}

    # ---- matching ----

    def comm(self, pid: int) -> str:
        return comm_of(pid, self._comms)

    def firing(self, op: str, path: str, td: Td, comm: str, off: int, size: int) -> Rule | None:
        """The first rule that selects this request and fires on it (counters move)."""
        for rule in self.rules.active:
            if op in rule.ops and rule.about(path, td.pid, td.uid, comm) \
                    and (op not in DATA_OPS or rule.overlaps(off, size)) and rule.fire():
                return rule
        return None

    def selects_data(self, of: Any) -> bool:
        """Whether some rule could fault reads or writes of this open (who and path match)."""
        td = of.td
        return any(r.ops & DATA_OPS and r.about(of.path, td.pid, td.uid, of.comm)
                   for r in self.rules.active)

    # ---- the trace ----

    def record(self, op: str, path: str, td: Td, comm: str, off: int | None, size: int | None,
               moved: int, err: int, t0: int, rule: Rule | None, detail: Any = None) -> None:
        ring = self.ring
        if ring is not None:
            ring.add(op, path, td.pid, comm, td.uid, off, size, moved, err, t0, _now(), rule, detail)

    # ---- the filesystem's entry points ----

    def opened(self, of: Any) -> None:
        node = of.node
        if node.ino in self.quiet:
            return
        of.hook = self
        of.path = self.ns.path(node)
        of.comm = self.comm(of.td.pid)
        if of.regular and self.rules.active and self.selects_data(of):
            of.direct = True

    def request(self, op: str, node: Node, name: bytes | None, td: Td | None, of: Any = None) -> Any:
        """The async context manager around a request that moves no data."""
        if node.ino in self.quiet or (name is not None and name == self.quiet_name and node is self.ns.root):
            return _QUIET
        if of is not None:
            if of.hook is None:
                return _QUIET
            return _Request(self, op, of.path, td or of.td, of.comm)
        path = self.ns.path(node) if name is None else self.ns.child_path(node, name)
        td = td or _NO_TD
        kind = _Unfaulted if node is self.ns.root and op == "getattr" and self.quiet else _Request
        return kind(self, op, path, td, self.comm(td.pid) if td.pid else "")

    async def read(self, of: Any, off: int, size: int, serve: Callable[..., Awaitable[Any]]) -> Any:
        """A read of ``size`` bytes at ``off``: ``serve(of, off, size)`` is the filesystem's."""
        return await self._data("read", of, off, size, size, serve)

    async def write(self, of: Any, off: int, data: Any, serve: Callable[..., Awaitable[int]]) -> int:
        """A write of ``data`` at ``off``: ``serve(of, off, data)`` is the filesystem's."""
        return await self._data("write", of, off, len(data), data, serve)

    async def _data(self, op: str, of: Any, off: int, size: int, arg: Any, serve: Any) -> Any:
        t0 = _now()
        rule = self.firing(op, of.path, of.td, of.comm, off, size) if self.rules.active else None
        moves = start_moves() if self.detail else None
        try:
            if rule is None:
                result = await serve(of, off, arg)
            else:
                result = await self._shaped(op, of, off, size, arg, serve, rule)
        except pyfuse3.FUSEError as exc:
            self.record(op, of.path, of.td, of.comm, off, size, 0, exc.errno, t0, rule,
                        self._detail(moves, of, off, size, 0))
            raise
        ring = self.ring
        if ring is not None:  # (record(), inline: this is every read and write)
            moved = result if op == "write" else len(result)
            td = of.td
            ring.add(op, of.path, td.pid, of.comm, td.uid, off, size, moved, 0, t0, _now(), rule,
                     self._detail(moves, of, off, size, moved) if moves is not None else None)
        return result

    async def _shaped(self, op: str, of: Any, off: int, size: int, arg: Any, serve: Any,
                      rule: Rule) -> Any:
        """The request as the rule's step makes it: at most ``limit`` bytes reach the driver,
        then the step's errno, through the syscall layer's rule; corrupt changes the data
        the program gets (read) or the driver stores (write)."""
        step = rule.action
        if step.kind == "sleep":
            error = await steps.sleep(step, of.td, self.rules.sleeps(rule))
            if error:
                raise pyfuse3.FUSEError(error)
        error = step.error(of.ioflag)
        if step.kind == "eagain" and error:
            raise pyfuse3.FUSEError(error)
        limit = step.limit(size)
        if op == "read":
            result = await serve(of, off, limit) if limit > 0 else b""
            if step.kind == "corrupt" and len(result):
                result = bytearray(result)
                step.corrupt(memoryview(result), rule.seed, rule.hits)
            moved = len(result)
        else:
            data = arg
            if step.kind == "corrupt" and size:
                data = bytearray(data)
                step.corrupt(memoryview(data), rule.seed, rule.hits)
            result = moved = await serve(of, off, memoryview(data)[:limit]) if limit > 0 else 0
        _, error = guard.settle(of.dev, moved, error)
        if error:
            raise pyfuse3.FUSEError(error)
        return result

    def _detail(self, moves: list | None, of: Any, off: int, size: int, moved: int) -> Any:
        """The uio before and after the driver, and its moves (detail on), else None."""
        if moves is None:
            return None
        stop_moves()
        off0 = 0 if of.stream else off
        last = moves[-1] if moves else None
        after_off = last[2] if last is not None else off0
        return {"uio_before": {"uio_offset": off0, "uio_resid": size},
                "uio_after": {"uio_offset": after_off, "uio_resid": size - moved},
                "moves": [[name, n] for name, n, _ in moves]}


def build_hook(fs: Any, tree: Any) -> Hook:
    """The hook of a mount: its static rules (``[[fault]]``) and its trace ring."""
    hook = Hook(fs, Ring(tree.trace_events) if tree.trace else None, tree.faults)
    hook.detail = tree.trace_detail
    return hook


def control_files(hook: Hook) -> list:
    """This room's files in the control directory."""
    from ..control import ControlFile
    from .control import FaultsFile, TraceFile

    return [ControlFile("faults", FaultsFile(hook), 0o600),
            ControlFile("trace", TraceFile(hook), 0o600)]


__all__ = ["Hook", "Rules", "comm_of", "build_hook", "control_files"]
