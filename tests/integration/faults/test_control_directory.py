"""The control directory (.iofs): its faults file protocol (also read, write, read on one
open), bad rules in each of the three
places they can be written (the file, the CLI, the TOML), rules from the TOML, its seal, its
refusal to other users, its name option, and `iofs fault` against what is not iofs.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time

import pytest

from iofs.testing import client
from tests.support.cli import add_fault, one_line_error, rule_lines, run_iofs
from tests.support.mounting import mounted
from tests.support.syscalls import errno_of
from tests.support.users import OTHER_UID


def test_control_file_protocol(m):
    ctl = m / ".iofs" / "faults"
    fd = os.open(ctl, os.O_RDWR)
    try:
        os.write(fd, b"path=zero action=short:2\npath=null action=eio\n")
        reply = os.read(fd, 100).split()
    finally:
        os.close(fd)
    assert len(reply) == 2 and int(reply[1]) == int(reply[0]) + 1
    listing = ctl.read_text().splitlines()
    assert [ln.split()[0] for ln in listing] == [r.decode() for r in reply]
    with open(ctl, "w") as f:
        f.write(f"-{reply[0].decode()}\n")
    assert len(ctl.read_text().splitlines()) == 1
    with open(ctl, "w") as f:
        f.write("clear\n")
    assert ctl.read_text() == ""


def _read_to_the_end(fd: int) -> bytes:
    out = b""
    while chunk := os.read(fd, 4096):
        out += chunk
    return out


def test_read_write_read_on_one_open_of_the_faults_file(m):
    """A read of an open that wrote nothing lists the rules; after a write on that same open,
    the next read is that write's reply (the ids it added), not the rest of the listing; each
    later write replaces the reply."""
    first = add_fault(m, "path=null action=eio")
    fd = os.open(m / ".iofs" / "faults", os.O_RDWR)
    try:
        assert _read_to_the_end(fd).decode().startswith(f"{first} hits=0 path=null seed=")
        os.write(fd, b"path=zero action=short:1\n")
        assert _read_to_the_end(fd) == f"{first + 1}\n".encode()
        os.write(fd, b"path=mem0 action=eio\npath=full action=eio\n")
        assert _read_to_the_end(fd) == f"{first + 2}\n{first + 3}\n".encode()
        os.write(fd, f"-{first}\n".encode())
        assert _read_to_the_end(fd) == b""  # removing adds nothing: an empty reply
    finally:
        os.close(fd)
    assert [ln.split()[0] for ln in rule_lines(m)] == [str(first + k) for k in (1, 2, 3)]


def test_bad_rule_in_the_control_file_is_einval_logged_and_changes_nothing(m):
    fd = os.open(m / ".iofs" / "faults", os.O_WRONLY)
    try:
        assert errno_of(os.write, fd, b"path=zero action=short:1\npath=zero colour=red action=eio\n") \
            == errno.EINVAL
        assert errno_of(os.write, fd, b"-999\n") == errno.ENOENT
    finally:
        os.close(fd)
    assert rule_lines(m) == []  # all or nothing: the good line was not added either
    # (logged before the write was answered)
    assert "bad token 'colour=red': unknown key 'colour'" in m.log_text()


@pytest.mark.parametrize("rule,token", [
    ("path=zero action=nope", "action=nope"),
    ("path=zero op=read,frobnicate action=eio", "op=read,frobnicate"),
    ("path=/zero action=eio", "path=/zero"),
    ("path=zero p=1.5 action=eio", "p=1.5"),
    ("path=zero nth=0 action=eio", "nth=0"),
    ("path=zero offset=9-3 action=eio", "offset=9-3"),
    ("op=open action=short:1", "action=short:1"),
    ("op=fsync action=enosys", "action=enosys"),
    ("path=zero", "action=ACTION"),
    ("path=zero action", "action"),
])
def test_bad_rule_through_the_cli_names_the_token(m, rule, token):
    res = run_iofs("fault", str(m.path), "add", rule)
    assert res.returncode == 2
    assert token in one_line_error(res)
    assert rule_lines(m) == []


def test_bad_rule_in_the_toml_is_one_line_exit_2(tmp_path):
    mp = tmp_path / "mnt"
    mp.mkdir()
    cfg = tmp_path / "tree.toml"
    cfg.write_text('[[device]]\npath = "zero"\ndriver = "zero"\n'
                   '[[fault]]\npath = "zero"\nop = ["read", "wirte"]\naction = "eio"\n')
    res = run_iofs("mount", str(mp), "--config", str(cfg))
    assert res.returncode == 2
    assert "[[fault]] #1: bad token 'op=read,wirte'" in one_line_error(res)


def test_static_rules_from_the_toml(tmp_path):
    cfg = ('[[device]]\npath = "zero"\ndriver = "zero"\n'
           '[[fault]]\npath = "zero"\nop = ["read"]\ncount = 1\naction = "short:5"\n')
    with mounted(tmp_path, cfg) as mnt:
        assert rule_lines(mnt)[0].startswith("1 hits=0 path=zero op=read count=1 seed=")
        with open(mnt / "zero", "rb", buffering=0) as f:
            assert len(f.read(100)) == 5
            assert len(f.read(100)) == 100


def test_control_dir_is_sealed(m):
    ctl = m / ".iofs"
    assert oct(os.stat(ctl).st_mode & 0o7777) == oct(0o700)
    assert errno_of(os.open, ctl / "new", os.O_CREAT | os.O_WRONLY, 0o600) == errno.EPERM
    assert errno_of(os.mkdir, ctl / "d") == errno.EPERM
    assert errno_of(os.unlink, ctl / "faults") == errno.EPERM
    assert errno_of(os.rename, ctl / "trace", ctl / "t2") == errno.EPERM
    assert errno_of(os.rename, ctl, m / "elsewhere") == errno.EPERM
    assert errno_of(os.rmdir, ctl) in (errno.EPERM, errno.ENOTEMPTY)
    assert errno_of(os.link, ctl / "faults", m / "tmp" / "stolen") == errno.EPERM
    assert sorted(os.listdir(ctl)) == ["faults", "reset", "trace"]


def test_control_dir_is_refused_to_other_users(tmp_path, public_dir):
    with mounted(tmp_path, None, "--allow-other", mountpoint=public_dir) as mnt:
        for cmd in (["ls", str(mnt / ".iofs")], ["cat", str(mnt / ".iofs" / "faults")],
                    ["sh", "-c", f"echo 'action=eio' > {mnt / '.iofs' / 'faults'}"],
                    ["cat", str(mnt / ".iofs" / "trace")]):
            res = subprocess.run(cmd, user=OTHER_UID, capture_output=True, text=True, timeout=10)
            assert res.returncode != 0 and "Permission denied" in res.stderr, (cmd, res)
        assert client.list_rules(mnt.path) == ""
        # and the rest of the mount is theirs
        assert subprocess.run(["head", "-c", "3", str(mnt / "zero")], user=OTHER_UID,
                              capture_output=True).stdout == b"\0\0\0"


def test_control_name_option_and_off(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with mounted(tmp_path / "a", '[options]\ncontrol = ".ctl"\n[[device]]\npath = "zero"\ndriver = "zero"\n') as mnt:
        assert sorted(os.listdir(mnt.path)) == [".ctl", "zero"]
        res = run_iofs("fault", str(mnt.path), "--control", ".ctl", "add", "path=zero action=short:3")
        assert res.returncode == 0, res.stderr
        with open(mnt / "zero", "rb", buffering=0) as f:
            assert len(f.read(10)) == 3
    with mounted(tmp_path / "b", '[options]\ncontrol = false\n[[device]]\npath = "zero"\ndriver = "zero"\n') as mnt:
        assert os.listdir(mnt.path) == ["zero"]
        res = run_iofs("fault", str(mnt.path), "list")
        assert res.returncode == 1 and "no control directory" in one_line_error(res)


def test_fault_cli_on_something_that_is_not_iofs(tmp_path):
    res = run_iofs("fault", str(tmp_path), "list")
    assert res.returncode == 1 and "not an iofs mount" in one_line_error(res)


def test_clear_by_id_through_the_cli(m):
    a = add_fault(m, "path=zero action=short:1")
    b = add_fault(m, "path=null action=eio")
    assert run_iofs("fault", str(m.path), "clear", str(a)).returncode == 0
    assert [ln.split()[0] for ln in rule_lines(m)] == [str(b)]
    res = run_iofs("fault", str(m.path), "clear", "12345")
    assert res.returncode == 1 and "no such rule" in one_line_error(res)
    res = run_iofs("fault", str(m.path), "list")
    assert res.stdout.startswith(f"{b} hits=0 path=null seed=")


def test_a_getattr_rule_on_everything_cannot_lock_out_the_control_directory(m):
    """The kernel asks for the root's attributes on every path into the mount once its cache
    runs out: were that getattr faulted, no one could reach .iofs to clear the rule."""
    fd = os.open(m / "zero", os.O_RDONLY)
    try:
        add_fault(m, "op=getattr action=eio")
        add_fault(m, "path=** op=getattr action=sleep:100000000")
        time.sleep(1.1)  # cached attributes run out
        assert errno_of(os.fstat, fd) == errno.EIO  # the rule works on the rest
        res = run_iofs("fault", str(m.path), "clear", timeout=10)
        assert res.returncode == 0, res.stderr
        assert rule_lines(m) == []
        os.fstat(fd)
    finally:
        os.close(fd)


def test_a_control_directory_that_fails_to_answer_is_one_line(m):
    add_fault(m, "path=tmp/faults op=lookup action=eio")
    for args in (["fault", str(m.path), "--control", "tmp", "list"],
                 ["trace", str(m.path), "--control", "tmp"]):
        res = run_iofs(*args)
        assert res.returncode == 1 and "Input/output error" in one_line_error(res), args


@pytest.mark.parametrize("line", ["-\u00b2", "-" + "9" * 5000, "nth=\u00b2 action=eio",
                                  "action=sleep:" + "9" * 5000])
def test_numbers_python_cannot_convert_are_einval(m, line):
    fd = os.open(m / ".iofs" / "faults", os.O_WRONLY)
    try:
        assert errno_of(os.write, fd, line.encode() + b"\n") == errno.EINVAL
    finally:
        os.close(fd)
    assert "Traceback" not in m.log_text()


@pytest.mark.parametrize("rule_id", ["-5", "0"])
def test_clear_of_an_id_that_cannot_be_one_is_a_usage_error(m, rule_id):
    res = run_iofs("fault", str(m.path), "clear", rule_id)
    assert res.returncode == 2 and "a rule id is a whole number >= 1" in one_line_error(res)


def test_a_write_the_kernel_would_split_is_refused_whole(m):
    """The kernel hands a write(2) to iofs in pieces of at most 256 pages: a rule line across
    a piece's end would be parsed as two lines (count=12 of count=123456, then EINVAL), so a
    write that may come in pieces is EINVAL and adds nothing; a smaller one is one piece."""
    import mmap

    target = b"path=victim action=eio count=123456\n"
    page = mmap.mmap(-1, 2 << 20)  # page-aligned: the write starts 64 bytes into a page
    misalign = 64
    first = 256 * 4096 - misalign  # what the kernel's first piece holds
    cut = target.index(b"123456") + 2
    body = b"#" * (first - cut - 1) + b"\n" + target + b"path=after action=eio\n"
    page[misalign:misalign + len(body)] = body
    buf = memoryview(page)[misalign:misalign + len(body)]
    fd = os.open(m / ".iofs" / "faults", os.O_WRONLY)
    try:
        assert errno_of(os.write, fd, buf) == errno.EINVAL
        assert rule_lines(m) == []
        small = b"#" * (255 * 4096 - len(target) - 1) + b"\n" + target
        assert os.write(fd, small) == len(small)
    finally:
        buf.release()
        os.close(fd)
        page.close()
    assert [r.split(" ", 2)[2] for r in rule_lines(m)][0].startswith("path=victim count=123456 ")
