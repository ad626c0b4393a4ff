"""Actions (iofs.faults.actions): the one parser, whether each action would change a given
request (``effective``: a no-op is not a hit), and :func:`apply`, which runs an action around
one request for the hook and the faulty driver alike."""

from __future__ import annotations

import errno

import pytest
import trio
import trio.testing

from iofs.dev.driver import ERESTART, IO_NDELAY
from iofs.dev.sleep import WaitChannel
from iofs.faults.actions import (
    OK,
    Action,
    Corrupt,
    Eagain,
    Errno,
    Ok,
    Request,
    Short,
    Sleep,
    apply,
    parse_action,
)


def _req(size: int, ioflag: int = 0, expect: int | None = None) -> Request:
    return Request("read", True, size, ioflag, None, expect)


def _plain(op: str = "open") -> Request:
    """A request that moves no data."""
    return Request(op, False, 0, 0, None)


# ---- the parser ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,cls,fields,written", [
    ("ok", Ok, {}, "ok"),
    ("short:7", Short, {"n": 7}, "short:7"),
    ("SHORT:HALF", Short, {"n": None}, "short:half"),
    ("eio", Errno, {"code": errno.EIO, "n": None}, "eio"),
    ("eintr:100", Errno, {"code": errno.EINTR, "n": 100}, "eintr:100"),
    ("eagain", Eagain, {}, "eagain"),
    ("ewouldblock", Eagain, {}, "eagain"),
    ("ewouldblock:3", Errno, {"code": errno.EAGAIN, "n": 3}, "eagain:3"),
    ("enotsup", Errno, {"code": errno.EOPNOTSUPP, "n": None}, "enotsup"),
    ("sleep:250", Sleep, {"ms": 250}, "sleep:250"),
    ("corrupt:2", Corrupt, {"n": 2}, "corrupt:2"),
])
def test_an_action_parses_to_its_class_and_is_written_back_canonically(text, cls, fields, written):
    action = parse_action(text)
    assert type(action) is cls and str(action) == written
    assert {k: getattr(action, k) for k in fields} == fields


@pytest.mark.parametrize("text,phrase", [
    ("short", "unknown action"), ("short:-1", "cannot be negative"), ("short:x", "not a number"),
    ("sleep", "unknown action"), ("frobnicate", "unknown action"), ("enosys", "refused"),
    (5, "an action is a string"), ("ok:1", "unknown action"),
])
def test_a_bad_action_is_a_value_error_saying_what_is_wrong(text, phrase):
    with pytest.raises(ValueError, match=phrase):
        parse_action(text)


def test_limit_is_how_many_bytes_an_action_lets_move():
    assert parse_action("short:10").limit(_req(4096)) == 10
    assert parse_action("short:10").limit(_req(3)) == 3
    assert parse_action("short:half").limit(_req(4096)) == 2048
    assert parse_action("short:half").limit(_req(1)) == 1
    assert parse_action("short:half").limit(_req(1 << 20, expect=10240)) == 5120  # of what moves
    assert parse_action("eio:100").limit(_req(4096)) == 100 and parse_action("eio").limit(_req(4096)) == 0
    assert str(parse_action("ewouldblock")) == "eagain" and str(parse_action("eintr:5")) == "eintr:5"


def test_corrupt_changes_exactly_n_bytes_fixed_by_seed_and_hit():
    action = parse_action("corrupt:3")
    a, b, c = bytearray(100), bytearray(100), bytearray(100)
    action.corrupt(memoryview(a), 7, 1)
    action.corrupt(memoryview(b), 7, 1)
    action.corrupt(memoryview(c), 7, 2)
    assert a == b and a != c
    assert sum(1 for x in a if x) == 3
    d = bytearray(2)
    action.corrupt(memoryview(d), 7, 1)  # more than there is: every byte
    assert all(d)


def test_corrupt_changes_every_byte_it_chooses_whatever_the_seed():
    """A chosen byte is XORed with 1..255, never 0: corrupt:N changes exactly N bytes on every
    (seed, hit), not N less the bytes that happened to draw themselves."""
    original = bytes(range(256)) * 2
    action = parse_action("corrupt:16")
    for seed in range(200):
        data = bytearray(original)
        action.corrupt(memoryview(data), seed, seed % 5 + 1)
        assert sum(1 for a, b in zip(data, original) if a != b) == 16, seed


def test_which_actions_shape_the_data_of_a_request():
    """shapes_data: only read and write can take the action (the rule parser refuses the rest)."""
    shaping = {text: parse_action(text).shapes_data
               for text in ("ok", "short:1", "eio", "eio:3", "eagain", "sleep:5", "corrupt:1")}
    assert shaping == {"ok": False, "short:1": True, "eio": False, "eio:3": True, "eagain": True,
                       "sleep:5": False, "corrupt:1": True}


# ---- effective: would firing change anything? --------------------------------------------------

def test_ok_and_sleep_are_always_effective():
    for action in (OK, Sleep(0), Sleep(10)):
        assert action.effective(_req(0)) and action.effective(_req(4096))
        assert action.effective(_plain())


@pytest.mark.parametrize("n,size,expect,effective", [
    (10, 4096, None, True),     # 10 of 4096: short
    (10, 10, None, False),      # the request is no larger than N: nothing changes
    (10, 3, None, False),
    (10, 4096, 10, False),      # a read that would move 10 anyway (near the end of a file)
    (10, 4096, 11, True),
    (0, 4096, None, True),      # short:0 moves nothing
])
def test_short_n_is_effective_only_below_what_would_move(n, size, expect, effective):
    assert Short(n).effective(_req(size, expect=expect)) is effective


@pytest.mark.parametrize("size,expect,effective", [
    (4096, None, True), (2, None, True), (1, None, False), (4096, 1, False), (4096, 0, False),
])
def test_short_half_is_effective_on_what_would_move_more_than_one_byte(size, expect, effective):
    assert Short(None).effective(_req(size, expect=expect)) is effective


@pytest.mark.parametrize("code,n,expect,effective", [
    (errno.EIO, None, 4096, True),
    (errno.EIO, 10, 10, True),        # EIO after progress still reaches the program
    (errno.EIO, 10, 5, True),
    (errno.EINTR, 10, 4096, True),    # a short count
    (errno.EINTR, 10, 10, False),     # after 10 bytes of 10: a full count, as if unfaulted
    (errno.EAGAIN, 5, 3, False),
    (ERESTART, 4, 4, False),
    (ERESTART, 4, 5, True),
    (errno.EINTR, None, 4096, True),  # EINTR with nothing moved
    (errno.EINTR, 0, 4096, True),
])
def test_errno_n_is_a_no_op_only_when_restartable_and_nothing_is_cut(code, n, expect, effective):
    assert Errno(code, n).effective(_req(4096, expect=expect)) is effective


def test_eagain_is_effective_only_on_a_nonblocking_open():
    assert Eagain().effective(_req(100, ioflag=IO_NDELAY)) is True
    assert Eagain().effective(_req(100, ioflag=0)) is False


@pytest.mark.parametrize("n,expect,effective", [(2, 100, True), (0, 100, False), (2, 0, False)])
def test_corrupt_is_effective_with_bytes_to_change(n, expect, effective):
    assert Corrupt(n).effective(_req(100, expect=expect)) is effective


# ---- apply: the action around one request ----------------------------------------------------

class Served:
    """A serve coroutine that records how it was called and returns ``result``."""

    def __init__(self, result=b"served") -> None:
        self.calls: list[tuple] = []
        self.result = result

    async def __call__(self, *args):
        self.calls.append(args)
        return self.result


def _apply(action: Action, req: Request, serve) -> tuple:
    return trio.run(apply, action, req, serve)


def test_apply_ok_serves_a_plain_request():
    serve = Served("attributes")
    assert _apply(OK, _plain(), serve) == ("attributes", 0)
    assert serve.calls == [()]


def test_apply_an_errno_fails_a_plain_request_without_serving_it():
    serve = Served()
    assert _apply(Errno(errno.EACCES), _plain(), serve) == (None, errno.EACCES)
    assert serve.calls == []


def test_apply_erestart_on_a_plain_request_is_eintr_and_kept_for_a_data_request():
    """FUSE cannot restart a call: ERESTART without data is EINTR at once; on a data request it
    stays ERESTART, for the syscall layer to settle with what moved."""
    assert _apply(Errno(ERESTART), _plain(), Served()) == (None, errno.EINTR)
    serve = Served(b"")
    assert _apply(Errno(ERESTART), _req(100), serve) == (b"", ERESTART)
    assert serve.calls == [(0, None)]


def test_apply_ok_serves_a_data_request_whole():
    serve = Served(b"x" * 100)
    assert _apply(OK, _req(100), serve) == (b"x" * 100, 0)
    assert serve.calls == [(100, None)]


def test_apply_short_serves_at_most_n_bytes_and_succeeds():
    serve = Served(b"abcde")
    assert _apply(Short(5), _req(4096), serve) == (b"abcde", 0)
    assert serve.calls == [(5, None)]
    serve = Served(b"ab")
    assert _apply(Short(None), _req(4, expect=4), serve) == (b"ab", 0)
    assert serve.calls == [(2, None)]


def test_apply_errno_n_serves_n_bytes_then_ends_with_the_errno():
    serve = Served(b"abc")
    assert _apply(Errno(errno.EIO, 3), _req(100), serve) == (b"abc", errno.EIO)
    assert serve.calls == [(3, None)]
    serve = Served(b"")
    assert _apply(Errno(errno.EIO), _req(100), serve) == (b"", errno.EIO)
    assert serve.calls == [(0, None)]  # a data request is always handed to serve, limit 0


def test_apply_eagain_fails_a_nonblocking_request_before_serving_it():
    serve = Served()
    assert _apply(Eagain(), _req(100, ioflag=IO_NDELAY), serve) == (None, errno.EAGAIN)
    assert serve.calls == []
    serve = Served(b"y" * 100)
    assert _apply(Eagain(), _req(100), serve) == (b"y" * 100, 0)
    assert serve.calls == [(100, None)]


def test_apply_corrupt_hands_serve_a_shaper_that_changes_n_bytes_fixed_by_seed_and_hit():
    req = Request("read", True, 64, 0, None, seed=11, hit=2)
    serve = Served()
    _apply(Corrupt(4), req, serve)
    ((limit, shaper),) = serve.calls
    assert limit == 64
    data = bytearray(64)
    shaper(memoryview(data))
    assert sum(1 for b in data if b) == 4
    again = bytearray(64)
    Corrupt(4).corrupt(memoryview(again), 11, 2)
    assert again == data


def test_apply_sleep_waits_its_milliseconds_then_serves():
    serve = Served("late")

    async def main():
        t0 = trio.current_time()
        result = await apply(Sleep(2500), _plain("lookup"), serve)
        return result, trio.current_time() - t0

    (result, took) = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert result == ("late", 0)
    assert took == pytest.approx(2.5)
    assert serve.calls == [()]


def test_apply_sleep_ends_early_when_its_channel_is_woken():
    """Removing a sleep rule wakes its channel: the request is served at once."""
    chan = WaitChannel()
    req = Request("read", True, 10, 0, None, sleeps=chan)
    serve = Served(b"0123456789")

    async def main():
        async with trio.open_nursery() as nursery:
            async def wake():
                await trio.sleep(1.0)
                chan.wakeup()
            nursery.start_soon(wake)
            t0 = trio.current_time()
            result = await apply(Sleep(10**9), req, serve)
            return result, trio.current_time() - t0

    (result, took) = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert result == (b"0123456789", 0)
    assert took == pytest.approx(1.0)
