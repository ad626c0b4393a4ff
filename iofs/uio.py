"""The BSD face in one import, as drivers and the docs write it (``from iofs.uio import
uiomove``). The definitions live in :mod:`iofs.core.uio`."""

from .core.uio import *  # noqa: F401,F403
from .core.uio import __all__  # noqa: F401
