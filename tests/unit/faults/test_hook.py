"""The fault and trace hook (iofs.faults.hook.Hook), driven as the filesystem drives it but
with no mount: a fake open file (path, td, comm, ioflag, stream, dev) and fake serve
coroutines, run under trio.

With no rule a request is served as it is and traced; a rule that fires shapes it byte-exact
(short, errno after progress settled as the syscall layer does, corrupt, eagain); a request
that moves no data is failed before it is served; the trace ring records op, path, bytes moved,
errno and the rule."""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

import pytest
import trio

from iofs.core.td import Td
from iofs.core.uio import UIO_READ, UIO_USERSPACE, Uio, uiomove
from iofs.dev.driver import IO_NDELAY, Device, Driver
from iofs.faults.hook import Hook
from iofs.faults.rules import parse_rule
from iofs.faults.ruleset import RuleSet
from iofs.faults.trace import Ring, as_dict

TD = Td(pid=31337, uid=1000, gid=1000)


@dataclass
class OpenFile:
    """What the hook reads of an open file."""

    path: str = "mem0"
    td: Td = TD
    comm: str = "prog"
    ioflag: int = 0
    stream: bool = False
    dev: Device = field(default_factory=lambda: Device("mem0", Driver()))


class Store:
    """A device's bytes and what the filesystem's serve was asked to do."""

    def __init__(self, data: bytes = bytes(range(256)) * 16) -> None:
        self.data = bytearray(data)
        self.calls: list[tuple] = []

    async def read(self, of, off, size):
        self.calls.append(("read", off, size))
        return bytes(self.data[off:off + size])

    async def write(self, of, off, data):
        self.calls.append(("write", off, bytes(data)))
        self.data[off:off + len(data)] = data
        return len(data)


def _hook(*rules: str, ring: Ring | None = None, detail: bool = False) -> tuple[Hook, Ring | None, list]:
    rs = RuleSet()
    added = []
    for line in rules:
        rule = parse_rule(line)
        rs.add(rule)
        added.append(rule)
    ring = ring if ring is not None else Ring(64)
    return Hook(rs, ring, detail), ring, added


def _events(ring: Ring) -> list[dict]:
    _, _, evs = ring.take(0)
    return [as_dict(ring, *ev) for ev in evs]


def _brief(ring: Ring, *keys: str) -> list[tuple]:
    keys = keys or ("op", "path", "offset", "size", "moved", "errno", "rule")
    return [tuple(e[k] for k in keys) for e in _events(ring)]


def _run(fn, *args):
    return trio.run(fn, *args)


# ---- no rule: served and traced ----------------------------------------------------------------

def test_without_a_rule_a_read_is_served_whole_and_traced():
    hook, ring, _ = _hook()
    dev, of = Store(), OpenFile()
    got = _run(hook.read, of, 10, 100, dev.read)
    assert got == bytes(dev.data[10:110])
    assert dev.calls == [("read", 10, 100)]
    assert _brief(ring) == [("read", "mem0", 10, 100, 100, 0, None)]
    (event,) = _events(ring)
    assert (event["pid"], event["uid"], event["comm"], event["seq"]) == (31337, 1000, "prog", 0)
    assert "seed" not in event


def test_without_a_rule_a_write_is_served_whole_and_traced():
    hook, ring, _ = _hook()
    dev, of = Store(), OpenFile()
    assert _run(hook.write, of, 5, b"hello", dev.write) == 5
    assert dev.data[5:10] == b"hello"
    assert _brief(ring) == [("write", "mem0", 5, 5, 5, 0, None)]


def test_a_rule_for_another_path_or_op_changes_nothing():
    hook, ring, (rule,) = _hook("path=tmp/other action=short:1")
    dev = Store()
    assert len(_run(hook.read, OpenFile(), 0, 100, dev.read)) == 100
    assert _run(hook.write, OpenFile(), 0, b"x" * 50, dev.write) == 50
    hook2, ring2, (rule2,) = _hook("path=mem0 op=write action=eio")
    assert len(_run(hook2.read, OpenFile(), 0, 100, dev.read)) == 100
    assert (rule.matched, rule2.matched) == (0, 0)
    assert [e["rule"] for e in _events(ring) + _events(ring2)] == [None, None, None]


def test_a_failing_serve_is_traced_with_its_errno_and_raised():
    hook, ring, _ = _hook()

    async def broken(of, off, size):
        raise OSError(errno.ENXIO, "no device")

    with pytest.raises(OSError) as ei:
        _run(hook.read, OpenFile(), 0, 10, broken)
    assert ei.value.errno == errno.ENXIO
    assert _brief(ring) == [("read", "mem0", 0, 10, 0, errno.ENXIO, None)]


def test_without_a_ring_nothing_is_recorded_and_requests_are_served():
    hook = Hook(RuleSet(), None)
    dev = Store()
    assert len(_run(hook.read, OpenFile(), 0, 10, dev.read)) == 10
    hook.rules.add(parse_rule("path=mem0 action=short:3"))
    assert len(_run(hook.read, OpenFile(), 0, 10, dev.read)) == 3


# ---- a rule shapes a data request, byte-exact --------------------------------------------------

def test_short_serves_exactly_n_bytes_of_a_read():
    hook, ring, (rule,) = _hook("path=mem0 op=read seed=1 action=short:7")
    dev = Store()
    got = _run(hook.read, OpenFile(), 100, 4096, dev.read)
    assert got == bytes(dev.data[100:107])
    assert dev.calls == [("read", 100, 7)]      # the driver was asked for 7 bytes, not 4096
    assert _brief(ring) == [("read", "mem0", 100, 4096, 7, 0, rule.id)]
    assert _events(ring)[0]["seed"] == 1
    assert rule.hits == 1


def test_short_serves_exactly_n_bytes_of_a_write():
    hook, ring, (rule,) = _hook("path=mem0 op=write action=short:4")
    dev = Store(bytes(16))
    assert _run(hook.write, OpenFile(), 2, b"abcdefgh", dev.write) == 4
    assert dev.data == bytes(2) + b"abcd" + bytes(10)
    assert _brief(ring) == [("write", "mem0", 2, 8, 4, 0, rule.id)]


def test_a_restartable_errno_after_progress_is_a_short_count():
    """eintr:3 moves 3 bytes, then EINTR: after progress the syscall layer makes it a short
    count of 3 (guard.settle), as FreeBSD's dofileread does."""
    hook, ring, (rule,) = _hook("path=mem0 op=read action=eintr:3")
    dev, of = Store(), OpenFile()
    assert _run(hook.read, of, 0, 100, dev.read) == bytes(dev.data[:3])
    assert dev.calls == [("read", 0, 3)]
    assert _brief(ring) == [("read", "mem0", 0, 100, 3, 0, rule.id)]
    assert of.dev.stats.errors == 0


def test_another_errno_after_progress_still_fails_the_call():
    hook, ring, (rule,) = _hook("path=mem0 op=write action=eio:3")
    dev, of = Store(bytes(10)), OpenFile()
    with pytest.raises(OSError) as ei:
        _run(hook.write, of, 0, b"abcdef", dev.write)
    assert ei.value.errno == errno.EIO
    assert dev.data[:6] == b"abc" + bytes(3)   # the 3 bytes did move, as the driver took them
    assert _brief(ring) == [("write", "mem0", 0, 6, 0, errno.EIO, rule.id)]
    assert of.dev.stats.errors == 1


def test_an_errno_without_progress_fails_without_the_driver_moving_anything():
    hook, ring, (rule,) = _hook("path=mem0 op=read action=eintr")
    dev = Store()
    with pytest.raises(OSError) as ei:
        _run(hook.read, OpenFile(), 0, 100, dev.read)
    assert ei.value.errno == errno.EINTR
    assert dev.calls == []                     # limit 0: serve is not even called
    assert _brief(ring) == [("read", "mem0", 0, 100, 0, errno.EINTR, rule.id)]


def test_corrupt_changes_exactly_n_bytes_of_what_a_read_returns():
    hook, ring, (rule,) = _hook("path=mem0 op=read seed=7 action=corrupt:3")
    dev = Store()
    got = _run(hook.read, OpenFile(), 0, 1024, dev.read)
    want = bytes(dev.data[:1024])
    assert len(got) == 1024
    assert sum(1 for a, b in zip(got, want) if a != b) == 3
    assert dev.data[:1024] == want             # the device's own bytes are untouched
    assert _brief(ring) == [("read", "mem0", 0, 1024, 1024, 0, rule.id)]


def test_corrupt_changes_exactly_n_bytes_of_what_a_write_stores():
    hook, _, _ = _hook("path=mem0 op=write seed=7 action=corrupt:2")
    dev = Store(bytes(64))
    data = b"A" * 64
    assert _run(hook.write, OpenFile(), 0, data, dev.write) == 64
    assert sum(1 for b in dev.data if b != ord("A")) == 2
    assert data == b"A" * 64                   # the program's buffer is untouched


def test_eagain_fails_a_nonblocking_read_and_leaves_a_blocking_one_alone():
    hook, ring, (rule,) = _hook("path=mem0 op=read action=eagain")
    dev = Store()
    with pytest.raises(OSError) as ei:
        _run(hook.read, OpenFile(ioflag=IO_NDELAY), 0, 10, dev.read)
    assert ei.value.errno == errno.EAGAIN
    assert dev.calls == []
    assert len(_run(hook.read, OpenFile(), 0, 10, dev.read)) == 10
    assert _brief(ring, "errno", "moved", "rule") == [(errno.EAGAIN, 0, rule.id), (0, 10, None)]
    assert rule.hits == 1                       # the blocking read was no hit


def test_a_read_near_the_end_of_a_regular_file_is_judged_by_what_it_would_move():
    """short:10 on a 4096-byte read of a 10-byte regular file would change nothing: no hit."""

    class Ten(Driver):
        def d_size(self, dev):
            return 10

    hook, ring, (rule,) = _hook("path=tmp/f op=read action=short:10")
    dev = Store(b"0123456789")
    of = OpenFile(path="tmp/f", dev=Device("", Ten(), regular=True))
    assert _run(hook.read, of, 0, 4096, dev.read) == b"0123456789"
    assert (rule.matched, rule.hits) == (1, 0)
    assert _brief(ring, "rule") == [(None,)]


def test_nth_and_count_pick_the_requests_a_rule_shapes():
    hook, ring, (rule,) = _hook("path=mem0 op=read nth=2+ count=2 action=short:1")
    dev = Store()
    sizes = [len(_run(hook.read, OpenFile(), 0, 50, dev.read)) for _ in range(5)]
    assert sizes == [50, 1, 1, 50, 50]
    assert [e["rule"] for e in _events(ring)] == [None, rule.id, rule.id, None, None]


# ---- requests that move no data ---------------------------------------------------------------

def test_a_request_without_a_rule_is_served_and_traced():
    hook, ring, _ = _hook()
    calls = []

    async def serve():
        calls.append("served")
        return "attributes"

    assert _run(hook.request, "getattr", "tmp/f", TD, serve) == "attributes"
    assert calls == ["served"]
    assert _brief(ring) == [("getattr", "tmp/f", None, None, 0, 0, None)]


def test_a_rule_fails_a_request_before_it_is_served():
    hook, ring, (rule,) = _hook("path=tmp/f op=open action=eacces")
    calls = []

    async def serve():
        calls.append("served")

    with pytest.raises(OSError) as ei:
        _run(hook.request, "open", "tmp/f", TD, serve)
    assert ei.value.errno == errno.EACCES
    assert calls == []
    assert _brief(ring) == [("open", "tmp/f", None, None, 0, errno.EACCES, rule.id)]
    assert rule.hits == 1


def test_an_ok_rule_serves_the_request_and_counts_the_hit():
    hook, ring, (rule,) = _hook("path=tmp/f op=fsync action=ok")

    async def serve():
        return 0

    assert _run(hook.request, "fsync", "tmp/f", TD, serve) == 0
    assert _brief(ring, "op", "errno", "rule") == [("fsync", 0, rule.id)]
    assert rule.hits == 1


def test_a_request_that_cannot_be_faulted_ignores_the_rules():
    hook, ring, (rule,) = _hook("op=getattr action=eio")

    async def serve():
        return "root"

    assert _run(lambda: hook.request("getattr", "", TD, serve, faultable=False)) == "root"
    assert rule.matched == 0
    assert _brief(ring, "op", "errno", "rule") == [("getattr", 0, None)]


def test_a_request_whose_serve_fails_is_traced_with_that_errno():
    hook, ring, _ = _hook()

    async def serve():
        raise OSError(errno.ENOENT, "no such name")

    with pytest.raises(OSError):
        _run(hook.request, "lookup", "tmp/none", TD, serve)

    async def crash():
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        _run(hook.request, "mkdir", "tmp/d", TD, crash)
    assert _brief(ring, "op", "path", "errno") == [("lookup", "tmp/none", errno.ENOENT),
                                                   ("mkdir", "tmp/d", errno.EIO)]


def test_a_request_without_a_td_is_traced_as_nobodys():
    hook, ring, _ = _hook()

    async def serve():
        return None

    _run(hook.request, "forget", "tmp/f", None, serve)
    (event,) = _events(ring)
    assert (event["pid"], event["uid"], event["op"]) == (0, 0, "forget")


# ---- what the hook tells the filesystem and the trace ------------------------------------------

def test_wants_direct_only_when_a_read_or_write_rule_could_fault_the_open():
    hook, _, _ = _hook()
    assert hook.wants_direct("tmp/in", TD, "prog") is False
    hook.rules.add(parse_rule("path=tmp/in op=fsync action=eio"))
    assert hook.wants_direct("tmp/in", TD, "prog") is False
    hook.rules.add(parse_rule("path=tmp/in comm=other action=short:1"))
    assert hook.wants_direct("tmp/in", TD, "prog") is False
    assert hook.wants_direct("tmp/in", TD, "other") is True


def test_the_ring_keeps_every_event_in_order_with_seq_numbers():
    hook, ring, _ = _hook(ring=Ring(3))
    dev = Store()
    for off in range(5):
        _run(hook.read, OpenFile(), off, 1, dev.read)
    lost, cursor, evs = ring.take(0)
    assert (lost, cursor) == (2, 5)
    assert [as_dict(ring, *ev)["offset"] for ev in evs] == [2, 3, 4]
    assert [as_dict(ring, *ev)["seq"] for ev in evs] == [2, 3, 4]


def test_detail_records_the_uio_before_and_after_and_each_move():
    hook, ring, _ = _hook(detail=True)

    async def serve(of, off, size):
        buf = bytearray(size)
        uio = Uio.single(memoryview(buf), size, UIO_READ, UIO_USERSPACE, off)
        assert uiomove(b"abc", 3, uio) == 0
        assert uiomove(b"de", 2, uio) == 0
        return bytes(buf[:size - uio.uio_resid])

    assert _run(hook.read, OpenFile(), 100, 10, serve) == b"abcde"
    (event,) = _events(ring)
    assert event["uio_before"] == {"uio_offset": 100, "uio_resid": 10}
    assert event["uio_after"] == {"uio_offset": 105, "uio_resid": 5}
    assert event["moves"] == [["uiomove", 3], ["uiomove", 2]]
