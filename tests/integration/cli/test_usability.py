"""What a new user meets: --version, help that lists what a rule may say, a driver found through
a relative PYTHONPATH, a missing driver module that names PYTHONPATH, a dead daemon that the
control commands name as such, process names compared as the kernel keeps them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from iofs.faults.actions import VOCABULARY
from iofs.faults.ops import FAULTABLE
from iofs.faults.rules import KEYS
from tests.support.cli import one_line_error, run_iofs
from tests.support.mounting import is_mounted
from tests.support.processes import pid_gone, wait_for


def test_version():
    res = run_iofs("--version")
    assert res.returncode == 0
    assert res.stdout.startswith("iofs ") and res.stdout.split()[1][0].isdigit()


def test_fault_add_help_lists_every_key_op_and_action():
    res = run_iofs("fault", "/nowhere", "add", "--help")
    assert res.returncode == 0
    for key in KEYS:
        assert f"{key}=" in res.stdout, key
    for op in FAULTABLE:
        assert op in res.stdout, op
    assert VOCABULARY.split(", ")[-1] in res.stdout


OFFSETS = textwrap.dedent('''
    from iofs.driver import Driver
    from iofs.uio import uiomove

    class Offsets(Driver):
        def d_read(self, dev, uio, ioflag):
            line = f"@{uio.uio_offset}\\n".encode()
            return uiomove(line, min(len(line), uio.uio_resid), uio)
''')


def test_a_driver_on_a_relative_pythonpath_is_found_by_the_daemon(tmp_path):
    (tmp_path / "offsets.py").write_text(OFFSETS)
    (tmp_path / "offsets.toml").write_text('[[device]]\npath = "where"\ndriver = "offsets:Offsets"\n')
    mp = tmp_path / "mnt"
    mp.mkdir()
    # as the README says it, from the driver's directory (before whatever the suite runs with)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (".", os.environ.get("PYTHONPATH")) if p))
    res = run_iofs("mount", str(mp), "--config", "offsets.toml", "--log", str(tmp_path / "log"),
                   cwd=tmp_path, env=env)
    try:
        assert res.returncode == 0, res.stderr
        fd = os.open(mp / "where", os.O_RDONLY)
        try:
            assert os.pread(fd, 100, 4096) == b"@4096\n"
        finally:
            os.close(fd)
    finally:
        if is_mounted(mp):
            run_iofs("umount", str(mp))


def test_a_driver_module_that_cannot_be_found_names_pythonpath(tmp_path):
    (tmp_path / "tree.toml").write_text('[[device]]\npath = "x"\ndriver = "not_here_at_all:Foo"\n')
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = run_iofs("mount", str(mp), "--config", str(tmp_path / "tree.toml"))
    assert res.returncode == 2
    line = one_line_error(res)
    assert "not_here_at_all" in line and "PYTHONPATH" in line
    assert not is_mounted(mp)


def test_after_the_daemon_died_the_fault_command_says_to_umount(mount_iofs):
    m = mount_iofs()
    os.kill(m.pid, signal.SIGKILL)
    assert wait_for(lambda: pid_gone(m.pid), 10)
    res = run_iofs("fault", str(m.path), "list")
    assert res.returncode == 1
    line = one_line_error(res)
    assert f"iofs umount {m.path}" in line and "Transport endpoint" not in line


def test_comm_is_compared_as_the_kernel_keeps_it_15_bytes(mount_iofs):
    m = mount_iofs()
    name = "ééééééééé"  # 9 characters, 18 bytes: the kernel keeps 15 of them
    res = run_iofs("fault", str(m.path), "add", f"path=zero op=read comm={name} action=eio")
    assert res.returncode == 0, res.stderr
    program = textwrap.dedent(f'''
        import ctypes, errno, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, {name.encode()!r}, 0, 0, 0)  # PR_SET_NAME: the kernel cuts it
        fd = os.open({str(m.path / "zero")!r}, os.O_RDONLY)
        try:
            os.read(fd, 10)
            print("read")
        except OSError as e:
            print(errno.errorcode[e.errno])
    ''')
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert out.stdout.strip() == "EIO", out.stderr
    with open(m.path / "zero", "rb") as f:  # another process name: no fault
        assert f.read(10) == bytes(10)
