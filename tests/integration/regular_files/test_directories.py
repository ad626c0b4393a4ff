"""Directories: mkdir and rmdir, names up to 255 bytes, listings of the root, of many
entries, and of big directories in time proportional to their size.
"""

from __future__ import annotations

import errno
import os
import stat
import time

import pytest

from tests.support.mounting import DEFAULT_NAMES
from tests.support.syscalls import read_file, write_file


def test_mkdir_rmdir(d):
    assert os.stat(d).st_nlink == 2
    os.mkdir(d / "sub", 0o750)
    st = os.stat(d / "sub")
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o750
    assert st.st_nlink == 2
    assert os.stat(d).st_nlink == 3
    with pytest.raises(FileExistsError):
        os.mkdir(d / "sub")
    write_file(d / "sub" / "f", b"f")
    with pytest.raises(OSError) as ei:
        os.rmdir(d / "sub")
    assert ei.value.errno == errno.ENOTEMPTY
    with pytest.raises(NotADirectoryError):
        os.rmdir(d / "sub" / "f")
    with pytest.raises(FileNotFoundError):
        os.rmdir(d / "missing")
    os.unlink(d / "sub" / "f")
    os.rmdir(d / "sub")
    assert os.listdir(d) == []
    assert os.stat(d).st_nlink == 2
    write_file(d / "f", b"")
    with pytest.raises(NotADirectoryError):
        os.mkdir(d / "f" / "x")


def test_name_too_long(d):
    long = "n" * 256
    ok = "n" * 255
    for call in (lambda p: os.open(p, os.O_CREAT | os.O_WRONLY, 0o644), os.mkdir, os.stat,
                 lambda p: os.symlink("t", p)):
        with pytest.raises(OSError) as ei:
            call(d / long)
        assert ei.value.errno == errno.ENAMETOOLONG
    write_file(d / "short", b"")
    with pytest.raises(OSError) as ei:
        os.rename(d / "short", d / long)
    assert ei.value.errno == errno.ENAMETOOLONG
    write_file(d / ok, b"255")
    assert read_file(d / ok) == b"255"
    assert sorted(os.listdir(d)) == sorted([ok, "short"])


def test_readdir_root(m):
    assert set(os.listdir(m.path)) == DEFAULT_NAMES
    kinds = {e.name: e.is_dir() for e in os.scandir(m.path)}
    assert kinds == {n: n in ("tmp", ".iofs") for n in DEFAULT_NAMES}


def test_readdir_many_entries(d):
    names = [f"entry-{i:05d}" for i in range(2000)]
    for n in names:
        os.close(os.open(d / n, os.O_WRONLY | os.O_CREAT, 0o644))
    listed = os.listdir(d)
    assert len(listed) == 2000
    assert sorted(listed) == names
    for n in names[::2]:
        os.unlink(d / n)
    assert sorted(os.listdir(d)) == names[1::2]


def test_listing_a_big_directory_takes_time_in_proportion(d):
    """readdir used to scan a directory from its start on every call (a few dozen entries
    each), so listing n entries cost n**2: 50,000 took 36 s, and each call held the daemon.
    Four times the entries must take about four times as long, not sixteen."""
    took = {}
    for n in (5000, 20000):
        sub = d / f"n{n}"
        sub.mkdir()
        for i in range(n):
            os.mknod(sub / f"e{i:06d}", stat.S_IFIFO | 0o600)
        times = []
        for _ in range(3):  # the fastest of three: a busy host only ever adds time
            t0 = time.monotonic()
            assert len(os.listdir(sub)) == n
            times.append(time.monotonic() - t0)
        took[n] = min(times)
    assert took[20000] < 8 * took[5000] + 0.15, took
