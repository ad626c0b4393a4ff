"""``iofs sweep -- CMD``: fault each request of a program in turn, to find where it breaks."""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from ..testing.sweep import DEFAULT_ACTIONS, DEFAULT_OPS, Sweep, SweepError, parse_lists
from ..vfs import config
from .errors import EXIT_USAGE, CliError


def cmd_sweep(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise CliError("no command to sweep (iofs sweep [OPTIONS] -- CMD [ARGS...])", EXIT_USAGE)
    if args.jobs < 1 or (args.max_runs is not None and args.max_runs < 0) or args.timeout <= 0:
        raise CliError("--jobs must be >= 1, --max-runs >= 0 and --timeout > 0", EXIT_USAGE)
    if "{mnt}" not in cmd[0] and shutil.which(cmd[0]) is None:  # before any mount
        raise CliError(f"cannot run {cmd[0]}: no such command (or not executable)", EXIT_USAGE)
    try:
        ops, actions = parse_lists(args.ops, args.actions)
    except SweepError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    text = None
    if args.config:
        config.load(args.config)  # ConfigError: one line, exit 2, before any run
        with open(args.config) as f:
            text = f.read()
    try:
        return Sweep(cmd, text, ops, actions, args.max_runs, args.timeout, args.jobs).run()
    except SweepError as exc:
        raise CliError(str(exc)) from None


def register(sub: Any) -> None:
    sw = sub.add_parser("sweep", help="fault each request of a program in turn: where does it break?")
    sw.add_argument("--config", metavar="FILE", help="the tree to mount (default: the built-in tree)")
    sw.add_argument("--ops", default=DEFAULT_OPS, metavar="LIST",
                    help=f"ops to fault (default: {DEFAULT_OPS})")
    sw.add_argument("--actions", default=DEFAULT_ACTIONS, metavar="LIST",
                    help=f"steps to try on each request (default: {DEFAULT_ACTIONS})")
    sw.add_argument("--max-runs", type=int, metavar="N", help="run at most N faulted cases")
    sw.add_argument("--timeout", type=float, default=60.0, metavar="S",
                    help="a run taking longer is killed and counts as failing (default: 60)")
    sw.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once (default: 1)")
    sw.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]",
                    help="the program; {mnt} in its arguments (and IOFS_MNT) name the mount")
    sw.set_defaults(func=cmd_sweep)


__all__ = ["cmd_sweep", "register"]
