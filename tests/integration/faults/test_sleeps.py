"""sleep:MS rules: a killed program is let go from the sleep, a signal ends it with EINTR,
and removing the rule lets its sleepers go, served.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time

import pytest

from iofs.testing import client
from tests.support.cli import add_fault, run_iofs
from tests.support.processes import Bg, wait_for, waiting_on_fuse
from tests.support.syscalls import raw_read


@pytest.mark.parametrize("op,ms", [("open", "100000000"), ("read", "100000000"),
                                   ("open", "9" * 400)])  # more ms than a float holds
def test_a_killed_program_is_let_go_from_a_sleep(m, op, ms):
    """pyfuse3 passes no FUSE_INTERRUPT: a program killed in a sleep:MS request would stay in
    D state until the sleep ends, unless the sleep watches its signals, as every sleep does."""
    add_fault(m, f"path=zero op={op} action=sleep:{ms}")
    proc = subprocess.Popen(["dd", f"if={m / 'zero'}", "of=/dev/null", "bs=1", "count=1",
                             "status=none"], stderr=subprocess.PIPE)
    try:
        # asleep in the faulted request, not failed
        assert wait_for(lambda: waiting_on_fuse(proc.pid, "openat" if op == "open" else "read"),
                        30), f"dd never waited in its {op} (exit status {proc.poll()})"
        proc.kill()
        assert proc.wait(timeout=5) == -9
    finally:
        client.clear_rules(m.path)
        if proc.poll() is None:
            proc.kill()
    (event,) = [e for e in client.read_trace(m.path) if e["pid"] == proc.pid and e["op"] == op]
    assert event["errno"] == errno.EINTR and event["rule"] is not None


def test_a_sleep_interrupted_by_a_signal_is_eintr(m):
    add_fault(m, "path=zero op=read action=sleep:100000000")
    old = signal.signal(signal.SIGUSR1, lambda *a: None)
    fds: list[int] = []

    def open_and_read() -> tuple[int, bytes, int]:
        # opened by the thread that reads: the request's td (pyfuse3 passes the opener) is it
        fds.append(os.open(m / "zero", os.O_RDONLY))
        return raw_read(fds[0], 10)

    reader = Bg(open_and_read)
    try:
        # the signal comes once the read is asleep in the rule, not before
        assert wait_for(lambda: waiting_on_fuse(reader.tid, "read"), 30)
        t0 = time.monotonic()
        signal.pthread_kill(reader.thread.ident, signal.SIGUSR1)
        assert reader.join(5), "the signal did not end the sleep"
        assert reader.result == (-1, b"", errno.EINTR)
        assert time.monotonic() - t0 < 5
    finally:
        signal.signal(signal.SIGUSR1, old)
        client.clear_rules(m.path)
        reader.join(10)
        for fd in fds:
            os.close(fd)


@pytest.mark.parametrize("op,how", [("read", "clear"), ("open", "clear"), ("read", "id")])
def test_removing_a_sleep_rule_lets_its_sleepers_go(m, op, how):
    rule = add_fault(m, f"path=zero op={op} action=sleep:100000000")
    proc = subprocess.Popen(["dd", f"if={m / 'zero'}", "of=/dev/null", "bs=1", "count=1",
                             "status=none"])
    try:
        assert wait_for(lambda: waiting_on_fuse(proc.pid, "openat" if op == "open" else "read"),
                        30), f"dd never waited in its {op}"
        res = run_iofs("fault", str(m.path), "clear", *([str(rule)] if how == "id" else []))
        assert res.returncode == 0, res.stderr
        assert proc.wait(timeout=5) == 0  # served, as if the rule had never been
    finally:
        if proc.poll() is None:
            proc.kill()  # (a sleep that does not watch for signals holds it until the umount)
