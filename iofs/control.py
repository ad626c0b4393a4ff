"""The control directory (``.iofs`` at the mount root, by default): where a running mount is
steered from inside itself.

It is a sealed directory (programs cannot add, remove or rename anything in it, or it), owned
by the user who mounted and mode 0700, so that on an ``--allow-other`` mount nobody else can
read or change it. Its files are device nodes whose drivers the rooms provide (fault rules,
the trace, crash simulation); they are not listed by ``status``, and requests to the directory
and its files are never traced or faulted.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any

from .driver import Device
from .tree import Dir, Namespace

DEFAULT_NAME = ".iofs"


@dataclass
class ControlFile:
    """One file of the control directory: its name, driver and mode."""

    name: str
    driver: Any
    mode: int = 0o600


def build(ns: Namespace, name: str, files: list[ControlFile]) -> set[int]:
    """Make the control directory ``name`` in the root with ``files``; the inodes it took."""
    uid, gid = os.getuid(), os.getgid()
    d = ns.mkdir(ns.root.ino, name.encode(), 0o700, uid, gid)
    d.mode = stat.S_IFDIR | 0o700  # not the root's setgid inheritance or anything else
    inodes = {d.ino}
    for f in files:
        dev = Device(f"{name}/{f.name}", f.driver, mode=f.mode, uid=uid, gid=gid)
        inodes.add(ns.add_device(d.ino, f.name.encode(), dev).ino)
    d.sealed = True
    return inodes


def find(ns: Namespace, name: str) -> Dir | None:
    node = ns.root.entries.get(name.encode())
    return node if isinstance(node, Dir) and node.sealed else None


__all__ = ["ControlFile", "build", "DEFAULT_NAME"]
