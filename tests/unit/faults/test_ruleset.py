"""The rules of a mount (iofs.faults.ruleset.RuleSet): ids, the order rules fire in, the index
that keeps a request from looking at rules that cannot concern it (by op, by literal path, by
literal first component), removing and clearing (sleepers woken), and the max_rules bound."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from iofs.core.td import Td
from iofs.faults.actions import Request
from iofs.faults.rules import parse_rule
from iofs.faults.ruleset import DEFAULT_MAX_RULES, RuleLimit, RuleSet

TD = Td(pid=4242, uid=1000, gid=1000)


def _read(size: int = 100, td: Td = TD) -> Request:
    return Request("read", True, size, 0, td)


def _plain(op: str, td: Td = TD) -> Request:
    return Request(op, False, 0, 0, td)


def _add(rs: RuleSet, line: str):
    rule = parse_rule(line)
    rs.add(rule)
    return rule


def _fired(rs: RuleSet, path: str, req: Request | None = None, off: int = 0) -> int | None:
    rule = rs.firing(req or _read(), path, "prog", off)
    return None if rule is None else rule.id


def test_ids_count_up_from_1_and_are_never_reused():
    rs = RuleSet()
    ids = [rs.add(parse_rule("action=eio")) for _ in range(3)]
    assert ids == [1, 2, 3]
    assert rs.remove(3)
    assert rs.add(parse_rule("action=eio")) == 4
    rs.clear()
    assert rs.add(parse_rule("action=eio")) == 5
    assert [r.id for r in rs] == [5]


def test_an_empty_set_fires_nothing_and_says_so_in_active():
    rs = RuleSet()
    assert rs.active == 0
    assert _fired(rs, "zero") is None
    assert rs.listing() == ""


def test_the_first_rule_added_that_fires_wins():
    rs = RuleSet()
    a = _add(rs, "path=zero count=1 action=short:1")
    b = _add(rs, "path=zero action=eio")
    assert _fired(rs, "zero") == a.id        # both match: the older one
    assert _fired(rs, "zero") == b.id        # a's count is spent: it no longer fires
    assert (a.matched, a.hits, b.matched, b.hits) == (2, 1, 1, 1)


def test_a_rule_that_matches_but_does_not_fire_lets_the_next_one_fire():
    rs = RuleSet()
    a = _add(rs, "path=zero nth=2 action=eio")
    b = _add(rs, "path=zero action=eacces")
    assert [_fired(rs, "zero") for _ in range(3)] == [b.id, a.id, b.id]
    assert (a.matched, a.hits) == (3, 1)


def test_a_no_op_firing_is_not_a_hit_and_the_next_rule_is_asked():
    """short:100 on a 10-byte read changes nothing: not a hit; the next rule fires instead."""
    rs = RuleSet()
    a = _add(rs, "path=zero action=short:100")
    b = _add(rs, "path=zero action=short:1")
    assert _fired(rs, "zero", _read(10)) == b.id
    assert (a.matched, a.hits) == (1, 0)
    assert _fired(rs, "zero", _read(1000)) == a.id


def test_rules_are_indexed_by_op():
    rs = RuleSet()
    w = _add(rs, "path=zero op=write action=eio")
    f = _add(rs, "path=zero op=fsync,open action=eio")
    assert _fired(rs, "zero") is None                     # a read: neither rule is looked at
    assert (w.matched, f.matched) == (0, 0)
    assert _fired(rs, "zero", Request("write", True, 5, 0, TD)) == w.id
    assert _fired(rs, "zero", _plain("fsync")) == f.id
    assert _fired(rs, "zero", _plain("open")) == f.id
    assert set(rs._by_op) == {"write", "fsync", "open"}


def test_candidates_come_from_the_literal_path_the_first_component_and_the_rest_in_order():
    rs = RuleSet()
    lit = _add(rs, "path=tmp/in op=read action=eio")          # literal: filed under tmp/in
    head = _add(rs, "path=tmp/*.log op=read action=eio")      # filed under its first part, tmp
    deep = _add(rs, "path=**/in op=read action=eio")          # a wildcard first part: the rest
    anywhere = _add(rs, "op=read action=eio")                 # no path: the rest
    top = _add(rs, "path=*.log op=read action=eio")           # one component, a wildcard: the rest
    wild_head = _add(rs, "path=t?p/in op=read action=eio")    # the first part is a pattern: the rest
    other = _add(rs, "path=var/in op=read action=eio")        # literal, another path
    reads = rs._by_op["read"]
    assert set(reads.literal) == {"tmp/in", "var/in"}
    assert set(reads.by_head) == {"tmp"}
    assert [r.id for r in reads.rest.values()] == [deep.id, anywhere.id, top.id, wild_head.id]

    def ids(path: str) -> list[int]:
        return [r.id for r in reads.candidates(path)]

    # every bucket that could hold a match, merged back into the order the rules were added
    assert ids("tmp/in") == [lit.id, head.id, deep.id, anywhere.id, top.id, wild_head.id]
    assert ids("tmp/x.log") == [head.id, deep.id, anywhere.id, top.id, wild_head.id]
    assert ids("var/in") == [deep.id, anywhere.id, top.id, wild_head.id, other.id]
    assert ids("zero") == [deep.id, anywhere.id, top.id, wild_head.id]


def test_only_the_rest_is_looked_at_for_a_path_no_literal_or_head_rule_names():
    rs = RuleSet()
    _add(rs, "path=tmp/in op=read action=eio")
    _add(rs, "path=tmp/*.log op=read action=eio")
    assert list(rs._by_op["read"].candidates("var/x")) == []
    assert _fired(rs, "var/x") is None


def test_who_and_where_select_as_well():
    rs = RuleSet()
    r = _add(rs, "path=mem0 pid=4242 uid=1000 comm=prog offset=4K-8K action=eio")
    assert _fired(rs, "mem0", off=4096) == r.id
    assert _fired(rs, "mem0", off=0, req=_read(4096)) is None      # ends where the range starts
    assert _fired(rs, "mem0", off=0, req=_read(4097)) == r.id      # overlaps it by a byte
    assert _fired(rs, "mem0", off=8192) is None
    assert _fired(rs, "mem0", _read(td=Td(4243, 1000, 1000)), off=4096) is None  # another pid
    assert _fired(rs, "mem0", _read(td=Td(4242, 0, 0)), off=4096) is None        # another uid
    assert rs.firing(_read(), "mem0", "other", 4096) is None                    # another comm


def test_remove_takes_one_rule_away_and_says_whether_it_was_there():
    rs = RuleSet()
    a = _add(rs, "path=zero action=eio")
    b = _add(rs, "path=zero op=read,fsync action=eacces")
    assert a.id in rs and rs.active == 2
    assert rs.remove(a.id) is True
    assert a.id not in rs and rs.active == 1
    assert rs.remove(a.id) is False and rs.remove(999) is False
    assert _fired(rs, "zero") == b.id
    assert rs.remove(b.id) is True
    assert _fired(rs, "zero") is None and _fired(rs, "zero", _plain("fsync")) is None
    assert rs.active == 0 and list(rs) == []


def test_clear_takes_every_rule_away():
    rs = RuleSet()
    for line in ("path=zero action=eio", "op=open action=eacces", "path=tmp/a action=short:1"):
        _add(rs, line)
    rs.clear()
    assert rs.active == 0 and list(rs) == [] and rs.listing() == ""
    assert _fired(rs, "zero") is None and _fired(rs, "x", _plain("open")) is None


@pytest.mark.parametrize("how", ["remove", "clear"])
def test_removing_a_sleep_rule_wakes_what_sleeps_in_it(how):
    rs = RuleSet()
    rule = _add(rs, "path=zero op=read action=sleep:100000000")
    chan = rs.sleeps(rule)
    assert rs.sleeps(rule) is chan  # one channel per rule

    async def main():
        result = []
        async with trio.open_nursery() as nursery:
            async def sleeper():
                result.append(await chan.sleep(None, 1000.0))
            nursery.start_soon(sleeper)
            await trio.sleep(5)
            rs.remove(rule.id) if how == "remove" else rs.clear()
        return result, trio.current_time()

    result, now = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert result == [0]          # woken (EWOULDBLOCK would be the timeout)
    assert now == pytest.approx(5.0)  # at the removal, not at the timeout


def test_max_rules_is_a_bound_and_room_what_is_left():
    rs = RuleSet(max_rules=2)
    assert rs.room() == 2
    _add(rs, "action=eio")
    a = _add(rs, "action=eio")
    assert rs.room() == 0
    with pytest.raises(RuleLimit, match="2 rules"):
        rs.add(parse_rule("action=eio"))
    assert rs.active == 2
    rs.remove(a.id)
    assert rs.room() == 1
    assert rs.add(parse_rule("action=eacces")) == 3  # the refused rule took no id
    assert RuleSet().max_rules == DEFAULT_MAX_RULES == 10_000


def test_selects_data_says_whether_a_read_or_write_rule_could_fault_an_open():
    rs = RuleSet()
    _add(rs, "path=tmp/in op=fsync action=eio")
    assert rs.selects_data("tmp/in", TD, "prog") is False      # not a data op
    _add(rs, "path=tmp/in op=write pid=1 action=eio")
    assert rs.selects_data("tmp/in", TD, "prog") is False      # another process
    _add(rs, "path=tmp/*.log action=short:1")
    assert rs.selects_data("tmp/a.log", TD, "prog") is True
    assert rs.selects_data("tmp/in", TD, "prog") is False
    assert rs.selects_data("tmp/d/a.log", TD, "prog") is False


def test_listing_shows_each_rule_with_its_id_and_hits_in_order():
    rs = RuleSet()
    a = _add(rs, "path=zero seed=5 action=short:1")
    _add(rs, "op=open seed=6 action=eacces")
    _fired(rs, "zero")
    assert rs.listing() == (f"{a.id} hits=1 path=zero seed=5 action=short:1\n"
                            f"{a.id + 1} hits=0 op=open seed=6 action=eacces\n")
