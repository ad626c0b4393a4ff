"""Durability over a host directory: iofs writes through and keeps an undo record (the
durable content of what each write replaced); ``iofs crash`` writes the durable state back
into the host directory, which then holds exactly what a real machine would have on disk. A
clean unmount loses nothing; a SIGKILL of the daemon leaves the writes (not the durable
state) in the directory."""

from __future__ import annotations

import os
import random
import signal

import pytest

from iofs.system.mounts import mount_type
from tests.support.databases import assert_commits_survive
from tests.support.cli import run_iofs
from tests.support.mounting import mounted
from tests.support.processes import pid_gone, wait_for
from tests.support.sqlite_child import run_sqlite_child

DURABLE = "[options]\ndurability = true\n"
BLOCK = 4096


def crash(m, *extra: str) -> list[str]:
    res = run_iofs("crash", str(m.path), *extra)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def _write(path, data: bytes, sync: bool = False, flags: int = os.O_TRUNC) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def test_a_crash_leaves_the_durable_state_in_the_host(serve, host):
    m = serve(host, config=DURABLE)
    rng = random.Random(7)
    base = rng.randbytes(10 * BLOCK + 77)
    _write(m / "synced", base, sync=True)
    fd = os.open(m / "synced", os.O_RDWR)
    try:
        os.pwrite(fd, b"R" * 5000, 3000)  # a rewrite after the fsync
        os.pwrite(fd, b"A" * 9000, len(base))  # and an append
        os.ftruncate(fd, 2 * BLOCK)  # and a truncation
        os.pwrite(fd, b"H", 20 * BLOCK)  # and a write beyond, leaving a hole
    finally:
        os.close(fd)
    _write(m / "never", b"never fsynced")
    before = (host / "hello.txt").read_bytes()
    _write(m / "hello.txt", b"rewritten, not synced", flags=os.O_TRUNC)
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
    _write(m / "t", b"A" * (16 * BLOCK), sync=True)
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
    _write(m / "unsynced", b"written, never fsynced")
    m.stop()
    assert (host / "unsynced").read_bytes() == b"written, never fsynced"


def test_a_sigkill_of_the_daemon_leaves_the_writes_in_the_host(serve, host):
    """Write-through: what was written is in the host directory already, fsynced or not; the
    undo record dies with the daemon, so the durable state is not restored."""
    m = serve(host, config=DURABLE)
    _write(m / "synced", b"durable", sync=True)
    _write(m / "synced", b" and more", flags=os.O_APPEND)
    _write(m / "unsynced", b"never fsynced")
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
        _write(m / "etc" / "config", b"changed, not synced")
        assert crash(m) == ["etc/config"]
        assert (m / "etc" / "config").read_bytes() == b"as mounted\n"
