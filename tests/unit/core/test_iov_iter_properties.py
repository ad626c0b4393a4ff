"""Property tests of the Linux face: random segment layouts and random operation sequences,
checked after every step against a deliberately naive model written here.

The model flattens the segments to one byte string and keeps an absolute position; it derives
Linux's (segment, iov_offset) view from it with the rules of lib/iov_iter.c:

* a copy of ``min(n, count)`` bytes stops early at the first user segment that faults (a short
  copy: the faulting step counts for nothing) or where the segments end;
* after a copy the current segment is the one holding the last byte copied, but if that byte
  finished it, the iterator steps past it at once (``if (skip == iov->iov_len) { iov++; skip = 0; }``):
  one step only, so an empty segment right after stays current until a later copy reaches it;
* a short copy leaves the faulting segment current, at the offset the copy reached;
* if the segments run out before the (trusted) count, the iterator ends past the last segment;
* revert(k) goes back k bytes: inside the current segment if k <= iov_offset, else into the last
  earlier segment that starts at or before the new position (offset < its length);
* wrong-direction copies warn and return 0.
"""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iofs.iov_iter import (
    READ,
    WRITE,
    BioVec,
    copy_from_iter,
    copy_from_iter_full,
    copy_to_iter,
    csum_and_copy_from_iter,
    csum_and_copy_to_iter,
    dup_iter,
    iov_iter_advance,
    iov_iter_bvec,
    iov_iter_copy_from_user_atomic,
    iov_iter_init,
    iov_iter_kvec,
    iov_iter_reexpand,
    iov_iter_revert,
    iov_iter_rw,
    iov_iter_single_seg_count,
    iov_iter_truncate,
    iov_iter_ubuf,
    iov_iter_zero,
)
from iofs.core.pages import PAGE_SIZE, Page
from iofs.uio import IoVec

from tests.support.views import ref_sum

SENTINEL = 0xEE
TAIL = b"\xaa\xbb\xcc"  # bytes past the end of a prefix segment: no copy may touch them
USER_KINDS = ["rw", "rw", "rwp", "ro", "rel", "relp"]


def pattern(seed: int, n: int) -> bytes:
    return bytes((seed * 29 + k * 11 + 3) & 0xFF for k in range(max(n, 0)))


class Model:
    def __init__(self, lens, kinds, init, count, direction, eager=True):
        self.lens = list(lens)
        self.kinds = list(kinds)
        self.starts = [sum(self.lens[:k]) for k in range(len(self.lens))]
        self.total = sum(self.lens)
        self.mem = bytearray(b"".join(init))
        self.idx = 0
        self.skip = 0
        self.count = count
        self.direction = direction
        self.eager = eager  # False for ITER_UBUF: one buffer, iov_offset grows to its length
        self.shorted = 0  # what truncate took off count, which reexpand may give back

    @property
    def nsegs(self) -> int:
        return len(self.lens)

    @property
    def pos(self) -> int:
        return self.starts[self.idx] + self.skip if self.idx < self.nsegs else self.total

    @property
    def nr_segs(self) -> int:
        return self.nsegs - self.idx

    def single_seg_count(self) -> int:
        if self.nr_segs > 1:
            return min(self.count, self.lens[self.idx] - self.skip)
        return self.count

    def faults(self, k: int, into: bool) -> bool:
        kind = self.kinds[k]
        return kind in ("ro", "rel", "relp") if into else kind in ("rel", "relp")

    def copy(self, n: int, into: bool | None, src: bytes | None = None, advance: bool = True):
        """into: True = to the iterator, False = from it, None = no memory (advance).

        Returns (done, data) where data is what a copy from the iterator delivers."""
        requested = min(n, self.count)
        if requested <= 0:
            return 0, b""
        p = self.pos
        want = min(requested, self.total - p)
        fault_at = None
        if into is not None:
            for k in range(self.nsegs):
                s, ln = self.starts[k], self.lens[k]
                if ln and s < p + want and s + ln > p and self.faults(k, into):
                    fault_at = k
                    break
        done = want if fault_at is None else max(0, self.starts[fault_at] - p)
        data = b""
        if into is True:
            self.mem[p:p + done] = src[:done]
        elif into is False:
            data = bytes(self.mem[p:p + done])
        if not advance:
            return done, data
        if fault_at is not None:
            if fault_at != self.idx:
                self.idx, self.skip = fault_at, 0
        elif done < requested:  # the segments ran out
            if self.eager:
                self.idx, self.skip = self.nsegs, 0
            elif self.nsegs:
                self.idx, self.skip = self.nsegs - 1, self.lens[-1]
        else:
            end = p + done
            k = max(j for j in range(self.nsegs) if self.lens[j] and self.starts[j] < end)
            skip = end - self.starts[k]
            if skip == self.lens[k] and self.eager:
                k, skip = k + 1, 0
            self.idx, self.skip = k, skip
        self.count -= done
        return done, data

    def revert(self, k: int) -> None:
        if k == 0:
            return
        assert k <= self.pos
        if k <= self.skip:
            self.skip -= k
        else:
            target = self.pos - k
            j = max(j for j in range(self.idx) if self.starts[j] <= target)
            self.idx, self.skip = j, target - self.starts[j]
        self.count += k


def build(itype, lens, kinds, seed):
    init, vecs, regions = [], [], []
    for k, (ln, kind) in enumerate(zip(lens, kinds)):
        content = pattern(seed + 500 + k, ln)
        init.append(content)
        if itype == "bvec":
            page = Page()
            off = (k * 37) % (PAGE_SIZE - ln) if ln < PAGE_SIZE else 0
            page[off:off + ln] = content
            vecs.append(BioVec(page, off, ln))
            regions.append((page, off))
        elif kind == "rw":
            b = bytearray(content)
            vecs.append(b)
            regions.append((b, 0))
        elif kind == "rwp":  # a segment over a prefix of a longer buffer
            b = bytearray(content + TAIL)
            vecs.append(IoVec(b, ln))
            regions.append((b, 0))
        elif kind == "ro":
            vecs.append(bytes(content))
            regions.append(None)
        else:  # released user memory ("relp": the segment was over a prefix of it)
            mv = memoryview(bytearray(content + (TAIL if kind == "relp" else b"")))
            v = IoVec(mv, ln)
            mv.release()
            vecs.append(v)
            regions.append(None)
    return init, vecs, regions


def build_ubuf(direction, ln, kind, seed):
    """An ITER_UBUF iterator over one user buffer of this kind (built before any release)."""
    content = pattern(seed + 500, ln)
    if kind in ("rw", "rwp"):
        b = bytearray(content + (TAIL if kind == "rwp" else b""))
        return [content], iov_iter_ubuf(direction, b, ln), [(b, 0)]
    if kind == "ro":
        return [content], iov_iter_ubuf(direction, bytes(content), ln), [None]
    mv = memoryview(bytearray(content + (TAIL if kind == "relp" else b"")))
    i = iov_iter_ubuf(direction, mv, ln)
    mv.release()
    return [content], i, [None]


def make_iter(itype, direction, vecs, count):
    if itype == "iovec":
        return iov_iter_init(direction, vecs, count=count)
    if itype == "kvec":
        return iov_iter_kvec(direction, vecs, count=count)
    return iov_iter_bvec(direction, vecs, count=count)


def observe(i):
    return i.nr_segs, i.iov_offset, i.count


def check(i, m: Model, regions):
    assert observe(i) == (m.nr_segs, m.skip if m.idx < m.nsegs else 0, m.count)
    assert iov_iter_single_seg_count(i) == m.single_seg_count()
    assert iov_iter_rw(i) == m.direction
    for k, r in enumerate(regions):
        if r is not None:
            buf, off = r
            assert bytes(buf[off:off + m.lens[k]]) == bytes(m.mem[m.starts[k]:m.starts[k] + m.lens[k]])
            if m.kinds[k] == "rwp":
                assert bytes(buf[m.lens[k]:]) == TAIL


small_n = st.integers(-1, 24)
ops = st.one_of(
    st.tuples(st.just("to"), small_n),
    st.tuples(st.just("from"), small_n),
    st.tuples(st.just("full"), st.integers(0, 24)),
    st.tuples(st.just("zero"), small_n),
    st.tuples(st.just("advance"), small_n),
    st.tuples(st.just("revert"), st.integers(0, 30)),
    st.tuples(st.just("truncate"), st.integers(0, 30)),
    st.tuples(st.just("reexpand"), st.integers(-3, 3)),
    st.tuples(st.just("dup")),
    st.tuples(st.just("csum_to"), small_n, st.integers(0, 0xFFFF)),
    st.tuples(st.just("csum_from"), small_n, st.integers(0, 0xFFFF)),
    st.tuples(st.just("atomic"), small_n),
)


@st.composite
def scenarios(draw):
    itype = draw(st.sampled_from(["iovec", "iovec", "ubuf", "kvec", "bvec"]))
    direction = draw(st.sampled_from([READ, WRITE]))
    if itype == "ubuf":
        lens = [draw(st.integers(0, 12))]
    else:
        lens = draw(st.lists(st.one_of(st.just(0), st.integers(0, 6)), max_size=7))
    if itype in ("iovec", "ubuf"):
        kinds = draw(st.lists(st.sampled_from(USER_KINDS), min_size=len(lens), max_size=len(lens)))
    elif itype == "kvec":  # kernel memory: a fault would be a bug
        kinds = draw(st.lists(st.sampled_from(["rw", "rwp"]), min_size=len(lens),
                              max_size=len(lens))) if lens else []
    else:
        kinds = ["rw"] * len(lens)
    total = sum(lens)
    if itype == "ubuf":
        count = total  # a UBUF's count is its length
    else:
        count = draw(st.one_of(st.just(total), st.integers(max(0, total - 4), total + 4)))
    seq = draw(st.lists(ops, max_size=14))
    return itype, direction, lens, kinds, count, seq


def expect_wrong_way(fn, *args):
    with pytest.warns(RuntimeWarning):
        return fn(*args)


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_iov_iter_matches_naive_model(scenario):
    itype, direction, lens, kinds, count, seq = scenario
    if itype == "ubuf":
        init, i, regions = build_ubuf(direction, lens[0], kinds[0], 0)
    else:
        init, vecs, regions = build(itype, lens, kinds, 0)
        i = make_iter(itype, direction, vecs, count)
    m = Model(lens, kinds, init, count, direction, eager=itype != "ubuf")
    dups = []
    check(i, m, regions)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning not expected below fails the test
        for step, op in enumerate(seq):
            name = op[0]
            if name in ("to", "csum_to"):
                n = op[1]
                src = pattern(step, max(n, 0))
                if direction != READ:
                    if name == "to":
                        assert expect_wrong_way(copy_to_iter, src, n, i) == 0
                    else:
                        assert expect_wrong_way(csum_and_copy_to_iter, src, n, op[2], i) == (0, op[2])
                else:
                    done, _ = m.copy(n, True, src)
                    if name == "to":
                        assert copy_to_iter(src, n, i) == done
                    else:
                        assert csum_and_copy_to_iter(src, n, op[2], i) == (
                            done, ref_sum(src[:done], op[2]))
            elif name in ("from", "csum_from", "full"):
                n = op[1]
                out = bytearray([SENTINEL]) * max(n, 0)
                if direction != WRITE:
                    if name == "from":
                        assert expect_wrong_way(copy_from_iter, out, n, i) == 0
                    elif name == "full":
                        # nothing is copied, so it "succeeds" only for n == 0, as in Linux
                        assert expect_wrong_way(copy_from_iter_full, out, n, i) is (n == 0)
                    else:
                        assert expect_wrong_way(csum_and_copy_from_iter, out, n, op[2], i) == (0, op[2])
                    assert out == bytearray([SENTINEL]) * max(n, 0)
                else:
                    done, data = m.copy(n, False)
                    if name == "from":
                        assert copy_from_iter(out, n, i) == done
                    elif name == "csum_from":
                        assert csum_and_copy_from_iter(out, n, op[2], i) == (
                            done, ref_sum(data, op[2]))
                    else:
                        ok = done == n
                        if not ok:
                            m.revert(done)
                        assert copy_from_iter_full(out, n, i) is ok
                    assert bytes(out[:done]) == data
                    if name != "full":
                        assert out[done:] == bytearray([SENTINEL]) * (max(n, 0) - done)
            elif name == "zero":
                if direction != READ:
                    continue  # zeroing a source iterator is not a thing drivers do
                n = op[1]
                done, _ = m.copy(n, True, bytes(max(n, 0)))
                assert iov_iter_zero(n, i) == done
            elif name == "advance":
                n = op[1]
                m.copy(n, None)
                iov_iter_advance(i, n)
            elif name == "revert":
                k = op[1]
                if k > m.pos:
                    before = observe(i)
                    with pytest.raises(AssertionError):
                        iov_iter_revert(i, k)
                    assert observe(i) == before
                else:
                    m.revert(k)
                    iov_iter_revert(i, k)
            elif name == "truncate":
                t = op[1]
                if m.count > t:
                    m.shorted += m.count - t
                    m.count = t
                iov_iter_truncate(i, t)
            elif name == "reexpand":
                # give back what truncate took (or a little more: a bug, refused)
                new = max(0, m.count + m.shorted + op[1])
                grow = new - m.count
                if grow > m.shorted:
                    before = observe(i)
                    with pytest.raises(ValueError):
                        iov_iter_reexpand(i, new)
                    assert observe(i) == before
                else:
                    m.shorted -= grow
                    m.count = new
                    iov_iter_reexpand(i, new)
            elif name == "dup":
                d = dup_iter(i)
                assert observe(d) == observe(i)
                assert iov_iter_single_seg_count(d) == iov_iter_single_seg_count(i)
                before = observe(i)
                iov_iter_advance(d, d.count)
                assert observe(i) == before
                dups.append((dup_iter(i), observe(i)))
            elif name == "atomic":
                if direction != WRITE:
                    continue
                n = op[1]
                page = Page()
                done, data = m.copy(n, False, advance=False)
                assert iov_iter_copy_from_user_atomic(page, i, 0, n) == done
                assert bytes(page[:done]) == data and not any(page[done:])
            check(i, m, regions)
            for d, frozen in dups:
                assert observe(d) == frozen


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["iovec", "kvec", "bvec"]),
       st.lists(st.one_of(st.just(0), st.integers(0, 5)), min_size=1, max_size=7),
       st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=4))
def test_advance_then_revert_matches_naive_model(itype, lens, moves):
    """Advance a bytes, revert b <= a bytes, repeatedly: the position, the view, and the bytes a
    copy then reads all match the model (revert lands on segment starts, not previous ends)."""
    kinds = ["rw"] * len(lens)
    init, vecs, regions = build(itype, lens, kinds, 7)
    i = make_iter(itype, WRITE, vecs, None)
    m = Model(lens, kinds, init, sum(lens), WRITE)
    for a, b in moves:
        m.copy(a, None)
        iov_iter_advance(i, a)
        check(i, m, regions)
        b = min(b, m.pos)
        m.revert(b)
        iov_iter_revert(i, b)
        check(i, m, regions)
    d = dup_iter(i)
    out = bytearray(m.count)
    assert copy_from_iter(out, m.count, d) == m.count
    assert bytes(out) == bytes(m.mem[m.pos:m.pos + m.count])
