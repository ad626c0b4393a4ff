"""``iofs fault MNT add|list|clear``: the fault rules of a running mount."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from ..faults.actions import VOCABULARY
from ..faults.ops import FAULTABLE
from ..system.units import whole_number
from ..testing import client
from .control import add_control_option, client_call, iofs_mount

RULE_HELP = f"""A rule is key=value tokens (one argument, or one token per argument).
keys:
  path=GLOB      mount-relative, no leading slash: * within a name, ** across directories
  op=LIST        {", ".join(FAULTABLE)} (default: read,write)
  pid=N uid=N comm=NAME   who asked (comm: 15 bytes, as the kernel keeps it)
  offset=A-B     the request's bytes overlap [A, B) (A-, or A alone; sizes: 4K, 1M)
  nth=WHEN       K (the K-th matching request), K+ (from it on), K+S (every S-th from it),
                 K..L (a range)
  count=N        fire at most N times
  p=FLOAT seed=N fire with probability p, drawn from seed
  action=ACTION  {VOCABULARY}
example: iofs fault MNT add path=tmp/in op=read nth=2 action=short:1"""


def _rule_id(text: str) -> int:
    """A rule id as ``iofs fault clear`` takes it: a whole number from 1 (argparse's type)."""
    n = whole_number(text)
    if n is None or n < 1:
        raise argparse.ArgumentTypeError(f"a rule id is a whole number >= 1, not {text!r}")
    return n


def cmd_fault(args: argparse.Namespace) -> int:
    mountpoint = iofs_mount(args.mountpoint)
    if args.action == "add":
        # one argument is the whole line; several are its tokens (quoted again for the parser)
        line = args.rule[0] if len(args.rule) == 1 else shlex.join(args.rule)
        print(client_call(client.add_rule, mountpoint, line, args.control))
    elif args.action == "list":
        sys.stdout.write(client_call(client.list_rules, mountpoint, args.control))
    else:
        client_call(client.clear_rules, mountpoint, args.id, args.control)
    return 0


def register(sub: Any, parser_class: Any) -> None:
    f = sub.add_parser("fault", help="add, list or clear the fault rules of a running mount")
    f.add_argument("mountpoint")
    add_control_option(f)
    fa = f.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=parser_class)
    add = fa.add_parser("add", help="add a rule (key=value tokens); prints its id",
                        description="Add a fault rule; prints its id.", epilog=RULE_HELP,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("rule", nargs="+", metavar="KEY=VALUE")
    fa.add_parser("list", help="the active rules: id, hits, the rule as parsed")
    clear = fa.add_parser("clear", help="remove rule ID, or all rules")
    clear.add_argument("id", nargs="?", type=_rule_id)
    f.set_defaults(func=cmd_fault)


__all__ = ["cmd_fault", "register"]
