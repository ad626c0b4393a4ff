"""Fixtures of the integration tests: real mounts, made through the one Mount
(:class:`iofs.testing.mount.Mount`, see tests/support/mounting.py), each unmounted and its
daemon gone at teardown.

``mount_iofs(config=None, *args)`` mounts a tree (TOML text, or None for the default tree) in a
temporary directory of its own with ``iofs mount`` in the background, and returns the Mount;
``mnt`` is the default tree; ``public_dir`` is a mount point other users can reach.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.mounting import Mount, check_started, is_mounted, mounted, start_mount

if not os.path.exists("/dev/fuse"):
    pytest.fail("/dev/fuse is missing: integration tests need FUSE", pytrace=False)


@pytest.fixture
def mount_iofs(tmp_path_factory):
    """``mount(config=None, *args, mountpoint=None)``: ``iofs mount`` of the tree ``config``
    with more arguments, in a directory of its own; every mount is unmounted at teardown."""
    mounts: list[Mount] = []

    def mount(config: str | None = None, *args: str, mountpoint: Path | None = None) -> Mount:
        m = start_mount(tmp_path_factory.mktemp("iofs"), config, *args, mountpoint=mountpoint)
        mounts.append(m)
        return check_started(m)

    try:
        yield mount
    finally:
        for m in mounts:
            m.stop()


@pytest.fixture(scope="module")
def dflt(tmp_path_factory) -> Iterator[Mount]:
    """The default tree (pipe0, mem0, tmp/ ...), one mount shared by the tests of a module."""
    with mounted(tmp_path_factory.mktemp("default")) as m:
        yield m


@pytest.fixture
def mnt(mount_iofs) -> Mount:
    """The default tree."""
    return mount_iofs()


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """An empty directory every user can reach (pytest's tmp_path is root's alone): the mount
    point of tests that run programs as another user (tests.support.users.OTHER_UID)."""
    d = Path(tempfile.mkdtemp(prefix="iofs-public-", dir="/tmp"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        if not is_mounted(d):
            shutil.rmtree(d, ignore_errors=True)
