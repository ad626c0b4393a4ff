"""Waiting for requests the kernel sends after the system call that caused them returned (the
RELEASE after close(2), the FORGET after unlink): the trace says when the daemon served them."""

from __future__ import annotations

from pathlib import Path

from iofs.testing import client

from .processes import wait_for


def served(mountpoint: Path | str, op: str, path: str) -> int:
    """How many ``op`` requests on ``path`` (mount-relative) the mount has served so far."""
    return sum(1 for e in client.read_trace(mountpoint) if e.get("op") == op
               and e.get("path") == path)


def wait_served(mountpoint: Path | str, op: str, path: str, count: int,
                timeout: float = 10.0) -> bool:
    """Wait until the mount has served ``count`` ``op`` requests on ``path`` in all."""
    return wait_for(lambda: served(mountpoint, op, path) >= count, timeout)


__all__ = ["served", "wait_served"]
