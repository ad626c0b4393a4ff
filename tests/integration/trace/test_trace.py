"""The live per-request trace through a real mount: what a dd run leaves in it, the ring's
bound ({"lost": N}), following it like trace_pipe, uio detail, and `iofs trace`."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from iofs.testing import client
from tests.support.cli import run_iofs
from tests.support.mounting import mounted
from tests.support.processes import wait_for, waiting_on_fuse
from tests.support.syscalls import raw_read


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    with mounted(tmp_path_factory.mktemp("trace")) as mnt:
        yield mnt


def _events(m, **match) -> list[dict]:
    return [e for e in client.read_trace(m.path) if all(e.get(k) == v for k, v in match.items())]


def test_a_dd_run_is_in_the_trace_with_its_pid_block_size_and_bytes(m):
    proc = subprocess.Popen(["dd", f"if={m / 'zero'}", "of=/dev/null", "bs=8k", "count=5"],
                            stderr=subprocess.DEVNULL)
    proc.wait()
    reads = _events(m, op="read", pid=proc.pid)
    assert [(e["path"], e["offset"], e["size"], e["moved"], e["errno"]) for e in reads] == \
        [("zero", k * 8192, 8192, 8192, 0) for k in range(5)]
    assert all(e["comm"] == "dd" and e["uid"] == 0 and e["rule"] is None for e in reads)
    assert all(e["us"] > 0 for e in reads)
    seqs = [e["seq"] for e in reads]
    assert seqs == sorted(seqs)
    t = [e["t"] for e in reads]
    assert t == sorted(t) and abs(t[0] / 1e9 - time.time()) < 60
    ops = [e["op"] for e in _events(m, pid=proc.pid)]
    assert "open" in ops and "close" in ops
    assert set(reads[0]) >= {"seq", "t", "op", "path", "pid", "comm", "uid", "offset", "size",
                             "moved", "errno", "us", "rule"}


def test_errors_and_the_rule_that_fired_are_in_the_trace(m):
    rid = client.add_rule(m.path, "path=mem0 op=read count=1 seed=5 action=eio")
    fd = os.open(m / "mem0", os.O_RDONLY)
    try:
        assert raw_read(fd, 100) == (-1, b"", errno.EIO)
        assert len(os.read(fd, 100)) == 100
    finally:
        os.close(fd)
        client.clear_rules(m.path)
    reads = _events(m, op="read", path="mem0", pid=os.getpid())[-2:]
    assert [(e["errno"], e["moved"], e["rule"], e.get("seed")) for e in reads] == \
        [(errno.EIO, 0, rid, 5), (0, 100, None, None)]


def test_requests_to_the_control_directory_are_never_traced(m):
    for _ in range(3):
        client.read_trace(m.path)
        client.list_rules(m.path)
    assert not [e for e in client.read_trace(m.path) if e["path"].startswith(".iofs")]
    assert not [e for e in client.read_trace(m.path)
                if e["op"] == "lookup" and e["path"] == ".iofs"]


def test_a_small_ring_says_how_much_was_lost(tmp_path):
    cfg = '[options]\ntrace_events = 8\n[[device]]\npath = "zero"\ndriver = "zero"\n'
    with mounted(tmp_path, cfg) as mnt:
        reader = client.TraceReader(mnt.path)
        try:
            first = list(reader.events())
            with open(mnt / "zero", "rb", buffering=0) as f:
                for _ in range(30):
                    f.read(1)
            later = list(reader.events())
        finally:
            reader.close()
        assert "lost" in later[0] and later[0]["lost"] > 0
        assert len(later) == 9  # the lost line, then the 8 events the ring keeps
        assert later[0]["lost"] + 8 + len(first) == later[-1]["seq"] + 1
        assert [e["seq"] for e in later[1:]] == list(range(later[1]["seq"], later[1]["seq"] + 8))


def test_a_read_at_the_end_waits_for_the_next_event_like_trace_pipe(m):
    """cat follows the trace live; O_NONBLOCK at the end gets EAGAIN."""
    fd = os.open(m / ".iofs" / "trace", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                if not os.read(fd, 1 << 20):
                    break
            except BlockingIOError:
                break
        assert raw_read(fd, 4096) == (-1, b"", errno.EAGAIN)
    finally:
        os.close(fd)
    cat = subprocess.Popen(["cat", str(m / ".iofs" / "trace")], stdout=subprocess.PIPE)
    try:
        os.set_blocking(cat.stdout.fileno(), False)
        drained = b""

        def at_the_end() -> bool:  # cat waits in a read of the trace: it has had the ring
            nonlocal drained
            try:
                drained += os.read(cat.stdout.fileno(), 1 << 20)
            except BlockingIOError:
                pass
            return waiting_on_fuse(cat.pid, "read")

        assert wait_for(at_the_end, 20), "cat never waited at the end of the trace"
        assert cat.poll() is None  # waiting at the end, not at EOF
        marker = f"marker-{time.monotonic_ns()}"
        (m / "tmp" / marker).write_bytes(b"x")
        got = b""

        def ops_seen() -> set[str]:
            """The ops of the whole lines cat has printed about the marker file so far."""
            whole = got[:got.rfind(b"\n") + 1]
            return {json.loads(ln)["op"] for ln in whole.splitlines() if marker.encode() in ln}

        # the events come in batches as they happen; read on until the write's has come
        deadline = time.monotonic() + 10
        while not ops_seen() >= {"create", "write"} and time.monotonic() < deadline:
            try:
                got += os.read(cat.stdout.fileno(), 1 << 20)
            except BlockingIOError:
                time.sleep(0.05)
        assert ops_seen() >= {"create", "write"}, got[-2000:]
        # Ctrl-C ends a reader waiting at the end
        cat.send_signal(signal.SIGINT)
        assert cat.wait(5) == -signal.SIGINT
    finally:
        if cat.poll() is None:
            cat.kill()
            cat.wait()
        (m / "tmp" / marker).unlink(missing_ok=True)


def test_detail_shows_the_uio_and_each_uiomove(m):
    client.set_detail(m.path, True)
    try:
        fd = os.open(m / "mem0", os.O_RDWR)
        try:
            os.pwrite(fd, b"hello", 100)
            os.preadv(fd, [bytearray(3), bytearray(4)], 100)
        finally:
            os.close(fd)
        with open(m / "status", "rb", buffering=0) as f:
            f.read(1 << 16)
    finally:
        client.set_detail(m.path, False)
    w = _events(m, op="write", path="mem0", pid=os.getpid())[-1]
    assert (w["uio_before"], w["uio_after"]) == ({"uio_offset": 100, "uio_resid": 5},
                                                 {"uio_offset": 105, "uio_resid": 0})
    assert w["moves"] == [["uiomove_frombuf", 5]]
    r = _events(m, op="read", path="mem0", pid=os.getpid())[-1]
    assert r["size"] == 7 and r["moves"] == [["uiomove_frombuf", 7]]
    assert r["uio_after"] == {"uio_offset": 107, "uio_resid": 0}
    s = _events(m, op="read", path="status", pid=os.getpid())[-1]
    assert s["moves"] and s["moves"][0][0] == "uiomove_frombuf"
    # detail off again: the next events carry none
    with open(m / "zero", "rb", buffering=0) as f:
        f.read(10)
    assert "moves" not in _events(m, op="read", path="zero", pid=os.getpid())[-1]


def test_trace_off_is_an_empty_trace(tmp_path):
    with mounted(tmp_path, '[options]\ntrace = false\n[[device]]\npath = "zero"\ndriver = "zero"\n') as mnt:
        with open(mnt / "zero", "rb") as f:
            f.read(10)
        assert client.read_trace(mnt.path) == []
        client.add_rule(mnt.path, "path=zero action=short:1")  # rules work without a trace
        with open(mnt / "zero", "rb", buffering=0) as f:
            assert len(f.read(10)) == 1


# ---- iofs trace ---------------------------------------------------------------------------------

def test_iofs_trace_prints_human_lines_and_json(m):
    proc = subprocess.run(["dd", f"if={m / 'zero'}", "of=/dev/null", "bs=4k", "count=2"],
                          capture_output=True)
    assert proc.returncode == 0
    res = run_iofs("trace", str(m.path), "--path", "zero", "--op", "read")
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if " dd[" in ln]
    assert len(lines) >= 2
    last = lines[-1].split()
    assert last[1].startswith("dd[") and last[2:6] == ["read", "zero", "4096+4096", "moved=4096"]
    assert last[6].endswith("us")
    js = run_iofs("trace", str(m.path), "--json", "--op", "read", "--path", "z*")
    events = [json.loads(ln) for ln in js.stdout.splitlines()]
    assert events and all(e["op"] == "read" and e["path"] == "zero" for e in events)
    bad = run_iofs("trace", str(m.path), "--op", "reed")
    assert bad.returncode == 2 and "unknown op 'reed'" in bad.stderr


def test_iofs_trace_follow_prints_new_requests(m):
    follow = subprocess.Popen([sys.executable, "-m", "iofs", "trace", str(m.path), "--follow",
                               "--path", "tmp/followed", "--json"], stdout=subprocess.PIPE, text=True)
    try:
        # it has read what the ring held and waits for more
        assert wait_for(lambda: waiting_on_fuse(follow.pid, "read"), 30)
        (m / "tmp" / "followed").write_bytes(b"abc")
        line = follow.stdout.readline()
        assert json.loads(line)["path"] == "tmp/followed"
    finally:
        follow.send_signal(signal.SIGINT)
        follow.wait(10)
        (m / "tmp" / "followed").unlink()
    assert wait_for(lambda: follow.poll() is not None, 5)


def test_names_that_are_not_utf8_keep_the_trace_readable(m):
    """A name's bytes need not be UTF-8: the trace stays valid UTF-8 JSON (\\u escapes that
    os.fsencode turns back into the bytes), and iofs trace prints the bytes as ls does."""
    raw = os.fsencode(m / "tmp") + b"/bad\xff\xfe"
    fd = os.open(raw, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"x")
    os.close(fd)
    (m / "tmp" / "café").write_text("y")
    try:
        events = client.read_trace(m.path)
        paths = {os.fsencode(e["path"]) for e in events}
        assert b"tmp/bad\xff\xfe" in paths and "tmp/café".encode() in paths
        res = subprocess.run([sys.executable, "-m", "iofs", "trace", str(m.path), "--op", "write"],
                             capture_output=True, timeout=30)
        assert res.returncode == 0 and b"tmp/bad\xff\xfe 0+1 moved=1" in res.stdout
        assert "tmp/café 0+1 moved=1".encode() in res.stdout
    finally:
        os.unlink(raw)
        (m / "tmp" / "café").unlink()


def test_trace_detail_option(tmp_path):
    cfg = '[options]\ntrace_detail = true\n[[device]]\npath = "zero"\ndriver = "zero"\n'
    with mounted(tmp_path, cfg) as mnt:
        with open(mnt / "zero", "rb", buffering=0) as f:
            f.read(100)
        read = [e for e in client.read_trace(mnt.path) if e["op"] == "read"][-1]
        assert read["moves"] == [["uiomove", 100]]
        assert read["uio_before"] == {"uio_offset": 0, "uio_resid": 100}


@pytest.mark.parametrize("data", [b"detail=1\xff\n", b"detail=1 " * 1000])
def test_a_write_the_trace_cannot_read_is_einval(m, data):
    fd = os.open(m / ".iofs" / "trace", os.O_WRONLY)
    try:
        with pytest.raises(OSError) as ei:
            os.write(fd, data)
        assert ei.value.errno == errno.EINVAL
    finally:
        os.close(fd)
