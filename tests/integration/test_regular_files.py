"""Regular files, directories and links in a real mount: POSIX behaviour, statfs and the memory cap."""

from __future__ import annotations

import errno
import os
import stat
import time

import pytest

from _helpers_b import DEFAULT_NAMES, mounted, renameat2, wait_for

MiB = 1 << 20
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("regular")) as m:
        yield m


@pytest.fixture
def d(shared, request):
    """A fresh directory of its own under /tmp of the shared mount, emptied afterwards.

    Teardown waits (up to 5 s) until the mount's free blocks and inodes are back where they
    were: the kernel's FORGETs for what was removed trail the unlinks, and a test that counts
    free space must not see the previous test's files freed under it.
    """
    def free_counts() -> tuple[int, int]:
        s = os.statvfs(shared.path)
        return s.f_bfree, s.f_ffree

    before = free_counts()
    path = shared / "tmp" / request.node.name.replace("[", "_").replace("]", "")
    os.mkdir(path)
    old = os.umask(0o022)
    try:
        yield path
    finally:
        os.umask(old)
        _rmtree(path)
        assert wait_for(lambda: free_counts() == before, 5), \
            f"free blocks and inodes {free_counts()} did not come back to {before}"


def _rmtree(path) -> None:
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            _rmtree(entry.path)
        else:
            os.unlink(entry.path)
    os.rmdir(path)


def _free(m) -> int:
    s = os.statvfs(m.path)
    return s.f_bfree * s.f_bsize


def _write(path, data: bytes, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> None:
    fd = os.open(path, flags, 0o644)
    try:
        assert os.write(fd, data) == len(data)
    finally:
        os.close(fd)


def _read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# ---- create, write, read -----------------------------------------------------------------------

def test_create_mode_and_excl(d):
    p = d / "new"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.close(fd)
    st = os.stat(p)
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_size == 0
    assert st.st_nlink == 1
    assert st.st_uid == os.geteuid()
    with pytest.raises(FileExistsError):
        os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.close(os.open(d / "masked", os.O_WRONLY | os.O_CREAT, 0o777))
    assert stat.S_IMODE(os.stat(d / "masked").st_mode) == 0o755  # umask 022


def test_write_read_roundtrip(d):
    data = os.urandom(3 * MiB + 123)
    _write(d / "f", data)
    assert os.stat(d / "f").st_size == len(data)
    assert _read(d / "f") == data
    fd = os.open(d / "f", os.O_RDONLY)
    try:
        assert os.pread(fd, 10, MiB - 5) == data[MiB - 5:MiB + 5]  # across a chunk boundary
        assert os.pread(fd, 100, len(data) - 3) == data[-3:]
        assert os.pread(fd, 100, len(data)) == b""
        assert os.pread(fd, 100, len(data) + 4096) == b""
    finally:
        os.close(fd)


def test_overwrite_in_the_middle(d):
    _write(d / "f", b"a" * 10000)
    fd = os.open(d / "f", os.O_RDWR)
    try:
        assert os.pwrite(fd, b"XYZ", 5000) == 3
        assert os.fstat(fd).st_size == 10000
    finally:
        os.close(fd)
    assert _read(d / "f") == b"a" * 5000 + b"XYZ" + b"a" * 4997


def test_open_missing_is_enoent(d):
    with pytest.raises(FileNotFoundError):
        os.open(d / "nope", os.O_RDONLY)
    with pytest.raises(FileNotFoundError):
        os.stat(d / "nope")


# ---- truncate ----------------------------------------------------------------------------------

def test_truncate_grow_and_shrink(d):
    p = d / "t"
    _write(p, b"A" * 100)
    os.truncate(p, 10)
    assert os.stat(p).st_size == 10
    assert _read(p) == b"A" * 10
    os.truncate(p, 5000)  # the bytes cut off must not come back
    assert os.stat(p).st_size == 5000
    assert _read(p) == b"A" * 10 + bytes(4990)
    fd = os.open(p, os.O_RDWR)
    try:
        os.ftruncate(fd, 3 * MiB)
        assert os.fstat(fd).st_size == 3 * MiB
        assert os.pread(fd, 16, 3 * MiB - 16) == bytes(16)
        os.ftruncate(fd, 0)
        assert os.fstat(fd).st_size == 0
        assert os.pread(fd, 16, 0) == b""
    finally:
        os.close(fd)


def test_o_trunc(d):
    p = d / "t"
    _write(p, b"old content")
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    try:
        assert os.fstat(fd).st_size == 0
        os.write(fd, b"new")
    finally:
        os.close(fd)
    assert _read(p) == b"new"


def test_o_append(d):
    p = d / "a"
    _write(p, b"abc")
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    fd2 = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        assert os.write(fd, b"def") == 3
        assert os.write(fd2, b"ghi") == 3  # its own offset is stale: append still goes to the end
        assert os.write(fd, b"jk") == 2
    finally:
        os.close(fd)
        os.close(fd2)
    assert _read(p) == b"abcdefghijk"


# ---- times, sizes, attributes ------------------------------------------------------------------

def test_size_and_mtime_update_on_write(d):
    p = d / "m"
    _write(p, b"x")
    os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    st0 = os.stat(p)
    assert st0.st_mtime_ns == 1_000_000_000
    fd = os.open(p, os.O_WRONLY)
    try:
        os.pwrite(fd, b"yyyy", 1)
    finally:
        os.close(fd)
    st1 = os.stat(p)
    assert st1.st_size == 5
    assert st1.st_mtime_ns > time.time_ns() - 60 * 10**9
    assert st1.st_ctime_ns >= st1.st_mtime_ns - 10**9


def test_size_seen_through_other_fd(d):
    p = d / "s"
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    fd2 = os.open(p, os.O_RDONLY)
    try:
        os.write(fd, b"z" * 7000)
        assert os.fstat(fd2).st_size == 7000
        assert os.stat(p).st_size == 7000
        assert os.read(fd2, 10000) == b"z" * 7000
    finally:
        os.close(fd)
        os.close(fd2)


def test_chmod_chown_utime(d):
    p = d / "c"
    _write(p, b"")
    os.chmod(p, 0o4711)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o4711
    os.chmod(p, 0o600)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    os.chown(p, 1234, 5678)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    os.chown(p, -1, 42)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 42)
    os.utime(p, ns=(1_234_567_891_000_000_001, 1_111_111_111_222_222_222))
    st = os.stat(p)
    assert st.st_atime_ns == 1_234_567_891_000_000_001
    assert st.st_mtime_ns == 1_111_111_111_222_222_222
    os.chmod(d, 0o700)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


# ---- rename ------------------------------------------------------------------------------------

def test_rename_simple_and_across_dirs(d):
    _write(d / "a", b"A")
    os.mkdir(d / "sub")
    os.rename(d / "a", d / "b")
    assert sorted(os.listdir(d)) == ["b", "sub"]
    assert _read(d / "b") == b"A"
    os.rename(d / "b", d / "sub" / "c")
    assert os.listdir(d / "sub") == ["c"]
    assert _read(d / "sub" / "c") == b"A"


def test_rename_over_existing_file(d):
    _write(d / "src", b"source")
    _write(d / "dst", b"destination")
    keep = os.open(d / "dst", os.O_RDONLY)  # the replaced file stays readable through its fd
    try:
        os.rename(d / "src", d / "dst")
        assert os.listdir(d) == ["dst"]
        assert _read(d / "dst") == b"source"
        assert os.read(keep, 100) == b"destination"
    finally:
        os.close(keep)


def test_rename_errors(d):
    _write(d / "f", b"f")
    os.mkdir(d / "dir")
    os.mkdir(d / "full")
    _write(d / "full" / "x", b"x")
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
    _write(d / "a", b"A")
    _write(d / "b", b"B")
    assert renameat2(str(d / "a"), str(d / "b"), RENAME_NOREPLACE) == errno.EEXIST
    assert _read(d / "b") == b"B"
    assert renameat2(str(d / "a"), str(d / "b"), RENAME_EXCHANGE) == 0
    assert _read(d / "a") == b"B"
    assert _read(d / "b") == b"A"
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


# ---- unlink, directories -----------------------------------------------------------------------

def test_unlink_open_file_still_readable(shared, d):
    data = os.urandom(2 * MiB)
    _write(d / "u", data)
    fd = os.open(d / "u", os.O_RDWR)
    try:
        free_before_unlink = _free(shared)
        os.unlink(d / "u")
        assert os.listdir(d) == []
        with pytest.raises(FileNotFoundError):
            os.stat(d / "u")
        assert os.fstat(fd).st_nlink == 0
        assert os.pread(fd, len(data) + 10, 0) == data
        assert os.pwrite(fd, b"still writable", 0) == 14
        assert os.pread(fd, 14, 0) == b"still writable"
        assert _free(shared) == free_before_unlink  # the memory is held by the open file
    finally:
        os.close(fd)
    # the last close frees it: close(2) returns before the kernel's RELEASE and FORGET reach
    # the daemon, so the memory comes back a moment later, never sooner than that
    assert wait_for(lambda: _free(shared) >= free_before_unlink + 2 * MiB, 5)


def test_unlink_errors(d):
    os.mkdir(d / "dir")
    with pytest.raises(IsADirectoryError):
        os.unlink(d / "dir")
    with pytest.raises(FileNotFoundError):
        os.unlink(d / "missing")


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
    _write(d / "sub" / "f", b"f")
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
    _write(d / "f", b"")
    with pytest.raises(NotADirectoryError):
        os.mkdir(d / "f" / "x")


# ---- links -------------------------------------------------------------------------------------

def test_hard_links(d):
    _write(d / "orig", b"shared")
    os.link(d / "orig", d / "alias")
    a, b = os.stat(d / "orig"), os.stat(d / "alias")
    assert a.st_ino == b.st_ino
    assert a.st_nlink == b.st_nlink == 2
    fd = os.open(d / "alias", os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b" bytes")
    finally:
        os.close(fd)
    assert _read(d / "orig") == b"shared bytes"
    os.unlink(d / "orig")
    assert os.stat(d / "alias").st_nlink == 1
    assert _read(d / "alias") == b"shared bytes"
    with pytest.raises(FileExistsError):
        os.link(d / "alias", d / "alias")
    os.mkdir(d / "dir")
    with pytest.raises(PermissionError):
        os.link(d / "dir", d / "dirlink")


def test_symlinks(d):
    _write(d / "target", b"via symlink")
    os.symlink("target", d / "rel")
    os.symlink(str(d / "target"), d / "abs")
    os.symlink("nowhere", d / "dangling")
    assert os.readlink(d / "rel") == "target"
    assert os.readlink(d / "abs") == str(d / "target")
    st = os.lstat(d / "rel")
    assert stat.S_ISLNK(st.st_mode)
    assert st.st_size == len("target")
    assert _read(d / "rel") == b"via symlink"
    assert _read(d / "abs") == b"via symlink"
    with pytest.raises(FileNotFoundError):
        _read(d / "dangling")
    with pytest.raises(OSError) as ei:
        os.readlink(d / "target")
    assert ei.value.errno == errno.EINVAL
    os.unlink(d / "rel")
    assert _read(d / "target") == b"via symlink"


# ---- holes, statfs -----------------------------------------------------------------------------

def test_holes_read_as_zeros(shared, d):
    free0 = _free(shared)
    fd = os.open(d / "sparse", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        assert os.pwrite(fd, b"end", 10 * MiB) == 3
        st = os.fstat(fd)
        assert st.st_size == 10 * MiB + 3
        assert st.st_blocks * 512 < MiB  # the hole costs nothing
        assert free0 - _free(shared) < MiB
        data = os.pread(fd, 10 * MiB + 100, 0)
        assert len(data) == 10 * MiB + 3
        assert data[-3:] == b"end"
        assert data[:-3].count(0) == 10 * MiB
        assert os.pread(fd, 5, 5 * MiB + 7) == bytes(5)
    finally:
        os.close(fd)


def test_statfs_values(shared, d):
    s = os.statvfs(shared.path)
    assert s.f_bsize == 4096
    assert s.f_frsize == 4096
    assert s.f_namemax == 255
    assert s.f_blocks == (1 << 30) // 4096  # max_memory of the default tree
    assert s.f_bavail == s.f_bfree <= s.f_blocks
    assert 0 < s.f_ffree <= s.f_files
    _write(d / "big", b"b" * (4 * MiB))
    s2 = os.statvfs(shared.path)
    assert s.f_bfree - s2.f_bfree == 4 * MiB // 4096
    assert s.f_ffree - s2.f_ffree == 1
    os.unlink(d / "big")
    # the memory comes back when the kernel forgets the inode (its FORGET may trail the unlink)
    assert wait_for(lambda: os.statvfs(shared.path).f_bfree == s.f_bfree, 5)


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
                _write(t / f"f{made}", b"x")
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
        _write(t / "f0", b"still writable")  # an existing name opens as before
        os.unlink(t / "f1")
        assert wait_for(lambda: os.statvfs(m.path).f_ffree == 1, 5)
        os.link(t / "f0", t / "f0-link")  # the freed inode's room, taken by a link
        assert os.statvfs(m.path).f_ffree == 0
        with pytest.raises(OSError) as ei:
            _write(t / "again", b"y")
        assert ei.value.errno == errno.ENOSPC
        os.rename(t / "f2", t / "f0-link")  # over a second name: its count comes back
        assert os.statvfs(m.path).f_ffree == 1
        _write(t / "again", b"y")
        assert _read(t / "f0") == b"still writable"


# ---- names and listings ------------------------------------------------------------------------

def test_name_too_long(d):
    long = "n" * 256
    ok = "n" * 255
    for call in (lambda p: os.open(p, os.O_CREAT | os.O_WRONLY, 0o644), os.mkdir, os.stat,
                 lambda p: os.symlink("t", p)):
        with pytest.raises(OSError) as ei:
            call(d / long)
        assert ei.value.errno == errno.ENAMETOOLONG
    _write(d / "short", b"")
    with pytest.raises(OSError) as ei:
        os.rename(d / "short", d / long)
    assert ei.value.errno == errno.ENAMETOOLONG
    _write(d / ok, b"255")
    assert _read(d / ok) == b"255"
    assert sorted(os.listdir(d)) == sorted([ok, "short"])


def test_readdir_root(shared):
    assert set(os.listdir(shared.path)) == DEFAULT_NAMES
    kinds = {e.name: e.is_dir() for e in os.scandir(shared.path)}
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


# ---- the memory cap ----------------------------------------------------------------------------

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
        _write(a, b"a" * (3 * MiB))
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
            _write(m / "tmp" / "c", b"c")
        assert ei.value.errno == errno.ENOSPC
        # the daemon keeps serving, and freeing memory makes room again
        assert (m / "zero").open("rb").read(100) == bytes(100)
        assert _read(a) == b"a" * (3 * MiB)
        assert _read(b) == b"b" * MiB
        os.unlink(a)  # its memory is back once the kernel forgets it
        assert wait_for(lambda: os.statvfs(m.path).f_bfree * 4096 == 3 * MiB, 5)
        _write(m / "tmp" / "again", b"g" * (2 * MiB))
        assert _read(m / "tmp" / "again") == b"g" * (2 * MiB)
        os.truncate(b, 0)
        assert os.statvfs(m.path).f_bfree * 4096 == 2 * MiB
        assert "Traceback" not in m.log_text()
