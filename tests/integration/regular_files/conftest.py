"""Fixtures of the regular file tests: one mount of the default tree per test module (``m``),
and in it a fresh directory for each test (``d``). ``m`` is made twice, and every test that
takes it runs on both: ``m[memory]`` keeps ``tmp/`` in memory, ``m[backed]`` serves a host
directory there (a tmpfs of its own: ``m.backing``)."""

from __future__ import annotations

import os

import pytest

from tests.support.backing import KINDS, regular_mount, statfs_of
from tests.support.processes import wait_for


@pytest.fixture(scope="module", params=KINDS)
def m(request, tmp_path_factory):
    """The default tree, shared by the tests of a module: ``tmp/`` in memory, or a host
    directory."""
    with regular_mount(request.param, tmp_path_factory.mktemp("regular")) as mnt:
        yield mnt


@pytest.fixture
def d(m, request):
    """A fresh directory of its own under /tmp of the module's mount, emptied afterwards.

    Teardown waits (up to 5 s) until the mount's free blocks and inodes are back where they
    were (the host directory's, on a backed mount: its inodes come back only once the daemon
    lets go of them): the kernel's FORGETs for what was removed trail the unlinks, and a test
    that counts free space must not see the previous test's files freed under it.
    """
    def free_counts() -> tuple[int, int]:
        s = statfs_of(m)
        return s.f_bfree, s.f_ffree

    before = free_counts()
    path = m / "tmp" / request.node.name.replace("[", "_").replace("]", "")
    os.mkdir(path)
    old = os.umask(0o022)
    try:
        yield path
    finally:
        os.umask(old)
        _rmtree(path)
        assert wait_for(lambda: free_counts() == before, 5), \
            f"free blocks and inodes {free_counts()} did not come back to {before}"


def _rmtree(path) -> None:
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            _rmtree(entry.path)
        else:
            os.unlink(entry.path)
    os.rmdir(path)
