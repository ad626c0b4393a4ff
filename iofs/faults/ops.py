"""The requests of a mount, by the names rules, the trace and ``iofs sweep`` use.

This table is the one list: the FUSE module declares each of its handlers with one of these
names (and refuses a name not here), a test checks that every name here has its handler, and
the rule parser, the CLI and the docs take the list from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Op:
    """One kind of request. ``data``: it moves bytes (offsets, short transfers, corruption
    apply); ``faultable``: a rule may fail or delay it (False for requests whose failure the
    kernel never reports to a program); ``changes_disk``: it changes what a disk would hold
    (the crash points ``iofs sweep --crash`` tries)."""

    name: str
    data: bool = False
    faultable: bool = True
    changes_disk: bool = False


_TABLE = (
    Op("read", data=True), Op("write", data=True, changes_disk=True),
    Op("open"), Op("close"), Op("fsync", changes_disk=True), Op("flush"),
    Op("truncate", changes_disk=True), Op("create", changes_disk=True),
    Op("mkdir", changes_disk=True), Op("unlink", changes_disk=True),
    Op("rmdir", changes_disk=True), Op("rename", changes_disk=True),
    Op("link", changes_disk=True), Op("symlink", changes_disk=True), Op("getattr"),
    Op("setattr", changes_disk=True), Op("readdir"), Op("poll"), Op("statfs"), Op("lookup"),
    Op("mknod", changes_disk=True), Op("readlink"), Op("opendir"),
    Op("fsyncdir", changes_disk=True), Op("getxattr"), Op("setxattr", changes_disk=True),
    Op("listxattr"), Op("removexattr", changes_disk=True),
    # the kernel drops a reference or closes a directory: nothing a program waits for or sees
    Op("forget", faultable=False), Op("releasedir", faultable=False),
)

OPS: dict[str, Op] = {op.name: op for op in _TABLE}
FAULTABLE: tuple[str, ...] = tuple(op.name for op in _TABLE if op.faultable)
DATA_OPS = frozenset(op.name for op in _TABLE if op.data)
DISK_OPS: tuple[str, ...] = tuple(op.name for op in _TABLE if op.changes_disk)

__all__ = ["Op", "OPS", "FAULTABLE", "DATA_OPS", "DISK_OPS"]
