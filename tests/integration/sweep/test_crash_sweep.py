"""``iofs sweep --crash --check CMD``: ALICE's loop on unmodified programs. A crash at each
request that changes what a disk holds, a restart, and a checker that says whether the data
survived: the write-then-rename pattern without fsync is found (and the rule it prints
reproduces it by hand), with fsync it is not; SQLite with synchronous=FULL keeps every commit
at every crash point, with synchronous=OFF it does not."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from iofs.testing import client
from iofs.testing.sweep import sweep
from tests.support.sweeping import lines

pytestmark = pytest.mark.timeout(900)

REPLACE = textwrap.dedent('''
    import os, sys
    d, how = sys.argv[1], sys.argv[2]   # how: nosync, fsync, fsync+dir
    fd = os.open(f"{d}/f.tmp", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, b"new content")
    if how != "nosync":
        os.fsync(fd)
    os.close(fd)
    os.rename(f"{d}/f.tmp", f"{d}/f")
    if how == "fsync+dir":
        dfd = os.open(d, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    print("done", flush=True)
''')

# f is old or new, whole; once the program said "done", it is new
CHECK_REPLACE = textwrap.dedent('''
    import sys
    mnt, said = sys.argv[1], open(sys.argv[2]).read()
    try:
        data = open(f"{mnt}/tmp/f", "rb").read()
    except FileNotFoundError:
        data = None
    if "done" in said and data != b"new content":
        sys.exit(f"the program said done, and f is {data!r}")
    if data not in (None, b"new content"):
        sys.exit(f"f is neither old nor new: {data!r}")
''')

TREE = '[options]\n{options}\n[[dir]]\npath = "tmp"\nmode = "1777"\n'


def _files(tmp_path):
    (tmp_path / "replace.py").write_text(REPLACE)
    (tmp_path / "check_replace.py").write_text(CHECK_REPLACE)
    return tmp_path / "replace.py", f"{sys.executable} {tmp_path / 'check_replace.py'} {{mnt}} {{stdout}}"


def _tree(tmp_path, **options) -> str:
    path = tmp_path / "tree.toml"
    path.write_text(TREE.format(options="\n".join(f"{k} = {json.dumps(v)}"
                                                  for k, v in options.items())))
    return str(path)


def test_a_rename_without_fsync_is_found_and_its_rule_reproduces_it(sweeper, tmp_path):
    prog, check = _files(tmp_path)
    res = sweeper.run("--crash", "--check", check, "--config", _tree(tmp_path), "--",
                      sys.executable, str(prog), "{mnt}/tmp", "nosync")
    assert res.returncode == 1, res.stderr
    found = lines(res.stdout, 'CHECK ')
    assert found and len(found) == len(res.stdout.splitlines())  # nothing but CHECK lines
    assert any("op=rename nth=1 action=crash:" in ln and "said done" in ln for ln in found), found
    assert f"CHECK {len(found)}, HANG 0" in res.stderr
    # the rule, by hand: add it, run the program, restart, check
    rule = next(ln for ln in found if "op=rename" in ln).split(" ", 1)[1].split(": ", 1)[0]
    mp = tmp_path / "mnt"
    mp.mkdir()
    subprocess.run([sys.executable, "-m", "iofs", "mount", str(mp), "--config",
                    _tree(tmp_path, durability=True)], check=True)
    try:
        client.add_rule(mp, rule)
        out = subprocess.run([sys.executable, str(prog), str(mp / "tmp"), "nosync"],
                             capture_output=True, text=True)
        assert out.stdout == "done\n"  # the rename was served, then the crash
        client.clear_rules(mp)
        client.restart(mp)
        said = tmp_path / "said"
        said.write_text(out.stdout)
        checked = subprocess.run(check.replace("{mnt}", str(mp)).replace("{stdout}", str(said)),
                                 shell=True, capture_output=True, text=True)
        assert checked.returncode == 1 and "the program said done" in checked.stderr
    finally:
        subprocess.run([sys.executable, "-m", "iofs", "umount", str(mp)])


def test_with_fsync_before_the_rename_nothing_is_found(sweeper, tmp_path):
    prog, check = _files(tmp_path)
    res = sweeper.run("--crash", "--check", check, "--config", _tree(tmp_path), "--",
                      sys.executable, str(prog), "{mnt}/tmp", "fsync")
    assert res.returncode == 0, res.stdout + res.stderr
    assert lines(res.stdout, 'CHECK ') == []
    assert "CHECK 0, HANG 0" in res.stderr


@pytest.mark.parametrize("how,found", [("fsync", True), ("fsync+dir", False)])
def test_directory_durability_wants_the_directory_fsynced(sweeper, tmp_path, how, found):
    prog, check = _files(tmp_path)
    tree = _tree(tmp_path, durability=True, namespace_durability="fsync")
    res = sweeper.run("--crash", "--check", check, "--config", tree, "--",
                      sys.executable, str(prog), "{mnt}/tmp", how)
    assert res.returncode == (1 if found else 0), res.stdout + res.stderr
    if found:  # shown where the program had said done: the rename was undone by the crash
        assert any("op=rename" in ln and "said done" in ln for ln in lines(res.stdout, 'CHECK '))
    else:
        assert lines(res.stdout, 'CHECK ') == []


BANK = textwrap.dedent('''
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute(f"PRAGMA journal_mode={sys.argv[2]}")
    db.execute(f"PRAGMA synchronous={sys.argv[3]}")
    db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
    for n in range(int(sys.argv[4])):
        db.execute("INSERT INTO t VALUES (?)", (n,))  # a transaction each
        print("committed", n, flush=True)
''')

CHECK_BANK = textwrap.dedent('''
    import os, sqlite3, sys
    path, said = sys.argv[1], open(sys.argv[2]).read().split()
    committed = {int(w) for k, w in zip(said, said[1:]) if k == "committed"}
    if not os.path.exists(path):
        sys.exit("the database is gone" if committed else 0)
    db = sqlite3.connect(path)  # SQLite's own recovery: a hot journal, a WAL
    ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    if ok != "ok":
        sys.exit(f"integrity_check: {ok}")
    try:
        rows = {n for (n,) in db.execute("SELECT n FROM t")}
    except sqlite3.OperationalError:
        rows = set()
    lost = committed - rows
    if lost:
        sys.exit(f"committed and lost: {sorted(lost)}")
''')


def _bank(tmp_path):
    (tmp_path / "bank.py").write_text(BANK)
    (tmp_path / "check_bank.py").write_text(CHECK_BANK)
    return (str(tmp_path / "bank.py"),
            f"{sys.executable} {tmp_path / 'check_bank.py'} {{mnt}}/tmp/bank.db {{stdout}}")


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_sqlite_with_synchronous_full_keeps_every_commit_at_every_crash_point(
        sweeper, tmp_path, journal):
    prog, check = _bank(tmp_path)
    res = sweeper.run("--crash", "--check", check, "--config", _tree(tmp_path), "--jobs", "2",
                      "--timeout", "60", "--", sys.executable, prog, "{mnt}/tmp/bank.db",
                      journal, "FULL", "3", timeout=800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert lines(res.stdout, 'CHECK ') == []
    summary = next(ln for ln in res.stderr.splitlines() if " runs in " in ln)
    assert int(summary.split()[1]) > 20, summary  # every crash point of three transactions


def test_sqlite_with_synchronous_off_loses_commits(sweeper, tmp_path):
    prog, check = _bank(tmp_path)
    res = sweeper.run("--crash", "--check", check, "--config", _tree(tmp_path), "--jobs", "2",
                      "--", sys.executable, prog, "{mnt}/tmp/bank.db", "delete", "OFF", "3",
                      timeout=800)
    assert res.returncode == 1, res.stderr[-2000:]
    assert any("committed and lost" in ln or "the database is gone" in ln
               for ln in lines(res.stdout, 'CHECK ')), res.stdout


def test_the_test_api_returns_check_findings(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    prog, check = _files(tmp_path)
    result = sweep([sys.executable, str(prog), "{mnt}/tmp", "nosync"], _tree(tmp_path),
                   crash=True, check=check)
    assert result.check and result.check[0].cls == "check"
    assert all(f.case.action in ("crash", "crash:before") for f in result.check)
    assert result.exit_status == 1


def test_a_check_that_fails_without_a_crash_is_refused(sweeper, tmp_path):
    prog, _ = _files(tmp_path)
    res = sweeper.run("--crash", "--check", "exit 3", "--config", _tree(tmp_path), "--",
                      sys.executable, str(prog), "{mnt}/tmp", "fsync")
    assert res.returncode == 1
    assert "the check fails after a run with no crash" in res.stderr


@pytest.mark.parametrize("args,phrase", [
    (["--crash"], "--crash needs --check"), (["--check", "true"], "go with --crash"),
    (["--crash", "--check", "true", "--torn", "-1"], "--torn"),
    (["--crash", "--check", "true", "--actions", "eio"], "--actions does not go with --crash"),
])
def test_crash_options_mistakes_are_one_line_exit_2(sweeper, tmp_path, args, phrase):
    res = sweeper.run(*args, "--", "true")
    assert res.returncode == 2
    assert phrase in res.stderr and len(res.stderr.splitlines()) == 1


def test_torn_tries_seeded_tearings_of_each_write(sweeper, tmp_path):
    prog, check = _files(tmp_path)
    out = tmp_path / "r.json"
    res = sweeper.run("--crash", "--torn", "2", "--check", check, "--config", _tree(tmp_path),
                      "--json", str(out), "--", sys.executable, str(prog), "{mnt}/tmp", "fsync")
    assert res.returncode == 0, res.stdout + res.stderr
    cases = json.loads(out.read_text())["cases"]
    torn = [c for c in cases if c["action"] == "crash:torn"]
    assert sorted(c["seed"] for c in torn) == [1, 2] and all(c["op"] == "write" for c in torn)
    for req in {(c["op"], c["path"], c["nth"]) for c in cases}:  # each point crashed both ways
        whens = {c["action"] for c in cases if (c["op"], c["path"], c["nth"]) == req}
        assert {"crash", "crash:before"} <= whens, (req, whens)
    assert all(c["class"] is None for c in cases)


APPENDS = textwrap.dedent('''
    import os, sys
    fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    for n in range(3):
        os.write(fd, f"entry {n}\\n".encode() * 1000)
        print(f"logged {n}", flush=True)   # the promise, never kept: no fsync
''')
# every entry the program said it logged is in the log
CHECK_APPENDS = ('test "$(grep -c . {mnt}/tmp/log 2>/dev/null || echo 0)" -ge '
                 '"$((1000 * $(grep -c logged {stdout})))" || { echo "entries lost" >&2; exit 1; }')


def test_verbose_shows_what_the_program_promised_and_torn_cases_name_their_seed(sweeper, tmp_path):
    """-v of a CHECK finding: the program's stdout against the clean run's (what it promised
    before the crash) and the check's stderr; alike torn cases are told apart by their seed."""
    (tmp_path / "appends.py").write_text(APPENDS)
    res = sweeper.run("--crash", "--torn", "2", "--ops", "write", "-v", "--check", CHECK_APPENDS,
                      "--config", _tree(tmp_path), "--", sys.executable,
                      str(tmp_path / "appends.py"), "{mnt}/tmp/log")
    assert res.returncode == 1, res.stderr
    out = res.stdout.splitlines()
    first = out[0]
    assert first.startswith("CHECK path=tmp/log op=write nth=1 action=crash: the check exited 1")
    assert "nth=1 seed=1 action=crash:torn, nth=1 seed=2 action=crash:torn" in first, first
    assert "    +++ crashed" in out and "     logged 0" in out and "    -logged 1" in out, out
    assert "  the check's stderr (last lines):" in out and "    entries lost" in out, out


HANGS_AFTER_THE_CRASH = textwrap.dedent('''
    import os, sys
    fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"data")
    while True:            # retries a failed fsync forever
        try:
            os.fsync(fd)
            break
        except OSError:
            pass
    print("done", flush=True)
''')


def test_a_program_that_hangs_after_the_crash_is_killed_and_the_check_still_judges(sweeper, tmp_path):
    """The program's own outcome is not judged: one that never ends after the crash (a crash
    before its fsync, which it retries forever) is killed at --timeout, and CHECK runs on what
    the crash left (here it fails: a CHECK finding, not HANG)."""
    (tmp_path / "hangs.py").write_text(HANGS_AFTER_THE_CRASH)
    marker = tmp_path / "checked"
    check = f"echo >> {marker}; test -s {{mnt}}/tmp/f"  # the data survived
    res = sweeper.run("--crash", "--ops", "fsync", "--timeout", "2", "--check", check,
                      "--config", _tree(tmp_path), "--", sys.executable, str(tmp_path / "hangs.py"),
                      "{mnt}/tmp/f")
    assert res.returncode == 1, res.stderr
    assert "CHECK 1, HANG 0" in res.stderr, res.stderr
    assert res.stdout.startswith("CHECK path=tmp/f op=fsync nth=1 action=crash:before: the check "
                                 "exited 1"), res.stdout
    assert marker.read_text().count("\n") == 1 + 2  # after the clean run, and after each crash
