"""Fixtures for the container tests (marker `container`).

The engine, the base image and the iofs image come from containerlib.prepare(),
once per session and cached between runs. With no container engine to be had,
every test here is skipped with the reason; a failing build is an error.

Every container is started with the label `iofs-test`, a unique name and a
timeout, and removed in a finally (tests/container/engine.py); every host mount
is made and unmounted through the one Mount (tests/support/mounting.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.container import containerlib as cl
from tests.container.engine import Containers
from tests.support.mounting import Mount, check_started
from tests.support.paths import READV_CHECK_C
from tests.support.programs import compile_c

REPO = cl.REPO


@pytest.fixture(scope="session")
def container_setup() -> cl.Setup:
    try:
        return cl.prepare()
    except cl.Unavailable as e:
        pytest.skip(f"no container engine: {e}")


@pytest.fixture(scope="session")
def containers(container_setup):
    c = Containers(container_setup)
    try:
        yield c
    finally:
        c.cleanup()


# ---------------------------------------------------------------- the C program

@pytest.fixture(scope="session")
def readv_check_dir(tmp_path_factory) -> Path:
    """A directory holding readv_check built for the container: static, else dynamic
    (the image is bookworm too). Empty when it cannot be built; the tests then skip."""
    d = tmp_path_factory.mktemp("readv_check")
    os.chmod(d, 0o755)
    if READV_CHECK_C.exists():
        for extra in (["-static"], []):
            r = compile_c(READV_CHECK_C, d / "readv_check", *extra, "-O2")
            if r is None or r.returncode == 0:
                break
    return d


# ---------------------------------------------------------------- host mounts

@pytest.fixture
def host_mount(tmp_path):
    """mount(allow_other=False) -> a mount point of iofs's default tree on the host."""
    mounts: list[Mount] = []

    def mount(allow_other: bool = False) -> Path:
        if not Path("/dev/fuse").exists():
            pytest.skip("no /dev/fuse on the host")
        m = Mount(tmp_path / f"host{len(mounts)}", allow_other=allow_other)
        mounts.append(m)
        check_started(m.start(check=False))
        return m.path

    try:
        yield mount
    finally:
        for m in mounts:
            m.stop()
