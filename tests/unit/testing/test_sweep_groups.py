"""The process groups of sweep's runs, in process (no mount): a cgroup holds what the program
forks and is killed and removed whole; the fallback's scan finds a session's processes, the
holders of its output and whatever has its cwd in the mount, and never a child of this
process that is not the program (a sibling worker's fork before its exec, which holds copies
of every descriptor: killing it aborted sweeps with "iofs mount exited -9")."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from iofs.system import cgroup
from iofs.testing.sweep import group

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _spec(tmp_path, argv, cgroups):
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    return group.Spec(argv, dict(os.environ), str(tmp_path), str(mnt), 30.0, cgroups)


@pytest.mark.skipif(not cgroup.usable(), reason="no cgroup v2 can be made here")
def test_a_cgroup_holds_a_double_forked_daemon_and_is_removed(tmp_path):
    marker = tmp_path / "daemon-pid"
    code = ("import os, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            f"        open({str(marker)!r}, 'w').write(str(os.getpid()))\n"
            "        time.sleep(60)\n"
            "    os._exit(0)\n"
            "time.sleep(0.5)\nprint('parent done')\n")
    outcome = group.run(_spec(tmp_path, [sys.executable, "-c", code], True))
    assert outcome.exit == 0 and outcome.stdout.head == b"parent done\n"
    pid = int(marker.read_text())
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert [n for n in os.listdir(cgroup.parent_dir()) if n.startswith(f"iofs-sweep-{os.getpid()}-")] == []


def test_the_fallback_ends_the_session_and_what_holds_the_mount(tmp_path):
    code = ("import os, time, sys\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    null = os.open(os.devnull, os.O_RDWR)\n"
            "    for k in (0, 1, 2): os.dup2(null, k)\n"
            f"    os.chdir({str(tmp_path / 'mnt')!r})\n"
            "    time.sleep(60)\n"
            "print('ok')\n")
    t0 = time.monotonic()
    outcome = group.run(_spec(tmp_path, [sys.executable, "-c", code], False))
    assert outcome.exit == 0 and time.monotonic() - t0 < 20
    found = group.leftovers(-1, set(), str(tmp_path / "mnt"), frozenset())
    assert found == []


def test_a_child_of_this_process_is_never_a_leftover(tmp_path):
    """A fork of this process (here: a sleeper holding a pipe and with its cwd in the mount)
    that is not the program's is left alone; a process it started is not."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r, w = os.pipe()
    pipe = os.readlink(f"/proc/self/fd/{w}")
    child = subprocess.Popen(SLEEPER, cwd=mnt, pass_fds=(w,))
    os.close(w)
    grandchild = subprocess.Popen(["sh", "-c", f"cd {mnt} && exec sleep 60 & wait"])
    try:
        time.sleep(0.3)
        found = group.leftovers(-1, {pipe}, str(mnt), frozenset())
        assert child.pid not in found
        assert grandchild.pid not in found and found  # sh is our child; its sleep is not
    finally:
        for p in (child, grandchild):
            p.kill()
            p.wait()
        for pid in group.leftovers(-1, set(), str(mnt), frozenset()):
            os.kill(pid, 9)
        os.close(r)


def test_a_program_that_cannot_be_found_is_said(tmp_path):
    env = {"PATH": "/nonexistent"}
    assert group.resolve("no-such-prog-iofs", env, None) is None
    assert group.resolve("/bin/sh", env, None) == "/bin/sh"
    assert group.resolve("./x", env, str(tmp_path)) is None
