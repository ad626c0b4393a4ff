"""Per-open driver state: FreeBSD's devfs_set_cdevpriv(9) family.

The filesystem sets :data:`current_file` to the open file before every entry point call (as
FreeBSD's ``curthread->td_fpop``); each trio task has its own.
"""

from __future__ import annotations

import errno
from contextvars import ContextVar
from typing import Any, Callable

current_file: ContextVar[Any] = ContextVar("iofs_current_file", default=None)


def devfs_set_cdevpriv(priv: Any, dtr: Callable[[Any], None] | None = None) -> int:
    """Attach ``priv`` to the open file of the current request (per-open driver state).

    ``dtr(priv)`` runs when the file is closed. Returns 0, EBUSY if the file already has private
    data, or ENOENT outside a request.
    """
    f = current_file.get()
    if f is None:
        return errno.ENOENT
    if f.cdevpriv is not None:
        return errno.EBUSY
    f.cdevpriv = priv
    f.cdevpriv_dtr = dtr
    return 0


def devfs_get_cdevpriv() -> tuple[int, Any]:
    """``(0, priv)`` for the open file of the current request, or ``(EBADF, None)`` if it has none."""
    f = current_file.get()
    if f is None or f.cdevpriv is None:
        return errno.EBADF, None
    return 0, f.cdevpriv


def devfs_clear_cdevpriv() -> None:
    """Detach (and destroy, through its dtr) the current open file's private data."""
    f = current_file.get()
    if f is not None and f.cdevpriv is not None:
        priv, dtr = f.cdevpriv, f.cdevpriv_dtr
        f.cdevpriv = f.cdevpriv_dtr = None
        if dtr is not None:
            dtr(priv)


__all__ = ["current_file", "devfs_set_cdevpriv", "devfs_get_cdevpriv", "devfs_clear_cdevpriv"]
