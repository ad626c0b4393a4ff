"""The ``iofs`` command: one parser, one module per subcommand, one place where a failure
becomes a line on stderr and an exit status."""

from __future__ import annotations

import sys
from importlib import metadata

from ..system.state import StateError
from ..vfs.config import ConfigError
from . import crash, drivers, fault, mount, sweep, trace, umount
from .errors import EXIT_FAIL, EXIT_USAGE, CliError, Parser


def version() -> str:
    try:
        return metadata.version("iofs")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> Parser:
    p = Parser(prog="iofs", description="A FUSE filesystem in which every file is a device driver.")
    p.add_argument("--version", action="version", version=f"iofs {version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    mount.register(sub)
    umount.register(sub)
    drivers.register(sub)
    fault.register(sub, Parser)
    trace.register(sub)
    sweep.register(sub)
    crash.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"iofs: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"iofs: {exc}", file=sys.stderr)
        return exc.status
    except StateError as exc:
        print(f"iofs: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


def mount_helper(argv: list[str] | None = None) -> int:
    """``mount.fuse.iofs SOURCE MOUNTPOINT [-o OPTIONS]``: what mount(8) runs for
    ``mount -t fuse.iofs`` and for /etc/fstab lines of type fuse.iofs.

    Options: ``config=FILE``, ``log=FILE``, ``allow_other``, ``debug``; mount(8)'s generic ones
    (rw, defaults, noauto, ...) are accepted and ignored. SOURCE is free text (``iofs``).
    """
    cmd = mount.helper_command(list(sys.argv[1:] if argv is None else argv))
    if isinstance(cmd, str):
        print(cmd, file=sys.stderr)
        return EXIT_USAGE
    return main(cmd)


__all__ = ["main", "mount_helper", "build_parser", "version"]
