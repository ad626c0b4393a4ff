"""What a driver returns, checked in one place: an errno after progress follows the syscall
layer (EINTR, EAGAIN and ERESTART are a short count, others fail the call), an errno the kernel
cannot carry or a value that is no errno is EIO, None means 0 on both paths, and a uio_resid
out of range or not an int is EIO.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from tests.support.mounting import is_mounted, mounted, serves
from tests.support.processes import pid_gone
from tests.support.programs import device, driver_env
from tests.support.syscalls import errno_of, opened, raw_read, raw_write


def test_driver_returning_garbage_is_eio(faulty):
    fd = os.open(faulty / "badret", os.O_RDWR)
    try:
        assert errno_of(os.read, fd, 100) == errno.EIO
        assert errno_of(os.write, fd, b"12345") == errno.EIO
    finally:
        os.close(fd)
    serves(faulty)
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


def test_an_errno_without_progress_fails_the_call(faulty):
    fd = os.open(faulty / "enospc0", os.O_RDWR)
    try:
        assert raw_read(fd, 100) == (-1, b"", errno.ENOSPC)
        assert raw_write(fd, b"w") == (-1, errno.ENOSPC)
    finally:
        os.close(fd)


def test_the_daemon_serves_on_after_every_faulty_driver(faulty):
    serves(faulty)
    assert is_mounted(faulty.path)
    assert not pid_gone(faulty.pid)


@pytest.mark.parametrize("value", ["str", "none", "float", "big"])
def test_non_int_uio_resid_is_eio(bad, value):
    fd = os.open(bad / f"resid_{value}", os.O_RDWR)
    try:
        assert errno_of(os.read, fd, 100) == errno.EIO
        assert errno_of(os.write, fd, b"abc") == errno.EIO
    finally:
        os.close(fd)
    serves(bad)
    assert "left uio_resid" in bad.log_text()


@pytest.mark.parametrize("code", [600, 100000, -3, 38, False, 0.0])
def test_errno_the_kernel_cannot_carry_is_eio_not_d_state(bad, code):
    """600 or 100000 reached the kernel as an invalid error and left the caller in D state;
    ENOSYS (38) from OPEN would make the kernel stop sending opens to the whole mount; False
    and 0.0 are no errno either, on the fast path (a sync d_read) and the sleeping one (an
    async d_write) alike."""
    path = bad / f"errno_{code}"
    probe = subprocess.run(
        [sys.executable, "-c", f"""
import errno, os, sys
fd = os.open({str(path)!r}, os.O_RDONLY)
for fn in (lambda: os.read(fd, 10),):
    try:
        fn()
    except OSError as e:
        print(e.errno)
try:
    os.open({str(path)!r}, os.O_WRONLY)
except OSError as e:
    print(e.errno)
fd2 = os.open({str(path)!r}, os.O_RDWR)
try:
    os.write(fd2, b"x")
except OSError as e:
    print(e.errno)
"""], capture_output=True, text=True, timeout=20)
    assert probe.stdout.split() == [str(errno.EIO)] * 3, (probe.stdout, probe.stderr)
    # opens still reach the daemon (no ENOSYS got through): a failing open still fails
    assert errno_of(os.open, path, os.O_WRONLY) == errno.EIO
    serves(bad)


def test_none_means_zero_on_the_fast_and_the_slow_path(bad):
    """A driver that falls off its end (returns None) succeeded: what it moved is the answer,
    whether its entry point is sync (the fast path) or async (the sleeping path)."""
    fd = os.open(bad / "none", os.O_RDWR)
    try:
        assert os.read(fd, 100) == b"none-sync"
        assert os.write(fd, b"abcdef") == 3
        os.fsync(fd)
    finally:
        os.close(fd)
    fd = os.open(bad / "anone", os.O_RDWR)
    try:
        assert os.read(fd, 100) == b"none-async"
        assert os.write(fd, b"abcdef") == 6
    finally:
        os.close(fd)
    serves(bad)


RESID_MOD = "iofs_resid_drv"

RESID_DRIVERS = '''
"""Drivers that move a few bytes, then leave uio_resid out of range and return 0."""

import trio

from iofs.driver import Driver
from iofs.uio import uiomove


def _bad_resid(uio, how):
    if how == "negative":
        uio.uio_resid = -5                    # claims more than was asked for
    elif how == "larger":
        uio.uio_resid = uio.uio_resid + 5     # more left than was asked for
    else:
        uio.uio_resid = uio.uio_resid / 2     # not an int at all (a plausible slip)


class BadResid(Driver):
    """Moves a few bytes, then leaves uio_resid out of range and returns 0."""

    def __init__(self, how="negative"):
        self.how = how

    def d_read(self, dev, uio, ioflag):
        uiomove(b"bad", min(3, uio.uio_resid), uio)
        _bad_resid(uio, self.how)
        return 0

    def d_write(self, dev, uio, ioflag):
        uiomove(bytearray(3), min(3, uio.uio_resid), uio)
        _bad_resid(uio, self.how)
        return 0


class AsyncBadResid(BadResid):
    async def d_read(self, dev, uio, ioflag):
        await trio.sleep(0)
        return BadResid.d_read(self, dev, uio, ioflag)

    async def d_write(self, dev, uio, ioflag):
        await trio.sleep(0)
        return BadResid.d_write(self, dev, uio, ioflag)
'''

RESID_TREE = "".join([
    device("zero", "zero"),
    device("status", "status", mode="0444"),
    device("r_negative", f"{RESID_MOD}:BadResid", how="negative"),
    device("r_larger", f"{RESID_MOD}:BadResid", how="larger"),
    device("a_negative", f"{RESID_MOD}:AsyncBadResid", how="negative"),
    device("a_larger", f"{RESID_MOD}:AsyncBadResid", how="larger"),
])


@pytest.fixture(scope="module")
def resid(tmp_path_factory):
    """Drivers that leave uio_resid out of range, on the fast and the sleeping path."""
    base = tmp_path_factory.mktemp("resid")
    with mounted(base, RESID_TREE, env=driver_env(base, **{RESID_MOD: RESID_DRIVERS})) as m:
        yield m


def _status(m) -> dict[str, dict[str, int]]:
    with open(m / "status") as f:
        lines = f.read().splitlines()
    head = lines[0].split()
    rows = {}
    for line in lines[1:]:
        cells = line.split()
        rows[cells[0]] = {k: int(v) for k, v in zip(head[2:], cells[2:])}
    return rows



@pytest.mark.parametrize("node, value", [
    ("r_negative", -5), ("r_larger", 102), ("a_negative", -5), ("a_larger", 102),
])
def test_read_leaving_resid_out_of_range_is_eio(resid, node, value):
    before = _status(resid)[node]
    with opened(resid / node, os.O_RDONLY) as fd:
        assert raw_read(fd, 100) == (-1, b"", errno.EIO)
        assert errno_of(os.read, fd, 100) == errno.EIO
    after = _status(resid)[node]
    assert after["reads"] - before["reads"] == 2
    assert after["errors"] - before["errors"] == 2
    assert after["bytes_read"] == before["bytes_read"]
    assert f"{node}: d_read left uio_resid {value} of 100: EIO" in resid.log_text()
    serves(resid)
    assert not pid_gone(resid.pid)


@pytest.mark.parametrize("entry, node", [
    ("d_read", "a_float"), ("d_read", "r_float"), ("d_write", "a_float"), ("d_write", "r_float"),
])
def test_entry_leaving_non_int_resid_is_eio(tmp_path, entry, node):
    """A uio_resid that is not an int (48.5 of 100) is EIO on every path: it once killed the
    daemon from the sync read path (the float sliced the reply buffer) and gave a 51-byte write
    counted as 51.5 on the write paths."""
    cfg = (device("zero", "zero") + device("status", "status")
           + device("r_float", f"{RESID_MOD}:BadResid", how="float")
           + device("a_float", f"{RESID_MOD}:AsyncBadResid", how="float"))
    with mounted(tmp_path, cfg, env=driver_env(tmp_path, **{RESID_MOD: RESID_DRIVERS})) as m:
        with opened(m / node) as fd:
            if entry == "d_read":
                assert errno_of(os.read, fd, 100) == errno.EIO
            else:
                assert errno_of(os.write, fd, b"w" * 100) == errno.EIO
        row = _status(m)[node]
        assert (row["errors"], row["bytes_read"], row["bytes_written"]) == (1, 0, 0)
        serves(m)
