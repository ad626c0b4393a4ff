"""A host directory served through iofs (``iofs mount MNT --source DIR``, ``[[dir]] source``):
what real programs see through the mount, and what they leave in the directory."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import subprocess
import time

import pytest

from iofs.vfs.fuse import ATTR_TIMEOUT
from tests.support.data import MiB
from tests.support.mounting import DEFAULT_NAMES, mounted
from tests.support.processes import run_program, wait_for
from tests.support.users import OTHER_UID


def test_the_mount_is_the_host_directory_and_its_control_directory(serve, host):
    (host / ".iofs").mkdir()  # a host entry named like the control directory is hidden
    (host / ".iofs" / "mine").write_bytes(b"")
    m = serve(host)
    assert sorted(os.listdir(m.path)) == [".iofs", "hello.txt", "sub"]
    assert "faults" in os.listdir(m / ".iofs") and "mine" not in os.listdir(m / ".iofs")
    assert (m / "hello.txt").read_bytes() == b"hello from the host\n"
    assert (m / "sub" / "data.bin").read_bytes() == bytes(range(256)) * 64
    assert os.listdir(host / ".iofs") == ["mine"]  # never written into
    assert sorted(os.listdir(host)) == [".iofs", "hello.txt", "sub"]


def test_cp_dd_and_sqlite3_leave_the_same_bytes_in_the_host(serve, host, tmp_path):
    m = serve(host)
    src = tmp_path / "random.bin"
    src.write_bytes(os.urandom(5 * MiB + 123))
    assert run_program("cp", str(src), str(m / "copy.bin")).returncode == 0
    assert (host / "copy.bin").read_bytes() == src.read_bytes()
    res = run_program("dd", f"if={src}", f"of={m / 'copy.bin'}", "bs=4k", "skip=3", "seek=7",
                      "count=5", "conv=notrunc", "status=none")
    assert res.returncode == 0, res.stderr
    want = bytearray(src.read_bytes())
    want[7 * 4096:12 * 4096] = src.read_bytes()[3 * 4096:8 * 4096]
    assert (host / "copy.bin").read_bytes() == want
    script = "CREATE TABLE t(n INTEGER, s TEXT);" + "".join(
        f"INSERT INTO t VALUES ({k}, '{'x' * k}');" for k in range(300))
    res = run_program("sqlite3", str(m / "db.sqlite"), script)
    assert res.returncode == 0, res.stderr
    assert (host / "db.sqlite").read_bytes() == (m / "db.sqlite").read_bytes()
    db = sqlite3.connect(host / "db.sqlite")  # the host's file, opened directly
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*), sum(length(s)) FROM t").fetchone() == (300, 44850)
    finally:
        db.close()


def test_a_file_made_in_the_host_directory_is_read_through_the_mount(serve, host):
    m = serve(host)
    assert not (m / "late.txt").exists()
    (host / "late.txt").write_bytes(b"written behind iofs's back")
    assert (m / "late.txt").read_bytes() == b"written behind iofs's back"
    (host / "sub" / "deeper").mkdir()
    (host / "sub" / "deeper" / "f").write_bytes(b"f")
    assert os.listdir(m / "sub" / "deeper") == ["f"]


def test_a_change_behind_iofs_back_is_seen_within_the_attribute_timeout(serve, host):
    """The kernel keeps attributes and names for ATTR_TIMEOUT (1 s) and a file's pages until
    its attributes say it changed (FUSE's auto_inval_data): a file rewritten, a file removed
    and a file renamed in the host directory are seen through the mount within the timeout."""
    m = serve(host)
    f = m / "hello.txt"
    with open(f, "rb") as held:
        assert held.read() == b"hello from the host\n"  # cached by the kernel now
        (m / "sub" / "data.bin").stat()
        t0 = time.monotonic()
        (host / "hello.txt").write_bytes(b"HELLO FROM THE HOST\n")  # same size, new bytes
        os.rename(host / "sub" / "data.bin", host / "sub" / "moved.bin")
        assert wait_for(lambda: os.pread(held.fileno(), 100, 0) == b"HELLO FROM THE HOST\n",
                        ATTR_TIMEOUT + 3)
        assert wait_for(lambda: not (m / "sub" / "data.bin").exists(), ATTR_TIMEOUT + 3)
        took = time.monotonic() - t0
    assert (m / "sub" / "moved.bin").stat().st_size == 256 * 64
    assert took < ATTR_TIMEOUT + 2.5, took


def test_inode_numbers_are_stable_and_hard_links_are_one_inode(serve, host):
    os.link(host / "hello.txt", host / "sub" / "link")
    m = serve(host)
    a, b = os.stat(m / "hello.txt"), os.stat(m / "sub" / "link")
    assert a.st_ino == b.st_ino and a.st_nlink == b.st_nlink == 2
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")  # the kernel forgets the inodes; the daemon lets their nodes go
    assert os.stat(m / "hello.txt").st_ino == a.st_ino
    os.link(m / "hello.txt", m / "third")
    assert os.stat(m / "third").st_ino == a.st_ino and os.stat(host / "third").st_nlink == 3
    assert os.stat(m / "sub").st_ino not in (a.st_ino, os.stat(m.path).st_ino)


def _as_other_user(*argv: str) -> subprocess.CompletedProcess:
    def become() -> None:
        os.setgroups([])
        os.setgid(OTHER_UID)
        os.setuid(OTHER_UID)
        os.umask(0o022)

    return subprocess.run(argv, capture_output=True, text=True, timeout=60, preexec_fn=become)


def test_what_another_user_makes_is_theirs_in_the_host(serve, host, public_dir):
    os.chmod(host, 0o1777)
    m = serve(host, "--allow-other", mountpoint=public_dir / "mnt")
    script = (f"import os; os.chdir({str(m.path)!r}); open('f', 'w').write('x'); "
              "os.mkdir('d', 0o777); os.symlink('f', 's'); os.mkfifo('p', 0o666)")
    res = _as_other_user("python3", "-c", script)
    assert res.returncode == 0, res.stderr
    for name, mode in (("f", 0o644), ("d", 0o755), ("p", 0o644)):
        st = os.lstat(host / name)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (OTHER_UID, OTHER_UID, mode)
    assert os.lstat(host / "s").st_uid == OTHER_UID
    os.chmod(host / "hello.txt", 0o600)  # the kernel checks the host's mode for the caller
    res = _as_other_user("cat", str(m / "hello.txt"))
    assert res.returncode != 0 and "Permission denied" in res.stderr


def test_statfs_is_the_host_filesystems(serve, host):
    m = serve(host)
    mine, theirs = os.statvfs(m.path), os.statvfs(host)
    assert (mine.f_blocks, mine.f_frsize, mine.f_files) == (theirs.f_blocks, theirs.f_frsize,
                                                           theirs.f_files)
    assert abs(mine.f_bfree - theirs.f_bfree) < theirs.f_blocks // 100


def test_a_host_directory_grafted_into_a_tree(tmp_path, host):
    cfg = f'[[device]]\npath = "zero"\ndriver = "zero"\n[[dir]]\npath = "srv/data"\nsource = "{host}"\n'
    with mounted(tmp_path / "m", cfg) as m:
        assert sorted(os.listdir(m.path)) == [".iofs", "srv", "zero"]
        assert sorted(os.listdir(m / "srv" / "data")) == ["hello.txt", "sub"]
        (m / "srv" / "data" / "new").write_bytes(b"n")
        assert (host / "new").read_bytes() == b"n"
        (m / "srv" / "mem").write_bytes(b"in memory")
        assert not (host / "mem").exists()
        for fn, args, code in ((os.rmdir, (m / "srv" / "data",), errno.EBUSY),
                               (os.rename, (m / "srv" / "data", m / "elsewhere"), errno.EBUSY),
                               (os.rename, (m / "srv" / "mem", m / "srv" / "data" / "mem"),
                                errno.EXDEV),
                               (os.link, (m / "srv" / "data" / "new", m / "srv" / "n2"),
                                errno.EXDEV)):
            with pytest.raises(OSError) as ei:
                fn(*args)
            assert ei.value.errno == code, fn
        # mv copies across, as across filesystems
        assert run_program("mv", str(m / "srv" / "mem"), str(m / "srv" / "data")).returncode == 0
        assert (host / "mem").read_bytes() == b"in memory"


def test_reset_opens_the_host_directory_again(serve, host):
    m = serve(host)
    ino = os.stat(m / "hello.txt").st_ino
    (m / "made").write_bytes(b"made through the mount")
    with open(m / ".iofs" / "reset", "w") as f:
        f.write("reset")
    (host / "restored").write_bytes(b"put back by a sweep")
    assert sorted(os.listdir(m.path)) == [".iofs", "hello.txt", "made", "restored", "sub"]
    assert os.stat(m / "hello.txt").st_ino != ino  # a new node, a new number
    assert (m / "restored").read_bytes() == b"put back by a sweep"


def test_only_the_control_directory_and_the_host_files_are_there(serve, host):
    m = serve(host)
    assert not (set(os.listdir(m.path)) & (DEFAULT_NAMES - {".iofs"}))
