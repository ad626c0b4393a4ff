"""A driver that raises anything (an exception, SystemExit, another BaseException) from any
entry point: the program gets EIO (close(2) cannot fail), the traceback is logged once per
failure that repeats, and the daemon serves on.
"""

from __future__ import annotations

import errno
import os

import pytest

from tests.support.mounting import serves
from tests.support.processes import wait_for
from tests.support.syscalls import errno_of


def test_raising_d_read_is_eio_logged_and_mount_keeps_serving(faulty):
    fd = os.open(faulty / "raise", os.O_RDWR)
    try:
        assert errno_of(os.read, fd, 100) == errno.EIO
        assert errno_of(os.read, fd, 100) == errno.EIO  # every time, not once
        assert errno_of(os.write, fd, b"abcdef") == errno.EIO
    finally:
        os.close(fd)
    serves(faulty)
    log = faulty.log_text()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: boom from the test driver" in log
    assert "ValueError: write boom" in log


def test_raising_async_d_read_is_eio(faulty):
    fd = os.open(faulty / "araise", os.O_RDONLY)
    try:
        assert errno_of(os.read, fd, 100) == errno.EIO
    finally:
        os.close(fd)
    serves(faulty)
    assert "KeyError: 'async boom'" in faulty.log_text()


def test_raising_d_open_is_eio(faulty):
    assert errno_of(os.open, faulty / "oraise", os.O_RDONLY) == errno.EIO
    serves(faulty)
    assert "OSError: open boom" in faulty.log_text()


def test_system_exit_in_d_open_is_eio(bad):
    assert errno_of(os.open, bad / "exit_d_open", os.O_RDONLY) == errno.EIO
    serves(bad)


def test_system_exit_in_d_close_is_logged_and_close_succeeds(bad):
    fd = os.open(bad / "exit_d_close", os.O_RDONLY)
    os.close(fd)  # FUSE's release cannot fail a close(2); the daemon lives on
    # the RELEASE comes after close(2) returned: wait for what it logs
    assert wait_for(lambda: "exit_d_close: d_close raised SystemExit" in bad.log_text(), 10)
    serves(bad)


@pytest.mark.parametrize("dev", ["exit_d_read", "base_read"])
def test_base_exceptions_in_d_read_are_eio(bad, dev):
    fd = os.open(bad / dev, os.O_RDONLY)
    try:
        assert errno_of(os.read, fd, 10) == errno.EIO
    finally:
        os.close(fd)
    serves(bad)


def test_system_exit_in_async_d_write_and_d_fsync_is_eio(bad):
    fd = os.open(bad / "exit_d_write", os.O_RDWR)
    try:
        assert errno_of(os.write, fd, b"x") == errno.EIO
    finally:
        os.close(fd)
    fd = os.open(bad / "exit_d_fsync", os.O_RDWR)
    try:
        assert os.read(fd, 10) == b"fine"
        assert errno_of(os.fsync, fd) == errno.EIO
    finally:
        os.close(fd)
    serves(bad)


def test_a_repeated_failure_logs_its_traceback_once(bad):
    fd = os.open(bad / "exit_d_read", os.O_RDONLY)
    try:
        for _ in range(5):
            assert errno_of(os.read, fd, 10) == errno.EIO
    finally:
        os.close(fd)
    log = bad.log_text()
    assert log.count("exit_d_read: d_read raised SystemExit: EIO") == 1
    assert log.count("SystemExit: exit from d_read") == 1  # the traceback, once


def test_bad_drivers_are_logged_with_their_tracebacks_and_never_take_the_daemon_down(bad):
    fd = os.open(bad / "base_read", os.O_RDONLY)
    try:
        assert errno_of(os.read, fd, 10) == errno.EIO
    finally:
        os.close(fd)
    serves(bad)
    log = bad.log_text()
    assert "base_read: d_read raised GeneratorExit: EIO" in log
    assert "Traceback" in log and "GeneratorExit: base boom" in log  # logged with its traceback
