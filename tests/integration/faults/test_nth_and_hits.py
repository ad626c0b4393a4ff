"""Which requests a rule fires on (nth, in strace's when= grammar), and what counts as a hit:
a rule whose action would change nothing on a request does not fire on it."""

from __future__ import annotations

import errno
import os

import pytest

from iofs.testing import client
from tests.support.cli import rule_lines
from tests.support.syscalls import raw_read


def _sizes(m, rule: str, reads: int = 8) -> list[int]:
    client.add_rule(m.path, rule)
    fd = os.open(m.path / "zero", os.O_RDONLY)
    try:
        return [raw_read(fd, 100)[0] for _ in range(reads)]
    finally:
        os.close(fd)


@pytest.mark.parametrize("nth,short", [
    ("3", [3]), ("3+", [3, 4, 5, 6, 7, 8]), ("2+3", [2, 5, 8]), ("2..4", [2, 3, 4]),
])
def test_nth_selects_requests_as_straces_when_does(m, nth, short):
    sizes = _sizes(m, f"path=zero op=read nth={nth} action=short:1")
    assert [k for k, n in enumerate(sizes, 1) if n == 1] == short
    assert all(n == 100 for k, n in enumerate(sizes, 1) if k not in short)
    assert rule_lines(m)[0].split()[1] == f"hits={len(short)}"
    assert f"nth={nth} " in rule_lines(m)[0]


def test_nth_and_count_together(m):
    sizes = _sizes(m, "path=zero op=read nth=2+ count=3 action=short:1")
    assert sizes == [100, 1, 1, 1, 100, 100, 100, 100]


def _hits(m) -> int:
    return int(rule_lines(m)[0].split()[1].removeprefix("hits="))


def test_eagain_on_a_blocking_open_is_no_hit(m):
    assert _sizes(m, "path=zero op=read action=eagain", 3) == [100, 100, 100]
    assert _hits(m) == 0
    fd = os.open(m.path / "zero", os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert raw_read(fd, 100)[2] == errno.EAGAIN
    finally:
        os.close(fd)
    assert _hits(m) == 1


@pytest.mark.parametrize("action,size,fires", [
    ("short:100", 100, False), ("short:99", 100, True), ("eintr:100", 100, False),
    ("eintr:50", 100, True), ("short:half", 1, False), ("short:half", 2, True),
    ("eio:100", 100, True),  # an errno that is no short count does something anyway
])
def test_a_rule_that_would_change_nothing_does_not_fire(m, action, size, fires):
    client.add_rule(m.path, f"path=zero op=read action={action}")
    fd = os.open(m.path / "zero", os.O_RDONLY)
    try:
        n, _, err = raw_read(fd, size)
    finally:
        os.close(fd)
    assert _hits(m) == (1 if fires else 0)
    if not fires:
        assert (n, err) == (size, 0)


def test_a_read_at_the_end_of_a_file_is_no_hit_for_a_short_or_eintr_rule(m):
    path = m.path / "tmp" / "small"
    path.write_bytes(b"0123456789")
    try:
        client.add_rule(m.path, "path=tmp/small op=read action=eintr:4")
        fd = os.open(path, os.O_RDONLY)
        try:
            assert raw_read(fd, 4096)[0] == 4  # the rule cut it: a hit
            assert raw_read(fd, 4096)[0] == 4  # offset 4: 6 left, cut again
            assert raw_read(fd, 4096)[0] == 2  # 2 left: nothing to cut, no hit
            assert raw_read(fd, 4096) == (0, b"", 0)  # at the end: no EINTR, no hit
        finally:
            os.close(fd)
        assert _hits(m) == 2
        trace = [e for e in client.read_trace(m.path) if e.get("op") == "read"
                 and e.get("path") == "tmp/small"]
        assert [e["rule"] is not None for e in trace[-4:]] == [True, True, False, False]
    finally:
        client.clear_rules(m.path)
        path.unlink()
