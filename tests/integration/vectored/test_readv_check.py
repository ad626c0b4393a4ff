"""A compiled C program (tests/readv_check.c) doing writev/readv/pwritev/preadv through iofs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.mounting import module_mount
from tests.support.paths import READV_CHECK_C
from tests.support.programs import compile_c


@pytest.fixture(scope="session")
def readv_check(tmp_path_factory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    exe = tmp_path_factory.mktemp("progs") / "readv_check"
    res = compile_c(READV_CHECK_C, exe, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror")
    assert res is not None and res.returncode == 0, f"readv_check.c does not compile cleanly:\n{res.stderr}"
    return exe


@pytest.fixture(scope="module")
def mod_mnt(tmp_path_factory):
    with module_mount(tmp_path_factory) as m:
        yield m


def run(exe: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=100)
    except subprocess.TimeoutExpired as exc:  # subprocess.run killed it
        raise AssertionError(f"readv_check {' '.join(args)} hung; output so far:\n{exc.stdout}")


def assert_ok(res: subprocess.CompletedProcess, what: str) -> None:
    assert res.returncode == 0, (f"readv_check {what}: exit {res.returncode}\n"
                                 f"{res.stdout[-4000:]}\n{res.stderr[-2000:]}")
    assert ": ok, " in res.stdout, res.stdout
    # it did real work: hundreds of byte checks, not a vacuous pass
    checks = int(res.stdout.rsplit(": ok, ", 1)[1].split()[0])
    assert checks >= 50, res.stdout


def test_usage(readv_check):
    res = run(readv_check)
    assert res.returncode == 2 and "usage" in res.stderr
    res = run(readv_check, "/nonexistent", "--bogus")
    assert res.returncode == 2


def test_mem0(readv_check, mod_mnt):
    assert_ok(run(readv_check, str(mod_mnt / "mem0")), "mem0")


def test_regular_file(readv_check, mod_mnt):
    f = mod_mnt / "tmp" / "readv-file"
    try:
        assert_ok(run(readv_check, str(f)), "regular file")
        assert f.stat().st_size > 5 << 20  # the program wrote ~7 MiB through the file
    finally:
        f.unlink(missing_ok=True)


def test_pipe0_stream(readv_check, mod_mnt):
    assert_ok(run(readv_check, str(mod_mnt / "pipe0"), "--stream"), "pipe0 --stream")


def test_zero(readv_check, mod_mnt):
    assert_ok(run(readv_check, str(mod_mnt / "zero"), "--zero"), "zero --zero")


@pytest.mark.parametrize("dev,mode", [("null", None), ("random", "--zero"), ("full", "--zero")])
def test_checker_catches_wrong_devices(readv_check, mod_mnt, dev, mode):
    """The checker is not vacuous: null loses data, random is not zeros, full refuses writes."""
    res = run(readv_check, str(mod_mnt / dev), *([mode] if mode else []))
    assert res.returncode == 1, res.stdout[-2000:]
    assert "MISMATCH" in res.stdout or "FAIL" in res.stdout
