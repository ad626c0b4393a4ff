"""The BSD face in one import, as drivers and the docs write it (``from iofs.uio import
uiomove``). The definitions live in :mod:`iofs.core.uio`, and in :mod:`iofs.core.uio_fd` the
moves between a uio and a file descriptor (``uio_preadv``, ``uio_pwritev``)."""

from .core.uio import *  # noqa: F401,F403
from .core.uio import __all__ as _UIO
from .core.uio_fd import uio_preadv, uio_pwritev  # noqa: F401

__all__ = [*_UIO, "uio_preadv", "uio_pwritev"]
