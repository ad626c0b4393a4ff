"""No rule and no number of rules can stall the daemon: a glob costs time bounded by its length
times the path's, adding rules costs O(1) each, a mount holds at most max_rules, and a large
write to .iofs/faults lets other requests in while it is parsed."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from iofs.testing import client
from tests.support.cli import one_line_error, run_iofs
from tests.support.syscalls import errno_of

# each of these took from seconds to minutes per request with a backtracking matcher
STALLS = [
    ("tmp/" + "*a" * 14 + "*b", "tmp/" + "a" * 46),
    ("**/**/**/**/**/x", "/".join(["d"] * 100) + "/y"),
    ("**/" + "*a" * 30 + "*b", "/".join(["a" * 40] * 50)),
]


@pytest.mark.parametrize("glob,path", STALLS, ids=["stars", "doublestars", "both"])
def test_a_pathological_glob_never_stalls_the_mount(m, glob, path):
    client.add_rule(m.path, f"path='{glob}' op=lookup,getattr,read action=eio")
    target = m.path / "tmp" / path
    t0 = time.monotonic()
    # ENAMETOOLONG or ENOENT are the kernel's and the namespace's answers: the rule matches
    # nothing here; what is checked is that asking costs no time
    for _ in range(20):
        assert errno_of(os.stat, target) in (errno.ENOENT, errno.ENAMETOOLONG)
    assert time.monotonic() - t0 < 2.0
    t0 = time.monotonic()
    client.clear_rules(m.path)  # the control file gets through at once
    assert time.monotonic() - t0 < 1.0


def test_a_rule_that_matches_a_long_path_still_fires(m):
    deep = m.path / "tmp" / "d"
    deep.mkdir()
    (deep / ("a" * 46)).write_bytes(b"x" * 100)
    client.add_rule(m.path, "path='tmp/**/*a*a*a*a*a*a*a*a*a*a*a*a' op=read action=eio")
    try:
        assert errno_of(lambda: (deep / ("a" * 46)).read_bytes()) == errno.EIO
    finally:
        client.clear_rules(m.path)
        (deep / ("a" * 46)).unlink()
        deep.rmdir()


def _write_rules(m, lines: list[str]) -> int:
    fd = os.open(m.path / ".iofs" / "faults", os.O_RDWR)
    try:
        return os.write(fd, "".join(lines).encode())
    finally:
        os.close(fd)


def test_ten_thousand_rules_are_added_fast_and_cost_requests_nothing_much(m):
    batch = [f"path=nomatch-{k} op=read action=eio\n" for k in range(2000)]
    t0 = time.monotonic()
    for i in range(5):  # five writes of 2,000: O(1) each, not a copy of all before
        _write_rules(m, [line.replace("nomatch-", f"nomatch-{i}-") for line in batch])
    took = time.monotonic() - t0
    assert len(client.list_rules(m.path).splitlines()) == 10_000
    assert took < 30, took
    # reads of zero go on at their pace: none of those rules concerns zero's path
    fd = os.open(m.path / "zero", os.O_RDONLY)
    try:
        t0 = time.monotonic()
        for _ in range(2000):
            os.read(fd, 4096)
        per_read = (time.monotonic() - t0) / 2000
    finally:
        os.close(fd)
    assert per_read < 0.005, per_read  # 52 ms each with a list scanned per request


def test_past_max_rules_the_write_fails_and_the_cli_says_so_in_one_line(mount_iofs):
    mnt = mount_iofs("[options]\nmax_rules = 3\n[[dir]]\npath = \"tmp\"\n")
    _write_rules(mnt, ["path=a action=eio\n", "path=b action=eio\n"])
    assert errno_of(_write_rules, mnt, ["path=c action=eio\n", "path=d action=eio\n"]) \
        == errno.ENOSPC
    assert len(client.list_rules(mnt.path).splitlines()) == 2  # all or nothing
    res = run_iofs("fault", str(mnt.path), "add", "path=c action=eio")
    assert res.returncode == 0
    res = run_iofs("fault", str(mnt.path), "add", "path=d action=eio")
    assert res.returncode == 2
    assert "max_rules" in one_line_error(res)
    assert mnt.log_text().count("more than max_rules (3): ENOSPC") == 2
    # clearing and adding in one write counts what is left after it
    _write_rules(mnt, ["clear\n", "path=x action=eio\n", "path=y action=eio\n"])
    assert len(client.list_rules(mnt.path).splitlines()) == 2


def test_a_large_rule_write_lets_other_requests_in(m):
    lines = [f"path='tmp/many/{k}' op=read,write comm=nobody-{k} action=eio\n" for k in range(9000)]
    blob = "".join(lines)
    assert len(blob) < 1020 * 1024
    worst = [0.0]
    done = threading.Event()

    fd = os.open(m.path / "zero", os.O_RDONLY)  # direct_io: every read is a request

    def probe() -> None:
        while not done.is_set():
            t0 = time.monotonic()
            os.pread(fd, 1, 0)
            worst[0] = max(worst[0], time.monotonic() - t0)

    t = threading.Thread(target=probe)
    t.start()
    try:
        t0 = time.monotonic()
        _write_rules(m, lines)
        parse_time = time.monotonic() - t0
    finally:
        done.set()
        t.join()
        os.close(fd)
    assert len(client.list_rules(m.path).splitlines()) == 9000
    print(f"parse {parse_time:.3f} s, worst read {worst[0]:.3f} s")
    # the stat probes saw the daemon answer while it parsed (its parse took far longer)
    assert worst[0] < max(0.1, parse_time / 4), (worst[0], parse_time)
