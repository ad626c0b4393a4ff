"""Crash points in rules: action=crash (after the request), crash:before (instead of it),
crash:torn (a write torn into seeded units), then `iofs restart`; action=kill; and the
torn_unit of torn crashes."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import pytest

from iofs.testing import client
from tests.support.cli import one_line_error, run_iofs
from tests.support.syscalls import errno_of

DURABLE = '[options]\ndurability = true\n{extra}\n[[dir]]\npath = "tmp"\nmode = "1777"\n'


@pytest.fixture
def dm(mount_iofs):
    """A mount with durability on."""
    return mount_iofs(DURABLE.format(extra=""))


def _fsync_file(path, data: bytes) -> int:
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    return fd


def test_crash_after_a_request_keeps_what_was_durable_then_and_fails_everything_after(dm):
    a = dm.path / "tmp" / "a"
    fd = _fsync_file(a, b"durable")
    os.write(fd, b"+synced-by-the-crashing-fsync")
    client.add_rule(dm.path, "path=tmp/a op=fsync action=crash")
    os.fsync(fd)  # served (durable), then the crash: this fsync succeeds
    # after the crash point, every request but the control directory's fails with EIO
    assert errno_of(os.write, fd, b"never durable") == errno.EIO
    assert errno_of(os.stat, dm.path / "tmp" / "b") == errno.EIO
    assert errno_of(os.listdir, dm.path / "tmp") == errno.EIO
    assert "crash" in client.list_rules(dm.path)  # the control directory still answers
    client.clear_rules(dm.path)
    res = run_iofs("restart", str(dm.path))
    assert res.returncode == 0, res.stderr
    assert a.read_bytes() == b"durable+synced-by-the-crashing-fsync"
    os.close(fd)  # after the restart: served again
    assert "crash point (fsync" in dm.log_text()


def test_crash_before_an_fsync_loses_that_fsyncs_data(dm):
    a = dm.path / "tmp" / "a"
    fd = _fsync_file(a, b"old")
    os.pwrite(fd, b"NEW", 0)
    client.add_rule(dm.path, "path=tmp/a op=fsync action=crash:before")
    assert errno_of(os.fsync, fd) == errno.EIO
    assert errno_of(os.close, fd) == errno.EIO  # close(2)'s flush: the disk is gone
    client.clear_rules(dm.path)
    client.restart(dm.path)
    assert a.read_bytes() == b"old"


def test_crash_at_the_nth_write_keeps_exactly_what_was_fsynced(dm):
    a = dm.path / "tmp" / "log"
    fd = os.open(a, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    client.add_rule(dm.path, "path=tmp/log op=write nth=5 action=crash")
    for k in range(1, 5):
        os.write(fd, f"{k}\n".encode())
        if k % 2 == 0:
            os.fsync(fd)
    os.write(fd, b"5\n")  # the 5th write: served, then the crash
    assert errno_of(os.write, fd, b"6\n") == errno.EIO
    assert errno_of(os.close, fd) == errno.EIO
    client.clear_rules(dm.path)
    client.restart(dm.path)
    assert a.read_bytes() == b"1\n2\n3\n4\n"  # 4 was fsynced; 5 was written, never synced


def _torn(mount_iofs, unit: int, seed: int) -> bytes:
    m = mount_iofs(DURABLE.format(extra=f"torn_unit = {unit}"))
    a = m.path / "tmp" / "a"
    fd = _fsync_file(a, bytes(8192))
    client.add_rule(m.path, f"path=tmp/a op=write seed={seed} action=crash:torn")
    os.pwrite(fd, b"\xff" * 8192, 0)
    assert errno_of(os.close, fd) == errno.EIO
    client.clear_rules(m.path)
    client.restart(m.path)
    data = a.read_bytes()
    m.stop()
    return data


@pytest.mark.parametrize("unit", [512, 1])
def test_a_torn_write_keeps_a_seeded_part_of_its_units_and_the_same_seed_the_same_part(
        mount_iofs, unit):
    first = _torn(mount_iofs, unit, seed=7)
    again = _torn(mount_iofs, unit, seed=7)
    other = _torn(mount_iofs, unit, seed=8)
    assert first == again and first != other
    assert len(first) == 8192
    kept = [first[i:i + unit] for i in range(0, 8192, unit)]
    assert all(piece in (b"\xff" * unit, bytes(unit)) for piece in kept)  # whole units
    assert 0 < sum(piece[0] == 0xFF for piece in kept) < len(kept)


def test_a_torn_crash_by_seed_tears_in_units_of_torn_unit(mount_iofs):
    m = mount_iofs(DURABLE.format(extra="torn_unit = 512"))
    a = m.path / "tmp" / "a"
    fd = _fsync_file(a, bytes(16384))
    os.pwrite(fd, b"\xff" * 16384, 0)
    os.close(fd)
    res = run_iofs("crash", str(m.path), "--torn", "--seed", "3")
    assert res.returncode == 0, res.stderr
    data = a.read_bytes()
    pieces = [data[i:i + 512] for i in range(0, 16384, 512)]
    assert all(p in (b"\xff" * 512, bytes(512)) for p in pieces)
    assert 0 < sum(p[0] == 0xFF for p in pieces) < 32
    # the pieces are smaller than a page: not all follow 4 KiB blocks
    assert any(len({p[0] for p in pieces[i:i + 8]}) == 2 for i in range(0, 32, 8))


def test_kill_sends_sigkill_to_the_process_that_made_the_request(dm):
    client.add_rule(dm.path, "path=tmp/victim op=create action=kill")
    program = textwrap.dedent(f'''
        import os
        print("before", flush=True)
        open({str(dm.path / "tmp" / "victim")!r}, "w")
        print("after", flush=True)
    ''')
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert out.returncode == -9
    assert out.stdout == "before\n"
    with open(dm.path / "tmp" / "other", "w") as f:  # anyone else goes on
        f.write("x")


def test_a_crash_rule_needs_durability(mnt):
    res = run_iofs("fault", str(mnt.path), "add", "path=tmp/a op=fsync action=crash")
    assert res.returncode == 2
    assert "durability" in one_line_error(res) or "refused" in res.stderr
    assert "needs [options] durability = true" in mnt.log_text()
