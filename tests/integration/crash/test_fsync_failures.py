"""What a failed fsync does, under each [options] fsync_error model: "linux" (ext4, XFS: the
data it covered is marked clean, readable until a crash takes it, the error reported once to
each open description), "keep" (the data stays dirty; a retry makes it durable) and "btrfs"
(as linux, and the pages go back to what the disk holds at once)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest

from iofs.testing import client
from tests.support.syscalls import errno_of

TREE = '[options]\ndurability = true\nfsync_error = "{mode}"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'

# the PostgreSQL "fsyncgate" pattern: write, fsync fails, retry the fsync, believe it
FSYNCGATE = textwrap.dedent('''
    import os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    os.pwrite(fd, b"NEW!", 0)
    try:
        os.fsync(fd)
    except OSError:
        os.fsync(fd)  # "retry until it works"
    print("committed")
''')


def _fsync(fd: int) -> int:
    try:
        os.fsync(fd)
    except OSError as exc:
        return exc.errno
    return 0


def _file(m, data: bytes = b"old!"):
    path = m.path / "tmp" / "f"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    return path


@pytest.mark.parametrize("mode,after_crash", [("linux", b"old!"), ("keep", b"NEW!"),
                                              ("btrfs", b"old!")])
def test_fsyncgate_a_retried_fsync_that_says_0(mount_iofs, mode, after_crash):
    m = mount_iofs(TREE.format(mode=mode))
    path = _file(m)
    client.add_rule(m.path, "path=tmp/f op=fsync nth=1 action=eio")
    out = subprocess.run([sys.executable, "-c", FSYNCGATE, str(path)], capture_output=True,
                         text=True)
    assert out.stdout == "committed\n", out.stderr  # the program believes its data is safe
    client.clear_rules(m.path)
    client.crash(m.path)
    assert path.read_bytes() == after_crash  # under linux it is gone: the checker would fail


def test_linux_the_data_stays_readable_until_the_crash(mount_iofs):
    m = mount_iofs(TREE.format(mode="linux"))
    path = _file(m)
    fd = os.open(path, os.O_RDWR)
    os.pwrite(fd, b"NEW!", 0)
    client.add_rule(m.path, "path=tmp/f op=fsync nth=1 action=eio")
    assert errno_of(os.fsync, fd) == errno.EIO
    assert os.pread(fd, 4, 0) == b"NEW!"  # marked clean, still in memory
    os.fsync(fd)  # retried: 0, and writes nothing
    assert [p for n, p in client.unsynced(m.path)] == ["tmp/f"]  # still not durable
    os.close(fd)
    client.clear_rules(m.path)
    client.crash(m.path)
    assert path.read_bytes() == b"old!"


def test_linux_a_page_written_again_after_the_failure_is_written_by_the_next_fsync(mount_iofs):
    m = mount_iofs(TREE.format(mode="linux"))
    path = _file(m, bytes(8192))
    fd = os.open(path, os.O_RDWR)
    os.pwrite(fd, b"A" * 4096, 0)  # page 0
    os.pwrite(fd, b"B" * 4096, 4096)  # page 1
    client.add_rule(m.path, "path=tmp/f op=fsync nth=1 action=eio")
    assert errno_of(os.fsync, fd) == errno.EIO  # both pages marked clean, lost
    os.pwrite(fd, b"b", 4096)  # page 1 dirty again
    os.fsync(fd)
    os.close(fd)
    client.clear_rules(m.path)
    client.crash(m.path)
    data = path.read_bytes()
    assert data[:4096] == bytes(4096)  # page 0: its failed writeback is lost for good
    assert data[4096:] == b"b" + b"B" * 4095  # page 1: written whole by the later fsync


def test_linux_the_error_is_reported_once_to_every_open_description(mount_iofs):
    m = mount_iofs(TREE.format(mode="linux"))
    path = _file(m)
    fds = [os.open(path, os.O_RDWR) for _ in range(3)]
    try:
        os.pwrite(fds[0], b"NEW!", 0)
        client.add_rule(m.path, "path=tmp/f op=fsync nth=1 action=eio")
        assert _fsync(fds[0]) == errno.EIO  # the one that failed
        assert _fsync(fds[0]) == 0  # ...its retry: 0 (errseq: it was told)
        assert _fsync(fds[1]) == errno.EIO  # the others: once each
        assert _fsync(fds[1]) == 0
        assert _fsync(fds[2]) == errno.EIO
        late = os.open(path, os.O_RDWR)  # opened after the error: it has seen it
        assert _fsync(late) == 0
        os.close(late)
    finally:
        for fd in fds:
            os.close(fd)


def test_btrfs_the_pages_go_back_to_the_disks_content_at_once(mount_iofs):
    m = mount_iofs(TREE.format(mode="btrfs"))
    path = _file(m)
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, b"NEW!", 0)
        client.add_rule(m.path, "path=tmp/f op=fsync nth=1 action=eio")
        assert errno_of(os.fsync, fd) == errno.EIO
    finally:
        os.close(fd)
    assert path.read_bytes() == b"old!"  # a new open reads what the disk holds
