"""The faulty driver: every step of its scripts (short, eintr, eio, efault, enospc, eagain,
sleep, corrupt), byte-exact through a real mount and real programs (dd, cat), the script cycling
unless repeat = false, and a bad step refused in one line at mount time.
"""

from __future__ import annotations

import errno
import os
import time

import pytest

from iofs.faults.actions import Corrupt
from tests.support.cli import one_line_error, run_iofs
from tests.support.data import KiB, first_difference, pattern
from tests.support.mounting import is_mounted, mounted
from tests.support.processes import Bg, run_program, wait_for, waiting_on_fuse
from tests.support.programs import device
from tests.support.syscalls import errno_of, opened, raw_read, raw_write

FAULTY_TREE = "".join([
    device("zero", "zero"),
    # one node per test, since a script is per device and every request takes a step
    device("f_short", "faulty", size="64K", read=["short:10"], write=["short:7"]),
    device("f_eintr", "faulty", size="64K", read=["eintr:10", "eintr"], write=["eintr:10", "eintr"]),
    device("f_eio", "faulty", size="64K", read=["eio", "eio:10", "ok"], write=["eio", "eio:10"]),
    device("f_efault", "faulty", size="64K", read=["efault:4096", "ok"], write=["efault", "efault:5"]),
    device("f_enospc", "faulty", size="64K", write=["enospc", "enospc:5", "ok"]),
    device("f_eagain", "faulty", size="64K", read=["eagain"], write=["eagain"]),
    device("f_sleep", "faulty", size="64K", read=["sleep:1000", "ok"], write=["sleep:300"]),
    device("f_cycle", "faulty", size="64K", read=["short:1", "short:2", "ok"],
           write=["enospc", "ok"]),
    device("f_once", "faulty", size="64K", read=["short:1", "short:2", "ok"], write=["enospc", "ok"],
           repeat=False),
    device("f_corrupt", "faulty", size="64K", read=["corrupt:3"], seed=7),
    device("f_data", "faulty", size="256K", read=["short:5", "eintr:3", "ok", "eintr", "short:1000"],
           write=["short:7", "eintr:13", "ok", "eintr"]),
])


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """A faulty node for each test, in one mount."""
    with mounted(tmp_path_factory.mktemp("faulty"), FAULTY_TREE) as m:
        yield m



def test_faulty_short_moves_exactly_n(faulty):
    data = pattern(1, 0, 100)
    with opened(faulty / "f_short") as fd:
        assert os.write(fd, data) == 7                    # short:7
        assert os.pwrite(fd, data[7:], 7) == 7
        assert os.pread(fd, 100, 0) == data[:10]          # short:10
        assert os.pread(fd, 100, 10) == data[10:14] + bytes(6)
        assert os.pread(fd, 4, 0) == data[:4]             # fewer asked than N: all of it
    # a real program: dd gets three partial records of exactly 10 bytes
    res = run_program("dd", f"if={faulty / 'f_short'}", "bs=100", "count=3")
    assert res.returncode == 0, res.stderr
    assert res.stdout == data[:14] + bytes(16)
    assert b"0+3 records in" in res.stderr


def test_faulty_eintr_short_after_progress_eintr_without(faulty):
    w = pattern(2, 0, 100)
    with opened(faulty / "f_eintr") as fd:
        assert raw_write(fd, w) == (10, 0)                # eintr:10 after progress: short count
        assert raw_write(fd, b"X" * 100) == (-1, errno.EINTR)  # eintr: nothing moved
        assert os.lseek(fd, 0, os.SEEK_CUR) == 10
        os.lseek(fd, 0, os.SEEK_SET)
        assert raw_read(fd, 100) == (10, w[:10], 0)       # eintr:10
        assert raw_read(fd, 100) == (-1, b"", errno.EINTR)
        assert raw_read(fd, 100) == (10, bytes(10), 0)    # again from the top: the X never landed
        assert os.lseek(fd, 0, os.SEEK_CUR) == 20


def test_faulty_eio_reaches_the_program_even_after_progress(faulty):
    with opened(faulty / "f_eio") as fd:
        assert raw_write(fd, b"W" * 100) == (-1, errno.EIO)   # eio: nothing moved
        assert raw_write(fd, b"X" * 100) == (-1, errno.EIO)   # eio:10: 10 bytes moved, still EIO
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
        assert raw_read(fd, 100) == (-1, b"", errno.EIO)      # eio
        assert raw_read(fd, 100) == (-1, b"", errno.EIO)      # eio:10
        # ok: the driver moved exactly 10 bytes of the eio:10 write and none of the eio one
        assert os.pread(fd, 100, 0) == b"X" * 10 + bytes(90)
    res = run_program("cat", str(faulty / "f_eio"))                      # the script is back at eio
    assert res.returncode == 1
    assert b"Input/output error" in res.stderr and res.stdout == b""


def test_faulty_efault_fails_the_call_even_after_progress(faulty):
    with opened(faulty / "f_efault") as fd:
        assert raw_read(fd, 8192) == (-1, b"", errno.EFAULT)  # efault:4096: EFAULT after progress
        assert raw_write(fd, b"a" * 100) == (-1, errno.EFAULT)
        assert raw_write(fd, b"b" * 100) == (-1, errno.EFAULT)  # efault:5
        assert os.pread(fd, 10, 0) == b"b" * 5 + bytes(5)


def test_faulty_enospc_fails_the_call_even_after_progress(faulty):
    with opened(faulty / "f_enospc") as fd:
        assert errno_of(os.write, fd, b"a" * 100) == errno.ENOSPC
        assert errno_of(os.write, fd, b"b" * 100) == errno.ENOSPC  # enospc:5: moved 5, still ENOSPC
        assert os.write(fd, b"c" * 3) == 3                        # ok (at offset 0)
        assert os.pread(fd, 10, 0) == b"ccc" + b"bb" + bytes(5)
    res = run_program("bash", "-c", f"echo data > {faulty / 'f_enospc'}")    # the script is back at enospc
    assert res.returncode != 0
    assert b"No space left on device" in res.stderr


def test_faulty_eagain_only_for_nonblocking_opens(faulty):
    data = pattern(3, 0, 300)
    with opened(faulty / "f_eagain", os.O_RDWR) as fd, \
            opened(faulty / "f_eagain", os.O_RDWR | os.O_NONBLOCK) as nb:
        assert os.write(fd, data) == 300                  # a blocking open: served in full
        assert errno_of(os.write, nb, b"Z" * 300) == errno.EAGAIN
        assert errno_of(os.read, nb, 300) == errno.EAGAIN
        assert raw_read(nb, 300) == (-1, b"", errno.EAGAIN)
        assert os.pread(fd, 300, 0) == data               # and the EAGAIN write moved nothing


def test_faulty_sleep_takes_ms_and_stalls_nothing_else(faulty):
    data = pattern(4, 0, 1000)
    with opened(faulty / "f_sleep") as fd, opened(faulty / "f_sleep") as fd2, \
            opened(faulty / "zero", os.O_RDONLY) as z:
        t0 = time.monotonic()
        assert os.pwrite(fd, data, 0) == 1000             # sleep:300, then in full
        assert time.monotonic() - t0 >= 0.3

        def slow():
            start = time.monotonic()
            return os.pread(fd, 1000, 0), time.monotonic() - start

        bg = Bg(slow)                                     # takes sleep:1000
        assert wait_for(lambda: waiting_on_fuse(bg.tid, "pread64"), 10)  # queued first
        t1 = time.monotonic()
        assert os.pread(fd2, 1000, 0) == data             # the next step, ok: not stalled
        assert os.read(z, 4096) == bytes(4096)            # nor is another device
        assert time.monotonic() - t1 < 0.8                # (stalled, it would take 1 s)
        assert not bg.done
        assert bg.join(10)
        assert bg.error is None
        got, took = bg.result
        assert got == data
        assert took >= 1.0


@pytest.mark.parametrize("node, lengths, write_errors", [
    ("f_cycle", [1, 2, 10, 1, 2, 10, 1], [errno.ENOSPC, 0, errno.ENOSPC, 0]),
    ("f_once", [1, 2, 10, 10, 10, 10, 10], [errno.ENOSPC, 0, 0, 0]),
])
def test_faulty_script_cycles_unless_repeat_false(faulty, node, lengths, write_errors):
    data = pattern(5, 0, 10)
    with opened(faulty / node) as fd:
        got_errors = []
        for _ in write_errors:
            try:
                assert os.pwrite(fd, data, 0) == 10
                got_errors.append(0)
            except OSError as exc:
                got_errors.append(exc.errno)
        assert got_errors == write_errors
        got = [os.pread(fd, 10, 0) for _ in lengths]
        assert got == [data[:n] for n in lengths]


def test_faulty_corrupt_is_fixed_by_the_seed_and_the_request(faulty):
    """Every request of a faulty device counts, writes and reads alike: corrupt:N changes N
    bytes chosen by the device's seed and that count, so each read is corrupted its own way,
    and the same way on every mount."""
    data = pattern(9, 0, 4096)

    def corrupted(hit: int) -> bytes:
        buf = bytearray(data)
        Corrupt(3).corrupt(memoryview(buf), 7, hit)
        return bytes(buf)

    with opened(faulty / "f_corrupt") as fd:
        assert os.pwrite(fd, data, 0) == len(data)           # request 1: stored as it is
        reads = [os.pread(fd, len(data), 0) for _ in range(3)]  # requests 2, 3 and 4
    assert reads == [corrupted(2), corrupted(3), corrupted(4)]
    assert [sum(a != b for a, b in zip(r, data)) for r in reads] == [3, 3, 3]


def test_faulty_data_around_faults_reads_back_byte_exact(faulty, tmp_path):
    """dd writes and cat reads through short counts and EINTR (both retry): byte-exact."""
    src = tmp_path / "src"
    data = pattern(6, 0, 200_000)
    src.write_bytes(data)
    res = run_program("dd", f"if={src}", f"of={faulty / 'f_data'}", "bs=4096", "conv=notrunc")
    assert res.returncode == 0, res.stderr
    assert b"200000 bytes" in res.stderr
    out = run_program("cat", str(faulty / "f_data"))
    assert out.returncode == 0, out.stderr
    want = data + bytes(256 * KiB - len(data))
    assert out.stdout == want, first_difference(out.stdout, want)
    # and with Python's own loops (os.read retries EINTR itself)
    with opened(faulty / "f_data", os.O_RDONLY) as fd:
        got = b""
        while chunk := os.read(fd, 65536):
            got += chunk
    assert got == want, first_difference(got, want)


@pytest.mark.parametrize("step, phrase", [
    ('["bogus"]', "unknown action 'bogus'"),
    ('["short:x"]', "is not a number"),
    ('["short:-1"]', "cannot be negative"),
    ('["sleep"]', "unknown action 'sleep'"),
    ('"ok"', "a script is a list"),
    ("[1]", "an action is a string"),
])
def test_faulty_bad_step_is_one_line_exit_2(tmp_path, step, phrase):
    mp = tmp_path / "mnt"
    mp.mkdir()
    cfg = tmp_path / "tree.toml"
    cfg.write_text(f'[[device]]\npath = "flaky"\ndriver = "faulty"\nread = {step}\n')
    res = run_iofs("mount", str(mp), "--config", str(cfg), "--log", str(tmp_path / "log"))
    try:
        assert res.returncode == 2
        line = one_line_error(res)
        assert str(cfg) in line and "device 'flaky'" in line and phrase in line, line
        assert not is_mounted(mp)
        assert os.listdir(mp) == []
    finally:
        if is_mounted(mp):
            run_iofs("umount", str(mp))
