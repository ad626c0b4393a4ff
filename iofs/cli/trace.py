"""``iofs trace MNT``: the requests a running mount served (its trace ring)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Iterator

from ..faults.glob import Glob
from ..faults.ops import OPS
from ..faults.trace import human_line
from ..testing import client
from .control import add_control_option, client_call, iofs_mount
from .errors import EXIT_USAGE, CliError


def _lines(reader: client.TraceReader) -> Iterator[bytes]:
    """The reader's lines, a failure to read them a CliError (one line)."""
    it = reader.lines()
    while True:
        try:
            line = next(it)
        except StopIteration:
            return
        except client.ControlError as exc:
            raise CliError(str(exc)) from None
        yield line


def cmd_trace(args: argparse.Namespace) -> int:
    glob = Glob(args.path) if args.path else None
    ops = None
    if args.op:
        ops = {o.strip() for o in args.op.split(",") if o.strip()}
        bad = sorted(ops - set(OPS))
        if bad:
            raise CliError(f"unknown op {bad[0]!r} (ops: {', '.join(OPS)})", EXIT_USAGE)
    mountpoint = iofs_mount(args.mountpoint)
    if args.detail:
        client_call(client.set_detail, mountpoint, True, args.control)
    reader = client_call(client.TraceReader, mountpoint, args.follow, args.control)
    # a name that is not UTF-8 is printed as its bytes, as ls prints it
    sys.stdout.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
    try:
        for line in _lines(reader):
            event = json.loads(line)
            if "lost" not in event:
                if ops is not None and event["op"] not in ops:
                    continue
                if glob is not None and not glob.match(event["path"]):
                    continue
            print(line.decode() if args.json else human_line(event), flush=args.follow)
    except BrokenPipeError:  # `iofs trace MNT | head`
        sys.stdout = None  # type: ignore[assignment]  # nothing more can be written
    finally:
        reader.close()
        if args.detail:
            client_call(client.set_detail, mountpoint, False, args.control)
    return 0


def register(sub: Any) -> None:
    t = sub.add_parser("trace", help="the requests a running mount served (the trace ring)")
    t.add_argument("mountpoint")
    t.add_argument("--follow", "-f", action="store_true", help="go on printing new requests")
    t.add_argument("--json", action="store_true", help="JSON lines, as the trace file has them")
    t.add_argument("--path", metavar="GLOB", help="only requests on paths matching GLOB")
    t.add_argument("--op", metavar="LIST", help="only these ops (comma list)")
    t.add_argument("--detail", action="store_true",
                   help="uio detail of reads and writes while this runs")
    add_control_option(t)
    t.set_defaults(func=cmd_trace)


__all__ = ["cmd_trace", "register"]
