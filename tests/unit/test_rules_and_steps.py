"""The one step parser and the one rule parser, and the matcher: what each token means."""

from __future__ import annotations

import errno

import pytest

from iofs.faults.actions import Corrupt, Eagain, Errno, Ok, Request, Short, Sleep, parse_action
from iofs.faults.glob import Glob
from iofs.faults.rules import parse_rule, rule_from_table

parse_step = parse_action


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
def test_steps(text, cls, fields, written):
    action = parse_action(text)
    assert type(action) is cls and str(action) == written
    assert {k: getattr(action, k) for k in fields} == fields


@pytest.mark.parametrize("text,phrase", [
    ("short", "unknown action"), ("short:-1", "cannot be negative"), ("short:x", "not a number"),
    ("sleep", "unknown action"), ("frobnicate", "unknown action"), ("enosys", "refused"),
    (5, "an action is a string"), ("ok:1", "unknown action"),
])
def test_bad_steps(text, phrase):
    with pytest.raises(ValueError, match=phrase):
        parse_step(text)


def _req(size: int, ioflag: int = 0, expect: int | None = None) -> Request:
    return Request("read", True, size, ioflag, None, expect)


def test_step_meaning():
    assert parse_step("short:10").limit(_req(4096)) == 10
    assert parse_step("short:10").limit(_req(3)) == 3
    assert parse_step("short:half").limit(_req(4096)) == 2048
    assert parse_step("short:half").limit(_req(1)) == 1
    assert parse_step("short:half").limit(_req(1 << 20, expect=10240)) == 5120  # of what moves
    assert parse_step("eio:100").limit(_req(4096)) == 100 and parse_step("eio").limit(_req(4096)) == 0
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
    assert Glob(glob).match(path) == hit


def test_a_rule_as_parsed_and_listed():
    r = parse_rule("path='tmp/my file' op=read,fsync comm=a-very-long-process-name nth=2 "
                   "count=3 p=0.25 seed=9 action=eio")
    assert (r.path, r.ops, r.comm, str(r.nth), r.count, r.p, r.seed) == (
        "tmp/my file", {"read", "fsync"}, "a-very-long-pro", "2", 3, 0.25, 9)
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


@pytest.mark.parametrize("nth,fires", [
    ("3", [3]), ("3+", [3, 4, 5, 6, 7, 8]), ("2+3", [2, 5, 8]), ("2..4", [2, 3, 4]),
])
def test_nth_takes_straces_when_grammar(nth, fires):
    r = parse_rule(f"nth={nth} action=ok")
    assert [k for k in range(1, 9) if r.fire(_req(10))] == fires
    assert str(r).split()[0] == f"nth={nth}"


def test_nth_count_and_p_fire_deterministically():
    r = parse_rule("nth=3+ count=2 action=ok")
    assert [r.fire(_req(10)) for _ in range(6)] == [False, False, True, True, False, False]
    assert (r.matched, r.hits) == (6, 2)
    draws = [parse_rule("p=0.5 seed=3 action=ok") for _ in range(2)]
    assert [draws[0].fire(_req(10)) for _ in range(50)] == [draws[1].fire(_req(10)) for _ in range(50)]
    assert parse_rule("action=ok").seed >= 0  # a seed is chosen


@pytest.mark.parametrize("line,token", [
    ("action=nope", "action=nope"), ("colour=red action=eio", "colour=red"),
    ("path=/abs action=eio", "path=/abs"), ("op= action=eio", "op="),
    ("pid=x action=eio", "pid=x"), ("nth=0 action=eio", "nth=0"), ("p=2 action=eio", "p=2"),
    ("offset=5-5 action=eio", "offset=5-5"), ("op=open offset=1-2 action=eio", "offset=1-2"),
    ("op=open action=short:1", "action=short:1"), ("op=read,open action=corrupt:1", "corrupt"),
    ("op=open action=eio:5", "eio:5"), ("action=eio action=eio", "given twice"),
    ("path=x", "action=ACTION"), ("path='x action=eio", "tokens"), ("justaword", "justaword"),
])
def test_bad_rules_name_the_token(line, token):
    with pytest.raises(ValueError, match=None) as ei:
        parse_rule(line)
    assert token in str(ei.value)


def test_a_toml_table_goes_through_the_same_parser():
    r = rule_from_table({"path": "zero", "op": ["read", "write"], "nth": 2, "action": "short:1"})
    assert (r.path, r.ops, str(r.nth), str(r.action)) == ("zero", {"read", "write"}, "2", "short:1")
    with pytest.raises(ValueError, match="bad token 'op=read,wirte'"):
        rule_from_table({"op": ["read", "wirte"], "action": "eio"})
    with pytest.raises(ValueError, match="not a string or a number"):
        rule_from_table({"path": True, "action": "eio"})
