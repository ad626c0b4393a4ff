"""Sleeping in a driver: tsleep/wakeup (:class:`WaitChannel`) and the signal checks that let
a program blocked in a driver be interrupted.

pyfuse3 gives the daemon no FUSE_INTERRUPT, but a signal sent to a process waiting on a FUSE
request stays pending until the request is answered, so it shows in /proc: a sleeper looks
there (:func:`signal_pending`) every :attr:`Sleepers.SIGNAL_CHECK` seconds.

How many requests may sleep is bounded per uid (:data:`sleepers`, the mount's
``max_sleeping``), so that one user's sleeping requests can never use up the daemon's memory.
The daemon serves one mount, so the accounting is one per process.
"""

from __future__ import annotations

import errno
import logging

import trio

from ..core.td import Td
from ..system import proc

log = logging.getLogger("iofs")


def _deliverable(status: bytes) -> bool:
    pending = proc.status_mask(status, b"SigPnd:") | proc.status_mask(status, b"ShdPnd:")
    masked = proc.status_mask(status, b"SigBlk:") | proc.status_mask(status, b"SigIgn:")
    return bool(pending & ~masked) or bool(pending & proc.SIGKILL_BIT)


def tgid_of(tid: int) -> int | None:
    """The process (thread group) of thread ``tid``, or None if it is gone."""
    return proc.tgid(tid)


def signal_pending(pid: int, tgid: int | None = None) -> bool:
    """Whether thread ``pid`` (of process ``tgid``) has a signal pending that it neither blocks
    nor ignores.

    ``pid`` is the thread that asked (FUSE's pid is a thread id). If that thread is gone but its
    process is not (a program that opened in one thread and reads in another), the process
    is asked: its shared pending signals, or, when its main thread has exited, a SIGKILL
    pending in any thread. A process that is gone counts as interrupted.
    """
    status = proc.status(pid)
    if status is not None:
        return _deliverable(status)
    if tgid is None or tgid == pid:
        return True
    leader = proc.status(tgid)
    if leader is None:
        return True
    if proc.status_field(leader, b"State:")[:1] != b"Z":
        return _deliverable(leader)
    tids = proc.tasks(tgid)  # the main thread has exited: the process dies when any
    if tids is None:          # thread has SIGKILL
        return True
    for tid in tids:
        status = proc.status(f"{tgid}/task/{tid}")
        if status is not None and proc.status_mask(status, b"SigPnd:") & proc.SIGKILL_BIT:
            return True
    return not tids


class Sleepers:
    """How many requests sleep, per uid, and the bound on them (the mount's ``max_sleeping``)."""

    SIGNAL_CHECK = 0.1  # seconds between looks at a sleeper's pending signals...
    CHECKS_PER_SECOND = 2000  # ...stretched so that all sleepers together stay under this

    def __init__(self, max_sleeping: int = 4096) -> None:
        self.max_sleeping = max_sleeping
        self.watching = 0  # sleepers watching for signals, across all channels
        self._asleep: dict[int, int] = {}  # uid -> sleepers
        self._refused: set[int] = set()  # uids whose refusal was logged (again once below half)

    def enter(self, uid: int) -> bool:
        """Count one more sleeper of ``uid``; False (logged the first time) past the bound."""
        n = self._asleep.get(uid, 0)
        if n >= self.max_sleeping:
            if uid not in self._refused:
                self._refused.add(uid)
                log.warning("uid %d has %d requests asleep in drivers (max_sleeping): further "
                            "ones get EAGAIN", uid, n)
            return False
        self._asleep[uid] = n + 1
        self.watching += 1
        return True

    def leave(self, uid: int) -> None:
        self.watching -= 1
        n = self._asleep[uid] - 1
        if n:
            self._asleep[uid] = n
        else:
            del self._asleep[uid]
        if n <= self.max_sleeping // 2:
            self._refused.discard(uid)

    def check_every(self) -> float:
        """Seconds between a sleeper's looks at its signals, now."""
        return max(self.SIGNAL_CHECK, self.watching / self.CHECKS_PER_SECOND)


sleepers = Sleepers()  # the daemon's; the mount sets max_sleeping from its config


class WaitChannel:
    """tsleep/wakeup on trio: a driver awaits :meth:`sleep`, another request calls :meth:`wakeup`.

    ``await chan.sleep(td)`` returns 0 when woken, EINTR if the process behind ``td`` gets a
    signal meanwhile (tsleep with PCATCH: Ctrl-C and kill work on a program blocked in a
    read), EWOULDBLOCK when ``timeout`` seconds pass, EAGAIN at once if ``td``'s uid already
    has ``max_sleeping`` requests asleep. Sleepers re-check their condition after waking
    (wakeups are broadcast and may be spurious), as with tsleep(9). A sleeper with a ``td``
    looks at its process's pending signals every 0.1 s, or less often when thousands sleep.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = trio.Event()

    async def sleep(self, td: Td | None = None, timeout: float | None = None) -> int:
        event = self._event
        deadline = trio.current_time() + timeout if timeout is not None else float("inf")
        if td is not None and not sleepers.enter(td.uid):
            return errno.EAGAIN
        try:
            while True:
                step = deadline - trio.current_time()
                if td is not None:
                    step = min(step, sleepers.check_every())
                if step <= 0:
                    return errno.EWOULDBLOCK
                with trio.move_on_after(step):
                    await event.wait()
                    return 0
                if td is not None and signal_pending(td.pid, td.tgid):
                    return errno.EINTR
        finally:
            if td is not None:
                sleepers.leave(td.uid)

    def wakeup(self) -> None:
        """Wake every sleeper (wakeup(9), not wakeup_one)."""
        self._event.set()
        self._event = trio.Event()


__all__ = ["WaitChannel", "Sleepers", "sleepers", "signal_pending", "tgid_of"]
