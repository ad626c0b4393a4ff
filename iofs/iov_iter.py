"""The Linux face in one import (``from iofs.iov_iter import copy_to_iter``). The definitions
live in :mod:`iofs.core.iov_iter` and its two companions."""

from .core import iov_iter as _base, iov_iter_import as _import, iov_iter_pages as _pages
from .core.iov_iter import *  # noqa: F401,F403
from .core.iov_iter_import import *  # noqa: F401,F403
from .core.iov_iter_pages import *  # noqa: F401,F403

__all__ = [*_base.__all__, *_pages.__all__, *_import.__all__]
