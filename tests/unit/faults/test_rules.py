"""Fault rules (iofs.faults.rules): the one rule parser, a line of key=value tokens or a TOML
table, what each key means (offset ranges, nth as strace's when=, count, p with its seed), and
the token every mistake names."""

from __future__ import annotations

import pytest

from iofs.faults.actions import Request
from iofs.faults.rules import parse_rule, rule_from_table


def _req(size: int, ioflag: int = 0, expect: int | None = None) -> Request:
    return Request("read", True, size, ioflag, None, expect)


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
