"""The keys of a fault rule through a real mount: path globs (matching files made after
the rule), comm, pid, uid, offset ranges, nth and count, and p with its seed.
"""

from __future__ import annotations

import errno
import os
import subprocess

import pytest

from iofs.testing import client
from tests.support.cli import add_fault, rule_lines, run_iofs
from tests.support.mounting import mounted
from tests.support.syscalls import errno_of, raw_read
from tests.support.users import OTHER_UID


def _seed(m, rid: int) -> int:
    for line in rule_lines(m):
        if line.startswith(f"{rid} "):
            return int(line.split("seed=")[1].split()[0])
    raise AssertionError(rid)


def test_path_glob_matches_files_created_after_the_rule(m):
    add_fault(m, "path=tmp/**/*.log op=read action=short:1")
    d = m / "tmp" / "logs" / "deep"
    d.mkdir(parents=True)
    (d / "app.log").write_bytes(b"log line\n")
    (d / "app.txt").write_bytes(b"txt line\n")
    try:
        fd = os.open(d / "app.log", os.O_RDONLY)
        try:
            assert raw_read(fd, 100) == (1, b"l", 0)  # direct_io: the short read reaches us
        finally:
            os.close(fd)
        fd = os.open(d / "app.txt", os.O_RDONLY)
        try:
            assert raw_read(fd, 100)[0] == 9
        finally:
            os.close(fd)
        # a program with a proper read loop still gets everything, one byte at a time
        assert subprocess.run(["cat", str(d / "app.log")], capture_output=True).stdout == b"log line\n"
    finally:
        for p in (d / "app.log", d / "app.txt"):
            p.unlink()
        d.rmdir()
        d.parent.rmdir()


def test_star_stays_within_a_name(m):
    add_fault(m, "path=tmp/*.dat op=read action=eio")
    sub = m / "tmp" / "sub"
    sub.mkdir()
    try:
        (m / "tmp" / "a.dat").write_bytes(b"x")
        (sub / "b.dat").write_bytes(b"y")
        assert errno_of(lambda: open(m / "tmp" / "a.dat", "rb").read()) == errno.EIO
        assert (sub / "b.dat").read_bytes() == b"y"
    finally:
        (m / "tmp" / "a.dat").unlink()
        (sub / "b.dat").unlink()
        sub.rmdir()


def test_comm_faults_dd_and_not_head(m):
    add_fault(m, "path=zero comm=dd op=read action=eio")
    dd = subprocess.run(["dd", f"if={m / 'zero'}", "of=/dev/null", "bs=4k", "count=1"],
                        capture_output=True, text=True)
    assert dd.returncode != 0 and "Input/output error" in dd.stderr
    head = subprocess.run(["head", "-c", "100", str(m / "zero")], capture_output=True)
    assert head.returncode == 0 and head.stdout == bytes(100)


def test_pid_key(m):
    add_fault(m, f"path=zero pid={os.getpid()} op=read action=eio")
    assert errno_of(lambda: open(m / "zero", "rb", buffering=0).read(10)) == errno.EIO
    other = subprocess.run(["head", "-c", "10", str(m / "zero")], capture_output=True)
    assert other.stdout == bytes(10)


def test_uid_key_and_open_op(tmp_path, public_dir):
    with mounted(tmp_path, None, "--allow-other", mountpoint=public_dir) as mnt:
        res = run_iofs("fault", str(mnt.path), "add", f"path=zero uid={OTHER_UID} op=open action=eacces")
        assert res.returncode == 0
        other = subprocess.run(["head", "-c", "1", str(mnt / "zero")], user=OTHER_UID,
                               capture_output=True, text=True)
        assert other.returncode != 0 and "Permission denied" in other.stderr
        assert (mnt / "zero").open("rb").read(1) == b"\0"  # root is not uid 1000


def test_offset_range(m):
    add_fault(m, "path=mem0 op=read offset=8K-12K action=eio")
    fd = os.open(m / "mem0", os.O_RDONLY)
    try:
        assert len(os.pread(fd, 4096, 0)) == 4096
        assert len(os.pread(fd, 4096, 4096)) == 4096  # ends at 8K: does not overlap [8K, 12K)
        assert raw_read(fd, 0) == (0, b"", 0)
        assert errno_of(os.pread, fd, 1, 12287) == errno.EIO
        assert errno_of(os.pread, fd, 4096, 6000) == errno.EIO  # overlaps from below
        assert len(os.pread(fd, 4096, 12 << 10)) == 4096
    finally:
        os.close(fd)


def test_nth_and_count(m):
    rid = add_fault(m, "path=zero op=read nth=3+ count=2 action=short:1")
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        sizes = [raw_read(fd, 100)[0] for _ in range(6)]
    finally:
        os.close(fd)
    assert sizes == [100, 100, 1, 1, 100, 100]
    assert rule_lines(m)[0].startswith(f"{rid} hits=2 ")


def _pattern_with(m, rule: str, n: int = 200) -> list[bool]:
    rid = add_fault(m, rule)
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        fired = [raw_read(fd, 10)[0] == 1 for _ in range(n)]
    finally:
        os.close(fd)
        client.clear_rules(m.path, rid)
    return fired


def test_probability_with_a_seed_replays_exactly(m):
    a = _pattern_with(m, "path=zero op=read p=0.5 seed=1234 action=short:1")
    b = _pattern_with(m, "path=zero op=read p=0.5 seed=1234 action=short:1")
    c = _pattern_with(m, "path=zero op=read p=0.5 seed=4321 action=short:1")
    assert a == b
    assert a != c
    assert 70 <= sum(a) <= 130, sum(a)  # about half of 200


def test_without_a_seed_one_is_chosen_and_shown(m):
    rid = add_fault(m, "path=zero op=read p=0.3 action=short:1")
    seed = _seed(m, rid)
    assert 0 <= seed < 2**32
    with open(m / "zero", "rb", buffering=0) as f:
        for _ in range(200):  # until it has fired a few times (p=0.3: after a handful)
            f.read(10)
            events = [e for e in client.read_trace(m.path) if e.get("rule") == rid]
            if len(events) >= 3:
                break
    assert len(events) >= 3
    assert all(e["seed"] == seed for e in events)


@pytest.mark.parametrize("p,low,high", [(0.1, 5, 40), (0.9, 160, 195)])
def test_p_is_the_chance_of_firing_not_of_passing(m, p, low, high):
    fired = _pattern_with(m, f"path=zero op=read p={p} seed=99 action=short:1")
    assert low <= sum(fired) <= high, sum(fired)  # of 200
