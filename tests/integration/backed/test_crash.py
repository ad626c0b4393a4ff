"""Durability over a host directory: iofs writes through and keeps an undo record (the
durable content of what each write replaced); ``iofs crash`` writes the durable state back
into the host directory, which then holds exactly what a real machine would have on disk. A
clean unmount loses nothing; a SIGKILL of the daemon leaves the writes (not the durable
state) in the directory."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess

import pytest

from iofs.system.mounts import mount_type
from tests.support.databases import assert_commits_survive
from tests.support.backing import tmpfs
from tests.support.cli import run_iofs
from tests.support.mounting import mounted
from tests.support.processes import pid_gone, wait_for
from tests.support.sqlite_child import run_sqlite_child
from tests.support.syscalls import write_file

DURABLE = "[options]\ndurability = true\n"
BLOCK = 4096


def crash(m, *extra: str) -> list[str]:
    res = run_iofs("crash", str(m.path), *extra)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_a_crash_leaves_the_durable_state_in_the_host(serve, host):
    m = serve(host, config=DURABLE)
    rng = random.Random(7)
    base = rng.randbytes(10 * BLOCK + 77)
    write_file(m / "synced", base, sync=True)
    fd = os.open(m / "synced", os.O_RDWR)
    try:
        os.pwrite(fd, b"R" * 5000, 3000)  # a rewrite after the fsync
        os.pwrite(fd, b"A" * 9000, len(base))  # and an append
        os.ftruncate(fd, 2 * BLOCK)  # and a truncation
        os.pwrite(fd, b"H", 20 * BLOCK)  # and a write beyond, leaving a hole
    finally:
        os.close(fd)
    write_file(m / "never", b"never fsynced")
    before = (host / "hello.txt").read_bytes()
    write_file(m / "hello.txt", b"rewritten, not synced")
    changed = crash(m)
    assert sorted(changed) == ["hello.txt", "never", "synced"]
    assert (host / "synced").read_bytes() == base
    assert (host / "never").read_bytes() == b""  # the name stays (durable at once), no data
    assert (host / "hello.txt").read_bytes() == before  # as it was at the mount
    assert (m / "synced").read_bytes() == base  # and the mount shows it at once
    m.stop()
    assert (host / "synced").read_bytes() == base


def test_unsynced_and_a_torn_crash_over_the_host(serve, host):
    m = serve(host, config=DURABLE)
    write_file(m / "t", b"A" * (16 * BLOCK), sync=True)
    fd = os.open(m / "t", os.O_RDWR)
    try:
        os.pwrite(fd, b"B" * (16 * BLOCK), 0)
    finally:
        os.close(fd)
    res = run_iofs("unsynced", str(m.path))
    assert res.stdout.splitlines() == [f"{16 * BLOCK}\tt"]
    crash(m, "--torn", "--seed", "4")
    data = (host / "t").read_bytes()
    blocks = {data[k:k + BLOCK] for k in range(0, len(data), BLOCK)}
    assert len(data) == 16 * BLOCK and blocks == {b"A" * BLOCK, b"B" * BLOCK}


@pytest.mark.parametrize("mode", ["DELETE", "WAL"])
def test_sqlite_killed_and_crashed_keeps_every_commit_in_the_host(serve, host, tmp_path, mode):
    m = serve(host, config=DURABLE)
    seen = run_sqlite_child(m / "db.sqlite", tmp_path, mode, "FULL", random.uniform(0, 0.8))
    assert len(seen) > 3, "the child committed too little to tell"
    crash(m)
    m.stop()  # then the host's file, opened directly: what a machine would reboot with
    assert mount_type(str(m.path)) is None
    assert_commits_survive(host / "db.sqlite", seen)


def test_a_clean_unmount_loses_nothing(serve, host):
    m = serve(host, config=DURABLE)
    write_file(m / "unsynced", b"written, never fsynced")
    m.stop()
    assert (host / "unsynced").read_bytes() == b"written, never fsynced"


def test_a_sigkill_of_the_daemon_leaves_the_writes_in_the_host(serve, host):
    """Write-through: what was written is in the host directory already, fsynced or not; the
    undo record dies with the daemon, so the durable state is not restored."""
    m = serve(host, config=DURABLE)
    write_file(m / "synced", b"durable", sync=True)
    write_file(m / "synced", b" and more", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    write_file(m / "unsynced", b"never fsynced")
    pid = m.pid
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: pid_gone(pid), 10)
    m.stop()  # the dead mount taken away
    assert (host / "synced").read_bytes() == b"durable and more"
    assert (host / "unsynced").read_bytes() == b"never fsynced"


def test_a_file_table_is_durable_from_the_mount_on(tmp_path):
    cfg = DURABLE + '[[file]]\npath = "etc/config"\ncontent = "as mounted\\n"\n'
    with mounted(tmp_path / "m", cfg) as m:
        assert (m / "etc" / "config").read_bytes() == b"as mounted\n"
        write_file(m / "etc" / "config", b"changed, not synced")
        assert crash(m) == ["etc/config"]
        assert (m / "etc" / "config").read_bytes() == b"as mounted\n"


def _fill(path, chunk: int = 64 * 1024) -> None:
    """Write ``path`` until the filesystem is full (ENOSPC), never fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            try:
                os.write(fd, b"F" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return
    finally:
        os.close(fd)


def test_a_crash_on_a_full_host_filesystem_puts_every_file_back(serve, tmp_path):
    """Putting a file back may need space that only cutting another one frees: the crash
    does the files it can, then the ones the host refused once more."""
    with tmpfs(tmp_path / "small", size="1M") as small:
        m = serve(small, config=DURABLE)
        durable = random.Random(3).randbytes(600 * 1024)
        write_file(m / "a", durable, sync=True)
        os.truncate(m / "a", 0)  # the 600 KiB come back only after b is cut
        _fill(m / "b")
        assert sorted(crash(m)) == ["a", "b"]
        assert (small / "a").read_bytes() == durable
        assert (small / "b").stat().st_size == 0


def test_a_crash_point_that_cannot_put_a_file_back_refuses_to_restart(serve, tmp_path):
    """When the host keeps refusing (another process filled it), the mount stays down, the
    restart says EIO and the log names the file; once there is room the restart finishes the
    crash and serves the durable state. Never a state no disk could hold."""
    with tmpfs(tmp_path / "small", size="1M") as small:
        m = serve(small, config=DURABLE + '\n[[fault]]\npath = "b"\nop = "create"\naction = "crash:before"\n')
        durable = random.Random(4).randbytes(600 * 1024)
        write_file(m / "a", durable, sync=True)
        os.truncate(m / "a", 0)
        _fill(small / "filler")  # behind iofs's back: room for nothing
        with pytest.raises(OSError) as ei:
            os.open(m / "b", os.O_WRONLY | os.O_CREAT, 0o644)  # the crash point
        assert ei.value.errno == errno.EIO
        res = run_iofs("restart", str(m.path))
        assert res.returncode == 1 and "Input/output error" in res.stderr, res
        assert "a could not be put back to its durable state: No space left on device" in m.log_text()
        with pytest.raises(OSError) as ei:
            os.open(m / "a", os.O_RDONLY)
        assert ei.value.errno == errno.EIO  # still down
        os.unlink(small / "filler")
        res = run_iofs("restart", str(m.path))
        assert res.returncode == 0, res.stderr
        assert (m / "a").read_bytes() == durable and (small / "a").read_bytes() == durable
        assert not (m / "b").exists()


def test_a_crash_over_many_unsynced_files_needs_no_descriptor_per_file(serve, host):
    """Each unsynced host file keeps one descriptor until the crash; the crash must not open a
    second one for each (with the daemon's open-files limit lowered to 300 more than it uses,
    200 unsynced files left no room for 200 more)."""
    m = serve(host, config=DURABLE)
    in_use = len(os.listdir(f"/proc/{m.pid}/fd"))
    subprocess.run(["prlimit", f"--pid={m.pid}", f"--nofile={in_use + 300}:{in_use + 300}"],
                   check=True)
    for k in range(200):
        write_file(m / f"f{k}", b"never fsynced")
    changed = crash(m)
    assert len(changed) == 200
    assert all((host / f"f{k}").read_bytes() == b"" for k in range(200))
    assert "Too many open files" not in m.log_text()


def test_file_names_that_are_not_utf8_are_listed_and_crashed(serve, host):
    m = serve(host, config=DURABLE)
    name = b"bad\xff\xfename"
    write_file(os.path.join(bytes(m.path), name), b"unsynced")
    res = run_iofs("unsynced", str(m.path), text=False)
    assert res.returncode == 0 and res.stdout == b"8\t" + name + b"\n", res
    res = run_iofs("crash", str(m.path), text=False)
    assert res.returncode == 0 and res.stdout == name + b"\n", res
    assert os.path.getsize(os.path.join(bytes(host), name)) == 0


def test_iofs_crash_that_the_host_refuses_fails_and_a_later_one_finishes(serve, tmp_path):
    """`iofs crash` (no crash point) that cannot put a file back: exit 1 with EIO, the log
    names the file; once the host has room, the next crash puts it back."""
    with tmpfs(tmp_path / "small", size="1M") as small:
        m = serve(small, config=DURABLE)
        durable = random.Random(5).randbytes(600 * 1024)
        write_file(m / "a", durable, sync=True)
        os.truncate(m / "a", 0)
        _fill(small / "filler")  # behind iofs's back: room for nothing
        res = run_iofs("crash", str(m.path))
        assert res.returncode == 1 and "Input/output error" in res.stderr, res
        assert "a could not be put back to its durable state: No space left on device" in m.log_text()
        os.unlink(small / "filler")
        assert crash(m) == ["a"]
        assert (small / "a").read_bytes() == durable
