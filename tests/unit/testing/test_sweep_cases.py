"""The cases of a sweep, from a clean run's trace: which (request, action) pairs can show
something, what the rule of each says (nth=K alone, short:half made concrete), and the choice
among them (--nth, --sample, --max-runs). In process, no mount."""

from __future__ import annotations

import pytest

from iofs.faults.rules import parse_rule
from iofs.testing.sweep.cases import (DEFAULT_ACTIONS, Case, Choice, Request, SweepError,
                                      build_cases, concrete, parse_actions, parse_nth_list,
                                      parse_ops, requests_of)


def ev(op, path="input", moved=0, size=None, **kw):
    return {"op": op, "path": path, "moved": moved, "size": size, "errno": 0, **kw}


def read(moved, size=4096, **kw):
    return ev("read", moved=moved, size=size, **kw)


def test_requests_are_numbered_overall_and_per_path_and_op():
    trace = [ev("open"), read(16), ev("getattr"), read(16, path="other"), read(0)]
    reqs, seen = requests_of(trace, ["read"])
    assert [(r.index, r.path, r.nth, r.moved) for r in reqs] == [
        (1, "input", 1, 16), (2, "other", 1, 16), (3, "input", 2, 0)]
    assert seen == {"open": 1, "read": 3, "getattr": 1}


def test_path_glob_and_the_root_are_left_out():
    trace = [read(1, path="tmp/a"), read(1, path="b"), ev("getattr", path="")]
    reqs, _ = requests_of(trace, ["read", "getattr"], path="tmp/*")
    assert [r.path for r in reqs] == ["tmp/a"]
    reqs, _ = requests_of(trace, ["getattr"])
    assert reqs == []  # the root cannot be named by a rule's path


def test_a_path_with_wildcards_counts_what_its_rule_would_match():
    trace = [read(1, path="a?"), read(1, path="ab"), read(1, path="a?")]
    reqs, _ = requests_of(trace, ["read"])
    assert [r.nth for r in reqs if r.path == "a?"] == [1, 3]


def test_a_lost_trace_cannot_be_swept():
    with pytest.raises(SweepError, match="trace_events"):
        requests_of([{"lost": 3}], ["read"])


@pytest.mark.parametrize("asked,moved,nonblock,op,want", [
    ("short:1", 16, False, "read", "short:1"),
    ("short:1", 1, False, "read", None),          # moved no more than N: nothing changes
    ("short:16", 16, False, "read", None),
    ("short:half", 10240, False, "read", "short:5120"),  # half of what moved, not of the request
    ("short:half", 1, False, "read", None),
    ("eintr:1", 16, False, "read", "eintr:1"),
    ("eintr:1", 0, False, "read", None),          # EINTR after progress on nothing moved
    ("eagain:4", 4, False, "write", None),
    ("eintr", 0, False, "read", "eintr"),         # EINTR before any byte changes a read
    ("eagain", 16, False, "read", None),          # a blocking open: served as it is
    ("eagain", 16, True, "read", "eagain"),
    ("corrupt:1", 0, False, "read", None),
    ("eio", 0, False, "read", "eio"),
    ("eio:4096", 100, False, "read", "eio:4096"),  # a real error after the bytes: it shows
    ("eio", 0, False, "fsync", "eio"),
    ("short:1", 0, False, "fsync", None),         # shapes data: not for an op that moves none
    ("eio:1", 0, False, "open", None),
    ("eagain", 0, True, "rename", None),
    ("sleep:5", 0, False, "rename", "sleep:5"),
])
def test_what_can_show_something(asked, moved, nonblock, op, want):
    req = Request(1, "f", op, 1, moved=moved, nonblock=nonblock)
    assert concrete(asked, req) == want


def test_cases_and_left_out_counts():
    reqs = [Request(1, "f", "read", 1, moved=16), Request(2, "f", "read", 2, moved=0)]
    cases, skipped = build_cases(reqs, ["short:1", "eintr", "eio"])
    assert [(c.request.index, c.action) for c in cases] == [
        (1, "short:1"), (1, "eintr"), (1, "eio"), (2, "eintr"), (2, "eio")]
    assert skipped == 1


def test_the_rule_of_a_case_is_nth_alone_and_parses():
    case = Case(Request(3, "tmp/my file", "read", 2, moved=9), "short:half", "short:4")
    assert case.rule == "path='tmp/my file' op=read nth=2 action=short:4"
    rule = parse_rule(case.rule)
    assert (rule.nth.first, rule.nth.last, rule.count) == (2, 2, None)
    assert 'nth = 2' in case.toml() and 'action = "short:4"' in case.toml()
    assert "count" not in case.toml()
    corrupt = Case(Request(1, "f", "read", 1, moved=9), "corrupt:1", "corrupt:1")
    assert "seed=0" in corrupt.rule  # what corrupt changes is fixed by the seed


def test_choice_nth_sample_and_budget():
    reqs = [Request(k, "f", "read", k, moved=10) for k in range(1, 21)]
    cases, _ = build_cases(reqs, ["short:1", "eio"])
    assert len(cases) == 40
    c = Choice(nth=parse_nth_list("2,10..11,19+"))
    assert sorted({x.request.index for x in c.apply(cases)}) == [2, 10, 11, 19, 20]
    assert c.notes == ["--nth 2,10..11,19+"]
    a = Choice(sample=7, seed=5).apply(cases)
    b = Choice(sample=7, seed=5).apply(cases)
    other = Choice(sample=7, seed=6).apply(cases)
    assert a == b and len(a) == 7 and a != other
    assert [x.request.index for x in a] == sorted(x.request.index for x in a)  # request order
    assert Choice(sample=100).apply(cases) == cases
    assert len(Choice(max_runs=3).apply(cases)) == 3


def test_lists_are_checked():
    assert parse_ops("read, write") == ["read", "write"]
    with pytest.raises(SweepError, match="unknown op 'frob'"):
        parse_ops("read,frob")
    assert parse_actions(DEFAULT_ACTIONS, ["read"]) == DEFAULT_ACTIONS.split(",")
    # an action that shapes data is fine with --ops that has read or write ...
    assert parse_actions("short:1,eio", ["open", "read"]) == ["short:1", "eio"]
    # ... and refused only when no op could take it
    with pytest.raises(SweepError, match="shapes the data"):
        parse_actions("short:1", ["open", "fsync"])
    with pytest.raises(SweepError, match="--actions nope"):
        parse_actions("short:1,nope", ["read"])
    with pytest.raises(SweepError, match="crash point"):
        parse_actions("crash", ["write"])
    with pytest.raises(SweepError, match="nth"):
        parse_nth_list("0")
