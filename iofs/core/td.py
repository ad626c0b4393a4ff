"""``struct thread``: who asked for a request (``uio_td``, a driver's ``td`` argument)."""

from __future__ import annotations

from typing import Any


class Td:
    """Who asked (``struct thread``): pid, uid, gid of the process behind a request.

    ``pid`` is the thread that asked (what FUSE calls pid is a thread id), ``tgid`` its process
    when known (the filesystem finds it for opens of drivers that may sleep, so that a sleep
    still sees the process's signals after the opening thread has exited). ``pollhandle`` is
    set only while d_poll runs; :func:`iofs.dev.select.selrecord` takes it. ``umask`` is the
    caller's file mode creation mask (create, mkdir, mknod).
    """

    __slots__ = ("pid", "uid", "gid", "pollhandle", "tgid", "umask")

    def __init__(self, pid: int, uid: int, gid: int, pollhandle: Any = None,
                 tgid: int | None = None, umask: int = 0) -> None:
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.pollhandle = pollhandle
        self.tgid = tgid
        self.umask = umask

    def __repr__(self) -> str:
        return f"Td(pid={self.pid}, uid={self.uid}, gid={self.gid})"


__all__ = ["Td"]
