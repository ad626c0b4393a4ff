"""When the trace ring drops events, every reader learns how many it missed: the one-shot
reader, --follow, the plugin's trace() and wait_for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.cli import run_iofs

SMALL_RING = "[options]\ntrace_events = 10\n[[device]]\npath = \"zero\"\ndriver = \"zero\"\n"


def _reads(path, n: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        for _ in range(n):
            os.read(fd, 10)
    finally:
        os.close(fd)


def test_a_one_shot_reader_is_told_what_the_ring_dropped(mount_iofs):
    m = mount_iofs(SMALL_RING)
    _reads(m.path / "zero", 50)
    res = run_iofs("trace", str(m.path), "--json")
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    first, rest = lines[0], lines[1:]
    assert set(first) == {"lost"}
    assert len(rest) == 10  # what the ring keeps
    assert first["lost"] == rest[0]["seq"]  # everything from the mount up to the oldest kept
    assert [e["seq"] for e in rest] == list(range(rest[0]["seq"], rest[0]["seq"] + 10))
    human = run_iofs("trace", str(m.path)).stdout.splitlines()[0]
    assert human.startswith("... ") and human.endswith(" events lost (the ring overflowed)")


def test_a_following_reader_that_falls_behind_is_told(mount_iofs):
    m = mount_iofs(SMALL_RING)
    follower = subprocess.Popen([sys.executable, "-m", "iofs", "trace", str(m.path), "--json",
                                 "--follow"], stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(follower.stdout.readline())  # the mount's own first events
        assert "lost" not in first
        os.kill(follower.pid, 19)  # SIGSTOP: it falls behind while 200 reads pass
        _reads(m.path / "zero", 200)
        os.kill(follower.pid, 18)
        seen_lost = 0
        for _ in range(400):
            event = json.loads(follower.stdout.readline())
            if "lost" in event:
                seen_lost = event["lost"]
                break
        assert seen_lost > 100
    finally:
        follower.kill()
        follower.wait()
