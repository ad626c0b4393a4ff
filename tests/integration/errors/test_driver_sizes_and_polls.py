"""A driver's d_size and d_poll, checked: a size that raises, is async or is no size in
0..OFF_MAX makes stat and open EIO (every time) while readdir still lists the node; poll events
that are not an int in 0..0xFFFF, or a d_poll that raises, are POLLERR.
"""

from __future__ import annotations

import errno
import os
import select

import pytest

from tests.support.mounting import serves
from tests.support.syscalls import errno_of


@pytest.mark.parametrize("how", ["raise", "exit", "huge", "str", "negative", "float", "async"])
def test_bad_d_size_is_eio_on_stat_and_the_dir_still_lists(bad, how):
    """stat is EIO (every time: the broken size is never cached); so is open, since the kernel
    needs the attributes to check permissions; readdir still lists the node."""
    assert errno_of(os.stat, bad / f"size_{how}") == errno.EIO
    assert errno_of(os.stat, bad / f"size_{how}") == errno.EIO
    assert errno_of(os.open, bad / f"size_{how}", os.O_RDONLY) == errno.EIO
    assert f"size_{how}" in os.listdir(bad.path)
    serves(bad)


def test_a_driver_attribute_that_raises_is_eio_and_its_dir_still_lists(bad):
    """A d_size (or d_poll) property that raises when looked up: stat is EIO and so is open,
    as for a d_size that raises; readdir of the directory still lists the node (and the rest)."""
    assert os.listdir(bad / "propdir") == ["prop"]
    assert errno_of(os.stat, bad / "propdir/prop") == errno.EIO
    serves(bad)


@pytest.mark.parametrize("how", ["raise", "str", "negative", "huge", "float"])
def test_bad_d_poll_is_pollerr(bad, how):
    fd = os.open(bad / f"poll_{how}", os.O_RDONLY)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        events = p.poll(2000)
        assert events and events[0][1] & select.POLLERR, events
    finally:
        os.close(fd)
    serves(bad)
