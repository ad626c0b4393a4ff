"""Fixtures of the plugin tests: inner pytest runs (pytester), and the check that none of them
leaves a mount behind."""

from __future__ import annotations

import pytest


def _iofs_mounts(under: str) -> list[str]:
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f
                if line.split()[2] == "fuse.iofs" and line.split()[1].startswith(under)]


@pytest.fixture
def no_mount_left(pytester):
    """No iofs mount under the inner run's directories is left when it ends."""
    yield
    assert _iofs_mounts(str(pytester.path)) == [], "the inner run left an iofs mount behind"


def _run(pytester, *args: str):
    # a pytest of its own (the plugin is found through its entry point, as in any project)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=240)
