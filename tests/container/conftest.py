"""Fixtures for the container tests (marker `container`).

The engine, the base image and the iofs image come from containerlib.prepare(),
once per session and cached between runs. With no container engine to be had,
every test here is skipped with the reason; a failing build is an error.

Every container is started with the label `iofs-test`, a unique name and a
timeout, and removed in a finally; every host mount is unmounted in a finally
(`iofs umount`, then `fusermount3 -u -z` as a last resort).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import containerlib as cl  # noqa: E402
from _ctr import Containers, iofs_command, is_mounted, unmount  # noqa: E402

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
    src = REPO / "tests" / "readv_check.c"
    cc = shutil.which("gcc") or shutil.which("cc")
    if src.exists() and cc:
        for extra in (["-static"], []):
            r = subprocess.run([cc, *extra, "-O2", "-o", str(d / "readv_check"), str(src)],
                               capture_output=True, text=True, timeout=120)
            if r.returncode == 0:
                break
    return d


# ---------------------------------------------------------------- host mounts

@pytest.fixture
def host_mount(tmp_path):
    """mount(allow_other=False) -> a mount point of iofs's default tree on the host."""
    mounted: list[Path] = []

    def mount(allow_other: bool = False) -> Path:
        if not Path("/dev/fuse").exists():
            pytest.skip("no /dev/fuse on the host")
        mp = tmp_path / f"mnt{len(mounted)}"
        mp.mkdir()
        mounted.append(mp)
        cmd = [*iofs_command(), "mount", str(mp), "--log", str(tmp_path / f"iofs{len(mounted)}.log")]
        if allow_other:
            cmd.append("--allow-other")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and is_mounted(mp), f"iofs mount failed: {r.stdout}{r.stderr}"
        return mp

    try:
        yield mount
    finally:
        for mp in mounted:
            unmount(mp)
