"""What goes wrong with a host directory: a source iofs cannot serve is one line, exit 2,
nothing mounted; an error of the backing filesystem reaches the program as itself (EIO and
EACCES from a lower iofs mount the source lies in, and its fsync errors, ENOSPC from a full
tmpfs, EROFS from a
read-only one, EPERM from an immutable file)."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from iofs.system.mounts import mount_type
from tests.support.backing import tmpfs
from tests.support.cli import add_fault, one_line_error, run_iofs
from tests.support.data import MiB
from tests.support.mounting import mounted
from tests.support.processes import run_program


def _refused(mp, *args: str) -> str:
    res = run_iofs("mount", str(mp), *args)
    assert res.returncode == 2, res
    assert mount_type(str(mp)) is None, "something was mounted"
    return one_line_error(res)


def test_bad_sources_are_one_line_and_nothing_mounted(tmp_path, host):
    mp = tmp_path / "mnt"
    (mp / "inner").mkdir(parents=True)
    assert "--source /nonexistent: No such file or directory" in _refused(
        mp, "--source", "/nonexistent")
    assert "not a directory" in _refused(mp, "--source", str(host / "hello.txt"))
    assert "is inside the mount point" in _refused(mp, "--source", str(mp / "inner"))
    assert "holds the mount point" in _refused(mp, "--source", str(tmp_path))
    cfg = tmp_path / "tree.toml"
    cfg.write_text('[[dir]]\npath = "data"\nsource = "/nonexistent"\n')
    assert "[[dir]] #1: source /nonexistent: No such file or directory" in _refused(
        mp, "--config", str(cfg))
    cfg.write_text('[[device]]\npath = "zero"\ndriver = "zero"\n')
    assert "with --source the whole mount is the host directory" in _refused(
        mp, "--config", str(cfg), "--source", str(host))


def test_an_unreadable_source_is_one_line(tmp_path, serve):
    """The source lies in a lower iofs mount that refuses to open it (EACCES)."""
    with mounted(tmp_path / "lower") as lower:
        (lower / "tmp" / "closed").mkdir()
        add_fault(lower, "path=tmp/closed op=opendir action=eacces")
        mp = tmp_path / "mnt"
        mp.mkdir()
        assert "closed: Permission denied" in _refused(
            mp, "--source", str(lower / "tmp" / "closed"))


def test_a_source_that_is_an_iofs_mount_stacks_and_its_errors_reach_the_program(tmp_path, serve):
    """Allowed: the lower mount has a daemon of its own. Its faults are the upper mount's
    backing errors, and reach the program as they are."""
    with mounted(tmp_path / "lower") as lower:
        (lower / "tmp" / "f").write_bytes(b"lower data")
        (lower / "tmp" / "g").write_bytes(b"g")
        upper = serve(lower / "tmp")
        (upper / "through").write_bytes(b"written through both")
        assert (lower / "tmp" / "through").read_bytes() == b"written through both"
        add_fault(lower, "path=tmp/f op=read action=eio")
        add_fault(lower, "path=tmp/g op=open action=eacces")
        with pytest.raises(OSError) as ei:
            (upper / "f").read_bytes()
        assert ei.value.errno == errno.EIO
        with pytest.raises(OSError) as ei:
            open(upper / "g", "rb")
        assert ei.value.errno == errno.EACCES
        res = run_program("cat", str(upper / "f"))
        assert res.returncode == 1 and b"Input/output error" in res.stderr


def test_fsync_reaches_the_backing_file_and_its_errno_the_program(tmp_path, serve):
    """fsync and fdatasync of a file of the upper mount are the host file's own: the lower
    mount, where the host file lies, sees them, and its error (ENOSPC here, not just EIO)
    reaches the program as it is; without a rule, fsync is 0."""
    with mounted(tmp_path / "lower") as lower:
        upper = serve(lower / "tmp")
        fd = os.open(upper / "f", os.O_CREAT | os.O_WRONLY, 0o644)
        try:
            os.write(fd, b"data")
            os.fsync(fd)
            add_fault(lower, "path=tmp/f op=fsync action=enospc")
            for sync in (os.fsync, os.fdatasync):
                with pytest.raises(OSError) as ei:
                    sync(fd)
                assert ei.value.errno == errno.ENOSPC, sync
        finally:
            os.close(fd)
        assert (lower / "tmp" / "f").read_bytes() == b"data"


def test_a_full_backing_filesystem_is_enospc(tmp_path, serve):
    with tmpfs(tmp_path / "small", size="1M") as small:
        m = serve(small)
        res = run_program("dd", "if=/dev/zero", f"of={m / 'big'}", "bs=64k", "count=32")
        assert res.returncode == 1 and b"No space left on device" in res.stderr
        assert 0 < (small / "big").stat().st_size <= MiB
        fd = os.open(m / "big", os.O_WRONLY | os.O_APPEND)
        try:
            with pytest.raises(OSError) as ei:
                os.write(fd, b"x" * 65536)
            assert ei.value.errno == errno.ENOSPC
        finally:
            os.close(fd)
        os.unlink(m / "big")  # and the space comes back


def test_a_read_only_backing_filesystem_is_erofs(tmp_path, serve):
    with tmpfs(tmp_path / "ro", size="1M") as ro:
        (ro / "f").write_bytes(b"frozen")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        m = serve(ro)
        assert (m / "f").read_bytes() == b"frozen"
        for fn, args in ((open, (m / "f", "r+b")), (open, (m / "new", "wb")),
                         (os.mkdir, (m / "d",)), (os.unlink, (m / "f",))):
            with pytest.raises(OSError) as ei:
                fn(*args)
            assert ei.value.errno == errno.EROFS, fn


def test_an_immutable_backing_file_is_eperm(serve, host):
    (host / "locked").write_bytes(b"locked")
    if subprocess.run(["chattr", "+i", str(host / "locked")], capture_output=True).returncode:
        pytest.skip("chattr +i is not supported here")
    try:
        m = serve(host)
        assert (m / "locked").read_bytes() == b"locked"
        with pytest.raises(OSError) as ei:
            open(m / "locked", "r+b")
        assert ei.value.errno == errno.EPERM
    finally:
        subprocess.run(["chattr", "-i", str(host / "locked")], capture_output=True)


def test_an_append_only_backing_file_is_eperm_at_the_open(serve, host):
    """iofs opens a host file for reading and writing whatever the program asked (one
    descriptor serves every request), so a file the host keeps append-only (chattr +a) cannot
    be written through it, as docs/config.md says; it can still be read."""
    (host / "log").write_bytes(b"line 1\n")
    res = subprocess.run(["chattr", "+a", str(host / "log")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr  # tmpfs and ext4 both keep the flag
    try:
        m = serve(host)
        assert (m / "log").read_bytes() == b"line 1\n"
        with pytest.raises(OSError) as ei:
            os.open(m / "log", os.O_WRONLY | os.O_APPEND)
        assert ei.value.errno == errno.EPERM
    finally:
        subprocess.run(["chattr", "-a", str(host / "log")], capture_output=True)
