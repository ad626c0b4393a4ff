"""Unit tests of the segment walker (iofs.segments) through its own protocol.

The faces only ever use full steps (a copy processes its whole piece or faults), so the walker's
short-step protocol (a step returning ``left > 0``: stop there, the cursor after the bytes the
step did process) and its run form (whole segments handed over in one call) are pinned here with
step functions written for the test. Expected positions follow from the module docstring.
"""

from __future__ import annotations

import pytest

from iofs.core.segments import Cursor, SegmentFault, walk


def cursor(*lengths: int, idx: int = 0, skip: int = 0) -> Cursor:
    """A bare cursor over fresh zeroed buffers of the given lengths, at (idx, skip)."""
    c = Cursor()
    c._segs = [memoryview(bytearray(n)) for n in lengths]
    c._lens = list(lengths)
    c._idx = idx
    c._skip = skip
    return c


def at(c: Cursor) -> tuple[int, int]:
    return c._idx, c._skip


class Recorder:
    """A step that processes at most ``budget`` bytes in all, recording (len(piece), done) per call.

    Past the budget it is short: it returns the bytes of the piece it did not process.
    """

    def __init__(self, budget: int = 1 << 30) -> None:
        self.budget = budget
        self.calls: list[tuple[int, int]] = []
        self.pieces: list[memoryview] = []

    def __call__(self, piece: memoryview, priv: object, done: int) -> int:
        self.calls.append((len(piece), done))
        self.pieces.append(piece)
        take = max(0, min(len(piece), self.budget - done))
        return len(piece) - take


# ---- SegmentFault -----------------------------------------------------------------------------

def test_segment_fault_carries_the_bytes_done():
    f = SegmentFault(7)
    assert f.done == 7 and f.args == (7,) and str(f) == "7"


# ---- the short-step protocol ------------------------------------------------------------------

@pytest.mark.parametrize("eager", [False, True])
def test_short_step_inside_the_current_segment(eager):
    """The fast path (the move ends inside the current segment): stop after what was processed."""
    c = cursor(10, 4, skip=1)
    step = Recorder(budget=4)
    assert walk(c, 6, step, None, eager) == 4
    assert step.calls == [(6, 0)]
    assert at(c) == (0, 5)


@pytest.mark.parametrize("eager", [False, True])
def test_short_step_on_the_head(eager):
    """The head (the rest of the current segment, the move going further): stop inside it."""
    c = cursor(6, 5, skip=2)
    step = Recorder(budget=3)
    assert walk(c, 8, step, None, eager) == 3
    assert step.calls == [(4, 0)]  # one call: the walk stops at the first short step
    assert at(c) == (0, 5)


@pytest.mark.parametrize("eager", [False, True])
def test_short_step_on_a_whole_middle_segment(eager):
    c = cursor(2, 4, 3)
    step = Recorder(budget=4)
    assert walk(c, 9, step, None, eager) == 4
    assert step.calls == [(2, 0), (4, 2)]
    assert at(c) == (1, 2)


@pytest.mark.parametrize("eager", [False, True])
def test_short_step_on_the_tail(eager):
    c = cursor(2, 4)
    step = Recorder(budget=4)
    assert walk(c, 5, step, None, eager) == 4
    assert step.calls == [(2, 0), (3, 2)]
    assert at(c) == (1, 2)


def test_step_processing_nothing_leaves_the_cursor_where_it_was():
    c = cursor(3, 3, idx=1, skip=1)
    step = Recorder(budget=0)
    assert walk(c, 2, step, None, True) == 0
    assert at(c) == (1, 1)


def test_full_steps_over_the_same_segments_for_contrast():
    c = cursor(2, 4, 3)
    step = Recorder()
    assert walk(c, 9, step, None, True) == 9
    assert step.calls == [(2, 0), (4, 2), (3, 6)]
    assert at(c) == (3, 0)  # eager: stepped past the last segment


# ---- pieces: whole segments are handed over as they are, parts are sliced ---------------------

def test_whole_segments_are_passed_unsliced():
    c = cursor(2, 3, 4, 5)
    step = Recorder()
    assert walk(c, 14, step, None, True) == 14
    assert [len(p) for p in step.pieces] == [2, 3, 4, 5]
    # head, two whole middle segments and a tail that is a whole segment: the segments themselves
    assert all(p is s for p, s in zip(step.pieces, c._segs))


def test_a_move_of_exactly_the_current_segment_passes_it_unsliced():
    c = cursor(5, 1)
    step = Recorder()
    assert walk(c, 5, step, None, False) == 5
    assert step.pieces[0] is c._segs[0]
    assert at(c) == (0, 5)


def test_parts_and_prefix_segments_are_sliced_to_length():
    c = cursor(4, 6, 6, skip=1)
    c._lens[1] = 2  # the segment's view is longer than its length (an iovec over a prefix)
    step = Recorder()
    assert walk(c, 8, step, None, True) == 8
    assert step.calls == [(3, 0), (2, 3), (3, 5)]
    assert at(c) == (2, 3)


# ---- the run form -------------------------------------------------------------------------------

class RunRecorder(Recorder):
    """A full step with a run form; records the run calls as (lens, done)."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[tuple[list[int], int]] = []

        def run(segs, lens, priv, done):
            assert len(segs) == len(lens)
            self.runs.append((list(lens), done))
            return done + sum(lens)

        self.run = run


def test_whole_segments_go_to_the_run_form_in_one_call():
    c = cursor(2, 3, 0, 4, 5)
    step = RunRecorder()
    assert walk(c, 12, step, None, True) == 12
    assert step.calls == [(2, 0), (3, 9)]  # the head and the tail, one step each
    assert step.runs == [([3, 0, 4], 2)]  # everything in between, in one call
    assert at(c) == (4, 3)


def test_run_form_from_a_later_segment():
    c = cursor(1, 2, 3, 4, 5, idx=1, skip=1)
    step = RunRecorder()
    assert walk(c, 1 + 3 + 4 + 2, step, None, True) == 10
    assert step.calls == [(1, 0), (2, 8)]
    assert step.runs == [([3, 4], 1)]
    assert at(c) == (4, 2)


def test_run_form_not_called_without_whole_segments():
    c = cursor(3, 5)
    step = RunRecorder()
    assert walk(c, 6, step, None, True) == 6
    assert step.calls == [(3, 0), (3, 3)]
    assert step.runs == []
    assert at(c) == (1, 3)


def test_fault_reported_by_the_run_form_puts_the_cursor_on_the_faulting_segment():
    c = cursor(2, 3, 0, 4, 5, 6)

    def step(piece, priv, done):
        return 0

    def run(segs, lens, priv, done):
        raise SegmentFault(done + 3) from ValueError("segment 3 faulted")  # 3 = lens of seg 1

    step.run = run
    with pytest.raises(SegmentFault) as exc:
        walk(c, 18, step, None, True)
    assert exc.value.done == 5
    assert isinstance(exc.value.__cause__, ValueError)
    assert at(c) == (3, 0)  # the empty segment before the faulting one is stepped over too


# ---- where a walk stops at the ends of segments (deterministic pins of what the property
# tests find only by chance) --------------------------------------------------------------------

def test_eager_walk_from_mid_segment_to_its_end_steps_to_the_next():
    """The head alone covers the move: eager steps past the exhausted segment, lazy stays."""
    c = cursor(4, 4, skip=1)
    assert walk(c, 3, Recorder(), None, True) == 3
    assert at(c) == (1, 0)
    c = cursor(4, 4, skip=1)
    assert walk(c, 3, Recorder(), None, False) == 3
    assert at(c) == (0, 4)


@pytest.mark.parametrize("step", [None, Recorder()], ids=["advance", "copy"])
def test_a_walk_past_the_last_segment_stops_on_it_exhausted(step):
    """A trusted count larger than the segments: the walk does what they hold and stops on
    the last segment, at its end (lazy), or past it (eager)."""
    c = cursor(2, 3, 4)
    assert walk(c, 100, step, None, False) == 9
    assert at(c) == (2, 4)
    c = cursor(2, 3, 4)
    assert walk(c, 100, step, None, True) == 9
    assert at(c) == (3, 0)
