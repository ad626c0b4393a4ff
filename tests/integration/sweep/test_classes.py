"""What sweep finds in real programs, by class: a program whose only bug is silent, one that
fails loudly and correctly on EIO, one that crashes, real tools that print their input's path
(md5sum, wc, grep -H), a whole small file read with one big read(2), a regular file read in the
same requests clean and faulted, the write side and other ops, and each run starting from the
tree as configured. Reports: --json and --junit parse and hold every case."""

from __future__ import annotations

import json
import re
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.support.sweeping import lines

from .conftest import TREE

pytestmark = pytest.mark.timeout(600)

IGNORES_ERRORS = """import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
data = b""
while True:
    try:
        chunk = os.read(fd, 16)
    except OSError:
        break              # the bug: an error is taken for the end of the file
    if not chunk:
        break
    data += chunk
print(len(data), sum(int(r[4:8]) for r in data.split(b"\\n") if r))
"""

FAILS_LOUDLY = """import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
data = b""
while True:
    try:
        chunk = os.read(fd, 16)
    except OSError as exc:
        sys.exit(f"reader: {exc.strerror}")
    if not chunk:
        break
    data += chunk
print(len(data))
"""


def script(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_silent_bug_is_silent_and_only_silent_exits_1(sweeper, tmp_path):
    prog = script(tmp_path, "ignores.py", IGNORES_ERRORS)
    res = sweeper.run("--config", str(TREE), "--actions", "short:1,eio", "--only", "silent", "--",
                      sys.executable, prog, "{mnt}/input")
    assert res.returncode == 1, res.stderr
    found = res.stdout.splitlines()
    assert found and all(ln.startswith("SILENT path=input op=read nth=") for ln in found)
    assert found[0].startswith("SILENT path=input op=read nth=1 action=eio: exit 0 as clean, "
                               "stdout differs at line 1: '64 4321' -> '0 0'")
    assert "SILENT 4, LOUD 0, CRASH 0, HANG 0 (shown: silent); 5 as clean" in res.stderr


def test_a_program_that_fails_loudly_on_eio_is_only_loud(sweeper, tmp_path):
    prog = script(tmp_path, "loud.py", FAILS_LOUDLY)
    args = ["--config", str(TREE), "--actions", "short:1,eio", "--", sys.executable, prog,
            "{mnt}/input"]
    res = sweeper.run("--only", "silent", *args)
    assert res.returncode == 0, res.stdout
    assert res.stdout == ""
    assert "SILENT 0, LOUD 5, CRASH 0, HANG 0 (shown: silent)" in res.stderr
    every = sweeper.run(*args)
    assert every.returncode == 1
    assert every.stdout.splitlines() == [
        "LOUD path=input op=read nth=1 action=eio: exit 1 (clean: exit 0), stdout differs at "
        "line 1: '64' -> (none), stderr: 'reader: Input/output error' [+4 alike: nth=2 "
        "action=eio, nth=3 action=eio, nth=4 action=eio and 1 more]"]


CRASHES = """import os, signal, sys
data = os.read(os.open(sys.argv[1], os.O_RDONLY), 64)
if len(data) < 64:
    os.kill(os.getpid(), signal.SIGBUS)
print(len(data))
"""

HANGS = """import os, sys, time
data = os.read(os.open(sys.argv[1], os.O_RDONLY), 16)
if len(data) < 16:
    time.sleep(1000)   # the bug: a short read makes it wait for ever
print(data)
"""


def test_a_crash_is_named_and_a_hang_is_killed(sweeper, tmp_path):
    crash = sweeper.run("--config", str(TREE), "--actions", "short:half", "--", sys.executable,
                        script(tmp_path, "crash.py", CRASHES), "{mnt}/input")
    assert crash.returncode == 1
    assert crash.stdout.splitlines() == [
        "CRASH path=input op=read nth=1 action=short:32: killed by SIGBUS (likely mmap artefact "
        "of a short read on a mapped file)"]
    hang = sweeper.run("--config", str(TREE), "--actions", "short:1,ok", "--timeout", "3", "--",
                       sys.executable, script(tmp_path, "hang.py", HANGS), "{mnt}/input")
    assert hang.returncode == 1
    assert hang.stdout.splitlines() == [
        "HANG path=input op=read nth=1 action=short:1: timed out (killed with all its processes)"]


@pytest.mark.parametrize("tool", [["md5sum", "{mnt}/input"], ["wc", "{mnt}/input"],
                                  ["grep", "-H", "rec", "{mnt}/input"]])
def test_programs_that_print_their_input_path_are_swept(sweeper, tool):
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed")
    res = sweeper.run("--config", str(TREE), "--jobs", "2", "--", *tool)
    assert "deterministic" not in res.stderr, res.stderr
    assert lines(res.stderr, "sweep: ") and "SILENT 0" in res.stderr, res.stdout
    # an error names the input as {mnt}/input, whichever worker's mount it was
    loud = lines(res.stdout, "LOUD ")
    assert loud and all("{mnt}/input" in ln for ln in loud if "stderr:" in ln), res.stdout


ONE_BIG_READ = """import hashlib, os, sys
data = os.read(os.open(sys.argv[1], os.O_RDONLY), 1 << 20)   # the bug: one read(2)
print(len(data), hashlib.sha256(data).hexdigest()[:16])
"""


def test_short_half_finds_a_whole_small_file_read_with_one_read(sweeper, tmp_path):
    tree = tmp_path / "small.toml"
    tree.write_text('[[device]]\npath = "small"\ndriver = "text"\n'
                    f'content = "{"0123456789" * 1024}"\n')
    prog = script(tmp_path, "onebig.py", ONE_BIG_READ)
    res = sweeper.run("--config", str(tree), "--actions", "short:half", "--", sys.executable,
                      prog, "{mnt}/small")
    assert res.returncode == 1
    # half of the 10 KiB the read moved, not half of the 1 MiB it asked for
    assert res.stdout.startswith("SILENT path=small op=read nth=1 action=short:5120: exit 0 as "
                                 "clean, stdout differs at line 1: '10240 ")
    default = sweeper.run("--config", str(tree), "--", sys.executable, prog, "{mnt}/small")
    assert lines(default.stdout, "SILENT path=small op=read nth=1 action=short:1:"), default.stdout


REGULAR_FILE = """import os
path = os.environ["IOFS_MNT"] + "/tmp/data"
with open(path, "wb") as f:
    f.write(bytes(range(256)) * 40)              # 10 KiB
fd = os.open(path, os.O_RDONLY)
total = 0
while True:
    chunk = os.read(fd, 1024)
    if not chunk:
        break
    total += sum(chunk)
print(total)
"""


def test_a_regular_file_is_read_in_the_same_requests_clean_and_faulted(sweeper, tmp_path):
    """The clean run reads the file direct_io, as every faulted run does: 10 reads of 1 KiB
    and the one at the end, each faulted run's rule fires on its request."""
    report = tmp_path / "r.json"
    res = sweeper.run("--ops", "read", "--actions", "short:1", "--json", str(report), "--",
                      sys.executable, script(tmp_path, "regular.py", REGULAR_FILE))
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(report.read_text())
    reads = [c for c in doc["cases"] if c["path"] == "tmp/data"]
    assert doc["seen"]["read"] >= 11 and len(reads) == 10
    assert [c["moved"] for c in reads] == [1024] * 10
    assert all(c["fired"] == 1 and c["class"] is None for c in doc["cases"])
    assert doc["unfired"] == 0


WRITER = """import os
d = os.environ["IOFS_MNT"] + "/tmp"
fd = os.open(d + "/out.tmp", os.O_WRONLY | os.O_CREAT, 0o644)
data = b"x" * 5000
done = 0
while done < len(data):
    done += os.write(fd, data[done:])
os.fsync(fd)
os.close(fd)
os.rename(d + "/out.tmp", d + "/out")
fd = os.open(d + "/out", os.O_RDONLY)
os.close(fd)
print("saved", os.path.getsize(d + "/out"))
"""


def test_the_write_side_and_other_ops_on_regular_files(sweeper, tmp_path):
    report = tmp_path / "w.json"
    res = sweeper.run("--ops", "write,fsync,rename,open,close", "--actions", "short:1,eio",
                      "--json", str(report), "--", sys.executable, script(tmp_path, "w.py", WRITER))
    doc = json.loads(report.read_text())
    ops = {c["op"] for c in doc["cases"]}
    assert {"write", "fsync", "rename", "open"} <= ops, ops
    # short:1 shapes data: left out for fsync, rename, open and close, never refused
    assert all(c["action"] == "eio" for c in doc["cases"] if c["op"] != "write")
    assert any(c["action"] == "short:1" and c["class"] is None for c in doc["cases"])
    assert all(c["class"] in ("loud", None) for c in doc["cases"]), res.stdout
    assert "swept (write,fsync,rename,open,close): " in res.stderr
    assert "fsync 1" in res.stderr and "rename 1" in res.stderr


DIRTIES = """import os
m = os.environ["IOFS_MNT"]
fd = os.open(m + "/mem0", os.O_RDWR)
before = os.pread(fd, 8, 0)
os.pwrite(fd, b"dirty!!!", 0)
listing = sorted(os.listdir(m + "/tmp"))
with open(m + "/tmp/left-by-a-run", "w") as f:
    f.write("x")
print(before, listing)
"""


def test_every_run_starts_from_the_tree_as_configured(sweeper, tmp_path):
    """Runs that write a device and make a file: the next run (reset mount) sees neither."""
    res = sweeper.run("--actions", "ok", "--jobs", "2", "--", sys.executable,
                      script(tmp_path, "dirty.py", DIRTIES))
    assert res.returncode == 0, res.stdout + res.stderr
    runs = int(lines(res.stderr, "sweep: ")[-1].split()[1])
    assert runs == 3 and f"; {runs} as clean" in res.stderr


def test_json_and_junit_reports(sweeper, progs, tmp_path):
    j, x = tmp_path / "s.json", tmp_path / "s.xml"
    res = sweeper.run("--config", str(TREE), "--actions", "short:1,eio", "--only", "silent",
                      "--json", str(j), "--junit", str(x), "--", str(progs / "buggy"), "{mnt}/input")
    assert res.returncode == 1
    doc = json.loads(j.read_text())
    assert doc["runs"] == len(doc["cases"]) == doc["chosen"] == 9
    assert doc["counts"] == {"silent": 4, "loud": 5, "crash": 0, "hang": 0, "same": 0, "error": 0}
    for case in doc["cases"]:
        assert {"rule", "class", "exit", "signal", "seconds", "timings", "fired"} <= set(case)
    assert doc["clean"]["exit"] == 0 and doc["exit_status"] == 1
    suite = ET.parse(x).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 9 and suite.get("failures") == "4"
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == [f"path=input op=read nth={k} action=short:1" for k in range(1, 5)]


def test_source_dir_is_swept_on_a_fresh_copy_each_run(sweeper, tmp_path):
    """--source DIR: a program swept on its real input, each run on a fresh copy of DIR (the
    user's DIR untouched: a run that saw an earlier run's append would print 201, not 200, and
    be a finding)."""
    src = tmp_path / "input-dir"
    src.mkdir()
    (src / "data.txt").write_text("".join(f"line {k}\n" for k in range(200)))
    prog = script(tmp_path, "appends.py", "import os, sys\n"
                  "p = os.path.join(os.environ['IOFS_MNT'], 'data.txt')\n"
                  "text = open(p).read()\n"
                  "open(p, 'a').write('a run was here\\n')\n"
                  "print(len(text.splitlines()))\n")
    res = sweeper.run("--source", str(src), "--actions", "short:1", "--", sys.executable, prog)
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"sweep: ([1-9]\d*) cases", res.stderr), res.stderr
    assert lines(res.stderr, "sweep: ")[-1].endswith("as clean")
    assert (src / "data.txt").read_text().count("\n") == 200


TAKES_EAGAIN_FOR_THE_END = """import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
data = b""
while True:
    try:
        chunk = os.read(fd, 16)
    except BlockingIOError:
        break                 # the bug: "no data now" taken for the end of the file
    if not chunk:
        break
    data += chunk
print(len(data))
"""


def test_eagain_is_swept_on_nonblocking_opens_only(sweeper, tmp_path):
    nonblocking = sweeper.run("--config", str(TREE), "--actions", "eagain", "--", sys.executable,
                              script(tmp_path, "nb.py", TAKES_EAGAIN_FOR_THE_END), "{mnt}/input")
    assert nonblocking.returncode == 1
    assert nonblocking.stdout.startswith("SILENT path=input op=read nth=1 action=eagain: exit 0 "
                                         "as clean, stdout differs at line 1: '64' -> '0'")
    blocking = sweeper.run("--config", str(TREE), "--actions", "eagain,eio", "--", sys.executable,
                           script(tmp_path, "b.py", FAILS_LOUDLY), "{mnt}/input")
    assert "sweep: 5 cases of 5 requests x 2 actions; 5 left out" in blocking.stderr
