"""Config and CLI mistakes are one line and exit 2 with nothing mounted; `iofs umount` acts on
iofs only and never signals a process that is not the mount's daemon; state files are safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _helpers_b import env_with_pythonpath, is_mounted, one_line_error, pid_gone, run_iofs, wait_for
from conftest import OTHER_UID, Mounted, _teardown, daemon_pid

from iofs.system.state import state_path

REPO = Path(__file__).resolve().parents[2]

BAD = {
    "device_uid_too_big": ('[[device]]\npath = "x"\ndriver = "null"\nuid = 99999999999\n',
                           "uid must be an integer in 0..4294967294"),
    "device_gid_minus_one": ('[[device]]\npath = "x"\ndriver = "null"\ngid = 4294967295\n',
                             "gid must be an integer"),
    "dir_uid_too_big": ('[[dir]]\npath = "d"\nuid = 99999999999\n', "uid must be an integer"),
    "dir_gid_negative": ('[[dir]]\npath = "d"\ngid = -1\n', "gid must be an integer"),
    "device_not_tables": ("device = 5\n", "device must be written as [[device]] tables"),
    "dir_not_tables": ('dir = "tmp"\n', "dir must be written as [[dir]] tables"),
    "fault_not_tables": ("fault = [1, 2]\n", "fault must be written as [[fault]] tables"),
    "dir_under_device": ('[[device]]\npath = "dev"\ndriver = "null"\n[[dir]]\npath = "dev/sub"\n',
                         "dir 'dev/sub' lies under device 'dev'"),
    "dir_twice": ('[[dir]]\npath = "d"\n[[dir]]\npath = "d/"\n', "dir 'd': declared twice"),
    "nul_in_device_path": ('[[device]]\npath = "a\\u0000b"\ndriver = "null"\n', "contains a NUL byte"),
    "nul_in_dir_path": ('[[dir]]\npath = "a\\u0000"\n', "contains a NUL byte"),
    "inside_control_dir": ('[[device]]\npath = ".iofs/x"\ndriver = "null"\n',
                           "inside the control directory"),
    "bad_control_name": ('[options]\ncontrol = "a/b"\n', "control must be a directory name"),
    "bad_max_sleeping": ('[options]\nmax_sleeping = 0\n', "max_sleeping must be an integer"),
    "bad_trace_events": ('[options]\ntrace_events = "many"\n', "trace_events must be an integer"),
    "bad_trace": ('[options]\ntrace = "yes"\n', "trace must be true or false"),
    # statfs cannot carry it: every df of the mount used to be EIO
    "max_memory_past_off_max": ('[options]\nmax_memory = "99999999999999T"\n',
                                "max_memory: '99999999999999T' is larger than off_t's maximum"),
    "limit_past_off_max": ('[[device]]\npath = "z"\ndriver = "zero"\nlimit = "99999999999999T"\n',
                           "is larger than off_t's maximum"),
}


def _nothing_mounted(mp: Path) -> None:
    assert not is_mounted(mp)
    assert not os.path.exists(state_path(str(mp), 'pid'))
    assert os.listdir(mp) == []


def _mount_config(tmp_path: Path, text: str, env: dict | None = None) -> subprocess.CompletedProcess:
    mp = tmp_path / "mnt"
    mp.mkdir(exist_ok=True)
    cfg = tmp_path / "tree.toml"
    cfg.write_text(text)
    return run_iofs("mount", str(mp), "--config", str(cfg), "--log", str(tmp_path / "log"), env=env)


@pytest.mark.parametrize("name", sorted(BAD))
def test_config_mistake_is_one_line_exit_2(tmp_path, name):
    text, phrase = BAD[name]
    res = _mount_config(tmp_path, text)
    try:
        assert res.returncode == 2, res
        assert phrase in one_line_error(res)
        _nothing_mounted(tmp_path / "mnt")
    finally:
        if is_mounted(tmp_path / "mnt"):
            _teardown(Mounted(tmp_path / "mnt", tmp_path / "log", daemon_pid(tmp_path / "mnt")))


EXITING_MODULE = '''
import sys
if WHEN == "import":
    sys.exit(5)

from iofs.driver import Driver

class Drv(Driver):
    def __init__(self):
        sys.exit(5)
'''


@pytest.mark.parametrize("when", ["import", "init"])
def test_driver_calling_sys_exit_is_one_line_exit_2(tmp_path, when):
    """A driver module (or constructor) that calls sys.exit(5): the CLI says so in one line
    and exits 2, not 5 with nothing said."""
    (tmp_path / "drv").mkdir()
    (tmp_path / "drv" / "exiting_drv.py").write_text(EXITING_MODULE.replace("WHEN", repr(when)))
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "drv"))
    res = _mount_config(tmp_path, '[[device]]\npath = "x"\ndriver = "exiting_drv:Drv"\n', env=env)
    assert res.returncode == 2, res
    assert "SystemExit(5)" in one_line_error(res)
    _nothing_mounted(tmp_path / "mnt")


@pytest.mark.parametrize("mp", ["", "   "])
def test_empty_mount_point_is_refused(tmp_path, mp):
    """`iofs mount ""` used to mount over the current directory."""
    res = run_iofs("mount", mp, cwd=tmp_path)
    assert res.returncode == 2
    assert "mount point is empty" in one_line_error(res)
    assert not is_mounted(tmp_path)


# ---- iofs umount acts on iofs only -----------------------------------------------------------

OTHER_FS = '''
import os, sys, pyfuse3, trio
class Ops(pyfuse3.Operations):
    async def getattr(self, inode, ctx):
        a = pyfuse3.EntryAttributes(); a.st_ino = 1; a.st_mode = 0o40755; a.st_nlink = 2
        return a
pyfuse3.init(Ops(), sys.argv[1], {"fsname=otherfs", "subtype=other"})
print("ready", flush=True)
try:
    trio.run(pyfuse3.main)
finally:
    pyfuse3.close()
'''


def test_umount_refuses_a_fuse_mount_that_is_not_iofs(tmp_path):
    mp = tmp_path / "other"
    mp.mkdir()
    (tmp_path / "otherfs.py").write_text(OTHER_FS)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "otherfs.py"), str(mp)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert wait_for(lambda: is_mounted(mp), 10)
        res = run_iofs("umount", str(mp))
        assert res.returncode == 1
        assert "fuse.other mount, not iofs" in one_line_error(res)
        assert is_mounted(mp) and proc.poll() is None
    finally:
        subprocess.run(["fusermount3", "-u", str(mp)], capture_output=True)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


@pytest.mark.parametrize("forged", ["pid_only", "pid_and_its_start_time"])
def test_umount_never_signals_a_pid_that_is_not_the_daemon(mount_iofs, forged):
    """After the daemon was SIGKILLed, its pid file names another process (a recycled pid):
    `iofs umount` recovers the mount and leaves that process alone."""
    m = mount_iofs()
    pidf = state_path(str(m.path), 'pid')
    os.kill(m.pid, signal.SIGKILL)
    assert wait_for(lambda: pid_gone(m.pid), 10)
    victim = subprocess.Popen(["sleep", "60"])
    try:
        with open(f"/proc/{victim.pid}/stat") as f:
            start = f.read().rsplit(")", 1)[1].split()[19]
        Path(pidf).write_text(f"{victim.pid}\n" if forged == "pid_only" else f"{victim.pid} {start}\n")
        res = run_iofs("umount", str(m.path))
        assert res.returncode == 0, res.stderr
        assert not is_mounted(m.path)
        time.sleep(0.3)
        assert victim.poll() is None, "iofs umount signalled a process that is not its daemon"
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


# ---- state files -------------------------------------------------------------------------------

def _as_user(cmd: list[str], env: dict, cwd: str = "/") -> subprocess.CompletedProcess:
    return subprocess.run(cmd, user=OTHER_UID, group=OTHER_UID, env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def _user_env(runtime: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR",)}
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env["HOME"] = str(runtime)
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
    python = "/usr/bin/python3"
    site = subprocess.run([sys.executable, "-c", "import pyfuse3, trio, os; "
                           "print(os.path.dirname(os.path.dirname(pyfuse3.__file__)))"],
                          capture_output=True, text=True).stdout.strip()
    env = _user_env(runtime)
    env["PYTHONPATH"] = f"{REPO}:{site}"

    def run(*args: str) -> subprocess.CompletedProcess:
        return _as_user([python, "-m", "iofs", *args], env)

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


@pytest.mark.parametrize("foreground", [False, True])
def test_a_log_path_that_cannot_be_opened_is_a_usage_error(tmp_path, foreground):
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = run_iofs("mount", str(mp), "--log", str(tmp_path), *(["--foreground"] if foreground else []))
    assert res.returncode == 2
    assert one_line_error(res) == f"iofs: cannot open {tmp_path}: Is a directory"
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


# ---- mount points named oddly, configs that are not files --------------------------------------

def test_umount_of_an_empty_path_is_refused_not_the_cwd_mount(mount_iofs):
    """`iofs umount ""` (an unset variable) used to unmount the mount the shell stood in."""
    m = mount_iofs()
    # in the mount, python -m iofs would import an installed iofs: this checkout's, explicitly
    res = run_iofs("umount", "", cwd=m.path, env=env_with_pythonpath(REPO))
    assert res.returncode == 2
    assert "mount point is empty" in one_line_error(res)
    assert is_mounted(m.path) and not pid_gone(m.pid)


def test_a_symlink_to_the_mount_point_names_the_mount(tmp_path):
    """mount(8) and umount(8) follow a symbolic link to the mount point; `iofs mount` through
    one used to fail ("mounted without nodev"), `iofs umount` through one said "not mounted"."""
    target = tmp_path / "mnt"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    m = Mounted(target, tmp_path / "log", None)
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
        _teardown(m)


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "directory", "huge"])
def test_a_config_that_is_not_a_small_file_is_one_line_exit_2(tmp_path, kind):
    """/dev/zero used to be read until memory ran out, and a FIFO with no writer hung."""
    cfg = tmp_path / "tree.toml"
    if kind == "dev_zero":
        cfg = Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(cfg)
    elif kind == "directory":
        cfg.mkdir()
    else:
        cfg.write_text("# " + "x" * (17 << 20) + "\n")
    mp = tmp_path / "mnt"
    mp.mkdir()
    try:
        res = run_iofs("mount", str(mp), "--config", str(cfg), "--log", str(tmp_path / "log"),
                       timeout=20)
        assert res.returncode == 2
        one_line_error(res)
        _nothing_mounted(mp)
    finally:
        if is_mounted(mp):
            _teardown(Mounted(mp, tmp_path / "log", daemon_pid(mp)))


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
    m = Mounted(mp, tmp_path / "log", None)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "drv"))
    try:
        res = run_iofs("mount", str(mp), "--config", str(tmp_path / "tree.toml"), "--log",
                       str(m.log), cwd=checkout, env=env)
        m.pid = daemon_pid(mp)
        assert res.returncode == 0, res.stderr
        assert (mp / "which").read_bytes() == str(checkout / "iofs" / "__init__.py").encode()
    finally:
        _teardown(m)
