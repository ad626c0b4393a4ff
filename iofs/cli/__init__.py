"""The ``iofs`` command line: :mod:`.main` (the parser), one module per subcommand, and
:mod:`.daemon` (what serves a mount). Nothing else in iofs imports this package."""

from .main import main, mount_helper

__all__ = ["main", "mount_helper"]
