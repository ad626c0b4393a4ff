"""A mount with writeback_cache = true: the kernel gathers small writes in its page cache;
what reaches the daemon is byte-exact, appends land at the end, and ENOSPC shows at fsync or
close.
"""

from __future__ import annotations

import errno
import os

import pytest

from tests.support.data import first_difference, pattern
from tests.support.mounting import mounted
from tests.support.processes import run_program, wait_for
from tests.support.syscalls import errno_of, opened

WB_CONFIG = ('[options]\nmax_memory = "1M"\nwriteback_cache = true\n'
             '[[dir]]\npath = "tmp"\nmode = "1777"\n')


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("writeback"), WB_CONFIG) as m:
        yield m


def _resident(path) -> int:
    """Bytes of the file in the page cache (util-linux fincore)."""
    res = run_program("fincore", "--bytes", "--noheadings", "--output", "RES", str(path))
    assert res.returncode == 0, res.stderr
    return int(res.stdout.split()[0])


def _from_daemon(path) -> bytes:
    """The file's bytes as the daemon holds them: drop its clean pages, then read afresh."""
    with opened(path, os.O_RDONLY) as fd:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        assert _resident(path) == 0
        with opened(path, os.O_RDONLY) as fresh:
            got = b""
            while chunk := os.read(fresh, 65536):
                got += chunk
        return got


def test_writeback_small_writes_read_back_byte_exact(wb):
    p = wb / "tmp" / "small"
    data = pattern(16, 0, 37 * 1000 + 11)
    with opened(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC) as fd:
        for k in range(0, len(data), 37):
            assert os.write(fd, data[k:k + 37]) == len(data[k:k + 37])
        # overwrite in the middle, across a page boundary
        assert os.pwrite(fd, b"over", 4094) == 4
    want = data[:4094] + b"over" + data[4098:]
    got = _from_daemon(p)
    assert got == want, first_difference(got, want)
    assert os.stat(p).st_size == len(data)
    assert run_program("cat", str(p)).stdout == want
    os.unlink(p)


def test_writeback_append(wb):
    p = wb / "tmp" / "app"
    with opened(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND) as fd:
        assert os.write(fd, b"A" * 100) == 100
        os.fsync(fd)                                   # page 0 goes back with 100 bytes
        assert os.write(fd, b"B" * 100) == 100
        os.fsync(fd)                                   # and again with 200
        with opened(p, os.O_WRONLY | os.O_APPEND) as fd2:
            assert os.write(fd2, b"C" * 50) == 50
        assert os.write(fd, b"D" * 10) == 10
    res = run_program("sh", "-c", f"printf one >> {p}; printf two >> {p}")
    assert res.returncode == 0, res.stderr
    want = b"A" * 100 + b"B" * 100 + b"C" * 50 + b"D" * 10 + b"onetwo"
    assert _from_daemon(p) == want
    assert os.stat(p).st_size == len(want)
    os.unlink(p)


@pytest.mark.parametrize("at", ["fsync", "close"])
def test_writeback_enospc_shows_at_fsync_or_close(wb, at):
    p = wb / "tmp" / f"big-{at}"
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for k in range(384):                           # 1.5 MiB, past max_memory: all succeed
            assert os.write(fd, bytes([k % 251]) * 4096) == 4096
        if at == "fsync":
            assert errno_of(os.fsync, fd) == errno.ENOSPC
    finally:
        if at == "close":
            assert errno_of(os.close, fd) == errno.ENOSPC
        else:
            os.close(fd)
    assert os.statvfs(wb.path).f_bfree == 0            # the daemon holds max_memory
    os.unlink(p)
    # and gives it all back, once the kernel forgets the unlinked inode
    assert wait_for(lambda: os.statvfs(wb.path).f_bfree == 256, 5)
