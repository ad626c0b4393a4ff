"""`iofs sweep` against real programs: the example's buggy and fixed readers, a program that
hangs, parallel runs, the budget, Ctrl-C, a progress bar on a terminal, and bad arguments.
Every sweep must leave no mount and no process behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import one_line_error
from tests.support.paths import REPO
from tests.support.processes import wait_for

EXAMPLE = REPO / "examples" / "short-reads"
TREE = EXAMPLE / "tree.toml"

pytestmark = pytest.mark.timeout(600)


def _sweep_mounts() -> list[str]:
    with open("/proc/self/mounts") as f:
        return [ln.split()[1] for ln in f if "/iofs-sweep-" in ln.split()[1]]


@pytest.fixture(autouse=True)
def nothing_left():
    yield
    assert _sweep_mounts() == [], "a sweep left a mount behind"


@pytest.fixture(scope="module")
def progs(tmp_path_factory):
    out = tmp_path_factory.mktemp("progs")
    for name in ("buggy", "fixed"):
        subprocess.run(["gcc", "-O2", "-Wall", "-o", str(out / name), str(EXAMPLE / f"{name}.c")],
                       check=True)
    return out


def sweep(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "iofs", "sweep", *args], capture_output=True,
                          text=True, timeout=timeout)


def _killed_leftovers(script: Path) -> list[str]:
    """The pids of processes still running ``script``, each killed, so that a failing test
    leaves none behind either: a sweep must have left none."""
    left = subprocess.run(["pgrep", "-f", str(script)], capture_output=True, text=True).stdout.split()
    for pid in left:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def _fails(res) -> list[str]:
    return [ln for ln in res.stdout.splitlines() if ln.startswith("FAIL ")]


def test_the_example_test_file_passes_as_a_user_runs_it():
    """examples/short-reads/test_short_reads.py, run by pytest in a process of its own: the
    plugin catches the buggy program, wait_for works, and sweep finds the bug."""
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
                         capture_output=True, text=True, timeout=300, cwd=EXAMPLE)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "6 passed" in res.stdout


def test_sweep_finds_short_reads_in_buggy(progs):
    res = sweep("--config", str(TREE), "--actions", "short:1,eintr:1", "--",
                str(progs / "buggy"), "{mnt}/input")
    assert res.returncode == 1, res.stderr
    fails = _fails(res)
    assert "FAIL path=input op=read nth=1 count=1 action=short:1: stdout differs" in fails
    # each failing case says how to reproduce it, in both forms
    assert "  reproduce: iofs fault MNT add 'path=input op=read nth=1 count=1 action=short:1'" \
        in res.stdout
    assert '    action = "short:1"' in res.stdout and "    [[fault]]" in res.stdout
    # the EOF read made EINTR without progress: buggy says so on stderr, which is shown
    assert "  stderr: read: Interrupted system call" in res.stdout
    assert "sweep: 10 runs, 9 failing" in res.stderr


def test_sweep_finds_nothing_in_fixed(progs):
    res = sweep("--config", str(TREE), "--actions", "short:1,eintr:1", "--",
                str(progs / "fixed"), "{mnt}/input")
    assert res.returncode == 0, res.stdout
    assert _fails(res) == []
    assert "sweep: 10 runs, 0 failing" in res.stderr


def test_jobs_2_finds_the_same(progs):
    one = sweep("--config", str(TREE), "--actions", "short:half,eio", "--",
                str(progs / "buggy"), "{mnt}/input")
    two = sweep("--config", str(TREE), "--actions", "short:half,eio", "--jobs", "2", "--",
                str(progs / "buggy"), "{mnt}/input")
    assert one.returncode == two.returncode == 1
    assert sorted(_fails(one)) == sorted(_fails(two)) and _fails(one)


HANGS = r'''
import os, sys, time
fd = os.open(os.path.join(os.environ["IOFS_MNT"], "input"), os.O_RDONLY)
data = os.read(fd, 16)
if len(data) < 16:
    time.sleep(1000)   # the bug: a short read makes it wait for ever
print(data)
'''


def test_a_program_that_hangs_counts_as_failing_and_is_killed(tmp_path):
    script = tmp_path / "hangs.py"
    script.write_text(HANGS)
    t0 = time.monotonic()
    res = sweep("--config", str(TREE), "--actions", "short:1,ok", "--timeout", "3", "--",
                sys.executable, str(script))
    assert res.returncode == 1
    assert _fails(res) == ["FAIL path=input op=read nth=1 count=1 action=short:1: timed out"]
    assert time.monotonic() - t0 < 120
    assert _killed_leftovers(script) == []


def test_max_runs_is_a_budget(progs):
    res = sweep("--config", str(TREE), "--max-runs", "3", "--", str(progs / "buggy"), "{mnt}/input")
    assert "(running 3: --max-runs)" in res.stderr
    assert "sweep: 3 runs," in res.stderr and "27 cases not run" in res.stderr


def test_ctrl_c_leaves_no_mount_and_no_process(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import os, time\nos.open(os.environ['IOFS_MNT'] + '/input', 0)\n"
                      "fd = os.open(os.environ['IOFS_MNT'] + '/input', 0); os.read(fd, 1)\n"
                      "time.sleep(2)\n")
    proc = subprocess.Popen([sys.executable, "-m", "iofs", "sweep", "--config", str(TREE), "--jobs", "2",
                             "--", sys.executable, str(script)], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(_sweep_mounts()) >= 1, 30)
        time.sleep(5)  # into the faulted runs
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "interrupted; every mount is gone" in err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _sweep_mounts() == []
    assert _killed_leftovers(script) == []


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux script(1) is needed")
def test_a_progress_bar_on_a_terminal(progs):
    cmd = (f"{sys.executable} -m iofs sweep --config {TREE} --actions short:1 -- "
           f"{progs / 'fixed'} {{mnt}}/input")
    res = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout
    assert "[" + "#" * 30 + "] 5/5 runs, 0 failing" in res.stdout


@pytest.mark.parametrize("args,phrase", [
    (["--ops", "read,frob", "--", "true"], "unknown op 'frob'"),
    (["--actions", "short:1,nope", "--", "true"], "--actions nope"),
    (["--ops", "open", "--actions", "short:1", "--", "true"], "shapes the data"),
    (["--"], "no command to sweep"),
    (["--jobs", "0", "--", "true"], "--jobs must be >= 1"),
    (["--", "/nonexistent/prog", "{mnt}/input"], "cannot run /nonexistent/prog: no such command"),
    (["--", "no-such-command-iofs"], "cannot run no-such-command-iofs: no such command"),
])
def test_bad_arguments_are_one_line_exit_2(args, phrase):
    res = sweep(*args)
    assert res.returncode == 2
    assert phrase in one_line_error(res)


def test_bad_config_is_one_line_exit_2(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[device]]\npath = "x"\ndriver = "nosuch"\n')
    res = sweep("--config", str(cfg), "--", "true")
    assert res.returncode == 2 and "unknown driver" in one_line_error(res)


def test_a_program_that_is_not_deterministic_is_refused(tmp_path):
    script = tmp_path / "random.py"
    script.write_text("import os\nprint(os.urandom(8).hex())\n")
    res = sweep("--", sys.executable, str(script))
    assert res.returncode == 1
    assert "deterministic" in one_line_error(res)


def test_a_rule_that_never_fires_is_said(tmp_path):
    """A program that makes other requests than in the clean runs (here: it reads twice in
    its first two runs, once after; its output is the same) makes rules miss: the summary
    says in how many runs."""
    script = tmp_path / "drifting.py"
    counter = tmp_path / "runs"
    script.write_text(f"""import os
from pathlib import Path
c = Path({str(counter)!r}); n = int(c.read_text()) if c.exists() else 0; c.write_text(str(n + 1))
fd = os.open(os.environ['IOFS_MNT'] + '/input', os.O_RDONLY)
for _ in range(2 if n < 2 else 1):
    os.read(fd, 16)
print('done')
""")
    res = sweep("--config", str(TREE), "--actions", "ok", "--", sys.executable, str(script))
    assert res.returncode == 0, res.stdout
    assert "sweep: 2 runs, 0 failing" in res.stderr
    assert "sweep: in 1 runs the rule never fired" in res.stderr


COUNTS_MOUNTS = """import os
mnt = os.environ['IOFS_MNT']
sweep = os.path.dirname(os.path.dirname(mnt))  # the sweep's directory: every run's mount is in it
with open('/proc/self/mounts') as f:
    mine = [line.split()[1] for line in f if line.split()[1].startswith(sweep + '/')]
fd = os.open(os.path.join(mnt, 'input'), os.O_RDONLY)
data = os.read(fd, 16)
print(mine == [mnt], len(mine), len(data))
"""


def test_each_run_has_the_only_mount_of_the_sweep(tmp_path):
    """A run's mount is stopped when that run ends, not at the end of the sweep: every run,
    clean or faulted, sees its own mount and no other."""
    script = tmp_path / "counts.py"
    script.write_text(COUNTS_MOUNTS)
    res = sweep("--config", str(TREE), "--actions", "ok,short:1", "--", sys.executable,
                str(script))
    assert _fails(res) == ["FAIL path=input op=read nth=1 count=1 action=short:1: stdout differs"]
    assert res.returncode == 1 and "sweep: 2 runs, 1 failing" in res.stderr, res.stderr


def test_a_command_that_makes_no_request_in_the_mount_is_said(tmp_path):
    """A command that ignores {mnt} has nothing to sweep: that is an error, not a pass."""
    res = sweep("--config", str(TREE), "--", "echo", "hello")
    assert res.returncode == 1
    assert "made no read,write request in the mount" in one_line_error(res)


ESCAPES = """import os, sys, time
fd = os.open(os.environ['IOFS_MNT'] + '/input', os.O_RDONLY)
os.read(fd, 16)
if os.fork() == 0:  # a daemon: out of the session, holding stdout, outliving the program
    os.setsid()
    if os.fork() == 0:
        time.sleep(60)
    os._exit(0)
print('done')
"""


def test_a_daemon_the_program_leaves_is_killed_and_does_not_stall_the_run(tmp_path):
    script = tmp_path / "escapes.py"
    script.write_text(ESCAPES)
    t0 = time.monotonic()
    res = sweep("--config", str(TREE), "--actions", "ok", "--timeout", "30", "--",
                sys.executable, str(script))
    try:
        assert res.returncode == 0, res.stderr
        assert "sweep: 1 runs, 0 failing" in res.stderr
        assert time.monotonic() - t0 < 30  # three runs, none waited for the daemon
    finally:
        left = _killed_leftovers(script)
    assert left == [], "the program's daemon outlived the sweep"


def test_ctrl_c_in_the_clean_run_kills_the_program(tmp_path):
    script = tmp_path / "slow-clean.py"
    started = tmp_path / "started"
    script.write_text("import os, time\nfd = os.open(os.environ['IOFS_MNT'] + '/input', 0)\n"
                      f"os.read(fd, 1)\nopen({str(started)!r}, 'w').close()\ntime.sleep(300)\n")
    proc = subprocess.Popen([sys.executable, "-m", "iofs", "sweep", "--config", str(TREE), "--",
                             sys.executable, str(script)], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(started.exists, 30)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        left = _killed_leftovers(script)
    assert left == [], "the clean run's program outlived the sweep"
    assert _sweep_mounts() == []


def test_gigabytes_of_stdout_are_compared_not_kept(tmp_path):
    script = tmp_path / "loud.py"
    script.write_text("import os, sys\nfd = os.open(os.environ['IOFS_MNT'] + '/input', 0)\n"
                      "os.read(fd, 16)\nblock = b'x' * (1 << 20)\n"
                      "for _ in range(1024):\n    sys.stdout.buffer.write(block)\n")
    measure = ("import resource, subprocess, sys\n"
               "res = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
               "print(res.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    res = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "iofs", "sweep",
                          "--config", str(TREE), "--actions", "ok", "--", sys.executable, str(script)],
                         capture_output=True, text=True, timeout=300)
    status, peak_kib = map(int, res.stdout.split())
    assert status == 0
    assert peak_kib < 300 * 1024, f"sweep held {peak_kib // 1024} MiB for 1 GiB of stdout"
