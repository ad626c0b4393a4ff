"""`iofs mount`: what it refuses, in one line (a mount point that is already mounted,
missing, a file, empty; a log path it cannot open), a symbolic link to the mount point, and the
daemon running the iofs the command imported.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iofs.system.mounts import mount_type
from iofs.system.state import state_path
from tests.support.cli import one_line_error, run_iofs
from tests.support.mounting import Mount, daemon_pid, is_mounted
from tests.support.otherfs import other_fuse_mount
from tests.support.processes import pid_gone, wait_for


def test_mount_twice_fails_first_keeps_working(mnt):
    res = run_iofs("mount", str(mnt.path))
    assert res.returncode == 1
    line = one_line_error(res)
    assert "already mounted" in line
    assert is_mounted(mnt.path)
    assert not pid_gone(mnt.pid)
    with open(mnt / "zero", "rb") as f:
        assert f.read(10) == bytes(10)
    assert daemon_pid(mnt.path) == mnt.pid


def test_missing_mount_point(tmp_path):
    mp = tmp_path / "nope"
    res = run_iofs("mount", str(mp))
    assert res.returncode == 1
    line = one_line_error(res)
    assert "does not exist" in line
    assert not mp.exists()
    assert not os.path.exists(state_path(str(mp), 'pid'))


def test_mount_point_is_a_file(tmp_path):
    mp = tmp_path / "file"
    mp.write_text("")
    res = run_iofs("mount", str(mp))
    assert res.returncode == 1
    assert "not a directory" in one_line_error(res)
    assert not is_mounted(mp)


@pytest.mark.parametrize("mp", ["", "   "])
def test_empty_mount_point_is_refused(tmp_path, mp):
    """`iofs mount ""` used to mount over the current directory."""
    res = run_iofs("mount", mp, cwd=tmp_path)
    assert res.returncode == 2
    assert "mount point is empty" in one_line_error(res)
    assert not is_mounted(tmp_path)


@pytest.mark.parametrize("foreground", [False, True])
def test_a_log_path_that_cannot_be_opened_is_a_usage_error(tmp_path, foreground):
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = run_iofs("mount", str(mp), "--log", str(tmp_path), *(["--foreground"] if foreground else []))
    assert res.returncode == 2
    assert one_line_error(res) == f"iofs: cannot open {tmp_path}: Is a directory"
    assert not is_mounted(mp)


def test_a_symlink_to_the_mount_point_names_the_mount(tmp_path):
    """mount(8) and umount(8) follow a symbolic link to the mount point; `iofs mount` through
    one used to fail ("mounted without nodev"), `iofs umount` through one said "not mounted"."""
    target = tmp_path / "mnt"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    m = Mount(tmp_path, mountpoint=target)
    try:
        res = run_iofs("mount", str(link), "--log", str(m.log))
        assert res.returncode == 0, res.stderr
        assert is_mounted(target)
        m.pid = daemon_pid(target)
        assert m.pid is not None  # the pid file is named after the mount, not the link
        res = run_iofs("mount", str(link), "--log", str(m.log))
        assert res.returncode == 1 and "already mounted" in one_line_error(res)
        res = run_iofs("umount", str(link) + "/")
        assert res.returncode == 0, res.stderr
        assert not is_mounted(target)
        assert wait_for(lambda: pid_gone(m.pid), 10)
    finally:
        m.stop()


WHICH_IOFS = '''
import iofs
from iofs.driver import Driver
from iofs.uio import uiomove_frombuf


class Which(Driver):
    """Reads are the path of the iofs package the daemon imported."""

    def d_read(self, dev, uio, ioflag):
        where = iofs.__file__.encode()
        return uiomove_frombuf(where, len(where), uio)
'''


def test_the_daemon_runs_the_iofs_the_command_imported(tmp_path):
    """`python -m iofs mount` in a checkout imports that checkout's iofs; the daemon it starts
    (in /) used to import whichever iofs was installed, or fail to import one at all."""
    import shutil

    import iofs

    checkout = tmp_path / "checkout"
    shutil.copytree(Path(iofs.__file__).parent, checkout / "iofs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "drv").mkdir()
    (tmp_path / "drv" / "which_iofs.py").write_text(WHICH_IOFS)
    (tmp_path / "tree.toml").write_text('[[device]]\npath = "which"\ndriver = "which_iofs:Which"\n')
    mp = tmp_path / "mnt"
    mp.mkdir()
    m = Mount(tmp_path, mountpoint=mp)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "drv"))
    try:
        res = run_iofs("mount", str(mp), "--config", str(tmp_path / "tree.toml"), "--log",
                       str(m.log), cwd=checkout, env=env)
        m.pid = daemon_pid(mp)
        assert res.returncode == 0, res.stderr
        assert (mp / "which").read_bytes() == str(checkout / "iofs" / "__init__.py").encode()
    finally:
        m.stop()


def test_iofs_refuses_a_fuse_mount_that_is_not_iofs(tmp_path):
    """Another filesystem's FUSE mount: iofs mount does not cover it, and the commands that
    steer a mount do not take it for one of iofs."""
    with other_fuse_mount(tmp_path) as (mp, proc):
        res = run_iofs("mount", str(mp))
        assert res.returncode == 1
        assert f"{mp} is already mounted (fuse.other; run: iofs umount {mp})" in one_line_error(res)
        assert mount_type(str(mp)) == "fuse.other" and proc.poll() is None
        for args in (["fault", str(mp), "list"], ["trace", str(mp)], ["unsynced", str(mp)]):
            res = run_iofs(*args)
            assert res.returncode == 1
            assert f"{mp} is not an iofs mount (fuse.other)" in one_line_error(res), args
        assert mount_type(str(mp)) == "fuse.other" and proc.poll() is None
