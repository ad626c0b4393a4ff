"""rename(2) and renameat2(2): within and across directories, over an existing name, the
errors, RENAME_NOREPLACE and RENAME_EXCHANGE, link counts of moved directories, and
RENAME_WHITEOUT refused.
"""

from __future__ import annotations

import errno
import os

import pytest

from tests.support.syscalls import read_file, renameat2, write_file

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


def test_rename_simple_and_across_dirs(d):
    write_file(d / "a", b"A")
    os.mkdir(d / "sub")
    os.rename(d / "a", d / "b")
    assert sorted(os.listdir(d)) == ["b", "sub"]
    assert read_file(d / "b") == b"A"
    os.rename(d / "b", d / "sub" / "c")
    assert os.listdir(d / "sub") == ["c"]
    assert read_file(d / "sub" / "c") == b"A"


def test_rename_over_existing_file(d):
    write_file(d / "src", b"source")
    write_file(d / "dst", b"destination")
    keep = os.open(d / "dst", os.O_RDONLY)  # the replaced file stays readable through its fd
    try:
        os.rename(d / "src", d / "dst")
        assert os.listdir(d) == ["dst"]
        assert read_file(d / "dst") == b"source"
        assert os.read(keep, 100) == b"destination"
    finally:
        os.close(keep)


def test_rename_errors(d):
    write_file(d / "f", b"f")
    os.mkdir(d / "dir")
    os.mkdir(d / "full")
    write_file(d / "full" / "x", b"x")
    os.mkdir(d / "empty")
    with pytest.raises(IsADirectoryError):
        os.rename(d / "f", d / "dir")
    with pytest.raises(NotADirectoryError):
        os.rename(d / "dir", d / "f")
    with pytest.raises(OSError) as ei:
        os.rename(d / "dir", d / "full")
    assert ei.value.errno == errno.ENOTEMPTY
    with pytest.raises(OSError) as ei:
        os.rename(d / "dir", d / "dir" / "inside")
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        os.rename(d / "missing", d / "g")
    assert sorted(os.listdir(d)) == ["dir", "empty", "f", "full"]
    os.rename(d / "dir", d / "empty")  # a directory over an empty directory is allowed
    assert sorted(os.listdir(d)) == ["empty", "f", "full"]


def test_rename_noreplace_and_exchange(d):
    write_file(d / "a", b"A")
    write_file(d / "b", b"B")
    assert renameat2(str(d / "a"), str(d / "b"), RENAME_NOREPLACE) == errno.EEXIST
    assert read_file(d / "b") == b"B"
    assert renameat2(str(d / "a"), str(d / "b"), RENAME_EXCHANGE) == 0
    assert read_file(d / "a") == b"B"
    assert read_file(d / "b") == b"A"
    assert renameat2(str(d / "a"), str(d / "c"), RENAME_NOREPLACE) == 0
    assert sorted(os.listdir(d)) == ["b", "c"]


def test_rename_dir_updates_nlink(d):
    os.mkdir(d / "p1")
    os.mkdir(d / "p2")
    os.mkdir(d / "p1" / "child")
    assert os.stat(d / "p1").st_nlink == 3
    assert os.stat(d / "p2").st_nlink == 2
    os.rename(d / "p1" / "child", d / "p2" / "child")
    assert os.stat(d / "p1").st_nlink == 2
    assert os.stat(d / "p2").st_nlink == 3
    assert os.stat(d / "p2" / "child").st_nlink == 2


RENAME_WHITEOUT = 4


def test_rename_whiteout_is_einval_not_a_plain_rename(m):
    """RENAME_WHITEOUT (overlayfs) asks for a whiteout left at the old name. iofs makes none,
    so it refuses the call, as a filesystem without whiteouts does: a plain rename would leave
    overlayfs with the lower file showing through."""
    d = m / "tmp" / "whiteout"
    d.mkdir()
    try:
        (d / "a").write_bytes(b"A")
        assert renameat2(str(d / "a"), str(d / "b"), RENAME_WHITEOUT) == errno.EINVAL
        assert sorted(os.listdir(d)) == ["a"]
        assert renameat2(str(d / "a"), str(d / "b"), RENAME_WHITEOUT | 1) == errno.EINVAL
        assert sorted(os.listdir(d)) == ["a"]
    finally:
        for name in os.listdir(d):
            os.unlink(d / name)
        d.rmdir()
