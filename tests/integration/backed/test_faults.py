"""Faults, the trace and sweep on the files of a host directory, exactly as on in-memory ones:
byte-exact short reads, an errno after N bytes (what went before it is in the host file), a
corrupt read changes the reply and never the host file, a corrupt write stores the corrupted
bytes in it; ``iofs sweep`` over a host directory and over a ``[[file]]``."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from iofs.testing import client
from tests.support.cli import add_fault
from tests.support.mounting import mounted
from tests.support.paths import REPO

RECORDS = b"rec 0001 first.\nrec 0020 second\nrec 0300 third.\nrec 4000 fourth\n"


def test_a_short_read_is_byte_exact(serve, host):
    m = serve(host)
    add_fault(m, "path=sub/data.bin op=read nth=2 count=1 action=short:7")
    fd = os.open(m / "sub" / "data.bin", os.O_RDONLY)
    try:
        assert len(os.read(fd, 1000)) == 1000
        assert os.read(fd, 1000) == bytes(range(256))[1000 % 256:][:7]  # 7 bytes, from 1000
        assert os.read(fd, 9) == bytes((1007 + k) % 256 for k in range(9))
    finally:
        os.close(fd)
    moved = [e["moved"] for e in client.read_trace(m.path) if e["path"] == "sub/data.bin"
             and e["op"] == "read"]
    assert moved[:3] == [1000, 7, 9]


def test_an_errno_after_n_bytes_leaves_those_bytes_in_the_host(serve, host):
    m = serve(host)
    add_fault(m, "path=out op=write action=eio:4096")
    fd = os.open(m / "out", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with pytest.raises(OSError) as ei:
            os.write(fd, b"a" * 10000)
        assert ei.value.errno == errno.EIO
    finally:
        os.close(fd)
    assert (host / "out").read_bytes() == b"a" * 4096
    add_fault(m, "path=hello.txt op=read action=eio:5")
    with pytest.raises(OSError) as ei:
        (m / "hello.txt").read_bytes()
    assert ei.value.errno == errno.EIO


def test_a_corrupt_read_changes_the_reply_never_the_host(serve, host):
    m = serve(host)
    want = (host / "sub" / "data.bin").read_bytes()
    add_fault(m, "path=sub/data.bin op=read seed=3 action=corrupt:4")
    got = (m / "sub" / "data.bin").read_bytes()
    assert len(got) == len(want) and got != want
    assert sum(a != b for a, b in zip(got, want)) <= 4 * ((len(want) + 131071) // 131072)
    assert (host / "sub" / "data.bin").read_bytes() == want


def test_a_corrupt_write_stores_the_corrupted_bytes_in_the_host(serve, host):
    m = serve(host)
    add_fault(m, "path=w op=write seed=5 action=corrupt:3")
    data = bytes(range(256)) * 16
    fd = os.open(m / "w", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        assert os.write(fd, data) == len(data)
    finally:
        os.close(fd)
    stored = (host / "w").read_bytes()
    assert len(stored) == len(data) and 0 < sum(a != b for a, b in zip(stored, data)) <= 3


def test_the_trace_names_the_host_files_by_their_path_in_the_mount(tmp_path, host):
    with mounted(tmp_path / "m", f'[[dir]]\npath = "data"\nsource = "{host}"\n') as m:
        (m / "data" / "sub" / "data.bin").read_bytes()
        (m / "data" / "new").write_bytes(b"12345")
        events = client.read_trace(m.path)
    reads = [e for e in events if e["op"] == "read" and e["path"] == "data/sub/data.bin"]
    writes = [e for e in events if e["op"] == "write" and e["path"] == "data/new"]
    assert sum(e["moved"] for e in reads) == 256 * 64
    assert [e["moved"] for e in writes] == [5]
    assert any(e["op"] == "create" and e["path"] == "data/new" for e in events)


@pytest.fixture(scope="module")
def buggy(tmp_path_factory):
    out = tmp_path_factory.mktemp("progs") / "buggy"
    subprocess.run(["gcc", "-O2", "-o", str(out), str(REPO / "examples" / "short-reads" / "buggy.c")],
                   check=True)
    return out


@pytest.mark.parametrize("where", ["dir", "file"])
def test_sweep_finds_the_short_read_bug_in_a_host_file(tmp_path, buggy, where):
    """The example's buggy reader, its input a file of a host directory or a [[file]] read
    from the host at mount: sweep finds the same bug as with the example's device."""
    (tmp_path / "records").write_bytes(RECORDS)
    if where == "dir":
        (tmp_path / "host").mkdir()
        (tmp_path / "host" / "input").write_bytes(RECORDS)
        tree, arg = f'[[dir]]\npath = "data"\nsource = "{tmp_path / "host"}"\n', "{mnt}/data/input"
        path = "data/input"
    else:
        tree, arg = f'[[file]]\npath = "input"\nsource = "{tmp_path / "records"}"\n', "{mnt}/input"
        path = "input"
    cfg = tmp_path / "tree.toml"
    cfg.write_text(tree)
    res = subprocess.run([sys.executable, "-m", "iofs", "sweep", "--config", str(cfg),
                          "--ops", "read", "--actions", "short:1", "--", str(buggy), arg],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert f"SILENT path={path} op=read nth=1 action=short:1: exit 0 as clean, stdout differs" \
        in res.stdout
    if where == "dir":
        assert (tmp_path / "host" / "input").read_bytes() == RECORDS
