"""What a run did and what class a differing run is: the output captured as it comes (the
mount's path as {mnt}, hashed, head and tail kept), SILENT, LOUD, CRASH and HANG, and what the
one-line description says. In process."""

from __future__ import annotations

import signal

import pytest

from iofs.testing.sweep.outcome import (HEAD, MMAP_NOTE, Capture, Outcome, classify, describe,
                                        new_stderr)

MNT = "/tmp/iofs-sweep-x/w0/mnt"


def out(data: bytes, mnt: str | None = MNT, chunk: int = 7):
    c = Capture(mnt)
    for k in range(0, len(data), chunk):
        c.feed(data[k:k + chunk])
    return c.close()


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64, 4096])
def test_the_mount_path_reads_mnt_whatever_the_chunks(chunk):
    data = f"a {MNT}/input\n{MNT}{MNT}/x /tmp/iofs-sweep-x/w0/mn\n".encode()
    got = out(data, chunk=chunk)
    assert got.head == b"a {mnt}/input\n{mnt}{mnt}/x /tmp/iofs-sweep-x/w0/mn\n"
    assert got.size == len(got.head)


def test_two_workers_give_the_same_output():
    a = out(b"d41d8  /w0/mnt/f\n", mnt="/w0/mnt")
    b = out(b"d41d8  /w1/mnt/f\n", mnt="/w1/mnt")
    assert a.digest == b.digest


def test_a_long_stream_keeps_its_head_and_tail_only():
    data = b"".join(b"line %d\n" % k for k in range(100000))
    got = out(data, mnt=None, chunk=65536)
    assert got.size == len(data) and len(got.head) == HEAD and not got.complete
    assert got.last_lines(2) == ["line 99998", "line 99999"]


def run(exit=0, sig=None, stdout=b"ok\n", stderr=b"", timed_out=False):
    return Outcome(exit, sig, out(stdout), out(stderr), timed_out=timed_out)


CLEAN = run()


@pytest.mark.parametrize("faulted,cls", [
    (run(), None),
    (run(stdout=b"wrong\n"), "silent"),
    (run(stdout=b"wrong\n", stderr=b"warning: short read\n"), "loud"),
    (run(exit=1, stdout=b""), "loud"),
    (run(exit=1, stdout=b"ok\n"), "loud"),
    (run(exit=None, sig=signal.SIGBUS, stdout=b""), "crash"),
    (run(timed_out=True, exit=None, sig=signal.SIGKILL), "hang"),
    (Outcome.failed("the mount is gone"), "error"),
    (run(stderr=b"only a message\n"), None),  # same exit status and stdout: as clean
])
def test_classes(faulted, cls):
    assert classify(faulted, CLEAN) == cls


def test_exit_0_where_the_clean_run_failed_is_silent():
    clean = run(exit=3, stdout=b"")
    assert classify(run(exit=0, stdout=b""), clean) == "silent"


def test_stderr_the_clean_run_printed_too_is_not_new():
    clean = run(stderr=b"reading input\n")
    same_msgs = run(stdout=b"wrong\n", stderr=b"reading input\n")
    assert new_stderr(same_msgs, clean) == []
    assert classify(same_msgs, clean) == "silent"
    more = run(stdout=b"wrong\n", stderr=b"reading input\nread: Input/output error\n")
    assert new_stderr(more, clean) == ["read: Input/output error"]


def test_unstable_stderr_tells_nothing():
    noisy = run(stdout=b"wrong\n", stderr=b"pid 1234\n")
    assert classify(noisy, CLEAN, stderr_stable=False) == "silent"


def test_descriptions():
    silent = run(stdout=b"records=5 sum=321\n")
    clean = run(stdout=b"records=4 sum=4321\n")
    assert describe("silent", silent, clean) == (
        "exit 0 as clean, stdout differs at line 1: 'records=4 sum=4321' -> 'records=5 sum=321'")
    loud = run(exit=1, stdout=b"", stderr=b"Traceback (most recent call last):\n  ...\nOSError: [Errno 5] EIO\n")
    text = describe("loud", loud, clean)
    assert text.startswith("exit 1 (clean: exit 0), stdout differs at line 1")
    assert text.endswith("stderr: 'OSError: [Errno 5] EIO'")  # the last line, not the first
    bus = run(exit=None, sig=signal.SIGBUS, stdout=b"")
    assert describe("crash", bus, clean, shaped_read=True) == f"killed by SIGBUS ({MMAP_NOTE})"
    assert describe("crash", bus, clean) == "killed by SIGBUS"
    assert describe("hang", run(timed_out=True), clean).startswith("timed out")
