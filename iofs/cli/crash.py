"""``iofs crash``, ``iofs restart`` and ``iofs unsynced``: crash simulation of a running mount."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..testing import client
from .control import add_control_option, client_call, iofs_mount
from .errors import EXIT_USAGE, CliError


def cmd_crash(args: argparse.Namespace) -> int:
    if args.seed is not None and not args.torn:
        raise CliError("--seed goes with --torn", EXIT_USAGE)
    seed = None
    if args.torn:
        seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
        print(f"torn crash, seed {seed}", file=sys.stderr)
    mountpoint = iofs_mount(args.mountpoint)
    _say(f"{path}\n" for path in client_call(client.crash, mountpoint, seed, args.control))
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    mountpoint = iofs_mount(args.mountpoint)
    client_call(client.restart, mountpoint, args.control)
    return 0


def cmd_unsynced(args: argparse.Namespace) -> int:
    mountpoint = iofs_mount(args.mountpoint)
    _say(f"{n}\t{path}\n" for n, path in client_call(client.unsynced, mountpoint, args.control))
    return 0


def _say(lines: Any) -> None:
    """Lines naming files, as the names' bytes: a name need not be UTF-8."""
    sys.stdout.flush()
    for line in lines:
        sys.stdout.buffer.write(line.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


def register(sub: Any) -> None:
    c = sub.add_parser("crash", help="lose what was never fsynced (needs durability = true)")
    c.add_argument("mountpoint")
    c.add_argument("--torn", action="store_true", help="a seeded half of the unsynced 4 KiB blocks survives")
    c.add_argument("--seed", type=int, help="the seed of --torn (default: chosen, and printed)")
    add_control_option(c, shown=False)
    c.set_defaults(func=cmd_crash)
    r = sub.add_parser("restart", help="serve again after a crash point (action=crash)")
    r.add_argument("mountpoint")
    add_control_option(r, shown=False)
    r.set_defaults(func=cmd_restart)
    us = sub.add_parser("unsynced", help="the files with unsynced bytes, and how many")
    us.add_argument("mountpoint")
    add_control_option(us, shown=False)
    us.set_defaults(func=cmd_unsynced)


__all__ = ["cmd_crash", "cmd_restart", "cmd_unsynced", "register"]
