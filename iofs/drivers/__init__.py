"""The built-in drivers, by the name a config uses, and the lookup of user drivers."""

from __future__ import annotations

import importlib
from typing import Any

from .faulty import Faulty
from .full import Full
from .mem import Mem
from .null import Null
from .pipe import Pipe
from .random import Random
from .status import Status
from .text import Text
from .zero import Zero

BUILTIN: dict[str, type] = {
    "null": Null,
    "zero": Zero,
    "full": Full,
    "mem": Mem,
    "pipe": Pipe,
    "text": Text,
    "random": Random,
    "status": Status,
    "faulty": Faulty,
}


def resolve(name: str) -> Any:
    """The driver class for a built-in name or a ``package.module:ClassName`` reference.

    Raises LookupError with a one-line reason.
    """
    if name in BUILTIN:
        return BUILTIN[name]
    if ":" not in name:
        known = ", ".join(sorted(BUILTIN))
        raise LookupError(f"unknown driver {name!r} (built-in: {known}; or package.module:ClassName)")
    modname, _, clsname = name.partition(":")
    try:
        module = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (modname + ".").startswith(exc.name + "."):
            raise LookupError(f"cannot import driver module {modname!r}: {exc}") from None
        raise LookupError(f"cannot import driver module {modname!r}: no module named "
                          f"{exc.name!r} (is the directory that holds it on PYTHONPATH?)") from None
    except Exception as exc:  # a user module may fail in any way while importing
        raise LookupError(f"cannot import driver module {modname!r}: {exc}") from None
    cls = getattr(module, clsname, None)
    if cls is None:
        raise LookupError(f"module {modname!r} has no driver class {clsname!r}")
    return cls
