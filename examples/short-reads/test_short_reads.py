"""The iofs pytest plugin catching the classic short-read bug: run with `pytest` in this
directory (iofs installed: its fixtures come with it).

buggy.c takes every read(2) of a 16-byte record to be a whole record; fixed.c loops. On a
disk both look right. On iofs, one rule makes a read short, byte-exact, and the bug shows.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
TREE = HERE / "tree.toml"
EXPECTED = "records=4 sum=4321\n"


def run(program, path):  # programs: the fixture of conftest.py, buggy and fixed compiled
    return subprocess.run([str(program), str(path)], capture_output=True, text=True, timeout=30)


def test_both_are_right_without_faults(iofs_mount_factory, programs):
    m = iofs_mount_factory(TREE)
    assert run(programs / "buggy", m.path / "input").stdout == EXPECTED
    assert run(programs / "fixed", m.path / "input").stdout == EXPECTED


def test_a_short_read_breaks_the_buggy_one(iofs_mount_factory, programs):
    m = iofs_mount_factory(TREE)
    m.fault("path=input op=read nth=2 action=short:1")  # the second read alone: 1 byte
    assert run(programs / "buggy", m.path / "input").stdout != EXPECTED
    # what happened, request by request: the trace shows the short read and the rule
    reads = m.trace(path="input", op="read")
    assert [e["moved"] for e in reads[:3]] == [16, 1, 16]
    assert reads[1]["rule"] is not None


def test_the_fixed_one_survives_short_reads_and_eintr(iofs_mount_factory, programs):
    m = iofs_mount_factory(TREE)
    m.fault("path=input op=read action=short:1")       # every read: one byte
    assert run(programs / "fixed", m.path / "input").stdout == EXPECTED
    m.clear()
    m.fault("path=input op=read nth=3 count=1 action=eintr")  # EINTR before any byte
    assert run(programs / "fixed", m.path / "input").stdout == EXPECTED


def test_wait_for_knows_when_the_program_got_there(iofs_mount_factory, programs):
    """wait_for returns once the requests have been served: no sleeps, no polling files."""
    m = iofs_mount_factory(TREE)
    m.fault("path=input op=read nth=2 count=1 action=sleep:300")  # hold the second read
    proc = subprocess.Popen([str(programs / "fixed"), str(m.path / "input")],
                            stdout=subprocess.PIPE, text=True)
    first = m.wait_for(op="read", path="input", count=1)
    assert first[0]["pid"] == proc.pid and first[0]["moved"] == 16
    done = m.wait_for(op="close", path="input", timeout=10)  # the program closed its input
    assert done[0]["pid"] == proc.pid
    assert proc.communicate(timeout=10)[0] == EXPECTED


def sweep(programs, name):
    return subprocess.run([sys.executable, "-m", "iofs", "sweep", "--config", str(TREE),
                           "--actions", "short:1,eintr:1", "--only", "silent", "--",
                           str(programs / name), "{mnt}/input"],
                          capture_output=True, text=True, timeout=300)


def test_sweep_finds_the_bug_in_buggy(programs):
    res = sweep(programs, "buggy")
    assert res.returncode == 1  # a SILENT finding: exit 0, wrong output
    silent = [line for line in res.stdout.splitlines() if line.startswith("SILENT")]
    assert any("action=short:1" in line for line in silent)


def test_sweep_finds_nothing_in_fixed(programs):
    res = sweep(programs, "fixed")
    assert res.returncode == 0, res.stdout
    assert res.stdout == ""


def test_no_silent_finding_through_the_test_api(iofs_sweep, programs):
    """The iofs_sweep fixture: the sweep's findings as objects, in the test's own directory."""
    fixed = iofs_sweep([programs / "fixed", "{mnt}/input"], TREE, actions="short:1,short:half,eio")
    assert fixed.silent == [] and len(fixed.loud) == 5  # every read failing with EIO: said
    buggy = iofs_sweep([programs / "buggy", "{mnt}/input"], TREE, actions="short:half")
    assert [f.rule for f in buggy.silent][:1] == ["path=input op=read nth=1 action=short:8"]
