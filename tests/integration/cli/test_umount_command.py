"""`iofs umount`: it unmounts cleanly, recovers a mount whose daemon was killed, acts on
iofs mounts only, never signals a process that is not the mount's daemon, and refuses an empty
path.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iofs.system.mounts import mount_type
from iofs.system.state import state_path
from tests.support.cli import one_line_error, run_iofs
from tests.support.mounting import daemon_pid, env_with_pythonpath, is_mounted, mounted
from tests.support.otherfs import other_fuse_mount
from tests.support.paths import REPO
from tests.support.processes import pid_gone, wait_for


def test_umount_not_mounted(tmp_path):
    res = run_iofs("umount", str(tmp_path))
    assert res.returncode == 1
    assert "not mounted" in one_line_error(res)


def test_umount_after_daemon_sigkilled(mount_iofs, tmp_path):
    m = mount_iofs()
    os.kill(m.pid, signal.SIGKILL)
    assert wait_for(lambda: pid_gone(m.pid), 10)
    with pytest.raises(OSError) as ei:
        os.listdir(m.path)  # (a stat could be answered from the attribute cache)
    # ECONNABORTED if the request raced the last daemon thread's exit (the leader can be a
    # zombie while another thread still holds /dev/fuse), ENOTCONN once the connection is gone
    assert ei.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    # mounting over it says what to do, in one line
    res = run_iofs("mount", str(m.path))
    assert res.returncode == 1
    assert "iofs umount" in one_line_error(res)
    res = run_iofs("umount", str(m.path))
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert not is_mounted(m.path)
    assert os.listdir(m.path) == []
    # the mount point is usable again
    with mounted(tmp_path, mountpoint=m.path) as again:
        assert again.pid != m.pid
        with open(again / "zero", "rb") as f:
            assert f.read(10) == bytes(10)
    assert not is_mounted(m.path)


def test_umount_runs_clean(mount_iofs):
    m = mount_iofs()
    res = run_iofs("umount", str(m.path))
    assert res.returncode == 0
    assert (res.stdout, res.stderr) == ("", "")
    assert not is_mounted(m.path)
    assert wait_for(lambda: pid_gone(m.pid), 10)
    assert not os.path.exists(state_path(str(m.path), 'pid'))


def test_umount_refuses_a_fuse_mount_that_is_not_iofs(tmp_path):
    with other_fuse_mount(tmp_path) as (mp, proc):
        res = run_iofs("umount", str(mp))
        assert res.returncode == 1
        assert "fuse.other mount, not iofs" in one_line_error(res)
        assert mount_type(str(mp)) == "fuse.other" and proc.poll() is None


def test_recovery_umount_removes_the_pid_file(mount_iofs):
    m = mount_iofs()
    pidf = state_path(str(m.path), 'pid')
    assert os.path.exists(pidf)
    os.kill(m.pid, signal.SIGKILL)
    assert wait_for(lambda: pid_gone(m.pid), 10)
    res = run_iofs("umount", str(m.path))
    assert res.returncode == 0, res.stderr
    assert not is_mounted(m.path)
    assert not os.path.exists(pidf)


@pytest.mark.parametrize("forged", ["pid_only", "pid_and_its_start_time",
                                    "a_look_alike_started_at_another_time"])
def test_umount_never_signals_a_pid_that_is_not_the_daemon(mount_iofs, forged):
    """After the daemon was SIGKILLed, its pid file names another process (a recycled pid):
    `iofs umount` recovers the mount and leaves that process alone, even one whose command
    line looks like that mount's daemon, when it did not start when the daemon did."""
    m = mount_iofs()
    pidf = state_path(str(m.path), 'pid')
    os.kill(m.pid, signal.SIGKILL)
    assert wait_for(lambda: pid_gone(m.pid), 10)
    if forged == "a_look_alike_started_at_another_time":
        victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "iofs",
                                   "mount", str(m.path), "--foreground"])
    else:
        victim = subprocess.Popen(["sleep", "60"])
    try:
        with open(f"/proc/{victim.pid}/stat") as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        if forged == "a_look_alike_started_at_another_time":
            start -= 1  # the pid was the daemon's, started a tick before this process
        Path(pidf).write_text(f"{victim.pid}\n" if forged == "pid_only" else f"{victim.pid} {start}\n")
        res = run_iofs("umount", str(m.path))
        assert res.returncode == 0, res.stderr
        assert not is_mounted(m.path)
        # (a signal umount had sent would have ended it by now)
        assert not wait_for(lambda: victim.poll() is not None, 0.3), \
            "iofs umount signalled a process that is not its daemon"
        assert not os.path.exists(pidf)
    finally:
        victim.kill()
        victim.wait()


def test_umount_still_stops_its_own_daemon(mount_iofs):
    m = mount_iofs()
    assert daemon_pid(m.path) == m.pid
    res = run_iofs("umount", str(m.path))
    assert res.returncode == 0
    assert wait_for(lambda: pid_gone(m.pid), 10)


def test_umount_of_an_empty_path_is_refused_not_the_cwd_mount(mount_iofs):
    """`iofs umount ""` (an unset variable) used to unmount the mount the shell stood in."""
    m = mount_iofs()
    # in the mount, python -m iofs would import an installed iofs: this checkout's, explicitly
    res = run_iofs("umount", "", cwd=m.path, env=env_with_pythonpath(REPO))
    assert res.returncode == 2
    assert "mount point is empty" in one_line_error(res)
    assert is_mounted(m.path) and not pid_gone(m.pid)


def test_umount_ends_a_daemon_that_does_not_exit_and_says_so(mount_iofs):
    m = mount_iofs()
    pid = m.pid
    os.kill(pid, signal.SIGSTOP)  # a daemon that will not exit by itself, nor on SIGTERM
    try:
        t0 = time.monotonic()
        res = run_iofs("umount", str(m.path))
        took = time.monotonic() - t0
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert res.returncode == 0, res.stderr
    assert f"daemon {pid} did not exit: sent SIGTERM" in res.stderr
    assert f"daemon {pid} did not exit: sent SIGKILL" in res.stderr
    assert "Traceback" not in res.stderr
    assert wait_for(lambda: pid_gone(pid), 5)
    assert not is_mounted(m.path)
    assert not os.path.exists(state_path(str(m.path), "pid"))
    assert took < 10


def test_umount_of_a_busy_mount_detaches_it_and_ends_its_daemon_in_bounded_time(mount_iofs):
    m = mount_iofs()
    pid = m.pid
    holder = subprocess.Popen(["sleep", "60"], cwd=m.path)  # its cwd keeps the mount busy
    try:
        t0 = time.monotonic()
        res = run_iofs("umount", str(m.path))
        took = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 0, res.stderr
    assert "busy: detached lazily" in res.stderr
    assert wait_for(lambda: pid_gone(pid), 5)
    assert not is_mounted(m.path)
    assert took < 5
