"""Property tests of the BSD face: random iovec layouts and random operation sequences, checked
after every step against a deliberately naive model written here.

The model never walks iovecs: it flattens them to one byte string, keeps an absolute position,
slices and counts, and derives the BSD view (current iovec, its iov_len) from the position with
the rules of uiomove(9):

* a move of ``min(n, resid)`` bytes stops early at the first iovec that faults (that step counts
  for nothing) or where the iovecs end;
* after a move the current iovec is the one holding the last byte moved, even if that exhausts it
  (lazy skip); empty/exhausted iovecs are skipped only by a later move that has bytes to move;
* a fault leaves the faulting iovec current, untouched;
* if the iovecs run out before the (trusted) resid, the walk stops on the last iovec (iofs' choice:
  C would walk off the array there).
"""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iofs.uio import (
    UIO_NOCOPY,
    UIO_READ,
    UIO_SYSSPACE,
    UIO_USERSPACE,
    UIO_WRITE,
    IoVec,
    Uio,
    cloneuio,
    uiocopy,
    uiomove,
    uiomove_frombuf,
    uioskip,
    ureadc,
    uwritec,
)

SENTINEL = 0xEE
TAIL = b"\xaa\xbb\xcc"  # bytes past the end of a prefix iovec: no move may touch them


def pattern(seed: int, n: int) -> bytes:
    return bytes((seed * 31 + k * 7 + 1) & 0xFF for k in range(max(n, 0)))


class Model:
    """Flattened iovecs + an absolute position, with the BSD iovec view derived from it."""

    def __init__(self, lens, kinds, init, resid, offset, rw, segflg):
        self.lens = list(lens)
        self.kinds = list(kinds)
        self.starts = [sum(self.lens[:k]) for k in range(len(self.lens))]
        self.total = sum(self.lens)
        self.mem = bytearray(b"".join(init))  # expected contents of all the user memory, flat
        self.idx = 0
        self.skip = 0
        self.resid = resid
        self.offset = offset
        self.rw = rw
        self.segflg = segflg

    @property
    def pos(self) -> int:
        return self.starts[self.idx] + self.skip if self.lens else 0

    def faults(self, k: int, direction: int) -> bool:
        if self.segflg == UIO_NOCOPY:
            return False
        kind = self.kinds[k]
        if direction == UIO_READ:
            return kind in ("ro", "rel", "relp")
        return kind in ("rel", "relp")

    def view(self) -> list[int]:
        if not self.lens:
            return []
        return [self.lens[self.idx] - self.skip] + self.lens[self.idx + 1:]

    def move(self, n: int, direction: int, src: bytes | None, advance: bool = True,
             copy: bool = True):
        """Returns (done, faulted, data) where data is what a UIO_WRITE move delivers."""
        requested = min(n, self.resid)
        if requested <= 0:
            return 0, False, b""
        p = self.pos
        want = min(requested, self.total - p)
        fault_at = None
        for k in range(len(self.lens)):
            s, ln = self.starts[k], self.lens[k]
            if copy and ln and s < p + want and s + ln > p and self.faults(k, direction):
                fault_at = k
                break
        if fault_at is not None:
            done = max(0, self.starts[fault_at] - p)
        else:
            done = want
        copying = copy and self.segflg != UIO_NOCOPY
        data = b""
        if copying and direction == UIO_READ:
            self.mem[p:p + done] = src[:done]
        elif copying:
            data = bytes(self.mem[p:p + done])
        if not advance:
            return done, fault_at is not None, data
        if fault_at is not None:
            if fault_at != self.idx:
                self.idx, self.skip = fault_at, 0
        elif done == requested:
            end = p + done
            k = max(j for j in range(len(self.lens)) if self.lens[j] and self.starts[j] < end)
            self.idx, self.skip = k, end - self.starts[k]
        elif self.lens:  # the iovecs ran out: the walk stops on the last one
            self.idx, self.skip = len(self.lens) - 1, self.lens[-1]
        self.resid -= done
        self.offset += done
        return done, fault_at is not None, data


def build(lens, kinds, seed):
    """The real iovecs (and the buffers behind them) for a layout."""
    init, iovs, bufs = [], [], []
    for k, (ln, kind) in enumerate(zip(lens, kinds)):
        content = pattern(seed + 1000 + k, ln)
        init.append(content)
        if kind == "rw":
            b = bytearray(content)
            iovs.append(b)
            bufs.append(b)
        elif kind == "rwp":  # an iovec over a prefix of a longer buffer
            b = bytearray(content + TAIL)
            iovs.append(IoVec(b, ln))
            bufs.append(b)
        elif kind == "ro":
            iovs.append(bytes(content))
            bufs.append(None)
        else:  # released user memory ("relp": the iovec was over a prefix of it)
            mv = memoryview(bytearray(content + (TAIL if kind == "relp" else b"")))
            v = IoVec(mv, ln)
            mv.release()
            iovs.append(v)
            bufs.append(None)
    return init, iovs, bufs


def observe(uio: Uio):
    return ([v.iov_len for v in uio.uio_iov], uio.uio_iovcnt, uio.uio_resid, uio.uio_offset)


def check(uio: Uio, m: Model, bufs):
    assert uio.uio_resid == m.resid
    assert uio.uio_offset == m.offset
    view = m.view()
    assert uio.uio_iovcnt == len(view)
    snap = uio.uio_iov
    assert [v.iov_len for v in snap] == view
    # each remaining iovec shows the right memory from the right place
    for j, v in enumerate(snap):
        k = m.idx + j
        if m.kinds[k] in ("rel", "relp"):
            continue
        start = m.starts[k] + (m.skip if j == 0 else 0)
        assert bytes(v.iov_base) == bytes(m.mem[start:m.starts[k] + m.lens[k]])
    for k, b in enumerate(bufs):
        if b is not None:
            want = bytes(m.mem[m.starts[k]:m.starts[k] + m.lens[k]])
            assert bytes(b) == (want + TAIL if m.kinds[k] == "rwp" else want)


KINDS = ["rw", "rw", "rwp", "ro", "rel", "relp"]
seg_len = st.one_of(st.just(0), st.integers(0, 6))
small_n = st.integers(-1, 24)

ops = st.one_of(
    st.tuples(st.just("move"), small_n),
    st.tuples(st.just("copy"), small_n, st.sampled_from([UIO_READ, UIO_WRITE])),
    st.tuples(st.just("skip"), small_n),
    st.tuples(st.just("readc"), st.integers(0, 0x1FF)),
    st.tuples(st.just("writec")),
    st.tuples(st.just("clone")),
    st.tuples(st.just("badrw"), small_n),
    st.tuples(st.just("frombuf"), st.integers(-2, 40)),
)


@st.composite
def scenarios(draw):
    segflg = draw(st.sampled_from([UIO_USERSPACE, UIO_SYSSPACE, UIO_NOCOPY]))
    rw = draw(st.sampled_from([UIO_READ, UIO_WRITE]))
    lens = draw(st.lists(seg_len, max_size=7))
    if segflg == UIO_SYSSPACE:
        kinds = draw(st.lists(st.sampled_from(["rw", "rwp"]), min_size=len(lens),
                              max_size=len(lens))) if lens else []  # kernel memory never faults (a fault there is a bug)
    else:
        kinds = draw(st.lists(st.sampled_from(KINDS), min_size=len(lens), max_size=len(lens)))
    total = sum(lens)
    resid = draw(st.one_of(st.just(total), st.integers(max(0, total - 4), total + 4)))
    offset = draw(st.integers(0, 30))
    seq = draw(st.lists(ops, max_size=14))
    return segflg, rw, lens, kinds, resid, offset, seq


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_uio_matches_naive_model(scenario):
    segflg, rw, lens, kinds, resid, offset, seq = scenario
    init, iovs, bufs = build(lens, kinds, 0)
    uio = Uio(iovs, rw=rw, segflg=segflg, offset=offset, resid=resid)
    m = Model(lens, kinds, init, resid, offset, rw, segflg)
    clones = []
    check(uio, m, bufs)
    for step, op in enumerate(seq):
        name = op[0]
        if name == "move":
            n = op[1]
            if rw == UIO_READ:
                src = pattern(step, max(n, 0))
                done, fault, _ = m.move(n, UIO_READ, src)
                err = uiomove(src, n, uio)
            else:
                out = bytearray([SENTINEL]) * max(n, 0)
                done, fault, data = m.move(n, UIO_WRITE, None)
                err = uiomove(out, n, uio)
                if segflg != UIO_NOCOPY:
                    assert bytes(out[:done]) == data
                    assert out[done:] == bytearray([SENTINEL]) * (max(n, 0) - done)
                else:
                    assert out == bytearray([SENTINEL]) * max(n, 0)
            assert err == (errno.EFAULT if fault else 0)
        elif name == "copy":
            n, direction = op[1], op[2]
            if direction == UIO_READ:
                src = pattern(step, max(n, 0))
                done, fault, _ = m.move(n, UIO_READ, src, advance=False)
                res = uiocopy(src, n, UIO_READ, uio)
            else:
                out = bytearray([SENTINEL]) * max(n, 0)
                done, fault, data = m.move(n, UIO_WRITE, None, advance=False)
                res = uiocopy(out, n, UIO_WRITE, uio)
                if segflg != UIO_NOCOPY:
                    assert bytes(out[:done]) == data
            assert res == ((errno.EFAULT if fault else 0), done)
            assert uio.uio_rw == rw
        elif name == "skip":
            n = op[1]
            if 0 < n <= m.resid:
                m.move(n, rw, None, copy=False)
            uioskip(uio, n)
        elif name == "readc":
            c = op[1]
            if m.resid <= 0 or m.pos >= m.total:
                expect = errno.EFAULT
            else:
                _, fault, _ = m.move(1, UIO_READ, bytes([c & 0xFF]))
                expect = errno.EFAULT if fault else 0
            assert ureadc(c, uio) == expect
        elif name == "writec":
            if segflg == UIO_NOCOPY:
                continue  # illumos has no UIO_NOCOPY; FreeBSD has no uwritec
            if m.resid <= 0 or m.pos >= m.total:
                expect = -1
            else:
                _, fault, data = m.move(1, UIO_WRITE, None)
                expect = -1 if fault else data[0]
            assert uwritec(uio) == expect
        elif name == "clone":
            c = cloneuio(uio)
            assert observe(c) == observe(uio)
            assert (c.uio_rw, c.uio_segflg) == (uio.uio_rw, uio.uio_segflg)
            # moving the clone does not move the original
            before = observe(uio)
            uioskip(c, c.uio_resid)
            assert observe(uio) == before
            clones.append((cloneuio(uio), observe(uio)))
        elif name == "badrw":
            saved = uio.uio_rw
            uio.uio_rw = 5
            try:
                with pytest.raises(AssertionError):
                    uiomove(bytearray(max(op[1], 0)), op[1], uio)
            finally:
                uio.uio_rw = saved
        elif name == "frombuf":
            buflen = op[1]
            if rw == UIO_READ:
                buf = bytearray(pattern(step, max(buflen, 0)))
            else:
                buf = bytearray([SENTINEL]) * max(buflen, 0)
            before_buf = bytes(buf)
            if m.offset < 0 or m.resid < 0:
                expect, done, data = errno.EINVAL, 0, b""
            elif buflen <= 0 or m.offset >= buflen:
                expect, done, data = 0, 0, b""
            else:
                o = m.offset
                done, fault, data = m.move(buflen - o, rw, bytes(buf[o:]))
                expect = errno.EFAULT if fault else 0
            assert uiomove_frombuf(buf, buflen, uio) == expect
            if rw == UIO_WRITE and done and segflg != UIO_NOCOPY:
                o = m.offset - done
                assert bytes(buf[o:o + done]) == data
                assert bytes(buf[:o]) == before_buf[:o]
            elif rw == UIO_WRITE:
                assert bytes(buf) == before_buf
        check(uio, m, bufs)
        for c, frozen in clones:
            assert observe(c) == frozen  # the original's moves do not move a clone
