"""What the tests of the default tree's pipe0 share: its capacity, PIPE_BUF, how long a call
must stay pending to count as blocked, and draining it without blocking."""

from __future__ import annotations

import os

CAPACITY = 64 * 1024  # pipe0
PIPE_BUF = 4096
BLOCKED = 0.3         # seconds a call must stay pending to count as blocked


def drain_nonblocking(fd: int) -> bytes:
    """Everything a non-blocking read of ``fd`` gets until EAGAIN or the end."""
    got = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return got
        if not chunk:
            return got
        got += chunk
