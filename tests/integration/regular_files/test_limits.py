"""The limits of a mount's regular files: statfs, max_inodes (ENOSPC beyond, as tmpfs's
nr_inodes), max_memory (a write that partly fits is short, the next is ENOSPC), and
max_file_size (a write or truncate past it is EFBIG, one crossing it is cut short).
"""

from __future__ import annotations

import errno
import json
import os
import sys

import pytest

from tests.support.backing import backed
from tests.support.data import KiB, MiB, first_difference, pattern
from tests.support.mounting import mounted
from tests.support.processes import run_program, wait_for
from tests.support.syscalls import errno_of, opened, raw_write, read_file, write_file


def test_statfs_values(m, d):
    if backed(m):  # statfs is the in-memory tree's (pyfuse3 passes statfs no inode): the
        # host directory's files cost it nothing (a --source mount's: test_serving)
        s = os.statvfs(m.path)
        assert s.f_blocks == (1 << 30) // 4096 and s.f_bfree == s.f_blocks
        write_file(d / "big", b"b" * (4 * MiB))
        assert os.statvfs(m.path).f_bfree == s.f_bfree
        return
    s = os.statvfs(m.path)
    assert s.f_bsize == 4096
    assert s.f_frsize == 4096
    assert s.f_namemax == 255
    assert s.f_blocks == (1 << 30) // 4096  # max_memory of the default tree
    assert s.f_bavail == s.f_bfree <= s.f_blocks
    assert 0 < s.f_ffree <= s.f_files
    write_file(d / "big", b"b" * (4 * MiB))
    s2 = os.statvfs(m.path)
    assert s.f_bfree - s2.f_bfree == 4 * MiB // 4096
    assert s.f_ffree - s2.f_ffree == 1
    os.unlink(d / "big")
    # the memory comes back when the kernel forgets the inode (its FORGET may trail the unlink)
    assert wait_for(lambda: os.statvfs(m.path).f_bfree == s.f_bfree, 5)


def test_max_inodes_is_enospc_beyond_as_tmpfs_nr_inodes(tmp_path):
    """statfs's f_files is a real bound: past it, creating anything that needs an inode is
    ENOSPC (tmpfs's nr_inodes), so that a user cannot make files until the daemon runs out
    of memory. As on tmpfs, each hard link beyond a file's first name counts too; an unlinked
    name gives its count back."""
    with mounted(tmp_path, '[options]\nmax_inodes = 40\n[[dir]]\npath = "tmp"\nmode = "1777"\n') as m:
        t = m / "tmp"
        made = 0
        with pytest.raises(OSError) as ei:
            while made < 100:
                write_file(t / f"f{made}", b"x")
                made += 1
        assert ei.value.errno == errno.ENOSPC
        assert 0 < made < 40
        s = os.statvfs(m.path)
        assert s.f_files == 40 and s.f_ffree == 0
        for make in (os.mkdir, lambda p: os.symlink("f0", p), os.mkfifo,
                     lambda p: os.link(t / "f0", p)):
            with pytest.raises(OSError) as ei:
                make(t / "more")
            assert ei.value.errno == errno.ENOSPC
        write_file(t / "f0", b"still writable")  # an existing name opens as before
        os.unlink(t / "f1")
        assert wait_for(lambda: os.statvfs(m.path).f_ffree == 1, 5)
        os.link(t / "f0", t / "f0-link")  # the freed inode's room, taken by a link
        assert os.statvfs(m.path).f_ffree == 0
        with pytest.raises(OSError) as ei:
            write_file(t / "again", b"y")
        assert ei.value.errno == errno.ENOSPC
        os.rename(t / "f2", t / "f0-link")  # over a second name: its count comes back
        assert os.statvfs(m.path).f_ffree == 1
        write_file(t / "again", b"y")
        assert read_file(t / "f0") == b"still writable"


# ---- max_memory -----------------------------------------------------------------------------------

CAPPED = """
[options]
max_memory = "4M"
%s
[[device]]
path = "zero"
driver = "zero"

[[dir]]
path = "tmp"
mode = "1777"
"""


@pytest.mark.parametrize("file_cap", ["", 'max_file_size = "1G"'], ids=["default", "max_file_size_1G"])
def test_memory_cap_single_file_enospc(tmp_path, file_cap):
    """One file outgrowing max_memory: a short write, then ENOSPC (as on a full tmpfs)."""
    with mounted(tmp_path, CAPPED % file_cap) as m:
        s = os.statvfs(m.path)
        assert s.f_blocks * s.f_frsize == 4 * MiB
        p = m / "tmp" / "big"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            n = os.write(fd, b"x" * (5 * MiB))
            assert n == 4 * MiB  # what fits: a short write
            with pytest.raises(OSError) as ei:
                os.write(fd, b"y" * 10)
            assert ei.value.errno == errno.ENOSPC
        finally:
            os.close(fd)
        assert os.stat(p).st_size == 4 * MiB
        assert os.statvfs(m.path).f_bfree == 0
        assert (m / "zero").open("rb").read(100) == bytes(100)


def test_memory_cap_shared_by_files_and_daemon_survives(tmp_path):
    with mounted(tmp_path, CAPPED % "") as m:
        a, b = m / "tmp" / "a", m / "tmp" / "b"
        write_file(a, b"a" * (3 * MiB))
        fd = os.open(b, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            assert os.write(fd, b"b" * (2 * MiB)) == MiB  # only 1 MiB is left
            with pytest.raises(OSError) as ei:
                os.write(fd, b"b")
            assert ei.value.errno == errno.ENOSPC
        finally:
            os.close(fd)
        assert os.stat(b).st_size == MiB
        assert os.statvfs(m.path).f_bfree == 0
        with pytest.raises(OSError) as ei:
            write_file(m / "tmp" / "c", b"c")
        assert ei.value.errno == errno.ENOSPC
        # the daemon keeps serving, and freeing memory makes room again
        assert (m / "zero").open("rb").read(100) == bytes(100)
        assert read_file(a) == b"a" * (3 * MiB)
        assert read_file(b) == b"b" * MiB
        os.unlink(a)  # its memory is back once the kernel forgets it
        assert wait_for(lambda: os.statvfs(m.path).f_bfree * 4096 == 3 * MiB, 5)
        write_file(m / "tmp" / "again", b"g" * (2 * MiB))
        assert read_file(m / "tmp" / "again") == b"g" * (2 * MiB)
        os.truncate(b, 0)
        assert os.statvfs(m.path).f_bfree * 4096 == 2 * MiB
        assert "Traceback" not in m.log_text()


# ---- a write that partly fits max_memory is short; the next gets ENOSPC ---------------------------


def test_write_partly_fitting_max_memory_is_short_then_enospc(tmp_path):
    cfg = '[options]\nmax_memory = "1M"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as m:
        first = pattern(12, 0, MiB - 1000)
        second = pattern(13, 0, 4000)
        with opened(m / "tmp" / "f", os.O_RDWR | os.O_CREAT) as fd:
            assert os.write(fd, first) == MiB - 1000
            assert os.write(fd, second) == 1000             # what fits: a short write
            assert errno_of(os.write, fd, b"x") == errno.ENOSPC
            assert raw_write(fd, second) == (-1, errno.ENOSPC)
            assert os.fstat(fd).st_size == MiB
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            got = os.pread(fd, 2 * MiB, 0)
            assert got == first + second[:1000], first_difference(got, first + second[:1000])
        assert os.statvfs(m.path).f_bfree == 0
        res = run_program("dd", "if=/dev/zero", f"of={m / 'tmp' / 'g'}", "bs=4096", "count=1")
        assert res.returncode == 1 and b"No space left on device" in res.stderr
        os.unlink(m / "tmp" / "f")                          # the memory comes back, with the FORGET
        assert wait_for(lambda: os.statvfs(m.path).f_bfree > 0, 5)
        res = run_program("dd", "if=/dev/zero", f"of={m / 'tmp' / 'g'}", "bs=4096", "count=1")
        assert res.returncode == 0, res.stderr
        assert os.stat(m / "tmp" / "g").st_size == 4096


def test_an_o_direct_write_partly_fitting_max_memory_is_short(tmp_path):
    """An O_DIRECT write(2) is one request to the daemon, whose count reaches the program as it
    is (the open is direct_io): the part that fits under max_memory is written and the call
    returns that count, not ENOSPC; the next write, with no room left, is ENOSPC."""
    cfg = '[options]\nmax_memory = "1M"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'
    with mounted(tmp_path, cfg) as m:
        head = pattern(14, 0, MiB - 3 * KiB)
        tail = pattern(15, 0, 8 * KiB)
        with opened(m / "tmp" / "f", os.O_RDWR | os.O_CREAT | os.O_DIRECT) as fd:
            assert os.write(fd, head) == len(head)
            assert raw_write(fd, tail) == (3 * KiB, 0)        # 3 KiB of 8 fit: short
            assert raw_write(fd, tail[3 * KiB:]) == (-1, errno.ENOSPC)
            assert os.fstat(fd).st_size == MiB
            got = os.pread(fd, 2 * MiB, 0)
        assert got == head + tail[:3 * KiB], first_difference(got, head + tail[:3 * KiB])
        res = run_program(sys.executable, "-m", "iofs", "trace", str(m.path), "--json",
                          "--op", "write")
        writes = [json.loads(line) for line in res.stdout.splitlines()]
        # (the kernel may cut the first write in two at a page boundary of its buffer)
        assert [(w["offset"], w["size"], w["moved"], w["errno"]) for w in writes][-2:] == [
            (len(head), 8 * KiB, 3 * KiB, 0), (MiB, 5 * KiB, 0, errno.ENOSPC)]


# ---- max_file_size --------------------------------------------------------------------------------

LIMIT_CONFIG = '[options]\nmax_file_size = "1M"\n[[dir]]\npath = "tmp"\nmode = "1777"\n'


@pytest.fixture(scope="module")
def lim(tmp_path_factory):
    # --allow-other: the setgid test creates files as another user and group
    with mounted(tmp_path_factory.mktemp("limits"), LIMIT_CONFIG, "--allow-other") as m:
        yield m


def test_truncate_to_exactly_max_file_size(lim):
    t = lim / "tmp" / "t"
    res = run_program("truncate", "-s", "1M", str(t))
    assert res.returncode == 0, res.stderr
    assert os.stat(t).st_size == MiB
    res = run_program("truncate", "-s", str(MiB + 1), str(t))
    assert res.returncode == 1 and b"File too large" in res.stderr
    assert os.stat(t).st_size == MiB
    assert errno_of(os.truncate, t, MiB + 1) == errno.EFBIG
    with opened(t) as fd:
        os.ftruncate(fd, 10)
        os.ftruncate(fd, MiB)
        assert errno_of(os.ftruncate, fd, MiB + 1) == errno.EFBIG
        assert os.fstat(fd).st_size == MiB
        assert os.pread(fd, 16, MiB - 16) == bytes(16)


def test_write_ending_at_max_file_size_and_crossing_it(lim, tmp_path):
    with opened(lim / "tmp" / "w", os.O_RDWR | os.O_CREAT) as fd:
        assert os.pwrite(fd, b"e" * 10, MiB - 10) == 10        # ends exactly at the limit
        assert os.fstat(fd).st_size == MiB
        assert os.pwrite(fd, b"c" * 20, MiB - 15) == 15        # crosses it: cut short
        assert errno_of(os.pwrite, fd, b"x", MiB) == errno.EFBIG  # at it: EFBIG
        assert os.pread(fd, 100, MiB - 20) == bytes(5) + b"c" * 15
        # whole pages: the kernel sends the crossing write as one request, which iofs cuts
        block = pattern(18, 0, 8192)
        assert os.pwrite(fd, block, MiB - 4096) == 4096
        assert os.pread(fd, 8192, MiB - 4096) == block[:4096]
        assert os.fstat(fd).st_size == MiB
    # dd writing past the limit: its 48K block across the limit is cut short there, and the
    # rest of the block gets EFBIG: "File too large", with everything up to the limit written
    src = tmp_path / "src"
    data = pattern(14, 0, MiB + 96 * KiB)
    src.write_bytes(data)
    out = lim / "tmp" / "dd"
    res = run_program("dd", f"if={src}", f"of={out}", "bs=48K")
    assert res.returncode == 1 and b"File too large" in res.stderr
    assert os.stat(out).st_size == MiB
    assert out.read_bytes() == data[:MiB]


def test_writes_at_or_past_max_file_size_are_efbig_and_one_crossing_it_is_cut(tmp_path):
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
