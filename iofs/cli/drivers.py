"""``iofs drivers``: the built-in drivers, and how to name your own."""

from __future__ import annotations

import argparse
from typing import Any

from ..drivers import BUILTIN


def cmd_drivers(args: argparse.Namespace) -> int:
    width = max(len(n) for n in BUILTIN)
    for name, cls in BUILTIN.items():
        print(f"{name.ljust(width)}  {cls.description}")
    print(f"{'MOD:CLASS'.ljust(width)}  your own driver: driver = \"package.module:ClassName\" in a config")
    return 0


def register(sub: Any) -> None:
    d = sub.add_parser("drivers", help="list the available drivers")
    d.set_defaults(func=cmd_drivers)


__all__ = ["cmd_drivers", "register"]
