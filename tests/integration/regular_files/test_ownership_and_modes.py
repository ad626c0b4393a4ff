"""Owners, groups, modes and times of regular files and directories: chmod, chown and
utime, and group inheritance in a setgid directory (as BSD and Linux do it).
"""

from __future__ import annotations

import os
import stat

import pytest

from tests.support.mounting import mounted
from tests.support.processes import run_program
from tests.support.syscalls import write_file


def test_chmod_chown_utime(d):
    p = d / "c"
    write_file(p, b"")
    os.chmod(p, 0o4711)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o4711
    os.chmod(p, 0o600)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    os.chown(p, 1234, 5678)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    os.chown(p, -1, 42)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 42)
    os.utime(p, ns=(1_234_567_891_000_000_001, 1_111_111_111_222_222_222))
    st = os.stat(p)
    assert st.st_atime_ns == 1_234_567_891_000_000_001
    assert st.st_mtime_ns == 1_111_111_111_222_222_222
    os.chmod(d, 0o700)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


@pytest.fixture(scope="module")
def shared_with_others(tmp_path_factory):
    """A tree whose tmp/ other users may write to (--allow-other): files made as another user
    and group."""
    with mounted(tmp_path_factory.mktemp("allow-other"), '[[dir]]\npath = "tmp"\nmode = "1777"\n',
                 "--allow-other") as m:
        yield m


G, OTHER_GID, UID = 1234, 5678, 4321


def test_setgid_directory_group_inheritance(shared_with_others):
    base = shared_with_others / "tmp"
    sg = base / "sg"
    os.mkdir(sg)
    os.chown(sg, UID, G)
    os.chmod(sg, 0o2775)
    assert stat.S_IMODE(os.stat(sg).st_mode) == 0o2775
    script = ("set -e; umask 002; touch sg/f; mkdir sg/d; touch sg/d/g; mkdir sg/d/e; ln -s f sg/l; "
              "mkfifo sg/p; touch ctl; mkdir ctld; id -g")
    res = run_program("setpriv", f"--reuid={UID}", f"--regid={OTHER_GID}", "--clear-groups",
               "sh", "-c", script, cwd=base)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(OTHER_GID).encode()       # not a member of G
    for name in ("sg/f", "sg/d", "sg/d/g", "sg/d/e", "sg/l", "sg/p"):
        st = os.lstat(base / name)
        assert (st.st_uid, st.st_gid) == (UID, G), name
    for name in ("sg/d", "sg/d/e"):                            # subdirectories stay setgid
        assert stat.S_IMODE(os.stat(base / name).st_mode) == 0o2775, name
    assert stat.S_IMODE(os.stat(base / "sg/f").st_mode) == 0o664
    assert stat.S_ISFIFO(os.stat(base / "sg/p").st_mode)
    # outside a setgid directory the creator's own group (so the above is inheritance)
    for name in ("ctl", "ctld"):
        st = os.stat(base / name)
        assert (st.st_uid, st.st_gid) == (UID, OTHER_GID), name
    assert not os.stat(base / "ctld").st_mode & stat.S_ISGID
