"""Directory durability: with [options] namespace_durability = "fsync" a namespace change
survives a crash only once its directory (for a rename: both) has been fsynced, or, for a new
regular file, the file itself; a crash undoes the rest whole. "immediate" keeps them all."""

from __future__ import annotations

import os

import pytest

from iofs.testing import client
from tests.support.cli import one_line_error, run_iofs
from tests.support.syscalls import write_file

TREE = ('[options]\ndurability = true\nnamespace_durability = "{mode}"\n'
        '[[dir]]\npath = "tmp"\nmode = "1777"\n')


@pytest.fixture
def fm(mount_iofs):
    return mount_iofs(TREE.format(mode="fsync"))


def _fsync(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_immediate_keeps_every_name(mount_iofs):
    m = mount_iofs(TREE.format(mode="immediate"))
    t = m.path / "tmp"
    write_file(t / "a", b"data")
    os.rename(t / "a", t / "b")
    client.crash(m.path)
    assert sorted(os.listdir(t)) == ["b"] and (t / "b").read_bytes() == b""


def test_a_new_file_survives_by_its_own_fsync_or_its_directorys(fm):
    t = fm.path / "tmp"
    write_file(t / "synced", b"1", sync=True)
    write_file(t / "by-dir", b"2")
    _fsync(t)
    write_file(t / "after-the-dir-sync", b"3")
    write_file(t / "fsynced-after", b"4", sync=True)
    client.crash(fm.path)
    assert sorted(os.listdir(t)) == ["by-dir", "fsynced-after", "synced"]
    assert (t / "synced").read_bytes() == b"1" and (t / "by-dir").read_bytes() == b""


def test_a_rename_without_the_directorys_fsync_is_undone_whole(fm):
    t = fm.path / "tmp"
    write_file(t / "config", b"old", sync=True)
    _fsync(t)
    write_file(t / "config.tmp", b"new", sync=True)  # the atomic-replace pattern, less the directory fsync
    os.rename(t / "config.tmp", t / "config")
    assert (t / "config").read_bytes() == b"new"
    client.crash(fm.path)
    assert (t / "config").read_bytes() == b"old"  # the replaced file is back
    assert (t / "config.tmp").read_bytes() == b"new"  # and the new one under its old name
    write_file(t / "config.tmp", b"new", sync=True)
    os.rename(t / "config.tmp", t / "config")
    _fsync(t)  # now durable
    client.crash(fm.path)
    assert sorted(os.listdir(t)) == ["config"] and (t / "config").read_bytes() == b"new"


def test_a_rename_across_directories_needs_both(fm):
    t = fm.path / "tmp"
    os.mkdir(t / "a")
    os.mkdir(t / "b")
    _fsync(t)
    write_file(t / "a" / "f", b"x", sync=True)
    _fsync(t / "a")
    os.rename(t / "a" / "f", t / "b" / "f")
    _fsync(t / "b")  # only one of the two
    client.crash(fm.path)
    assert os.listdir(t / "a") == ["f"] and os.listdir(t / "b") == []
    os.rename(t / "a" / "f", t / "b" / "f")
    _fsync(t / "b")
    _fsync(t / "a")
    client.crash(fm.path)
    assert os.listdir(t / "a") == [] and os.listdir(t / "b") == ["f"]


def test_an_unlink_not_made_durable_is_undone_with_the_data(fm):
    t = fm.path / "tmp"
    write_file(t / "keep", b"precious", sync=True)
    _fsync(t)
    os.unlink(t / "keep")
    client.crash(fm.path)
    assert (t / "keep").read_bytes() == b"precious"
    os.unlink(t / "keep")
    _fsync(t)
    client.crash(fm.path)
    assert os.listdir(t) == []


def test_a_directory_not_made_durable_goes_with_what_it_holds(fm):
    t = fm.path / "tmp"
    os.mkdir(t / "d")
    write_file(t / "d" / "f", b"x", sync=True)  # durable in d, but d itself is not
    _fsync(t / "d")
    client.crash(fm.path)
    assert os.listdir(t) == []
    os.mkdir(t / "d")
    _fsync(t)
    os.rmdir(t / "d")
    client.crash(fm.path)
    assert os.listdir(t) == ["d"]  # the rmdir was never made durable


def test_namespace_durability_needs_durability(tmp_path):
    (tmp_path / "t.toml").write_text('[options]\nnamespace_durability = "fsync"\n')
    mp = tmp_path / "mnt"
    mp.mkdir()
    res = run_iofs("mount", str(mp), "--config", str(tmp_path / "t.toml"))
    assert res.returncode == 2
    assert "namespace_durability needs durability = true" in one_line_error(res)
