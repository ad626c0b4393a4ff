"""The one segment-walking core under both faces of the library (BSD uio, Linux iov_iter).

A *cursor* is a list of segments (1-D byte memoryviews, never copied), their lengths, and a
position ``(_idx, _skip)``: the current segment and how far into it the walk has gone. This is
Linux's ``(iov, iov_offset)`` pair; BSD's ``iov_base += cnt; iov_len -= cnt`` is the same state,
read back through ``Uio.uio_iov``. Advancing never slices or copies: it moves ``_skip``. A step
slices a segment only when it touches part of it, and a copy is one slice assignment per segment.

:func:`walk` is ``iterate_and_advance`` of ``lib/iov_iter.c``: it hands each non-empty piece of the
next ``n`` bytes to a *step function*, ``step(piece, priv, done) -> left``, where ``done`` is the
number of bytes processed before this piece and ``left`` the bytes of the piece NOT processed (0
normally). The walk stops at the first short step. A step may also have a *run form*,
``step.run(segs, lens, priv, done) -> done``, which processes a list of whole segments in one
call (the copies do: a Python call per segment is most of the cost of a move over many small
iovecs); it raises SegmentFault with the bytes done before a faulting segment. The two faces
differ in one parameter:

* ``eager=False`` (BSD ``uiomove``): a segment the walk finishes stays current (``iov_len == 0``)
  until a later call needs to move more, which skips it. Empty segments are skipped only when reached.
* ``eager=True`` (Linux ``iterate_and_advance``): a finished segment is stepped past at once.

Both skip empty segments they reach while bytes remain. The caller clamps ``n`` to its count
(``uio_resid`` / ``count``): the walker neither reads nor writes it, so the count stays the
caller's to trust, as both kernels do. If the segments run out first, the walk stops there.

A step that raises TypeError/ValueError/BufferError (writing into read-only memory, touching a
released buffer) is a *fault*: the cursor is left after the bytes processed before the faulting
piece, and :class:`SegmentFault` is raised carrying that count. Each face decides what a fault
means (EFAULT, a short count, or a bug to re-raise).
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable

# step(piece, priv, done) -> bytes of piece not processed
Step = Callable[[memoryview, Any, int], int]

_FAULTS = (TypeError, ValueError, BufferError)


class SegmentFault(Exception):
    """A step faulted; ``done`` bytes were processed (and stay consumed) before the faulting piece."""

    def __init__(self, done: int) -> None:
        super().__init__(done)
        self.done = done


class Cursor:
    """Segments plus a position. Subclasses add the face (count, offset, direction)."""

    __slots__ = ("_segs", "_lens", "_idx", "_skip")

    _segs: list[memoryview]
    _lens: list[int]
    _idx: int
    _skip: int

    def _remaining_in_segments(self) -> int:
        """Bytes the segments still hold from the position on (not the trusted count)."""
        i = self._idx
        return sum(self._lens[i:]) - self._skip if i < len(self._lens) else 0

    def _copy_position(self, into: Cursor) -> None:
        into._segs = self._segs
        into._lens = self._lens
        into._idx = self._idx
        into._skip = self._skip


def as_bytes_view(buf: Any) -> memoryview:
    """A flat unsigned-byte memoryview of ``buf`` (no copy)."""
    mv = buf if type(buf) is memoryview else memoryview(buf)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


def walk(cur: Cursor, n: int, step: Step | None, priv: Any, eager: bool) -> int:
    """Process up to ``n`` (> 0) bytes of ``cur`` from its position with ``step``; advance it.

    Returns the bytes processed. Raises :class:`SegmentFault` (after committing the position)
    if a step faults. With ``step=None`` the walk only advances: no memory is touched, so
    segments over released buffers are stepped over without a fault (Linux's advance, BSD's
    UIO_NOCOPY).

    A segment's memoryview may be longer than its length (an iovec over a prefix of a buffer
    keeps the program's own view, so that releasing it faults): pieces are sliced to length.
    """
    lens = cur._lens
    i = cur._idx
    skip = cur._skip
    if i >= len(lens):
        return 0
    if step is None:
        return _advance(cur, n, eager)
    part = lens[i] - skip
    # Fast path: the move ends inside the current segment (every single-iovec request).
    if n < part or (n == part and not eager):
        try:
            seg = cur._segs[i]
            left = step(seg[skip:skip + n] if (skip or n != len(seg)) else seg, priv, 0)
        except _FAULTS as exc:
            raise SegmentFault(0) from exc
        n -= left
        cur._skip = skip + n
        return n
    return _walk_on(cur, n, step, priv, eager, i, skip, part)


def _walk_on(cur: Cursor, n: int, step: Step, priv: Any, eager: bool, i: int, skip: int,
             part: int) -> int:
    """walk() of a move that reaches the end of the current segment: the rest of that segment
    (its head), the segments the move covers whole, then the one it ends in (its tail)."""
    done = 0
    if part:
        left = _head(cur, step, priv, i, skip)
        if left:
            cur._skip = skip + part - left
            return part - left
        done = part
        n -= part
        skip += part
    if n:
        i += 1
        run = getattr(step, "run", None)
        if run is not None:
            i, n, done = _whole(cur, run, priv, i, n, done)
        i, skip, done = _tail(cur, step, priv, i, n, done)
    if eager and skip == cur._lens[i]:
        i += 1
        skip = 0
    cur._idx = i
    cur._skip = skip
    return done


def _head(cur: Cursor, step: Step, priv: Any, i: int, skip: int) -> int:
    """Step over the rest of segment ``i`` from ``skip``: the bytes the step left."""
    seg = cur._segs[i]
    seglen = cur._lens[i]
    try:
        return step(seg[skip:seglen] if (skip or seglen != len(seg)) else seg, priv, 0)
    except _FAULTS as exc:
        raise SegmentFault(0) from exc  # the position has not moved


def _whole(cur: Cursor, run: Any, priv: Any, i: int, n: int, done: int) -> tuple[int, int, int]:
    """The segments from ``i`` that the ``n`` bytes left cover whole, in one call of the step's
    run form: ``(i, n, done)`` after them. A fault commits the position at the segment that
    faulted."""
    lens = cur._lens
    j = i
    rem = n
    for seglen in islice(lens, i, None):
        if seglen >= rem:
            break
        rem -= seglen
        j += 1
    if j == i:
        return i, n, done
    try:
        done = run(cur._segs[i:j], lens[i:j], priv, done)
    except SegmentFault as fault:
        at = fault.done
        while i < j and at - done >= lens[i]:  # the segment that faulted
            done += lens[i]
            i += 1
        cur._idx = i
        cur._skip = 0
        raise SegmentFault(at) from fault.__cause__
    return j, rem, done


def _tail(cur: Cursor, step: Step, priv: Any, i: int, n: int, done: int) -> tuple[int, int, int]:
    """Step segment by segment from ``i`` (its start) until ``n`` bytes are done, a step comes
    back short, or the segments run out: ``(i, skip, done)`` where the walk stopped."""
    segs, lens = cur._segs, cur._lens
    skip = 0
    try:
        for seg, seglen in zip(islice(segs, i, None), islice(lens, i, None)):
            if seglen >= n:  # the tail
                left = step(seg[:n] if n != len(seg) else seg, priv, done)
                skip = n - left
                done += skip
                break
            if seglen:
                left = step(seg if seglen == len(seg) else seg[:seglen], priv, done)
                if left:
                    skip = seglen - left
                    done += skip
                    break
                done += seglen
                n -= seglen
            i += 1
        else:  # the segments ran out before n did: stop on the last one, exhausted
            i = len(lens) - 1
            skip = lens[i]
    except _FAULTS as exc:
        cur._idx = i
        cur._skip = 0
        raise SegmentFault(done) from exc
    return i, skip, done


def _advance(cur: Cursor, n: int, eager: bool) -> int:
    """walk() without a step: the same position rules, by arithmetic on the lengths alone.

    Linux splits iov_iter_advance from iterate_and_advance the same way: advancing must not
    touch (or fault on) the memory it steps over.
    """
    lens = cur._lens
    i = cur._idx
    skip = cur._skip
    end = len(lens)
    part = lens[i] - skip
    if n < part or (n == part and not eager):
        cur._skip = skip + n
        return n
    done = part
    n -= part
    skip = lens[i]
    while n:
        i += 1
        skip = 0
        if i >= end:
            i = end - 1
            skip = lens[i]
            break
        seglen = lens[i]
        if seglen < n:
            done += seglen
            n -= seglen
            continue
        skip = n
        done += n
        break
    if eager and skip == lens[i]:
        i += 1
        skip = 0
    cur._idx = i
    cur._skip = skip
    return done


# ---- step functions shared by both faces -------------------------------------------------------

def step_to_segment(piece: memoryview, src: memoryview, done: int) -> int:
    """Copy from the flat buffer ``src`` into the segment (uiomove UIO_READ, copy_to_iter)."""
    piece[:] = src[done:done + len(piece)]
    return 0


def _run_to_segments(segs: list[memoryview], lens: list[int], src: memoryview, done: int) -> int:
    """step_to_segment over whole segments in one call: the per-segment call is most of the
    cost of a move over many small iovecs. Returns ``done`` after them; a fault raises
    SegmentFault with the bytes done before the faulting segment."""
    try:
        for seg, ln in zip(segs, lens):
            if ln:
                end = done + ln
                if len(seg) == ln:
                    seg[:] = src[done:end]
                else:
                    seg[:ln] = src[done:end]
                done = end
    except _FAULTS as exc:
        raise SegmentFault(done) from exc
    return done


step_to_segment.run = _run_to_segments  # type: ignore[attr-defined]


def step_from_segment(piece: memoryview, dst: memoryview, done: int) -> int:
    """Copy from the segment into the flat buffer ``dst`` (uiomove UIO_WRITE, copy_from_iter)."""
    dst[done:done + len(piece)] = piece
    return 0


def _run_from_segments(segs: list[memoryview], lens: list[int], dst: memoryview, done: int) -> int:
    """step_from_segment over whole segments in one call (see _run_to_segments)."""
    try:
        for seg, ln in zip(segs, lens):
            if ln:
                end = done + ln
                dst[done:end] = seg if len(seg) == ln else seg[:ln]
                done = end
    except _FAULTS as exc:
        raise SegmentFault(done) from exc
    return done


step_from_segment.run = _run_from_segments  # type: ignore[attr-defined]


