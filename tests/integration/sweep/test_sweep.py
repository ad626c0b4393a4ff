"""`iofs sweep` against the example's buggy and fixed readers: what it finds and how it says
it (one line per group of alike findings, the rule with nth=K alone, -v details), --jobs, the
budget and the choice (--max-runs, --nth, --sample), a progress bar on a terminal, bad
arguments. Every sweep leaves nothing behind (the sweeper fixture checks)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.support.cli import one_line_error
from tests.support.sweeping import lines

from .conftest import EXAMPLE, TREE

pytestmark = pytest.mark.timeout(600)


def test_the_example_test_file_passes_as_a_user_runs_it():
    """examples/short-reads/test_short_reads.py, run by pytest in a process of its own: the
    plugin catches the buggy program, wait_for works, and sweep finds the bug."""
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
                         capture_output=True, text=True, timeout=300, cwd=EXAMPLE)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "7 passed" in res.stdout


def test_buggy_is_silent_on_short_reads(sweeper, progs):
    res = sweeper.run("--config", str(TREE), "--actions", "short:1,eintr:1", "--",
                      str(progs / "buggy"), "{mnt}/input")
    assert res.returncode == 1, res.stderr
    found = res.stdout.splitlines()
    # one line per group: short:1 and eintr:1 (a short count too) on the same read do the same
    assert found[0] == ("SILENT path=input op=read nth=1 action=short:1: exit 0 as clean, stdout "
                        "differs at line 1: 'records=4 sum=4321' -> 'records=5 sum=321' "
                        "[+1 alike: nth=1 action=eintr:1]")
    assert len(found) == 4 and all(ln.startswith("SILENT ") for ln in found)
    assert "count=" not in res.stdout
    # the EOF read moved nothing: neither a short read nor EINTR after a byte can change it
    assert "sweep: 8 cases of 5 requests x 2 actions; 2 left out (they cannot change anything); " \
           "running 8" in res.stderr
    assert lines(res.stderr, "sweep: 8 runs in ")[0].endswith(
        "SILENT 8, LOUD 0, CRASH 0, HANG 0; 0 as clean")


def test_verbose_shows_the_rule_a_diff_and_stderr(sweeper, progs):
    res = sweeper.run("--config", str(TREE), "--actions", "eio", "--nth", "2", "-v", "--",
                      str(progs / "buggy"), "{mnt}/input")
    assert res.returncode == 1
    out = res.stdout.splitlines()
    assert out[0].startswith("LOUD path=input op=read nth=2 action=eio: exit 1 (clean: exit 0)")
    assert out[0].endswith("stderr: 'read: Input/output error'")
    assert "  reproduce: iofs fault MNT add 'path=input op=read nth=2 action=eio'" in out
    assert '    action = "eio"' in out and "    [[fault]]" in out
    assert "    -records=4 sum=4321" in out
    assert out[-2:] == ["  stderr (last lines):", "    read: Input/output error"]


def test_fixed_survives_short_reads_and_eintr(sweeper, progs):
    res = sweeper.run("--config", str(TREE), "--actions", "short:1,short:half,eintr:1,eintr",
                      "--", str(progs / "fixed"), "{mnt}/input")
    assert res.returncode == 0, res.stdout
    assert res.stdout == ""
    assert "SILENT 0, LOUD 0, CRASH 0, HANG 0; 17 as clean" in res.stderr


def test_jobs_2_finds_the_same(sweeper, progs):
    args = ["--config", str(TREE), "--actions", "short:half,eio", "--json"]
    one = sweeper.run(*args, str(sweeper.work.parent / "one.json"), "--",
                      str(progs / "buggy"), "{mnt}/input")
    two = sweeper.run(*args, str(sweeper.work.parent / "two.json"), "--jobs", "2", "--",
                      str(progs / "buggy"), "{mnt}/input")
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout and one.stdout


def test_max_runs_is_a_budget(sweeper, progs):
    res = sweeper.run("--config", str(TREE), "--max-runs", "3", "--", str(progs / "buggy"),
                      "{mnt}/input")
    assert "running 3 (--max-runs)" in res.stderr
    assert "sweep: 3 runs in " in res.stderr and "15 of 18 cases not run" in res.stderr


def test_a_seeded_sample_across_all_requests(sweeper, progs):
    args = ["--config", str(TREE), "--actions", "short:1,eio", "--sample", "3", "--seed", "7",
            "--", str(progs / "buggy"), "{mnt}/input"]
    a, b = sweeper.run(*args), sweeper.run(*args)
    assert "running 3 (--sample 3 --seed 7)" in a.stderr
    assert a.stdout == b.stdout  # the same seed, the same cases


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux script(1) is needed")
def test_a_progress_bar_on_a_terminal(sweeper, progs):
    cmd = (f"{sys.executable} -m iofs sweep --config {TREE} --actions short:1,eio -- "
           f"{progs / 'fixed'} {{mnt}}/input")
    res = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                         timeout=300, env=sweeper.env())
    assert res.returncode == 1, res.stdout
    assert "[" + "#" * 30 + "] 9/9 runs: LOUD 5" in res.stdout


@pytest.mark.parametrize("args,phrase", [
    (["--ops", "read,frob", "--", "true"], "unknown op 'frob'"),
    (["--actions", "short:1,nope", "--", "true"], "--actions nope"),
    (["--ops", "open", "--actions", "short:1", "--", "true"], "shapes the data"),
    (["--only", "silent,quiet", "--", "true"], "--only 'quiet'"),
    (["--nth", "0", "--", "true"], "nth is K, K+, K+S or K..L"),
    (["--"], "no command to sweep"),
    (["--jobs", "0", "--", "true"], "--jobs must be >= 1"),
    (["--source", "/nonexistent/dir", "--", "true"], "not a directory"),
    (["--", "/nonexistent/prog", "{mnt}/input"], "cannot run /nonexistent/prog: no such command"),
    (["--", "no-such-command-iofs"], "cannot run no-such-command-iofs: no such command"),
])
def test_bad_arguments_are_one_line_exit_2(sweeper, args, phrase):
    res = sweeper.run(*args)
    assert res.returncode == 2
    assert phrase in one_line_error(res)


def test_bad_config_is_one_line_exit_2(sweeper, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[device]]\npath = "x"\ndriver = "nosuch"\n')
    res = sweeper.run("--config", str(cfg), "--", "true")
    assert res.returncode == 2 and "unknown driver" in one_line_error(res)


def test_a_program_that_is_not_deterministic_is_refused(sweeper, tmp_path):
    script = tmp_path / "random.py"
    script.write_text("import os\nprint(os.urandom(8).hex())\n")
    res = sweeper.run("--", sys.executable, str(script))
    assert res.returncode == 1
    assert "deterministic" in one_line_error(res)


def test_a_command_that_makes_no_request_in_the_mount_is_said(sweeper):
    """A command that ignores {mnt} has nothing to sweep: that is an error, not a pass."""
    res = sweeper.run("--config", str(TREE), "--", "echo", "hello")
    assert res.returncode == 1
    assert "made no read,write request in the mount" in one_line_error(res)


def test_a_rule_that_never_fires_is_said(sweeper, tmp_path):
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
    res = sweeper.run("--config", str(TREE), "--actions", "ok", "--", sys.executable, str(script))
    assert res.returncode == 0, res.stdout
    assert "sweep: 2 runs in " in res.stderr
    assert "sweep: in 1 runs the rule never fired" in res.stderr


def test_gigabytes_of_stdout_are_compared_not_kept(sweeper, tmp_path):
    script = tmp_path / "loud.py"
    script.write_text("import os, sys\nfd = os.open(os.environ['IOFS_MNT'] + '/input', 0)\n"
                      "os.read(fd, 16)\nblock = b'x' * (1 << 20)\n"
                      "for _ in range(1024):\n    sys.stdout.buffer.write(block)\n")
    measure = ("import resource, subprocess, sys\n"
               "res = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
               "print(res.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    res = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "iofs", "sweep",
                          "--config", str(TREE), "--actions", "ok", "--", sys.executable, str(script)],
                         capture_output=True, text=True, timeout=300, env=sweeper.env())
    status, peak_kib = map(int, res.stdout.split())
    assert status == 0
    assert peak_kib < 300 * 1024, f"sweep held {peak_kib // 1024} MiB for 1 GiB of stdout"


def test_a_closed_stdout_ends_the_list_not_the_sweep(sweeper, progs):
    """``iofs sweep ... | head -1``: the rest of the findings is dropped, the sweep ends as
    always (summary, clean-up, exit status) and says nothing of a broken pipe."""
    cmd = (f"{sys.executable} -m iofs sweep --config {TREE} --actions short:1,eio -- "
           f"{progs / 'buggy'} {{mnt}}/input | head -1; echo status ${{PIPESTATUS[0]}}")
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300,
                         env=sweeper.env())
    assert res.stdout.splitlines()[0].startswith("SILENT ")
    assert res.stdout.splitlines()[-1] == "status 1"
    assert "Traceback" not in res.stderr and "Broken pipe" not in res.stderr
