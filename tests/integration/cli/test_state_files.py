"""The daemon's state files: a non-root user's state directory is 0700 and its owner
checked, and neither the log file nor the pid file is followed through a symbolic link.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from iofs.system.state import state_path
from tests.support.cli import one_line_error, run_iofs
from tests.support.mounting import is_mounted
from tests.support.paths import REPO
from tests.support.users import OTHER_UID


def _as_user(cmd: list[str], env: dict, cwd: str = "/") -> subprocess.CompletedProcess:
    return subprocess.run(cmd, user=OTHER_UID, group=OTHER_UID, env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


PYTHON = "/usr/bin/python3"  # the system's: another user cannot reach root's virtualenv


def _user_env(runtime: Path) -> dict:
    """The environment of the iofs command as OTHER_UID: its runtime directory, and this
    checkout and the virtualenv's site-packages on PYTHONPATH."""
    site = subprocess.run([sys.executable, "-c", "import pyfuse3, trio, os; "
                           "print(os.path.dirname(os.path.dirname(pyfuse3.__file__)))"],
                          capture_output=True, text=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR",)}
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env["HOME"] = str(runtime)
    env["PYTHONPATH"] = f"{REPO}:{site}"
    return env


@pytest.fixture
def user_iofs(public_dir):
    """The iofs CLI as OTHER_UID: (run(args...), runtime dir, mount point)."""
    runtime = public_dir / "run"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, OTHER_UID, OTHER_UID)
    mp = public_dir / "mnt"
    mp.mkdir()
    os.chown(mp, OTHER_UID, OTHER_UID)
    env = _user_env(runtime)

    def run(*args: str) -> subprocess.CompletedProcess:
        return _as_user([PYTHON, "-m", "iofs", *args], env)

    # Debian's udev makes /dev/fuse 0666 so that users can mount through fusermount3; this
    # machine has it 0600: open it up for the test and put it back after.
    fuse_mode = os.stat("/dev/fuse").st_mode & 0o777
    os.chmod("/dev/fuse", 0o666)
    try:
        yield run, runtime, mp
    finally:
        os.chmod("/dev/fuse", fuse_mode)
        if is_mounted(mp):
            run("umount", str(mp))
        if is_mounted(mp):
            subprocess.run(["fusermount3", "-u", "-z", str(mp)], capture_output=True)


def test_non_root_state_dir_is_0700_and_its_owner_checked(user_iofs):
    run, runtime, mp = user_iofs
    res = run("mount", str(mp))
    assert res.returncode == 0, res.stderr
    try:
        state = runtime / "iofs"
        st = state.stat()
        assert (st.st_uid, st.st_mode & 0o777) == (OTHER_UID, 0o700)
        assert any(p.name.endswith(".pid") for p in state.iterdir())
    finally:
        run("umount", str(mp))
    assert not is_mounted(mp)
    # a state directory others may write to is refused, in one line, and nothing is mounted
    (runtime / "iofs").chmod(0o777)
    res = run("mount", str(mp))
    assert res.returncode == 1
    assert "refusing to keep pid and log files there" in one_line_error(res)
    assert not is_mounted(mp)
    (runtime / "iofs").chmod(0o700)
    os.chown(runtime / "iofs", 0, 0)  # owned by someone else (root)
    res = run("mount", str(mp))
    assert res.returncode == 1
    assert "refusing" in one_line_error(res)
    assert not is_mounted(mp)


def test_log_file_symlink_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    link = tmp_path / "log"
    link.symlink_to(victim)
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = run_iofs("mount", str(mp), "--log", str(link))
    assert res.returncode == 2
    assert "symbolic link" in one_line_error(res)
    assert victim.read_text() == "keep me\n"
    assert not is_mounted(mp)


def test_pid_file_symlink_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    mp = tmp_path / "mnt"
    mp.mkdir()
    pidf = Path(state_path(str(mp), 'pid'))
    pidf.symlink_to(victim)
    try:
        res = run_iofs("mount", str(mp), "--log", str(tmp_path / "log"))
        assert res.returncode == 1
        assert "symbolic link" in one_line_error(res)
        assert victim.read_text() == "keep me\n"
        assert not is_mounted(mp)
    finally:
        pidf.unlink()
        if is_mounted(mp):
            subprocess.run(["fusermount3", "-u", "-z", str(mp)])


ATTACKER = OTHER_UID + 1  # a third user, who owns what the attack swaps in


@pytest.mark.parametrize("attack", ["runtime_is_a_link_to_a_world_writable_dir",
                                    "runtime_lives_in_a_world_writable_dir",
                                    "state_dir_readable_by_others"])
def test_a_state_directory_another_user_could_change_is_refused(user_iofs, public_dir, attack):
    run, runtime, mp = user_iofs
    evil = public_dir / "evil"
    evil.mkdir()
    os.chown(evil, ATTACKER, ATTACKER)
    evil.chmod(0o777)
    env_runtime = runtime
    if attack == "runtime_is_a_link_to_a_world_writable_dir":
        link = public_dir / "run-link"
        link.symlink_to(evil)  # the attacker can rename the state directory away in there
        env_runtime = link
    elif attack == "runtime_lives_in_a_world_writable_dir":
        env_runtime = evil / "run"
        env_runtime.mkdir(mode=0o700)
        os.chown(env_runtime, OTHER_UID, OTHER_UID)
    else:
        (runtime / "iofs").mkdir(mode=0o755)  # made 0755 (readable by all) before iofs ran
        os.chown(runtime / "iofs", OTHER_UID, OTHER_UID)
        (runtime / "iofs").chmod(0o755)
    res = _as_user([PYTHON, "-m", "iofs", "mount", str(mp)], _user_env(env_runtime))
    assert res.returncode == 1, res.stderr
    assert "refusing to keep pid and log files" in one_line_error(res)
    assert not is_mounted(mp)
    assert list(evil.iterdir()) in ([], [evil / "run"])  # nothing was kept in there
