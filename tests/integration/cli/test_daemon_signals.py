"""SIGTERM and SIGINT to the daemon unmount cleanly, with files open and with a request
asleep in a driver.
"""

from __future__ import annotations

import errno
import os
import signal

import pytest

from iofs.system.state import state_path
from tests.support.mounting import is_mounted
from tests.support.processes import pid_gone, wait_for, waiting_on_fuse


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_unmounts_cleanly(mount_iofs, sig):
    m = mount_iofs()
    pidf = state_path(str(m.path), 'pid')
    assert os.path.exists(pidf)
    os.kill(m.pid, sig)
    assert wait_for(lambda: not is_mounted(m.path), 10), "still mounted after the signal"
    assert wait_for(lambda: pid_gone(m.pid), 10), "daemon still running after the signal"
    assert os.listdir(m.path) == []
    assert not os.path.exists(pidf)
    log = m.log_text()
    assert f"signal {int(sig)}: unmounting" in log
    assert "unmounted" in log
    assert "Traceback" not in log


def test_sigterm_with_open_files(mount_iofs):
    m = mount_iofs()
    fds = [os.open(m / "pipe0", os.O_WRONLY), os.open(m / "pipe0", os.O_RDONLY),
           os.open(m / "mem0", os.O_RDONLY)]
    try:
        os.kill(m.pid, signal.SIGTERM)
        assert wait_for(lambda: pid_gone(m.pid), 10), "daemon did not exit on SIGTERM"
        assert wait_for(lambda: not is_mounted(m.path), 10)
        with pytest.raises(OSError) as ei:
            os.read(fds[2], 10)
        assert ei.value.errno == errno.ENOTCONN
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def test_sigterm_with_reader_blocked_in_driver(mount_iofs):
    """A request sleeping in a driver (a pipe reader) must not keep the daemon from exiting."""
    import threading
    m = mount_iofs()
    w = os.open(m / "pipe0", os.O_WRONLY)
    r = os.open(m / "pipe0", os.O_RDONLY)
    outcome: list = []

    def reader():
        try:
            outcome.append(os.read(r, 10))
        except OSError as exc:
            outcome.append(exc.errno)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        assert wait_for(lambda: waiting_on_fuse(t.native_id, "read"), 10), "the read never blocked"
        os.kill(m.pid, signal.SIGTERM)
        assert wait_for(lambda: pid_gone(m.pid), 5), "daemon did not exit on SIGTERM"
        t.join(10)
        assert not t.is_alive(), "blocked reader not released when the daemon exited"
        assert outcome and outcome[0] in (b"", errno.ENOTCONN, errno.ECONNABORTED, errno.EIO)
        assert wait_for(lambda: not is_mounted(m.path), 10)
    finally:
        if not pid_gone(m.pid):
            # a daemon stuck after SIGTERM answers nothing: closing our files would hang in FUSE
            # flush, so end it (our own daemon, by pid) first; the blocked reader then gets an error
            os.kill(m.pid, signal.SIGKILL)
            wait_for(lambda: pid_gone(m.pid), 10)
            t.join(10)
        for fd in (w, r):
            try:
                os.close(fd)
            except OSError:
                pass
