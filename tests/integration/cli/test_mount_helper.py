"""mount(8)'s helper: `mount -t fuse.iofs` (and so /etc/fstab lines of type fuse.iofs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iofs.system.mounts import mount_type

HELPER = Path(sys.executable).parent / "mount.fuse.iofs"


def mount_command(mp: Path, options: str) -> list[str]:
    """mount(8) itself when /sbin/mount.fuse.iofs is this checkout's helper (scripts/setup
    links it for root), else the helper as mount(8) would run it."""
    sbin = Path("/sbin/mount.fuse.iofs")
    if os.geteuid() == 0 and shutil.which("mount") and sbin.exists() and sbin.resolve() == HELPER.resolve():
        return ["mount", "-t", "fuse.iofs", "iofs", str(mp), "-o", options]
    return [str(HELPER), "iofs", str(mp), "-o", options]


def test_mount_t_fuse_iofs_with_options(tmp_path):
    cfg = tmp_path / "tree.toml"
    cfg.write_text('[[device]]\npath = "motd"\ndriver = "text"\ncontent = "from fstab\\n"\n')
    mp = tmp_path / "mnt"
    mp.mkdir()
    log = tmp_path / "iofs.log"
    res = subprocess.run(mount_command(mp, f"rw,noauto,allow_other,config={cfg},log={log}"),
                         capture_output=True, text=True, timeout=60)
    try:
        assert res.returncode == 0, res.stderr
        assert (mp / "motd").read_text() == "from fstab\n"
        with open("/proc/self/mountinfo") as f:
            line = next(entry for entry in f if f" {mp} " in entry)
        assert "fuse.iofs" in line and "allow_other" in line
    finally:
        subprocess.run(["umount", str(mp)], capture_output=True)  # the kernel's umount suffices
        if mount_type(str(mp)) is not None:
            subprocess.run(["fusermount3", "-u", "-z", str(mp)], capture_output=True)
    assert mount_type(str(mp)) is None
    deadline = time.monotonic() + 10  # the daemon goes with the mount
    while time.monotonic() < deadline and "unmounted" not in log.read_text():
        time.sleep(0.05)
    assert "unmounted" in log.read_text()


def test_mount_t_fuse_iofs_with_a_source(tmp_path):
    """``source=DIR``: the host directory DIR as the whole mount, as ``--source DIR``."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "f").write_bytes(b"from the host\n")
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = subprocess.run(mount_command(mp, f"source={host},log={tmp_path / 'iofs.log'}"),
                         capture_output=True, text=True, timeout=60)
    try:
        assert res.returncode == 0, res.stderr
        assert (mp / "f").read_bytes() == b"from the host\n"
        (mp / "g").write_bytes(b"through the mount")
        assert (host / "g").read_bytes() == b"through the mount"
    finally:
        subprocess.run(["umount", str(mp)], capture_output=True)
        if mount_type(str(mp)) is not None:
            subprocess.run(["fusermount3", "-u", "-z", str(mp)], capture_output=True)
    assert mount_type(str(mp)) is None


@pytest.mark.parametrize("options, message", [
    ("bogus", "unknown mount option 'bogus'"),
    ("config", "unknown mount option 'config'"),
])
def test_bad_mount_option_is_one_line(tmp_path, options, message):
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = subprocess.run([str(HELPER), "iofs", str(mp), "-o", options], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"iofs: {message} (config=FILE, source=DIR, log=FILE, allow_other, debug)"]
    assert mount_type(str(mp)) is None
