"""sweep leaves nothing, whatever the program or the signal: SIGINT, SIGTERM and SIGHUP end a
sweep cleanly (in its clean run or its faulted runs, the runs made so far reported); a program
that double-forks, calls setsid, points its stdio at /dev/null and stays in the mount is ended
with its cgroup, and by the fallback where cgroups are not used; a run that kills the mount's
daemon is made again on a new mount, and the sweep goes on."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from iofs.testing.sweep import CGROUPS_ENV
from tests.support.processes import wait_for
from tests.support.sweeping import killed_processes, lines

from .conftest import TREE

pytestmark = pytest.mark.timeout(600)

SLOW = """import os, time
fd = os.open(os.environ['IOFS_MNT'] + '/input', 0)
while os.read(fd, 16):
    time.sleep(0.3)
print('done')
"""


def _read_until(stream, text: str, timeout: float = 60) -> list[str]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"never saw {text!r}: {''.join(seen)}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_ends_the_faulted_runs_cleanly(sweeper, tmp_path, sig):
    prog = tmp_path / "slow.py"
    prog.write_text(SLOW)
    p = sweeper.start("--config", str(TREE), "--actions", "short:1,eio", "--jobs", "2", "--",
                      sys.executable, str(prog))
    try:
        _read_until(p.stderr, "running")  # the cases are known: faulted runs under way
        time.sleep(1.5)
        p.send_signal(sig)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 128 + sig, err
    assert "sweep: interrupted; every mount is gone" in err
    assert "Traceback" not in err
    assert lines(err, "sweep: ") and " runs in " in err  # the runs made so far, summed up
    assert killed_processes(prog) == []


def test_sigterm_in_the_clean_run_kills_the_program(sweeper, tmp_path):
    started = tmp_path / "started"
    prog = tmp_path / "slow-clean.py"
    prog.write_text("import os, time\nfd = os.open(os.environ['IOFS_MNT'] + '/input', 0)\n"
                    f"os.read(fd, 1)\nopen({str(started)!r}, 'w').close()\ntime.sleep(300)\n")
    p = sweeper.start("--config", str(TREE), "--", sys.executable, str(prog))
    try:
        assert wait_for(started.exists, 60)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 143 and "Traceback" not in err, err
    assert "interrupted; every mount is gone" in err
    assert killed_processes(prog) == [], "the clean run's program outlived the sweep"


STAYS_IN_THE_MOUNT = """import os, sys, time
mnt = os.environ['IOFS_MNT']
fd = os.open(mnt + '/input', os.O_RDONLY)
os.read(fd, 16)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:          # a daemon: its own session, stdio on /dev/null, cwd in the mount
        null = os.open(os.devnull, os.O_RDWR)
        for k in (0, 1, 2):
            os.dup2(null, k)
        os.chdir(mnt)
        time.sleep(120)
    os._exit(0)
print('done')
"""

HOLDS_STDOUT = """import os, sys, time
fd = os.open(os.environ['IOFS_MNT'] + '/input', os.O_RDONLY)
os.read(fd, 16)
if os.fork() == 0:  # a daemon: out of the session, holding stdout, outliving the program
    os.setsid()
    if os.fork() == 0:
        time.sleep(60)
    os._exit(0)
print('done')
"""


@pytest.mark.parametrize("cgroups", ["1", "0"], ids=["cgroup", "fallback"])
@pytest.mark.parametrize("name,text", [("stays.py", STAYS_IN_THE_MOUNT),
                                       ("holds.py", HOLDS_STDOUT)], ids=["in-mount", "stdout"])
def test_a_daemon_the_program_leaves_is_killed(sweeper, tmp_path, cgroups, name, text):
    prog = tmp_path / name
    prog.write_text(text)
    t0 = time.monotonic()
    res = sweeper.run("--config", str(TREE), "--actions", "ok", "--timeout", "30", "--",
                      sys.executable, str(prog), env={CGROUPS_ENV: cgroups})
    try:
        assert res.returncode == 0, res.stderr
        assert "; 1 as clean" in res.stderr
        assert time.monotonic() - t0 < 30  # no run waited for the daemon
    finally:
        left = killed_processes(prog)
    assert left == [], "the program's daemon outlived the sweep"


KILLS_THE_DAEMON = """import os, signal
from pathlib import Path
from iofs.system.state import read_pid_file
mnt = os.environ['IOFS_MNT']
c = Path({counter!r}); n = int(c.read_text()) if c.exists() else 0; c.write_text(str(n + 1))
fd = os.open(mnt + '/input', os.O_RDONLY)
while os.read(fd, 16):
    pass
if n == 3:                       # the second faulted run: the mount's daemon dies under it
    os.kill(read_pid_file(mnt)[0], signal.SIGKILL)
print('done')
"""


def test_a_run_that_breaks_the_mount_is_made_again_and_the_sweep_goes_on(sweeper, tmp_path):
    prog = tmp_path / "kills.py"
    prog.write_text(KILLS_THE_DAEMON.format(counter=str(tmp_path / "runs")))
    res = sweeper.run("--config", str(TREE), "--actions", "ok", "--", sys.executable, str(prog))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "; 5 as clean" in res.stderr and "could not be made" not in res.stderr
    assert int((tmp_path / "runs").read_text()) == 8  # 2 clean, 5 faulted, 1 made again
