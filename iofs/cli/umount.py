"""``iofs umount``: detach a mount and end its daemon, saying what it took.

Exit status 0 once the mount is gone and its daemon has exited; 1 (with the reason) if the
mount could not be detached or the daemon outlived SIGKILL. A mount whose daemon was killed
is unmounted too.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..system.mounts import mount_type
from ..system.unmount import UnmountError, unmount
from .errors import CliError
from .mount import mount_point


def cmd_umount(args: argparse.Namespace) -> int:
    mountpoint = mount_point(args.mountpoint)
    kind = mount_type(mountpoint)
    if kind is None:
        raise CliError(f"{mountpoint} is not mounted")
    if kind != "fuse.iofs":
        raise CliError(f"{mountpoint} is a {kind} mount, not iofs: not touching it")
    try:
        report = unmount(mountpoint)
    except UnmountError as exc:
        raise CliError(str(exc)) from None
    for step in report.steps[1:]:  # the first is the detach itself: said only when unusual
        print(f"iofs: {mountpoint}: {step}", file=sys.stderr)
    if report.steps and report.steps[0] != "unmounted":
        print(f"iofs: {mountpoint}: {report.steps[0]}", file=sys.stderr)
    if report.daemon_alive:
        raise CliError(f"{mountpoint} is unmounted, but its daemon {report.pid} is still alive "
                       "after SIGKILL")
    return 0


def register(sub: Any) -> None:
    u = sub.add_parser("umount", help="unmount (also a mount whose daemon was killed)")
    u.add_argument("mountpoint")
    u.set_defaults(func=cmd_umount)


__all__ = ["cmd_umount", "register"]
