"""The trace: one event per request in a bounded ring, read as JSON lines (or human lines).

An event is a tuple recorded on the request path: recording costs one
tuple and one list store, and nothing is formatted until a reader asks. Readers each keep a
cursor (the next ``seq`` they want). A reader whose cursor fell behind the ring's oldest
event gets ``{"lost": N}`` first and goes on from the oldest kept. At the end of the ring a
blocking reader sleeps until the next event (ftrace's ``trace_pipe``); :meth:`Ring.wait` gives
a little time for more events to gather, so that a live reader costs a request per batch,
not per event.

Fields of every event (JSON keys): ``seq``, ``t`` (ns since the epoch), ``op``, ``path``
(mount-relative, as rules name it), ``pid``, ``comm``, ``uid``, ``offset`` and ``size`` (null
for requests without them), ``moved`` (bytes the driver moved), ``errno`` (0 for success),
``us`` (µs spent in iofs), ``rule`` (the id of the rule that fired, or null) and, when a rule
fired, its ``seed``; ``nonblock`` (true) on a read or write of a file opened O_NONBLOCK (absent
otherwise: what ``iofs sweep`` needs to know that ``eagain`` could change the request). With detail on, reads and writes also carry ``uio_before`` and
``uio_after`` (``uio_offset``, ``uio_resid``) and ``moves``: each uiomove/uiomove_frombuf the
driver made, ``[name, bytes]``.
"""

from __future__ import annotations

import errno
import json
import time
from typing import Any

import trio

from ..dev.driver import IO_NDELAY

_now = time.monotonic_ns

DEFAULT_EVENTS = 65536
BATCH_DELAY = 0.02  # seconds a woken reader waits for more events before it formats a batch

_json_utf8 = json.JSONEncoder(ensure_ascii=False).encode
_json_ascii = json.JSONEncoder(ensure_ascii=True).encode


def _json_str(text: str) -> str:
    """``text`` as a JSON string that is valid UTF-8: a name that is not UTF-8 (its bytes
    decoded with surrogateescape, as paths are) is written with \\u escapes, which
    ``os.fsencode(json.loads(...))`` turns back into its bytes."""
    if text.isascii():
        return _json_utf8(text)
    try:
        text.encode()
    except UnicodeEncodeError:
        return _json_ascii(text)
    return _json_utf8(text)


class Ring:
    """The last ``size`` events. ``seq`` is the number of the next event recorded."""

    def __init__(self, size: int = DEFAULT_EVENTS) -> None:
        if size < 1:
            raise ValueError("the trace ring needs room for at least 1 event")
        self.size = size
        self.events: list[tuple | None] = [None] * size
        self.seq = 0
        self.waiters = 0
        self._more = trio.Event()
        self.epoch_offset = time.time_ns() - time.monotonic_ns()

    def add(self, op: str, path: str, td: Any, comm: str, offset: int | None, size: int | None,
            moved: int, err: int, t0: int, rule: Any, detail: Any = None, ioflag: int = 0) -> None:
        """Record one request that began at monotonic ``t0`` (ns) and ends now. The fields are
        kept as they are (``td`` and ``rule`` as objects, ``ioflag`` the open's) and formatted
        only when read."""
        seq = self.seq
        self.events[seq % self.size] = (t0, _now(), op, path, td, comm, offset, size, moved, err,
                                        rule, detail, ioflag)
        self.seq = seq + 1
        if self.waiters:
            self._more.set()

    def wake(self) -> None:
        """Wake the readers waiting for more (the hook's inline form of :meth:`add` calls it)."""
        self._more.set()

    def oldest(self) -> int:
        """The seq of the oldest event still kept."""
        return max(self.seq - self.size, 0)

    def take(self, cursor: int, limit: int | None = None) -> tuple[int, int, list[tuple]]:
        """``(lost, new_cursor, events)`` from ``cursor`` on: at most ``limit`` events, each
        ``(seq, event)``; ``lost``: those before the oldest kept."""
        lost = 0
        oldest = self.oldest()
        if cursor < oldest:
            lost, cursor = oldest - cursor, oldest
        end = self.seq if limit is None else min(self.seq, cursor + limit)
        events = [(s, self.events[s % self.size]) for s in range(cursor, end)]
        return lost, end, events

    async def wait(self, cursor: int, stop: Any = None) -> int:
        """Sleep until an event at or after ``cursor`` exists (then a little more, for a
        batch); 0, or EINTR when ``stop()`` says the reader's process got a signal."""
        while self.seq <= cursor:
            self.waiters += 1
            try:
                with trio.move_on_after(0.1):
                    await self._more.wait()
            finally:
                self.waiters -= 1
            if self._more.is_set():
                self._more = trio.Event()
            if stop is not None and self.seq <= cursor and stop():
                return errno.EINTR
        await trio.sleep(BATCH_DELAY)
        return 0

    def wall_ns(self, t0: int) -> int:
        return t0 + self.epoch_offset


def as_dict(ring: Ring, seq: int, ev: tuple) -> dict[str, Any]:
    """One event as the mapping its JSON line encodes."""
    (t0, t1, op, path, td, comm, offset, size, moved, err, rule, detail, ioflag) = ev
    rule_id, seed = (rule.id, rule.seed) if rule is not None else (None, None)
    d = {"seq": seq, "t": ring.wall_ns(t0), "op": op, "path": path, "pid": td.pid, "comm": comm,
         "uid": td.uid, "offset": offset, "size": size, "moved": moved, "errno": err,
         "us": round((t1 - t0) / 1000, 1), "rule": rule_id}
    if rule is not None:
        d["seed"] = seed
    if ioflag & IO_NDELAY:
        d["nonblock"] = True
    if detail is not None:
        d.update(detail)
    return d


def json_line(ring: Ring, seq: int, ev: tuple) -> str:
    """One event as a JSON line (with its newline)."""
    (t0, t1, op, path, td, comm, offset, size, moved, err, rule, detail, ioflag) = ev
    if detail is not None or rule is not None or ioflag & IO_NDELAY:
        d = as_dict(ring, seq, ev)
        return "{" + ", ".join(f"{_json_str(k)}: {_json_str(v) if isinstance(v, str) else json.dumps(v)}"
                               for k, v in d.items()) + "}\n"
    return (f'{{"seq": {seq}, "t": {t0 + ring.epoch_offset}, "op": "{op}", '
            f'"path": {_json_str(path)}, "pid": {td.pid}, "comm": {_json_str(comm)}, "uid": {td.uid}, '
            f'"offset": {"null" if offset is None else offset}, '
            f'"size": {"null" if size is None else size}, "moved": {moved}, "errno": {err}, '
            f'"us": {round((t1 - t0) / 1000, 1)}, "rule": null}}\n')


def lost_line(lost: int) -> str:
    return f'{{"lost": {lost}}}\n'


def human_line(d: dict[str, Any]) -> str:
    """One event (as a mapping) the way ``iofs trace`` prints it without --json."""
    if "lost" in d:
        return f"... {d['lost']} events lost (the ring overflowed)"
    t = d["t"]
    stamp = time.strftime("%H:%M:%S", time.localtime(t // 1_000_000_000)) + f".{t % 1_000_000_000 // 1000:06d}"
    where = "" if d.get("offset") is None else f" {d['offset']}+{d['size']}"
    if d["errno"]:
        result = errno.errorcode.get(d["errno"], str(d["errno"]))
    else:
        result = "ok" if d.get("offset") is None else f"moved={d['moved']}"
    rule = f" rule={d['rule']}" if d.get("rule") is not None else ""
    line = (f"{stamp} {d['comm']}[{d['pid']}] {d['op']} {d['path'] or '/'}{where} {result} "
            f"{d['us']}us{rule}")
    if "moves" in d:
        before, after = d.get("uio_before", {}), d.get("uio_after", {})
        moves = " ".join(f"{name}({n})" for name, n in d["moves"])
        line += (f"  uio {before.get('uio_offset')}/{before.get('uio_resid')} -> "
                 f"{after.get('uio_offset')}/{after.get('uio_resid')} {moves}")
    return line


__all__ = ["Ring", "as_dict", "json_line", "lost_line", "human_line", "DEFAULT_EVENTS"]
