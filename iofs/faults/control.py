"""The fault plane's control files: ``faults`` and ``trace`` in the control directory.

Both are device nodes with drivers of their own (iofs serving itself), stream devices whose
opens each keep their own position.

``faults`` is a transaction file (as nfsd's control files are): a write of one or more whole
lines (at most :data:`WRITE_MAX` bytes) changes the rules, all or nothing, and a read on the
*same* open then returns the reply (the id of each rule added, one per line); a read on an open
that wrote nothing lists the active rules, one line each: ``ID hits=N RULE``. A line is a rule
(:func:`iofs.faults.rules.parse_rule`), ``clear`` (remove all) or ``-ID`` (remove one: ENOENT
if there is no such rule); the requests asleep in a removed rule's ``sleep:MS`` go on, served.
A bad line fails the write with EINVAL, and the reason is logged.

``trace`` serves the ring as JSON lines from the first event since the mount (a new open:
what the ring dropped first comes as one ``{"lost": N}`` line) or from where
this open left off; at the end a read sleeps until more events come, or gets EAGAIN if the
file was opened O_NONBLOCK. Writing ``detail=1`` (``detail=0``) turns the uio detail of read
and write events on (off) for the whole mount.
"""

from __future__ import annotations

import errno
import logging
import time
from typing import Any

import trio

from ..core.uio import uiomove
from ..dev.cdevpriv import devfs_get_cdevpriv, devfs_set_cdevpriv
from ..dev.driver import IO_NDELAY, Driver
from ..dev.sleep import signal_pending
from ..system.units import whole_number
from .hook import Hook
from .rules import parse_rule
from .ruleset import RuleLimit
from .trace import BATCH_DELAY, json_line, lost_line

log = logging.getLogger("iofs")

BATCH = 256  # a read finding fewer events than this (and than fit) waits BATCH_DELAY for more
# The kernel hands a write(2) to a direct_io file in pieces of at most 256 pages; the first
# piece of a write that was cut holds more than 255 pages. A longer write could be half of
# one, and its lines would be parsed alone: it is refused, so that one write(2) is one change.
WRITE_MAX = 255 * 4096
SLICE = 0.005  # seconds a long write parses before letting other requests in


class _Open:
    """One open of a control file: its read position, and what it has to say."""

    __slots__ = ("pos", "text", "reply", "cursor", "pending")

    def __init__(self) -> None:
        self.pos = 0
        self.text: bytes | None = None
        self.reply: bytes | None = None
        self.cursor: int | None = None
        self.pending = b""


def _state() -> _Open:
    error, state = devfs_get_cdevpriv()
    return state if not error else _Open()


def _serve(state: _Open, data: bytes, uio: Any) -> int:
    """Move ``data`` from this open's position on (stream files carry no offset)."""
    n = min(len(data) - state.pos, uio.uio_resid)
    if n <= 0:
        return 0
    before = uio.uio_resid
    error = uiomove(memoryview(data)[state.pos:state.pos + n], n, uio)
    state.pos += before - uio.uio_resid
    return error


def _written(uio: Any, limit: int = WRITE_MAX) -> str | None:
    """The text of a write (None if it is not UTF-8 or too long)."""
    n = uio.uio_resid
    if n > limit:
        return None
    buf = bytearray(n)
    if uiomove(buf, n, uio):
        return None
    try:
        return buf.decode()
    except UnicodeDecodeError:
        return None


class FaultsFile(Driver):
    description = "control: fault rules (write a rule, clear or -ID; read the list)"
    stream = True

    def __init__(self, hook: Hook) -> None:
        self.hook = hook

    def d_open(self, dev, oflags, td):
        return devfs_set_cdevpriv(_Open())

    def d_read(self, dev, uio, ioflag):
        state = _state()
        if state.text is None:
            state.text = state.reply if state.reply is not None else \
                self.hook.rules.listing().encode()
            state.pos = 0
        return _serve(state, state.text, uio)

    async def d_write(self, dev, uio, ioflag):
        state = _state()
        text = _written(uio)
        if text is None:
            log.warning("%s: a write that is not UTF-8 text of at most %d bytes: EINVAL",
                        dev.name, WRITE_MAX)
            return errno.EINVAL
        changes = await self._parse(dev, text)
        if isinstance(changes, int):
            return changes
        rules = self.hook.rules
        after = rules.active
        for change in changes:  # the transaction must fit under max_rules as a whole
            after = 0 if change == "clear" else after - 1 if isinstance(change, int) else after + 1
            if after > rules.max_rules:
                log.warning("%s: this write would leave %d rules, more than max_rules (%d): "
                            "ENOSPC", dev.name, after, rules.max_rules)
                return errno.ENOSPC
        added = []
        for change in changes:  # no await from here on: the change is one instant
            if change == "clear":
                rules.clear()
            elif isinstance(change, int):
                rules.remove(change)
            else:
                try:
                    rules.add(change)
                except RuleLimit:  # cannot be: counted above
                    return errno.ENOSPC
                added.append(change)
        if len(added) <= 8:
            for rule in added:
                log.info("fault rule %d: %s", rule.id, rule)
        else:
            log.info("fault rules %d..%d added (%d rules)", added[0].id, added[-1].id, len(added))
        state.reply = "".join(f"{r.id}\n" for r in added).encode()
        state.text = None
        return 0

    async def _parse(self, dev: Any, text: str) -> list[Any] | int:
        """The changes a write asks for, or the errno refusing it. Parsing a long write lets
        other requests in every few milliseconds: nothing is changed until all of it parsed."""
        changes: list[Any] = []
        rules = self.hook.rules
        deadline = time.monotonic() + SLICE
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line == "clear":
                changes.append("clear")
            elif line.startswith("-") and (rule_id := whole_number(line[1:])) is not None:
                if rule_id not in rules:
                    log.warning("%s: no rule %s to remove: ENOENT", dev.name, rule_id)
                    return errno.ENOENT
                changes.append(rule_id)
            else:
                try:
                    rule = parse_rule(line)
                except ValueError as exc:
                    log.warning("%s: %s: EINVAL", dev.name, exc)
                    return errno.EINVAL
                if rule.action.needs_powers and self.hook.powers is None:
                    log.warning("%s: action %s needs [options] durability = true: EINVAL",
                                dev.name, rule.action)
                    return errno.EINVAL
                changes.append(rule)
            if time.monotonic() > deadline:
                await trio.sleep(0)
                deadline = time.monotonic() + SLICE
        return changes


class TraceFile(Driver):
    description = "control: the request trace, as JSON lines (a read at the end waits)"
    stream = True

    def __init__(self, hook: Hook) -> None:
        self.hook = hook

    def d_open(self, dev, oflags, td):
        return devfs_set_cdevpriv(_Open())

    async def d_read(self, dev, uio, ioflag):
        ring = self.hook.ring
        if ring is None:
            return 0  # tracing is off: an empty file
        state = _state()
        if state.cursor is None:
            state.cursor = 0  # from the mount on: events the ring dropped are said as lost
        fits = max(uio.uio_resid // 200, 1)  # about that many events fill the request
        gathered = False
        while not state.pending:
            if not gathered and ring.seq - state.cursor < min(fits, BATCH) and not ioflag & IO_NDELAY:
                # a few events only: let more come first, so that a reader following a busy
                # mount costs a request per batch, not per event
                await trio.sleep(BATCH_DELAY)
                gathered = True
            lost, cursor, events = ring.take(state.cursor, limit=fits * 2)
            if lost or events:
                state.cursor = cursor
                text = (lost_line(lost) if lost else "") + "".join(json_line(ring, seq, ev) for seq, ev in events)
                state.pending = text.encode()
                break
            if ioflag & IO_NDELAY:
                return errno.EAGAIN
            td = uio.uio_td
            error = await ring.wait(state.cursor, (lambda: signal_pending(td.pid, td.tgid)) if td else None)
            if error:
                return error
        # whole lines while they fit; a line longer than the request goes in pieces
        data = state.pending
        n = min(len(data), uio.uio_resid)
        if n < len(data):
            n = data.rfind(b"\n", 0, n) + 1 or n
        error = uiomove(data, n, uio)
        state.pending = data[n:]
        return error

    def d_write(self, dev, uio, ioflag):
        text = _written(uio, 4096)
        if text is None:
            log.warning("%s: a write that is not UTF-8 text of at most 4 KiB: EINVAL", dev.name)
            return errno.EINVAL
        for word in text.split():
            if word in ("detail=1", "detail=on"):
                self.hook.detail = True
            elif word in ("detail=0", "detail=off"):
                self.hook.detail = False
            else:
                log.warning("%s: unknown trace setting %r (detail=1, detail=0): EINVAL", dev.name, word)
                return errno.EINVAL
        return 0


def control_files(hook: Hook) -> list[tuple[str, Driver, int]]:
    """The fault plane's files of the control directory: (name, driver, mode)."""
    return [("faults", FaultsFile(hook), 0o600), ("trace", TraceFile(hook), 0o600)]


__all__ = ["FaultsFile", "TraceFile", "control_files"]
