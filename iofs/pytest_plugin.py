"""The pytest plugin's import path (the ``pytest11`` entry point and ``-p iofs.pytest_plugin``
name it). The fixtures live in :mod:`iofs.testing.pytest_plugin`."""

from .testing.pytest_plugin import *  # noqa: F401,F403
from .testing.pytest_plugin import __all__, pytest_sessionfinish  # noqa: F401
