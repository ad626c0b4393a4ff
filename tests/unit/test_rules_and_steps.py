"""The one step parser and the one rule parser, and the matcher: what each token means."""

from __future__ import annotations

import errno

import pytest

from iofs.faults.rules import glob_regex, parse_rule, rule_from_table
from iofs.faults.steps import Step, parse_step


@pytest.mark.parametrize("text,kind,n,code,half", [
    ("ok", "ok", None, 0, False),
    ("short:7", "short", 7, 0, False),
    ("SHORT:HALF", "short", None, 0, True),
    ("eio", "errno", None, errno.EIO, False),
    ("eintr:100", "errno", 100, errno.EINTR, False),
    ("eagain", "eagain", None, errno.EAGAIN, False),
    ("ewouldblock", "eagain", None, errno.EAGAIN, False),
    ("ewouldblock:3", "errno", 3, errno.EAGAIN, False),
    ("enotsup", "errno", None, errno.EOPNOTSUPP, False),
    ("sleep:250", "sleep", 250, 0, False),
    ("corrupt:2", "corrupt", 2, 0, False),
])
def test_steps(text, kind, n, code, half):
    assert parse_step(text) == Step(kind, n, code, half)


@pytest.mark.parametrize("text,phrase", [
    ("short", "unknown step"), ("short:-1", "cannot be negative"), ("short:x", "not a number"),
    ("sleep", "unknown step"), ("frobnicate", "unknown step"), ("enosys", "refused"),
    (5, "a step is a string"), ("ok:1", "unknown step"),
])
def test_bad_steps(text, phrase):
    with pytest.raises(ValueError, match=phrase):
        parse_step(text)


def test_step_meaning():
    assert parse_step("short:10").limit(4096) == 10
    assert parse_step("short:10").limit(3) == 3
    assert parse_step("short:half").limit(4096) == 2048
    assert parse_step("short:half").limit(1) == 1
    assert parse_step("eio:100").limit(4096) == 100 and parse_step("eio").limit(4096) == 0
    assert parse_step("eagain").error(0) == 0 and parse_step("eagain").error(0x0010) == errno.EAGAIN
    assert str(parse_step("ewouldblock")) == "eagain" and str(parse_step("eintr:5")) == "eintr:5"


def test_corrupt_changes_exactly_n_bytes_fixed_by_seed_and_hit():
    step = parse_step("corrupt:3")
    a, b, c = bytearray(100), bytearray(100), bytearray(100)
    step.corrupt(memoryview(a), 7, 1)
    step.corrupt(memoryview(b), 7, 1)
    step.corrupt(memoryview(c), 7, 2)
    assert a == b and a != c
    assert sum(1 for x in a if x) == 3
    d = bytearray(2)
    step.corrupt(memoryview(d), 7, 1)  # more than there is: every byte
    assert all(d)


@pytest.mark.parametrize("glob,path,hit", [
    ("mem0", "mem0", True), ("mem0", "tmp/mem0", False),
    ("tmp/*.log", "tmp/a.log", True), ("tmp/*.log", "tmp/d/a.log", False),
    ("tmp/**", "tmp/d/e/f", True), ("tmp/**", "tmp", False),
    ("**/*.log", "a.log", True), ("**/*.log", "x/y/a.log", True),
    ("tmp/?", "tmp/a", True), ("tmp/?", "tmp/ab", False),
    ("a.b", "axb", False), ("[x]", "[x]", True),
])
def test_globs(glob, path, hit):
    assert (glob_regex(glob).match(path) is not None) == hit


def test_a_rule_as_parsed_and_listed():
    r = parse_rule("path='tmp/my file' op=read,fsync comm=a-very-long-process-name nth=2 "
                   "count=3 p=0.25 seed=9 action=eio")
    assert (r.path, r.ops, r.comm, r.nth, r.count, r.p, r.seed) == (
        "tmp/my file", {"read", "fsync"}, "a-very-long-pro", 2, 3, 0.25, 9)
    assert str(r) == ("path='tmp/my file' op=read,fsync comm=a-very-long-pro nth=2 count=3 "
                      "p=0.25 seed=9 action=eio")
    assert str(parse_rule(str(r))) == str(r)  # what list shows adds the same rule again


def test_offsets_are_half_open():
    r = parse_rule("offset=4K-8K action=eio")
    assert r.offset == (4096, 8192)
    assert not r.overlaps(0, 4096) and r.overlaps(0, 4097) and r.overlaps(8191, 1)
    assert not r.overlaps(8192, 100)
    assert parse_rule("offset=10 action=eio").offset == (10, 11)
    assert parse_rule("offset=1M- action=eio").overlaps(1 << 40, 1)


def test_nth_count_and_p_fire_deterministically():
    r = parse_rule("nth=3 count=2 action=ok")
    assert [r.fire() for _ in range(6)] == [False, False, True, True, False, False]
    assert (r.matched, r.hits) == (6, 2)
    draws = [parse_rule("p=0.5 seed=3 action=ok") for _ in range(2)]
    assert [draws[0].fire() for _ in range(50)] == [draws[1].fire() for _ in range(50)]
    assert parse_rule("action=ok").seed >= 0  # a seed is chosen


@pytest.mark.parametrize("line,token", [
    ("action=nope", "action=nope"), ("colour=red action=eio", "colour=red"),
    ("path=/abs action=eio", "path=/abs"), ("op= action=eio", "op="),
    ("pid=x action=eio", "pid=x"), ("nth=0 action=eio", "nth=0"), ("p=2 action=eio", "p=2"),
    ("offset=5-5 action=eio", "offset=5-5"), ("op=open offset=1-2 action=eio", "offset=1-2"),
    ("op=open action=short:1", "action=short:1"), ("op=read,open action=corrupt:1", "corrupt"),
    ("op=open action=eio:5", "eio:5"), ("action=eio action=eio", "given twice"),
    ("path=x", "action=STEP"), ("path='x action=eio", "tokens"), ("justaword", "justaword"),
])
def test_bad_rules_name_the_token(line, token):
    with pytest.raises(ValueError, match=None) as ei:
        parse_rule(line)
    assert token in str(ei.value)


def test_a_toml_table_goes_through_the_same_parser():
    r = rule_from_table({"path": "zero", "op": ["read", "write"], "nth": 2, "action": "short:1"})
    assert (r.path, r.ops, r.nth, str(r.action)) == ("zero", {"read", "write"}, 2, "short:1")
    with pytest.raises(ValueError, match="bad token 'op=read,wirte'"):
        rule_from_table({"op": ["read", "wirte"], "action": "eio"})
    with pytest.raises(ValueError, match="not a string or a number"):
        rule_from_table({"path": True, "action": "eio"})
