"""ERESTART from an entry point that moves no data (d_open, d_fsync, d_close) reaches the
program as EINTR: FUSE cannot restart a call, and errno 85 ("should be restarted") is the
kernel's own, never a program's."""

from __future__ import annotations

import errno
import os

import pytest

from tests.support.mounting import mounted
from tests.support.processes import run_program, wait_for
from tests.support.programs import device, driver_env
from tests.support.syscalls import raw_call, raw_open

RESTART_DRIVERS = '''
from iofs.driver import Driver, ERESTART


class RestartOpen(Driver):
    def d_open(self, dev, oflags, td):
        return ERESTART


class RestartFsync(Driver):
    async def d_fsync(self, dev, datasync):
        return ERESTART


class RestartClose(Driver):
    def d_close(self, dev, fflag, td):
        return ERESTART
'''

MOD = "iofs_testdrv_restart"
TREE = "".join([device("open", f"{MOD}:RestartOpen"), device("fsync", f"{MOD}:RestartFsync"),
                device("close", f"{MOD}:RestartClose")])


@pytest.fixture(scope="module")
def restart(tmp_path_factory):
    base = tmp_path_factory.mktemp("restart")
    with mounted(base, TREE, env=driver_env(base, **{MOD: RESTART_DRIVERS})) as m:
        yield m


def test_erestart_from_d_open_is_eintr(restart):
    assert raw_open(restart / "open", os.O_RDONLY) == (-1, errno.EINTR)
    res = run_program("cat", str(restart / "open"))
    assert res.returncode == 1
    assert res.stderr.decode() == f"cat: {restart / 'open'}: Interrupted system call\n"


@pytest.mark.parametrize("call", ["fsync", "fdatasync"])
def test_erestart_from_d_fsync_is_eintr(restart, call):
    fd = os.open(restart / "fsync", os.O_RDWR)
    try:
        assert raw_call(call, fd) == errno.EINTR
    finally:
        os.close(fd)


def test_erestart_from_d_close_is_logged_as_eintr_and_close_succeeds(restart):
    fd, err = raw_open(restart / "close", os.O_RDONLY)
    assert (fd >= 0, err) == (True, 0)
    os.close(fd)  # d_close comes with the RELEASE after close(2) returned: nobody waits for it
    assert wait_for(lambda: "close: d_close returned" in restart.log_text(), 10)
    assert "close: d_close returned EINTR" in restart.log_text()
    assert "ERESTART" not in restart.log_text()
