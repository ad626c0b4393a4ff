"""Errors end to end: huge offsets, faulty user drivers, bad configs, the CLI's failures and signals."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from _helpers_b import (
    env_with_pythonpath, is_mounted, mounted, one_line_error, pid_gone, raw_read, raw_write,
    run_iofs, wait_for,
)
from conftest import _teardown, daemon_pid

from iofs.system.state import state_path

MiB = 1 << 20
ERESTART = 85  # iofs.driver.ERESTART on Linux


@pytest.fixture(scope="module")
def dflt(tmp_path_factory):
    """The default tree, shared by the tests that do not stop or kill the daemon."""
    with mounted(tmp_path_factory.mktemp("errors")) as m:
        yield m


# ---- huge offsets ------------------------------------------------------------------------------


def test_huge_offset_regular_file_is_sparse(dflt):
    """Like tmpfs: a regular file may be as large as off_t allows, and holes cost nothing."""
    mnt = dflt
    p = mnt / "tmp" / "huge"
    before = os.statvfs(mnt.path).f_bfree
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert os.pwrite(fd, b"far", 2**62) == 3
        assert os.fstat(fd).st_size == 2**62 + 3
        assert os.pread(fd, 8, 2**62 - 5) == b"\0\0\0\0\0far"
        assert os.pread(fd, 4, 12345) == b"\0" * 4  # a hole
        assert os.statvfs(mnt.path).f_bfree >= before - 256  # one chunk, not 4 EiB
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)
    assert os.stat(p).st_size == 0
    assert os.statvfs(mnt.path).f_bfree == before  # truncation gave the memory back


def test_max_file_size_efbig(tmp_path):
    """A configured max_file_size: writes at or past it get EFBIG, a write crossing it is cut."""
    cfg = '[options]\nmax_file_size = "1M"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as mnt:
        fd = os.open(mnt / "tmp" / "capped", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            for off in (2**62, 2**40, 1 << 20):
                with pytest.raises(OSError) as ei:
                    os.pwrite(fd, b"x", off)
                assert ei.value.errno == errno.EFBIG, off
            assert os.pwrite(fd, b"abcdef", (1 << 20) - 2) == 2  # cut at the limit
            assert os.fstat(fd).st_size == 1 << 20
            with pytest.raises(OSError) as ei:
                os.ftruncate(fd, (1 << 20) + 1)
            assert ei.value.errno == errno.EFBIG
            assert os.pread(fd, 10, (1 << 20) - 2) == b"ab"
        finally:
            os.close(fd)


def test_huge_offset_mem_enospc(dflt):
    mnt = dflt
    fd = os.open(mnt / "mem0", os.O_RDWR)
    try:
        with pytest.raises(OSError) as ei:
            os.pwrite(fd, b"x", 2**62)
        assert ei.value.errno == errno.ENOSPC
        assert os.pread(fd, 10, 2**62) == b""
        assert os.pwrite(fd, b"ok", 0) == 2  # still usable
    finally:
        os.close(fd)


# ---- faulty user drivers -----------------------------------------------------------------------

DRIVER_MODULE = '''
import errno

import trio

from iofs.driver import Driver, ERESTART
from iofs.uio import uiomove


class Raiser(Driver):
    def d_read(self, dev, uio, ioflag):
        raise RuntimeError("boom from the test driver")

    def d_write(self, dev, uio, ioflag):
        uiomove(bytearray(3), 3, uio)  # progress, then a crash: still EIO
        raise ValueError("write boom")


class AsyncRaiser(Driver):
    async def d_read(self, dev, uio, ioflag):
        await trio.sleep(0)
        raise KeyError("async boom")


class OpenRaiser(Driver):
    def d_open(self, dev, oflags, td):
        raise OSError("open boom")


class Partial(Driver):
    """Moves n bytes of the letter P, then returns the errno named err."""

    def __init__(self, n=10, err="EINTR"):
        self.n = n
        self.err = ERESTART if err == "ERESTART" else getattr(errno, err)

    def d_read(self, dev, uio, ioflag):
        n = min(self.n, uio.uio_resid)
        if n:
            error = uiomove(b"P" * n, n, uio)
            assert error == 0
        return self.err

    def d_write(self, dev, uio, ioflag):
        n = min(self.n, uio.uio_resid)
        if n:
            assert uiomove(bytearray(n), n, uio) == 0
        return self.err


class BadReturn(Driver):
    def d_read(self, dev, uio, ioflag):
        return "not an errno"

    def d_write(self, dev, uio, ioflag):
        uio.uio_resid = -5  # claims to have moved more than it was given
        return 0
'''

MODNAME = "iofs_testdrv_b"


def _dev(path: str, cls: str, **opts) -> str:
    lines = [f'[[device]]\npath = "{path}"\ndriver = "{MODNAME}:{cls}"']
    for k, v in opts.items():
        lines.append(f"{k} = {v!r}".replace("'", '"'))
    return "\n".join(lines) + "\n"


FAULTY_CONFIG = "".join([
    '[[device]]\npath = "zero"\ndriver = "zero"\n',
    _dev("raise", "Raiser"),
    _dev("araise", "AsyncRaiser"),
    _dev("oraise", "OpenRaiser"),
    _dev("badret", "BadReturn"),
    _dev("eintr10", "Partial", n=10, err="EINTR"),
    _dev("eagain10", "Partial", n=10, err="EAGAIN"),
    _dev("restart10", "Partial", n=10, err="ERESTART"),
    _dev("eio10", "Partial", n=10, err="EIO"),
    _dev("efault10", "Partial", n=10, err="EFAULT"),
    _dev("eintr0", "Partial", n=0, err="EINTR"),
    _dev("restart0", "Partial", n=0, err="ERESTART"),
    _dev("enospc0", "Partial", n=0, err="ENOSPC"),
])


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    base = tmp_path_factory.mktemp("faulty")
    (base / "drv").mkdir()
    (base / "drv" / f"{MODNAME}.py").write_text(DRIVER_MODULE)
    with mounted(base, FAULTY_CONFIG, env=env_with_pythonpath(base / "drv")) as m:
        yield m


def _zero_works(m) -> None:
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        assert os.read(fd, 4096) == bytes(4096)
    finally:
        os.close(fd)


def _errno_of(fn, *args) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args)
    return ei.value.errno


def test_raising_d_read_is_eio_logged_and_mount_keeps_serving(faulty):
    fd = os.open(faulty / "raise", os.O_RDWR)
    try:
        assert _errno_of(os.read, fd, 100) == errno.EIO
        assert _errno_of(os.read, fd, 100) == errno.EIO  # every time, not once
        assert _errno_of(os.write, fd, b"abcdef") == errno.EIO
    finally:
        os.close(fd)
    _zero_works(faulty)
    log = faulty.log_text()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: boom from the test driver" in log
    assert "ValueError: write boom" in log


def test_raising_async_d_read_is_eio(faulty):
    fd = os.open(faulty / "araise", os.O_RDONLY)
    try:
        assert _errno_of(os.read, fd, 100) == errno.EIO
    finally:
        os.close(fd)
    _zero_works(faulty)
    assert "KeyError: 'async boom'" in faulty.log_text()


def test_raising_d_open_is_eio(faulty):
    assert _errno_of(os.open, faulty / "oraise", os.O_RDONLY) == errno.EIO
    _zero_works(faulty)
    assert "OSError: open boom" in faulty.log_text()


def test_driver_returning_garbage_is_eio(faulty):
    fd = os.open(faulty / "badret", os.O_RDWR)
    try:
        assert _errno_of(os.read, fd, 100) == errno.EIO
        assert _errno_of(os.write, fd, b"12345") == errno.EIO
    finally:
        os.close(fd)
    _zero_works(faulty)
    log = faulty.log_text()
    assert "'not an errno'" in log
    assert "uio_resid -5" in log


@pytest.mark.parametrize("dev", ["eintr10", "eagain10", "restart10"])
def test_restartable_error_after_progress_is_short_count(faulty, dev):
    fd = os.open(faulty / dev, os.O_RDWR)
    try:
        assert os.read(fd, 100) == b"P" * 10
        r, data, err = raw_read(fd, 4096)
        assert (r, data, err) == (10, b"P" * 10, 0)
        assert os.write(fd, b"w" * 100) == 10
        assert raw_write(fd, b"w" * 5000) == (10, 0)
    finally:
        os.close(fd)


@pytest.mark.parametrize("dev,code", [("eio10", errno.EIO), ("efault10", errno.EFAULT)])
def test_other_error_after_progress_is_the_error(faulty, dev, code):
    fd = os.open(faulty / dev, os.O_RDWR)
    try:
        assert raw_read(fd, 100) == (-1, b"", code)
        assert raw_write(fd, b"w" * 100) == (-1, code)
    finally:
        os.close(fd)


@pytest.mark.parametrize("dev", ["eintr0", "restart0"])
def test_eintr_without_progress_is_eintr(faulty, dev):
    fd = os.open(faulty / dev, os.O_RDWR)
    try:
        assert raw_read(fd, 100) == (-1, b"", errno.EINTR)
        assert raw_write(fd, b"w" * 100) == (-1, errno.EINTR)
    finally:
        os.close(fd)


def test_error_without_progress(faulty):
    fd = os.open(faulty / "enospc0", os.O_RDWR)
    try:
        assert raw_read(fd, 100) == (-1, b"", errno.ENOSPC)
        assert raw_write(fd, b"w") == (-1, errno.ENOSPC)
    finally:
        os.close(fd)


def test_faulty_mount_log_has_no_unexpected_errors(faulty):
    _zero_works(faulty)
    assert is_mounted(faulty.path)
    assert not pid_gone(faulty.pid)


# ---- bad configs -------------------------------------------------------------------------------

BAD_CONFIGS = {
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
}


def _assert_nothing_mounted(mp: Path) -> None:
    assert not is_mounted(mp)
    assert not os.path.exists(state_path(str(mp), 'pid'))
    assert os.listdir(mp) == []


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_one_line_exit_2(tmp_path, name):
    text, phrase = BAD_CONFIGS[name]
    mp = tmp_path / "mnt"
    mp.mkdir()
    cfg = tmp_path / "tree.toml"
    cfg.write_text(text)
    res = run_iofs("mount", str(mp), "--config", str(cfg), "--log", str(tmp_path / "log"))
    try:
        assert res.returncode == 2
        line = one_line_error(res)
        assert phrase in line
        assert res.stdout == ""
        _assert_nothing_mounted(mp)
    finally:
        _teardown_if_mounted(mp)


def test_missing_config_file(tmp_path):
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = run_iofs("mount", str(mp), "--config", str(tmp_path / "missing.toml"))
    try:
        assert res.returncode == 2
        line = one_line_error(res)
        assert "cannot read config" in line and "missing.toml" in line
        _assert_nothing_mounted(mp)
    finally:
        _teardown_if_mounted(mp)


def _teardown_if_mounted(mp: Path) -> None:
    if is_mounted(mp):
        from conftest import Mounted
        _teardown(Mounted(mp, mp.parent / "log", daemon_pid(mp)))


# ---- the CLI's other failures ------------------------------------------------------------------

def test_mount_twice_fails_first_keeps_working(dflt):
    mnt = dflt
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


def test_drivers_lists_builtins():
    from iofs.drivers import BUILTIN

    res = run_iofs("drivers")
    assert res.returncode == 0
    assert res.stderr == ""
    lines = res.stdout.splitlines()
    listed = {ln.split()[0]: ln.split(None, 1)[1] for ln in lines if ln.strip()}
    expected = {"null", "zero", "full", "mem", "pipe", "text", "random", "status"}
    assert expected <= set(listed)
    assert set(BUILTIN) <= set(listed)
    assert all(len(desc) > 10 for desc in listed.values())
    assert "ENOSPC" in listed["full"]


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
        t.join(0.3)
        assert t.is_alive()
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
