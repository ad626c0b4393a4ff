"""A write of at most PIPE_BUF bytes to pipe0 is atomic: without O_NONBLOCK it waits for
room and then goes in whole; with O_NONBLOCK it goes in whole or not at all (EAGAIN).
"""

from __future__ import annotations

import errno
import os


from tests.support.data import first_difference, pattern
from tests.support.processes import Bg, wait_for, waiting_on_fuse
from tests.support.syscalls import errno_of, raw_write
from tests.support.pipes import BLOCKED, CAPACITY, PIPE_BUF, drain_nonblocking




def test_pipe_buf_write_nonblocking_is_all_or_nothing(dflt):
    r = os.open(dflt / "pipe0", os.O_RDONLY | os.O_NONBLOCK)
    wn = os.open(dflt / "pipe0", os.O_WRONLY | os.O_NONBLOCK)
    try:
        filler = pattern(8, 0, CAPACITY - (PIPE_BUF - 1))    # room: PIPE_BUF - 1
        assert os.write(wn, filler) == len(filler)
        assert errno_of(os.write, wn, b"A" * PIPE_BUF) == errno.EAGAIN
        assert raw_write(wn, b"A" * PIPE_BUF) == (-1, errno.EAGAIN)
        assert os.write(wn, b"B" * (PIPE_BUF - 1)) == PIPE_BUF - 1  # what does fit, fits
        got = drain_nonblocking(r)
        want = filler + b"B" * (PIPE_BUF - 1)
        assert got == want, first_difference(got, want)
        # with exactly PIPE_BUF of room it goes in whole
        filler = pattern(9, 0, CAPACITY - PIPE_BUF)
        assert os.write(wn, filler) == len(filler)
        assert os.write(wn, b"C" * PIPE_BUF) == PIPE_BUF
        got = drain_nonblocking(r)
        assert got == filler + b"C" * PIPE_BUF, first_difference(got, filler + b"C" * PIPE_BUF)
    finally:
        os.close(wn)
        os.close(r)


def test_pipe_buf_write_blocking_waits_then_moves_all_at_once(dflt):
    r = os.open(dflt / "pipe0", os.O_RDONLY | os.O_NONBLOCK)
    wn = os.open(dflt / "pipe0", os.O_WRONLY | os.O_NONBLOCK)
    wb = os.open(dflt / "pipe0", os.O_WRONLY)
    bg = None
    try:
        filler = pattern(10, 0, CAPACITY - 100)               # room: 100
        assert os.write(wn, filler) == len(filler)
        block = pattern(11, 0, PIPE_BUF)
        bg = Bg(os.write, wb, block)
        assert wait_for(lambda: waiting_on_fuse(bg.tid, "write") or bg.done, 10)
        assert not bg.join(BLOCKED), "a PIPE_BUF write went in without room for it"
        assert os.read(r, 2000) == filler[:2000]               # room: 2100, still < PIPE_BUF
        assert not bg.join(BLOCKED)
        # one read(2) takes everything buffered: only the filler, so the waiting write has
        # moved nothing yet (a write split into pieces would have put 2100 bytes in by now)
        got = os.read(r, CAPACITY)
        assert got == filler[2000:], first_difference(got, filler[2000:])
        assert bg.join(10)
        assert bg.error is None and bg.result == PIPE_BUF
        got = os.read(r, CAPACITY)                             # the block, whole, at once
        assert got == block, first_difference(got, block)
    finally:
        os.close(wn)
        os.close(r)                                            # a still-blocked write: EPIPE
        if bg is not None:
            bg.join(10)
        os.close(wb)

