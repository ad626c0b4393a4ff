"""What the subcommands that steer a running mount share: finding it, and turning the
control client's failures into one line."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from ..system.mounts import mount_type
from ..testing.client import ControlError
from .errors import EXIT_FAIL, EXIT_USAGE, CliError
from .mount import mount_point


def iofs_mount(arg: str) -> str:
    """The iofs mount point ``arg`` names; CliError if it is not one."""
    mountpoint = mount_point(arg)
    kind = mount_type(mountpoint)
    if kind != "fuse.iofs":
        raise CliError(f"{mountpoint} is not an iofs mount" + (f" ({kind})" if kind else ""))
    return mountpoint


def client_call(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except ControlError as exc:
        raise CliError(str(exc), EXIT_USAGE if exc.usage else EXIT_FAIL) from None


def add_control_option(p: Any, shown: bool = True) -> None:
    p.add_argument("--control", default=".iofs", metavar="NAME",
                   help="the mount's control directory, if [options] control renamed it"
                   if shown else argparse.SUPPRESS)


__all__ = ["iofs_mount", "client_call", "add_control_option"]
