"""A config that cannot be mounted is one line and exit 2, with nothing mounted and no pid
file left: bad options, nodes and sections, a driver that cannot be had or calls sys.exit, a
missing file, and a path that is not a small regular file.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from iofs.system.state import state_path
from tests.support.cli import one_line_error, run_iofs
from tests.support.mounting import is_mounted, unmount_if_mounted

BAD_TREES = {
    "unknown_driver": ('[[device]]\npath = "x"\ndriver = "nosuch"\n', "unknown driver 'nosuch'"),
    "bad_option": ('[[device]]\npath = "x"\ndriver = "mem"\nbogus = 1\n', "no option 'bogus'"),
    "bad_global_option": ('[options]\ncolour = "red"\n', "unknown option 'colour'"),
    "bad_toml": ('[[device]\npath = \n', "not valid TOML"),
    "bad_size": ('[[device]]\npath = "x"\ndriver = "mem"\nsize = "12Q"\n', "not a size"),
    "bad_mode": ('[[device]]\npath = "x"\ndriver = "null"\nmode = "999"\n', "not octal"),
    "driver_init_fails": ('[[device]]\npath = "p"\ndriver = "pipe"\nsize = 0\n', "driver 'pipe'"),
    "missing_module": ('[[device]]\npath = "x"\ndriver = "no_such_mod_b:X"\n', "cannot import"),
    "unknown_section": ("[devices]\n", "unknown section"),
    "duplicate": ('[[device]]\npath = "x"\ndriver = "null"\n' * 2, "declared twice"),
    "dotdot": ('[[device]]\npath = "../x"\ndriver = "null"\n', "may not contain"),
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


@pytest.mark.parametrize("name", sorted(BAD_TREES))
def test_a_config_mistake_is_one_line_exit_2_and_nothing_is_mounted(tmp_path, name):
    text, phrase = BAD_TREES[name]
    res = _mount_config(tmp_path, text)
    try:
        assert res.returncode == 2, res
        assert phrase in one_line_error(res)
        assert res.stdout == ""
        _nothing_mounted(tmp_path / "mnt")
    finally:
        unmount_if_mounted(tmp_path / "mnt")


def test_missing_config_file(tmp_path):
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = run_iofs("mount", str(mp), "--config", str(tmp_path / "missing.toml"))
    try:
        assert res.returncode == 2
        line = one_line_error(res)
        assert "cannot read config" in line and "missing.toml" in line
        _nothing_mounted(mp)
    finally:
        unmount_if_mounted(mp)


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
            unmount_if_mounted(mp)
