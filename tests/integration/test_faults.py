"""Fault rules on any node, changed while the mount runs, through a real mount and real
programs: every key, every action, every op reaching its syscall, the control directory, bad
rules in each of the three places they can be written."""

from __future__ import annotations

import errno
import os
import subprocess
import time

import pytest

from _helpers_b import (
    mounted, one_line_error, raw_read, raw_write, run_iofs, wait_for, waiting_on_fuse,
)
from conftest import OTHER_UID

from iofs.testing import client


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("faults")) as mnt:
        yield mnt


@pytest.fixture(autouse=True)
def _no_rules_left(request):
    yield
    if "m" in request.fixturenames:
        client.clear_rules(request.getfixturevalue("m").path)


def fault(m, rule: str) -> int:
    """Add a rule through the CLI, as a user would; its id."""
    res = run_iofs("fault", str(m.path), "add", rule)
    assert res.returncode == 0, res.stderr
    return int(res.stdout)


def _errno(fn, *args) -> int:
    with pytest.raises(OSError) as ei:
        fn(*args)
    return ei.value.errno


def _rules(m) -> list[str]:
    return client.list_rules(m.path).splitlines()


# ---- actions on reads and writes -------------------------------------------------------------

def test_short_read_is_byte_exact(m):
    fault(m, "path=zero op=read action=short:7")
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        assert raw_read(fd, 4096) == (7, bytes(7), 0)
        assert raw_read(fd, 3) == (3, bytes(3), 0)  # smaller than N: the request is whole
    finally:
        os.close(fd)


def test_short_half(m):
    fault(m, "path=zero op=read action=short:half")
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        assert raw_read(fd, 4096)[0] == 2048
        assert raw_read(fd, 1)[0] == 1  # half of 1 is still one byte: a short read moves some
    finally:
        os.close(fd)


def test_short_write_is_byte_exact_and_stored(m):
    fault(m, "path=mem0 op=write count=1 action=short:5")
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        assert raw_write(fd, b"0123456789") == (5, 0)
        assert os.pread(fd, 10, 0) == b"01234" + os.pread(fd, 5, 5)
        assert os.pwrite(fd, b"abcdefghij", 0) == 10  # count=1: spent
    finally:
        os.close(fd)


def test_errno_after_progress_follows_the_syscall_layer(m):
    """eintr:N after progress is a short count; eio:N after progress is EIO (the bytes moved)."""
    rid = fault(m, "path=mem0 op=read action=eintr:3")
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        os.pwrite(fd, b"abcdefgh", 0)
        assert os.pread(fd, 8, 0) == b"abc"
        client.clear_rules(m.path, rid)
        fault(m, "path=mem0 op=read action=eio:3")
        assert raw_read(fd, 8) == (-1, b"", errno.EIO)
        client.clear_rules(m.path)
        fault(m, "path=mem0 op=read action=eintr")
        assert raw_read(fd, 8) == (-1, b"", errno.EINTR)
    finally:
        os.close(fd)


def test_eagain_only_for_nonblocking_opens_and_its_alias(m):
    fault(m, "path=zero op=read action=ewouldblock")  # the alias: the same step as eagain
    assert _rules(m)[0].endswith("action=eagain")
    fd = os.open(m / "zero", os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert raw_read(fd, 10) == (-1, b"", errno.EAGAIN)
    finally:
        os.close(fd)
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        assert os.read(fd, 10) == bytes(10)  # a blocking open: served in full
    finally:
        os.close(fd)


def test_sleep_delays_the_request_and_stalls_nothing_else(m):
    fault(m, "path=mem0 op=read count=1 action=sleep:2000")
    fd = os.open(m / "mem0", os.O_RDONLY)
    import threading
    took: list[float] = []

    def slow() -> None:
        t0 = time.monotonic()
        os.pread(fd, 4, 0)
        took.append(time.monotonic() - t0)

    t = threading.Thread(target=slow)
    t.start()
    assert wait_for(lambda: waiting_on_fuse(t.native_id, "pread64"), 10)
    t0 = time.monotonic()
    with open(m / "zero", "rb") as f:
        assert f.read(100) == bytes(100)
    assert time.monotonic() - t0 < 1.5  # (stalled, it would take 2 s)
    t.join(5)
    os.close(fd)
    assert took and took[0] >= 1.95


def test_corrupt_read_changes_exactly_one_byte(m):
    data = bytes(range(256)) * 16
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        os.pwrite(fd, data, 0)
        fault(m, "path=mem0 op=read count=1 seed=7 action=corrupt:1")
        got = os.pread(fd, 4096, 0)
        assert len(got) == 4096
        diff = [i for i in range(4096) if got[i] != data[i]]
        assert len(diff) == 1, diff
        assert os.pread(fd, 4096, 0) == data  # the device itself is intact
    finally:
        os.close(fd)


def test_corrupt_is_fixed_by_the_seed(m):
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        os.pwrite(fd, bytes(4096), 0)
        runs = []
        for _ in range(2):
            rid = fault(m, "path=mem0 op=read seed=99 action=corrupt:3")
            runs.append([os.pread(fd, 4096, 0) for _ in range(3)])
            client.clear_rules(m.path, rid)
        assert runs[0] == runs[1]
        assert len({r for r in runs[0]}) == 3  # each hit changes other bytes
    finally:
        os.close(fd)


def test_corrupt_write_is_stored(m):
    fault(m, "path=mem0 op=write count=1 seed=3 action=corrupt:2")
    fd = os.open(m / "mem0", os.O_RDWR)
    try:
        assert os.pwrite(fd, b"A" * 64, 0) == 64
        stored = os.pread(fd, 64, 0)
        assert sum(1 for b in stored if b != ord("A")) == 2
    finally:
        os.close(fd)


def test_ok_counts_hits_and_does_nothing(m):
    rid = fault(m, "path=zero op=read action=ok")
    with open(m / "zero", "rb", buffering=0) as f:
        for _ in range(3):
            assert f.read(10) == bytes(10)
    assert _rules(m) == [f"{rid} hits=3 path=zero op=read seed={_seed(m, rid)} action=ok"]


def _seed(m, rid: int) -> int:
    for line in _rules(m):
        if line.startswith(f"{rid} "):
            return int(line.split("seed=")[1].split()[0])
    raise AssertionError(rid)


# ---- keys: where, who, when ------------------------------------------------------------------

def test_path_glob_matches_files_created_after_the_rule(m):
    fault(m, "path=tmp/**/*.log op=read action=short:1")
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
    fault(m, "path=tmp/*.dat op=read action=eio")
    sub = m / "tmp" / "sub"
    sub.mkdir()
    try:
        (m / "tmp" / "a.dat").write_bytes(b"x")
        (sub / "b.dat").write_bytes(b"y")
        assert _errno(lambda: open(m / "tmp" / "a.dat", "rb").read()) == errno.EIO
        assert (sub / "b.dat").read_bytes() == b"y"
    finally:
        (m / "tmp" / "a.dat").unlink()
        (sub / "b.dat").unlink()
        sub.rmdir()


def test_comm_faults_dd_and_not_head(m):
    fault(m, "path=zero comm=dd op=read action=eio")
    dd = subprocess.run(["dd", f"if={m / 'zero'}", "of=/dev/null", "bs=4k", "count=1"],
                        capture_output=True, text=True)
    assert dd.returncode != 0 and "Input/output error" in dd.stderr
    head = subprocess.run(["head", "-c", "100", str(m / "zero")], capture_output=True)
    assert head.returncode == 0 and head.stdout == bytes(100)


def test_pid_key(m):
    fault(m, f"path=zero pid={os.getpid()} op=read action=eio")
    assert _errno(lambda: open(m / "zero", "rb", buffering=0).read(10)) == errno.EIO
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
    fault(m, "path=mem0 op=read offset=8K-12K action=eio")
    fd = os.open(m / "mem0", os.O_RDONLY)
    try:
        assert len(os.pread(fd, 4096, 0)) == 4096
        assert len(os.pread(fd, 4096, 4096)) == 4096  # ends at 8K: does not overlap [8K, 12K)
        assert raw_read(fd, 0) == (0, b"", 0)
        assert _errno(os.pread, fd, 1, 12287) == errno.EIO
        assert _errno(os.pread, fd, 4096, 6000) == errno.EIO  # overlaps from below
        assert len(os.pread(fd, 4096, 12 << 10)) == 4096
    finally:
        os.close(fd)


def test_nth_and_count(m):
    rid = fault(m, "path=zero op=read nth=3+ count=2 action=short:1")
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        sizes = [raw_read(fd, 100)[0] for _ in range(6)]
    finally:
        os.close(fd)
    assert sizes == [100, 100, 1, 1, 100, 100]
    assert _rules(m)[0].startswith(f"{rid} hits=2 ")


def _pattern_with(m, rule: str, n: int = 200) -> list[bool]:
    rid = fault(m, rule)
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
    rid = fault(m, "path=zero op=read p=0.3 action=short:1")
    seed = _seed(m, rid)
    assert 0 <= seed < 2**32
    with open(m / "zero", "rb", buffering=0) as f:
        f.read(10)
    events = [e for e in client.read_trace(m.path) if e.get("rule") == rid]
    assert all(e["seed"] == seed for e in events)


# ---- non-data ops reach their syscalls -------------------------------------------------------

def test_fsync_eio_is_seen_by_fsync(m):
    fault(m, "path=tmp/journal op=fsync action=eio")
    fd = os.open(m / "tmp" / "journal", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"entry")
        assert _errno(os.fsync, fd) == errno.EIO
        assert os.pread(fd, 5, 0) == b"entry"
    finally:
        os.close(fd)
        os.unlink(m / "tmp" / "journal")


HELD: list[int] = []


@pytest.mark.parametrize("op,code,call", [
    ("create", errno.ENOSPC, lambda t: os.open(t / "new", os.O_CREAT | os.O_WRONLY, 0o644)),
    ("mkdir", errno.EDQUOT, lambda t: os.mkdir(t / "newdir")),
    ("symlink", errno.EIO, lambda t: os.symlink("x", t / "newlink")),
    ("getattr", errno.EIO, lambda t: os.fstat(HELD[0])),
    ("unlink", errno.EBUSY, lambda t: os.unlink(t / "victim")),
    ("rename", errno.EXDEV, lambda t: os.rename(t / "victim", t / "renamed")),
    ("link", errno.EMLINK, lambda t: os.link(t / "victim", t / "hard")),
    ("setattr", errno.EPERM, lambda t: os.chmod(t / "victim", 0o600)),
    ("truncate", errno.EIO, lambda t: os.truncate(t / "victim", 0)),
    ("open", errno.EACCES, lambda t: os.open(t / "victim", os.O_RDONLY)),
    ("readdir", errno.EIO, lambda t: os.listdir(t)),
    ("rmdir", errno.EBUSY, lambda t: os.rmdir(t / "emptydir")),
])
def test_each_op_reaches_its_syscall(m, op, code, call):
    t = m / "tmp" / f"ops-{op}"
    t.mkdir()
    (t / "victim").write_bytes(b"v")
    (t / "emptydir").mkdir()
    # fstat of a descriptor asks the daemon once the cached attributes are 1 s old (a stat of
    # a path would look the name up again instead)
    HELD[:] = [os.open(t / "victim", os.O_RDONLY)]
    try:
        target = "tmp/ops-*/*" if op not in ("readdir",) else "tmp/ops-*"
        fault(m, f"path={target} op={op} action={errno.errorcode[code].lower()}")
        time.sleep(1.1)  # attributes cached by earlier lookups run out (getattr)
        assert _errno(call, t) == code
    finally:
        client.clear_rules(m.path)
        os.close(HELD.pop())
        for p in sorted(t.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
        t.rmdir()


def test_flush_error_is_what_close_returns(m):
    fault(m, "path=zero op=flush action=eio")
    fd = os.open(m / "zero", os.O_RDONLY)
    assert _errno(os.close, fd) == errno.EIO


def test_statfs_and_poll(m):
    fault(m, "op=statfs action=eio")
    assert _errno(os.statvfs, m.path) == errno.EIO
    client.clear_rules(m.path)
    fault(m, "path=pipe0 op=poll action=eio")
    import select
    fd = os.open(m / "pipe0", os.O_RDONLY | os.O_NONBLOCK)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(1000)[0][1] & select.POLLERR
    finally:
        os.close(fd)


def test_sleep_on_a_non_data_op(m):
    fault(m, "path=mem0 op=lookup count=1 action=sleep:400")
    time.sleep(1.1)  # the cached name runs out: the stat looks it up again
    t0 = time.monotonic()
    os.stat(m / "mem0")
    assert time.monotonic() - t0 >= 0.35


# ---- the control directory -------------------------------------------------------------------

def test_control_file_protocol(m):
    ctl = m / ".iofs" / "faults"
    fd = os.open(ctl, os.O_RDWR)
    try:
        os.write(fd, b"path=zero action=short:2\npath=null action=eio\n")
        reply = os.read(fd, 100).split()
    finally:
        os.close(fd)
    assert len(reply) == 2 and int(reply[1]) == int(reply[0]) + 1
    listing = ctl.read_text().splitlines()
    assert [ln.split()[0] for ln in listing] == [r.decode() for r in reply]
    with open(ctl, "w") as f:
        f.write(f"-{reply[0].decode()}\n")
    assert len(ctl.read_text().splitlines()) == 1
    with open(ctl, "w") as f:
        f.write("clear\n")
    assert ctl.read_text() == ""


def test_bad_rule_in_the_control_file_is_einval_logged_and_changes_nothing(m):
    fd = os.open(m / ".iofs" / "faults", os.O_WRONLY)
    try:
        assert _errno(os.write, fd, b"path=zero action=short:1\npath=zero colour=red action=eio\n") \
            == errno.EINVAL
        assert _errno(os.write, fd, b"-999\n") == errno.ENOENT
    finally:
        os.close(fd)
    assert _rules(m) == []  # all or nothing: the good line was not added either
    time.sleep(0.1)
    assert "bad token 'colour=red': unknown key 'colour'" in m.log_text()


@pytest.mark.parametrize("rule,token", [
    ("path=zero action=nope", "action=nope"),
    ("path=zero op=read,frobnicate action=eio", "op=read,frobnicate"),
    ("path=/zero action=eio", "path=/zero"),
    ("path=zero p=1.5 action=eio", "p=1.5"),
    ("path=zero nth=0 action=eio", "nth=0"),
    ("path=zero offset=9-3 action=eio", "offset=9-3"),
    ("op=open action=short:1", "action=short:1"),
    ("op=fsync action=enosys", "action=enosys"),
    ("path=zero", "action=ACTION"),
    ("path=zero action", "action"),
])
def test_bad_rule_through_the_cli_names_the_token(m, rule, token):
    res = run_iofs("fault", str(m.path), "add", rule)
    assert res.returncode == 2
    assert token in one_line_error(res)
    assert _rules(m) == []


def test_bad_rule_in_the_toml_is_one_line_exit_2(tmp_path):
    mp = tmp_path / "mnt"
    mp.mkdir()
    cfg = tmp_path / "tree.toml"
    cfg.write_text('[[device]]\npath = "zero"\ndriver = "zero"\n'
                   '[[fault]]\npath = "zero"\nop = ["read", "wirte"]\naction = "eio"\n')
    res = run_iofs("mount", str(mp), "--config", str(cfg))
    assert res.returncode == 2
    assert "[[fault]] #1: bad token 'op=read,wirte'" in one_line_error(res)


def test_static_rules_from_the_toml(tmp_path):
    cfg = ('[[device]]\npath = "zero"\ndriver = "zero"\n'
           '[[fault]]\npath = "zero"\nop = ["read"]\ncount = 1\naction = "short:5"\n')
    with mounted(tmp_path, cfg) as mnt:
        assert _rules(mnt)[0].startswith("1 hits=0 path=zero op=read count=1 seed=")
        with open(mnt / "zero", "rb", buffering=0) as f:
            assert len(f.read(100)) == 5
            assert len(f.read(100)) == 100


def test_control_dir_is_sealed(m):
    ctl = m / ".iofs"
    assert oct(os.stat(ctl).st_mode & 0o7777) == oct(0o700)
    assert _errno(os.open, ctl / "new", os.O_CREAT | os.O_WRONLY, 0o600) == errno.EPERM
    assert _errno(os.mkdir, ctl / "d") == errno.EPERM
    assert _errno(os.unlink, ctl / "faults") == errno.EPERM
    assert _errno(os.rename, ctl / "trace", ctl / "t2") == errno.EPERM
    assert _errno(os.rename, ctl, m / "elsewhere") == errno.EPERM
    assert _errno(os.rmdir, ctl) in (errno.EPERM, errno.ENOTEMPTY)
    assert _errno(os.link, ctl / "faults", m / "tmp" / "stolen") == errno.EPERM
    assert sorted(os.listdir(ctl)) == ["faults", "trace"]


def test_control_dir_is_refused_to_other_users(tmp_path, public_dir):
    with mounted(tmp_path, None, "--allow-other", mountpoint=public_dir) as mnt:
        for cmd in (["ls", str(mnt / ".iofs")], ["cat", str(mnt / ".iofs" / "faults")],
                    ["sh", "-c", f"echo 'action=eio' > {mnt / '.iofs' / 'faults'}"],
                    ["cat", str(mnt / ".iofs" / "trace")]):
            res = subprocess.run(cmd, user=OTHER_UID, capture_output=True, text=True, timeout=10)
            assert res.returncode != 0 and "Permission denied" in res.stderr, (cmd, res)
        assert client.list_rules(mnt.path) == ""
        # and the rest of the mount is theirs
        assert subprocess.run(["head", "-c", "3", str(mnt / "zero")], user=OTHER_UID,
                              capture_output=True).stdout == b"\0\0\0"


def test_control_name_option_and_off(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with mounted(tmp_path / "a", '[options]\ncontrol = ".ctl"\n[[device]]\npath = "zero"\ndriver = "zero"\n') as mnt:
        assert sorted(os.listdir(mnt.path)) == [".ctl", "zero"]
        res = run_iofs("fault", str(mnt.path), "--control", ".ctl", "add", "path=zero action=short:3")
        assert res.returncode == 0, res.stderr
        with open(mnt / "zero", "rb", buffering=0) as f:
            assert len(f.read(10)) == 3
    with mounted(tmp_path / "b", '[options]\ncontrol = false\n[[device]]\npath = "zero"\ndriver = "zero"\n') as mnt:
        assert os.listdir(mnt.path) == ["zero"]
        res = run_iofs("fault", str(mnt.path), "list")
        assert res.returncode == 1 and "no control directory" in one_line_error(res)


def test_fault_cli_on_something_that_is_not_iofs(tmp_path):
    res = run_iofs("fault", str(tmp_path), "list")
    assert res.returncode == 1 and "not an iofs mount" in one_line_error(res)


def test_clear_by_id_through_the_cli(m):
    a = fault(m, "path=zero action=short:1")
    b = fault(m, "path=null action=eio")
    assert run_iofs("fault", str(m.path), "clear", str(a)).returncode == 0
    assert [ln.split()[0] for ln in _rules(m)] == [str(b)]
    res = run_iofs("fault", str(m.path), "clear", "12345")
    assert res.returncode == 1 and "no such rule" in one_line_error(res)
    res = run_iofs("fault", str(m.path), "list")
    assert res.stdout.startswith(f"{b} hits=0 path=null seed=")


def test_a_rule_added_after_the_open_of_a_regular_file(m):
    """As the docs say: the open keeps its page cache, and a short read the kernel takes from
    iofs ends the file early for that open; an open made after the rule is direct_io and sees
    every byte, one at a time."""
    p = m / "tmp" / "cached"
    p.write_bytes(b"0123456789")
    fd = os.open(p, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # nothing cached: reads reach iofs
        fault(m, "path=tmp/cached op=read action=short:1")
        assert os.read(fd, 100) == b"0"
        assert os.read(fd, 100) == b""  # the kernel took the short read for the end
    finally:
        os.close(fd)
    fd = os.open(p, os.O_RDONLY)
    try:
        assert [os.read(fd, 100) for _ in range(3)] == [b"0", b"1", b"2"]
    finally:
        os.close(fd)
        p.unlink()


# ---- a bad rule or odd input never takes the mount, or its callers, down ----------------------

@pytest.mark.parametrize("op,ms", [("open", "100000000"), ("read", "100000000"),
                                   ("open", "9" * 400)])  # more ms than a float holds
def test_a_killed_program_is_let_go_from_a_sleep(m, op, ms):
    """pyfuse3 passes no FUSE_INTERRUPT: a program killed in a sleep:MS request would stay in
    D state until the sleep ends, unless the sleep watches its signals, as every sleep does."""
    fault(m, f"path=zero op={op} action=sleep:{ms}")
    proc = subprocess.Popen(["dd", f"if={m / 'zero'}", "of=/dev/null", "bs=1", "count=1",
                             "status=none"], stderr=subprocess.PIPE)
    try:
        # asleep in the faulted request, not failed
        assert wait_for(lambda: waiting_on_fuse(proc.pid, "openat" if op == "open" else "read"),
                        30), f"dd never waited in its {op} (exit status {proc.poll()})"
        proc.kill()
        assert proc.wait(timeout=5) == -9
    finally:
        client.clear_rules(m.path)
        if proc.poll() is None:
            proc.kill()
    (event,) = [e for e in client.read_trace(m.path) if e["pid"] == proc.pid and e["op"] == op]
    assert event["errno"] == errno.EINTR and event["rule"] is not None


def test_a_sleep_interrupted_by_a_signal_is_eintr(m):
    fault(m, "path=zero op=read action=sleep:100000000")
    fd = os.open(m / "zero", os.O_RDONLY)
    import signal
    import threading

    old = signal.signal(signal.SIGUSR1, lambda *a: None)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        t0 = time.monotonic()
        assert raw_read(fd, 10) == (-1, b"", errno.EINTR)
        assert time.monotonic() - t0 < 5
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, old)
        os.close(fd)


@pytest.mark.parametrize("op,how", [("read", "clear"), ("open", "clear"), ("read", "id")])
def test_removing_a_sleep_rule_lets_its_sleepers_go(m, op, how):
    rule = fault(m, f"path=zero op={op} action=sleep:100000000")
    proc = subprocess.Popen(["dd", f"if={m / 'zero'}", "of=/dev/null", "bs=1", "count=1",
                             "status=none"])
    try:
        time.sleep(0.5)
        assert proc.poll() is None
        res = run_iofs("fault", str(m.path), "clear", *([str(rule)] if how == "id" else []))
        assert res.returncode == 0, res.stderr
        assert proc.wait(timeout=5) == 0  # served, as if the rule had never been
    finally:
        if proc.poll() is None:
            proc.kill()  # (a sleep that does not watch for signals holds it until the umount)


def test_a_getattr_rule_on_everything_cannot_lock_out_the_control_directory(m):
    """The kernel asks for the root's attributes on every path into the mount once its cache
    runs out: were that getattr faulted, no one could reach .iofs to clear the rule."""
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        fault(m, "op=getattr action=eio")
        fault(m, "path=** op=getattr action=sleep:100000000")
        time.sleep(1.1)  # cached attributes run out
        assert _errno(os.fstat, fd) == errno.EIO  # the rule works on the rest
        res = run_iofs("fault", str(m.path), "clear", timeout=10)
        assert res.returncode == 0, res.stderr
        assert _rules(m) == []
        os.fstat(fd)
    finally:
        os.close(fd)


def test_a_control_directory_that_fails_to_answer_is_one_line(m):
    fault(m, "path=tmp/faults op=lookup action=eio")
    for args in (["fault", str(m.path), "--control", "tmp", "list"],
                 ["trace", str(m.path), "--control", "tmp"]):
        res = run_iofs(*args)
        assert res.returncode == 1 and "Input/output error" in one_line_error(res), args


@pytest.mark.parametrize("line", ["-\u00b2", "-" + "9" * 5000, "nth=\u00b2 action=eio",
                                  "action=sleep:" + "9" * 5000])
def test_numbers_python_cannot_convert_are_einval(m, line):
    fd = os.open(m / ".iofs" / "faults", os.O_WRONLY)
    try:
        assert _errno(os.write, fd, line.encode() + b"\n") == errno.EINVAL
    finally:
        os.close(fd)
    assert "Traceback" not in m.log_text()


@pytest.mark.parametrize("rule_id", ["-5", "0"])
def test_clear_of_an_id_that_cannot_be_one_is_a_usage_error(m, rule_id):
    res = run_iofs("fault", str(m.path), "clear", rule_id)
    assert res.returncode == 2 and "a rule id is a whole number >= 1" in one_line_error(res)


def test_a_write_the_kernel_would_split_is_refused_whole(m):
    """The kernel hands a write(2) to iofs in pieces of at most 256 pages: a rule line across
    a piece's end would be parsed as two lines (count=12 of count=123456, then EINVAL), so a
    write that may come in pieces is EINVAL and adds nothing; a smaller one is one piece."""
    import mmap

    target = b"path=victim action=eio count=123456\n"
    page = mmap.mmap(-1, 2 << 20)  # page-aligned: the write starts 64 bytes into a page
    misalign = 64
    first = 256 * 4096 - misalign  # what the kernel's first piece holds
    cut = target.index(b"123456") + 2
    body = b"#" * (first - cut - 1) + b"\n" + target + b"path=after action=eio\n"
    page[misalign:misalign + len(body)] = body
    buf = memoryview(page)[misalign:misalign + len(body)]
    fd = os.open(m / ".iofs" / "faults", os.O_WRONLY)
    try:
        assert _errno(os.write, fd, buf) == errno.EINVAL
        assert _rules(m) == []
        small = b"#" * (255 * 4096 - len(target) - 1) + b"\n" + target
        assert os.write(fd, small) == len(small)
    finally:
        buf.release()
        os.close(fd)
        page.close()
    assert [r.split(" ", 2)[2] for r in _rules(m)][0].startswith("path=victim count=123456 ")
