"""The one guarded way to call a driver (iofs.dev.guard): whatever a driver raises or returns,
the caller gets an errno the kernel can carry (EIO for a bug), a size, or poll events; the
syscall layer's rule for an errno after progress (settle, outcome); and the log: a failure in
full the first time, then at most one "again" line every REPEAT_EVERY seconds."""

from __future__ import annotations

import errno
import logging

import pytest
import trio

from iofs.core.uio import OFF_MAX
from iofs.dev import guard
from iofs.dev.driver import ERESTART, POLLERR, POLLIN, POLLOUT, Device, Driver


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Fresh failure reports (what was reported when) on a clock of the test's own."""
    c = Clock()
    monkeypatch.setattr(guard, "reports", guard._Reports())
    monkeypatch.setattr(guard, "time", c)
    return c


@pytest.fixture
def logged(caplog, clock):
    """The iofs log lines of the test (errors), as text."""
    caplog.set_level(logging.ERROR, logger="iofs")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "iofs"]

    lines.records = lambda: [r for r in caplog.records if r.name == "iofs"]  # type: ignore[attr-defined]
    return lines


class Returns(Driver):
    """Every entry point returns ``value`` (d_poll and d_size too)."""

    def __init__(self, value) -> None:
        self.value = value

    def d_open(self, dev, oflags, td):
        return self.value

    async def d_fsync(self, dev, datasync):
        return self.value

    def d_size(self, dev):
        return self.value

    def d_poll(self, dev, events, td):
        return self.value


class Raises(Driver):
    """Every entry point raises ``exc``."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def d_open(self, dev, oflags, td):
        raise self.exc

    async def d_close(self, dev, fflag, td):
        await trio.sleep(0)
        raise self.exc

    def d_size(self, dev):
        raise self.exc

    def d_poll(self, dev, events, td):
        raise self.exc


def _dev(driver, name: str = "node") -> Device:
    return Device(name, driver)


def _call(dev: Device, entry: str, *args) -> int:
    return trio.run(guard.call, dev, entry, *args)


def _poll(dev: Device, events: int = POLLIN | POLLOUT) -> int:
    return trio.run(guard.call_poll, dev, events, None)


# ---- call: 0 or an errno, never an exception ----------------------------------------------------

@pytest.mark.parametrize("value,result", [
    (0, 0), (None, 0), (errno.EIO, errno.EIO), (errno.ENOSPC, errno.ENOSPC),
    (errno.EAGAIN, errno.EAGAIN), (ERESTART, errno.EINTR),
])
def test_call_passes_0_none_and_real_errnos_on(logged, value, result):
    dev = _dev(Returns(value))
    assert _call(dev, "d_open", 0, None) == result
    assert _call(dev, "d_fsync", False) == result   # an async entry point alike
    assert logged() == []


@pytest.mark.parametrize("value", [600, 100000, -3, 512, "12", 1.0, 0.0, True, False, errno.ENOSYS,
                                   [0]])
def test_call_turns_what_the_kernel_cannot_carry_into_eio(logged, value):
    """600 or 100000 would leave the caller in D state, ENOSYS would make the kernel stop
    sending the request to the whole mount: EIO, logged."""
    dev = _dev(Returns(value))
    assert _call(dev, "d_open", 0, None) == errno.EIO
    (line,) = logged()
    assert line == f"node: d_open returned {value!r:.60}, not 0 or an errno: EIO"


@pytest.mark.parametrize("exc", [RuntimeError("boom"), SystemExit(3), GeneratorExit(),
                                 OSError(errno.EPERM, "no"), MemoryError()])
def test_call_turns_any_exception_into_eio_and_logs_its_traceback(logged, exc):
    dev = _dev(Raises(exc))
    assert _call(dev, "d_open", 0, None) == errno.EIO
    assert _call(dev, "d_close", 0, None) == errno.EIO
    assert logged() == [f"node: d_open raised {type(exc).__name__}: EIO",
                        f"node: d_close raised {type(exc).__name__}: EIO"]
    records = logged.records()
    assert len(records) == 2 and all(r.exc_info and r.exc_info[1] is exc for r in records)


def test_call_lets_the_daemons_own_ways_of_stopping_through(clock):
    with pytest.raises(KeyboardInterrupt):
        _call(_dev(Raises(KeyboardInterrupt())), "d_open", 0, None)

    async def cancelled():
        with trio.CancelScope() as scope:
            scope.cancel()
            await guard.call(_dev(Raises(RuntimeError("not reached"))), "d_close", 0, None)
        return scope.cancelled_caught

    class SleepsInClose(Driver):
        async def d_close(self, dev, fflag, td):
            await trio.sleep(10)

    async def cancelled_in_driver():
        with trio.move_on_after(0.01) as scope:
            await guard.call(_dev(SleepsInClose()), "d_close", 0, None)
        return scope.cancelled_caught

    assert trio.run(cancelled) is True
    assert trio.run(cancelled_in_driver) is True


def test_call_of_an_entry_point_the_driver_lacks_is_freebsds_default(logged):
    dev = _dev(object())  # not even a Driver: every entry point is the default
    assert _call(dev, "d_open", 0, None) == 0
    assert _call(dev, "d_read", None, 0) == errno.ENODEV
    assert _call(dev, "d_truncate", 10) == errno.EINVAL
    assert logged() == []


def test_a_driver_attribute_that_raises_when_looked_up_is_eio(logged):
    class Property(Driver):
        @property
        def d_open(self):
            raise RuntimeError("looked up")

    assert _call(_dev(Property()), "d_open", 0, None) == errno.EIO
    assert logged() == ["node: d_open raised RuntimeError: EIO"]


# ---- call_size and call_poll ---------------------------------------------------------------------

@pytest.mark.parametrize("value,size", [(0, 0), (None, 0), (4096, 4096), (OFF_MAX, OFF_MAX)])
def test_call_size_passes_sizes_in_0_to_off_max(logged, value, size):
    assert guard.call_size(_dev(Returns(value))) == size
    assert logged() == []


@pytest.mark.parametrize("value", [-1, OFF_MAX + 1, 2**64, "12", 1.5, True])
def test_call_size_of_anything_else_is_none_and_logged(logged, value):
    assert guard.call_size(_dev(Returns(value))) is None
    assert logged() == [f"node: d_size returned {value!r:.60}, not a size in 0..OFF_MAX: EIO"]


def test_call_size_that_raises_or_is_async_is_none(logged):
    class AsyncSize(Driver):
        async def d_size(self, dev):
            return 10

    assert guard.call_size(_dev(Raises(SystemExit(4)), "a")) is None
    assert guard.call_size(_dev(AsyncSize(), "b")) is None
    assert logged() == ["a: d_size raised SystemExit: EIO",
                        "b: d_size is async (it must return at once): EIO"]


@pytest.mark.parametrize("value,events", [(0, 0), (None, 0), (POLLIN, POLLIN), (0xFFFF, 0xFFFF)])
def test_call_poll_passes_events_in_0_to_0xffff(logged, value, events):
    assert _poll(_dev(Returns(value))) == events
    assert logged() == []


@pytest.mark.parametrize("value", ["x", -1, 0x10000, 2**40, 1.0])
def test_call_poll_of_anything_else_is_pollerr(logged, value):
    assert _poll(_dev(Returns(value))) == POLLERR
    assert logged() == [f"node: d_poll returned {value!r:.60}, not poll events: EIO"]


def test_call_poll_that_raises_is_pollerr_and_the_default_reports_the_standard_events(logged):
    assert _poll(_dev(Raises(SystemExit(4)))) == POLLERR
    assert _poll(_dev(Driver()), POLLIN) == POLLIN   # no_poll: ready for what was asked
    assert logged() == ["node: d_poll raised SystemExit: EIO"]


# ---- after d_read/d_write: moved, outcome, settle -----------------------------------------------

@pytest.mark.parametrize("resid,n", [(100, 0), (60, 40), (0, 100)])
def test_moved_is_size_minus_a_sane_resid(logged, resid, n):
    assert guard.moved(_dev(Driver()), "d_read", 100, resid) == n
    assert logged() == []


@pytest.mark.parametrize("resid", [-5, 101, 48.5, "5", None, True, 10**30])
def test_moved_of_a_resid_out_of_range_or_not_an_int_is_minus_1_and_logged(logged, resid):
    assert guard.moved(_dev(Driver()), "d_write", 100, resid) == -1
    assert logged() == [f"node: d_write left uio_resid {resid!r:.60} of 100: EIO"]


@pytest.mark.parametrize("resid,error,result", [
    (90, 0, (10, 0)), (90, None, (10, 0)), (100, 0, (0, 0)),
    (90, errno.EINTR, (10, 0)), (90, errno.EAGAIN, (10, 0)), (90, ERESTART, (10, 0)),
    (100, errno.EINTR, (0, errno.EINTR)), (100, errno.EAGAIN, (0, errno.EAGAIN)),
    (100, ERESTART, (0, errno.EINTR)),                # FUSE cannot restart a call
    (90, errno.EIO, (0, errno.EIO)), (90, errno.EFAULT, (0, errno.EFAULT)),
    (90, errno.ENOSPC, (0, errno.ENOSPC)), (100, errno.ENOSPC, (0, errno.ENOSPC)),
    (90, "not an errno", (0, errno.EIO)), (90, 600, (0, errno.EIO)),
    (90, False, (0, errno.EIO)), (100, 0.0, (0, errno.EIO)),   # falsy, and still no errno
    (-5, 0, (0, errno.EIO)), (90.0, 0, (0, errno.EIO)),
])
def test_outcome_is_the_syscall_layers_rule(clock, resid, error, result):
    """FreeBSD's dofileread/dofilewrite: EINTR, EWOULDBLOCK and ERESTART after progress are a
    short count; any other errno fails the call even after progress."""
    dev = _dev(Driver())
    assert guard.outcome(dev, "d_read", 100, resid, error) == result
    assert dev.stats.errors == (1 if result[1] else 0)


@pytest.mark.parametrize("n,error,result", [
    (0, 0, (0, 0)), (5, 0, (5, 0)), (5, errno.EINTR, (5, 0)), (0, errno.EINTR, (0, errno.EINTR)),
    (5, errno.EWOULDBLOCK, (5, 0)), (5, ERESTART, (5, 0)), (0, ERESTART, (0, errno.EINTR)),
    (5, errno.EIO, (0, errno.EIO)), (0, errno.EIO, (0, errno.EIO)),
])
def test_settle_an_errno_after_n_bytes(n, error, result):
    dev = _dev(Driver())
    assert guard.settle(dev, n, error) == result
    assert dev.stats.errors == (1 if result[1] else 0)


def test_raised_reraises_what_must_pass_and_reports_the_rest(logged):
    dev = _dev(Driver())
    with pytest.raises(KeyboardInterrupt):
        guard.raised(dev, "d_read", KeyboardInterrupt())
    group = BaseExceptionGroup("many", [ValueError("v"), KeyboardInterrupt()])
    with pytest.raises(BaseExceptionGroup):
        guard.raised(dev, "d_read", group)
    assert logged() == []
    assert guard.raised(dev, "d_read", ExceptionGroup("many", [ValueError("v")])) == errno.EIO
    assert logged() == ["node: d_read raised ExceptionGroup: EIO"]


# ---- a failure that repeats is reported once, then counted --------------------------------------

def test_a_repeated_failure_is_logged_in_full_once_then_counted_again_lines(logged, clock):
    dev = _dev(Raises(RuntimeError("boom")))
    for _ in range(5):
        assert _call(dev, "d_open", 0, None) == errno.EIO
    assert logged() == ["node: d_open raised RuntimeError: EIO"]     # once, with its traceback
    assert logged.records()[0].exc_info is not None
    clock.now += guard.REPEAT_EVERY - 0.5
    _call(dev, "d_open", 0, None)
    assert len(logged()) == 1                                         # not yet
    clock.now += 0.5
    _call(dev, "d_open", 0, None)
    assert logged()[1:] == ["node: d_open raised RuntimeError again (6 times since the last "
                            "report): EIO"]
    assert logged.records()[1].exc_info is None                         # a line, no traceback
    clock.now += 1
    _call(dev, "d_open", 0, None)
    clock.now += guard.REPEAT_EVERY
    _call(dev, "d_open", 0, None)
    assert logged()[2:] == ["node: d_open raised RuntimeError again (2 times since the last "
                            "report): EIO"]


def test_each_entry_point_of_each_device_is_reported_on_its_own(logged):
    a, b = _dev(Raises(RuntimeError("x")), "a"), _dev(Raises(RuntimeError("x")), "b")
    for dev in (a, b, a, b):
        _call(dev, "d_open", 0, None)
        _call(dev, "d_close", 0, None)
    guard.call_size(a)
    assert logged() == ["a: d_open raised RuntimeError: EIO", "a: d_close raised RuntimeError: EIO",
                        "b: d_open raised RuntimeError: EIO", "b: d_close raised RuntimeError: EIO",
                        "a: d_size raised RuntimeError: EIO"]


def test_a_device_without_a_name_is_reported_by_its_driver_class(logged):
    assert _call(_dev(Returns(600), ""), "d_open", 0, None) == errno.EIO
    assert logged() == ["inode of Returns: d_open returned 600, not 0 or an errno: EIO"]
