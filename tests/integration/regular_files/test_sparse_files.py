"""Sparse files as tmpfs keeps them: holes read as zeros and hold no memory, a file may be
as large as off_t allows, st_blocks counts the pages that hold data (so tar --sparse archives
it right), and SEEK_DATA/SEEK_HOLE are the kernel's fallback.
"""

from __future__ import annotations

import errno
import os

from tests.support.backing import statfs_of
from tests.support.data import MiB, pattern
from tests.support.processes import run_program
from tests.support.syscalls import errno_of, opened


def _free(m) -> int:
    s = statfs_of(m)
    return s.f_bfree * s.f_bsize


# ---- holes ----------------------------------------------------------------------------------------

def test_holes_read_as_zeros(m, d):
    free0 = _free(m)
    fd = os.open(d / "sparse", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert os.pwrite(fd, b"end", 10 * MiB) == 3
        st = os.fstat(fd)
        assert st.st_size == 10 * MiB + 3
        assert st.st_blocks * 512 < MiB  # the hole costs nothing
        assert free0 - _free(m) < MiB
        data = os.pread(fd, 10 * MiB + 100, 0)
        assert len(data) == 10 * MiB + 3
        assert data[-3:] == b"end"
        assert data[:-3].count(0) == 10 * MiB
        assert os.pread(fd, 5, 5 * MiB + 7) == bytes(5)
    finally:
        os.close(fd)


# ---- huge offsets ---------------------------------------------------------------------------------


def test_huge_offset_regular_file_is_sparse(m):
    """Like tmpfs: a regular file may be as large as off_t allows, and holes cost nothing."""
    p = m / "tmp" / "huge"
    before = statfs_of(m).f_bfree
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert os.pwrite(fd, b"far", 2**62) == 3
        assert os.fstat(fd).st_size == 2**62 + 3
        assert os.pread(fd, 8, 2**62 - 5) == b"\0\0\0\0\0far"
        assert os.pread(fd, 4, 12345) == b"\0" * 4  # a hole
        assert statfs_of(m).f_bfree >= before - 256  # one chunk, not 4 EiB
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)
    assert os.stat(p).st_size == 0
    assert statfs_of(m).f_bfree == before  # truncation gave the memory back


def test_st_blocks_of_sparse_regular_file(m):
    p = m / "tmp" / "sparse"
    data = pattern(15, 0, MiB)
    with opened(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC) as fd:
        assert os.pwrite(fd, data, 0) == MiB
        assert os.pwrite(fd, data, 100 * MiB) == MiB
        st = os.fstat(fd)
        assert (st.st_size, st.st_blocks) == (101 * MiB, 2 * MiB // 512)
        res = run_program("du", "-k", str(p))
        assert res.stdout.split()[0] == b"2048"
        os.ftruncate(fd, 50 * MiB)                            # the far chunk goes
        st = os.fstat(fd)
        assert (st.st_size, st.st_blocks) == (50 * MiB, MiB // 512)
        os.ftruncate(fd, 200 * MiB)                           # a hole holds nothing
        assert os.fstat(fd).st_blocks == MiB // 512
        assert os.pread(fd, 8, 199 * MiB) == bytes(8)
    os.unlink(p)


def test_st_blocks_count_partly_filled_blocks(m, tmp_path):
    """st_blocks counts whole pages as tmpfs does: a file of a few bytes once reported 0
    blocks (rounded down), and GNU tar --sparse archived it as one big hole, zeros."""
    p = m / "tmp" / "fewbytes"
    with opened(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC) as fd:
        assert os.pwrite(fd, b"hello", 10 * MiB) == 5
    try:
        archive = tmp_path / "a.tar"
        res = run_program("tar", "-S", "-cf", str(archive), "-C", str(p.parent), p.name)
        assert res.returncode == 0, res.stderr
        res = run_program("tar", "-xOf", str(archive))
        assert res.stdout[-5:] == b"hello"
        assert len(res.stdout) == 10 * MiB + 5
        for n in (3, 1000, 4097):
            with opened(p, os.O_RDWR | os.O_TRUNC) as fd:
                assert os.write(fd, b"d" * n) == n
                assert os.fstat(fd).st_blocks * 512 >= n, n
    finally:
        os.unlink(p)


# ---- SEEK_DATA and SEEK_HOLE ----------------------------------------------------------------------

def test_seek_data_and_seek_hole_are_the_kernels_fallback(m):
    """pyfuse3 has no lseek handler, so the kernel answers SEEK_DATA/SEEK_HOLE itself: the
    whole file is data, the only hole is at its end (as the README says)."""
    p = m / "tmp" / "sparse"
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"x", 1 << 20)  # a 1 MiB hole, then one byte
        size = (1 << 20) + 1
        assert os.lseek(fd, 0, os.SEEK_DATA) == 0
        assert os.lseek(fd, 0, os.SEEK_HOLE) == size
        assert os.lseek(fd, 4096, os.SEEK_DATA) == 4096
        assert errno_of(os.lseek, fd, size, os.SEEK_DATA) == errno.ENXIO
        assert os.fstat(fd).st_blocks * 512 <= 1 << 20  # yet the hole holds no memory
    finally:
        os.close(fd)
        os.unlink(p)
